/*
 * The batch plan: what the caller found in the patient folder, and the
 * optional manifest (patient.json), parsed and validated with cJSON.
 */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "batch/batch_internal.h"
#include "core/internal.h"

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

sd_status sd_batch_plan_new(sd_ctx *ctx, const char *dir, sd_batch_plan **out)
{
    *out = NULL;
    if (!dir || !*dir)
        return sd_fail(ctx, SD_ERR_ARG, "batch: empty patient folder name");
    sd_batch_plan *p = calloc(1, sizeof *p);
    if (!p || !(p->dir = dup_str(dir))) {
        free(p);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", dir);
    }
    /* the last path component, without trailing slashes */
    size_t n = strlen(p->dir);
    while (n > 1 && p->dir[n - 1] == '/')
        p->dir[--n] = '\0';
    const char *slash = strrchr(p->dir, '/');
    p->patient = dup_str(slash && slash[1] ? slash + 1 : p->dir);
    if (!p->patient) {
        sd_batch_plan_free(p);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", dir);
    }
    *out = p;
    return SD_OK;
}

void sd_batch_plan_free(sd_batch_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_sessions; i++)
        free(p->sessions[i].folder);
    for (size_t i = 0; i < p->n_files; i++) {
        free(p->files[i].file);
        free(p->files[i].view);
    }
    for (size_t i = 0; i < p->n_views; i++) {
        free(p->views[i].name);
        free(p->views[i].mask);
    }
    for (size_t i = 0; i < p->n_images; i++) {
        free(p->images[i].session);
        free(p->images[i].view);
        free(p->images[i].file);
    }
    free(p->sessions);
    free(p->files);
    free(p->views);
    free(p->images);
    free(p->dir);
    free(p->patient);
    free(p);
}

/* ---- dates ---- */

int sd_batch_date_days(const char *d, long *days)
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            if (d[i] != '-')
                return -1;
        } else if (!isdigit((unsigned char)d[i])) {
            return -1;
        }
    }
    long y = strtol(d, NULL, 10), m = strtol(d + 5, NULL, 10), dd = strtol(d + 8, NULL, 10);
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1900 || m < 1 || m > 12 || dd < 1 || dd > mdays[m - 1] + (m == 2 && leap))
        return -1;
    /* days from civil (proleptic Gregorian), March-based year */
    long yy = m <= 2 ? y - 1 : y;
    long era = yy / 400;
    long yoe = yy - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *days = era * 146097 + doe - 719468;
    return 0;
}

int sd_batch_plan_has_session_list(const sd_batch_plan *p) { return p->has_session_list; }

int sd_batch_session_date(const sd_batch_plan *p, const char *folder, char date[11])
{
    if (p->has_session_list) {
        for (size_t i = 0; i < p->n_sessions; i++)
            if (strcmp(p->sessions[i].folder, folder) == 0) {
                memcpy(date, p->sessions[i].date, 11);
                return 1;
            }
        return 0;
    }
    long days;
    if (strlen(folder) < 10 || sd_batch_date_days(folder, &days) != 0)
        return 0;
    /* the date may be followed by anything but another digit */
    if (isdigit((unsigned char)folder[10]))
        return 0;
    memcpy(date, folder, 10);
    date[10] = '\0';
    return 1;
}

int sd_batch_file_view(const sd_batch_plan *p, const char *file, char *view, size_t n)
{
    for (size_t i = 0; i < p->n_files; i++)
        if (strcmp(p->files[i].file, file) == 0) {
            snprintf(view, n, "%s", p->files[i].view);
            return 1;
        }
    const char *dot = strrchr(file, '.');
    if (!dot || dot == file || file[0] == '.')
        return 0;
    if (strcasecmp(dot, ".jpg") != 0 && strcasecmp(dot, ".jpeg") != 0 &&
        strcasecmp(dot, ".png") != 0)
        return 0;
    size_t len = (size_t)(dot - file);
    if (len + 1 > n)
        return 0;
    memcpy(view, file, len);
    view[len] = '\0';
    return 1;
}

sd_status sd_batch_plan_add(sd_ctx *ctx, sd_batch_plan *p, const char *session, const char *date,
                            const char *view, const char *file)
{
    long days;
    if (sd_batch_date_days(date, &days) != 0 || date[10] != '\0')
        return sd_fail(ctx, SD_ERR_ARG, "%s/%s: '%s' is not a YYYY-MM-DD date", session, file,
                       date);
    for (size_t i = 0; i < p->n_images; i++)
        if (strcmp(p->images[i].session, session) == 0 && strcmp(p->images[i].view, view) == 0)
            return sd_fail(ctx, SD_ERR_ARG, "%s/%s: a second image of view '%s' in this session (%s)",
                           session, file, view, p->images[i].file);
    if (p->n_images == p->cap_images) {
        size_t cap = p->cap_images ? 2 * p->cap_images : 16;
        if (cap > SIZE_MAX / sizeof(sd_batch_image))
            return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", p->dir);
        sd_batch_image *n = realloc(p->images, cap * sizeof *n);
        if (!n)
            return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", p->dir);
        p->images = n;
        p->cap_images = cap;
    }
    sd_batch_image *im = &p->images[p->n_images];
    memset(im, 0, sizeof *im);
    im->session = dup_str(session);
    im->view = dup_str(view);
    im->file = dup_str(file);
    if (!im->session || !im->view || !im->file) {
        free(im->session);
        free(im->view);
        free(im->file);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", p->dir);
    }
    memcpy(im->date, date, 11);
    im->days = days;
    p->n_images++;
    return SD_OK;
}

const sd_batch_view_cfg *sd_batch_view_config(const sd_batch_plan *p, const char *view)
{
    for (size_t i = 0; i < p->n_views; i++)
        if (strcmp(p->views[i].name, view) == 0)
            return &p->views[i];
    return NULL;
}

/* ---- the manifest ---- */

static sd_status bad(sd_ctx *ctx, const char *name, const char *key, const char *why)
{
    return sd_fail(ctx, SD_ERR_ARG, "%s: %s: %s", name, key, why);
}

static sd_status rect_of(sd_ctx *ctx, const char *name, const char *key, const cJSON *a,
                         sd_rect *r)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 4)
        return bad(ctx, name, key, "expected [x, y, w, h]");
    double v[4];
    for (int i = 0; i < 4; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || e->valuedouble != floor(e->valuedouble) ||
            e->valuedouble < (i < 2 ? 0 : 1) || e->valuedouble > SD_MAX_DIM)
            return bad(ctx, name, key, "expected whole numbers x, y >= 0 and w, h >= 1");
        v[i] = e->valuedouble;
    }
    *r = (sd_rect){(int)v[0], (int)v[1], (int)v[2], (int)v[3]};
    return SD_OK;
}

/* Is k's key also the key of an earlier member of obj? (JSON leaves
 * duplicate keys undefined, RFC 8259 section 4; cJSON keeps both.) */
static int key_repeated(const cJSON *obj, const cJSON *k)
{
    for (const cJSON *e = obj->child; e && e != k; e = e->next)
        if (strcmp(e->string, k->string) == 0)
            return 1;
    return 0;
}

static int plain_name(const char *s)
{
    return *s && s[0] != '.' && !strchr(s, '/') && strlen(s) < 256;
}

static sd_status parse_sessions(sd_ctx *ctx, sd_batch_plan *p, const char *name, const cJSON *a)
{
    if (!cJSON_IsArray(a))
        return bad(ctx, name, "sessions", "expected an array of {\"folder\", \"date\"}");
    size_t n = (size_t)cJSON_GetArraySize(a);
    p->sessions = calloc(n ? n : 1, sizeof *p->sessions);
    if (!p->sessions)
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
    p->has_session_list = 1;
    char key[64];
    size_t i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        snprintf(key, sizeof key, "sessions[%zu]", i);
        if (!cJSON_IsObject(e))
            return bad(ctx, name, key, "expected {\"folder\": ..., \"date\": ...}");
        const cJSON *f = NULL, *d = NULL;
        for (const cJSON *k = e->child; k; k = k->next) {
            if (key_repeated(e, k)) {
                snprintf(key, sizeof key, "sessions[%zu].%.40s", i, k->string);
                return bad(ctx, name, key, "listed twice");
            }
            if (strcmp(k->string, "folder") == 0)
                f = k;
            else if (strcmp(k->string, "date") == 0)
                d = k;
            else {
                snprintf(key, sizeof key, "sessions[%zu].%.40s", i, k->string);
                return bad(ctx, name, key, "unknown key");
            }
        }
        long days;
        if (!cJSON_IsString(f) || !plain_name(f->valuestring)) {
            snprintf(key, sizeof key, "sessions[%zu].folder", i);
            return bad(ctx, name, key, "expected a folder name inside the patient folder");
        }
        if (!cJSON_IsString(d) || strlen(d->valuestring) != 10 ||
            sd_batch_date_days(d->valuestring, &days) != 0) {
            snprintf(key, sizeof key, "sessions[%zu].date", i);
            return bad(ctx, name, key, "expected a date \"YYYY-MM-DD\"");
        }
        for (size_t j = 0; j < p->n_sessions; j++)
            if (strcmp(p->sessions[j].folder, f->valuestring) == 0) {
                snprintf(key, sizeof key, "sessions[%zu].folder", i);
                return bad(ctx, name, key, "listed twice");
            }
        if (!(p->sessions[i].folder = dup_str(f->valuestring)))
            return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
        memcpy(p->sessions[i].date, d->valuestring, 11);
        p->n_sessions++;
    }
    return SD_OK;
}

static sd_status parse_files(sd_ctx *ctx, sd_batch_plan *p, const char *name, const cJSON *o)
{
    if (!cJSON_IsObject(o))
        return bad(ctx, name, "files", "expected an object {\"file name\": \"view\"}");
    size_t n = (size_t)cJSON_GetArraySize(o);
    p->files = calloc(n ? n : 1, sizeof *p->files);
    if (!p->files)
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
    char key[96];
    for (const cJSON *e = o->child; e; e = e->next) {
        snprintf(key, sizeof key, "files.%.60s", e->string);
        if (!plain_name(e->string))
            return bad(ctx, name, key, "expected a file name without a folder");
        if (key_repeated(o, e))
            return bad(ctx, name, key, "listed twice");
        if (!cJSON_IsString(e) || !plain_name(e->valuestring))
            return bad(ctx, name, key, "expected a view name");
        sd_batch_file_map *m = &p->files[p->n_files];
        m->file = dup_str(e->string);
        m->view = dup_str(e->valuestring);
        p->n_files++;
        if (!m->file || !m->view)
            return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
    }
    return SD_OK;
}

static sd_status parse_views(sd_ctx *ctx, sd_batch_plan *p, const char *name, const cJSON *o)
{
    if (!cJSON_IsObject(o))
        return bad(ctx, name, "views", "expected an object {\"view\": {...}}");
    size_t n = (size_t)cJSON_GetArraySize(o);
    p->views = calloc(n ? n : 1, sizeof *p->views);
    if (!p->views)
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
    char key[128];
    sd_status s;
    for (const cJSON *v = o->child; v; v = v->next) {
        snprintf(key, sizeof key, "views.%.60s", v->string);
        if (!plain_name(v->string))
            return bad(ctx, name, key, "expected a view name");
        if (key_repeated(o, v))
            return bad(ctx, name, key, "listed twice");
        if (!cJSON_IsObject(v))
            return bad(ctx, name, key, "expected an object");
        sd_batch_view_cfg *c = &p->views[p->n_views++];
        if (!(c->name = dup_str(v->string)))
            return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
        for (const cJSON *k = v->child; k; k = k->next) {
            snprintf(key, sizeof key, "views.%.60s.%.40s", v->string, k->string);
            if (key_repeated(v, k))
                return bad(ctx, name, key, "listed twice");
            if (strcmp(k->string, "roi") == 0) {
                if ((s = rect_of(ctx, name, key, k, &c->roi)) != SD_OK)
                    return s;
                c->has_roi = 1;
            } else if (strcmp(k->string, "ref") == 0) {
                if ((s = rect_of(ctx, name, key, k, &c->ref)) != SD_OK)
                    return s;
                c->has_ref = 1;
            } else if (strcmp(k->string, "px_per_mm") == 0) {
                if (!cJSON_IsNumber(k) || !(k->valuedouble >= 1e-3 && k->valuedouble <= 1e5))
                    return bad(ctx, name, key, "expected a number in [0.001, 100000]");
                c->px_per_mm = k->valuedouble;
            } else if (strcmp(k->string, "mask") == 0) {
                if (!cJSON_IsString(k) || !*k->valuestring || k->valuestring[0] == '/' ||
                    strstr(k->valuestring, ".."))
                    return bad(ctx, name, key, "expected a path inside the patient folder");
                if (!(c->mask = dup_str(k->valuestring)))
                    return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
            } else {
                return bad(ctx, name, key, "unknown key (roi, mask, px_per_mm, ref)");
            }
        }
    }
    return SD_OK;
}

sd_status sd_batch_manifest_parse(sd_ctx *ctx, sd_batch_plan *p, const char *name,
                                  const char *json)
{
    if (p->has_manifest)
        return sd_fail(ctx, SD_ERR_ARG, "%s: a manifest was already read", name);
    p->has_manifest = 1;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return sd_fail(ctx, SD_ERR_ARG, "%s: not valid JSON (near byte %zu)", name, at);
    }
    sd_status s = SD_OK;
    if (!cJSON_IsObject(root))
        s = bad(ctx, name, "(top level)", "expected an object");
    for (const cJSON *k = root->child; s == SD_OK && k; k = k->next) {
        if (key_repeated(root, k)) {
            /* a second "sessions", "files" or "views" would be parsed into
             * the arrays of the first */
            char key[64];
            snprintf(key, sizeof key, "%.50s", k->string);
            s = bad(ctx, name, key, "listed twice");
        } else if (strcmp(k->string, "patient") == 0) {
            if (!cJSON_IsString(k) || !*k->valuestring)
                s = bad(ctx, name, "patient", "expected a non-empty string");
            else {
                char *d = dup_str(k->valuestring);
                if (!d)
                    s = sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
                else {
                    free(p->patient);
                    p->patient = d;
                }
            }
        } else if (strcmp(k->string, "sessions") == 0) {
            s = parse_sessions(ctx, p, name, k);
        } else if (strcmp(k->string, "files") == 0) {
            s = parse_files(ctx, p, name, k);
        } else if (strcmp(k->string, "views") == 0) {
            s = parse_views(ctx, p, name, k);
        } else {
            char key[64];
            snprintf(key, sizeof key, "%.50s", k->string);
            s = bad(ctx, name, key, "unknown key (patient, sessions, files, views)");
        }
    }
    cJSON_Delete(root);
    return s;
}

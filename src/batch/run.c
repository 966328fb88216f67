/*
 * sd_batch_run: a patient's plan -> the progress report, in phases whose
 * work items are independent (probe, align, measure the baselines, measure
 * the sessions), merged in a fixed order. See include/skindelta/batch.h and
 * docs/batch.md.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "batch/batch_internal.h"
#include "core/internal.h"
#include "report/report_internal.h"
#include "skindelta/io.h"
#include "skindelta/report.h"

#define FILE_MAX_BYTES (1ull << 31)

enum { ST_PENDING = 0, ST_OK, ST_ERROR };

typedef struct sess {
    const sd_batch_image *im;
    char *rel, *path; /* SESSION/FILE, and with the patient folder in front */
    int state;        /* ST_* of the latest phase reached */
    char *error;
    char sha[65];
    sd_image_info info;
    int decoded, align_computed, align_cached, measure_computed, measure_cached, rejected;
    sd_align_result al;
    sd_metrics m;
    sd_thresholds thr; /* the baseline's */
    sd_norm_result norm;
    size_t roi_pixels;
    sd_rect roi_bbox;
    sd_roi_source roi_source;
    sd_quality q;
} sess;

typedef struct view {
    const char *name;
    const sd_batch_view_cfg *cfg;
    sd_compare_params p;
    char pkey[1024]; /* every parameter that affects a number, as text */
    sess *s;
    size_t n;
    size_t base; /* index of the baseline, n when none */
    uint8_t *common;
    char common_sha[65];
} view;

typedef struct job {
    size_t v, s;
} job;

typedef struct runner {
    const sd_batch_plan *plan;
    const sd_batch_opts *o;
    const sd_batch_hooks *h;
    view *v;
    size_t nv;
    job *jobs;
    size_t njobs;
    sd_batch_phase phase;
} runner;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *str_printf(const char *fmt, ...) SD_PRINTF(1, 2);
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* The entry's error always starts with the image it is about ("SESSION/FILE:
 * "), whichever stage failed (loaders name it already; normalization and
 * measurement do not), so stderr names each failed file. */
static void set_error(sess *s, const char *msg)
{
    size_t n = strlen(s->rel);
    if (!*msg)
        msg = "failed";
    char *e = strncmp(msg, s->rel, n) == 0 && msg[n] == ':' ? str_printf("%s", msg)
                                                             : str_printf("%s: %s", s->rel, msg);
    free(s->error);
    s->error = e;
    s->state = ST_ERROR;
}

/* ---- slope and change ---- */

double sd_batch_slope(const double *x, const double *y, size_t n)
{
    double sx = 0, sy = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            sx += x[i];
            sy += y[i];
            k++;
        }
    if (k < 2)
        return NAN;
    double mx = sx / (double)k, my = sy / (double)k, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && isfinite(y[i])) {
            sxx += (x[i] - mx) * (x[i] - mx);
            sxy += (x[i] - mx) * (y[i] - my);
        }
    return sxx > 0 ? sxy / sxx : NAN;
}

static double pct(double before, double after)
{
    return before != 0 && isfinite(before) && isfinite(after) ? 100.0 * (after - before) / before
                                                              : NAN;
}

/* ---- parameters ---- */

static void view_params(const sd_batch_opts *o, const sd_batch_view_cfg *c, sd_compare_params *p)
{
    *p = o->params;
    p->threads = 1;
    if (!c)
        return;
    if (c->has_roi) {
        p->has_roi = 1;
        p->roi = c->roi;
    }
    if (c->has_ref) {
        p->has_ref = 1;
        p->ref = c->ref;
        p->normalize = SD_NORM_REFERENCE;
    }
    if (c->px_per_mm > 0) {
        double rd = p->metric.red_delta, pc = p->metric.pore_contrast;
        sd_metric_params_from_mm(&p->metric, c->px_per_mm);
        p->metric.red_delta = rd;
        p->metric.pore_contrast = pc;
    }
}

static void params_key(const sd_compare_params *p, const char *mask_sha, char *buf, size_t n)
{
    const sd_metric_params *m = &p->metric;
    snprintf(buf, n,
             "max_pixels=%llu align=%d unaligned=%d norm=%d ref=%d:%d,%d,%d,%d roi=%d:%d,%d,%d,%d "
             "mask=%s metric=%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g "
             "border=%d",
             (unsigned long long)p->max_pixels, (int)p->align, p->allow_unaligned,
             (int)p->normalize, p->has_ref, p->ref.x, p->ref.y, p->ref.w, p->ref.h, p->has_roi,
             p->roi.x, p->roi.y, p->roi.w, p->roi.h, mask_sha, m->sigma_t, m->sigma_p, m->sigma_s,
             m->pore_area_min, m->pore_area_max, m->pore_max_elongation, m->pore_k, m->pore_floor,
             m->pore_contrast, m->red_delta, m->px_per_mm, sd_metric_border(m));
}

/* ---- loading ---- */

static sd_status read_file(sd_ctx *ctx, const sess *s, uint8_t **data, size_t *len)
{
    sd_status st = sd_file_read(ctx, s->path, FILE_MAX_BYTES, data, len);
    if (st != SD_OK) {
        /* name the file relative to the patient folder */
        const char *msg = sd_ctx_message(ctx);
        const char *colon = strstr(msg, ": ");
        char reason[256];
        snprintf(reason, sizeof reason, "%s", colon ? colon + 2 : sd_strerror(st));
        return sd_fail(ctx, st, "%s: %s", s->rel, reason);
    }
    return SD_OK;
}

/* scale_denom > 1: a JPEG decoded that much smaller in the DCT domain (a
 * PNG comes whole). */
static sd_status load_scaled(sd_ctx *ctx, const view *v, const sess *s, int scale_denom,
                             sd_image **img)
{
    uint8_t *data = NULL;
    size_t len = 0;
    sd_status st = read_file(ctx, s, &data, &len);
    if (st != SD_OK)
        return st;
    sd_load_opts lo = {.max_pixels = v->p.max_pixels, .scale_denom = scale_denom};
    st = sd_image_load_mem(ctx, data, len, s->rel, &lo, img);
    free(data);
    return st;
}

static sd_status load(sd_ctx *ctx, const view *v, const sess *s, sd_image **img)
{
    return load_scaled(ctx, v, s, 1, img);
}

/* ---- cache entries ---- */

static const size_t metric_doubles[] = {
    offsetof(sd_metrics, ra), offsetof(sd_metrics, rq), offsetof(sd_metrics, mean_a),
    offsetof(sd_metrics, erythema_index), offsetof(sd_metrics, red_area_fraction),
    offsetof(sd_metrics, pore_count), offsetof(sd_metrics, pore_area_fraction),
    offsetof(sd_metrics, pore_mean_area_px), offsetof(sd_metrics, pore_density_per_cm2),
    offsetof(sd_metrics, pore_mean_area_mm2), offsetof(sd_metrics, clipped_fraction),
    offsetof(sd_metrics, crushed_fraction), offsetof(sd_metrics, sharpness),
    offsetof(sd_metrics, asymmetry), offsetof(sd_metrics, mean_lambda),
    offsetof(sd_metrics, focus_measure),
};
#define N_MD (sizeof metric_doubles / sizeof metric_doubles[0])

static void put_array(cJSON *o, const char *k, const double *v, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, sd_batch_exact_num(v[i]));
}

static int get_array(const cJSON *o, const char *k, double *v, size_t n)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n)
        return -1;
    size_t i = 0;
    for (const cJSON *e = a->child; e; e = e->next, i++) {
        if (cJSON_IsNull(e))
            v[i] = NAN;
        else if (cJSON_IsNumber(e))
            v[i] = e->valuedouble;
        else
            return -1;
    }
    return 0;
}

static void put_metrics(cJSON *o, const sd_metrics *m)
{
    double v[N_MD];
    for (size_t i = 0; i < N_MD; i++)
        memcpy(&v[i], (const char *)m + metric_doubles[i], sizeof v[i]);
    put_array(o, "metrics", v, N_MD);
    cJSON_AddItemToObject(o, "pixels", sd_batch_exact_num((double)m->pixels));
}

static int get_metrics(const cJSON *o, sd_metrics *m)
{
    double v[N_MD], px;
    if (get_array(o, "metrics", v, N_MD) || sd_batch_get_num(o, "pixels", &px) || !(px >= 0))
        return -1;
    memset(m, 0, sizeof *m);
    for (size_t i = 0; i < N_MD; i++)
        memcpy((char *)m + metric_doubles[i], &v[i], sizeof v[i]);
    m->pixels = (size_t)px;
    return 0;
}

static void put_roi(cJSON *o, const sess *s)
{
    double r[6] = {(double)s->roi_pixels, s->roi_bbox.x, s->roi_bbox.y, s->roi_bbox.w,
                   s->roi_bbox.h, (double)s->roi_source};
    put_array(o, "roi", r, 6);
}

static int get_roi(const cJSON *o, sess *s)
{
    double r[6];
    if (get_array(o, "roi", r, 6))
        return -1;
    for (int i = 0; i < 6; i++)
        if (!(r[i] >= 0 && r[i] <= 1e15))
            return -1;
    s->roi_pixels = (size_t)r[0];
    s->roi_bbox = (sd_rect){(int)r[1], (int)r[2], (int)r[3], (int)r[4]};
    s->roi_source = (sd_roi_source)(int)r[5];
    return s->roi_source <= SD_ROI_MASK ? 0 : -1;
}

/* ---- phase 1: probe ---- */

/* The cache lives in the patient folder. */
static const char *cache_dir(const runner *r) { return r->plan->dir; }

static void probe_job(const runner *r, view *v, sess *s, sd_ctx *ctx)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (read_file(ctx, s, &data, &len) != SD_OK) {
        set_error(s, sd_ctx_message(ctx));
        return;
    }
    sd_sha256_hex(data, len, s->sha);
    s->info.path = s->rel;
    char text[256], key[65];
    snprintf(text, sizeof text, "img %s %s %llu", SD_VERSION, s->sha,
             (unsigned long long)v->p.max_pixels);
    sd_batch_cache_key(text, key);
    cJSON *c = r->o->use_cache ? sd_batch_cache_get(cache_dir(r), "img", key, &s->rejected) : NULL;
    if (c) {
        double d[4];
        const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(c, "image_format");
        if (get_array(c, "size", d, 4) == 0 && cJSON_IsString(fmt) &&
            strlen(fmt->valuestring) < sizeof s->info.format && d[0] >= 1 && d[1] >= 1 &&
            d[0] <= SD_MAX_DIM && d[1] <= SD_MAX_DIM && d[2] >= 1 && d[2] <= 8) {
            s->info.width = (int)d[0];
            s->info.height = (int)d[1];
            s->info.orientation = (int)d[2];
            s->info.bits = (int)d[3];
            snprintf(s->info.format, sizeof s->info.format, "%s", fmt->valuestring);
            memcpy(s->info.sha256, s->sha, sizeof s->sha);
            cJSON_Delete(c);
            free(data);
            s->state = ST_OK;
            return;
        }
        cJSON_Delete(c);
        s->rejected = 1;
    }
    sd_image *img = NULL;
    sd_load_opts lo = {.max_pixels = v->p.max_pixels, .scale_denom = 1};
    sd_status st = sd_image_load_mem(ctx, data, len, s->rel, &lo, &img);
    free(data);
    s->decoded = 1;
    if (st != SD_OK) {
        set_error(s, sd_ctx_message(ctx));
        return;
    }
    s->info.width = img->width;
    s->info.height = img->height;
    s->info.orientation = img->orientation;
    s->info.bits = img->bits;
    memcpy(s->info.format, img->format, sizeof s->info.format);
    memcpy(s->info.sha256, s->sha, sizeof s->sha);
    sd_image_free(img);
    s->state = ST_OK;
    if (r->o->use_cache) {
        cJSON *o = cJSON_CreateObject();
        double d[4] = {s->info.width, s->info.height, s->info.orientation, s->info.bits};
        put_array(o, "size", d, 4);
        cJSON_AddStringToObject(o, "image_format", s->info.format);
        sd_batch_cache_put(cache_dir(r), "img", key, o);
        cJSON_Delete(o);
    }
}

/* ---- phase 2: align to the baseline ---- */

static void align_job(const runner *r, view *v, sess *s, sd_ctx *ctx)
{
    const sess *b = &v->s[v->base];
    char text[512], key[65];
    snprintf(text, sizeof text, "align %s %s %s %s %d %llu", SD_VERSION, SD_ALIGN_REVISION,
             b->sha, s->sha,
             (int)v->p.align, (unsigned long long)v->p.max_pixels);
    sd_batch_cache_key(text, key);
    cJSON *c = r->o->use_cache ? sd_batch_cache_get(cache_dir(r), "align", key, &s->rejected)
                               : NULL;
    int have = 0;
    if (c) {
        double d[12];
        if (get_array(c, "align", d, 12) == 0 && d[10] >= 0 && d[10] <= SD_ALIGN_FAILED &&
            d[11] >= 0 && d[11] <= SD_ALIGN_NONE) {
            memcpy(s->al.xf.m, d, sizeof s->al.xf.m);
            s->al.rotation_deg = d[6];
            s->al.scale = d[7];
            s->al.overlap_fraction = d[8];
            s->al.ncc = d[9];
            s->al.status = (sd_align_status)(int)d[10];
            s->al.model = (sd_align_model)(int)d[11];
            s->al.tx = d[2];
            s->al.ty = d[5];
            have = 1;
            for (int i = 0; i < 6; i++)
                have &= isfinite(d[i]) != 0;
        }
        cJSON_Delete(c);
        if (!have)
            s->rejected = 1;
    }
    if (have) {
        s->align_cached = 1;
    } else {
        /* only the alignment needs these pixels: JPEGs are decoded as
         * small as the aligner's finest level allows (sizes from the probe) */
        sd_image *bi = NULL, *ai = NULL;
        const int sc = sd_align_scale_denom(b->info.width, b->info.height);
        sd_status st = load_scaled(ctx, v, b, sc, &bi);
        if (st == SD_OK)
            st = load_scaled(ctx, v, s, sc, &ai);
        if (st == SD_OK) {
            sd_align_opts ao = {.model = v->p.align};
            sd_align_input ib = {bi, b->info.width, b->info.height};
            sd_align_input ia = {ai, s->info.width, s->info.height};
            st = sd_pair_align_inputs(ctx, &ib, &ia, &ao, &s->al);
        }
        sd_image_free(bi);
        sd_image_free(ai);
        if (st != SD_OK) {
            set_error(s, sd_ctx_message(ctx));
            return;
        }
        s->align_computed = 1;
        if (r->o->use_cache) {
            const sd_align_result *a = &s->al;
            double d[12] = {a->xf.m[0], a->xf.m[1], a->xf.m[2], a->xf.m[3],
                            a->xf.m[4], a->xf.m[5], a->rotation_deg, a->scale,
                            a->overlap_fraction, a->ncc, (double)a->status, (double)a->model};
            cJSON *o = cJSON_CreateObject();
            put_array(o, "align", d, 12);
            sd_batch_cache_put(cache_dir(r), "align", key, o);
            cJSON_Delete(o);
        }
    }
    if (s->al.status == SD_ALIGN_FAILED && !v->p.allow_unaligned) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "%s: cannot be aligned to %s (ncc %.2f, overlap %.0f %%): not comparable", s->rel,
                 b->rel, s->al.ncc, 100 * s->al.overlap_fraction);
        set_error(s, msg);
        return;
    }
    s->state = ST_OK;
}

/* ---- the common ROI (serial, per view) ---- */

static sd_status common_roi(sd_ctx *ctx, const runner *r, view *v)
{
    const sess *b = &v->s[v->base];
    const int bw = b->info.width, bh = b->info.height;
    uint8_t *mask = NULL;
    char mask_sha[65] = "none";
    sd_status st = SD_OK;
    if (v->cfg && v->cfg->mask) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", r->plan->dir, v->cfg->mask);
        st = sd_mask_load(ctx, path, v->p.max_pixels, bw, bh, &mask);
        if (st == SD_OK)
            sd_sha256_hex(mask, (size_t)bw * (size_t)bh, mask_sha);
    } else if (v->p.mask_path) {
        st = sd_mask_load(ctx, v->p.mask_path, v->p.max_pixels, bw, bh, &mask);
        if (st == SD_OK)
            sd_sha256_hex(mask, (size_t)bw * (size_t)bh, mask_sha);
    } else {
        mask = sd_alloc_array((size_t)bw, (size_t)bh);
        if (!mask)
            st = sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", b->rel);
        else
            memset(mask, 1, (size_t)bw * (size_t)bh);
    }
    if (st != SD_OK)
        return st;
    params_key(&v->p, mask_sha, v->pkey, sizeof v->pkey);
    const int border = sd_metric_border(&v->p.metric);
    for (size_t i = 0; i < v->n && st == SD_OK; i++) {
        const sess *s = &v->s[i];
        if (i == v->base || s->state != ST_OK)
            continue;
        st = sd_roi_mask_overlap(ctx, bw, bh, s->info.width, s->info.height, &s->al.xf, border,
                                 mask);
    }
    if (st != SD_OK) {
        free(mask);
        return st;
    }
    v->common = mask;
    sd_sha256_hex(mask, (size_t)bw * (size_t)bh, v->common_sha);
    return SD_OK;
}

static sd_status roi_for(sd_ctx *ctx, const view *v, const sd_image *bi, const sd_image *ai,
                         const sd_xform *xf, sd_roi *roi)
{
    sd_roi_opts ro = {
        .rect = v->p.has_roi ? &v->p.roi : NULL,
        .mask = v->common,
        .mask_w = bi->width,
        .mask_h = bi->height,
        .border = sd_metric_border(&v->p.metric),
    };
    sd_status st = sd_roi_build(ctx, bi, ai, xf, &ro, roi);
    if (st == SD_OK && !(v->cfg && v->cfg->mask) && !v->p.mask_path)
        roi->source = v->p.has_roi ? SD_ROI_RECT : SD_ROI_OVERLAP;
    return st;
}

/* ---- phase 3: the baseline over the common ROI ---- */

static void measure_base_job(const runner *r, view *v, sess *s, sd_ctx *ctx)
{
    char text[2048], key[65];
    snprintf(text, sizeof text, "mbase %s %s %s %s", SD_VERSION, s->sha, v->common_sha, v->pkey);
    sd_batch_cache_key(text, key);
    cJSON *c = r->o->use_cache ? sd_batch_cache_get(cache_dir(r), "mbase", key, &s->rejected)
                               : NULL;
    if (c) {
        double t[2];
        int ok = get_metrics(c, &s->m) == 0 && get_roi(c, s) == 0 && get_array(c, "thr", t, 2) == 0;
        cJSON_Delete(c);
        if (ok) {
            s->thr = (sd_thresholds){1, t[0], t[1]};
            s->measure_cached = 1;
            sd_quality_image(s->roi_pixels, &s->m, &s->q);
            s->state = ST_OK;
            return;
        }
        s->rejected = 1;
    }
    sd_image *img = NULL;
    sd_roi roi = {0};
    sd_norm_result self;
    sd_status st = load(ctx, v, s, &img);
    if (st == SD_OK)
        st = roi_for(ctx, v, img, NULL, NULL, &roi);
    const double *gains = NULL;
    if (st == SD_OK && v->p.normalize == SD_NORM_REFERENCE) {
        /* the reference gains of the baseline depend on the baseline alone */
        st = sd_pair_normalize(ctx, img, img, &sd_xform_identity, &roi, SD_NORM_REFERENCE, &v->p.ref, &self);
        gains = self.before_gains;
    }
    s->thr.set = 0;
    if (st == SD_OK)
        st = sd_image_measure(ctx, img, roi.before, 1.0, gains, &v->p.metric, &s->thr, &s->m);
    if (st == SD_OK) {
        s->roi_pixels = roi.pixels;
        s->roi_bbox = roi.bbox;
        s->roi_source = roi.source;
    }
    sd_roi_release(&roi);
    sd_image_free(img);
    if (st != SD_OK) {
        set_error(s, sd_ctx_message(ctx));
        return;
    }
    s->measure_computed = 1;
    sd_quality_image(s->roi_pixels, &s->m, &s->q);
    s->state = ST_OK;
    if (r->o->use_cache) {
        cJSON *o = cJSON_CreateObject();
        put_metrics(o, &s->m);
        put_roi(o, s);
        double t[2] = {s->thr.t_red, s->thr.t_pore};
        put_array(o, "thr", t, 2);
        sd_batch_cache_put(cache_dir(r), "mbase", key, o);
        cJSON_Delete(o);
    }
}

/* ---- phase 4: every later session on its own grid ---- */

static void measure_job(const runner *r, view *v, sess *s, sd_ctx *ctx)
{
    const sess *b = &v->s[v->base];
    char text[2048], key[65];
    const double *m = s->al.xf.m;
    snprintf(text, sizeof text,
             "msess %s %s %s %.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g %s %.17g,%.17g %s",
             SD_VERSION, b->sha, s->sha, m[0], m[1], m[2], m[3], m[4], m[5], s->al.scale,
             v->common_sha, b->thr.t_red, b->thr.t_pore, v->pkey);
    sd_batch_cache_key(text, key);
    cJSON *c = r->o->use_cache ? sd_batch_cache_get(cache_dir(r), "msess", key, &s->rejected)
                               : NULL;
    int have = 0;
    if (c) {
        double n[8];
        if (get_metrics(c, &s->m) == 0 && get_roi(c, s) == 0 && get_array(c, "norm", n, 8) == 0) {
            memcpy(s->norm.gains, n, 3 * sizeof *n);
            memcpy(s->norm.before_gains, n + 3, 3 * sizeof *n);
            s->norm.exposure_ev = n[6];
            s->norm.calibrated = n[7] != 0;
            s->norm.method = v->p.normalize;
            have = 1;
        }
        cJSON_Delete(c);
        if (!have)
            s->rejected = 1;
    }
    if (!have) {
        sd_image *bi = NULL, *ai = NULL;
        sd_roi roi = {0};
        sd_status st = load(ctx, v, b, &bi);
        if (st == SD_OK)
            st = load(ctx, v, s, &ai);
        if (st == SD_OK)
            st = roi_for(ctx, v, bi, ai, &s->al.xf, &roi);
        if (st == SD_OK)
            st = sd_pair_normalize(ctx, bi, ai, &s->al.xf, &roi, v->p.normalize,
                                   v->p.has_ref ? &v->p.ref : NULL, &s->norm);
        sd_thresholds thr = b->thr;
        if (st == SD_OK)
            st = sd_image_measure(ctx, ai, roi.after, s->al.scale, s->norm.gains, &v->p.metric,
                                  &thr, &s->m);
        if (st == SD_OK) {
            s->roi_pixels = roi.pixels;
            s->roi_bbox = roi.bbox;
            s->roi_source = roi.source;
        }
        sd_roi_release(&roi);
        sd_image_free(bi);
        sd_image_free(ai);
        if (st != SD_OK) {
            set_error(s, sd_ctx_message(ctx));
            return;
        }
        s->measure_computed = 1;
        if (r->o->use_cache) {
            cJSON *o = cJSON_CreateObject();
            put_metrics(o, &s->m);
            put_roi(o, s);
            const sd_norm_result *nr = &s->norm;
            double n[8] = {nr->gains[0],        nr->gains[1],        nr->gains[2],
                           nr->before_gains[0], nr->before_gains[1], nr->before_gains[2],
                           nr->exposure_ev,     nr->calibrated};
            put_array(o, "norm", n, 8);
            sd_batch_cache_put(cache_dir(r), "msess", key, o);
            cJSON_Delete(o);
        }
    } else {
        s->measure_cached = 1;
    }
    sd_quality_pair(&s->al, &s->norm, s->roi_pixels, &b->m, &s->m, &s->q);
    s->state = ST_OK;
}

/* ---- scheduling ---- */

static void run_one(void *arg, size_t i)
{
    runner *r = arg;
    const job *j = &r->jobs[i];
    view *v = &r->v[j->v];
    sess *s = &v->s[j->s];
    if (r->h && r->h->cancelled && r->h->cancelled(r->h->user))
        return;
    double t0 = now_ms();
    sd_ctx *ctx = sd_ctx_new();
    if (!ctx) {
        set_error(s, "out of memory");
    } else {
        sd_ctx_set_threads(ctx, 1);
        switch (r->phase) {
        case SD_BATCH_PROBE: probe_job(r, v, s, ctx); break;
        case SD_BATCH_ALIGN: align_job(r, v, s, ctx); break;
        case SD_BATCH_MEASURE:
            if (j->s == v->base)
                measure_base_job(r, v, s, ctx);
            else
                measure_job(r, v, s, ctx);
            break;
        }
        sd_ctx_free(ctx);
    }
    if (r->h && r->h->event) {
        int cached = r->phase == SD_BATCH_PROBE     ? !s->decoded
                     : r->phase == SD_BATCH_ALIGN   ? s->align_cached
                                                    : s->measure_cached;
        sd_batch_event ev = {
            .patient = r->plan->patient,
            .view = v->name,
            .session = s->im->session,
            .image = s->rel,
            .phase = r->phase,
            .status = s->state == ST_ERROR ? "error" : cached ? "cached" : "ok",
            .error = s->state == ST_ERROR ? s->error : NULL,
            .elapsed_ms = now_ms() - t0,
        };
        r->h->event(r->h->user, &ev);
    }
}

static int cancelled(const runner *r)
{
    return r->h && r->h->cancelled && r->h->cancelled(r->h->user);
}

/* Run the jobs selected by want(v, s) in the given phase. */
static int run_phase(runner *r, sd_batch_phase phase, int (*want)(const view *v, size_t s))
{
    r->njobs = 0;
    for (size_t i = 0; i < r->nv; i++)
        for (size_t k = 0; k < r->v[i].n; k++)
            if (want(&r->v[i], k))
                r->jobs[r->njobs++] = (job){i, k};
    r->phase = phase;
    if (r->h && r->h->planned)
        r->h->planned(r->h->user, r->njobs);
    if (r->h && r->h->run)
        r->h->run(r->h->user, r->njobs, run_one, r);
    else
        for (size_t i = 0; i < r->njobs; i++)
            run_one(r, i);
    return cancelled(r) ? -1 : 0;
}

static int want_probe(const view *v, size_t s)
{
    (void)v;
    (void)s;
    return 1;
}

static int want_align(const view *v, size_t s)
{
    return v->base < v->n && s != v->base && v->s[s].state == ST_OK;
}

static int want_base(const view *v, size_t s) { return v->common && s == v->base; }

static int want_sessions(const view *v, size_t s)
{
    return v->common && v->base < v->n && s != v->base && v->s[v->base].state == ST_OK &&
           v->s[s].state == ST_OK;
}

/* ---- building the views from the plan ---- */

static int cmp_image(const void *a, const void *b)
{
    const sd_batch_image *x = *(const sd_batch_image *const *)a,
                         *y = *(const sd_batch_image *const *)b;
    int c = strcmp(x->view, y->view);
    if (c)
        return c;
    if (x->days != y->days)
        return x->days < y->days ? -1 : 1;
    return strcmp(x->session, y->session);
}

static void views_free(view *v, size_t nv)
{
    for (size_t i = 0; v && i < nv; i++) {
        for (size_t k = 0; k < v[i].n; k++) {
            free(v[i].s[k].rel);
            free(v[i].s[k].path);
            free(v[i].s[k].error);
        }
        free(v[i].s);
        free(v[i].common);
    }
    free(v);
}

static sd_status views_build(sd_ctx *ctx, const sd_batch_plan *plan, const sd_batch_opts *o,
                             view **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    size_t n = plan->n_images;
    const sd_batch_image **sorted = sd_alloc_array(n ? n : 1, sizeof *sorted);
    view *v = sd_calloc_array(n ? n : 1, sizeof *v);
    if (!sorted || !v) {
        free(sorted);
        free(v);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", plan->dir);
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = &plan->images[i];
    qsort(sorted, n, sizeof *sorted, cmp_image);
    size_t nv = 0;
    sd_status st = SD_OK;
    for (size_t i = 0; i < n && st == SD_OK;) {
        size_t j = i;
        while (j < n && strcmp(sorted[j]->view, sorted[i]->view) == 0)
            j++;
        view *w = &v[nv++];
        w->name = sorted[i]->view;
        w->cfg = sd_batch_view_config(plan, w->name);
        view_params(o, w->cfg, &w->p);
        w->n = j - i;
        w->base = w->n;
        w->s = sd_calloc_array(w->n, sizeof *w->s);
        if (!w->s) {
            st = sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", plan->dir);
            break;
        }
        for (size_t k = 0; k < w->n; k++) {
            sess *s = &w->s[k];
            s->im = sorted[i + k];
            s->rel = str_printf("%s/%s", s->im->session, s->im->file);
            s->path = str_printf("%s/%s/%s", plan->dir, s->im->session, s->im->file);
            if (!s->rel || !s->path) {
                st = sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", plan->dir);
                break;
            }
        }
        i = j;
    }
    free(sorted);
    if (st != SD_OK) {
        views_free(v, nv);
        return st;
    }
    *out = v;
    *nout = nv;
    return SD_OK;
}

/* ---- the report ---- */

static int with_mm(const view *v) { return v->p.metric.px_per_mm > 0; }

static cJSON *changes_json(const view *v, const sd_metrics *a, const sd_metrics *b)
{
    size_t nt;
    const sd_metric_desc *t = sd_metric_table(&nt);
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < nt; i++) {
        if (t[i].need_mm && !with_mm(v))
            continue;
        cJSON *g = cJSON_GetObjectItemCaseSensitive(o, t[i].group);
        if (!g)
            g = cJSON_AddObjectToObject(o, t[i].group);
        double x = sd_metric_value(a, &t[i]), y = sd_metric_value(b, &t[i]);
        cJSON *l = cJSON_AddObjectToObject(g, t[i].name);
        cJSON_AddItemToObject(l, "delta", sd_rjson_num(y - x));
        cJSON_AddItemToObject(l, "change_pct", sd_rjson_num(pct(x, y)));
        cJSON_AddItemToObject(l, "noise_floor_pct", sd_rjson_num(sd_metric_floor(&t[i], a)));
        cJSON_AddStringToObject(l, "verdict", sd_metric_verdict(&t[i], a, b));
    }
    return o;
}

/* Per group, the same verdict as a compare report's summary. */
static cJSON *summary_json(const view *v, const sd_metrics *a, const sd_metrics *b)
{
    static const char *const groups[] = {"texture", "redness", "pores"};
    cJSON *o = cJSON_CreateObject();
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
        cJSON_AddStringToObject(o, groups[g], sd_group_verdict(groups[g], with_mm(v), a, b));
    return o;
}

static cJSON *trend_json(const view *v)
{
    size_t nt;
    const sd_metric_desc *t = sd_metric_table(&nt);
    double *x = sd_alloc_array(v->n, sizeof *x), *y = sd_alloc_array(v->n, sizeof *y);
    cJSON *o = cJSON_CreateObject();
    const sess *b = &v->s[v->base];
    const sess *last = NULL;
    for (size_t k = v->base; k < v->n; k++)
        if (v->s[k].state == ST_OK)
            last = &v->s[k];
    for (size_t i = 0; x && y && i < nt; i++) {
        if (t[i].need_mm && !with_mm(v))
            continue;
        size_t n = 0;
        for (size_t k = v->base; k < v->n; k++) {
            if (v->s[k].state != ST_OK)
                continue;
            x[n] = (double)(v->s[k].im->days - b->im->days);
            y[n++] = sd_metric_value(&v->s[k].m, &t[i]);
        }
        cJSON *g = cJSON_GetObjectItemCaseSensitive(o, t[i].group);
        if (!g)
            g = cJSON_AddObjectToObject(o, t[i].group);
        cJSON *l = cJSON_AddObjectToObject(g, t[i].name);
        cJSON_AddItemToObject(l, "slope_per_30d", sd_rjson_num(30.0 * sd_batch_slope(x, y, n)));
        double c = n >= 2 ? pct(sd_metric_value(&b->m, &t[i]), sd_metric_value(&last->m, &t[i]))
                          : NAN;
        cJSON_AddItemToObject(l, "change_pct", sd_rjson_num(c));
    }
    free(x);
    free(y);
    return o;
}

static cJSON *quality_json(const sess *s, int base)
{
    const sd_quality *q = &s->q;
    cJSON *o = cJSON_CreateObject();
    if (base) {
        cJSON_AddItemToObject(o, "sharpness", sd_rjson_num(q->sharpness_before));
        cJSON_AddItemToObject(o, "focus_measure", sd_rjson_num(q->focus_before));
        cJSON_AddItemToObject(o, "clipped_fraction", sd_rjson_num(q->clipped_before));
        cJSON_AddItemToObject(o, "crushed_fraction", sd_rjson_num(q->crushed_before));
        cJSON_AddItemToObject(o, "lighting_asymmetry", sd_rjson_num(q->asymmetry_before));
    } else {
        cJSON_AddItemToObject(o, "sharpness", sd_rjson_pair(q->sharpness_before, q->sharpness_after));
        cJSON_AddItemToObject(o, "focus_measure", sd_rjson_pair(q->focus_before, q->focus_after));
        cJSON_AddItemToObject(o, "focus_ratio", sd_rjson_num(q->focus_ratio));
        cJSON_AddItemToObject(o, "clipped_fraction",
                              sd_rjson_pair(q->clipped_before, q->clipped_after));
        cJSON_AddItemToObject(o, "crushed_fraction",
                              sd_rjson_pair(q->crushed_before, q->crushed_after));
        cJSON_AddItemToObject(o, "lighting_asymmetry",
                              sd_rjson_pair(q->asymmetry_before, q->asymmetry_after));
    }
    cJSON_AddItemToObject(o, "warnings", sd_rjson_warnings(q));
    return o;
}

static cJSON *view_json(const view *v, sd_batch_stats *st)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", v->name);
    if (v->base < v->n && v->s[v->base].state == ST_OK)
        cJSON_AddStringToObject(o, "baseline", v->s[v->base].im->session);
    else
        cJSON_AddNullToObject(o, "baseline");
    if (v->cfg)
        cJSON_AddItemToObject(o, "params", sd_rjson_params(&v->p, 1));
    cJSON *arr = cJSON_AddArrayToObject(o, "sessions");
    const sess *b = v->base < v->n && v->s[v->base].state == ST_OK ? &v->s[v->base] : NULL;
    const sess *prev = NULL;
    for (size_t k = 0; k < v->n; k++) {
        const sess *s = &v->s[k];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, e);
        cJSON_AddStringToObject(e, "session", s->im->session);
        cJSON_AddStringToObject(e, "date", s->im->date);
        cJSON_AddStringToObject(e, "image", s->rel);
        if (s->state != ST_OK || !b) {
            cJSON_AddStringToObject(e, "status", "error");
            char why[512];
            if (!s->error)
                snprintf(why, sizeof why, "%s: not measured, the view's baseline failed", s->rel);
            cJSON_AddStringToObject(e, "error", s->error ? s->error : why);
            st->pairs_failed++;
            continue;
        }
        cJSON_AddStringToObject(e, "status", "ok");
        cJSON_AddStringToObject(e, "sha256", s->sha);
        cJSON_AddItemToObject(e, "metrics", sd_rjson_metrics(&v->p, &b->thr, &s->m));
        int is_base = s == b;
        cJSON_AddItemToObject(e, "vs_baseline",
                              is_base ? cJSON_CreateNull() : changes_json(v, &b->m, &s->m));
        cJSON_AddItemToObject(e, "vs_previous",
                              prev ? changes_json(v, &prev->m, &s->m) : cJSON_CreateNull());
        cJSON_AddItemToObject(e, "summary",
                              is_base ? cJSON_CreateNull() : summary_json(v, &b->m, &s->m));
        cJSON_AddItemToObject(e, "alignment",
                              is_base ? cJSON_CreateNull() : sd_rjson_alignment(&s->al));
        cJSON_AddItemToObject(e, "normalization",
                              is_base ? cJSON_CreateNull() : sd_rjson_normalization(&s->norm));
        cJSON_AddItemToObject(e, "roi", sd_rjson_roi(s->roi_source, s->roi_pixels, &s->roi_bbox));
        cJSON_AddItemToObject(e, "quality", quality_json(s, is_base));
        if (!is_base)
            st->pairs_ok++;
        prev = s;
    }
    if (b)
        cJSON_AddItemToObject(o, "trend", trend_json(v));
    else
        cJSON_AddNullToObject(o, "trend");
    return o;
}

static size_t count_sessions(const sd_batch_plan *plan)
{
    size_t n = 0;
    for (size_t i = 0; i < plan->n_images; i++) {
        size_t j = 0;
        while (j < i && strcmp(plan->images[j].session, plan->images[i].session) != 0)
            j++;
        n += j == i;
    }
    return n;
}

static sd_status report(sd_ctx *ctx, const runner *r, sd_batch_stats *st, char **json)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "skindelta/progress/1");
    cJSON_AddItemToObject(root, "tool", sd_rjson_tool());
    cJSON_AddStringToObject(root, "patient", r->plan->patient);
    cJSON *p = sd_rjson_params(&r->o->params, 1);
    /* the thread count changes no number: keep the report independent of -j */
    cJSON_DeleteItemFromObjectCaseSensitive(p, "threads");
    cJSON_AddItemToObject(root, "params", p);
    cJSON *vs = cJSON_AddArrayToObject(root, "views");
    for (size_t i = 0; i < r->nv; i++)
        cJSON_AddItemToArray(vs, view_json(&r->v[i], st));
    st->sessions = count_sessions(r->plan);
    st->views = r->nv;
    cJSON *s = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddNumberToObject(s, "sessions", (double)st->sessions);
    cJSON_AddNumberToObject(s, "views", (double)st->views);
    cJSON_AddNumberToObject(s, "pairs_ok", (double)st->pairs_ok);
    cJSON_AddNumberToObject(s, "pairs_failed", (double)st->pairs_failed);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory for the report", r->plan->dir);
    size_t len = strlen(text);
    char *out = realloc(text, len + 2);
    if (!out) {
        free(text);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory for the report", r->plan->dir);
    }
    out[len] = '\n';
    out[len + 1] = '\0';
    *json = out;
    return SD_OK;
}

sd_status sd_batch_run(sd_ctx *ctx, const sd_batch_plan *plan, const sd_batch_opts *o,
                       const sd_batch_hooks *h, char **json, sd_batch_stats *st)
{
    *json = NULL;
    memset(st, 0, sizeof *st);
    if (plan->n_images == 0)
        return sd_fail(ctx, SD_ERR_IO, "%s: no sessions with images found", plan->dir);
    runner r = {.plan = plan, .o = o, .h = h};
    sd_status s = views_build(ctx, plan, o, &r.v, &r.nv);
    if (s != SD_OK)
        return s;
    r.jobs = sd_alloc_array(plan->n_images, sizeof *r.jobs);
    if (!r.jobs) {
        views_free(r.v, r.nv);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", plan->dir);
    }
    int stop = run_phase(&r, SD_BATCH_PROBE, want_probe);
    st->items_total += r.njobs;
    for (size_t i = 0; i < r.nv; i++) {
        view *v = &r.v[i];
        for (v->base = 0; v->base < v->n && v->s[v->base].state != ST_OK; v->base++)
            ;
    }
    if (!stop)
        stop = run_phase(&r, SD_BATCH_ALIGN, want_align);
    st->items_total += r.njobs;
    for (size_t i = 0; !stop && i < r.nv; i++) {
        view *v = &r.v[i];
        if (v->base == v->n)
            continue;
        if (common_roi(ctx, &r, v) != SD_OK) {
            /* the view's ROI cannot be built: every session of it fails */
            for (size_t k = 0; k < v->n; k++)
                if (v->s[k].state == ST_OK)
                    set_error(&v->s[k], sd_ctx_message(ctx));
        }
    }
    if (!stop)
        stop = run_phase(&r, SD_BATCH_MEASURE, want_base);
    st->items_total += r.njobs;
    if (!stop)
        stop = run_phase(&r, SD_BATCH_MEASURE, want_sessions);
    st->items_total += r.njobs;
    for (size_t i = 0; i < r.nv; i++)
        for (size_t k = 0; k < r.v[i].n; k++) {
            const sess *x = &r.v[i].s[k];
            st->images_decoded += (size_t)x->decoded;
            st->pairs_aligned += (size_t)x->align_computed;
            st->pairs_cached += (size_t)x->align_cached;
            st->measured += (size_t)x->measure_computed;
            st->measured_cached += (size_t)x->measure_cached;
            st->cache_rejected += (size_t)x->rejected;
        }
    if (stop)
        s = sd_fail(ctx, SD_ERR_ARG, "%s: interrupted", plan->dir);
    else
        s = report(ctx, &r, st, json);
    free(r.jobs);
    views_free(r.v, r.nv);
    return s;
}

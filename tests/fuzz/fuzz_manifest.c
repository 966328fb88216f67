/*
 * Fuzz harness: the patient.json manifest (sd_batch_manifest_parse,
 * src/batch/plan.c), fed the input as JSON text (a NUL-terminated copy, so
 * the text ends at the first NUL byte as it would when read from a file).
 *
 * Invariants, from the documented format (include/skindelta/batch.h,
 * docs/batch.md) rather than from the code:
 *   a success leaves a plan whose values are sane: a non-empty patient;
 *   listed sessions have a plain folder name (non-empty, no '/', not
 *   starting with '.'), a real calendar date "YYYY-MM-DD" (checked here by
 *   an independent day count), no folder listed twice, and the public
 *   lookups give them back (sd_batch_session_date); file -> view entries
 *   are plain names and sd_batch_file_view returns the mapped view; views
 *   have non-empty plain names, no file or view named twice (duplicate
 *   JSON keys are refused: which one counts is undefined in JSON, RFC 8259
 *   4), rectangles with x, y >= 0, w, h >= 1 and all
 *   within SD_MAX_DIM, px_per_mm unset (0) or finite in [0.001, 100000], a
 *   mask that is non-empty, relative and without "..";
 *   a refusal is SD_ERR_ARG (or SD_ERR_NOMEM) with a one-line message
 *   "patient.json: KEY: reason" or "patient.json: not valid JSON (near
 *   byte N)" with N within the text;
 *   parsing is deterministic (a second plan gives the same status and
 *   message) and a plan takes one manifest only (a second parse fails);
 *   everything is freed (LeakSanitizer).
 */
#include <math.h>
#include <string.h>

#include "batch/batch_internal.h"
#include "fuzz.h"
#include "skindelta/batch.h"
#include "skindelta/core.h"

static int is_plain(const char *s)
{
    return s && s[0] != '\0' && s[0] != '.' && strchr(s, '/') == NULL;
}

/* "YYYY-MM-DD", year >= 1900, a day that exists in that month */
static int real_date(const char *d)
{
    if (strlen(d) != 10 || d[4] != '-' || d[7] != '-')
        return 0;
    int v[3] = {0, 0, 0}, part = 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            part++;
            continue;
        }
        if (d[i] < '0' || d[i] > '9')
            return 0;
        v[part] = v[part] * 10 + (d[i] - '0');
    }
    int y = v[0], m = v[1], day = v[2];
    if (y < 1900 || m < 1 || m > 12 || day < 1)
        return 0;
    /* month lengths by the knuckle rule; February by the Gregorian rule */
    int len = 31;
    if (m == 4 || m == 6 || m == 9 || m == 11)
        len = 30;
    if (m == 2)
        len = (y % 400 == 0 || (y % 4 == 0 && y % 100 != 0)) ? 29 : 28;
    return day <= len;
}

static void check_rect(sd_rect r)
{
    FUZZ_CHECK(r.x >= 0 && r.y >= 0 && r.w >= 1 && r.h >= 1);
    FUZZ_CHECK(r.x <= SD_MAX_DIM && r.y <= SD_MAX_DIM && r.w <= SD_MAX_DIM && r.h <= SD_MAX_DIM);
}

static void check_plan(const sd_batch_plan *p)
{
    FUZZ_CHECK(p->patient && p->patient[0] != '\0');
    FUZZ_CHECK(sd_batch_plan_has_session_list(p) == p->has_session_list);
    if (!p->has_session_list)
        FUZZ_CHECK(p->n_sessions == 0);
    for (size_t i = 0; i < p->n_sessions; i++) {
        const sd_batch_session_def *s = &p->sessions[i];
        FUZZ_CHECK(is_plain(s->folder));
        FUZZ_CHECK(memchr(s->date, '\0', sizeof s->date) != NULL && real_date(s->date));
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(p->sessions[j].folder, s->folder) != 0);
        char date[11];
        FUZZ_CHECK(sd_batch_session_date(p, s->folder, date) == 1);
        FUZZ_CHECK(strcmp(date, s->date) == 0);
    }
    for (size_t i = 0; i < p->n_files; i++) {
        const sd_batch_file_map *f = &p->files[i];
        FUZZ_CHECK(is_plain(f->file) && is_plain(f->view));
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(p->files[j].file, f->file) != 0);
        char view[300];
        FUZZ_CHECK(sd_batch_file_view(p, f->file, view, sizeof view) == 1);
        FUZZ_CHECK(strcmp(view, f->view) == 0);
    }
    for (size_t i = 0; i < p->n_views; i++) {
        const sd_batch_view_cfg *c = &p->views[i];
        FUZZ_CHECK(is_plain(c->name));
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(p->views[j].name, c->name) != 0);
        if (c->has_roi)
            check_rect(c->roi);
        if (c->has_ref)
            check_rect(c->ref);
        FUZZ_CHECK(c->px_per_mm == 0 ||
                   (isfinite(c->px_per_mm) && c->px_per_mm >= 1e-3 && c->px_per_mm <= 1e5));
        if (c->mask)
            FUZZ_CHECK(c->mask[0] != '\0' && c->mask[0] != '/' && !strstr(c->mask, ".."));
        FUZZ_CHECK(sd_batch_view_config(p, c->name) == c);
    }
}

static void check_refusal(sd_status s, const char *msg, size_t len)
{
    static const char pre[] = SD_BATCH_MANIFEST ": ";
    FUZZ_CHECK(s == SD_ERR_ARG || s == SD_ERR_NOMEM);
    for (const unsigned char *c = (const unsigned char *)msg; *c; c++)
        FUZZ_CHECK(*c >= 0x20 && *c != 0x7f); /* one line of plain text */
    FUZZ_CHECK(strncmp(msg, pre, sizeof pre - 1) == 0);
    const char *rest = msg + sizeof pre - 1;
    if (s == SD_ERR_NOMEM)
        return;
    /* an unknown key is echoed, so it may itself read "not valid JSON
     * (near byte ...": only the exact form is taken as the JSON error */
    static const char nj[] = "not valid JSON (near byte ";
    if (strncmp(rest, nj, sizeof nj - 1) == 0) {
        const char *q = rest + sizeof nj - 1;
        unsigned long long at = 0;
        int nd = 0;
        for (; *q >= '0' && *q <= '9' && nd < 20; q++, nd++)
            at = at * 10 + (unsigned)(*q - '0');
        if (nd > 0 && q[0] == ')' && q[1] == '\0') {
            FUZZ_CHECK(at <= len);
            return;
        }
    }
    /* KEY: reason, with a non-empty reason after the last ": " */
    const char *sep = strstr(rest, ": ");
    FUZZ_CHECK(sep != NULL);
    const char *last = sep;
    for (const char *q = sep; (q = strstr(q + 1, ": ")) != NULL;)
        last = q;
    FUZZ_CHECK(last[2] != '\0');
}

/* Parse text into a new plan; returns the plan (or NULL when the plan
 * could not be made) and the status and message. */
static sd_batch_plan *parse(sd_ctx *ctx, const char *text, sd_status *s)
{
    sd_batch_plan *p = NULL;
    if (sd_batch_plan_new(ctx, "patients/P-0001", &p) != SD_OK)
        return NULL;
    FUZZ_CHECK(strcmp(p->patient, "P-0001") == 0);
    *s = sd_batch_manifest_parse(ctx, p, SD_BATCH_MANIFEST, text);
    return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    sd_ctx *ctx = sd_ctx_new(), *ctx2 = sd_ctx_new();
    if (!text || !ctx || !ctx2)
        goto out;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t len = strlen(text);

    sd_status s = SD_OK, s2 = SD_OK;
    sd_batch_plan *p = parse(ctx, text, &s);
    if (!p)
        goto out;
    if (s == SD_OK) {
        check_plan(p);
        /* one manifest per plan */
        sd_status again = sd_batch_manifest_parse(ctx, p, SD_BATCH_MANIFEST, text);
        const char *m = sd_ctx_message(ctx);
        FUZZ_CHECK(again == SD_ERR_ARG && strchr(m, '\n') == NULL);
        FUZZ_CHECK(strncmp(m, SD_BATCH_MANIFEST ": ", sizeof SD_BATCH_MANIFEST + 1) == 0);
    } else {
        check_refusal(s, sd_ctx_message(ctx), len);
    }
    /* deterministic */
    sd_batch_plan *q = parse(ctx2, text, &s2);
    if (q && s != SD_ERR_NOMEM && s2 != SD_ERR_NOMEM) {
        FUZZ_CHECK(s2 == s);
        if (s == SD_OK)
            FUZZ_CHECK(strcmp(p->patient, q->patient) == 0 && p->n_sessions == q->n_sessions &&
                       p->n_files == q->n_files && p->n_views == q->n_views);
        else
            FUZZ_CHECK(strcmp(sd_ctx_message(ctx), sd_ctx_message(ctx2)) == 0);
    }
    sd_batch_plan_free(q);
    sd_batch_plan_free(p);
out:
    sd_ctx_free(ctx2);
    sd_ctx_free(ctx);
    free(text);
    return 0;
}

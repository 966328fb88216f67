/* Affine transforms (apply, invert, decompose), the names of the models and
 * verdicts, and the bilinear picture warp (the driver: rows of the
 * row_warp kernel, src/kernels/warp*.c, shared out among the threads). */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
#include "kernels/kernels_internal.h"
#include "skindelta/align.h"

const char *sd_align_model_name(sd_align_model m)
{
    switch (m) {
    case SD_ALIGN_SIMILARITY: return "similarity";
    case SD_ALIGN_AFFINE: return "affine";
    case SD_ALIGN_NONE: return "none";
    }
    return "unknown";
}

const char *sd_align_status_name(sd_align_status s)
{
    switch (s) {
    case SD_ALIGN_OK: return "ok";
    case SD_ALIGN_POOR: return "poor";
    case SD_ALIGN_FAILED: return "failed";
    }
    return "unknown";
}

const sd_xform sd_xform_identity = {{1, 0, 0, 0, 1, 0}};

int sd_xform_invert(const sd_xform *xf, sd_xform *inv)
{
    const double *m = xf->m;
    double det = m[0] * m[4] - m[1] * m[3];
    double norm = fabs(m[0]) + fabs(m[1]) + fabs(m[3]) + fabs(m[4]);
    /* singular, or so close to it that the inverse means nothing */
    if (!isfinite(det) || norm == 0 || fabs(det) <= 1e-12 * norm * norm)
        return 0;
    double a = m[4] / det, b = -m[1] / det, c = -m[3] / det, d = m[0] / det;
    inv->m[0] = a;
    inv->m[1] = b;
    inv->m[2] = -(a * m[2] + b * m[5]);
    inv->m[3] = c;
    inv->m[4] = d;
    inv->m[5] = -(c * m[2] + d * m[5]);
    return 1;
}

/* The closest similarity to the linear part [[p, q], [r, s]] is
 * k * [[cos t, -sin t], [sin t, cos t]] with t = atan2(r - q, p + s); the
 * scale reported is sqrt(|det|), the area ratio, as the header says. */
void sd_xform_decompose(const sd_xform *xf, double *rotation_deg, double *scale)
{
    const double *m = xf->m;
    double t = atan2(m[3] - m[1], m[0] + m[4]);
    *rotation_deg = t * 180.0 / M_PI;
    *scale = sqrt(fabs(m[0] * m[4] - m[1] * m[3]));
}

/* A band of output rows of the warp, for one thread. */
typedef struct warp_job {
    const sd_image *src;
    const sd_xform *xf;
    sd_image *dst;
    sd_row_warp_fn row;
    int y0, y1;
} warp_job;

static void *warp_band(void *arg)
{
    const warp_job *j = arg;
    for (int y = j->y0; y < j->y1; y++)
        j->row(j->src, j->xf, y, 0, j->dst->width, j->dst->px + (size_t)y * j->dst->stride);
    return NULL;
}

/* below this many output pixels the warp runs on the caller's thread */
#define WARP_THREAD_MIN_PIXELS 65536

sd_status sd_image_warp(sd_ctx *ctx, const sd_image *src, const sd_xform *xf, int w, int h,
                        sd_image **out)
{
    *out = NULL;
    if (!sd_image_has_pixels(src) || !xf || src->width <= 0 || src->height <= 0)
        return sd_fail(ctx, SD_ERR_ARG, "warp: bad source image");
    if (w <= 0 || h <= 0)
        return sd_fail(ctx, SD_ERR_ARG, "warp: bad output size %dx%d", w, h);
    /* the warp kernels read 16-bit samples anywhere in the source */
    sd_image *wide = NULL;
    sd_status st = src->px ? SD_OK : sd_image_expand(ctx, src, &wide);
    if (st != SD_OK)
        return st;
    if (wide)
        src = wide;
    sd_image *dst = NULL;
    if ((st = sd_image_alloc(ctx, w, h, 0, &dst)) != SD_OK) {
        sd_image_free(wide);
        return st;
    }
    /* rows are independent and each is computed the same way at every
     * level: the bits depend on neither the band split nor the level */
    int nt = (size_t)w * (size_t)h < WARP_THREAD_MIN_PIXELS ? 1 : sd_ctx_threads(ctx);
    nt = SD_CLAMP(nt, 1, SD_MIN(h, SD_MAX_JOBS));
    warp_job jobs[SD_MAX_JOBS];
    const sd_row_warp_fn row = sd_dsp_active()->row_warp;
    for (int t = 0; t < nt; t++)
        jobs[t] = (warp_job){src, xf, dst, row, (int)((int64_t)h * t / nt),
                             (int)((int64_t)h * (t + 1) / nt)};
    sd_run_jobs(nt, warp_band, jobs, sizeof jobs[0]);
    dst->bits = src->bits;
    sd_image_free(wide);
    *out = dst;
    return SD_OK;
}

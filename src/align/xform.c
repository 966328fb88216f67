/* Affine transforms (apply, invert, decompose), the names of the models and
 * verdicts, and the bilinear picture warp. */
#include <math.h>
#include <stdlib.h>

#include "core/internal.h"
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

sd_status sd_image_warp(sd_ctx *ctx, const sd_image *src, const sd_xform *xf, int w, int h,
                        sd_image **out)
{
    *out = NULL;
    if (!src || !xf || !src->px || src->width <= 0 || src->height <= 0)
        return sd_fail(ctx, SD_ERR_ARG, "warp: bad source image");
    if (w <= 0 || h <= 0)
        return sd_fail(ctx, SD_ERR_ARG, "warp: bad output size %dx%d", w, h);
    sd_image *dst = NULL;
    sd_status st = sd_image_new(ctx, w, h, 0, &dst);
    if (st != SD_OK)
        return st;
    const int sw = src->width, sh = src->height;
    for (int y = 0; y < h; y++) {
        uint16_t *d = dst->px + (size_t)y * dst->stride;
        for (int x = 0; x < w; x++, d += 3) {
            double fx, fy;
            sd_xform_apply(xf, x, y, &fx, &fy);
            /* a pixel covers [c - 0.5, c + 0.5]: inside up to the outer edges */
            if (!(fx >= -0.5 && fx <= sw - 0.5 && fy >= -0.5 && fy <= sh - 0.5))
                continue; /* outside: stays black */
            fx = SD_CLAMP(fx, 0.0, (double)(sw - 1));
            fy = SD_CLAMP(fy, 0.0, (double)(sh - 1));
            int x0 = (int)fx, y0 = (int)fy;
            int x1 = x0 + 1 < sw ? x0 + 1 : x0, y1 = y0 + 1 < sh ? y0 + 1 : y0;
            double ax = fx - x0, ay = fy - y0;
            const uint16_t *r0 = src->px + (size_t)y0 * src->stride;
            const uint16_t *r1 = src->px + (size_t)y1 * src->stride;
            for (int c = 0; c < 3; c++) {
                double top = r0[3 * x0 + c] + ax * (r0[3 * x1 + c] - r0[3 * x0 + c]);
                double bot = r1[3 * x0 + c] + ax * (r1[3 * x1 + c] - r1[3 * x0 + c]);
                double v = top + ay * (bot - top);
                d[c] = (uint16_t)SD_CLAMP(lrint(v), 0L, 65535L);
            }
        }
    }
    dst->bits = src->bits;
    *out = dst;
    return SD_OK;
}

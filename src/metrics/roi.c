/*
 * sd_roi_build: the common region of interest in BEFORE's frame, and its
 * image in AFTER's frame (see docs/metrics.md "ROI").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "metrics/metrics_internal.h"
#include "skindelta/metrics.h"

void sd_roi_release(sd_roi *roi)
{
    if (!roi)
        return;
    free(roi->before);
    free(roi->after);
    memset(roi, 0, sizeof *roi);
}

/* The geometric overlap test: BEFORE pixel (x, y) maps through xf to an
 * AFTER position at least `ab` AFTER pixels inside [0, ax1 + ab] x [0, ay1 + ab]. */
static int maps_inside(const sd_xform *xf, int x, int y, double ab, double ax1, double ay1,
                       double *u, double *v)
{
    sd_mx_apply(xf, x, y, u, v);
    return *u >= ab && *v >= ab && *u <= ax1 && *v <= ay1;
}

sd_status sd_roi_mask_overlap(sd_ctx *ctx, int bw, int bh, int aw, int ah, const sd_xform *xf,
                              int border, uint8_t *mask)
{
    if (!xf || !mask || bw <= 0 || bh <= 0 || aw <= 0 || ah <= 0 || border < 0)
        return sd_fail(ctx, SD_ERR_ARG, "roi: invalid overlap mask arguments");
    for (int i = 0; i < 6; i++)
        if (!isfinite(xf->m[i]))
            return sd_fail(ctx, SD_ERR_ARG, "roi: transform is not finite");
    const double ab = border * sd_mx_scale(xf);
    const double ax1 = aw - 1 - ab, ay1 = ah - 1 - ab;
    for (int y = 0; y < bh; y++) {
        uint8_t *row = mask + (size_t)y * (size_t)bw;
        for (int x = 0; x < bw; x++) {
            double u, v;
            if (row[x] && !maps_inside(xf, x, y, ab, ax1, ay1, &u, &v))
                row[x] = 0;
        }
    }
    return SD_OK;
}

sd_status sd_roi_build(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                       const sd_xform *xf, const sd_roi_opts *opts, sd_roi *out)
{
    static const sd_roi_opts none = {NULL, NULL, 0, 0, 0};
    if (!out)
        return sd_fail(ctx, SD_ERR_ARG, "roi: missing output");
    memset(out, 0, sizeof *out);
    if (!before || !before->px)
        return sd_fail(ctx, SD_ERR_ARG, "roi: missing BEFORE image");
    if (after && !after->px)
        return sd_fail(ctx, SD_ERR_ARG, "roi: AFTER image has no pixels");
    if (!opts)
        opts = &none;
    const int bw = before->width, bh = before->height;
    const int border = opts->border;
    if (border < 0)
        return sd_fail(ctx, SD_ERR_ARG, "roi: negative border %d", border);
    const sd_rect *r = opts->rect;
    if (r && (r->w <= 0 || r->h <= 0 || r->x < 0 || r->y < 0 || r->x > bw - r->w ||
              r->y > bh - r->h))
        return sd_fail(ctx, SD_ERR_ARG,
                       "roi: rectangle %d,%d,%d,%d is not inside the %dx%d image", r->x, r->y,
                       r->w, r->h, bw, bh);
    if (opts->mask && (opts->mask_w != bw || opts->mask_h != bh))
        return sd_fail(ctx, SD_ERR_ARG, "roi: mask is %dx%d, the image is %dx%d", opts->mask_w,
                       opts->mask_h, bw, bh);
    sd_xform inv;
    double s = 1.0;
    if (after) {
        for (int i = 0; xf && i < 6; i++)
            if (!isfinite(xf->m[i]))
                return sd_fail(ctx, SD_ERR_ARG, "roi: transform is not finite");
        if (!sd_mx_invert(xf, &inv))
            return sd_fail(ctx, SD_ERR_ARG, "roi: transform is singular");
        s = sd_mx_scale(xf);
    }
    if (bw < 2 * (long)border + 1 || bh < 2 * (long)border + 1)
        return sd_fail(ctx, SD_ERR_TOO_SMALL,
                       "roi: BEFORE is %dx%d, too small for a border of %d pixels", bw, bh,
                       border);

    out->source = opts->mask ? SD_ROI_MASK : r ? SD_ROI_RECT : SD_ROI_OVERLAP;
    out->bw = bw;
    out->bh = bh;
    out->before = sd_calloc_array((size_t)bw, (size_t)bh);
    if (!out->before)
        return sd_fail(ctx, SD_ERR_NOMEM, "roi: out of memory for %dx%d", bw, bh);

    /* AFTER positions must lie at least border * scale AFTER pixels inside */
    const double ab = border * s;
    const double ax1 = after ? after->width - 1 - ab : 0, ay1 = after ? after->height - 1 - ab : 0;
    int x0 = border, y0 = border, x1 = bw - 1 - border, y1 = bh - 1 - border;
    if (r) {
        x0 = SD_MAX(x0, r->x);
        y0 = SD_MAX(y0, r->y);
        x1 = SD_MIN(x1, r->x + r->w - 1);
        y1 = SD_MIN(y1, r->y + r->h - 1);
    }
    int bx0 = bw, by0 = bh, bx1 = -1, by1 = -1; /* bbox of the ROI */
    int gx0 = bw, gy0 = bh, gx1 = -1, gy1 = -1; /* of the geometric ROI */
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            size_t i = (size_t)y * (size_t)bw + (size_t)x;
            if (opts->mask && !opts->mask[i])
                continue;
            long ux = 0, uy = 0;
            if (after) {
                double u, v;
                if (!maps_inside(xf, x, y, ab, ax1, ay1, &u, &v))
                    continue;
                ux = sd_nearest(u);
                uy = sd_nearest(v);
            }
            out->geometric_pixels++;
            gx0 = SD_MIN(gx0, x);
            gy0 = SD_MIN(gy0, y);
            gx1 = SD_MAX(gx1, x);
            gy1 = SD_MAX(gy1, y);
            int cb = sd_px_clipped(sd_image_px(before, x, y));
            int ca = after && sd_px_clipped(sd_image_px(after, (int)ux, (int)uy));
            out->clipped_before += (size_t)cb;
            out->clipped_after += (size_t)ca;
            if (cb || ca) {
                out->before[i] = SD_ROI_EXCLUDED;
                continue;
            }
            out->before[i] = SD_ROI_IN;
            out->pixels++;
            bx0 = SD_MIN(bx0, x);
            by0 = SD_MIN(by0, y);
            bx1 = SD_MAX(bx1, x);
            by1 = SD_MAX(by1, y);
        }
    }
    if (out->pixels == 0) {
        const char *why = out->geometric_pixels ? "every pixel of it is clipped"
                          : after ? "the images do not overlap enough inside the border"
                                  : "nothing is left inside the border";
        sd_roi_release(out);
        return sd_fail(ctx, SD_ERR_TOO_SMALL, "roi: the region of interest is empty (%s)", why);
    }
    out->bbox = (sd_rect){bx0, by0, bx1 - bx0 + 1, by1 - by0 + 1};
    if (!after)
        return SD_OK;

    const int aw = after->width, ah = after->height;
    out->aw = aw;
    out->ah = ah;
    out->after = sd_calloc_array((size_t)aw, (size_t)ah);
    if (!out->after) {
        sd_roi_release(out);
        return sd_fail(ctx, SD_ERR_NOMEM, "roi: out of memory for %dx%d", aw, ah);
    }
    for (int v = 0; v < ah; v++) {
        for (int u = 0; u < aw; u++) {
            double x, y;
            sd_mx_apply(&inv, u, v, &x, &y);
            long nx = sd_nearest(x), ny = sd_nearest(y);
            if (nx < gx0 || ny < gy0 || nx > gx1 || ny > gy1)
                continue;
            out->after[(size_t)v * (size_t)aw + (size_t)u] =
                out->before[(size_t)ny * (size_t)bw + (size_t)nx];
        }
    }
    return SD_OK;
}

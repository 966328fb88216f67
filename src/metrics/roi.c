/*
 * sd_roi_build: the common region of interest in BEFORE's frame, and its
 * image in AFTER's frame (see docs/metrics.md "ROI").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "metrics/measure_internal.h"
#include "metrics/metrics_internal.h"
#include "skindelta/metrics.h"

void sd_roi_release(sd_roi *roi)
{
    if (!roi)
        return;
    sd_free(roi->before);
    sd_free(roi->after);
    free(roi->rows_before); /* rows_after shares its allocation */
    memset(roi, 0, sizeof *roi);
}

/* The geometric overlap test: BEFORE pixel (x, y) maps through xf to an
 * AFTER position at least `ab` AFTER pixels inside [0, ax1 + ab] x [0, ay1 + ab]. */
static int maps_inside(const sd_xform *xf, int x, int y, double ab, double ax1, double ay1,
                       double *u, double *v)
{
    sd_xform_apply(xf, x, y, u, v);
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
    const double ab = border * sd_xform_scale(xf);
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

/* The forward pass over a band of BEFORE rows [y0, y1]: which pixels map
 * inside AFTER (the geometric ROI), which of them are clipped in either
 * image, the counts and boxes. Every coordinate is the one sd_xform_apply
 * gives (same products, same order of the sums; m1 y + m2 is not folded
 * into one constant, which would round differently). Inside AFTER,
 * u >= ab >= 0, so floor(u + 0.5) is the truncation. */
typedef struct fwd_job {
    const sd_image *before, *after;
    const sd_xform *xf;
    const uint8_t *mask;
    const uint8_t *arow_clip; /* per AFTER row: has a clipped pixel */
    const uint8_t *brow_clip; /* per BEFORE row */
    uint8_t *out;
    int *impure; /* [y + 1]: 1 when row y's labels are not exactly its
                  * geometric run as SD_ROI_IN (a user mask, an exclusion) */
    double ab, ax1, ay1;
    int x0, x1, y0, y1;
    size_t geometric, clipped_b, clipped_a, pixels;
    int bx0, by0, bx1, by1, gx0, gy0, gx1, gy1;
} fwd_job;

/* Whether BEFORE pixel (x, y) of the job's row maps inside AFTER (the
 * geometric test of fwd_run, the same arithmetic). */
static inline int fwd_inside(const fwd_job *j, int x, double my1, double my4, double *u,
                             double *v)
{
    const double *m = j->xf->m;
    *u = m[0] * x + my1 + m[2];
    *v = m[3] * x + my4 + m[5];
    return *u >= j->ab && *v >= j->ab && *u <= j->ax1 && *v <= j->ay1;
}

/* Intersect [*a, *b] with the real solutions u of lo <= k u + c <= hi;
 * 0 when that is empty. */
static int lin_range(double k, double c, double lo, double hi, double *a, double *b)
{
    if (k == 0) {
        if (c < lo || c > hi)
            return 0;
    } else {
        const double s = (lo - c) / k, t = (hi - c) / k;
        *a = fmax(*a, fmin(s, t));
        *b = fmin(*b, fmax(s, t));
    }
    return *a <= *b;
}

/* The columns of row y (my1 = m1 y, my4 = m4 y) that map inside AFTER, as
 * [*xa, *xb] within [x0, x1] (1); -1 when surely none (the real-valued
 * solution is empty by more than a pixel); 0 when the row needs the
 * per-pixel walk. u and v are each monotone in x (so is every rounding
 * step of their sums), so the inside columns are one run: found from a
 * column inside it (the middle of the real-valued solution) by bisection
 * with the exact test. */
static int fwd_run_span(const fwd_job *j, double my1, double my4, int *xa, int *xb)
{
    const double *m = j->xf->m;
    double lo = j->x0, hi = j->x1;
    const double c[2] = {my1 + m[2], my4 + m[5]}, k[2] = {m[0], m[3]};
    const double lim[2][2] = {{j->ab, j->ax1}, {j->ab, j->ay1}};
    for (int i = 0; i < 2; i++) {
        if (k[i] == 0 && (c[i] < lim[i][0] || c[i] > lim[i][1]))
            return 0;
        (void)lin_range(k[i], c[i], lim[i][0], lim[i][1], &lo, &hi);
    }
    if (hi < lo - 1.0)
        return -1;
    if (!(lo <= hi))
        return 0;
    double u, v;
    const int mid = (int)floor(0.5 * (lo + hi));
    if (mid < j->x0 || mid > j->x1 || !fwd_inside(j, mid, my1, my4, &u, &v))
        return 0;
    int a = j->x0, b = mid; /* first inside in [a, b]: b inside */
    while (a < b) {
        const int t = a + (b - a) / 2;
        if (fwd_inside(j, t, my1, my4, &u, &v))
            b = t;
        else
            a = t + 1;
    }
    *xa = a;
    a = mid;
    b = j->x1; /* last inside in [a, b]: a inside */
    while (a < b) {
        const int t = b - (b - a) / 2;
        if (fwd_inside(j, t, my1, my4, &u, &v))
            a = t;
        else
            b = t - 1;
    }
    *xb = a;
    return 1;
}

/* Whether pixel (x, y) of img is clipped. */
static int clipped_at(const sd_image *img, int x, int y)
{
    uint16_t p[3];
    sd_image_pixel(img, x, y, p);
    return sd_px_clipped(p);
}

static void *fwd_run(void *arg)
{
    fwd_job *j = arg;
    const sd_image *before = j->before, *after = j->after;
    const double *m = j->xf->m;
    const int bw = before->width;
    j->bx0 = j->gx0 = bw;
    j->by0 = j->gy0 = before->height;
    j->bx1 = j->by1 = j->gx1 = j->gy1 = -1;
    for (int y = j->y0; y <= j->y1; y++) {
        const double my1 = m[1] * y, my4 = m[4] * y;
        const uint8_t *mrow = j->mask ? j->mask + (size_t)y * (size_t)bw : NULL;
        const int bclip = j->brow_clip[y] & SD_ROW_CLIP;
        uint8_t *orow = j->out + (size_t)y * (size_t)bw;
        memset(orow, 0, (size_t)bw); /* the band's own rows, in parallel */
        size_t geo = 0, excluded = 0;
        int gx0 = bw, gx1 = -1, bx0 = bw, bx1 = -1;
        /* Without a user mask or a clipped pixel on the way, the row is one
         * run of SD_ROI_IN: its ends by bisection, the rest by memset. */
        int xa = j->x0, xb = j->x1, fast = !mrow && !bclip;
        if (fast && after) {
            double u, v, u2, v2;
            const int span = fwd_run_span(j, my1, my4, &xa, &xb);
            fast = span != 0;
            if (span < 0)
                xb = xa - 1; /* nothing inside */
            else if (fast) {
                fwd_inside(j, xa, my1, my4, &u, &v);
                fwd_inside(j, xb, my1, my4, &u2, &v2);
                const int r0 = (int)(fmin(v, v2) + 0.5), r1 = (int)(fmax(v, v2) + 0.5);
                for (int r = r0; fast && r <= r1; r++)
                    fast = !(j->arow_clip[r] & SD_ROW_CLIP);
            }
        }
        if (fast) {
            if (xa <= xb) {
                memset(orow + xa, SD_ROI_IN, (size_t)(xb - xa + 1));
                geo = (size_t)(xb - xa + 1);
                j->pixels += geo;
                gx0 = bx0 = xa;
                gx1 = bx1 = xb;
            }
        } else {
            for (int x = j->x0; x <= j->x1; x++) {
                if (mrow && !mrow[x])
                    continue;
                int ca = 0;
                if (after) {
                    double u, v;
                    if (!fwd_inside(j, x, my1, my4, &u, &v))
                        continue;
                    const int uy = (int)(v + 0.5);
                    /* AFTER is read only on rows that have a clipped pixel:
                     * the slanted walk through it otherwise misses the cache */
                    ca = (j->arow_clip[uy] & SD_ROW_CLIP) && clipped_at(after, (int)(u + 0.5), uy);
                }
                geo++;
                gx0 = SD_MIN(gx0, x);
                gx1 = x;
                const int cb = bclip && clipped_at(before, x, y);
                j->clipped_b += (size_t)cb;
                j->clipped_a += (size_t)ca;
                if (cb || ca) {
                    orow[x] = SD_ROI_EXCLUDED;
                    excluded++;
                    continue;
                }
                orow[x] = SD_ROI_IN;
                j->pixels++;
                bx0 = SD_MIN(bx0, x);
                bx1 = x;
            }
        }
        j->impure[y + 1] = mrow || excluded;
        if (geo) {
            j->geometric += geo;
            j->gx0 = SD_MIN(j->gx0, gx0);
            j->gx1 = SD_MAX(j->gx1, gx1);
            j->gy0 = SD_MIN(j->gy0, y);
            j->gy1 = y;
        }
        if (bx1 >= 0) {
            j->bx0 = SD_MIN(j->bx0, bx0);
            j->bx1 = SD_MAX(j->bx1, bx1);
            j->by0 = SD_MIN(j->by0, y);
            j->by1 = y;
        }
    }
    return NULL;
}

/* Which rows [v0, v1) of img hold a clipped pixel (a sequential pass, no
 * branch per pixel). */
typedef struct clip_job {
    const sd_image *img;
    uint8_t *row_clip;
    int v0, v1;
} clip_job;

unsigned sd_row_marks(const uint16_t *row, int width)
{
    return sd_row_extremes(row, 3 * (size_t)width, SD_CRUSH_LEVEL, SD_CLIP_LEVEL);
}

unsigned sd_image_row_marks(const sd_image *img, int y)
{
    const size_t i = (size_t)y * img->stride;
    if (img->px)
        return sd_row_marks(img->px + i, img->width);
    return sd_row_extremes8(img->px8 + i, 3 * (size_t)img->width, SD_CRUSH_LEVEL / 257,
                            SD_CLIP_LEVEL / 257);
}

static void *clip_run(void *arg)
{
    const clip_job *j = arg;
    for (int v = j->v0; v < j->v1; v++)
        j->row_clip[v] = (uint8_t)sd_image_row_marks(j->img, v);
    return NULL;
}

/* The inverse pass over AFTER rows [v0, v1): each AFTER pixel takes the
 * label of the BEFORE pixel nearest to its inverse image, when that lies in
 * the geometric ROI's box. floor(t) in [g0, g1] <=> g0 <= t < g1 + 1. */
typedef struct inv_job {
    const sd_xform *xf, *inv;
    const uint8_t *before;
    const int *impure; /* prefix counts of fwd_job's impure rows */
    uint8_t *after;
    double ab, ax1, ay1; /* fwd_job's */
    int bw, aw, x0, y0, x1, y1, gx0, gy0, gx1, gy1, v0, v1;
} inv_job;

/* The per-pixel rule on columns [u0, u1] of AFTER row v (mv1 = m1 v,
 * mv4 = m4 v of the inverse). */
static void inv_pixels(const inv_job *j, int v, int u0, int u1)
{
    const double *m = j->inv->m;
    const double mv1 = m[1] * v, mv4 = m[4] * v;
    const double lx = j->gx0, hx = j->gx1 + 1.0, ly = j->gy0, hy = j->gy1 + 1.0;
    uint8_t *orow = j->after + (size_t)v * (size_t)j->aw;
    for (int u = u0; u <= u1; u++) {
        const double tx = m[0] * u + mv1 + m[2] + 0.5, ty = m[3] * u + mv4 + m[5] + 0.5;
        if (!(tx >= lx && tx < hx && ty >= ly && ty < hy))
            continue;
        orow[u] = j->before[(size_t)(long)ty * (size_t)j->bw + (size_t)(long)tx];
    }
}

/* Per row, the rule runs only on the columns whose inverse image comes
 * within a pixel of the geometric box (the others stay 0), and
 * not on an interior run that is surely SD_ROI_IN, filled by memset: the
 * columns whose nearest BEFORE pixel (x, y), off the inverse image by at
 * most half a pixel each way, lies in the forward pass's window, maps
 * inside AFTER's border even with that half pixel carried through xf, and
 * sits on a row whose labels are exactly its geometric run. The margins
 * (1e-3 px) are far above the rounding of either transform (~1e-11 px), so
 * the mask is the per-pixel rule's, pixel for pixel (test_exact_rows). */
static void *inv_run(void *arg)
{
    const inv_job *j = arg;
    const double *m = j->inv->m, *f = j->xf->m;
    const double e = 1e-3;
    const double hu = 0.5 * (fabs(f[0]) + fabs(f[1])) + e, hv = 0.5 * (fabs(f[3]) + fabs(f[4])) + e;
    for (int v = j->v0; v < j->v1; v++) {
        memset(j->after + (size_t)v * (size_t)j->aw, 0, (size_t)j->aw); /* the band's rows */
        const double cx = m[1] * v + m[2] + 0.5, cy = m[4] * v + m[5] + 0.5;
        double ga = 0, gb = j->aw - 1;
        if (!lin_range(m[0], cx, j->gx0 - 1.0, j->gx1 + 2.0, &ga, &gb) ||
            !lin_range(m[3], cy, j->gy0 - 1.0, j->gy1 + 2.0, &ga, &gb))
            continue;
        const int ua = (int)ceil(ga), ub = (int)floor(gb);
        int ia = ub + 1, ib = ub; /* the interior run, empty unless found */
        double a = fmax(ga, j->ab + hu), b = fmin(gb, j->ax1 - hu);
        if (v >= j->ab + hv && v <= j->ay1 - hv &&
            lin_range(m[0], cx, j->x0 + e, j->x1 + 1.0 - e, &a, &b) &&
            lin_range(m[3], cy, j->y0 + e, j->y1 + 1.0 - e, &a, &b) &&
            ceil(a) <= floor(b)) {
            const int sa = (int)ceil(a), sb = (int)floor(b);
            const double mv4 = m[4] * v;
            const long r0 = (long)(m[3] * sa + mv4 + m[5] + 0.5),
                       r1 = (long)(m[3] * sb + mv4 + m[5] + 0.5);
            if (j->impure[SD_MAX(r0, r1) + 1] == j->impure[SD_MIN(r0, r1)]) {
                ia = sa;
                ib = sb;
            }
        }
        inv_pixels(j, v, ua, SD_MIN(ub, ia - 1));
        if (ia <= ib)
            memset(j->after + (size_t)v * (size_t)j->aw + ia, SD_ROI_IN, (size_t)(ib - ia + 1));
        inv_pixels(j, v, SD_MAX(ua, ib + 1), ub);
    }
    return NULL;
}

sd_status sd_roi_build(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                       const sd_xform *xf, const sd_roi_opts *opts, sd_roi *out)
{
    static const sd_roi_opts none = {NULL, NULL, 0, 0, 0, NULL, NULL};
    if (!out)
        return sd_fail(ctx, SD_ERR_ARG, "roi: missing output");
    memset(out, 0, sizeof *out);
    if (!sd_image_has_pixels(before))
        return sd_fail(ctx, SD_ERR_ARG, "roi: missing BEFORE image");
    if (after && !sd_image_has_pixels(after))
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
    if (!xf)
        xf = &sd_xform_identity;
    if (after) {
        for (int i = 0; i < 6; i++)
            if (!isfinite(xf->m[i]))
                return sd_fail(ctx, SD_ERR_ARG, "roi: transform is not finite");
        if (!sd_xform_invert(xf, &inv))
            return sd_fail(ctx, SD_ERR_ARG, "roi: transform is singular");
        s = sd_xform_scale(xf);
    }
    if (bw < 2 * (long)border + 1 || bh < 2 * (long)border + 1)
        return sd_fail(ctx, SD_ERR_TOO_SMALL,
                       "roi: BEFORE is %dx%d, too small for a border of %d pixels", bw, bh,
                       border);

    out->source = opts->mask ? SD_ROI_MASK : r ? SD_ROI_RECT : SD_ROI_OVERLAP;
    out->bw = bw;
    out->bh = bh;
    /* not zeroed here: each band of the passes below zeroes its own rows */
    out->before = sd_alloc_array((size_t)bw, (size_t)bh);
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
    /* which rows of each image hold a clipped (or dark) pixel (given, or
     * found here): the passes below, and the metric stage's flag pass, read
     * pixels only on those rows (the slanted walk through AFTER would
     * otherwise miss the cache) */
    uint8_t *brow_clip = sd_alloc_array((size_t)bh + (after ? (size_t)after->height : 0), 1);
    if (!brow_clip) {
        sd_roi_release(out);
        return sd_fail(ctx, SD_ERR_NOMEM, "roi: out of memory");
    }
    uint8_t *arow_clip = after ? brow_clip + bh : NULL;
    out->rows_before = brow_clip;
    out->rows_after = arow_clip;
    for (int k = 0; k < (after ? 2 : 1); k++) {
        const sd_image *img = k ? after : before;
        const uint8_t *given = k ? opts->marks_after : opts->marks_before;
        if (given) {
            memcpy(k ? arow_clip : brow_clip, given, (size_t)img->height);
            continue;
        }
        const int ntc = SD_CLAMP(sd_ctx_threads(ctx), 1, SD_MIN(SD_MAX_JOBS, img->height));
        clip_job cj[SD_MAX_JOBS];
        for (int t = 0; t < ntc; t++) {
            cj[t] = (clip_job){.img = img, .row_clip = k ? arow_clip : brow_clip,
                               .v0 = (int)((long)img->height * t / ntc),
                               .v1 = (int)((long)img->height * (t + 1) / ntc)};
        }
        sd_run_jobs(ntc, clip_run, cj, sizeof cj[0]);
    }
    /* per BEFORE row, whether its labels are not just its geometric run
     * (fwd_job), summed up to each row for the inverse pass */
    int *impure = sd_calloc_array((size_t)bh + 1, sizeof *impure);
    if (!impure) {
        sd_roi_release(out);
        return sd_fail(ctx, SD_ERR_NOMEM, "roi: out of memory");
    }
    /* the window may be empty (a rectangle inside the border): one empty band */
    const int nt = SD_CLAMP(sd_ctx_threads(ctx), 1, SD_MAX(1, SD_MIN(SD_MAX_JOBS, y1 - y0 + 1)));
    fwd_job jobs[SD_MAX_JOBS];
    for (int t = 0; t < nt; t++)
        jobs[t] = (fwd_job){.before = before, .after = after, .xf = xf, .mask = opts->mask,
                            .arow_clip = arow_clip, .brow_clip = brow_clip, .out = out->before,
                            .impure = impure, .ab = ab, .ax1 = ax1, .ay1 = ay1, .x0 = x0, .x1 = x1, .y0 = y0 + (int)((long)(y1 - y0 + 1) * t / nt),
                            .y1 = y0 + (int)((long)(y1 - y0 + 1) * (t + 1) / nt) - 1};
    /* the rows outside the window (the forward pass's bands cover it) */
    const int za = SD_CLAMP(y0, 0, bh), zb = SD_CLAMP(y1 + 1, za, bh);
    memset(out->before, 0, (size_t)za * (size_t)bw);
    memset(out->before + (size_t)zb * (size_t)bw, 0, (size_t)(bh - zb) * (size_t)bw);
    sd_run_jobs(nt, fwd_run, jobs, sizeof jobs[0]);
    /* merged in a fixed order: integer counts and boxes */
    int bx0 = bw, by0 = bh, bx1 = -1, by1 = -1; /* bbox of the ROI */
    int gx0 = bw, gy0 = bh, gx1 = -1, gy1 = -1; /* of the geometric ROI */
    for (int t = 0; t < nt; t++) {
        const fwd_job *j = &jobs[t];
        out->geometric_pixels += j->geometric;
        out->clipped_before += j->clipped_b;
        out->clipped_after += j->clipped_a;
        out->pixels += j->pixels;
        bx0 = SD_MIN(bx0, j->bx0);
        by0 = SD_MIN(by0, j->by0);
        bx1 = SD_MAX(bx1, j->bx1);
        by1 = SD_MAX(by1, j->by1);
        gx0 = SD_MIN(gx0, j->gx0);
        gy0 = SD_MIN(gy0, j->gy0);
        gx1 = SD_MAX(gx1, j->gx1);
        gy1 = SD_MAX(gy1, j->gy1);
    }
    if (out->pixels == 0) {
        free(impure);
        const char *why = out->geometric_pixels ? "every pixel of it is clipped"
                          : after ? "the images do not overlap enough inside the border"
                                  : "nothing is left inside the border";
        sd_roi_release(out);
        return sd_fail(ctx, SD_ERR_TOO_SMALL, "roi: the region of interest is empty (%s)", why);
    }
    out->bbox = (sd_rect){bx0, by0, bx1 - bx0 + 1, by1 - by0 + 1};
    if (!after) {
        free(impure);
        return SD_OK;
    }
    for (int y = 0; y < bh; y++)
        impure[y + 1] += impure[y];

    const int aw = after->width, ah = after->height;
    out->aw = aw;
    out->ah = ah;
    out->after = sd_alloc_array((size_t)aw, (size_t)ah); /* zeroed by inv_run's bands */
    if (!out->after) {
        free(impure);
        sd_roi_release(out);
        return sd_fail(ctx, SD_ERR_NOMEM, "roi: out of memory for %dx%d", aw, ah);
    }
    const int nti = SD_CLAMP(sd_ctx_threads(ctx), 1, SD_MIN(SD_MAX_JOBS, ah));
    inv_job ij[SD_MAX_JOBS];
    for (int t = 0; t < nti; t++)
        ij[t] = (inv_job){.xf = xf, .inv = &inv, .before = out->before, .impure = impure,
                          .after = out->after, .ab = ab, .ax1 = ax1, .ay1 = ay1, .bw = bw,
                          .aw = aw, .x0 = x0, .y0 = y0, .x1 = x1, .y1 = y1, .gx0 = gx0,
                          .gy0 = gy0, .gx1 = gx1, .gy1 = gy1, .v0 = (int)((long)ah * t / nti),
                          .v1 = (int)((long)ah * (t + 1) / nti)};
    sd_run_jobs(nti, inv_run, ij, sizeof ij[0]);
    free(impure);
    return SD_OK;
}

/*
 * sd_pair_normalize: gains that bring AFTER's linear RGB to BEFORE's
 * (see docs/metrics.md "Normalization").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/internal.h"
#include "kernels/kernels_internal.h"
#include "metrics/measure_internal.h"
#include "metrics/metrics_internal.h"
#include "normalize/normalize_internal.h"
#include "skindelta/kernels.h"
#include "skindelta/normalize.h"

/* Light blur of the luminance before the per-pixel ratios (BEFORE pixels;
 * AFTER uses this times the scale); the level's block size, which is also
 * the sampling step over the ROI. */
#define NORM_SIGMA 1.5
#define NORM_F 4
#define NORM_STEP NORM_F
/* Pixels darker than this (linear luminance) are left out of the ratios. */
#define NORM_DARK (1.0 / 1024.0)
/* ratio_run's prefetch distance, in samples */
#define NORM_AHEAD 16

const char *sd_norm_method_name(sd_norm_method m)
{
    switch (m) {
    case SD_NORM_EXPOSURE: return "exposure";
    case SD_NORM_REFERENCE: return "reference";
    case SD_NORM_NONE: return "none";
    }
    return "unknown";
}

static void pixel_linear(const sd_image *img, int x, int y, double rgb[3])
{
    const float *lut = sd_srgb16_lut();
    uint16_t p[3];
    sd_image_pixel(img, x, y, p);
    for (int c = 0; c < 3; c++)
        rgb[c] = lut[p[c]];
}

static double luminance(const double rgb[3])
{
    return SD_XYZ_YR * rgb[0] + SD_XYZ_YG * rgb[1] + SD_XYZ_YB * rgb[2];
}

/* The exposure is estimated on a level of NORM_F x NORM_F block means of
 * linear luminance, then a Gaussian of sigma_l level pixels such that box
 * and Gaussian together smooth like the full-resolution sigma: variance
 * sigma^2 = (F^2 - 1) / 12 (the F-tap box) + (F sigma_l)^2. The samples are
 * every F-th pixel of the ROI, one per block, so the level carries what
 * they need; both images go through the same level. The blocks lie on the
 * image's own grid: block (i, j) covers pixels F i .. F i + F - 1 and
 * F j .. F j + F - 1, the last ones repeating the image's last column or
 * row, so a block's mean does not depend on which window it was made for,
 * and a level made row by row while the image loads (sd_norm_level) is the
 * same numbers. */
typedef struct lum_level {
    sd_plane pl;
    int ox, oy; /* full-resolution origin of the window (multiples of F) */
} lum_level;

/* full-resolution image coordinate -> level plane coordinate (block i
 * covers pixels ox + F i .. ox + F i + F - 1, centre ox + F i + (F-1)/2) */
static inline float level_sample(const lum_level *hl, double x, double y)
{
    const double c = 0.5 * (NORM_F - 1), inv = 1.0 / NORM_F;
    return sd_plane_bilinear(&hl->pl, (x - hl->ox - c) * inv, (y - hl->oy - c) * inv);
}

/* The one arithmetic of a block mean, shared by both ways of making the
 * level. Row i (0 .. F-1) of a block row, n luminances, into the column
 * sums col: */
static void block_cols_add(float *restrict col, const float *restrict lum, int n, int i)
{
    if (i == 0) {
        memcpy(col, lum, (size_t)n * sizeof *col);
        return;
    }
    int x = 0;
#if defined(__SSE2__)
    /* four at a time (gcc -O2 leaves this loop scalar); the same sums */
    for (; x + 4 <= n; x += 4)
        _mm_storeu_ps(col + x, _mm_add_ps(_mm_loadu_ps(col + x), _mm_loadu_ps(lum + x)));
#endif
    for (; x < n; x++)
        col[x] += lum[x];
}

/* The means of blocks b0 .. b1 of a block row from its column sums (col[0]
 * is pixel x0's) in an image w pixels wide. */
static void block_means(const float *col, int x0, int w, int b0, int b1, float *out)
{
    /* whole blocks, then the last one, which may repeat column w - 1 */
    const int bw = SD_MIN(b1 + 1, w / NORM_F);
    int b = b0;
    for (; b < bw; b++) {
        const float *c = col + NORM_F * b - x0;
        float acc = 0;
        for (int i = 0; i < NORM_F; i++)
            acc += c[i];
        out[b - b0] = acc * (1.0f / (NORM_F * NORM_F));
    }
    for (; b <= b1; b++) {
        float acc = 0;
        for (int i = 0; i < NORM_F; i++)
            acc += col[SD_MIN(NORM_F * b + i, w - 1) - x0];
        out[b - b0] = acc * (1.0f / (NORM_F * NORM_F));
    }
}

struct sd_norm_level {
    sd_plane pl;          /* ceil(width / F) x ceil(height / F) block means */
    int width, height, rows; /* the image's size; rows added so far */
    float *lum, *col;     /* one row's luminance; the block row's column sums */
};

sd_norm_level *sd_norm_level_new(int width, int height)
{
    if (width <= 0 || height <= 0)
        return NULL;
    sd_norm_level *lv = calloc(1, sizeof *lv);
    if (!lv)
        return NULL;
    lv->width = width;
    lv->height = height;
    lv->lum = sd_alloc_array((size_t)width, sizeof(float));
    lv->col = sd_alloc_array((size_t)width, sizeof(float));
    if (!lv->lum || !lv->col ||
        sd_plane_alloc(NULL, &lv->pl, (width + NORM_F - 1) / NORM_F,
                      (height + NORM_F - 1) / NORM_F) != SD_OK) {
        sd_norm_level_free(lv);
        return NULL;
    }
    return lv;
}

void sd_norm_level_free(sd_norm_level *lv)
{
    if (!lv)
        return;
    sd_plane_release(&lv->pl);
    free(lv->lum);
    free(lv->col);
    free(lv);
}

void sd_norm_level_add_row(sd_norm_level *lv, const sd_image *img, int y)
{
    if (!lv || y != lv->rows || img->width != lv->width || img->height != lv->height)
        return; /* out of order or another image: the level stays incomplete */
    const float one[3] = {1, 1, 1};
    const int w = lv->width, i = y % NORM_F;
    sd_image_luminance(img, 0, y, w, one, lv->lum);
    block_cols_add(lv->col, lv->lum, w, i);
    if (i == NORM_F - 1 || y == lv->height - 1) {
        /* a short last block row repeats the image's last row */
        for (int k = i + 1; k < NORM_F; k++)
            block_cols_add(lv->col, lv->lum, w, k);
        block_means(lv->col, 0, w, 0, lv->pl.w - 1, sd_plane_row(&lv->pl, y / NORM_F));
    }
    lv->rows = y + 1;
}

/* Block rows [y0, y1) of the window's blocks bx0 .., by0 .. (tmp's row 0
 * is block row by0), from the image. */
typedef struct level_job {
    const sd_image *img;
    sd_plane *tmp;
    int bx0, by0, y0, y1;
    int ok;
} level_job;

static void *level_run(void *arg)
{
    level_job *j = arg;
    const int w = j->img->width, h = j->img->height, wl = j->tmp->w;
    const int x0 = NORM_F * j->bx0, n = SD_MIN(NORM_F * (j->bx0 + wl), w) - x0;
    float *lum = sd_alloc_array((size_t)n, sizeof *lum);
    float *col = sd_alloc_array((size_t)n, sizeof *col);
    if (!lum || !col) {
        free(lum);
        free(col);
        return NULL;
    }
    const float one[3] = {1, 1, 1};
    for (int y = j->y0; y < j->y1; y++) {
        for (int i = 0; i < NORM_F; i++) {
            const int yy = SD_MIN(NORM_F * (j->by0 + y) + i, h - 1);
            sd_image_luminance(j->img, x0, yy, n, one, lum);
            block_cols_add(col, lum, n, i);
        }
        block_means(col, x0, w, j->bx0, j->bx0 + wl - 1, sd_plane_row(j->tmp, y));
    }
    free(col);
    free(lum);
    j->ok = 1;
    return NULL;
}

/* The ratio samples of a band of grid rows: BEFORE's ROI pixels on the
 * NORM_STEP grid, their luminance ratios to AFTER's at the mapped position,
 * in raster order, then their logarithms (vector ln, |error| < 1e-6). */
typedef struct ratio_job {
    const lum_level *yb, *ya;
    const sd_xform *xf;
    const sd_roi *roi;
    int y0, y1; /* grid rows: y = y0, y0 + NORM_STEP, ... < y1 */
    float *lr;
    float *brow; /* BEFORE's samples of one grid row */
    size_t n;
} ratio_job;

/* BEFORE's level at the grid row's points x = x0 + NORM_STEP i, i < nx,
 * into out: level_sample's numbers. The points fall a whole level pixel
 * apart (x - ox - c is exact, the scale a power of two), so between the
 * edges the bilinear weights are one pair for the row and the taps move
 * by one: sd_plane_bilinear's arithmetic, in a loop the compiler
 * vectorizes; the points at the edges (clamped) take level_sample itself. */
static void before_row(const lum_level *hl, int x0, int y, int nx, float *out)
{
    const double c = 0.5 * (NORM_F - 1), inv = 1.0 / NORM_F;
    const sd_plane *pl = &hl->pl;
    const double X = (x0 - hl->ox - c) * inv, Y = (y - hl->oy - c) * inv;
    /* the interior: 0 <= X + i and X + i + 1 <= w - 1, rows as the sample's */
    int i0 = X >= 0 ? 0 : (int)ceil(-X);
    int i1 = (int)SD_MIN((double)nx, floor(pl->w - 2 - X) + 1);
    if (!(Y >= 0 && Y <= pl->h - 1) || i1 <= i0)
        i0 = i1 = nx;
    for (int i = 0; i < SD_MIN(i0, nx); i++)
        out[i] = level_sample(hl, x0 + NORM_STEP * i, y);
    if (i0 < i1) {
        const int xa = (int)(X + i0), ya = (int)Y;
        const int yb = ya + 1 < pl->h ? ya + 1 : ya;
        const float fx = (float)(X + i0 - xa), fy = (float)(Y - ya);
        const float *r0 = sd_plane_row(pl, ya) + xa, *r1 = sd_plane_row(pl, yb) + xa;
        float *o = out + i0;
        for (int k = 0; k < i1 - i0; k++) {
            const float top = r0[k] + fx * (r0[k + 1] - r0[k]);
            const float bot = r1[k] + fx * (r1[k + 1] - r1[k]);
            o[k] = top + fy * (bot - top);
        }
    }
    for (int i = i1; i < nx; i++)
        out[i] = level_sample(hl, x0 + NORM_STEP * i, y);
}

static void *ratio_run(void *arg)
{
    ratio_job *j = arg;
    const sd_roi *roi = j->roi;
    const int x0 = roi->bbox.x, nx = (roi->bbox.w + NORM_STEP - 1) / NORM_STEP;
    const lum_level *al = j->ya;
    const sd_dsp *dsp = sd_dsp_active();
    /* level_sample's arithmetic, in the row_ratio kernel */
    sd_ratio_row r = {.b = j->brow, .n = nx, .x0 = x0, .step = NORM_STEP,
                      .in_val = SD_ROI_IN, .m = j->xf->m, .a = &al->pl, .ox = al->ox,
                      .oy = al->oy, .c = 0.5 * (NORM_F - 1), .inv = 1.0 / NORM_F,
                      .dark = NORM_DARK};
    size_t n = 0;
    for (int y = j->y0; y < j->y1; y += NORM_STEP) {
        before_row(j->yb, x0, y, nx, j->brow);
        r.in = roi->before + (size_t)y * (size_t)roi->bw + (size_t)x0;
        r.y = y;
        /* AFTER's level rows the row's walk crosses, ahead of it: the walk
         * slants across them and leaves the hardware prefetcher behind
         * (no effect on any value) */
        for (int i = 0; i < nx; i += NORM_AHEAD) {
            double pu, pv;
            sd_xform_apply(j->xf, x0 + NORM_STEP * i, y, &pu, &pv);
            const double lx = (pu - al->ox - r.c) * r.inv, ly = (pv - al->oy - r.c) * r.inv;
            if (lx >= 0 && ly >= 0 && lx < al->pl.w - 1 && ly < al->pl.h - 1) {
                const float *p = sd_plane_row(&al->pl, (int)ly) + (int)lx;
                __builtin_prefetch(p);
                __builtin_prefetch(p + al->pl.stride);
            }
        }
        n += (size_t)dsp->row_ratio(&r, j->lr + n);
    }
    for (size_t i = 0; i < n; i += 1u << 20) {
        const int m = (int)SD_MIN((size_t)1 << 20, n - i);
        sd_dsp_active()->row_log(j->lr + i, m, j->lr + i);
    }
    j->n = n;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* the median of the log ratios                                          */

/* One thread's stretch of the values and its counts: pass 1 (nhi 0) by the
 * keys' high halves into hist[0 .. SD_FBINS); pass 2 by the low halves of
 * the keys whose high half is hi[i], into hist[i SD_FBINS ..]. */
typedef struct med_job {
    const float *v;
    size_t n;
    uint32_t *hist;
    uint32_t hi[2];
    int nhi;
} med_job;

static void *med_run(void *arg)
{
    med_job *j = arg;
    uint32_t *h = j->hist;
    memset(h, 0, (size_t)(j->nhi ? j->nhi : 1) * SD_FBINS * sizeof *h);
    if (!j->nhi) {
        for (size_t i = 0; i < j->n; i++)
            h[sd_fbin(j->v[i])]++;
        return NULL;
    }
    const uint32_t h0 = j->hi[0], h1 = j->nhi > 1 ? j->hi[1] : h0;
    for (size_t i = 0; i < j->n; i++) {
        const uint32_t k = sd_fkey(j->v[i]);
        if (k >> 16 == h0)
            h[k & 0xffffu]++;
        else if (k >> 16 == h1)
            h[SD_FBINS + (k & 0xffffu)]++;
    }
    return NULL;
}

/* The bin holding rank *r (from 0) of the nt jobs' counts added up, from
 * bin `off` on; *r becomes the rank within that bin. */
static uint32_t med_bin(const med_job *jobs, int nt, size_t off, size_t *r)
{
    for (uint32_t b = 0; b < SD_FBINS - 1; b++) {
        size_t c = 0;
        for (int t = 0; t < nt; t++)
            c += jobs[t].hist[off + b];
        if (*r < c)
            return b;
        *r -= c;
    }
    return SD_FBINS - 1;
}

/* below this many values per thread the median takes fewer threads */
#define MED_THREAD_MIN 32768

sd_status sd_norm_median(sd_ctx *ctx, const float *v, size_t n, double *median)
{
    if (!v || n == 0)
        return sd_fail(ctx, SD_ERR_ARG, "normalize: median of nothing");
    const int nt = (int)SD_CLAMP(n / MED_THREAD_MIN, (size_t)1,
                                 (size_t)SD_MIN(sd_ctx_threads(ctx), SD_MAX_JOBS));
    uint32_t *hist = sd_alloc_array((size_t)nt * 2 * SD_FBINS, sizeof *hist);
    if (!hist)
        return sd_fail(ctx, SD_ERR_NOMEM, "normalize: out of memory");
    med_job jobs[SD_MAX_JOBS];
    for (int t = 0; t < nt; t++) {
        const size_t a = n * (size_t)t / (size_t)nt, b = n * (size_t)(t + 1) / (size_t)nt;
        jobs[t] = (med_job){.v = v + a, .n = b - a, .hist = hist + (size_t)t * 2 * SD_FBINS};
    }
    sd_run_jobs(nt, med_run, jobs, sizeof jobs[0]);
    /* ranks n / 2 and, for even n, n / 2 - 1 (sd_select_median's middle) */
    const int pair = n % 2 == 0;
    size_t r1 = n / 2, r0 = pair ? n / 2 - 1 : r1;
    const uint32_t b1 = med_bin(jobs, nt, 0, &r1), b0 = med_bin(jobs, nt, 0, &r0);
    for (int t = 0; t < nt; t++) {
        jobs[t].hi[0] = b1;
        jobs[t].hi[1] = b0;
        jobs[t].nhi = b0 != b1 ? 2 : 1;
    }
    sd_run_jobs(nt, med_run, jobs, sizeof jobs[0]);
    const uint32_t l1 = med_bin(jobs, nt, 0, &r1);
    const uint32_t l0 = med_bin(jobs, nt, b0 != b1 ? SD_FBINS : 0, &r0);
    free(hist);
    const double upper = sd_key_float(b1 << 16 | l1);
    *median = pair ? 0.5 * ((double)sd_key_float(b0 << 16 | l0) + upper) : upper;
    return SD_OK;
}

/* The level of img's luminance over the window [x0, x1] x [y0, y1]
 * (clamped to the image) grown by the blur's reach + 2 blocks, in whole
 * blocks of the image's grid, blurred straight from lv when given (complete,
 * img's; the window is a view into it), else made from img. Inside the
 * window every value is the one the level of the whole image gives (same
 * taps; mirroring only where the window meets the image's edge). */
static sd_status window_level(sd_ctx *ctx, const sd_image *img, const sd_norm_level *lv,
                                double sigma, double x0, double y0, double x1, double y1,
                                lum_level *hl)
{
    const double box = (NORM_F * NORM_F - 1) / 12.0;
    const double sh = sqrt(fmax(sigma * sigma - box, 0.01)) / NORM_F;
    const int r = NORM_F * (sd_gauss_radius(sh) + 2);
    const int wx0 = (int)SD_MAX(0.0, floor(x0) - r), wy0 = (int)SD_MAX(0.0, floor(y0) - r);
    const int wx1 = (int)SD_MIN((double)img->width - 1, ceil(x1) + r);
    const int wy1 = (int)SD_MIN((double)img->height - 1, ceil(y1) + r);
    if (wx1 < wx0 || wy1 < wy0)
        return sd_fail(ctx, SD_ERR_TOO_SMALL, "normalize: the region is outside the image");
    const int bx0 = wx0 / NORM_F, by0 = wy0 / NORM_F;
    const int w2 = wx1 / NORM_F - bx0 + 1, h2 = wy1 / NORM_F - by0 + 1;
    memset(&hl->pl, 0, sizeof hl->pl);
    /* the window's block means: a view into a complete level, or made here */
    sd_plane tmp = {.w = w2, .h = h2};
    sd_status s = SD_OK;
    if (lv) {
        tmp.stride = lv->pl.stride;
        tmp.p = sd_plane_row(&lv->pl, by0) + bx0;
    } else {
        if ((s = sd_plane_alloc(ctx, &tmp, w2, h2)) != SD_OK)
            return s;
        const int nt = SD_CLAMP(sd_ctx_threads(ctx), 1, SD_MIN(SD_MAX_JOBS, h2));
        level_job jobs[SD_MAX_JOBS];
        for (int t = 0; t < nt; t++)
            jobs[t] = (level_job){img, &tmp, bx0, by0, (int)((long)h2 * t / nt),
                                 (int)((long)h2 * (t + 1) / nt), 0};
        sd_run_jobs(nt, level_run, jobs, sizeof jobs[0]);
        for (int t = 0; t < nt; t++)
            if (!jobs[t].ok) {
                sd_plane_release(&tmp);
                return sd_fail(ctx, SD_ERR_NOMEM, "normalize: out of memory");
            }
    }
    if ((s = sd_plane_alloc(ctx, &hl->pl, w2, h2)) == SD_OK &&
        (s = sd_gauss_blur(ctx, &tmp, &hl->pl, sh)) != SD_OK)
        sd_plane_release(&hl->pl);
    if (!lv)
        sd_plane_release(&tmp);
    hl->ox = NORM_F * bx0;
    hl->oy = NORM_F * by0;
    return s;
}

/* Exposure: g = exp(median over the ROI of ln(Yb(x) / Ya(xf(x)))), on the
 * lightly blurred luminances, AFTER sampled bilinearly at the mapped
 * position. The median ignores a local real change covering under half the
 * ROI. */
static sd_status exposure_gain(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                               const sd_xform *xf, const sd_roi *roi, const sd_norm_level *lb,
                               const sd_norm_level *la, double *gain)
{
    if (!roi || !roi->before || roi->bw != before->width || roi->bh != before->height)
        return sd_fail(ctx, SD_ERR_ARG, "normalize: exposure needs the pair's ROI");
    /* only the windows the samples read: BEFORE's ROI box, and AFTER's
     * box around the four mapped corners of it */
    const sd_rect *bb = &roi->bbox;
    double u0 = INFINITY, v0 = INFINITY, u1 = -INFINITY, v1 = -INFINITY;
    for (int i = 0; i < 4; i++) {
        double u, v;
        sd_xform_apply(xf, bb->x + (i & 1 ? bb->w - 1 : 0), bb->y + (i & 2 ? bb->h - 1 : 0), &u,
                    &v);
        u0 = fmin(u0, u);
        v0 = fmin(v0, v);
        u1 = fmax(u1, u);
        v1 = fmax(v1, v);
    }
    lum_level yb, ya;
    memset(&ya, 0, sizeof ya);
    sd_status s = window_level(ctx, before, lb, NORM_SIGMA, bb->x, bb->y, bb->x + bb->w - 1,
                                 bb->y + bb->h - 1, &yb);
    if (s != SD_OK)
        return s;
    if ((s = window_level(ctx, after, la, NORM_SIGMA * sd_xform_scale(xf), u0, v0, u1, v1,
                            &ya)) != SD_OK) {
        sd_plane_release(&yb.pl);
        return s;
    }
    /* grid rows in bands over the threads; each band's samples go to its
     * own stretch of lr, then the stretches close up in raster order (the
     * first cap of them are used, as one pass would) */
    const size_t cap = roi->pixels / ((size_t)NORM_STEP * NORM_STEP) + 16;
    const int gh = (roi->bbox.h + NORM_STEP - 1) / NORM_STEP;
    const size_t gw = (size_t)(roi->bbox.w + NORM_STEP - 1) / NORM_STEP;
    const int nt = SD_CLAMP(sd_ctx_threads(ctx), 1, SD_MIN(SD_MAX_JOBS, gh));
    size_t n = 0;
    /* the samples (gw per grid row at most), then a row of BEFORE's per job */
    float *lr = sd_alloc_array((size_t)gh + (size_t)nt, gw * sizeof(float));
    if (!lr) {
        s = sd_fail(ctx, SD_ERR_NOMEM, "normalize: out of memory");
        goto done;
    }
    ratio_job jobs[SD_MAX_JOBS];
    for (int t = 0; t < nt; t++) {
        const int g0 = (int)((long)gh * t / nt), g1 = (int)((long)gh * (t + 1) / nt);
        jobs[t] = (ratio_job){&yb, &ya, xf, roi, roi->bbox.y + g0 * NORM_STEP,
                              roi->bbox.y + g1 * NORM_STEP, lr + (size_t)g0 * gw,
                              lr + ((size_t)gh + (size_t)t) * gw, 0};
    }
    sd_run_jobs(nt, ratio_run, jobs, sizeof jobs[0]);
    for (int t = 0; t < nt && n < cap; t++) {
        const size_t k = SD_MIN(jobs[t].n, cap - n);
        memmove(lr + n, jobs[t].lr, k * sizeof *lr);
        n += k;
    }
    if (n < 16) {
        s = sd_fail(ctx, SD_ERR_TOO_SMALL,
                    "normalize: too few usable ROI pixels (%zu) to estimate the exposure", n);
        goto done;
    }
    double med = 0;
    if ((s = sd_norm_median(ctx, lr, n, &med)) == SD_OK)
        *gain = exp(med);
done:
    free(lr);
    sd_plane_release(&yb.pl);
    sd_plane_release(&ya.pl);
    return s;
}

/* Mean linear RGB of the unclipped pixels of img whose position, mapped to
 * BEFORE through inv (NULL: img is BEFORE), lies in the rectangle's area
 * [x - 1/2, x + w - 1/2) x [y - 1/2, y + h - 1/2). */
static sd_status patch_mean(sd_ctx *ctx, const sd_image *img, const sd_xform *xf,
                            const sd_xform *inv, const sd_rect *ref, const char *which,
                            double mean[3])
{
    double x0 = ref->x - 0.5, y0 = ref->y - 0.5, x1 = x0 + ref->w, y1 = y0 + ref->h;
    /* scan the bounding box of the patch's corners mapped through xf */
    double bu0 = INFINITY, bv0 = INFINITY, bu1 = -INFINITY, bv1 = -INFINITY;
    for (int i = 0; i < 4; i++) {
        double u, v;
        sd_xform_apply(xf, i & 1 ? x1 : x0, i & 2 ? y1 : y0, &u, &v);
        bu0 = fmin(bu0, u);
        bv0 = fmin(bv0, v);
        bu1 = fmax(bu1, u);
        bv1 = fmax(bv1, v);
    }
    int ux0 = (int)SD_MAX(0.0, floor(bu0)), uy0 = (int)SD_MAX(0.0, floor(bv0));
    int ux1 = (int)SD_MIN((double)img->width - 1, ceil(bu1));
    int uy1 = (int)SD_MIN((double)img->height - 1, ceil(bv1));
    size_t n = 0, nclip = 0;
    double acc[3] = {0, 0, 0};
    for (int v = uy0; v <= uy1; v++) {
        for (int u = ux0; u <= ux1; u++) {
            double x, y;
            sd_xform_apply(inv, u, v, &x, &y);
            if (!(x >= x0 && x < x1 && y >= y0 && y < y1))
                continue;
            uint16_t p[3];
            sd_image_pixel(img, u, v, p);
            if (sd_px_clipped(p)) {
                nclip++;
                continue;
            }
            double rgb[3];
            pixel_linear(img, u, v, rgb);
            for (int c = 0; c < 3; c++)
                acc[c] += rgb[c];
            n++;
        }
    }
    if (n == 0 || nclip > n)
        return sd_fail(ctx, SD_ERR_ARG, "normalize: reference patch is %s in %s",
                       n ? "mostly clipped" : "empty", which);
    for (int c = 0; c < 3; c++)
        mean[c] = acc[c] / (double)n;
    if (luminance(mean) < 0.01 || fmin(mean[0], fmin(mean[1], mean[2])) < 1e-4)
        return sd_fail(ctx, SD_ERR_ARG,
                       "normalize: reference patch is too dark in %s (mean luminance %.4f, "
                       "need at least 0.01 linear)",
                       which, luminance(mean));
    return SD_OK;
}

static int rect_inside(double x0, double y0, double x1, double y1, int w, int h)
{
    return x0 >= -0.5 && y0 >= -0.5 && x1 <= w - 0.5 && y1 <= h - 0.5;
}

static sd_status reference_gains(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                                 const sd_xform *xf, const sd_rect *ref, sd_norm_result *out)
{
    if (!ref)
        return sd_fail(ctx, SD_ERR_ARG, "normalize: the reference method needs a patch (--ref)");
    if (ref->w <= 0 || ref->h <= 0 ||
        !rect_inside(ref->x - 0.5, ref->y - 0.5, ref->x + ref->w - 0.5, ref->y + ref->h - 0.5,
                     before->width, before->height))
        return sd_fail(ctx, SD_ERR_ARG,
                       "normalize: reference patch %d,%d,%d,%d is not inside BEFORE (%dx%d)",
                       ref->x, ref->y, ref->w, ref->h, before->width, before->height);
    double cx[4] = {ref->x - 0.5, ref->x + ref->w - 0.5, ref->x - 0.5, ref->x + ref->w - 0.5};
    double cy[4] = {ref->y - 0.5, ref->y - 0.5, ref->y + ref->h - 0.5, ref->y + ref->h - 0.5};
    for (int i = 0; i < 4; i++) {
        double u, v;
        sd_xform_apply(xf, cx[i], cy[i], &u, &v);
        if (!rect_inside(u, v, u, v, after->width, after->height))
            return sd_fail(ctx, SD_ERR_ARG,
                           "normalize: reference patch %d,%d,%d,%d falls outside AFTER", ref->x,
                           ref->y, ref->w, ref->h);
    }
    sd_xform inv;
    if (!sd_xform_invert(xf, &inv))
        return sd_fail(ctx, SD_ERR_ARG, "normalize: transform is singular");
    double mb[3], ma[3];
    sd_status s;
    if ((s = patch_mean(ctx, before, &sd_xform_identity, &sd_xform_identity, ref, "BEFORE",
                        mb)) != SD_OK ||
        (s = patch_mean(ctx, after, xf, &inv, ref, "AFTER", ma)) != SD_OK)
        return s;
    double yb = luminance(mb);
    for (int c = 0; c < 3; c++) {
        out->before_gains[c] = yb / mb[c]; /* BEFORE's patch -> neutral grey at yb */
        out->gains[c] = yb / ma[c];        /* AFTER's patch -> the same grey */
    }
    out->exposure_ev = -log2(yb / luminance(ma));
    out->calibrated = 1;
    return SD_OK;
}

sd_status sd_pair_normalize(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                            const sd_xform *xf, const sd_roi *roi, sd_norm_method method,
                            const sd_rect *ref, sd_norm_result *out)
{
    return sd_pair_normalize_levels(ctx, before, after, xf, roi, method, ref, NULL, NULL, out);
}

static int level_of(const sd_norm_level *lv, const sd_image *img)
{
    return lv->width == img->width && lv->height == img->height && lv->rows == img->height;
}

sd_status sd_pair_normalize_levels(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                                   const sd_xform *xf, const sd_roi *roi, sd_norm_method method,
                                   const sd_rect *ref, const sd_norm_level *lb,
                                   const sd_norm_level *la, sd_norm_result *out)
{
    if (!out)
        return sd_fail(ctx, SD_ERR_ARG, "normalize: missing output");
    memset(out, 0, sizeof *out);
    out->method = method;
    for (int c = 0; c < 3; c++)
        out->gains[c] = out->before_gains[c] = 1.0;
    if (!sd_image_has_pixels(before) || !sd_image_has_pixels(after))
        return sd_fail(ctx, SD_ERR_ARG, "normalize: missing image");
    if (!xf)
        xf = &sd_xform_identity;
    for (int i = 0; i < 6; i++)
        if (!isfinite(xf->m[i]))
            return sd_fail(ctx, SD_ERR_ARG, "normalize: transform is not finite");
    switch (method) {
    case SD_NORM_NONE:
        return SD_OK;
    case SD_NORM_EXPOSURE: {
        if ((lb && !level_of(lb, before)) || (la && !level_of(la, after)))
            return sd_fail(ctx, SD_ERR_ARG, "normalize: a level is incomplete or not the image's");
        double g = 1.0;
        sd_status s = exposure_gain(ctx, before, after, xf, roi, lb, la, &g);
        if (s != SD_OK)
            return s;
        for (int c = 0; c < 3; c++)
            out->gains[c] = g;
        out->exposure_ev = -log2(g);
        return SD_OK;
    }
    case SD_NORM_REFERENCE:
        return reference_gains(ctx, before, after, xf, ref, out);
    }
    return sd_fail(ctx, SD_ERR_ARG, "normalize: unknown method %d", (int)method);
}

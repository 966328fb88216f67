/*
 * Gaussian blur: the sampled, normalized kernel of radius ceil(4 sigma),
 * mirrored edges, as two passes of one symmetric row kernel (blur_taps).
 *
 * The driver works on column tiles and, inside a tile, walks output rows
 * top to bottom keeping a ring of 2r+1 horizontally filtered rows (sized to
 * stay in L2), so there is no full-frame temporary and no column pass. The
 * output rows are split into contiguous bands, one per thread; each band
 * recomputes the r-row halo it needs, so every output pixel comes from the
 * same arithmetic whatever the thread count (bit-identical results).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "kernels/kernels_internal.h"

/* Floats of ring per thread: 16 Ki floats = 64 KiB, about L1 + a little of
 * L2 (measured: 8..64 Ki all within the noise of a shared machine). */
#ifndef RING_FLOATS
#define RING_FLOATS 16384
#endif
/* Below this many pixels one thread does it all. */
#define THREAD_MIN_PIXELS 65536

int sd_gauss_radius(double sigma)
{
    if (sigma <= 0)
        return 0;
    double r = ceil(4.0 * sigma);
    return r > 4096 ? 4096 : (int)r;
}

void sd_blur_taps_scalar(const float *const *in, const float *k, int r, float *out, int n)
{
    const float *c = in[r];
    for (int x = 0; x < n; x++) {
        float acc = k[0] * c[x];
        for (int i = 1; i <= r; i++)
            acc = acc + k[i] * (in[r - i][x] + in[r + i][x]);
        out[x] = acc;
    }
}

int sd_gauss_kernel(double sigma, float *k)
{
    const int r = sd_gauss_radius(sigma);
    double sum = 0;
    for (int i = -r; i <= r; i++)
        sum += exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i <= r; i++)
        k[i] = (float)(exp(-0.5 * i * i / (sigma * sigma)) / sum);
    return r;
}

/* Mirror an index into [0, n) (reflect about the edge pixels: -1 -> 1). */
int sd_mirror_index(int i, int n)
{
    if (n == 1)
        return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

typedef struct blur_job {
    const sd_plane *src;
    sd_plane *dst;
    const float *k;        /* k[0..r]: centre, then one side */
    const sd_dsp *dsp;     /* blur_row2 across, blur_taps down */
    int r, tw;             /* radius, tile width */
    int y0, y1;            /* output rows [y0, y1) */
    /* per-thread scratch */
    float *ring;           /* (2r+1) rows of tw floats */
    float *pad;            /* tw + 2r floats */
    int *tag;              /* source row held by each ring slot, -1 none */
    const float **hin;     /* 2r+1 pointers, horizontal pass */
    const float **vin;     /* 2r+1 pointers, vertical pass */
} blur_job;

/* Horizontally filter source row y, columns [x0, x0 + n), into out. */
static void hpass(const blur_job *j, int y, int x0, int n, float *out)
{
    const int r = j->r, w = j->src->w;
    const float *s = sd_plane_row(j->src, y);
    const float *p;
    if (x0 - r >= 0 && x0 + n + r <= w) {
        p = s + (x0 - r);
    } else {
        /* the stretch inside the image copied, only the edges mirrored (a
         * mirror_index per pixel cost more than the filter on narrow
         * levels, where one tile spans the row) */
        const int a = x0 - r, m = n + 2 * r;
        const int i0 = SD_CLAMP(-a, 0, m), i1 = SD_CLAMP(w - a, i0, m);
        for (int i = 0; i < i0; i++)
            j->pad[i] = s[sd_mirror_index(a + i, w)];
        if (i1 > i0)
            memcpy(j->pad + i0, s + a + i0, (size_t)(i1 - i0) * sizeof(float));
        for (int i = i1; i < m; i++)
            j->pad[i] = s[sd_mirror_index(a + i, w)];
        p = j->pad;
    }
    sd_blur_row2(j->dsp, p + r, j->k, r, out, NULL, 0, NULL, n, j->hin);
}

static void *blur_band(void *arg)
{
    blur_job *j = arg;
    const int r = j->r, R = 2 * r + 1, w = j->src->w, h = j->src->h;
    for (int x0 = 0; x0 < w; x0 += j->tw) {
        int n = SD_MIN(j->tw, w - x0);
        for (int s = 0; s < R; s++)
            j->tag[s] = -1;
        for (int y = j->y0; y < j->y1; y++) {
            for (int i = 0; i < R; i++) {
                int sy = sd_mirror_index(y - r + i, h), slot = sy % R;
                float *row = j->ring + (size_t)slot * (size_t)j->tw;
                if (j->tag[slot] != sy) {
                    hpass(j, sy, x0, n, row);
                    j->tag[slot] = sy;
                }
                j->vin[i] = row;
            }
            j->dsp->blur_taps(j->vin, j->k, r, sd_plane_row(j->dst, y) + x0, n);
        }
    }
    return NULL;
}

/* rows * tw floats on a cache-line boundary (tw is a multiple of 16 or the
 * whole width), so the vertical pass reads whole lines */
static float *ring_alloc(size_t rows, size_t tw)
{
    void *p = NULL;
    if (tw && rows > SIZE_MAX / sizeof(float) / tw)
        return NULL;
    if (posix_memalign(&p, 64, rows * tw * sizeof(float)) != 0)
        return NULL;
    return p;
}

static void job_free(blur_job *j)
{
    free(j->ring);
    free(j->pad);
    free(j->tag);
    free(j->hin);
    free(j->vin);
}

sd_status sd_gauss_blur(sd_ctx *ctx, const sd_plane *src, sd_plane *dst, double sigma)
{
    if (!src || !dst || !src->p || !dst->p || src->w < 1 || src->h < 1)
        return sd_fail(ctx, SD_ERR_ARG, "blur: bad planes");
    int w = src->w, h = src->h;
    if (dst->w != w || dst->h != h || src->p == dst->p)
        return sd_fail(ctx, SD_ERR_ARG, "blur: bad planes");
    if (!(sigma > 0)) {
        for (int y = 0; y < h; y++)
            memcpy(sd_plane_row(dst, y), sd_plane_row(src, y), (size_t)w * sizeof(float));
        return SD_OK;
    }
    float k[4097];
    const int r = sd_gauss_kernel(sigma, k), R = 2 * r + 1;

    int tw = RING_FLOATS / R;
    tw = tw < 64 ? 64 : tw - tw % 16;
    if (tw > w)
        tw = w;
    int nt = sd_ctx_threads(ctx);
    if ((size_t)w * (size_t)h < THREAD_MIN_PIXELS)
        nt = 1;
    nt = SD_CLAMP(nt, 1, SD_MIN(h, 64));

    const sd_dsp *dsp = sd_dsp_active();
    blur_job jobs[64];
    memset(jobs, 0, sizeof jobs);
    sd_status st = SD_OK;
    for (int t = 0; t < nt; t++) {
        blur_job *j = &jobs[t];
        j->src = src;
        j->dst = dst;
        j->k = k;
        j->dsp = dsp;
        j->r = r;
        j->tw = tw;
        j->y0 = (int)((int64_t)h * t / nt);
        j->y1 = (int)((int64_t)h * (t + 1) / nt);
        j->ring = ring_alloc((size_t)R, (size_t)tw);
        j->pad = sd_alloc_array((size_t)tw + 2 * (size_t)r, sizeof(float));
        j->tag = sd_alloc_array((size_t)R, sizeof(int));
        j->hin = sd_alloc_array((size_t)R, sizeof(float *));
        j->vin = sd_alloc_array((size_t)R, sizeof(float *));
        if (!j->ring || !j->pad || !j->tag || !j->hin || !j->vin)
            st = SD_ERR_NOMEM;
    }
    if (st == SD_OK)
        sd_run_jobs(nt, blur_band, jobs, sizeof jobs[0]);
    for (int t = 0; t < nt; t++)
        job_free(&jobs[t]);
    if (st != SD_OK)
        return sd_fail(ctx, st, "blur: out of memory for %d x %d (radius %d)", w, h, r);
    return SD_OK;
}

/*
 * sd_image_measure: texture, redness, pores and the quality measures of one
 * image over a mask in that image's own frame (see docs/metrics.md).
 *
 * One fused pass over the measured window, in horizontal strips of
 * STRIP_ROWS rows (the unit of accumulation), split into contiguous bands,
 * one per thread. A band walks its rows top to bottom keeping rings of
 * source rows: each source row is converted once (colour kernel: Lambda,
 * a*, erythema, Y), filtered horizontally by the three Gaussians into their
 * rings, and accumulated (a*, erythema, Lambda halves, histograms); each
 * output row then takes the vertical taps (G_t, G_s, G_p), accumulates H and
 * the Laplacian of G_s and writes D = G_p - G_s. What stays full-frame: one
 * flag byte and the float D per window pixel (5 bytes; the pore components
 * and the MAD need D), no other plane. Exact medians come from 65536-bin
 * histograms of the float keys plus one pass that collects the values of
 * the median's bin (a*, Y: by recomputing the colour of the window; D: from
 * the D plane), then the exact selection over those few values.
 *
 * Results do not depend on the thread count: every pixel is computed by the
 * same arithmetic whatever the band split (bands recompute their halo), the
 * float sums are per strip and merged in strip order, and the histograms
 * and counts are integers.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/internal.h"
#include "kernels/kernels_internal.h"
#include "metrics/measure_internal.h"
#include "metrics/metrics_internal.h"
#include "skindelta/kernels.h"
#include "skindelta/metrics.h"

/* flags per pixel */
enum {
    F_MASK = SD_PF_MASK,
    F_MEASURED = SD_PF_MEASURED,
    F_CLIPPED = SD_PF_CLIPPED,
    F_CAND = SD_PF_CAND
};
/* What hist_a holds: every bin's count; exact counts in the gathered
 * ranges only, every value outside them counted in the bin just below or
 * above the range next to it (so every count at or below a bin of those
 * ranges is exact: lump_hist); nothing yet (the gathering was abandoned). */
enum { A_FULL, A_LUMPED, A_NONE };
#define CAND8 (F_CAND * UINT64_C(0x0101010101010101)) /* F_CAND in each of 8 bytes */

/* Rows per strip: the unit of the per-strip float sums (fixed, so the
 * merge order does not depend on the thread count). */
#define STRIP_ROWS 32
#define MAX_THREADS SD_MAX_JOBS
#define HBINS SD_FBINS
/* Output rows per vertical step (the blur_taps4 block), and the G_s ring:
 * the block's rows and one more each side for the Laplacian. */
#define VB 4
#define GS_RING (VB + 4)

/* A float array with a size limit, reserved whole (its pages are touched
 * only as it fills, and a large one comes back from the memory cache with
 * its pages mapped): the a* values the fused pass gathers for the
 * thresholds (full: one did not fit, the gathering is abandoned). */
typedef struct fvec {
    float *v;
    size_t n, max;
    int full;
} fvec;

/* Out of memory: full from the start. */
static void fvec_reserve(fvec *a, size_t max)
{
    a->n = 0;
    a->max = max;
    a->v = sd_alloc_array(max ? max : 1, sizeof *a->v);
    a->full = a->v == NULL;
}

static void fvec_append(fvec *a, const float *src, size_t k)
{
    if (a->full || k == 0)
        return;
    if (k > a->max - a->n) {
        a->full = 1;
        return;
    }
    memcpy(a->v + a->n, src, k * sizeof *src);
    a->n += k;
}

static void fvec_free(fvec *a)
{
    sd_free(a->v);
    memset(a, 0, sizeof *a);
}

/* float sums of one strip */
typedef struct strip_acc {
    double tex[3], a[3], e[3], lam_l[3], lam_r[3], lap[2];
    double fine[3]; /* focus measure: sums of Lambda - G_s (see sd_metrics.focus_measure) */
} strip_acc;

struct sd_measure {
    const sd_image *img;
    sd_metric_params p;
    double scale, s2;
    float g[3];
    int ox, oy, w, h; /* the window */
    int nthreads;
    uint8_t *flags;   /* w x h */
    const uint8_t *rows; /* the image's row marks (SD_ROW_CLIP, SD_ROW_DARK), or NULL */
    /* Thresholds fixed, at begin (sd_measure_begin's thr: the fused pass
     * then counts the red pixels and marks the pore candidates (F_CAND)
     * itself, and neither D nor the a* and D histograms are kept) or by
     * sd_measure_thresholds (which does the same from D and the
     * histograms, then drops them). */
    int fixed;
    int semi;         /* G_p by the semigroup path (semi_ok, docs/metrics.md) */
    double t_red;
    float t_red_lo;   /* the largest float <= t_red: a > t_red iff a > t_red_lo */
    float t_pore;
    size_t red;       /* fixed: measured pixels with a* > t_red */
    sd_plane d;       /* !fixed: D = G_p - G_s over the window */
    size_t n, n_mask, n_clip, n_crush, n_left, n_right;
    int xs;           /* asymmetry split: columns < xs are the left half */
    uint32_t *hist_a, *hist_d; /* !fixed: HBINS each, measured pixels */
    double sum_a, sum_e, tex[3], lap[2], lam_l, lam_r;
    /* !fixed: the bins predicted (from a sparse sample of a*) to hold the
     * a* median (pm) and the median + red_delta (pr); the fused pass
     * gathers the a* values in either, so the exact median and red count
     * need no second colour pass when the prediction holds */
    int pre;
    unsigned pm_lo, pm_hi, pr_lo, pr_hi;
    /* pre: the union of both bin ranges as ng disjoint ranges, ascending;
     * the fused pass gathers the a* values in them and counts the measured
     * pixels below each (gbelow) instead of making a*'s histogram, which
     * is made from those (hist_a's state A_LUMPED, lump_hist) */
    unsigned gr[2][2];
    int ng;
    size_t gbelow[2];
    int hist_state;   /* !fixed: A_FULL, A_LUMPED or A_NONE */
    fvec gath;        /* gathered, bands in order */
    double fine2;     /* focus measure: sum of (Lambda - G_s)^2 */
};

static int thresholds_ok(const sd_thresholds *t)
{
    return isfinite(t->t_red) && t->t_pore >= 0 && isfinite(t->t_pore);
}

static int params_ok(const sd_metric_params *p)
{
    return p->sigma_t > 0 && p->sigma_p > 0 && p->sigma_s > 0 && isfinite(p->sigma_t) &&
           isfinite(p->sigma_p) && isfinite(p->sigma_s) && p->sigma_p <= 1000 &&
           p->sigma_t <= 1000 && p->sigma_s <= 1000 && p->pore_area_min >= 0 &&
           p->pore_area_max >= p->pore_area_min && p->pore_max_elongation >= 1 &&
           p->pore_k > 0 && p->pore_floor >= 0 && p->pore_contrast >= 0 &&
           isfinite(p->red_delta) && p->px_per_mm >= 0 && isfinite(p->pore_area_max) &&
           isfinite(p->pore_contrast) && isfinite(p->px_per_mm);
}

/* Whether G_p may come from the semigroup path (sigma_t, sigma_p already
 * scaled): where G_t's decimation aliases below 2e-5 of the amplitude and
 * the interpolator's error stays under 5e-4 (sigma_t >= 1.5, sigma_p >= 4.5,
 * q >= 2: docs/metrics.md "Pores: G_p"), on images of at least 64 x 64
 * (smaller ones take the exact taps: no time to save there). */
static int semi_ok(double st, double sp, int iw, int ih)
{
    return st >= 1.5 && sp >= 4.5 && sp * sp - st * st >= 4.0 && iw >= 64 && ih >= 64;
}

/* Pixels of the window a G_p value reads on each side: the exact taps'
 * radius, or on the semigroup path G_t's radius plus two pixels per
 * decimated sample of G_q's radius and of the interpolator's three, plus
 * one for the decimation's phase. */
static int gp_reach(double st, double sp, int semi)
{
    if (!semi)
        return sd_gauss_radius(sp);
    return sd_gauss_radius(st) + 2 * (sd_gauss_radius(0.5 * sqrt(sp * sp - st * st)) + 3) + 1;
}

/* ---- row bands ---- */

/* Threads for a pass over the window's rows in `units` pieces: the
 * measure's, at most one per piece, one for a small window (threads would
 * cost more than they save). Results never depend on it. */
static int pass_threads(const sd_measure *m, int units)
{
    if ((size_t)m->w * (size_t)m->h < 65536)
        return 1;
    return SD_CLAMP(m->nthreads, 1, SD_MIN(units, MAX_THREADS));
}

/* Rows [*y0, *y1) of band t of nt over the window. */
static void band_rows(const sd_measure *m, int t, int nt, int *y0, int *y1)
{
    *y0 = (int)((int64_t)m->h * t / nt);
    *y1 = (int)((int64_t)m->h * (t + 1) / nt);
}

/* ---- the fused strip pass ---- */

typedef struct ring {
    float *mem;
    int *tag;
    int size;
    int pad; /* floats of halo each side of a row (the rows are w + 2 pad apart) */
} ring;

typedef struct band_job {
    const sd_measure *m;
    const sd_dsp *dsp;
    strip_acc *acc;      /* all strips; the band writes its own */
    int y0, y1;          /* rows [y0, y1): whole strips */
    int rt, rs, rp, R;   /* radii; R = furthest row ahead a step needs */
    const float *kt, *ks, *kp;
    /* the semigroup path (rq > 0; then no hp ring): G_q of radius rq on
     * the decimated grid of w2 x h2 samples, rings hq (horizontal taps of
     * the decimated G_t rows) and gq (both taps), dpad / vq scratch rows */
    int rq, w2;
    int gq_next, gq_hi;  /* G_q rows [gq_next, gq_hi] still to compute */
    const float *kq;
    ring hq, gq;
    float *dpad, *vq;
    uint32_t *hist;      /* !fixed: 2 x HBINS: a*, D */
    size_t red;          /* fixed: a* > t_red */
    fvec gath;           /* m->pre: a* in the predicted bins */
    size_t gbelow[2];    /* m->pre: a* below each of m->gr */
    float *sel;          /* a row for row_hist_select */
    ring lam, ht, hs, hp, gs;
    float *ca, *ce, *cy, *gt, *gp;
    const float **in;
    uint8_t *done;       /* rows of the band already accumulated */
    int ok;
} band_job;

static int ring_init(ring *r, int size, int w, int pad)
{
    r->size = size;
    r->pad = pad;
    r->mem = sd_alloc_array((size_t)size * ((size_t)w + 2 * (size_t)pad), sizeof(float));
    r->tag = sd_alloc_array((size_t)size, sizeof(int));
    if (!r->mem || !r->tag)
        return 0;
    for (int i = 0; i < size; i++)
        r->tag[i] = -1;
    return 1;
}

static void ring_free(ring *r)
{
    free(r->mem);
    free(r->tag);
}

static inline float *ring_row(const ring *r, int sy, int w)
{
    return r->mem + (size_t)(sy % r->size) * ((size_t)w + 2 * (size_t)r->pad) + r->pad;
}

static inline int ring_has(const ring *r, int sy) { return r->tag[sy % r->size] == sy; }

/* Per-pixel accumulations of source row sy (a row of this band). */
static void accumulate_colour(band_job *j, int sy, const float *lam)
{
    const sd_measure *m = j->m;
    const int w = m->w;
    const uint8_t *f = m->flags + (size_t)sy * (size_t)w;
    strip_acc *a = &j->acc[sy / STRIP_ROWS];
    /* the four sums and (thresholds fixed) the red count a* > t_red */
    j->dsp->row_sum4(j->ca, j->ce, lam, f, F_MEASURED, w, m->xs, &a->a[0], &a->e[0],
                     &a->lam_l[0], &a->lam_r[0], m->fixed ? &m->t_red_lo : NULL, &j->red);
    if (!m->fixed) {
        /* a*'s histogram; or with the bins predicted, the values in them
         * and the counts below them */
        if (m->pre)
            fvec_append(&j->gath, j->sel,
                        j->dsp->row_hist_select(j->ca, f, F_MEASURED, w, NULL,
                                                (const unsigned (*)[2])m->gr, m->ng, j->gbelow,
                                                j->sel));
        else
            j->dsp->row_hist(j->ca, f, F_MEASURED, w, NULL, j->hist);
    }
}

/* Convert source row sy and filter it horizontally into the rings. */
static void load_row(band_job *j, int sy)
{
    const sd_measure *m = j->m;
    const int w = m->w, R0 = j->lam.pad;
    float *lam = ring_row(&j->lam, sy, w);
    sd_image_colour(j->dsp, m->img, m->ox, m->oy + sy, w, m->g, lam, j->ca, j->ce, j->cy);
    j->lam.tag[sy % j->lam.size] = sy;
    if (sy >= j->y0 && sy < j->y1 && !j->done[sy - j->y0]) {
        accumulate_colour(j, sy, lam);
        j->done[sy - j->y0] = 1;
    }
    /* Lambda's R0 mirrored columns each side, in the ring row's halo */
    for (int i = 0; i < R0; i++) {
        lam[i - R0] = lam[sd_mirror_index(i - R0, w)];
        lam[w + i] = lam[sd_mirror_index(w + i, w)];
    }
    /* G_t and G_s together (the wider first), then G_p (exact path) */
    const float *c = lam;
    float *ot = ring_row(&j->ht, sy, w), *os = ring_row(&j->hs, sy, w);
    if (j->rt >= j->rs)
        sd_blur_row2(j->dsp, c, j->kt, j->rt, ot, j->ks, j->rs, os, w, j->in);
    else
        sd_blur_row2(j->dsp, c, j->ks, j->rs, os, j->kt, j->rt, ot, w, j->in);
    j->ht.tag[sy % j->ht.size] = sy;
    j->hs.tag[sy % j->hs.size] = sy;
    if (!j->rq) {
        sd_blur_row2(j->dsp, c, j->kp, j->rp, ring_row(&j->hp, sy, w), NULL, 0, NULL, w, j->in);
        j->hp.tag[sy % j->hp.size] = sy;
    }
}

/* Make sure every row output rows [y, y + nb) need is in its ring; returns
 * the number of rows loaded (the caller repeats until 0, so an eviction by a
 * load cannot leave a row missing). */
static int ensure_rows(band_job *j, int y, int nb, int all)
{
    const int h = j->m->h, last = nb - 1;
    int loads = 0;
    for (int i = -j->R; i <= last + j->R; i++) {
        int sy = sd_mirror_index(y + i, h);
        int need = (!j->rq && i >= -j->rp && i <= last + j->rp && !ring_has(&j->hp, sy)) ||
                   (i >= -j->rt && i <= last + j->rt && !ring_has(&j->ht, sy)) ||
                   (all && i >= -j->rs - 1 && i <= last + j->rs + 1 && !ring_has(&j->hs, sy)) ||
                   (all && i >= 0 && i <= last && !ring_has(&j->lam, sy));
        if (need) {
            load_row(j, sy);
            loads++;
        }
    }
    return loads;
}

/* Vertical taps of ring rg (radius r, kernel k) for output rows [y, y + nb)
 * into out[0 .. nb-1]. */
static void vtaps(band_job *j, const ring *rg, const float *k, int r, int y, int nb,
                  float *const *out)
{
    const int w = j->m->w, h = j->m->h;
    for (int i = 0; i < 2 * r + nb; i++)
        j->in[i] = ring_row(rg, sd_mirror_index(y - r + i, h), w);
    sd_blur_rows(j->dsp, j->in, k, r, out, nb, w);
}

/* G_s of rows [y0, y1] (inside the window) into its ring, the ones not
 * there yet, in runs of consecutive rows. */
static void gs_rows(band_job *j, int y0, int y1)
{
    float *out[GS_RING];
    for (int y = y0; y <= y1;) {
        if (ring_has(&j->gs, y)) {
            y++;
            continue;
        }
        int n = 0;
        while (y + n <= y1 && !ring_has(&j->gs, y + n))
            n++;
        for (int i = 0; i < n; i++)
            out[i] = ring_row(&j->gs, y + i, j->m->w);
        vtaps(j, &j->hs, j->ks, j->rs, y, n, out);
        for (int i = 0; i < n; i++)
            j->gs.tag[(y + i) % j->gs.size] = y + i;
        y += n;
    }
}

/* ---- G_p by the Gaussian semigroup (docs/metrics.md "Pores: G_p") ----
 *
 * G_p = G_q * G_t, q^2 = sigma_p^2 - sigma_t^2. G_t is computed anyway;
 * its even rows and columns (the decimated grid) alias negligibly, so G_q
 * runs there with sigma q / 2, and the 6-point Lagrange interpolator at the
 * half-sample (3, -25, 150, 150, -25, 3) / 256 brings it back to every
 * pixel (even pixels take the sample itself). Sample i of the decimated
 * grid is pixel 2i of the window, mirrored as the blurs mirror. */
#define LG0 (3.0f / 256.0f)
#define LG1 (-25.0f / 256.0f)
#define LG2 (150.0f / 256.0f)

static inline int dec_mirror(int i, int n) { return sd_mirror_index(2 * i, n) / 2; }

/* Horizontal G_q taps of the decimated G_t row of window row yy (even). */
static void push_hq(band_job *j, int yy, const float *gt)
{
    const int w = j->m->w, w2 = j->w2, rq = j->rq;
    float *p = j->dpad;
    for (int i = 0; i < rq; i++) {
        p[i] = gt[2 * dec_mirror(i - rq, w)];
        p[rq + w2 + i] = gt[2 * dec_mirror(w2 + i, w)];
    }
    int x = 0;
#if defined(__SSE2__)
    /* the even columns, four at a time */
    for (; x + 4 <= w2 && 2 * x + 8 <= w; x += 4)
        _mm_storeu_ps(p + rq + x, _mm_shuffle_ps(_mm_loadu_ps(gt + 2 * x), _mm_loadu_ps(gt + 2 * x + 4),
                                                 _MM_SHUFFLE(2, 0, 2, 0)));
#endif
    for (; x < w2; x++)
        p[rq + x] = gt[2 * x];
    sd_blur_row2(j->dsp, p + rq, j->kq, rq, ring_row(&j->hq, yy / 2, w2), NULL, 0, NULL, w2,
                 j->in);
    j->hq.tag[(yy / 2) % j->hq.size] = yy / 2;
}

/* Decimated rows whose hq taps D row y needs: [*lo, *hi] (unmirrored). */
static void d_span(const band_job *j, int y, int *lo, int *hi)
{
    *lo = (y >> 1) - (y & 1 ? 2 : 0) - j->rq;
    *hi = (y >> 1) + (y & 1 ? 3 : 0) + j->rq;
}

/* The G_q rows D row y reads (gp_semi_row): the lowest and highest
 * (mirrored into the grid). */
static void gq_span(const band_job *j, int y, int *lo, int *hi)
{
    const int Y = y >> 1;
    *lo = *hi = Y;
    for (int k = 0; (y & 1) && k < 6; k++) {
        const int i = dec_mirror(Y - 2 + k, j->m->h);
        *lo = SD_MIN(*lo, i);
        *hi = SD_MAX(*hi, i);
    }
}

static int d_ready(const band_job *j, int y)
{
    const int Y = y >> 1;
    if (!(y & 1))
        return ring_has(&j->gq, Y);
    for (int k = 0; k < 6; k++)
        if (!ring_has(&j->gq, dec_mirror(Y - 2 + k, j->m->h)))
            return 0;
    return 1;
}

/* The next (up to) four G_q rows from gq_next on by sd_blur_rows, if
 * their hq rows are all there and the ring keeps the rows D row `next`
 * reads; returns whether it did. */
static int gq_group(band_job *j, int next)
{
    const int G = j->gq_next, rq = j->rq, w2 = j->w2, n = SD_MIN(VB, j->gq_hi - G + 1);
    if (n <= 0)
        return 0;
    if (next < j->y1) {
        int lo, hi;
        gq_span(j, next, &lo, &hi);
        if (G + n - 1 >= lo + j->gq.size)
            return 0;
    }
    for (int i = 0; i < 2 * rq + n; i++) {
        const int Y = dec_mirror(G - rq + i, j->m->h);
        if (!ring_has(&j->hq, Y))
            return 0;
        j->in[i] = ring_row(&j->hq, Y, w2);
    }
    float *out[VB];
    for (int i = 0; i < n; i++)
        out[i] = ring_row(&j->gq, G + i, w2);
    sd_blur_rows(j->dsp, j->in, j->kq, rq, out, n, w2);
    for (int i = 0; i < n; i++)
        j->gq.tag[(G + i) % j->gq.size] = G + i;
    j->gq_next = G + n;
    return 1;
}

/* G_q of decimated row Y (in range): from the ring, else the vertical
 * taps of the hq ring. */
static const float *gq_row(band_job *j, int Y)
{
    const int w2 = j->w2, rq = j->rq;
    float *out = ring_row(&j->gq, Y, w2);
    if (!ring_has(&j->gq, Y)) {
        for (int i = 0; i <= 2 * rq; i++)
            j->in[i] = ring_row(&j->hq, dec_mirror(Y - rq + i, j->m->h), w2);
        j->dsp->blur_taps(j->in, j->kq, rq, out, w2);
        j->gq.tag[Y % j->gq.size] = Y;
    }
    return out;
}

/* The half-sample interpolator on six values, and on four lanes of six
 * (the same order of operations). */
static inline float lg6(float a, float b, float c, float d, float e, float f)
{
    return LG0 * (a + f) + LG1 * (b + e) + LG2 * (c + d);
}

#if defined(__SSE2__)
static inline __m128 lg6_ps(__m128 a, __m128 b, __m128 c, __m128 d, __m128 e, __m128 f)
{
    return _mm_add_ps(_mm_add_ps(_mm_mul_ps(_mm_set1_ps(LG0), _mm_add_ps(a, f)),
                                 _mm_mul_ps(_mm_set1_ps(LG1), _mm_add_ps(b, e))),
                      _mm_mul_ps(_mm_set1_ps(LG2), _mm_add_ps(c, d)));
}
#endif

/* The approximate G_p of window row y into out (w floats). */
static void gp_semi_row(band_job *j, int y, float *out)
{
    const int w = j->m->w, h = j->m->h, w2 = j->w2, Y = y >> 1;
    float *v = j->vq + 3;
    int x = 0;
    if (y & 1) {
        const float *r[6];
        for (int k = 0; k < 6; k++)
            r[k] = gq_row(j, dec_mirror(Y - 2 + k, h));
#if defined(__SSE2__)
#define L(k) _mm_loadu_ps(r[k] + x)
        for (; x + 4 <= w2; x += 4)
            _mm_storeu_ps(v + x, lg6_ps(L(0), L(1), L(2), L(3), L(4), L(5)));
#undef L
#endif
        for (; x < w2; x++)
            v[x] = lg6(r[0][x], r[1][x], r[2][x], r[3][x], r[4][x], r[5][x]);
    } else {
        memcpy(v, gq_row(j, Y), (size_t)w2 * sizeof(float));
    }
    for (int i = 1; i <= 3; i++) {
        v[-i] = v[dec_mirror(-i, w)];
        v[w2 - 1 + i] = v[dec_mirror(w2 - 1 + i, w)];
    }
    /* out[2x] = v[x], out[2x + 1] = the interpolator on v[x - 2 .. x + 3] */
    x = 0;
#if defined(__SSE2__)
#define L(k) _mm_loadu_ps(v + x + (k))
    for (; x + 4 <= w / 2; x += 4) {
        const __m128 o = lg6_ps(L(-2), L(-1), L(0), L(1), L(2), L(3));
        _mm_storeu_ps(out + 2 * x, _mm_unpacklo_ps(L(0), o));
        _mm_storeu_ps(out + 2 * x + 4, _mm_unpackhi_ps(L(0), o));
    }
#undef L
#endif
    for (; x < w / 2; x++) {
        out[2 * x] = v[x];
        out[2 * x + 1] = lg6(v[x - 2], v[x - 1], v[x], v[x + 1], v[x + 2], v[x + 3]);
    }
    if (w & 1)
        out[w - 1] = v[w2 - 1];
}

/* D of band row y from G_p row gp and the G_s ring: into the D plane and
 * its histogram, or (thresholds fixed) the candidate flags. */
static void emit_d(band_job *j, int y, const float *gp)
{
    const sd_measure *m = j->m;
    const int w = m->w;
    const float *gs = ring_row(&j->gs, y, w);
    uint8_t *f = m->flags + (size_t)y * (size_t)w;
    if (m->fixed) {
        /* pore candidates: every pixel of the window (components grow
         * through unmeasured ones), flags of this band's own rows */
        j->dsp->row_flag_above(gp, gs, m->t_pore, f, F_CAND, w);
    } else {
        j->dsp->row_sub_hist(gp, gs, sd_plane_row(&m->d, y), f, F_MEASURED, w, j->hist + HBINS);
    }
}

static void *band_run(void *arg)
{
    band_job *j = arg;
    const sd_measure *m = j->m;
    const int w = m->w, h = m->h;
    float *gt[VB], *gp[VB];
    for (int b = 0; b < VB; b++) {
        gt[b] = j->gt + (size_t)b * (size_t)w;
        gp[b] = j->gp + (size_t)b * (size_t)w;
    }
    /* G_t rows [f0, f1): the band's, and on the semigroup path the halo
     * its G_p reads (whole blocks, aligned with the band's); D rows are
     * emitted from `next` on as soon as their decimated rows are there */
    int f0 = j->y0, f1 = j->y1, next = j->y0;
    if (j->rq) {
        /* the lowest and highest decimated rows any of the band's D rows
         * reads (odd rows reach two and three further) */
        int lo = INT32_MAX, hi = INT32_MIN;
        for (int y = j->y0; y < j->y1; y++) {
            int l, u;
            d_span(j, y, &l, &u);
            lo = SD_MIN(lo, l);
            hi = SD_MAX(hi, u);
        }
        f0 = SD_MAX(0, j->y0 - (j->y0 - 2 * lo + VB - 1) / VB * VB);
        f1 = SD_MIN(h, 2 * hi + 1);
        /* and the G_q rows they read */
        j->gq_next = INT32_MAX;
        j->gq_hi = INT32_MIN;
        for (int y = j->y0; y < j->y1; y++) {
            int l, u;
            gq_span(j, y, &l, &u);
            j->gq_next = SD_MIN(j->gq_next, l);
            j->gq_hi = SD_MAX(j->gq_hi, u);
        }
    }
    for (int y0 = f0; y0 < f1; y0 += VB) {
        const int nb = SD_MIN(VB, f1 - y0), in = y0 >= j->y0 && y0 < j->y1;
        while (ensure_rows(j, y0, nb, in) > 0)
            ;
        /* G_s of the rows the Laplacians read (clamped at the window's
         * edges), then G_t (and G_p) of the block */
        if (in)
            gs_rows(j, SD_MAX(y0 - 1, 0), SD_MIN(y0 + nb, h - 1));
        vtaps(j, &j->ht, j->kt, j->rt, y0, nb, gt);
        if (!j->rq)
            vtaps(j, &j->hp, j->kp, j->rp, y0, nb, gp);
        for (int b = 0; in && b < nb; b++) {
            const int y = y0 + b;
            const int yu = y > 0 ? y - 1 : y, yd = y < h - 1 ? y + 1 : y;
            const float *up = ring_row(&j->gs, yu, w), *gd = ring_row(&j->gs, yd, w);
            const float *gs = ring_row(&j->gs, y, w);
            const uint8_t *f = m->flags + (size_t)y * (size_t)w;
            strip_acc *a = &j->acc[y / STRIP_ROWS];
            /* texture, the focus measure's Laplacian and fine band (the
             * finest part of the texture band) in one pass over the rows */
            j->dsp->row_acc3(ring_row(&j->lam, y, w), gt[b], up, gs, gd, f, F_MEASURED, w,
                             a->tex, a->fine, a->lap);
            if (!j->rq)
                emit_d(j, y, gp[b]);
        }
        if (j->rq) {
            for (int b = 0; b < nb; b++)
                if (((y0 + b) & 1) == 0)
                    push_hq(j, y0 + b, gt[b]);
            /* G_q in groups of four as their hq rows come, D rows as
             * their G_q rows are there */
            do
                for (; next < j->y1 && next < y0 + nb && d_ready(j, next); next++) {
                    gp_semi_row(j, next, gp[0]);
                    emit_d(j, next, gp[0]);
                }
            while (gq_group(j, next));
        }
    }
    /* (every row is ready once the front has passed f1) */
    for (; j->rq && next < j->y1; next++) {
        gp_semi_row(j, next, gp[0]);
        emit_d(j, next, gp[0]);
    }
    return NULL;
}

static void band_free(band_job *j)
{
    ring_free(&j->lam);
    ring_free(&j->ht);
    ring_free(&j->hs);
    ring_free(&j->hp);
    ring_free(&j->gs);
    ring_free(&j->hq);
    ring_free(&j->gq);
    free(j->dpad);
    free(j->vq);
    free(j->ca);
    free(j->ce);
    free(j->cy);
    free(j->gt);
    free(j->gp);
    free(j->in);
    free(j->done);
    free(j->hist);
    free(j->sel);
    fvec_free(&j->gath);
}

/* hist_a from the gathered a* values (the exact counts of the bins of
 * m->gr) and the counts below each range: the values between two ranges
 * go to the bin just below the upper one, those below the first to the
 * bin just below it, those above the last to the bin just above it. */
static void lump_hist(sd_measure *m)
{
    uint32_t *h = m->hist_a;
    memset(h, 0, HBINS * sizeof *h);
    for (size_t i = 0; i < m->gath.n; i++)
        h[sd_fbin(m->gath.v[i])]++;
    size_t done = 0; /* values below the end of the last range so far */
    for (int i = 0; i < m->ng; i++) {
        const size_t lump = m->gbelow[i] - done;
        if (lump && m->gr[i][0] > 0)
            h[m->gr[i][0] - 1] += (uint32_t)lump;
        done = m->gbelow[i];
        for (unsigned b = m->gr[i][0]; b <= m->gr[i][1]; b++)
            done += h[b];
    }
    if (m->n > done && m->gr[m->ng - 1][1] < HBINS - 1)
        h[m->gr[m->ng - 1][1] + 1] += (uint32_t)(m->n - done);
}

static sd_status fused_pass(sd_ctx *ctx, sd_measure *m)
{
    const int w = m->w, h = m->h;
    float *k = sd_alloc_array(4 * 4097, sizeof(float));
    const int nstrips = (h + STRIP_ROWS - 1) / STRIP_ROWS;
    strip_acc *acc = sd_calloc_array((size_t)nstrips, sizeof *acc);
    band_job jobs[MAX_THREADS];
    memset(jobs, 0, sizeof jobs);
    const int nt = pass_threads(m, nstrips);
    sd_status s = SD_OK;
    if (!k || !acc) {
        s = SD_ERR_NOMEM;
        goto done;
    }
    const double scale = m->scale;
    const int rt = sd_gauss_kernel(m->p.sigma_t * scale, k);
    const int rs = sd_gauss_kernel(m->p.sigma_s * scale, k + 4097);
    const int rp = sd_gauss_kernel(m->p.sigma_p * scale, k + 2 * 4097);
    /* the semigroup path: G_q on the decimated grid, sigma q / 2 */
    const double st = m->p.sigma_t * scale, sp = m->p.sigma_p * scale;
    const int rq = m->semi ? sd_gauss_kernel(0.5 * sqrt(sp * sp - st * st), k + 3 * 4097) : 0;
    const int w2 = (w + 1) / 2;
    const int R = SD_MAX(rq ? 0 : rp, SD_MAX(rt, rs + 1));
    const int R0 = SD_MAX(rt, SD_MAX(rs, SD_MAX(rq ? 0 : rp, rq)));
    const sd_dsp *dsp = sd_dsp_active();
    for (int t = 0; t < nt; t++) {
        band_job *j = &jobs[t];
        j->m = m;
        j->dsp = dsp;
        j->acc = acc;
        j->y0 = (int)((int64_t)nstrips * t / nt) * STRIP_ROWS;
        j->y1 = SD_MIN(h, (int)((int64_t)nstrips * (t + 1) / nt) * STRIP_ROWS);
        j->rt = rt;
        j->rs = rs;
        j->rp = rp;
        j->R = R;
        j->kt = k;
        j->ks = k + 4097;
        j->kp = k + 2 * 4097;
        j->kq = k + 3 * 4097;
        j->rq = rq;
        j->w2 = w2;
        /* ring sizes: rows from the furthest back a step reads to R ahead;
         * on the semigroup path, G_s waits in its ring until the G_q rows
         * of D are there (D of row y is emitted once the G_t front has
         * passed row y + 2 rq + 6, up to six rows later for the group of
         * four G_q rows, a block later at worst), the hq ring spans the
         * decimated rows from the oldest the next G_q group reads to the
         * front, gq the six the interpolator reads and the groups ahead
         * (gq_group waits while the ring is full); Lambda's rows carry
         * the halo of mirrored columns the horizontal taps read */
        int ok = ring_init(&j->lam, R + VB + 1, w, SD_MAX(rt, SD_MAX(rs, rq ? 0 : rp))) &&
                 ring_init(&j->ht, R + rt + VB + 1, w, 0) &&
                 ring_init(&j->hs, R + rs + VB + 2, w, 0) &&
                 (rq ? ring_init(&j->hq, 2 * rq + 12, w2, 0) && ring_init(&j->gq, 16, w2, 0)
                     : ring_init(&j->hp, R + rp + VB + 1, w, 0)) &&
                 ring_init(&j->gs, GS_RING + (rq ? 2 * rq + 16 : 0), w, 0);
        if (rq) {
            j->dpad = sd_alloc_array((size_t)w2 + 2 * (size_t)rq, sizeof(float));
            j->vq = sd_alloc_array((size_t)w2 + 6, sizeof(float));
            ok = ok && j->dpad && j->vq;
        }
        j->ca = sd_alloc_array((size_t)w, sizeof(float));
        j->ce = sd_alloc_array((size_t)w, sizeof(float));
        j->cy = sd_alloc_array((size_t)w, sizeof(float));
        j->gt = sd_alloc_array((size_t)VB * (size_t)w, sizeof(float));
        j->gp = sd_alloc_array((size_t)VB * (size_t)w, sizeof(float));
        j->in = sd_alloc_array(2 * (size_t)R0 + GS_RING, sizeof *j->in);
        j->done = sd_calloc_array((size_t)(j->y1 - j->y0) + 1, 1);
        j->hist = m->fixed ? NULL : sd_calloc_array(2 * (size_t)HBINS, sizeof(uint32_t));
        j->sel = m->pre ? sd_alloc_array((size_t)w, sizeof(float)) : NULL;
        /* a band gathers at most a quarter of its pixels (a prediction
         * that far off is abandoned: thresholds then run the colour pass) */
        if (m->pre)
            fvec_reserve(&j->gath, (size_t)w * (size_t)(j->y1 - j->y0) / 4 + 1);
        if (!ok || !j->ca || !j->ce || !j->cy || !j->gt || !j->gp || !j->in ||
            !j->done || (!m->fixed && !j->hist) || (m->pre && !j->sel))
            s = SD_ERR_NOMEM;
    }
    if (s != SD_OK)
        goto done;
    sd_run_jobs(nt, band_run, jobs, sizeof jobs[0]);
    /* merge: strips in order, histograms (integers) in any order */
    for (int i = 0; i < nstrips; i++) {
        const strip_acc *a = &acc[i];
        m->sum_a += a->a[0];
        m->sum_e += a->e[0];
        for (int c = 0; c < 3; c++)
            m->tex[c] += a->tex[c];
        m->lap[0] += a->lap[0];
        m->lap[1] += a->lap[1];
        m->fine2 += a->fine[2];
        m->lam_l += a->lam_l[0];
        m->lam_r += a->lam_r[0];
    }
    for (int t = 0; t < nt; t++) {
        m->red += jobs[t].red;
        for (unsigned b = 0; !m->fixed && b < HBINS; b++) {
            m->hist_a[b] += jobs[t].hist[b];
            m->hist_d[b] += jobs[t].hist[HBINS + b];
        }
    }
    /* the gathered a* values, bands in order (the selections do not depend
     * on the order anyway) */
    size_t ngath = 0;
    for (int t = 0; m->pre && t < nt; t++)
        ngath += jobs[t].gath.n;
    if (m->pre)
        fvec_reserve(&m->gath, ngath);
    for (int t = 0; m->pre && t < nt; t++) {
        fvec_append(&m->gath, jobs[t].gath.v, jobs[t].gath.n);
        for (int i = 0; i < m->ng; i++)
            m->gbelow[i] += jobs[t].gbelow[i];
        if (jobs[t].gath.full)
            m->pre = 0;
    }
    if (m->pre && m->gath.full)
        m->pre = 0;
    if (!m->fixed)
        m->hist_state = m->pre ? A_LUMPED : m->ng ? A_NONE : A_FULL;
    if (m->hist_state == A_LUMPED)
        lump_hist(m);
done:
    for (int t = 0; t < nt; t++)
        band_free(&jobs[t]);
    free(k);
    free(acc);
    if (s != SD_OK)
        return sd_fail(ctx, s, "metrics: out of memory for the %dx%d window", w, h);
    return SD_OK;
}

/* ---- exact medians from a histogram and the values of the median's bins ---- */

/* A sink that collects the values falling in bins [b_lo, b_hi]. */
typedef struct collector {
    unsigned b_lo, b_hi;
    size_t below, n, cap; /* below: values in lower bins */
    float *v;
} collector;

static int collector_init(collector *c, const uint32_t *hist, size_t n)
{
    sd_rank_bins(hist, (n - 1) / 2, n / 2, &c->b_lo, &c->b_hi, &c->below);
    c->cap = 0;
    for (unsigned b = c->b_lo; b <= c->b_hi; b++)
        c->cap += hist[b];
    c->n = 0;
    c->v = sd_alloc_array(c->cap ? c->cap : 1, sizeof(float));
    return c->v != NULL;
}

/* Append to c the values of row v (or |v - ctr|) that fall in c's bins, at
 * measured pixels; scratch holds n floats. */
static void collect_row(collector *c, const sd_dsp *dsp, const float *v, const uint8_t *f, int n,
                        const double *ctr, float *scratch)
{
    size_t k = dsp->row_select(v, f, F_MEASURED, n, ctr, c->b_lo, c->b_hi, scratch);
    k = SD_MIN(k, c->cap - c->n);
    memcpy(c->v + c->n, scratch, k * sizeof(float));
    c->n += k;
}

/* The median of all n values (sd_select_median's definition) from the
 * collected ones: ranks (n-1)/2 and n/2 shifted by the values below. */
static double collector_median(collector *c, size_t n)
{
    /* for even n rank n/2 - 1 lies in the bins too (rank_bins), so
     * k >= 1 there */
    return sd_select_middle(c->v, c->n, n / 2 - c->below, n % 2 == 0);
}

/* ---- colour recompute passes over the window (threaded, integer results) ---- */

/* The collectors a colour pass fills (NULL: not wanted), both with a*
 * values from the bins the caller set: the median's (ca) and T_red's (cr);
 * or a*'s histogram. */
typedef struct colour_want {
    collector *ca, *cr;
    uint32_t *hist; /* a*'s histogram (HBINS, zeroed) */
} colour_want;

typedef struct colour_job {
    const sd_measure *m;
    const sd_dsp *dsp;
    int y0, y1;
    collector c[2];       /* ca, cr: bins from the caller's, own buffers */
    const collector *want[2];
    uint32_t *hist;       /* own HBINS, when the histogram is wanted */
    float *buf;           /* 3 rows of w: a*, Y, scratch */
} colour_job;

/* Whether row f (n flags) has a measured pixel. */
static int row_has_measured(const uint8_t *f, int n)
{
    for (int x = 0; x < n; x++)
        if (f[x] & F_MEASURED)
            return 1;
    return 0;
}

static void *colour_run(void *arg)
{
    colour_job *j = arg;
    const sd_measure *m = j->m;
    const int w = m->w;
    float *a = j->buf, *yy = a + w, *scratch = yy + w;
    for (int y = j->y0; y < j->y1; y++) {
        const uint8_t *f = m->flags + (size_t)y * (size_t)w;
        if (!row_has_measured(f, w))
            continue;
        /* a* and Y only: no logarithms */
        sd_image_colour(j->dsp, m->img, m->ox, m->oy + y, w, m->g, NULL, a, NULL, yy);
        for (int k = 0; k < 2; k++)
            if (j->want[k])
                collect_row(&j->c[k], j->dsp, a, f, w, NULL, scratch);
        if (j->hist)
            j->dsp->row_hist(a, f, F_MEASURED, w, NULL, j->hist);
    }
    return NULL;
}

/* One pass over the colour of the window filling what is wanted. */
static sd_status colour_pass(sd_ctx *ctx, const sd_measure *m, colour_want want)
{
    collector *const cs[2] = {want.ca, want.cr};
    colour_job jobs[MAX_THREADS];
    memset(jobs, 0, sizeof jobs);
    const int nt = pass_threads(m, m->h);
    sd_status s = SD_OK;
    for (int t = 0; t < nt; t++) {
        colour_job *j = &jobs[t];
        j->m = m;
        j->dsp = sd_dsp_active();
        band_rows(m, t, nt, &j->y0, &j->y1);
        j->buf = sd_alloc_array(3 * (size_t)m->w, sizeof(float));
        if (want.hist && !(j->hist = sd_calloc_array(HBINS, sizeof(uint32_t))))
            s = SD_ERR_NOMEM;
        if (!j->buf)
            s = SD_ERR_NOMEM;
        for (int k = 0; k < 2; k++) {
            if (!(j->want[k] = cs[k]))
                continue;
            j->c[k] = *cs[k];
            j->c[k].n = 0;
            if (!(j->c[k].v = sd_alloc_array(cs[k]->cap ? cs[k]->cap : 1, sizeof(float))))
                s = SD_ERR_NOMEM;
        }
    }
    if (s == SD_OK) {
        sd_run_jobs(nt, colour_run, jobs, sizeof jobs[0]);
        /* concatenate in job order (selection does not depend on it anyway) */
        for (int t = 0; t < nt; t++)
            for (int k = 0; k < 2; k++) {
                if (!cs[k])
                    continue;
                size_t add = SD_MIN(jobs[t].c[k].n, cs[k]->cap - cs[k]->n);
                memcpy(cs[k]->v + cs[k]->n, jobs[t].c[k].v, add * sizeof(float));
                cs[k]->n += add;
            }
        for (int t = 0; want.hist && t < nt; t++)
            for (unsigned b = 0; b < HBINS; b++)
                want.hist[b] += jobs[t].hist[b];
    }
    for (int t = 0; t < nt; t++) {
        free(jobs[t].hist);
        free(jobs[t].buf);
        for (int k = 0; k < 2; k++)
            sd_free(jobs[t].c[k].v);
    }
    if (s != SD_OK)
        return sd_fail(ctx, s, "metrics: out of memory");
    return SD_OK;
}

/* Make hist_a every bin's count (one colour pass, when the fused pass
 * left it lumped or empty). */
static sd_status full_hist_a(sd_ctx *ctx, sd_measure *m)
{
    if (m->hist_state == A_FULL)
        return SD_OK;
    memset(m->hist_a, 0, HBINS * sizeof *m->hist_a);
    sd_status s = colour_pass(ctx, m, (colour_want){.hist = m->hist_a});
    if (s == SD_OK)
        m->hist_state = A_FULL;
    return s;
}

/* Set cr to the a* bins a threshold in [lo, hi] can fall in, widened by
 * one bin each side for the float rounding of the bounds: every a* in a
 * higher bin is above the threshold, every one in a lower bin is not. */
static int red_collector_init(collector *cr, const uint32_t *hist_a, double lo, double hi)
{
    memset(cr, 0, sizeof *cr);
    unsigned rlo = isfinite(lo) ? sd_fbin((float)lo) : 0;
    unsigned rhi = isfinite(hi) ? sd_fbin((float)hi) : HBINS - 1;
    cr->b_lo = rlo > 0 ? rlo - 1 : 0;
    cr->b_hi = rhi < HBINS - 1 ? rhi + 1 : HBINS - 1;
    for (unsigned b = cr->b_lo; b <= cr->b_hi; b++)
        cr->cap += hist_a[b];
    return (cr->v = sd_alloc_array(cr->cap ? cr->cap : 1, sizeof(float))) != NULL;
}

/* From hist_a: ca, the a* median's collector, and cr, the one of the bins
 * T_red can then fall in (the median lies in [lowest of bin b_lo, highest
 * of bin b_hi], T_red that plus red_delta); 0 when out of memory. */
static int a_collectors_init(const sd_measure *m, collector *ca, collector *cr)
{
    if (!collector_init(ca, m->hist_a, m->n))
        return 0;
    const double lo = sd_key_float((uint32_t)ca->b_lo << 16) + m->p.red_delta;
    const double hi = sd_key_float(((uint32_t)ca->b_hi << 16) | 0xffffu) + m->p.red_delta;
    if (!red_collector_init(cr, m->hist_a, lo, hi)) {
        free(ca->v);
        ca->v = NULL;
        return 0;
    }
    return 1;
}

/* Measured pixels with a* > t_red: the bins above cr's, and the collected
 * values of cr's bins. */
static size_t red_count(const uint32_t *hist_a, const collector *cr, double t_red)
{
    size_t red = 0;
    for (unsigned b = cr->b_hi + 1; b < HBINS; b++)
        red += hist_a[b];
    for (size_t i = 0; i < cr->n; i++)
        red += (double)cr->v[i] > t_red;
    return red;
}

/* ---- pores ---- */

typedef struct mark_job {
    sd_measure *m;
    float t;
    int y0, y1;
} mark_job;

static void *mark_run(void *arg)
{
    const mark_job *j = arg;
    sd_measure *m = j->m;
    const sd_dsp *dsp = sd_dsp_active();
    for (int y = j->y0; y < j->y1; y++) {
        uint8_t *f = m->flags + (size_t)y * (size_t)m->w;
        for (int x = 0; x < m->w; x++)
            f[x] &= (uint8_t)~F_CAND;
        dsp->row_flag_above(sd_plane_row(&m->d, y), NULL, j->t, f, F_CAND, m->w);
    }
    return NULL;
}

/* Mark the pore candidates (D > t) of the whole window in the flags, and
 * only those (any older marks are cleared), row bands on the measure's
 * threads. */
static void mark_candidates(sd_measure *m, float t)
{
    mark_job jobs[MAX_THREADS];
    const int nt = pass_threads(m, m->h);
    for (int i = 0; i < nt; i++) {
        jobs[i] = (mark_job){m, t, 0, 0};
        band_rows(m, i, nt, &jobs[i].y0, &jobs[i].y1);
    }
    sd_run_jobs(nt, mark_run, jobs, sizeof jobs[0]);
}

/* Components of candidate pixels (F_CAND), 8-connected, seeded only from
 * measured pixels but grown through every unclipped candidate pixel, so a
 * pore crossing the mask edge is seen whole. A component counts when its
 * centroid's nearest pixel is in the mask, and its area and elongation pass.
 *
 * Found row by row as runs of unclipped candidate pixels (the flags are
 * only read): a run joins every run of the row above that touches it
 * (8-connected: overlapping once widened by a pixel each side), and joined
 * components merge (union-find, the older one the root). A component keeps
 * its pixel count and the integer sums of x, y, x^2, y^2 and xy over its
 * pixels (a run's in closed form), and its first measured pixel in raster
 * order: the seed a flood fill from each measured candidate in raster
 * order would start it from. Its moments are taken about that pixel, in
 * integers, so every double below is that fill's; a component without a
 * measured pixel is none. */
typedef struct comp {
    int64_t n, sx, sy, sxx, syy, sxy;
    int fx, fy; /* the first measured pixel; fy < 0: none yet */
    int up;     /* union-find parent, itself at a root */
    int ly;     /* the last row with a run of it */
    int done;   /* judged (it had no run on a later row) */
} comp;

/* A run [a, b] of a row, in component c. */
typedef struct crun {
    int a, b, c;
} crun;

static int comp_root(comp *cs, int i)
{
    while (cs[i].up != i) {
        cs[i].up = cs[cs[i].up].up; /* path halving */
        i = cs[i].up;
    }
    return i;
}

/* Join the components of roots i and j (the lower index stays the root,
 * returned). */
static int comp_join(comp *cs, int i, int j)
{
    if (i == j)
        return i;
    if (j < i) {
        const int t = i;
        i = j;
        j = t;
    }
    comp *a = &cs[i];
    const comp *b = &cs[j];
    a->n += b->n;
    a->sx += b->sx;
    a->sy += b->sy;
    a->sxx += b->sxx;
    a->syy += b->syy;
    a->sxy += b->sxy;
    if (b->fy >= 0 && (a->fy < 0 || b->fy < a->fy || (b->fy == a->fy && b->fx < a->fx))) {
        a->fx = b->fx;
        a->fy = b->fy;
    }
    cs[j].up = i;
    return i;
}

/* Sum of k^2 for k = 0 .. x (x >= -1). */
static inline int64_t sq_sum(int64_t x) { return x * (x + 1) * (2 * x + 1) / 6; }

/* The limits a component must meet to count. */
typedef struct pore_limits {
    double amin, amax, max_elong;
} pore_limits;

/* Judge the complete component o (a root): count it into *count and
 * *area_sum when it has a measured pixel and passes. Soon after its last
 * row, so the flag of its centroid is still in cache. */
static void pore_judge(const comp *o, const uint8_t *flags, int w, int h, const pore_limits *l,
                       size_t *count, double *area_sum)
{
    if (o->fy < 0)
        return;
    const double area = (double)o->n;
    if (area < l->amin || area > l->amax)
        return;
    /* the moments about the seed (x0, y0), exact integers */
    const int64_t x0 = o->fx, y0 = o->fy, n = o->n;
    const int64_t sx = o->sx - n * x0, sy = o->sy - n * y0;
    const int64_t sxx = o->sxx - 2 * x0 * o->sx + n * x0 * x0;
    const int64_t syy = o->syy - 2 * y0 * o->sy + n * y0 * y0;
    const int64_t sxy = o->sxy - x0 * o->sy - y0 * o->sx + n * x0 * y0;
    double mx = (double)sx / area, my = (double)sy / area;
    /* second moments of the union of unit pixel squares */
    double vxx = (double)sxx / area - mx * mx + 1.0 / 12.0;
    double vyy = (double)syy / area - my * my + 1.0 / 12.0;
    double vxy = (double)sxy / area - mx * my;
    double tr = 0.5 * (vxx + vyy);
    double disc = sqrt(0.25 * (vxx - vyy) * (vxx - vyy) + vxy * vxy);
    double l1 = tr + disc, l2 = tr - disc;
    if (!(l2 > 0) || sqrt(l1 / l2) > l->max_elong)
        return;
    long cx = sd_nearest((double)o->fx + mx), cy = sd_nearest((double)o->fy + my);
    if (cx < 0 || cy < 0 || cx >= w || cy >= h ||
        !(flags[(size_t)cy * (size_t)w + (size_t)cx] & F_MASK))
        return;
    (*count)++;
    *area_sum += area;
}

sd_status sd_pore_components(sd_ctx *ctx, const uint8_t *flags, int w, int h, double amin,
                             double amax, double max_elong, size_t *count, double *area_sum)
{
    size_t ncomp = 0, cap = 1024;
    comp *cs = sd_alloc_array(cap, sizeof *cs);
    /* the runs of the row above and of this row (at most (w + 1) / 2 each) */
    crun *prev = sd_alloc_array((size_t)w / 2 + 1, sizeof *prev);
    crun *cur = sd_alloc_array((size_t)w / 2 + 1, sizeof *cur);
    if (!cs || !prev || !cur) {
        free(cs);
        free(prev);
        free(cur);
        return sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory");
    }
    const pore_limits lim = {amin, amax, max_elong};
    size_t n_acc = 0;
    double a_acc = 0;
    int nprev = 0;
    for (int y = 0; y < h; y++) {
        const uint8_t *frow = flags + (size_t)y * (size_t)w;
        int ncur = 0, k = 0; /* k: the first run above that can touch a run from here on */
        for (int x = 0; x < w;) {
            /* most pixels are no candidate: skip sixteen (eight) flags at a time */
#if defined(__SSE2__)
            if (x + 16 <= w &&
                _mm_movemask_epi8(_mm_cmpeq_epi8(
                    _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(frow + x)),
                                  _mm_set1_epi8(F_CAND)),
                    _mm_setzero_si128())) == 0xffff) {
                x += 16;
                continue;
            }
#endif
            uint64_t v8;
            if (x + 8 <= w && (memcpy(&v8, frow + x, 8), !(v8 & CAND8))) {
                x += 8;
                continue;
            }
            if ((frow[x] & (F_CLIPPED | F_CAND)) != F_CAND) {
                x++;
                continue;
            }
            /* a run [a, b], and its first measured pixel fm */
            const int a = x;
            int fm = -1;
            for (; x < w && (frow[x] & (F_CLIPPED | F_CAND)) == F_CAND; x++)
                if (fm < 0 && (frow[x] & F_MEASURED))
                    fm = x;
            const int b = x - 1;
            /* join the runs above that touch it */
            while (k < nprev && prev[k].b < a - 1)
                k++;
            int c = -1;
            for (int q = k; q < nprev && prev[q].a <= b + 1; q++) {
                const int r = comp_root(cs, prev[q].c);
                c = c < 0 ? r : comp_join(cs, c, r);
            }
            if (c < 0) {
                if (ncomp == cap) {
                    comp *nc = cap <= SIZE_MAX / 2 / sizeof *nc ? realloc(cs, 2 * cap * sizeof *nc)
                                                                 : NULL;
                    if (!nc)
                        goto nomem;
                    cs = nc;
                    cap *= 2;
                }
                c = (int)ncomp++;
                cs[c] = (comp){.fy = -1, .up = c};
            }
            comp *o = &cs[c];
            o->ly = y;
            const int64_t len = b - a + 1, rx = (int64_t)(a + b) * len / 2;
            o->n += len;
            o->sx += rx;
            o->sy += len * y;
            o->sxx += sq_sum(b) - sq_sum(a - 1);
            o->syy += len * y * (int64_t)y;
            o->sxy += rx * y;
            if (fm >= 0 && (o->fy < 0 || (o->fy == y && fm < o->fx))) {
                o->fx = fm;
                o->fy = y;
            }
            cur[ncur++] = (crun){a, b, c};
        }
        /* the components of the row above with no run on this one are complete */
        for (int q = 0; q < nprev; q++) {
            comp *o = &cs[comp_root(cs, prev[q].c)];
            if (o->ly < y && !o->done) {
                o->done = 1;
                pore_judge(o, flags, w, h, &lim, &n_acc, &a_acc);
            }
        }
        crun *t = prev;
        prev = cur;
        cur = t;
        nprev = ncur;
    }
    free(prev);
    free(cur);
    /* those on the last row */
    for (size_t i = 0; i < ncomp; i++)
        if (cs[i].up == (int)i && !cs[i].done)
            pore_judge(&cs[i], flags, w, h, &lim, &n_acc, &a_acc);
    free(cs);
    *count = n_acc;
    *area_sum = a_acc;
    return SD_OK;
nomem:
    free(cs);
    free(prev);
    free(cur);
    return sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory");
}

/* ---- the flag pass ---- */

typedef struct flag_job {
    sd_measure *m;
    const uint8_t *mask;
    double border;
    int y0, y1;
    size_t n_mask, n_crush, n_clip;
    uint32_t *colcnt; /* w, own */
    uint8_t *cnt8;    /* w: the counts of the last rows, at most 255 (added to colcnt) */
    uint16_t *row16;  /* a compact image's row as 16-bit samples */
} flag_job;

/* Add the byte counts into colcnt and clear them. */
static void flush_counts(flag_job *j)
{
    for (int x = 0; x < j->m->w; x++) {
        j->colcnt[x] += j->cnt8[x];
        j->cnt8[x] = 0;
    }
}

/* Mask, clip and crush flags; the outermost pixel frame is never measured
 * (the Laplacian needs neighbours). A NULL mask is the image minus the
 * border. */
static void *flag_run(void *arg)
{
    flag_job *j = arg;
    sd_measure *m = j->m;
    const sd_image *img = m->img;
    const uint8_t *mask = j->mask;
    const double border = j->border;
    const int iw = img->width, ih = img->height, w = m->w;
    for (int y = j->y0; y < j->y1; y++) {
        if (y > j->y0 && (y - j->y0) % 255 == 0)
            flush_counts(j);
        const int Y = m->oy + y;
        const uint16_t *px = m->rows ? NULL : sd_image_row(img, m->ox, Y, w, j->row16);
        uint8_t *frow = m->flags + (size_t)y * (size_t)w;
        /* the in-image frame: the outermost pixels are never in the mask */
        const int xa = SD_MAX(0, 1 - m->ox), xb = SD_MIN(w, iw - 1 - m->ox);
        const int yin = Y > 0 && Y < ih - 1;
        const unsigned ext = m->rows ? m->rows[Y]
                                     : sd_row_extremes(px, 3 * (size_t)w, SD_CRUSH_LEVEL,
                                                       SD_CLIP_LEVEL);
        if (!ext) {
            /* no clipped and no crushed pixel on the row: no pixel test */
            const uint8_t *mrow = mask ? mask + (size_t)Y * (size_t)iw + m->ox : NULL;
            const int bin = Y >= border && Y < ih - border;
            size_t nm = 0;
            int x = 0;
#if defined(__SSE2__)
            /* the ROI's case (a mask): sixteen flags at a time in the frame */
            if (mrow && yin && xa < xb) {
                memset(frow, 0, (size_t)xa);
                x = xa;
                const __m128i z = _mm_setzero_si128(), one = _mm_set1_epi8(1);
                const __m128i ex = _mm_set1_epi8((char)SD_ROI_EXCLUDED);
                const __m128i fm = _mm_set1_epi8(F_MASK), fme = _mm_set1_epi8(F_MEASURED);
                __m128i nin = z; /* pixels in the mask, two 64-bit counts */
                for (; x + 16 <= xb; x += 16) {
                    const __m128i mv = _mm_loadu_si128((const __m128i *)(const void *)(mrow + x));
                    const __m128i out = _mm_cmpeq_epi8(mv, z);  /* not in */
                    const __m128i notm = _mm_or_si128(out, _mm_cmpeq_epi8(mv, ex));
                    const __m128i fl = _mm_or_si128(_mm_andnot_si128(out, fm),
                                                    _mm_andnot_si128(notm, fme));
                    _mm_storeu_si128((__m128i *)(void *)(frow + x), fl);
                    nin = _mm_add_epi64(nin, _mm_sad_epu8(_mm_andnot_si128(out, one), z));
                    /* measured as 0/1 into the byte counts */
                    __m128i *c = (__m128i *)(void *)(j->cnt8 + x);
                    _mm_storeu_si128(c, _mm_add_epi8(_mm_loadu_si128(c), _mm_andnot_si128(notm, one)));
                }
                nm += (size_t)_mm_cvtsi128_si64(nin) +
                      (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(nin, nin));
            }
#endif
            for (; x < w; x++) {
                const int X = m->ox + x;
                const int in = yin && x >= xa && x < xb &&
                               (mrow ? mrow[x] != 0 : bin && X >= border && X < iw - border);
                const int meas = in && (!mrow || mrow[x] != SD_ROI_EXCLUDED);
                frow[x] = (uint8_t)(in * F_MASK | meas * F_MEASURED);
                nm += (size_t)in;
                j->cnt8[x] += (uint8_t)meas;
            }
            j->n_mask += nm;
            continue;
        }
        if (!px)
            px = sd_image_row(img, m->ox, Y, w, j->row16);
        for (int x = 0; x < w; x++, px += 3) {
            const int X = m->ox + x;
            const size_t mi = (size_t)Y * (size_t)iw + (size_t)X;
            uint8_t f = sd_px_clipped(px) ? F_CLIPPED : 0;
            int in = mask ? mask[mi] != 0
                          : (X >= border && Y >= border && X < iw - border && Y < ih - border);
            if (in && yin && x >= xa && x < xb) {
                f |= F_MASK;
                j->n_mask++;
                if (px[0] <= SD_CRUSH_LEVEL && px[1] <= SD_CRUSH_LEVEL && px[2] <= SD_CRUSH_LEVEL)
                    j->n_crush++;
                if (f & F_CLIPPED)
                    j->n_clip++;
                else if (!mask || mask[mi] != SD_ROI_EXCLUDED) {
                    f |= F_MEASURED;
                    j->cnt8[x]++;
                }
            }
            frow[x] = f;
        }
    }
    flush_counts(j);
    return NULL;
}

/* Threads over rows; the counts are integers, so the sums do not depend on
 * the split. colcnt (w, zeroed) receives the measured pixels per column. */
static sd_status flag_pass(sd_ctx *ctx, sd_measure *m, const uint8_t *mask, double border,
                           uint32_t *colcnt)
{
    flag_job jobs[MAX_THREADS];
    memset(jobs, 0, sizeof jobs);
    const int nt = pass_threads(m, m->h);
    sd_status s = SD_OK;
    for (int t = 0; t < nt; t++) {
        flag_job *j = &jobs[t];
        j->m = m;
        j->mask = mask;
        j->border = border;
        band_rows(m, t, nt, &j->y0, &j->y1);
        j->colcnt = t == 0 ? colcnt : sd_calloc_array((size_t)m->w, sizeof(uint32_t));
        j->cnt8 = sd_calloc_array((size_t)m->w, 1);
        j->row16 = sd_alloc_array((size_t)m->w, 3 * sizeof(uint16_t));
        if (!j->colcnt || !j->cnt8 || !j->row16)
            s = SD_ERR_NOMEM;
    }
    if (s == SD_OK) {
        sd_run_jobs(nt, flag_run, jobs, sizeof jobs[0]);
        for (int t = 0; t < nt; t++) {
            m->n_mask += jobs[t].n_mask;
            m->n_crush += jobs[t].n_crush;
            m->n_clip += jobs[t].n_clip;
            for (int x = 0; t > 0 && x < m->w; x++)
                colcnt[x] += jobs[t].colcnt[x];
        }
    }
    for (int t = 0; t < nt; t++) {
        if (t > 0)
            free(jobs[t].colcnt);
        free(jobs[t].cnt8);
        free(jobs[t].row16);
    }
    if (s != SD_OK)
        return sd_fail(ctx, s, "metrics: out of memory");
    return SD_OK;
}

/* ---- the pass over the D plane (the exact median and MAD), threaded ---- */

/* The pore candidates the D pass marks before T_pore is known: T_pore
 * (as float) lies in [t_lo, t_hi] (from the bounds [A, B] of the MAD), so
 * D > t_hi is a candidate (marked) and D <= t_lo is not; the few pixels
 * between are listed (window pixel index) and settled once T_pore is
 * known. A list past its limit (max) is abandoned (over): mark_candidates
 * then marks D > T_pore over the whole window. */
typedef struct pend_list {
    size_t *i;
    size_t n, cap, max;
    int over;
} pend_list;

static void pend_push(pend_list *l, size_t i)
{
    if (l->over)
        return;
    if (l->n == l->cap) {
        const size_t cap = SD_MAX(2 * l->cap, (size_t)1024);
        size_t *ni = cap <= l->max ? realloc(l->i, cap * sizeof *ni) : NULL;
        if (!ni) {
            l->over = 1;
            return;
        }
        l->i = ni;
        l->cap = cap;
    }
    l->i[l->n++] = i;
}

typedef struct dpass_job {
    const sd_measure *m;
    const sd_dsp *dsp;
    int y0, y1;
    const sd_mad_plan *plan;
    collector c;       /* own buffer (the plan's ranges, not its bins) */
    float *scratch;    /* a row */
    float t_lo, t_hi;  /* the candidates (pend_list) */
    pend_list pend;
} dpass_job;

/* Mark D > t_hi in row y; list the x with t_lo < D <= t_hi. */
static void mark_row(dpass_job *j, int y, const float *d, uint8_t *f)
{
    const int w = j->m->w;
    const float lo = j->t_lo, hi = j->t_hi;
    j->dsp->row_flag_above(d, NULL, hi, f, F_CAND, w);
    if (!(hi > lo))
        return;
    const size_t base = (size_t)y * (size_t)w;
    int x = 0;
#if defined(__SSE2__)
    /* eight at a time: almost none is in (t_lo, t_hi] */
    const __m128 lv = _mm_set1_ps(lo), hv = _mm_set1_ps(hi);
    for (; x + 8 <= w; x += 8) {
        const __m128 v0 = _mm_loadu_ps(d + x), v1 = _mm_loadu_ps(d + x + 4);
        const int k = _mm_movemask_ps(_mm_and_ps(_mm_cmpgt_ps(v0, lv), _mm_cmple_ps(v0, hv))) |
                      _mm_movemask_ps(_mm_and_ps(_mm_cmpgt_ps(v1, lv), _mm_cmple_ps(v1, hv))) << 4;
        for (int m = k; m; m &= m - 1)
            pend_push(&j->pend, base + (size_t)(x + __builtin_ctz((unsigned)m)));
    }
#endif
    for (; x < w; x++)
        if (d[x] > lo && d[x] <= hi)
            pend_push(&j->pend, base + (size_t)x);
}

static void *dpass_run(void *arg)
{
    dpass_job *j = arg;
    const sd_measure *m = j->m;
    const int w = m->w;
    for (int y = j->y0; y < j->y1; y++) {
        const float *d = sd_plane_row(&m->d, y);
        uint8_t *f = m->flags + (size_t)y * (size_t)w;
        /* the values of every range of the plan in one pass */
        size_t k = j->dsp->row_hist_select(d, f, F_MEASURED, w, NULL,
                                           (const unsigned (*)[2])j->plan->r, j->plan->nr, NULL,
                                           j->scratch);
        k = SD_MIN(k, j->c.cap - j->c.n);
        memcpy(j->c.v + j->c.n, j->scratch, k * sizeof(float));
        j->c.n += k;
        mark_row(j, y, d, f);
    }
    return NULL;
}

/* T_pore for a MAD (the flags compare D with it as a float). */
static double pore_threshold(const sd_metric_params *p, double mad)
{
    return SD_MAX(p->pore_floor, p->pore_k * 1.4826 * mad);
}

/* One pass over D collecting the measured values in the plan's bins into v
 * (room for plan->cap), and marking the pore candidates that do not depend
 * on where in [A, B] the MAD falls; the others into *pend. */
static sd_status d_pass(sd_ctx *ctx, sd_measure *m, const sd_mad_plan *plan, float *v,
                        pend_list *pend)
{
    dpass_job jobs[MAX_THREADS];
    memset(jobs, 0, sizeof jobs);
    const int nt = pass_threads(m, m->h);
    sd_status s = SD_OK;
    for (int t = 0; t < nt; t++) {
        dpass_job *j = &jobs[t];
        j->m = m;
        band_rows(m, t, nt, &j->y0, &j->y1);
        j->dsp = sd_dsp_active();
        j->plan = plan;
        j->c.cap = plan->cap;
        j->c.v = sd_alloc_array(plan->cap ? plan->cap : 1, sizeof(float));
        j->scratch = sd_alloc_array((size_t)m->w, sizeof(float));
        j->t_lo = (float)pore_threshold(&m->p, plan->A);
        j->t_hi = (float)pore_threshold(&m->p, plan->B);
        /* a band lists at most 1/64 of its pixels (beyond that one more
         * pass costs less) */
        j->pend.max = (size_t)m->w * (size_t)(j->y1 - j->y0) / 64 + 1024;
        if (!j->c.v || !j->scratch)
            s = SD_ERR_NOMEM;
    }
    if (s == SD_OK) {
        sd_run_jobs(nt, dpass_run, jobs, sizeof jobs[0]);
        size_t n = 0;
        for (int t = 0; t < nt; t++) {
            const size_t add = SD_MIN(jobs[t].c.n, plan->cap - n);
            memcpy(v + n, jobs[t].c.v, add * sizeof(float));
            n += add;
        }
        /* the lists, bands in order */
        pend->max = SIZE_MAX / sizeof(size_t);
        for (int t = 0; t < nt; t++) {
            pend->over |= jobs[t].pend.over;
            for (size_t i = 0; !pend->over && i < jobs[t].pend.n; i++)
                pend_push(pend, jobs[t].pend.i[i]);
        }
    }
    for (int t = 0; t < nt; t++) {
        sd_free(jobs[t].c.v);
        free(jobs[t].scratch);
        free(jobs[t].pend.i);
    }
    if (s != SD_OK)
        return sd_fail(ctx, s, "metrics: out of memory");
    return SD_OK;
}

/* ---- predicting the a* median ---- */

/* The bins of the a* median and of the median + red_delta, predicted from
 * the measured pixels of every PREDICT_STEP-th row: the sample's 48th to
 * 52nd percentiles (the bins the sample's histogram puts them in, made on
 * the measure's threads), widened by one bin more each side. The
 * fused pass gathers the a* values in those bins; sd_measure_thresholds
 * uses them when the exact median's bins fall inside (they almost always
 * do: the sample has hundreds of thousands of values), else it runs the
 * colour pass. Either way the median is the exact one. */
#define PREDICT_STEP 16
typedef struct predict_job {
    const sd_measure *m;
    int y0, y1;    /* sampled rows in [y0, y1) */
    uint32_t *hist; /* own HBINS */
    float *a;       /* 2 rows: a*, Y */
} predict_job;

static void *predict_run(void *arg)
{
    predict_job *j = arg;
    const sd_measure *m = j->m;
    const sd_dsp *dsp = sd_dsp_active();
    const int w = m->w;
    for (int y = j->y0; y < j->y1; y++) {
        if (y % PREDICT_STEP != PREDICT_STEP / 2)
            continue;
        const uint8_t *f = m->flags + (size_t)y * (size_t)w;
        if (row_has_measured(f, w)) {
            sd_image_colour(dsp, m->img, m->ox, m->oy + y, w, m->g, NULL, j->a, NULL, j->a + w);
            dsp->row_hist(j->a, f, F_MEASURED, w, NULL, j->hist);
        }
    }
    return NULL;
}

static void predict_a_median(sd_measure *m)
{
    const int w = m->w;
    predict_job jobs[MAX_THREADS];
    const int nt = pass_threads(m, m->h);
    int ok = 1;
    for (int t = 0; t < nt; t++) {
        jobs[t] = (predict_job){.m = m};
        band_rows(m, t, nt, &jobs[t].y0, &jobs[t].y1);
        jobs[t].hist = sd_calloc_array(HBINS, sizeof(uint32_t));
        jobs[t].a = sd_alloc_array(2 * (size_t)w, sizeof(float));
        ok = ok && jobs[t].hist && jobs[t].a;
    }
    if (ok) {
        sd_run_jobs(nt, predict_run, jobs, sizeof jobs[0]);
        /* the sample's histogram (integers: any order) */
        uint32_t *hist = jobs[0].hist;
        size_t ns = 0;
        for (unsigned b = 0; b < HBINS; b++) {
            for (int t = 1; t < nt; t++)
                hist[b] += jobs[t].hist[b];
            ns += hist[b];
        }
        if (ns >= 1000) {
            /* the bins of the sample's 48th and 52nd percentiles */
            unsigned lo, hi;
            size_t below;
            sd_rank_bins(hist, ns * 48 / 100, ns * 52 / 100, &lo, &hi, &below);
            m->pm_lo = lo > 0 ? lo - 1 : 0;
            m->pm_hi = hi < HBINS - 1 ? hi + 1 : HBINS - 1;
            const double rlo = sd_key_float((uint32_t)m->pm_lo << 16) + m->p.red_delta;
            const double rhi =
                sd_key_float(((uint32_t)m->pm_hi << 16) | 0xffffu) + m->p.red_delta;
            const unsigned r0 = isfinite(rlo) ? sd_fbin((float)rlo) : 0;
            const unsigned r1 = isfinite(rhi) ? sd_fbin((float)rhi) : HBINS - 1;
            m->pr_lo = r0 > 0 ? r0 - 1 : 0;
            m->pr_hi = r1 < HBINS - 1 ? r1 + 1 : HBINS - 1;
            /* their union, ascending, merged when they touch */
            const int pr_first = m->pr_lo < m->pm_lo;
            const unsigned a0 = pr_first ? m->pr_lo : m->pm_lo, a1 = pr_first ? m->pr_hi : m->pm_hi;
            const unsigned b0 = pr_first ? m->pm_lo : m->pr_lo, b1 = pr_first ? m->pm_hi : m->pr_hi;
            m->gr[0][0] = a0;
            if (b0 <= a1 + 1) {
                m->gr[0][1] = SD_MAX(a1, b1);
                m->ng = 1;
            } else {
                m->gr[0][1] = a1;
                m->gr[1][0] = b0;
                m->gr[1][1] = b1;
                m->ng = 2;
            }
            m->pre = 1;
        }
    }
    for (int t = 0; t < nt; t++) {
        free(jobs[t].hist);
        free(jobs[t].a);
    }
}

/* Fill collector c from the gathered values g that fall in c's bins;
 * whether all of them were there (g covered c's bins). */
static int collect_gathered(collector *c, const fvec *g)
{
    /* by the row_select kernel, in pieces, every value flagged */
    enum { PIECE = 1024 };
    uint8_t f[PIECE];
    float scratch[PIECE];
    memset(f, F_MEASURED, sizeof f);
    const sd_dsp *dsp = sd_dsp_active();
    for (size_t i = 0; i < g->n && c->n < c->cap; i += PIECE)
        collect_row(c, dsp, g->v + i, f, (int)SD_MIN((size_t)PIECE, g->n - i), NULL, scratch);
    return c->n == c->cap;
}

/* ---- the phases ---- */

/* The first index in [a, b) with p[i] != 0, or -1 (eight bytes at a time). */
static int first_set(const uint8_t *p, int a, int b)
{
    int i = a;
    for (; i + 8 <= b; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (v)
            break;
    }
    for (; i < b; i++)
        if (p[i])
            return i;
    return -1;
}

/* The last index in [a, b) with p[i] != 0, or -1 (eight bytes at a time). */
static int last_set(const uint8_t *p, int a, int b)
{
    int i = b;
    for (; i - 8 >= a; i -= 8) {
        uint64_t v;
        memcpy(&v, p + i - 8, 8);
        if (v)
            break;
    }
    for (; i > a; i--)
        if (p[i - 1])
            return i - 1;
    return -1;
}

static void fix_thresholds(sd_measure *m, double t_red, double t_pore)
{
    m->fixed = 1;
    m->t_red = t_red;
    m->t_red_lo = (float)t_red;
    if ((double)m->t_red_lo > t_red)
        m->t_red_lo = nextafterf(m->t_red_lo, -INFINITY);
    m->t_pore = (float)t_pore;
}

void sd_measure_free(sd_measure *m)
{
    if (!m)
        return;
    sd_free(m->flags);
    sd_plane_release(&m->d);
    free(m->hist_a);
    free(m->hist_d);
    fvec_free(&m->gath);
    free(m);
}

const sd_plane *sd_measure_d(const sd_measure *m, int *ox, int *oy)
{
    *ox = m->ox;
    *oy = m->oy;
    return m->fixed || !m->d.p ? NULL : &m->d;
}

sd_status sd_measure_begin(sd_ctx *ctx, const sd_image *img, const uint8_t *mask,
                           const uint8_t *rows, double scale, const double gains[3],
                           const sd_metric_params *p, const sd_thresholds *thr,
                           sd_measure **out)
{
    *out = NULL;
    if (!sd_image_has_pixels(img) || !p)
        return sd_fail(ctx, SD_ERR_ARG, "metrics: missing argument");
    if (thr && !thresholds_ok(thr))
        return sd_fail(ctx, SD_ERR_ARG, "metrics: invalid fixed thresholds");
    if (!(scale >= 0.05 && scale <= 20))
        return sd_fail(ctx, SD_ERR_ARG, "metrics: scale %g out of range [0.05, 20]", scale);
    if (!params_ok(p))
        return sd_fail(ctx, SD_ERR_ARG, "metrics: invalid metric parameters");
    double g[3] = {1, 1, 1};
    for (int c = 0; gains && c < 3; c++) {
        if (!(gains[c] > 0 && isfinite(gains[c])))
            return sd_fail(ctx, SD_ERR_ARG, "metrics: gain %g is not a positive number",
                           gains[c]);
        g[c] = gains[c];
    }
    const int iw = img->width, ih = img->height;
    const double border = ceil(sd_metric_border(p) * scale);
    if (iw < 2 * border + 1 || ih < 2 * border + 1)
        return sd_fail(ctx, SD_ERR_TOO_SMALL,
                       "metrics: image is %dx%d, too small for the filters (at least %.0fx%.0f)",
                       iw, ih, 2 * border + 1, 2 * border + 1);
    const double st = p->sigma_t * scale, sp = p->sigma_p * scale, ss = p->sigma_s * scale;
    const int semi = semi_ok(st, sp, iw, ih);

    /* Work on the mask's bounding box plus the widest blur's radius: inside
     * the mask every blurred value is the one the whole frame would give. */
    int ox = 0, oy = 0, w = iw, h = ih;
    if (mask) {
        int mx0 = iw, my0 = ih, mx1 = -1, my1 = -1;
        for (int y = 1; y < ih - 1; y++) {
            const uint8_t *mrow = mask + (size_t)y * (size_t)iw;
            int a = first_set(mrow, 1, iw - 1);
            if (a < 0)
                continue;
            const int b = last_set(mrow, a, iw - 1);
            mx0 = SD_MIN(mx0, a);
            mx1 = SD_MAX(mx1, b);
            my0 = SD_MIN(my0, y);
            my1 = y;
        }
        if (mx1 < 0)
            return sd_fail(ctx, SD_ERR_TOO_SMALL, "metrics: the region is empty");
        int r = SD_MAX(gp_reach(st, sp, semi), sd_gauss_radius(SD_MAX(sp, SD_MAX(st, ss)))) + 2;
        /* an even origin: the decimated grid is the image's even pixels,
         * as on the whole frame */
        ox = SD_MAX(0, mx0 - r) & ~1;
        oy = SD_MAX(0, my0 - r) & ~1;
        w = SD_MIN(iw - 1, mx1 + r) - ox + 1;
        h = SD_MIN(ih - 1, my1 + r) - oy + 1;
    }

    sd_measure *m = calloc(1, sizeof *m);
    if (!m)
        return sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory");
    m->img = img;
    m->rows = rows;
    m->p = *p;
    m->scale = scale;
    m->s2 = scale * scale;
    for (int c = 0; c < 3; c++)
        m->g[c] = (float)g[c];
    m->ox = ox;
    m->oy = oy;
    m->w = w;
    m->h = h;
    m->nthreads = sd_ctx_threads(ctx);
    m->semi = semi;
    if (thr)
        fix_thresholds(m, thr->t_red, thr->t_pore);
    sd_status s;
    const size_t npx = (size_t)w * (size_t)h;
    uint32_t *colcnt = sd_calloc_array((size_t)w, sizeof *colcnt);
    m->flags = sd_alloc_array(npx, 1);
    if (!m->fixed) {
        m->hist_a = sd_calloc_array(HBINS, sizeof(uint32_t));
        m->hist_d = sd_calloc_array(HBINS, sizeof(uint32_t));
    }
    if (!colcnt || !m->flags || (!m->fixed && (!m->hist_a || !m->hist_d))) {
        s = sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory for %dx%d", w, h);
        goto fail;
    }
    if (!m->fixed && (s = sd_plane_alloc(ctx, &m->d, w, h)) != SD_OK)
        goto fail;

    if ((s = flag_pass(ctx, m, mask, border, colcnt)) != SD_OK)
        goto fail;
    for (int x = 0; x < w; x++)
        m->n += colcnt[x];
    if (m->n_mask == 0 || m->n == 0) {
        s = sd_fail(ctx, SD_ERR_TOO_SMALL, "metrics: %s",
                    m->n_mask ? "every pixel of the region is clipped" : "the region is empty");
        goto fail;
    }
    /* lighting asymmetry: split at the centroid column of the measured pixels */
    {
        double sxc = 0;
        for (int x = 0; x < w; x++)
            sxc += (double)x * (double)colcnt[x];
        double cx = sxc / (double)m->n;
        m->xs = 0;
        while (m->xs < w && m->xs < cx)
            m->xs++;
        for (int x = 0; x < w; x++) {
            if (x < m->xs)
                m->n_left += colcnt[x];
            else
                m->n_right += colcnt[x];
        }
    }
    free(colcnt);
    colcnt = NULL;
    if (!m->fixed)
        predict_a_median(m);
    if ((s = fused_pass(ctx, m)) != SD_OK)
        goto fail;
    *out = m;
    return SD_OK;
fail:
    free(colcnt);
    sd_measure_free(m);
    return s;
}

sd_status sd_measure_thresholds(sd_ctx *ctx, sd_measure *m, sd_thresholds *thr)
{
    const size_t n = m->n;
    if (m->fixed)
        return sd_fail(ctx, SD_ERR_ARG, "metrics: the thresholds are already fixed");
    /* The a* median's collector, and with it the red count finish needs:
     * the a* values of the bins T_red can fall in. Both come from the
     * values the fused pass gathered in the predicted bins (hist_a lumped:
     * exact at and below those bins, so the bins it names are the true
     * ones when they lie there, and never lie there otherwise), or else
     * from one colour pass (after one more for the histogram). */
    collector ca = {0}, cr = {0};
    sd_status s = SD_OK;
    int got = 0;
    if (m->hist_state != A_NONE) {
        if (!a_collectors_init(m, &ca, &cr))
            return sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory");
        got = m->pre && ca.b_lo >= m->pm_lo && ca.b_hi <= m->pm_hi && cr.b_lo >= m->pr_lo &&
              cr.b_hi <= m->pr_hi && collect_gathered(&ca, &m->gath) &&
              collect_gathered(&cr, &m->gath);
    }
    if (!got) {
        /* the prediction missed */
        sd_free(ca.v);
        sd_free(cr.v);
        ca.v = cr.v = NULL;
        if ((s = full_hist_a(ctx, m)) == SD_OK) {
            if (!a_collectors_init(m, &ca, &cr))
                s = sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory");
            else
                s = colour_pass(ctx, m, (colour_want){.ca = &ca, .cr = &cr});
        }
    }
    fvec_free(&m->gath);
    m->pre = 0;
    if (s != SD_OK) {
        sd_free(ca.v);
        sd_free(cr.v);
        return s;
    }
    double t_red = collector_median(&ca, n) + m->p.red_delta;
    sd_free(ca.v);
    size_t red = red_count(m->hist_a, &cr, t_red);
    sd_free(cr.v);

    double t_pore = m->p.pore_contrast;
    pend_list pend = {0};
    int marked = 0; /* 1: by the D pass, but for the pixels in pend; 2: in part */
    if (!(t_pore > 0)) {
        /* the median of D and the MAD (|D - median| as float, as the
         * selection over the values would see them): D's histogram names
         * the few bins that can hold them, one pass collects those */
        sd_mad_plan plan;
        sd_mad_plan_init(&plan, m->hist_d, n);
        float *v = sd_alloc_array(plan.cap ? plan.cap : 1, sizeof(float));
        if (!v)
            return sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory");
        if ((s = d_pass(ctx, m, &plan, v, &pend)) != SD_OK) {
            sd_free(v);
            free(pend.i);
            return s;
        }
        double med;
        const double mad = sd_mad_finish(&plan, v, &med);
        sd_free(v);
        t_pore = pore_threshold(&m->p, mad);
        marked = pend.over || !(mad >= plan.A && mad <= plan.B) ? 2 : 1;
    }
    thr->t_red = t_red;
    thr->t_pore = t_pore;
    thr->set = 1;
    /* fixed from here on: what finish needs stays in the flags and one
     * count, D and the histograms go */
    fix_thresholds(m, t_red, t_pore);
    m->red = red;
    if (marked == 1) {
        /* the pixels the D pass left open */
        for (size_t i = 0; i < pend.n; i++) {
            const size_t k = pend.i[i];
            if (sd_plane_row(&m->d, (int)(k / (size_t)m->w))[k % (size_t)m->w] > m->t_pore)
                m->flags[k] |= F_CAND;
        }
    } else {
        /* none marked yet; or a list given up (or T_pore outside [t_lo,
         * t_hi], which select.c rules out): from scratch */
        mark_candidates(m, m->t_pore);
    }
    free(pend.i);
    sd_plane_release(&m->d);
    free(m->hist_a);
    free(m->hist_d);
    m->hist_a = m->hist_d = NULL;
    return SD_OK;
}

sd_status sd_measure_finish(sd_ctx *ctx, sd_measure *m, const sd_thresholds *thr,
                            sd_metrics *out)
{
    memset(out, 0, sizeof *out);
    out->pore_density_per_cm2 = NAN;
    out->pore_mean_area_mm2 = NAN;
    if (!thr->set || !thresholds_ok(thr))
        return sd_fail(ctx, SD_ERR_ARG, "metrics: invalid fixed thresholds");
    if (m->fixed && !(thr->t_red == m->t_red && (float)thr->t_pore == m->t_pore))
        return sd_fail(ctx, SD_ERR_ARG, "metrics: thresholds differ from the fixed ones");
    const size_t n = m->n;
    const double s2 = m->s2;
    out->pixels = n;
    out->clipped_fraction = (double)m->n_clip / (double)m->n_mask;
    out->crushed_fraction = (double)m->n_crush / (double)m->n_mask;
    out->mean_a = m->sum_a / (double)n;
    out->erythema_index = m->sum_e / (double)n;
    out->asymmetry = m->n_left && m->n_right
                         ? fabs(m->lam_l / (double)m->n_left - m->lam_r / (double)m->n_right)
                         : 0.0;
    out->ra = 100.0 * m->tex[1] / (double)n;
    out->rq = 100.0 * sqrt(m->tex[2] / (double)n);
    double mean = m->lap[0] / (double)n;
    out->sharpness = SD_MAX(0.0, m->lap[1] / (double)n - mean * mean) * s2 * s2;
    out->mean_lambda = (m->lam_l + m->lam_r) / (double)n;
    /* focus measure: energy of Lambda - G_s over energy of H = Lambda - G_t */
    out->focus_measure = m->tex[2] > 0 ? m->fine2 / m->tex[2] : NAN;

    /* the red area: counted by begin or thresholds, or one colour pass
     * over the bins of T_red */
    size_t red;
    sd_status s = SD_OK;
    if (m->fixed) {
        red = m->red;
    } else {
        collector cr;
        if ((s = full_hist_a(ctx, m)) != SD_OK)
            return s;
        if (!red_collector_init(&cr, m->hist_a, thr->t_red, thr->t_red))
            return sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory");
        s = colour_pass(ctx, m, (colour_want){.cr = &cr});
        red = red_count(m->hist_a, &cr, thr->t_red);
        sd_free(cr.v);
        if (s != SD_OK)
            return s;
    }
    out->red_area_fraction = (double)red / (double)n;

    size_t count = 0;
    double area_sum = 0;
    const sd_metric_params *p = &m->p;
    if (!m->fixed)
        mark_candidates(m, (float)thr->t_pore);
    if ((s = sd_pore_components(ctx, m->flags, m->w, m->h, p->pore_area_min * s2,
                                p->pore_area_max * s2, p->pore_max_elongation, &count,
                                &area_sum)) != SD_OK)
        return s;
    out->pore_count = (double)count;
    out->pore_area_fraction = area_sum / (double)n;
    out->pore_mean_area_px = count ? area_sum / (double)count / s2 : 0.0;
    if (p->px_per_mm > 0) {
        double roi_mm2 = (double)n / s2 / (p->px_per_mm * p->px_per_mm);
        out->pore_density_per_cm2 = (double)count / (roi_mm2 / 100.0);
        out->pore_mean_area_mm2 = out->pore_mean_area_px / (p->px_per_mm * p->px_per_mm);
    }
    return SD_OK;
}

sd_status sd_image_measure(sd_ctx *ctx, const sd_image *img, const uint8_t *mask, double scale,
                           const double gains[3], const sd_metric_params *p,
                           sd_thresholds *thr, sd_metrics *out)
{
    if (!sd_image_has_pixels(img) || !p || !thr || !out)
        return sd_fail(ctx, SD_ERR_ARG, "metrics: missing argument");
    memset(out, 0, sizeof *out);
    out->pore_density_per_cm2 = NAN;
    out->pore_mean_area_mm2 = NAN;
    if (thr->set && !thresholds_ok(thr))
        return sd_fail(ctx, SD_ERR_ARG, "metrics: invalid fixed thresholds");
    sd_measure *m = NULL;
    sd_thresholds t = *thr;
    sd_status s = sd_measure_begin(ctx, img, mask, NULL, scale, gains, p, t.set ? &t : NULL, &m);
    if (s == SD_OK && !t.set)
        s = sd_measure_thresholds(ctx, m, &t);
    if (s == SD_OK)
        s = sd_measure_finish(ctx, m, &t, out);
    sd_measure_free(m);
    if (s == SD_OK)
        *thr = t;
    return s;
}

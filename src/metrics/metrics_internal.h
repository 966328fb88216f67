/*
 * Helpers shared by the metrics and normalize stages (library-internal):
 * the clip test, the 2x3 transform (kept here so these stages do not depend
 * on the align stage's object code), exact order statistics, and bilinear
 * sampling of a float plane.
 */
#ifndef SKINDELTA_METRICS_INTERNAL_H
#define SKINDELTA_METRICS_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "skindelta/align.h"
#include "skindelta/core.h"

/* A sample at or above 250 on the 8-bit scale is clipped. */
#define SD_CLIP_LEVEL (250u * 257u)
/* All samples at or below 5 on the 8-bit scale: crushed shadow. */
#define SD_CRUSH_LEVEL (5u * 257u)

static inline int sd_px_clipped(const uint16_t *p)
{
    return p[0] >= SD_CLIP_LEVEL || p[1] >= SD_CLIP_LEVEL || p[2] >= SD_CLIP_LEVEL;
}

/* Whether any of the n samples p[i] is >= hi (bit 0 of the result) or
 * <= lo (bit 1): a sequential pass with no branch per sample, so the
 * per-pixel clip and crush tests can be skipped on rows without either. */
static inline unsigned sd_row_extremes(const uint16_t *p, size_t n, unsigned lo, unsigned hi)
{
    size_t i = 0;
    unsigned any = 0;
#if defined(__SSE2__)
    /* v >= hi exactly when v -sat (hi - 1) != 0; v <= lo when (lo + 1) -sat v != 0 */
    const __m128i hm1 = _mm_set1_epi16((short)(hi - 1)), lp1 = _mm_set1_epi16((short)(lo + 1));
    __m128i ah = _mm_setzero_si128(), al = _mm_setzero_si128();
    for (; i + 8 <= n; i += 8) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        ah = _mm_or_si128(ah, _mm_subs_epu16(x, hm1));
        al = _mm_or_si128(al, _mm_subs_epu16(lp1, x));
    }
    const __m128i z = _mm_setzero_si128();
    any |= _mm_movemask_epi8(_mm_cmpeq_epi16(ah, z)) != 0xffff;
    any |= (unsigned)(_mm_movemask_epi8(_mm_cmpeq_epi16(al, z)) != 0xffff) << 1;
#endif
    for (; i < n; i++)
        any |= (p[i] >= hi) | (unsigned)(p[i] <= lo) << 1;
    return any;
}

/* sd_row_extremes of 8-bit samples against 8-bit levels (a compact
 * image's row: v * 257 >= 257 h <=> v >= h, the same for lo). */
static inline unsigned sd_row_extremes8(const uint8_t *p, size_t n, unsigned lo, unsigned hi)
{
    size_t i = 0;
    unsigned any = 0;
#if defined(__SSE2__)
    const __m128i hm1 = _mm_set1_epi8((char)(hi - 1)), lp1 = _mm_set1_epi8((char)(lo + 1));
    __m128i ah = _mm_setzero_si128(), al = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
        const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        ah = _mm_or_si128(ah, _mm_subs_epu8(x, hm1));
        al = _mm_or_si128(al, _mm_subs_epu8(lp1, x));
    }
    const __m128i z = _mm_setzero_si128();
    any |= _mm_movemask_epi8(_mm_cmpeq_epi8(ah, z)) != 0xffff;
    any |= (unsigned)(_mm_movemask_epi8(_mm_cmpeq_epi8(al, z)) != 0xffff) << 1;
#endif
    for (; i < n; i++)
        any |= (p[i] >= hi) | (unsigned)(p[i] <= lo) << 1;
    return any;
}

/* sd_row_marks of row y of img, from its own samples in either storage
 * (a compact row's bytes are not widened). */
unsigned sd_image_row_marks(const sd_image *img, int y);

/* Nearest pixel index of a coordinate (pixel centres at integers). */
static inline long sd_nearest(double v)
{
    return (long)floor(v + 0.5);
}

/* Exact k-th smallest (0-based) of v[0..n-1]; permutes v, leaving it
 * partitioned: v[0..k) <= v[k] <= v(k..n). n > 0, k < n. */
float sd_select_kth(float *v, size_t n, size_t k);
/* The k-th smallest of v[0..n-1], or with `pair` the mean of the k-1-th
 * and the k-th (1 <= k < n); one selection either way; permutes v. */
double sd_select_middle(float *v, size_t n, size_t k, int pair);
/* Exact median (mean of the two middle values when n is even); permutes v. */
double sd_select_median(float *v, size_t n);

/* The bins of a 65536-bin key histogram (sd_fbin) holding ranks k_lo and
 * k_hi (0-based, k_lo <= k_hi < the total count), and the count below b_lo. */
void sd_rank_bins(const uint32_t *hist, size_t k_lo, size_t k_hi, unsigned *b_lo, unsigned *b_hi,
                  size_t *below);

/* The exact median and MAD (median of |v - median| as sd_hist_value rounds
 * it; sd_select_median's definitions) of n values known by their key
 * histogram, from one pass collecting the values of a few bins: those of
 * the median and those whose distances can hold the MAD's ranks (select.c
 * says why that is exact). */
typedef struct sd_mad_plan {
    size_t n;
    unsigned m_lo, m_hi;   /* the median's bins */
    size_t m_below, n_mid; /* values below m_lo, in [m_lo, m_hi] */
    double L, U;           /* the median lies in [L, U] */
    float A, B;            /* the MAD's middle ranks lie in [A, B] */
    size_t below;          /* values not collected with distance < A */
    unsigned r[3][2];      /* the bins to collect: nr ranges [lo, hi], ascending */
    int nr;
    size_t cap;            /* values in them */
} sd_mad_plan;

/* The plan from hist (its counts sum to n >= 1). */
void sd_mad_plan_init(sd_mad_plan *p, const uint32_t *hist, size_t n);
/* The MAD, and the median into *med, from v: every one of the p->cap
 * values in the plan's ranges, any order (permuted, overwritten). */
double sd_mad_finish(const sd_mad_plan *p, float *v, double *med);


#endif

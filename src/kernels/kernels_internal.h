/*
 * The kernel dispatch table (library-internal; the tests include it to run
 * every ISA's version against the scalar reference).
 *
 * One table per level, each filled with the best version that level has and
 * the scalar version elsewhere; sd_dsp_active() returns the active one.
 */
#ifndef SKINDELTA_KERNELS_INTERNAL_H
#define SKINDELTA_KERNELS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "skindelta/align.h"
#include "skindelta/kernels.h"

/* The order-preserving 32-bit key of a float (not NaN): keys compare as
 * the floats do. Its top 16 bits are the bin of the 65536-bin histograms
 * behind the exact medians (sign, exponent and 7 mantissa bits). */
static inline uint32_t sd_fkey(float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}
static inline unsigned sd_fbin(float v) { return sd_fkey(v) >> 16; }
/* The number of bins (of sd_fbin, or of a key's low 16 bits). */
#define SD_FBINS 65536u
/* The float of a key (sd_fkey's inverse). */
static inline float sd_key_float(uint32_t k)
{
    uint32_t u = k & 0x80000000u ? k & 0x7fffffffu : ~k;
    float v;
    memcpy(&v, &u, 4);
    return v;
}
/* The value the histogram and selection kernels see: v itself, or, with a
 * centre c, |v - c| computed in double and rounded to float. */
static inline float sd_hist_value(float v, const double *c)
{
    return c ? (float)__builtin_fabs((double)v - *c) : v;
}

/* Symmetric FIR over 2r+1 input rows, vectorized across x:
 *   out[x] = k[0] * in[r][x] + sum_{i=1..r} k[i] * (in[r-i][x] + in[r+i][x])
 * summed in that order (i = 1, 2, ..., r). The horizontal pass calls it with
 * in[j] = padded_row + j, the vertical pass with in[j] = ring row j. No
 * alignment is required; out may not alias any input. Scalar and SSE2 use
 * mul then add (bit-identical to each other); AVX2 and AVX-512 fuse them
 * (bit-identical to each other, a few ulp from scalar). */
typedef void (*sd_blur_taps_fn)(const float *const *in, const float *k, int r, float *out,
                                int n);
/* blur_taps for four consecutive output rows: out[j] = the taps of in[j ..
 * j + 2r] (centre in[j + r]), j = 0..3, so in holds 2r + 4 rows; r >= 1.
 * Each input row is loaded once per vector of columns and slides through
 * registers (a quarter of the loads of four blur_taps calls), with each
 * output's arithmetic exactly that of the level's blur_taps: bit-identical
 * to four calls of it. Levels without one leave the entry NULL. */
typedef void (*sd_blur_taps4_fn)(const float *const *in, const float *k, int r,
                                 float *const *out, int n);
/* The horizontal taps of one contiguous row, for one or two kernels at
 * once: o1[x] = the blur_taps of in[i] = c + x - r1 + i (centre c[x]) with
 * k1, r1, and when o2 is not NULL, o2[x] the same with k2, r2 (r2 <= r1);
 * reads c[-r1 .. n - 1 + r1]. Each output is bit-identical to the level's
 * blur_taps with those pointers (the same arithmetic per output: the two
 * kernels share the sums of the pairs and the AVX-512 kernel builds one
 * side of them by lane shifts, not unaligned loads, docs/kernels.md).
 * Levels without one leave the entry NULL (sd_blur_row2: blur_taps). */
typedef void (*sd_blur_row2_fn)(const float *c, const float *k1, int r1, float *o1,
                                const float *k2, int r2, float *o2, int n);
/* Lambda of n interleaved 16-bit sRGB pixels (the public sd_row_lambda). */
typedef void (*sd_row_lambda_fn)(const uint16_t *rgb, int n, float *out);
/* out[i] = ln(in[i]) for positive normal in[i] (the log inside lambda). */
typedef void (*sd_row_log_fn)(const float *in, int n, float *out);

/* Per-pixel colour of n interleaved 16-bit sRGB pixels with linear gains
 * g[3] (R = g[0] lut[r], ...): lam = ln(Y + 1/4096), a = CIELAB a*,
 * e = 100 log10(max(R, 1/4096) / max(G, 1/4096)), y = Y. a and y are
 * always written; lam and e may be NULL (not computed: the passes that only
 * need a* and Y skip the logarithms). Scalar: logf, cbrtf, log10f; SIMD: the
 * luminance bit-identical to scalar, then a vector ln and cube root
 * (docs/kernels.md "Colour"). */
typedef void (*sd_row_colour_fn)(const uint16_t *rgb, int n, const float g[3], float *lam,
                                 float *a, float *e, float *y);
/* Linear luminance of n interleaved 16-bit sRGB pixels with gains g[3]:
 * y = (YR (g[0] lut[r]) + YG (g[1] lut[g])) + YB (g[2] lut[b]), float, in
 * that order (no FMA), bit-identical at every level and to row_colour's y
 * (the public entry is sd_row_luminance). */
typedef void (*sd_row_luminance_fn)(const uint16_t *rgb, int n, const float g[3], float *y);
/* row_colour and row_luminance of n interleaved 8-bit sRGB pixels (a
 * compact image's row): bit for bit the level's 16-bit kernel on the
 * widened samples (v * 257), without widening. The linear values come from
 * per-call 256-entry tables t[c][v] = g[c] lut[257 v] (sd_lin8_table: the
 * very products the 16-bit path forms), L1-resident where the 16-bit LUT
 * is 256 KiB; with AVX-512 VBMI they are looked up by byte permutes
 * (docs/kernels.md "Byte input"). */
typedef void (*sd_row_colour8_fn)(const uint8_t *rgb, int n, const float g[3], float *lam,
                                  float *a, float *e, float *y);
typedef void (*sd_row_luminance8_fn)(const uint8_t *rgb, int n, const float g[3], float *y);
/* Accumulate over the x in [0, n) with (f[x] & bit) != 0, in double,
 * v = (double)a[x] - (b ? (double)b[x] : 0):
 *   acc[0] += sum v, acc[1] += sum |v|, acc[2] += sum v^2.
 * Scalar sums in x order; SIMD levels in lanes, reduced in a fixed order at
 * the end of the call (deterministic per level; docs/kernels.md). */
typedef void (*sd_row_acc_fn)(const float *a, const float *b, const uint8_t *f, unsigned bit,
                              int n, double acc[3]);
/* row_acc's acc[0] alone (b NULL), bit for bit: *sum += sum of the flagged
 * a[x] in double, for the sums that need neither |v| nor v^2. */
typedef void (*sd_row_sum_fn)(const float *a, const uint8_t *f, unsigned bit, int n,
                              double *sum);
/* The 5-point Laplacian of rows up/row/dn, in double,
 *   l = (double)up[x] + dn[x] + row[x-1] + row[x+1] - 4.0 row[x],
 * accumulated as acc[0] += sum l, acc[1] += sum l^2 over x in [0, n) with
 * (f[x] & bit) != 0. Reads row[-1] and row[n]. */
typedef void (*sd_row_lap_acc_fn)(const float *up, const float *row, const float *dn,
                                  const uint8_t *f, unsigned bit, int n, double acc[2]);

/* The three sums of one output row of the metric stage's strip pass in one
 * pass over its rows: over the x in [0, n) with (f[x] & bit) != 0,
 *   tex  += row_acc(lam, gt), fine += row_acc(lam, gs),
 *   lap  += row_lap_acc(up + 1, gs + 1, dn + 1, f + 1, bit, n - 2)
 * (lap only when n >= 3; reads up, gs, dn over [0, n)). Each sum keeps the
 * lanes and the reduction of the level's separate kernel: bit for bit the
 * three calls. */
typedef void (*sd_row_acc3_fn)(const float *lam, const float *gt, const float *up,
                               const float *gs, const float *dn, const uint8_t *f, unsigned bit,
                               int n, double tex[3], double fine[3], double lap[2]);

/* The colour sums of one source row of the strip pass in one pass over
 * it: row_sum(a, f, bit, n, sa), row_sum(e, f, bit, n, se),
 * row_sum(lam, f, bit, xs, sl) and row_sum(lam + xs, f + xs, bit, n - xs, sr)
 * (0 <= xs <= n), each with the lanes and the reduction of the level's
 * row_sum: bit for bit the four calls. With t not NULL also *above += the
 * number of those x with a[x] > *t (the red count; exact). */
typedef void (*sd_row_sum4_fn)(const float *a, const float *e, const float *lam,
                               const uint8_t *f, unsigned bit, int n, int xs, double *sa,
                               double *se, double *sl, double *sr, const float *t,
                               size_t *above);

/* row_sub and row_hist of its output in one pass: out[x] = a[x] - b[x] for
 * every x in [0, n), then hist[sd_fbin(out[x])]++ where (f[x] & bit) != 0
 * (the D plane of the pore filter and its histogram). Exact at every level:
 * the same plane and histogram as the two calls. The AVX-512 table takes
 * the AVX2 kernel (eight lanes a step ran faster than sixteen: the cost is
 * the scattered increments; docs/kernels.md). */
typedef void (*sd_row_sub_hist_fn)(const float *a, const float *b, float *out, const uint8_t *f,
                                   unsigned bit, int n, uint32_t *hist);

/* hist[sd_fbin(w)]++ for every x in [0, n) with (f[x] & bit) != 0, where
 * w = sd_hist_value(v[x], c) (c may be NULL). Integer counts: every level
 * gives the same histogram. */
typedef void (*sd_row_hist_fn)(const float *v, const uint8_t *f, unsigned bit, int n,
                               const double *c, uint32_t *hist);
/* The w = sd_hist_value(v[x], c) of the x in [0, n) with (f[x] & bit) != 0
 * and sd_fbin(w) in [b_lo, b_hi], written to out in x order (out has room
 * for n); returns how many. Exact at every level. */
typedef size_t (*sd_row_select_fn)(const float *v, const uint8_t *f, unsigned bit, int n,
                                   const double *c, unsigned b_lo, unsigned b_hi, float *out);

/* row_hist and row_select (without a centre) in one pass, for up to
 * SD_SELECT_RANGES bin ranges at once: the v[x] of the x in [0, n) with
 * (f[x] & bit) != 0 and sd_fbin(v[x]) in any of [r[i][0], r[i][1]],
 * i < nr (0 <= nr <= SD_SELECT_RANGES; the ranges may overlap), written to
 * out in x order (out has room for n); returns how many. With hist not
 * NULL also hist[sd_fbin(v[x])]++ for every flagged x; with below not NULL
 * also below[i] += the number of flagged x with sd_fbin(v[x]) < r[i][0]
 * (i < nr). Exact at every level: the histogram of row_hist and, for
 * disjoint ranges, the values of the row_select calls per range, merged
 * in x order. */
#define SD_SELECT_RANGES 3
typedef size_t (*sd_row_hist_select_fn)(const float *v, const uint8_t *f, unsigned bit, int n,
                                        uint32_t *hist, const unsigned (*r)[2], int nr,
                                        size_t *below, float *out);

/* The band-pass of the pore filter and its threshold, exact at every
 * level: row_sub writes out[x] = a[x] - b[x]; row_flag_above sets bit in
 * f[x] where v > t, v = a[x] - b[x] (or a[x] when b is NULL). */
typedef void (*sd_row_sub_fn)(const float *a, const float *b, float *out, int n);
typedef void (*sd_row_flag_above_fn)(const float *a, const float *b, float t, uint8_t *f,
                                     uint8_t bit, int n);

/* Pixels x0 .. x0 + n - 1 of output row y of the bilinear warp
 * (sd_image_warp): dst(x, y) = src(xf(x, y)), the point computed in double as
 * sd_xform_apply does; a pixel covers [c - 0.5, c + 0.5], so a point outside
 * [-0.5, w - 0.5] x [-0.5, h - 0.5] (or NaN) gives black; inside, the point
 * is clamped to [0, w - 1] x [0, h - 1] and the 2 x 2 neighbours (the last
 * row / column repeated) are blended per channel in double,
 *   top = p00 + ax (p01 - p00), bot = p10 + ax (p11 - p10),
 *   v = top + ay (bot - top),
 * rounded by lrint and clamped to 0..65535. out gets 3 n samples. Every level
 * computes exactly this: the output is bit-identical at every level. */
typedef void (*sd_row_warp_fn)(const sd_image *src, const sd_xform *xf, int y, int x0, int n,
                               uint16_t *out);

/* The six sums of one row of the alignment's global search (align.c,
 * search_score) over x in [0, n): v, t v, w, t2 v, w^2 and t w (out[0..5]).
 * Each is summed in float in SD_NCC_LANES lanes, lane x mod SD_NCC_LANES
 * taking x, and the lanes are added up in order 0, 1, ... into out[k]
 * (from 0). Exact at every level. */
#define SD_NCC_LANES 8
typedef void (*sd_row_ncc_sums_fn)(const float *t, const float *t2, const float *w,
                                   const float *v, int n, float out[6]);
/* One grid row of the normalization's exposure ratios (normalize.c,
 * ratio_run): sample i < n sits at x = x0 + step i on row y; it is used when
 * in[step i] == in_val. AFTER's value there is sd_plane_bilinear(a,
 * (u - ox - c) inv, (v - oy - c) inv) at (u, v) = (m0 x + m1 y + m2,
 * m3 x + m4 y + m5) (sd_xform_apply, in double); with B = b[i], the samples
 * where neither B nor AFTER's value is below dark give out[k++] =
 * (float)(B / A) in double, in sample order. Returns k. Exact at every
 * level (the same operations in each lane, no FMA). */
typedef struct sd_ratio_row {
    const float *b;
    const uint8_t *in;
    int n, x0, y, step;
    uint8_t in_val;
    const double *m;
    const sd_plane *a;
    double ox, oy, c, inv, dark;
} sd_ratio_row;
typedef int (*sd_row_ratio_fn)(const sd_ratio_row *r, float *out);
/* One sampled template row of the alignment's ECC pass (align.c,
 * accumulate): samples s in [s0, s1) at x = step s of the row t; sample s
 * maps to (fx, fy) = (m0 x + rx, m3 x + ry) in the band-pass plane I and is
 * used when 0 <= fx <= w - 1 and 0 <= fy <= h - 1. There i is I's bilinear
 * value (taps x0 = (int)fx, one back on the last column, x1 = x0 + 1 but
 * for a plane one pixel wide; likewise y; weights (1 - ax)(1 - ay), ax (1 -
 * ay), (1 - ax) ay, ax ay; the four products added left to right, in
 * double), gx and gy the same weights over I's gradient at the four taps
 * (central differences in float, (b[x + 1] - b[x - 1]) * 0.5f, one-sided
 * at the edges, 0 across a side of one pixel), and with u = (x - cx) invR
 * the P (0, 4 or 6) Jacobian values are
 *   P = 4: G = (gx u + gy v, -gx v + gy u, gx, gy),
 *   P = 6: G = (gx u, gx v, gy u, gy v, gx, gy).
 * Each used sample adds, with t = t[x] (in double), into acc
 * (SD_ECC_SUMS doubles):
 *   acc[0 .. 5] += 1, t, i, t t, i i, t i;
 *   acc[SD_ECC_SG + k] += G_k, acc[SD_ECC_SGT + k] += G_k t,
 *   acc[SD_ECC_SGI + k] += G_k i, acc[SD_ECC_SGG + 8 k + j] += G_j G_k
 * for j, k < P; no other entry changes. Every sum takes the samples in
 * order, one double addition each: exact at every level. `ahead`: how many
 * samples ahead to prefetch I's rows (no effect on any value). */
#define SD_ECC_SG 8
#define SD_ECC_SGT 16
#define SD_ECC_SGI 24
#define SD_ECC_SGG 32
#define SD_ECC_SUMS 80
typedef struct sd_ecc_row {
    const float *t;
    int step, P, ahead;
    double m0, m3, rx, ry, cx, invR, v;
    const sd_plane *I;
} sd_ecc_row;
typedef void (*sd_ecc_row_fn)(const sd_ecc_row *r, int s0, int s1, double *acc);

typedef struct sd_dsp {
    sd_simd_level level;
    sd_blur_taps_fn blur_taps;
    sd_blur_taps4_fn blur_taps4; /* NULL: four blur_taps calls */
    sd_row_lambda_fn row_lambda;
    sd_row_log_fn row_log;
    sd_row_colour_fn row_colour;
    /* row_acc, row_sum, row_lap_acc and row_sub have no caller in the
     * library since row_acc3, row_sum4 and row_sub_hist fused them: they
     * stay as the separate calls those are held to, bit for bit
     * (tests/test_kernels_simd.c, bench/kernels.c) */
    sd_row_acc_fn row_acc;
    sd_row_sum_fn row_sum;
    sd_row_lap_acc_fn row_lap_acc;
    sd_row_hist_fn row_hist;
    sd_row_select_fn row_select;
    sd_row_sub_fn row_sub;
    sd_row_flag_above_fn row_flag_above;
    sd_row_warp_fn row_warp;
    sd_row_luminance_fn row_luminance;
    sd_blur_row2_fn blur_row2; /* NULL: blur_taps calls */
    sd_row_acc3_fn row_acc3;
    sd_row_sum4_fn row_sum4;
    sd_row_sub_hist_fn row_sub_hist;
    sd_row_ncc_sums_fn row_ncc_sums;
    sd_row_colour8_fn row_colour8;
    sd_row_luminance8_fn row_luminance8;
    sd_row_hist_select_fn row_hist_select;
    sd_row_ratio_fn row_ratio;
    sd_ecc_row_fn ecc_row;
} sd_dsp;

/* nout consecutive output rows of blur_taps (in holds 2r + nout rows),
 * four at a time where the level has blur_taps4: the same bits either way. */
static inline void sd_blur_rows(const sd_dsp *d, const float *const *in, const float *k, int r,
                                float *const *out, int nout, int n)
{
    int j = 0;
    if (d->blur_taps4 && r >= 1)
        for (; j + 4 <= nout; j += 4)
            d->blur_taps4(in + j, k, r, out + j, n);
    for (; j < nout; j++)
        d->blur_taps(in + j, k, r, out[j], n);
}

/* blur_row2 where the level has it, else blur_taps through the pointers
 * in[0 .. 2 r1] (scratch): the same bits either way. */
static inline void sd_blur_row2(const sd_dsp *d, const float *c, const float *k1, int r1,
                                float *o1, const float *k2, int r2, float *o2, int n,
                                const float **in)
{
    if (d->blur_row2) {
        d->blur_row2(c, k1, r1, o1, k2, r2, o2, n);
        return;
    }
    for (int i = 0; i <= 2 * r1; i++)
        in[i] = c - r1 + i;
    d->blur_taps(in, k1, r1, o1, n);
    if (o2)
        d->blur_taps(in + (r1 - r2), k2, r2, o2, n);
}

/* The active table (first call detects and reads SKINDELTA_SIMD). */
const sd_dsp *sd_dsp_active(void);
/* The table of a level, clamped to what the machine has (at the AVX-512
 * level, the one with the VBMI kernels where the CPU has VBMI). */
const sd_dsp *sd_dsp_level(sd_simd_level level);
/* Every table this machine can run, lowest level first (the AVX-512 one
 * without VBMI before the one with it): out gets up to 5; returns how
 * many. For the tests and the bench. */
int sd_dsp_tables(const sd_dsp **out);
/* The name of a table ("avx512+vbmi" for the VBMI one). */
const char *sd_dsp_name(const sd_dsp *d);

/* row_colour of pixels x .. x + n - 1 of image row y with table d: the
 * byte kernel for a compact image's row, the 16-bit one otherwise. */
void sd_image_colour(const sd_dsp *d, const sd_image *img, int x, int y, int n, const float g[3],
                     float *lam, float *a, float *e, float *yy);
/* The same for the active level's row_luminance. */
void sd_image_luminance(const sd_image *img, int x, int y, int n, const float g[3], float *out);
/* The 16-bit LUT's entries of the 8-bit samples: lut8[v] = lut[257 v]
 * (built with it, thread-safe, never freed). */
const float *sd_srgb8_lut(void);
/* The gained linear tables of the byte kernels: t[c][v] = g[c] lut8[v]. */
void sd_lin8_table(const float g[3], float t[3][256]);
/* row_luminance8 where the level has no byte kernel of its own (AVX2,
 * AVX-512 without VBMI: its gathers from the 16-bit LUT beat the scalar
 * byte kernel there): blocks of 256 pixels widened on the stack, then
 * lum16, the level's row_luminance. */
void sd_row_luminance8_widened(const uint8_t *rgb, int n, const float g[3], float *y,
                               sd_row_luminance_fn lum16);
/* sd_row_linear of 8-bit samples through those tables. */
void sd_row_linear8(const uint8_t *rgb, int n, const float t[3][256], float *r, float *g,
                    float *b);
/* A SIMD level's colour of m <= SD_COLOUR_BLOCK pixels from their linear
 * values r, g, b (arrays of SD_COLOUR_BLOCK, padded past m: the block may
 * use them as scratch): lam, a, e, y [0, m) as row_colour's. */
typedef void (*sd_colour_block_fn)(float *r, float *g, float *b, int m, float *lam, float *a,
                                   float *e, float *y);
/* row_colour and row_colour8 by blocks: the linear values by scalar reads
 * (sd_row_linear, or sd_row_linear8 through the call's tables), then the
 * level's block. */
void sd_row_colour_blocks(const uint16_t *rgb, int n, const float g[3], float *lam, float *a,
                          float *e, float *y, sd_colour_block_fn block);
void sd_row_colour8_blocks(const uint8_t *rgb, int n, const float g[3], float *lam, float *a,
                           float *e, float *y, sd_colour_block_fn block);

/* Lambda with the luminance in scalar code (LUT reads, mul then add: the
 * same Y as the scalar reference) and the logarithm by row_log. */
void sd_row_lambda_with_log(const uint16_t *rgb, int n, float *out, sd_row_log_fn row_log);

/* Versions per ISA (the ISA files define only what their level improves). */
void sd_blur_taps_scalar(const float *const *in, const float *k, int r, float *out, int n);
void sd_row_lambda_scalar(const uint16_t *rgb, int n, float *out);
void sd_row_log_scalar(const float *in, int n, float *out);
void sd_row_colour_scalar(const uint16_t *rgb, int n, const float g[3], float *lam, float *a,
                          float *e, float *y);
void sd_row_acc_scalar(const float *a, const float *b, const uint8_t *f, unsigned bit, int n,
                       double acc[3]);
void sd_row_lap_acc_scalar(const float *up, const float *row, const float *dn, const uint8_t *f,
                           unsigned bit, int n, double acc[2]);
void sd_row_acc3_scalar(const float *lam, const float *gt, const float *up, const float *gs,
                        const float *dn, const uint8_t *f, unsigned bit, int n, double tex[3],
                        double fine[3], double lap[2]);
/* Linear luminance Y of n pixels with gains (the active level's
 * row_luminance), bit-identical to the y output of every level's
 * row_colour. */
void sd_row_luminance(const uint16_t *rgb, int n, const float gain[3], float *y);
void sd_row_luminance_scalar(const uint16_t *rgb, int n, const float gain[3], float *y);
void sd_row_colour8_scalar(const uint8_t *rgb, int n, const float g[3], float *lam, float *a,
                           float *e, float *y);
void sd_row_luminance8_scalar(const uint8_t *rgb, int n, const float g[3], float *y);
/* Linear R, G, B (gains applied, scalar arithmetic) of n pixels into r, g, b. */
void sd_row_linear(const uint16_t *rgb, int n, const float gain[3], float *r, float *g, float *b);
void sd_row_sum4_scalar(const float *a, const float *e, const float *lam, const uint8_t *f,
                        unsigned bit, int n, int xs, double *sa, double *se, double *sl,
                        double *sr, const float *t, size_t *above);
void sd_row_hist_scalar(const float *v, const uint8_t *f, unsigned bit, int n, const double *c,
                        uint32_t *hist);
void sd_row_sub_hist_scalar(const float *a, const float *b, float *out, const uint8_t *f,
                            unsigned bit, int n, uint32_t *hist);
size_t sd_row_select_scalar(const float *v, const uint8_t *f, unsigned bit, int n,
                            const double *c, unsigned b_lo, unsigned b_hi, float *out);
size_t sd_row_hist_select_scalar(const float *v, const uint8_t *f, unsigned bit, int n,
                                 uint32_t *hist, const unsigned (*r)[2], int nr, size_t *below,
                                 float *out);
void sd_row_sub_scalar(const float *a, const float *b, float *out, int n);
void sd_row_sum_scalar(const float *a, const uint8_t *f, unsigned bit, int n, double *sum);
void sd_row_flag_above_scalar(const float *a, const float *b, float t, uint8_t *f, uint8_t bit,
                              int n);
void sd_row_ncc_sums_scalar(const float *t, const float *t2, const float *w, const float *v,
                            int n, float out[6]);
int sd_row_ratio_scalar(const sd_ratio_row *r, float *out);
void sd_ecc_row_scalar(const sd_ecc_row *r, int s0, int s1, double *acc);
#if defined(__x86_64__) || defined(__i386__)
#define SD_HAVE_X86 1
void sd_row_ncc_sums_avx2(const float *t, const float *t2, const float *w, const float *v,
                          int n, float out[6]);
int sd_row_ratio_avx512(const sd_ratio_row *r, float *out);
void sd_ecc_row_avx512(const sd_ecc_row *r, int s0, int s1, double *acc);
void sd_row_luminance_avx2(const uint16_t *rgb, int n, const float gain[3], float *y);
void sd_row_luminance_avx512(const uint16_t *rgb, int n, const float gain[3], float *y);
void sd_row_sub_avx2(const float *a, const float *b, float *out, int n);
void sd_row_sum_avx2(const float *a, const uint8_t *f, unsigned bit, int n, double *sum);
void sd_row_flag_above_avx2(const float *a, const float *b, float t, uint8_t *f, uint8_t bit,
                            int n);
void sd_row_sub_avx512(const float *a, const float *b, float *out, int n);
void sd_row_sum_avx512(const float *a, const uint8_t *f, unsigned bit, int n, double *sum);
void sd_row_flag_above_avx512(const float *a, const float *b, float t, uint8_t *f, uint8_t bit,
                              int n);
void sd_row_hist_avx2(const float *v, const uint8_t *f, unsigned bit, int n, const double *c,
                      uint32_t *hist);
size_t sd_row_select_avx2(const float *v, const uint8_t *f, unsigned bit, int n, const double *c,
                          unsigned b_lo, unsigned b_hi, float *out);
size_t sd_row_hist_select_avx2(const float *v, const uint8_t *f, unsigned bit, int n,
                               uint32_t *hist, const unsigned (*r)[2], int nr, size_t *below,
                               float *out);
void sd_row_hist_avx512(const float *v, const uint8_t *f, unsigned bit, int n, const double *c,
                        uint32_t *hist);
size_t sd_row_select_avx512(const float *v, const uint8_t *f, unsigned bit, int n,
                            const double *c, unsigned b_lo, unsigned b_hi, float *out);
size_t sd_row_hist_select_avx512(const float *v, const uint8_t *f, unsigned bit, int n,
                                 uint32_t *hist, const unsigned (*r)[2], int nr, size_t *below,
                                 float *out);
void sd_blur_taps_sse2(const float *const *in, const float *k, int r, float *out, int n);
void sd_blur_taps_avx2(const float *const *in, const float *k, int r, float *out, int n);
void sd_blur_taps4_avx2(const float *const *in, const float *k, int r, float *const *out, int n);
void sd_blur_row2_avx2(const float *c, const float *k1, int r1, float *o1, const float *k2,
                       int r2, float *o2, int n);
void sd_blur_row2_avx512(const float *c, const float *k1, int r1, float *o1, const float *k2,
                         int r2, float *o2, int n);
void sd_row_lambda_avx2(const uint16_t *rgb, int n, float *out);
void sd_row_log_avx2(const float *in, int n, float *out);
void sd_blur_taps_avx512(const float *const *in, const float *k, int r, float *out, int n);
void sd_blur_taps4_avx512(const float *const *in, const float *k, int r, float *const *out,
                          int n);
void sd_row_lambda_avx512(const uint16_t *rgb, int n, float *out);
void sd_row_log_avx512(const float *in, int n, float *out);
void sd_row_colour_avx2(const uint16_t *rgb, int n, const float g[3], float *lam, float *a,
                        float *e, float *y);
void sd_row_acc_avx2(const float *a, const float *b, const uint8_t *f, unsigned bit, int n,
                     double acc[3]);
void sd_row_lap_acc_avx2(const float *up, const float *row, const float *dn, const uint8_t *f,
                         unsigned bit, int n, double acc[2]);
void sd_row_colour_avx512(const uint16_t *rgb, int n, const float g[3], float *lam, float *a,
                          float *e, float *y);
void sd_row_colour8_avx2(const uint8_t *rgb, int n, const float g[3], float *lam, float *a,
                         float *e, float *y);
void sd_row_colour8_avx512(const uint8_t *rgb, int n, const float g[3], float *lam, float *a,
                           float *e, float *y);
/* AVX-512 VBMI (byte permutes; only in the "avx512+vbmi" table) */
void sd_row_colour8_vbmi(const uint8_t *rgb, int n, const float g[3], float *lam, float *a,
                         float *e, float *y);
void sd_row_luminance8_vbmi(const uint8_t *rgb, int n, const float g[3], float *y);
void sd_row_luminance8_avx2(const uint8_t *rgb, int n, const float g[3], float *y);
void sd_row_luminance8_avx512(const uint8_t *rgb, int n, const float g[3], float *y);
void sd_row_acc_avx512(const float *a, const float *b, const uint8_t *f, unsigned bit, int n,
                       double acc[3]);
void sd_row_lap_acc_avx512(const float *up, const float *row, const float *dn,
                           const uint8_t *f, unsigned bit, int n, double acc[2]);
void sd_row_sum4_avx2(const float *a, const float *e, const float *lam, const uint8_t *f,
                      unsigned bit, int n, int xs, double *sa, double *se, double *sl,
                      double *sr, const float *t, size_t *above);
void sd_row_sum4_avx512(const float *a, const float *e, const float *lam, const uint8_t *f,
                        unsigned bit, int n, int xs, double *sa, double *se, double *sl,
                        double *sr, const float *t, size_t *above);
void sd_row_sub_hist_avx2(const float *a, const float *b, float *out, const uint8_t *f,
                          unsigned bit, int n, uint32_t *hist);
void sd_row_acc3_avx2(const float *lam, const float *gt, const float *up, const float *gs,
                      const float *dn, const uint8_t *f, unsigned bit, int n, double tex[3],
                      double fine[3], double lap[2]);
void sd_row_acc3_avx512(const float *lam, const float *gt, const float *up, const float *gs,
                        const float *dn, const uint8_t *f, unsigned bit, int n, double tex[3],
                        double fine[3], double lap[2]);
#endif

/* Where the SIMD warps prefetch: a source sample at offset o is needed
 * again by the output row SD_WARP_PREFETCH_ROWS further down at about
 * offset o + d, d = that row's shift of the source point (round(D m4) rows,
 * round(D m1) columns); the base returned is the address of src->px + d as
 * an integer (it may lie outside the image: prefetches do not fault), and
 * sample offset o is prefetched at base + 2 o. Without it a
 * rotated map's rows miss the cache at every few pixels, one miss at a time
 * (docs/kernels.md "Warp"). */
#define SD_WARP_PREFETCH_ROWS 4
static inline uintptr_t sd_warp_prefetch_base(const sd_image *src, const sd_xform *xf)
{
    const double dx = SD_WARP_PREFETCH_ROWS * xf->m[1], dy = SD_WARP_PREFETCH_ROWS * xf->m[4];
    if (!(dx > -1e6 && dx < 1e6 && dy > -1e6 && dy < 1e6))
        return (uintptr_t)src->px;
    const long long d = (long long)__builtin_llrint(dy) * (long long)src->stride +
                        3 * (long long)__builtin_llrint(dx);
    return (uintptr_t)src->px + (uintptr_t)(d * 2);
}
/* Pixels of an output row per source row (1 / |m3|, 1..7): the SIMD warps
 * prefetch for every pstep-th pixel of a step (and its first and last), so
 * steep maps, whose steps span several source rows, get every row. */
static inline int sd_warp_prefetch_step(const sd_xform *xf)
{
    const double a = __builtin_fabs(xf->m[3]);
    return a > 1.0 / 1.5 ? 1 : a > 1.0 / 7.5 ? (int)(1.0 / a + 0.5) : 7;
}
/* The warp row kernel per level (warp.c, warp_avx2.c, warp_avx512.c). */
void sd_row_warp_scalar(const sd_image *src, const sd_xform *xf, int y, int x0, int n,
                        uint16_t *out);
#if SD_HAVE_X86
void sd_row_warp_avx2(const sd_image *src, const sd_xform *xf, int y, int x0, int n,
                      uint16_t *out);
void sd_row_warp_avx512(const sd_image *src, const sd_xform *xf, int y, int x0, int n,
                        uint16_t *out);
#endif

/* The sampled, normalized Gaussian of sd_gauss_blur, one side: k[0..r],
 * r = sd_gauss_radius(sigma) returned (k holds 4097 floats). */
int sd_gauss_kernel(double sigma, float *k);
/* Mirror an index into [0, n) about the edge pixels (-1 -> 1), as the blur. */
int sd_mirror_index(int i, int n);

/* First guess of t^(-1/3) for the vector cube roots: the float whose bits
 * are SD_RCBRT_MAGIC - bits(t)/3 (tuned: at most 3.4 % off). */
#define SD_RCBRT_MAGIC 0x54a23200

/* How far ahead (in pixels) the LUT kernels (luminance, colour) prefetch
 * their 16-bit RGB source: its LUT reads depend on the loads, and without
 * the prefetch a 12 MP JPEG's rows stream in at half the speed
 * (docs/kernels.md "Luminance"). */
#define SD_RGB_PREFETCH 256
/* Block of pixels the SIMD colour kernels convert at a time (stack arrays). */
#define SD_COLOUR_BLOCK 256
/* Lab white point Xn, and the CIELAB constants, in float as the scalar
 * colour kernel uses them. */
#define SD_LAB_XN ((float)(SD_XYZ_XR + SD_XYZ_XG + SD_XYZ_XB))
#define SD_LAB_EPS_F ((float)(216.0 / 24389.0))
#define SD_LAB_KAPPA_F ((float)(24389.0 / 27.0))
/* 1 / Xn rounded to float: the SIMD colour kernels' X / Xn is
 * q = X (1/Xn), then q + (X - q Xn) (1/Xn) by two FMA, which is the
 * correctly rounded quotient (the division's bits) for X = 0 and every
 * float X in [2^-100, 2^126) (checked for each of them; the test checks a
 * stride), and below 2^-100 f(X / Xn) is 16/116 either way: a* keeps its
 * bits, without the division (docs/kernels.md "Colour"). */
#define SD_LAB_XN_INV (1.0f / SD_LAB_XN)
/* Clamp of R and G in the erythema term. */
#define SD_ERY_EPS (1.0f / 4096.0f)

/* Constants of the vector ln shared by the AVX2 and AVX-512 files, so both
 * compute the same arithmetic (Cephes-style logf: m in [sqrt(1/2), sqrt(2)),
 * ln x = e ln2 + ln m, ln m = f - f^2/2 + f^3 P(f), ln2 split hi + lo). */
#define SD_LN_SQRTHF 0.707106781186547524f
#define SD_LN2_HI 0.693359375f
#define SD_LN2_LO -2.12194440e-4f
#define SD_LN_P0 7.0376836292e-2f
#define SD_LN_P1 -1.1514610310e-1f
#define SD_LN_P2 1.1676998740e-1f
#define SD_LN_P3 -1.2420140846e-1f
#define SD_LN_P4 1.4249322787e-1f
#define SD_LN_P5 -1.6668057665e-1f
#define SD_LN_P6 2.0000714765e-1f
#define SD_LN_P7 -2.4999993993e-1f
#define SD_LN_P8 3.3333331174e-1f

#endif

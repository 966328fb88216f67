/*
 * The kernel dispatch table (library-internal; the tests include it to run
 * every ISA's version against the scalar reference).
 *
 * One table per level, each filled with the best version that level has and
 * the scalar version elsewhere; sd_dsp_active() returns the active one.
 */
#ifndef SKINDELTA_KERNELS_INTERNAL_H
#define SKINDELTA_KERNELS_INTERNAL_H

#include <stdint.h>

#include "skindelta/kernels.h"

/* Symmetric FIR over 2r+1 input rows, vectorized across x:
 *   out[x] = k[0] * in[r][x] + sum_{i=1..r} k[i] * (in[r-i][x] + in[r+i][x])
 * summed in that order (i = 1, 2, ..., r). The horizontal pass calls it with
 * in[j] = padded_row + j, the vertical pass with in[j] = ring row j. No
 * alignment is required; out may not alias any input. Scalar and SSE2 use
 * mul then add (bit-identical to each other); AVX2 and AVX-512 fuse them
 * (bit-identical to each other, a few ulp from scalar). */
typedef void (*sd_blur_taps_fn)(const float *const *in, const float *k, int r, float *out,
                                int n);
/* Lambda of n interleaved 16-bit sRGB pixels (the public sd_row_lambda). */
typedef void (*sd_row_lambda_fn)(const uint16_t *rgb, int n, float *out);
/* out[i] = ln(in[i]) for positive normal in[i] (the log inside lambda). */
typedef void (*sd_row_log_fn)(const float *in, int n, float *out);

typedef struct sd_dsp {
    sd_simd_level level;
    sd_blur_taps_fn blur_taps;
    sd_row_lambda_fn row_lambda;
    sd_row_log_fn row_log;
} sd_dsp;

/* The active table (first call detects and reads SKINDELTA_SIMD). */
const sd_dsp *sd_dsp_active(void);
/* The table of a level, clamped to what the machine has. */
const sd_dsp *sd_dsp_level(sd_simd_level level);

/* Lambda with the luminance in scalar code (LUT reads, mul then add: the
 * same Y as the scalar reference) and the logarithm by row_log. */
void sd_row_lambda_with_log(const uint16_t *rgb, int n, float *out, sd_row_log_fn row_log);

/* Versions per ISA (the ISA files define only what their level improves). */
void sd_blur_taps_scalar(const float *const *in, const float *k, int r, float *out, int n);
void sd_row_lambda_scalar(const uint16_t *rgb, int n, float *out);
void sd_row_log_scalar(const float *in, int n, float *out);
#if defined(__x86_64__) || defined(__i386__)
#define SD_HAVE_X86 1
void sd_blur_taps_sse2(const float *const *in, const float *k, int r, float *out, int n);
void sd_blur_taps_avx2(const float *const *in, const float *k, int r, float *out, int n);
void sd_row_lambda_avx2(const uint16_t *rgb, int n, float *out);
void sd_row_log_avx2(const float *in, int n, float *out);
void sd_blur_taps_avx512(const float *const *in, const float *k, int r, float *out, int n);
void sd_row_lambda_avx512(const uint16_t *rgb, int n, float *out);
void sd_row_log_avx512(const float *in, int n, float *out);
#endif

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

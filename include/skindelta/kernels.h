/*
 * Per-pixel building blocks shared by the stages: colour conversion
 * (sRGB -> linear -> XYZ (D65) -> CIELAB, and the log-luminance
 * Lambda = ln(Y + 1/4096)) and the Gaussian blur.
 *
 * Kernels work on rows: a pointer, a count, and caller-owned outputs. They
 * know nothing of threads or tiles. The *_ref functions are the textbook
 * formulas in double precision that the tests hold the kernels to.
 */
#ifndef SKINDELTA_KERNELS_H
#define SKINDELTA_KERNELS_H

#include <stdint.h>

#include "skindelta/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Offset of the log-luminance: Lambda = ln(Y + SD_LAMBDA_EPS). */
#define SD_LAMBDA_EPS (1.0 / 4096.0)

/* sRGB D65 primaries to XYZ (IEC 61966-2-1), white Xn, Yn, Zn = row sums. */
#define SD_XYZ_XR 0.4124564
#define SD_XYZ_XG 0.3575761
#define SD_XYZ_XB 0.1804375
#define SD_XYZ_YR 0.2126729
#define SD_XYZ_YG 0.7151522
#define SD_XYZ_YB 0.0721750
#define SD_XYZ_ZR 0.0193339
#define SD_XYZ_ZG 0.1191920
#define SD_XYZ_ZB 0.9503041

/* ---- reference formulas (double) ---- */

/* sRGB electro-optical transfer: encoded v in [0,1] -> linear [0,1]. */
double sd_srgb_eotf_ref(double v);
/* linear RGB in [0,1] -> CIELAB (CIE 1976, D65, with the eps/kappa segment). */
void sd_linear_to_lab_ref(const double rgb[3], double lab[3]);
/* sRGB-encoded [0,1] -> CIELAB. */
void sd_srgb_to_lab_ref(const double srgb[3], double lab[3]);

/* ---- tables ---- */

/* 65536-entry table: 16-bit sRGB-encoded sample -> linear [0,1].
 * Built once, thread-safe, never freed. */
const float *sd_srgb16_lut(void);

/* CIELAB f(t) on t >= 0 in float, max error vs the double formula < 1e-6. */
float sd_lab_f(float t);

/* ---- row kernels ---- */

/* Lambda of n RGB pixels (interleaved, sRGB-encoded 16-bit). */
void sd_row_lambda(const uint16_t *rgb, int n, float *out);

/* ---- Gaussian blur ---- */

/* Radius of the sampled Gaussian used for sigma: ceil(4 sigma). */
int sd_gauss_radius(double sigma);

/* dst = G_sigma * src (separable sampled Gaussian, normalized, edges
 * mirrored). src and dst are the same size; they may not alias.
 * sigma <= 0 copies. */
SD_NODISCARD sd_status sd_gauss_blur(sd_ctx *ctx, const sd_plane *src, sd_plane *dst,
                                     double sigma);

#ifdef __cplusplus
}
#endif
#endif

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

/* Lambda of n RGB pixels (interleaved, sRGB-encoded 16-bit), through the
 * dispatch. The scalar path uses logf; the AVX2/AVX-512 paths a vector ln
 * with |error| < 1e-6 against log() (docs/kernels.md). */
void sd_row_lambda(const uint16_t *rgb, int n, float *out);

/* ---- Gaussian blur ---- */

/* Radius of the sampled Gaussian used for sigma: ceil(4 sigma). */
int sd_gauss_radius(double sigma);

/* dst = G_sigma * src (separable sampled Gaussian, normalized, edges
 * mirrored). src and dst are the same size; they may not alias.
 * sigma <= 0 copies. Runs on sd_ctx_threads(ctx) threads (ctx may be NULL:
 * one thread); the result is bit-identical whatever the thread count, and
 * within the tolerance of docs/kernels.md across SIMD levels. */
SD_NODISCARD sd_status sd_gauss_blur(sd_ctx *ctx, const sd_plane *src, sd_plane *dst,
                                     double sigma);

/* ---- SIMD dispatch ----
 *
 * Every row kernel has a scalar reference and ISA versions beside it
 * (src/kernels/ blur_sse2.c, blur_avx2.c, color_avx512.c, ...). The level is chosen once, at
 * the first kernel call, from CPUID and the OS's saved-state support (XCR0
 * via xgetbv), then lowered by SKINDELTA_SIMD=scalar|sse2|avx2|avx512 when set
 * (a value above what the machine has is clamped to it; an unknown value is
 * ignored). The level is process-wide; changing it is thread-safe (a call in
 * flight finishes with the table it started with). See docs/kernels.md. */
typedef enum sd_simd_level {
    SD_SIMD_SCALAR = 0,
    SD_SIMD_SSE2,
    SD_SIMD_AVX2,   /* AVX2 + FMA, YMM state enabled by the OS */
    SD_SIMD_AVX512  /* AVX-512 F+BW+DQ+VL, ZMM and opmask state enabled */
} sd_simd_level;

/* Best level this CPU and OS support (detected once, cached). */
sd_simd_level sd_simd_detect(void);
/* Level the kernels use now. */
sd_simd_level sd_simd_active(void);
/* Use `want`, clamped to sd_simd_detect(); returns the level actually used.
 * For --simd and for tests. */
sd_simd_level sd_simd_set(sd_simd_level want);
/* "scalar", "sse2", "avx2", "avx512"; "unknown" otherwise. Never NULL. */
const char *sd_simd_name(sd_simd_level level);
/* Parse a name as above into *out; returns 0 on success, -1 when unknown
 * (*out untouched). */
int sd_simd_parse(const char *name, sd_simd_level *out);

/* Injectable detector (tests hide instruction sets with a fake CPUID).
 * cpuid fills r[0..3] = EAX, EBX, ECX, EDX for (leaf, subleaf); xgetbv
 * returns XCR0 and is only called when CPUID reports OSXSAVE. */
typedef struct sd_cpu_probe {
    void (*cpuid)(void *user, uint32_t leaf, uint32_t subleaf, uint32_t r[4]);
    uint64_t (*xgetbv)(void *user);
    void *user;
} sd_cpu_probe;
/* The level the probed CPU supports (pure: touches no global state). */
sd_simd_level sd_simd_detect_with(const sd_cpu_probe *probe);

#ifdef __cplusplus
}
#endif
#endif

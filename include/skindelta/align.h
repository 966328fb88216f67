/*
 * Alignment of AFTER onto BEFORE.
 *
 * The transform maps BEFORE pixel coordinates to AFTER pixel coordinates
 * (pixel centres at integers, (0,0) the centre of the top-left pixel):
 *   x' = m[0]*x + m[1]*y + m[2],  y' = m[3]*x + m[4]*y + m[5].
 * Method: intensity based and coarse to fine on a pyramid of the
 * log-luminance: a global search over rotation, scale and shift at the
 * coarsest level, then ECC / Lucas-Kanade refinement level by level.
 */
#ifndef SKINDELTA_ALIGN_H
#define SKINDELTA_ALIGN_H

#include <math.h>

#include "skindelta/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Changes whenever the same pair may align differently (cache keys). */
#define SD_ALIGN_REVISION "2"

typedef enum sd_align_model {
    SD_ALIGN_SIMILARITY = 0, /* rotation, uniform scale, translation */
    SD_ALIGN_AFFINE,         /* full 2x3 affine */
    SD_ALIGN_NONE            /* identity; overlap and NCC still measured */
} sd_align_model;

typedef enum sd_align_status {
    SD_ALIGN_OK = 0, /* trustworthy */
    SD_ALIGN_POOR,   /* aligned, but the residual is high: measure with a warning */
    SD_ALIGN_FAILED  /* not the same scene, or no transform found */
} sd_align_status;

typedef struct sd_xform {
    double m[6];
} sd_xform;

typedef struct sd_align_opts {
    sd_align_model model;
} sd_align_opts;

typedef struct sd_align_result {
    sd_align_model model;
    sd_xform xf;             /* BEFORE -> AFTER */
    double rotation_deg;     /* similarity decomposition of xf (affine: of its closest similarity) */
    double scale;
    double tx, ty;           /* = m[2], m[5] */
    double overlap_fraction; /* share of BEFORE pixels that map inside AFTER */
    double ncc;              /* normalized cross-correlation of the aligned band-passed images */
    sd_align_status status;
} sd_align_result;

const char *sd_align_model_name(sd_align_model m);      /* "similarity", ... */
const char *sd_align_status_name(sd_align_status s);    /* "ok", "poor", "failed" */

/* Align after onto before. Returns SD_OK when it ran (the verdict is in
 * out->status; a pair that cannot be aligned gives SD_ALIGN_FAILED, not an
 * error status), or an error (memory, image too small). */
SD_NODISCARD sd_status sd_pair_align(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                                     const sd_align_opts *opts, sd_align_result *out);

/* An image as the aligner takes it: `img` is the picture itself, or a JPEG
 * decode of it scaled down 2, 4 or 8 times in the DCT domain
 * (sd_load_opts.scale_denom; the loader applies the EXIF orientation);
 * width x height is the upright size of the full picture (0 x 0: img is the
 * full picture). The scale is recognised from the sizes. A scaled decode
 * spares the caller the full decode when it needs only the alignment. */
typedef struct sd_align_input {
    const sd_image *img;
    int width, height;
} sd_align_input;

/* The aligner's base level is an f0 x f0 box average, f0 the smallest
 * power of two that brings the long side of BEFORE to at most this. */
#define SD_ALIGN_BASE_SIDE 1024

/* The largest JPEG scale_denom (1, 2, 4 or 8) whose decodes the aligner
 * takes for a pair whose BEFORE picture is before_w x before_h (its finest
 * level is no finer: the result is as accurate as from the full images). */
int sd_align_scale_denom(int before_w, int before_h);

/* sd_pair_align on inputs that may be scaled decodes. The map is in
 * full-resolution coordinates, as from sd_pair_align on the full images
 * (which is this call with width = height = 0). SD_ERR_ARG when an input is
 * not a 1/2, 1/4 or 1/8 decode of its stated size, or is coarser than
 * sd_align_scale_denom allows. */
SD_NODISCARD sd_status sd_pair_align_inputs(sd_ctx *ctx, const sd_align_input *before,
                                            const sd_align_input *after,
                                            const sd_align_opts *opts, sd_align_result *out);

/* x' = x, y' = y. */
extern const sd_xform sd_xform_identity;

/* Apply xf to a point. */
static inline void sd_xform_apply(const sd_xform *xf, double x, double y, double *ox, double *oy)
{
    *ox = xf->m[0] * x + xf->m[1] * y + xf->m[2];
    *oy = xf->m[3] * x + xf->m[4] * y + xf->m[5];
}
/* Scale of xf's linear part: sqrt(|det|). */
static inline double sd_xform_scale(const sd_xform *xf)
{
    double det = xf->m[0] * xf->m[4] - xf->m[1] * xf->m[3];
    return sqrt(det < 0 ? -det : det);
}
/* Inverse of xf; returns 0 when singular. */
int sd_xform_invert(const sd_xform *xf, sd_xform *inv);
/* Similarity decomposition: rotation (deg), scale = sqrt(|det|). */
void sd_xform_decompose(const sd_xform *xf, double *rotation_deg, double *scale);

/* Resample `src` into a w x h image through xf (dst(x,y) = src(xf(x,y)),
 * bilinear; outside pixels black). For pictures and difference maps only:
 * metrics are measured on each image's own pixel grid. Rows run on
 * sd_ctx_threads(ctx) threads through the SIMD row kernel; the result is
 * bit-identical for any thread count and SIMD level (docs/kernels.md). */
SD_NODISCARD sd_status sd_image_warp(sd_ctx *ctx, const sd_image *src, const sd_xform *xf,
                                     int w, int h, sd_image **out);

#ifdef __cplusplus
}
#endif
#endif

/*
 * A deterministic generator of synthetic skin photographs with known ground
 * truth, for the tests and benchmarks of every stage.
 *
 * The skin is a continuous function of skin coordinates (u, v), in pixels of
 * the BEFORE image (BEFORE's pixel (x, y) sees skin point (x, y)):
 *
 *   tone      CIELAB (L*, a*, b*) = base + blotch_a/b(u,v) + red patches (a* only)
 *   log-lum.  ln Y = ln Y(tone) + shading(u,v) + blotch_l(u,v) + texture(u,v)
 *                    - sum over pores of depth * exp(-r^2 / (2 sigma^2))
 *
 * shading, blotch and texture are smooth value noise (seeded lattice,
 * quintic interpolation) with exactly unit expected variance, scaled by
 * their amplitudes; pores and red patches are analytic Gaussians. A capture
 * (a photograph) evaluates this function at the skin points its pixels see
 * (the inverse of its transform at supersampled pixel positions, averaged in
 * linear light as a sensor integrates), then applies the camera: exposure
 * (x 2^ev in linear RGB), optional defocus (Gaussian blur), sensor noise
 * (independent per capture) and optional JPEG. So AFTER is a new photograph
 * of the same skin, never a resampled BEFORE.
 *
 * Same parameters and seeds -> byte-identical images (own PRNG and hashes, no
 * rand(), no clock). See docs/synth.md for the model and units.
 */
#ifndef SKINDELTA_SYNTH_H
#define SKINDELTA_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "skindelta/align.h"
#include "skindelta/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Components of the skin, for sd_synth_skin.components. */
enum {
    SD_SYNTH_SHADING = 1 << 0, /* low-frequency shading of ln Y */
    SD_SYNTH_BLOTCH = 1 << 1,  /* mid-frequency blotchiness of ln Y, a*, b* */
    SD_SYNTH_TEXTURE = 1 << 2, /* fine texture of ln Y */
    SD_SYNTH_PORES = 1 << 3,
    SD_SYNTH_REDNESS = 1 << 4, /* red patches */
    SD_SYNTH_ALL = 0x1f
};

/* The skin. Lengths are in skin pixels (BEFORE pixels). */
typedef struct sd_synth_skin {
    uint64_t seed;
    unsigned components;  /* SD_SYNTH_* bits; default SD_SYNTH_ALL */
    double base_lab[3];   /* base tone, CIELAB D65; default 66, 13, 17 */
    /* shading: std of ln Y, lattice spacing */
    double shading, shading_scale;         /* 0.10, 320 */
    /* blotchiness: std of ln Y, a*, b*; lattice spacing (two octaves: s, s/2) */
    double blotch_l, blotch_a, blotch_b;   /* 0.03, 1.5, 1.2 */
    double blotch_scale;                   /* 48 */
    /* fine texture: std of ln Y (expected over the skin plane, exactly) of two
     * value-noise octaves with lattice spacings s and s/2 (weights 1, 1/2) */
    double texture, texture_scale;         /* 0.05, 3.0 */
    /* pores: one per cell of a square grid with this spacing, present with
     * probability pore_fill, centre jittered by +-pore_jitter/2 of a cell
     * (so centres are at least (1 - pore_jitter) * spacing apart); Gaussian
     * sigma pore_radius, centre drop of ln Y pore_depth; each pore's sigma
     * and depth vary uniformly by +-pore_variation (relative) */
    double pore_spacing, pore_fill, pore_jitter;          /* 22, 0.8, 0.6 */
    double pore_radius, pore_depth, pore_variation;       /* 2.2, 0.35, 0.2 */
    /* red patches: red_count Gaussian patches placed inside the rectangle
     * [0, extent_w) x [0, extent_h) (normally the BEFORE frame), sigma
     * red_radius, a* increase red_amount at the centre, each varied by
     * +-red_variation (relative) */
    int red_count;                                         /* 4 */
    double red_radius, red_amount, red_variation;          /* 36, 8, 0.25 */
    int extent_w, extent_h;                                /* 800, 600 */
} sd_synth_skin;

/* Changes at a later session, relative to the skin's BEFORE state. */
typedef struct sd_synth_session {
    double pores_gone;        /* fraction of pores that disappear, 0..1 (default 0) */
    double pore_radius_scale; /* sigma of the remaining pores x this (1) */
    double pore_depth_scale;  /* depth of the remaining pores x this (1) */
    double texture_scale;     /* texture amplitude x this (1) */
    double redness_scale;     /* red patch a* amounts x this (1) */
} sd_synth_session;

/* One photograph of the skin. */
typedef struct sd_synth_capture {
    int width, height;
    sd_xform xf;          /* skin (BEFORE pixel) coords -> this image's pixel coords */
    double ev;            /* exposure: linear RGB x 2^ev (default 0) */
    double noise;         /* sensor noise std in linear units at linear 0.18,
                           * sigma(v) = noise * sqrt((v + 0.01) / 0.19); 0 = none */
    uint64_t noise_seed;  /* seed of this capture's noise */
    double defocus;       /* Gaussian blur sigma in pixels, 0 = sharp */
    int supersample;      /* samples per pixel per axis, 1..4 (default 2) */
    int jpeg_quality;     /* 0: none; 1..100: the pixels go through JPEG at this
                           * quality (libjpeg encode + decode in memory) */
} sd_synth_capture;

/* Defaults (documented at the fields above). extent is set to w x h. */
void sd_synth_skin_defaults(sd_synth_skin *skin, uint64_t seed, int w, int h);
void sd_synth_session_defaults(sd_synth_session *session);
/* An identity capture of w x h, no noise, no defocus, supersample 2. */
void sd_synth_capture_defaults(sd_synth_capture *cap, int w, int h);

/* The similarity that rotates by rotation_deg and scales about (cx, cy),
 * then shifts by (tx, ty):  p' = scale * R * (p - c) + c + t, with
 * R = [cos -sin; sin cos] (with y pointing down, positive angles turn
 * clockwise on screen). sd_xform_decompose gives back rotation_deg, scale. */
sd_xform sd_synth_similarity(double rotation_deg, double scale, double tx, double ty, double cx,
                             double cy);

/* Render one capture of the skin. session NULL: the skin as it is (BEFORE);
 * otherwise the skin after those changes. *out is a new image owned by the
 * caller (bits 16, or 8 when it went through JPEG). Fails with SD_ERR_ARG on
 * a parameter out of range or a singular transform, SD_ERR_TOO_LARGE over
 * SD_DEFAULT_MAX_PIXELS. Uses up to sd_ctx_threads(ctx) threads; the result
 * does not depend on the thread count. */
SD_NODISCARD sd_status sd_synth_render(sd_ctx *ctx, const sd_synth_skin *skin,
                                       const sd_synth_session *session,
                                       const sd_synth_capture *cap, sd_image **out);

/* ---- ground truth ---- */

typedef struct sd_synth_pore {
    double x, y;             /* centre in BEFORE (skin) coordinates */
    double sigma, depth;     /* in BEFORE: Gaussian sigma (px), drop of ln Y */
    int survives;            /* still there in AFTER */
    double after_x, after_y; /* centre in AFTER pixel coordinates */
    double after_sigma;      /* in AFTER pixels (sigma * session scale * xf scale); 0 if gone */
    double after_depth;      /* 0 if gone */
} sd_synth_pore;

typedef struct sd_synth_patch {
    double x, y;           /* centre in BEFORE coordinates */
    double sigma;          /* px */
    double amount;         /* a* increase at the centre in BEFORE */
    double after_amount;   /* in AFTER */
} sd_synth_patch;

typedef struct sd_synth_truth {
    sd_synth_skin skin;
    sd_synth_session session;
    sd_synth_capture before, after;
    sd_xform xf;               /* BEFORE -> AFTER pixels = after.xf o inverse(before.xf) */
    double exposure_ev;        /* after.ev - before.ev */
    size_t n_pores;            /* pores whose centres lie in the BEFORE frame */
    sd_synth_pore *pores;
    size_t n_patches;
    sd_synth_patch *patches;
} sd_synth_truth;

/* Truth for a BEFORE/AFTER pair of captures of one skin (before.xf is
 * normally the identity). Owned by the caller. */
SD_NODISCARD sd_status sd_synth_truth_new(sd_ctx *ctx, const sd_synth_skin *skin,
                                          const sd_synth_session *session,
                                          const sd_synth_capture *before,
                                          const sd_synth_capture *after, sd_synth_truth **out);
void sd_synth_truth_free(sd_synth_truth *t); /* NULL-safe */

/* Number of true pores whose centres lie in rect r of BEFORE pixel
 * coordinates (pixel (x, y) covers [x-0.5, x+0.5) x [y-0.5, y+0.5)).
 * after = 0: all pores of BEFORE; 1: only those that survive in AFTER. */
size_t sd_synth_truth_count_pores(const sd_synth_truth *t, sd_rect r, int after);

/* The truth as JSON text (schema "skindelta/synth-truth/1", see
 * docs/synth.md); *out is malloc'd, owned by the caller, NUL-terminated. */
SD_NODISCARD sd_status sd_synth_truth_json(sd_ctx *ctx, const sd_synth_truth *t, char **out);

/* ---- convenience: a whole pair ---- */

typedef struct sd_synth_pair {
    sd_image *before, *after;
    sd_synth_truth *truth;
} sd_synth_pair;

/* Render BEFORE (the skin as is, through before->xf, normally the identity)
 * and AFTER (the skin after the session's changes, through after->xf) and
 * build the truth. On failure nothing is left allocated in *out. */
SD_NODISCARD sd_status sd_synth_pair_render(sd_ctx *ctx, const sd_synth_skin *skin,
                                            const sd_synth_session *session,
                                            const sd_synth_capture *before,
                                            const sd_synth_capture *after, sd_synth_pair *out);
void sd_synth_pair_release(sd_synth_pair *p); /* NULL-safe; leaves p zeroed */

#ifdef __cplusplus
}
#endif
#endif

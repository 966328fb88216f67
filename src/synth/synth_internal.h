/*
 * Shared internals of the generator: hashing, the procedural skin model
 * (value-noise fields, pores on a jittered grid, red patches) and small
 * affine helpers. Not installed.
 */
#ifndef SKINDELTA_SYNTH_INTERNAL_H
#define SKINDELTA_SYNTH_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "core/internal.h"
#include "skindelta/align.h"
#include "skindelta/synth.h"

/* splitmix64 finalizer: a good 64-bit mixing function. */
static inline uint64_t sd_synth_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) from 53 bits of a hash. */
static inline double sd_synth_unit(uint64_t h)
{
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* Independent random streams derived from the skin seed. */
enum {
    SD_STREAM_PORES = 1,
    SD_STREAM_PATCHES,
    SD_STREAM_SHADING,
    SD_STREAM_BLOTCH_L,
    SD_STREAM_BLOTCH_A,
    SD_STREAM_BLOTCH_B,
    SD_STREAM_TEXTURE
};

/* ---- value noise ---- */

#define SD_VN_BITS 12
#define SD_VN_SIZE (1 << SD_VN_BITS)
#define SD_VN_MASK (SD_VN_SIZE - 1)

/* One octave: a seeded lattice (permutation hash into a table of values
 * normalized to mean 0, variance 1) with quintic interpolation. */
typedef struct sd_vnoise {
    uint16_t perm[SD_VN_SIZE];
    float val[SD_VN_SIZE];
    float inv_scale; /* 1 / lattice spacing in skin px */
    float weight;    /* amplitude of this octave in the field */
} sd_vnoise;

/* A field: up to two octaves, scaled so that its expected variance over the
 * plane is exactly amp^2. */
typedef struct sd_field {
    int n;
    sd_vnoise oct[2];
} sd_field;

/* Build a field of n (1 or 2) octaves with lattice spacings scale, scale/2
 * and weights 1, 1/2, std amp, from seed and stream. */
void sd_synth_field_init(sd_field *f, uint64_t seed, int stream, int n, double scale, double amp);

static inline float sd_synth_quintic(float t)
{
    return t * t * t * (t * (t * 6.0f - 15.0f) + 10.0f);
}

static inline float sd_synth_vnoise(const sd_vnoise *o, float u, float v)
{
    u *= o->inv_scale;
    v *= o->inv_scale;
    float fu = floorf(u), fv = floorf(v);
    int iu = (int)fu, iv = (int)fv;
    float tu = sd_synth_quintic(u - fu), tv = sd_synth_quintic(v - fv);
    unsigned a0 = o->perm[(unsigned)iu & SD_VN_MASK];
    unsigned a1 = o->perm[(unsigned)(iu + 1) & SD_VN_MASK];
    unsigned j0 = (unsigned)iv, j1 = (unsigned)(iv + 1);
    float v00 = o->val[o->perm[(a0 + j0) & SD_VN_MASK]];
    float v01 = o->val[o->perm[(a0 + j1) & SD_VN_MASK]];
    float v10 = o->val[o->perm[(a1 + j0) & SD_VN_MASK]];
    float v11 = o->val[o->perm[(a1 + j1) & SD_VN_MASK]];
    float r0 = v00 + tu * (v10 - v00);
    float r1 = v01 + tu * (v11 - v01);
    return o->weight * (r0 + tv * (r1 - r0));
}

static inline float sd_synth_field(const sd_field *f, float u, float v)
{
    float s = 0.0f;
    for (int k = 0; k < f->n; k++)
        s += sd_synth_vnoise(&f->oct[k], u, v);
    return s;
}

/* ---- pores and patches ---- */

/* The pore of grid cell (i, j), BEFORE state. present = 0: the cell is empty. */
typedef struct sd_synth_pore_raw {
    int present;
    double x, y, sigma, depth;
    double u_gone; /* uniform in [0,1): gone in a session when < pores_gone */
} sd_synth_pore_raw;

void sd_synth_pore_cell(const sd_synth_skin *skin, int64_t i, int64_t j, sd_synth_pore_raw *p);

/* The skin's red patches (skin->red_count of them) into out, BEFORE state
 * (after_amount = amount). */
void sd_synth_patches(const sd_synth_skin *skin, sd_synth_patch *out);

/* Validate skin and session (session may be NULL). */
sd_status sd_synth_check(sd_ctx *ctx, const sd_synth_skin *skin, const sd_synth_session *ses);
/* Validate a capture (size, transform, ranges). */
sd_status sd_synth_check_capture(sd_ctx *ctx, const sd_synth_capture *cap, const char *what);

/* a o b (apply b first); the other affine helpers are the align stage's. */
sd_xform sd_synth_xf_compose(const sd_xform *a, const sd_xform *b);

#endif

/*
 * A continuous procedural "skin" for the alignment tests: multi-octave
 * value noise in the log domain, evaluated at any real coordinate, so that
 * an AFTER image is rendered through the inverse of a known transform (not
 * resampled from BEFORE), with an exposure gain, a lighting gradient and
 * sensor noise. Shared by the alignment test binaries (header-only, static).
 */
#ifndef ALIGN_SCENE_H
#define ALIGN_SCENE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "skindelta/align.h"
#include "skindelta/core.h"

typedef struct scene {
    uint32_t seed;
    double unit;   /* scene length unit in BEFORE pixels (scales the octaves) */
    int flat;      /* constant image */
    int white;     /* per-pixel white noise only, no structure */
} scene;

static uint32_t sc_hash(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

static double sc_lattice(uint32_t seed, int ix, int iy, int oct)
{
    uint32_t h = sc_hash(seed * 0x9e3779b9U ^ sc_hash((uint32_t)ix * 0x85ebca6bU ^
                                                      sc_hash((uint32_t)iy + 0x632be5abU *
                                                                               (uint32_t)(oct + 1))));
    return h / 2147483648.0 - 1.0;
}

static double sc_fade(double t)
{
    return t * t * t * (t * (t * 6 - 15) + 10);
}

static double sc_value_noise(uint32_t seed, double x, double y, int oct)
{
    double fx = floor(x), fy = floor(y);
    int ix = (int)fx, iy = (int)fy;
    double ux = sc_fade(x - fx), uy = sc_fade(y - fy);
    double a = sc_lattice(seed, ix, iy, oct), b = sc_lattice(seed, ix + 1, iy, oct);
    double c = sc_lattice(seed, ix, iy + 1, oct), d = sc_lattice(seed, ix + 1, iy + 1, oct);
    double top = a + ux * (b - a), bot = c + ux * (d - c);
    return top + uy * (bot - top);
}

/* Log-reflectance of the scene at BEFORE coordinates (x, y). Octave
 * wavelengths 6, 17, 50 and 150 units with decreasing weight upward. */
static double sc_logref(const scene *s, double x, double y)
{
    static const double wl[4] = {6, 17, 50, 150};
    static const double amp[4] = {0.22, 0.22, 0.28, 0.35};
    double v = 0;
    for (int k = 0; k < 4; k++) {
        double f = 1.0 / (wl[k] * s->unit);
        v += amp[k] * sc_value_noise(s->seed + (uint32_t)k * 7919u, x * f + 0.37 * k,
                                     y * f + 0.61 * k, k);
    }
    return v;
}

/* linear [0,1] -> sRGB-encoded 16 bit, by table (4097 knots, interpolated) */
static inline uint16_t sc_encode(double lin)
{
    static double tab[4097];
    static int init;
    if (!init) {
        for (int i = 0; i <= 4096; i++) {
            double v = i / 4096.0;
            tab[i] = 65535.0 * (v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055);
        }
        init = 1;
    }
    if (!(lin > 0))
        return 0;
    if (lin >= 1)
        return 65535;
    double p = lin * 4096;
    int i = (int)p;
    double e = tab[i] + (p - i) * (tab[i + 1 < 4097 ? i + 1 : i] - tab[i]);
    return (uint16_t)lrint(e);
}

static inline double sc_gauss(uint32_t *state)
{
    /* Box-Muller from a xorshift stream */
    double u1, u2;
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    u1 = (*state + 1.0) / 4294967297.0;
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    u2 = *state / 4294967296.0;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

typedef struct shot {
    sd_xform to_scene; /* image pixel -> scene (BEFORE) coordinates */
    double ev;         /* exposure change in stops */
    double shade;      /* lighting gradient: gain 1 + shade * (x / w - 0.5) */
    double noise;      /* sensor noise, standard deviation in 8-bit steps */
    uint32_t noise_seed;
} shot;

/* Render a w x h photo of scene s through shot p. NULL on failure. */
static inline sd_image *sc_render(const scene *s, const shot *p, int w, int h)
{
    sd_image *img = NULL;
    if (sd_image_new(NULL, w, h, 0, &img) != SD_OK)
        return NULL;
    uint32_t ns = p->noise_seed | 1u;
    double gain = pow(2.0, p->ev);
    for (int y = 0; y < h; y++) {
        uint16_t *row = img->px + (size_t)y * img->stride;
        for (int x = 0; x < w; x++) {
            double sx, sy;
            sd_xform_apply(&p->to_scene, x, y, &sx, &sy);
            double Y = 0.18;
            if (s->white)
                Y = 0.18 * exp(0.5 * sc_lattice(s->seed, x, y, 9));
            else if (!s->flat)
                Y = 0.18 * exp(sc_logref(s, sx, sy));
            Y *= gain * (1 + p->shade * ((double)x / w - 0.5));
            static const double tint[3] = {1.25, 0.92, 0.74};
            for (int c = 0; c < 3; c++) {
                double v = sc_encode(Y * tint[c]);
                if (p->noise > 0)
                    v += p->noise * 257.0 * sc_gauss(&ns);
                row[3 * x + c] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : lrint(v));
            }
        }
    }
    return img;
}

/* BEFORE -> AFTER similarity about the image centres (cx, cy): rotate by
 * rot_deg, scale by k, then move the centre by (dx, dy). */
static inline sd_xform sc_similarity(double rot_deg, double k, double dx, double dy, double cx,
                              double cy)
{
    double c = k * cos(rot_deg * M_PI / 180), s = k * sin(rot_deg * M_PI / 180);
    sd_xform m = {{c, -s, 0, s, c, 0}};
    m.m[2] = cx + dx - (c * cx - s * cy);
    m.m[5] = cy + dy - (s * cx + c * cy);
    return m;
}

/* Max distance between the true and estimated maps over the ROI: BEFORE
 * minus a 10 % border (an affine error is largest at the corners). */
static inline double sc_roi_error(const sd_xform *truth, const sd_xform *est, int w, int h)
{
    double xs[2] = {0.1 * w, 0.9 * w - 1}, ys[2] = {0.1 * h, 0.9 * h - 1}, worst = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            double ax, ay, bx, by;
            sd_xform_apply(truth, xs[i], ys[j], &ax, &ay);
            sd_xform_apply(est, xs[i], ys[j], &bx, &by);
            worst = fmax(worst, hypot(ax - bx, ay - by));
        }
    return worst;
}

/* The same over the ROI intersected with the overlap: BEFORE minus a 10 %
 * border, clipped to the points whose true map lands inside AFTER (aw x ah,
 * pixel edges at -0.5 and w - 0.5). That region is a convex polygon and the
 * error of an affine estimate is a convex function, so its maximum is at a
 * vertex. Returns -1 when the region is empty. */
static inline double sc_roi_overlap_error(const sd_xform *truth, const sd_xform *est, int w, int h,
                                          int aw, int ah)
{
    double px[16][2], qx[16][2];
    int n = 4;
    const double x0 = 0.1 * w, x1 = 0.9 * w - 1, y0 = 0.1 * h, y1 = 0.9 * h - 1;
    const double init[4][2] = {{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}};
    memcpy(px, init, sizeof init);
    /* half-planes k0 x + k1 y + k2 >= 0 */
    const double *m = truth->m;
    const double hp[4][3] = {{m[0], m[1], m[2] + 0.5},
                             {-m[0], -m[1], aw - 0.5 - m[2]},
                             {m[3], m[4], m[5] + 0.5},
                             {-m[3], -m[4], ah - 0.5 - m[5]}};
    for (int k = 0; k < 4 && n > 0; k++) {
        int q = 0;
        for (int i = 0; i < n; i++) {
            const double *a = px[i], *b = px[(i + 1) % n];
            double da = hp[k][0] * a[0] + hp[k][1] * a[1] + hp[k][2];
            double db = hp[k][0] * b[0] + hp[k][1] * b[1] + hp[k][2];
            if (da >= 0) {
                qx[q][0] = a[0];
                qx[q][1] = a[1];
                q++;
            }
            if ((da >= 0) != (db >= 0)) {
                double t = da / (da - db);
                qx[q][0] = a[0] + t * (b[0] - a[0]);
                qx[q][1] = a[1] + t * (b[1] - a[1]);
                q++;
            }
        }
        memcpy(px, qx, sizeof(double) * 2 * (size_t)q);
        n = q;
    }
    if (n == 0)
        return -1;
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double ax, ay, bx, by;
        sd_xform_apply(truth, px[i][0], px[i][1], &ax, &ay);
        sd_xform_apply(est, px[i][0], px[i][1], &bx, &by);
        worst = fmax(worst, hypot(ax - bx, ay - by));
    }
    return worst;
}

#endif

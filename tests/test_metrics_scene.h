/*
 * Test scenes for the metrics, ROI and normalization suites: a continuous
 * skin-like pattern (a base colour, sinusoidal log-luminance texture, dark
 * Gaussian blobs, dark lines, colour patches, a white clipped square) rendered
 * into an sd_image through an affine map from image pixels to scene
 * coordinates, so the same skin can be rendered at another scale, shift or
 * rotation. Luminance is set exactly: the rendered pixel's linear luminance
 * Y satisfies ln(Y + 1/4096) = ln(Ybase + 1/4096) + dLambda(x, y).
 */
#ifndef TEST_METRICS_SCENE_H
#define TEST_METRICS_SCENE_H

#include <math.h>

#include "skindelta/core.h"
#include "skindelta/kernels.h"

typedef struct sc_blob {
    double x, y, w, c; /* dLambda -= c * exp(-r^2 / (2 w^2)) */
} sc_blob;

typedef struct sc_line {
    double x0, y0, x1, y1, w, c; /* dark segment, Gaussian cross-profile */
} sc_line;

typedef struct sc_patch {
    double x, y, w, h; /* scene rectangle [x, x+w) x [y, y+h) */
    double rgb[3];     /* linear base colour inside */
} sc_patch;

typedef struct sc_scene {
    double base[3];                                /* linear RGB */
    int nsin;                                      /* sinusoids in dLambda */
    double sin_a[4], sin_p[4], sin_th[4], sin_ph[4];
    int nblob;
    const sc_blob *blobs;
    int nline;
    const sc_line *lines;
    int npatch;
    const sc_patch *patches;
    int nwhite;
    const sc_patch *white; /* rendered 255,255,255 (clipped) */
    double expo;           /* linear exposure factor (1 when 0) */
    double cast[3];        /* per-channel factor (1 when 0) */
} sc_scene;

static inline double sc_srgb_encode(double l)
{
    if (l <= 0)
        return 0;
    if (l >= 1)
        return 1;
    return l <= 0.0031308 ? 12.92 * l : 1.055 * pow(l, 1 / 2.4) - 0.055;
}

static inline uint16_t sc_q16(double l)
{
    return (uint16_t)lround(sc_srgb_encode(l) * 65535.0);
}

static inline int sc_in(const sc_patch *p, double x, double y)
{
    return x >= p->x && x < p->x + p->w && y >= p->y && y < p->y + p->h;
}

static inline double sc_dlambda(const sc_scene *sc, double x, double y)
{
    double d = 0;
    for (int i = 0; i < sc->nsin; i++)
        d += sc->sin_a[i] *
             sin(2 * M_PI * (x * cos(sc->sin_th[i]) + y * sin(sc->sin_th[i])) / sc->sin_p[i] +
                 sc->sin_ph[i]);
    for (int i = 0; i < sc->nblob; i++) {
        const sc_blob *b = &sc->blobs[i];
        double dx = x - b->x, dy = y - b->y, r2 = dx * dx + dy * dy;
        if (r2 < 64 * b->w * b->w)
            d -= b->c * exp(-r2 / (2 * b->w * b->w));
    }
    for (int i = 0; i < sc->nline; i++) {
        const sc_line *l = &sc->lines[i];
        double vx = l->x1 - l->x0, vy = l->y1 - l->y0, len2 = vx * vx + vy * vy;
        double t = ((x - l->x0) * vx + (y - l->y0) * vy) / len2;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        double dx = x - (l->x0 + t * vx), dy = y - (l->y0 + t * vy);
        d -= l->c * exp(-(dx * dx + dy * dy) / (2 * l->w * l->w));
    }
    return d;
}

/* Scene colour (linear) at scene point (x, y), exposure and cast applied. */
static inline void sc_linear(const sc_scene *sc, double x, double y, double lin[3])
{
    const double *base = sc->base;
    for (int i = 0; i < sc->npatch; i++)
        if (sc_in(&sc->patches[i], x, y))
            base = sc->patches[i].rgb;
    double yb = SD_XYZ_YR * base[0] + SD_XYZ_YG * base[1] + SD_XYZ_YB * base[2];
    double yl = exp(log(yb + SD_LAMBDA_EPS) + sc_dlambda(sc, x, y)) - SD_LAMBDA_EPS;
    double e = sc->expo > 0 ? sc->expo : 1;
    for (int c = 0; c < 3; c++)
        lin[c] = base[c] / yb * yl * e * (sc->cast[c] > 0 ? sc->cast[c] : 1);
}

/* Render w x h; image pixel (u, v) shows scene point (m0 u + m1 v + m2,
 * m3 u + m4 v + m5). m NULL: identity. */
static inline sd_image *sc_render(const sc_scene *sc, int w, int h, const double *m)
{
    static const double id[6] = {1, 0, 0, 0, 1, 0};
    if (!m)
        m = id;
    sd_image *img = NULL;
    if (sd_image_new(NULL, w, h, 0, &img) != SD_OK)
        return NULL;
    for (int v = 0; v < h; v++)
        for (int u = 0; u < w; u++) {
            double x = m[0] * u + m[1] * v + m[2], y = m[3] * u + m[4] * v + m[5];
            uint16_t *p = img->px + (size_t)v * img->stride + 3 * (size_t)u;
            int white = 0;
            for (int i = 0; i < sc->nwhite; i++)
                white |= sc_in(&sc->white[i], x, y);
            double lin[3];
            sc_linear(sc, x, y, lin);
            for (int c = 0; c < 3; c++)
                p[c] = white ? 65535 : sc_q16(lin[c]);
        }
    return img;
}

/* Scene for a pure scale s (image pixel = s scene pixels). */
static inline sd_image *sc_render_scaled(const sc_scene *sc, int w, int h, double s)
{
    double m[6] = {1 / s, 0, 0, 0, 1 / s, 0};
    return sc_render(sc, w, h, m);
}

#define SC_SKIN {0.45, 0.25, 0.18}

#endif

/*
 * Per-pixel colour and accumulation row kernels of the metric stage (scalar
 * references; the ISA versions are in pixel_avx2.c and pixel_avx512.c).
 * See kernels_internal.h for the contracts and docs/kernels.md for the
 * tolerances between levels.
 */
#include <math.h>

#include "core/internal.h"
#include "kernels/kernels_internal.h"

void sd_row_linear(const uint16_t *rgb, int n, const float gain[3], float *r, float *g, float *b)
{
    const float *lut = sd_srgb16_lut();
    const float gr = gain[0], gg = gain[1], gb = gain[2];
    for (int i = 0; i < n; i++, rgb += 3) {
        r[i] = gr * lut[rgb[0]];
        g[i] = gg * lut[rgb[1]];
        b[i] = gb * lut[rgb[2]];
    }
}

void sd_row_luminance_scalar(const uint16_t *rgb, int n, const float gain[3], float *y)
{
    const float *lut = sd_srgb16_lut();
    const float gr = gain[0], gg = gain[1], gb = gain[2];
    for (int i = 0; i < n; i++, rgb += 3) {
        if (!(i & 15)) /* the 96 bytes of 16 pixels, SD_RGB_PREFETCH ahead */
            __builtin_prefetch(rgb + 3 * SD_RGB_PREFETCH),
                __builtin_prefetch(rgb + 3 * SD_RGB_PREFETCH + 32);
        float r = gr * lut[rgb[0]], gc = gg * lut[rgb[1]], b = gb * lut[rgb[2]];
        y[i] = (float)SD_XYZ_YR * r + (float)SD_XYZ_YG * gc + (float)SD_XYZ_YB * b;
    }
}

void sd_row_luminance(const uint16_t *rgb, int n, const float gain[3], float *y)
{
    sd_dsp_active()->row_luminance(rgb, n, gain, y);
}

/* The colour of one pixel from its linear R, G, B (the scalar reference's
 * arithmetic, shared by the 16-bit and the byte kernels) */
static inline void colour_px(float r, float gc, float b, int i, float *lam, float *a, float *e,
                             float *y)
{
    float yl = (float)SD_XYZ_YR * r + (float)SD_XYZ_YG * gc + (float)SD_XYZ_YB * b;
    float xx = (float)SD_XYZ_XR * r + (float)SD_XYZ_XG * gc + (float)SD_XYZ_XB * b;
    if (lam)
        lam[i] = logf(yl + (float)SD_LAMBDA_EPS);
    a[i] = 500.0f * (sd_lab_f(xx / SD_LAB_XN) - sd_lab_f(yl));
    if (e)
        e[i] = 100.0f * log10f((r > SD_ERY_EPS ? r : SD_ERY_EPS) /
                               (gc > SD_ERY_EPS ? gc : SD_ERY_EPS));
    y[i] = yl;
}

void sd_row_colour_scalar(const uint16_t *rgb, int n, const float g[3], float *lam, float *a,
                          float *e, float *y)
{
    const float *lut = sd_srgb16_lut();
    const float gr = g[0], gg = g[1], gb = g[2];
    for (int i = 0; i < n; i++, rgb += 3)
        colour_px(gr * lut[rgb[0]], gg * lut[rgb[1]], gb * lut[rgb[2]], i, lam, a, e, y);
}

void sd_lin8_table(const float g[3], float t[3][256])
{
    const float *lut = sd_srgb8_lut();
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++)
            t[c][v] = g[c] * lut[v];
}

void sd_row_linear8(const uint8_t *rgb, int n, const float t[3][256], float *r, float *g,
                    float *b)
{
    for (int i = 0; i < n; i++, rgb += 3) {
        r[i] = t[0][rgb[0]];
        g[i] = t[1][rgb[1]];
        b[i] = t[2][rgb[2]];
    }
}

void sd_row_colour8_scalar(const uint8_t *rgb, int n, const float g[3], float *lam, float *a,
                           float *e, float *y)
{
    float t[3][256];
    sd_lin8_table(g, t);
    for (int i = 0; i < n; i++, rgb += 3)
        colour_px(t[0][rgb[0]], t[1][rgb[1]], t[2][rgb[2]], i, lam, a, e, y);
}

void sd_row_luminance8_scalar(const uint8_t *rgb, int n, const float g[3], float *y)
{
    float t[3][256];
    sd_lin8_table(g, t);
    for (int i = 0; i < n; i++, rgb += 3)
        y[i] = (float)SD_XYZ_YR * t[0][rgb[0]] + (float)SD_XYZ_YG * t[1][rgb[1]] +
               (float)SD_XYZ_YB * t[2][rgb[2]];
}

void sd_row_colour_blocks(const uint16_t *rgb, int n, const float g[3], float *lam, float *a,
                          float *e, float *y, sd_colour_block_fn block)
{
    float r[SD_COLOUR_BLOCK], gc[SD_COLOUR_BLOCK], b[SD_COLOUR_BLOCK];
    for (int x0 = 0; x0 < n; x0 += SD_COLOUR_BLOCK) {
        const int m = n - x0 < SD_COLOUR_BLOCK ? n - x0 : SD_COLOUR_BLOCK;
        sd_row_linear(rgb + 3 * (size_t)x0, m, g, r, gc, b);
        block(r, gc, b, m, lam ? lam + x0 : NULL, a + x0, e ? e + x0 : NULL, y + x0);
    }
}

void sd_row_colour8_blocks(const uint8_t *rgb, int n, const float g[3], float *lam, float *a,
                           float *e, float *y, sd_colour_block_fn block)
{
    float t[3][256], r[SD_COLOUR_BLOCK], gc[SD_COLOUR_BLOCK], b[SD_COLOUR_BLOCK];
    sd_lin8_table(g, t);
    for (int x0 = 0; x0 < n; x0 += SD_COLOUR_BLOCK) {
        const int m = n - x0 < SD_COLOUR_BLOCK ? n - x0 : SD_COLOUR_BLOCK;
        sd_row_linear8(rgb + 3 * (size_t)x0, m, (const float(*)[256])t, r, gc, b);
        block(r, gc, b, m, lam ? lam + x0 : NULL, a + x0, e ? e + x0 : NULL, y + x0);
    }
}

void sd_row_luminance8_widened(const uint8_t *rgb, int n, const float g[3], float *y,
                               sd_row_luminance_fn lum16)
{
    enum { B = 256 };
    uint16_t w[3 * B];
    for (int x0 = 0; x0 < n; x0 += B) {
        const int m = n - x0 < B ? n - x0 : B;
        sd_widen8(rgb + 3 * (size_t)x0, 3 * (size_t)m, w);
        lum16(w, m, g, y + x0);
    }
}

void sd_image_colour(const sd_dsp *d, const sd_image *img, int x, int y, int n, const float g[3],
                     float *lam, float *a, float *e, float *yy)
{
    const size_t i = (size_t)y * img->stride + 3 * (size_t)x;
    if (img->px8)
        d->row_colour8(img->px8 + i, n, g, lam, a, e, yy);
    else
        d->row_colour(img->px + i, n, g, lam, a, e, yy);
}

void sd_image_luminance(const sd_image *img, int x, int y, int n, const float g[3], float *out)
{
    const sd_dsp *d = sd_dsp_active();
    const size_t i = (size_t)y * img->stride + 3 * (size_t)x;
    if (img->px8)
        d->row_luminance8(img->px8 + i, n, g, out);
    else
        d->row_luminance(img->px + i, n, g, out);
}

void sd_row_acc_scalar(const float *a, const float *b, const uint8_t *f, unsigned bit, int n,
                       double acc[3])
{
    double s = 0, sa = 0, s2 = 0;
    for (int x = 0; x < n; x++) {
        if (!(f[x] & bit))
            continue;
        double v = (double)a[x] - (b ? (double)b[x] : 0.0);
        s += v;
        sa += fabs(v);
        s2 += v * v;
    }
    acc[0] += s;
    acc[1] += sa;
    acc[2] += s2;
}

void sd_row_lap_acc_scalar(const float *up, const float *row, const float *dn, const uint8_t *f,
                           unsigned bit, int n, double acc[2])
{
    double s = 0, s2 = 0;
    for (int x = 0; x < n; x++) {
        if (!(f[x] & bit))
            continue;
        double l = (double)up[x] + dn[x] + row[x - 1] + row[x + 1] - 4.0 * row[x];
        s += l;
        s2 += l * l;
    }
    acc[0] += s;
    acc[1] += s2;
}

void sd_row_acc3_scalar(const float *lam, const float *gt, const float *up, const float *gs,
                        const float *dn, const uint8_t *f, unsigned bit, int n, double tex[3],
                        double fine[3], double lap[2])
{
    /* one loop, each sum in x order as its separate kernel */
    double t = 0, ta = 0, t2 = 0, s = 0, sa = 0, s2 = 0, l1 = 0, l2 = 0;
    for (int x = 0; x < n; x++) {
        if (!(f[x] & bit))
            continue;
        const double v = (double)lam[x] - (double)gt[x], u = (double)lam[x] - (double)gs[x];
        t += v;
        ta += fabs(v);
        t2 += v * v;
        s += u;
        sa += fabs(u);
        s2 += u * u;
        if (x >= 1 && x < n - 1) {
            const double l = (double)up[x] + dn[x] + gs[x - 1] + gs[x + 1] - 4.0 * gs[x];
            l1 += l;
            l2 += l * l;
        }
    }
    tex[0] += t;
    tex[1] += ta;
    tex[2] += t2;
    fine[0] += s;
    fine[1] += sa;
    fine[2] += s2;
    if (n >= 3) {
        lap[0] += l1;
        lap[1] += l2;
    }
}

void sd_row_hist_scalar(const float *v, const uint8_t *f, unsigned bit, int n, const double *c,
                        uint32_t *hist)
{
    for (int x = 0; x < n; x++)
        if (f[x] & bit)
            hist[sd_fbin(sd_hist_value(v[x], c))]++;
}

void sd_row_sub_hist_scalar(const float *a, const float *b, float *out, const uint8_t *f,
                            unsigned bit, int n, uint32_t *hist)
{
    for (int x = 0; x < n; x++) {
        const float d = a[x] - b[x];
        out[x] = d;
        if (f[x] & bit)
            hist[sd_fbin(d)]++;
    }
}

size_t sd_row_select_scalar(const float *v, const uint8_t *f, unsigned bit, int n,
                            const double *c, unsigned b_lo, unsigned b_hi, float *out)
{
    size_t k = 0;
    for (int x = 0; x < n; x++) {
        if (!(f[x] & bit))
            continue;
        float w = sd_hist_value(v[x], c);
        unsigned b = sd_fbin(w);
        if (b >= b_lo && b <= b_hi)
            out[k++] = w;
    }
    return k;
}

size_t sd_row_hist_select_scalar(const float *v, const uint8_t *f, unsigned bit, int n,
                                 uint32_t *hist, const unsigned (*r)[2], int nr, size_t *below,
                                 float *out)
{
    size_t k = 0;
    for (int x = 0; x < n; x++) {
        if (!(f[x] & bit))
            continue;
        const unsigned b = sd_fbin(v[x]);
        if (hist)
            hist[b]++;
        int in = 0;
        for (int i = 0; i < nr; i++) {
            in |= b >= r[i][0] && b <= r[i][1];
            if (below)
                below[i] += b < r[i][0];
        }
        if (in)
            out[k++] = v[x];
    }
    return k;
}

void sd_row_sub_scalar(const float *a, const float *b, float *out, int n)
{
    for (int x = 0; x < n; x++)
        out[x] = a[x] - b[x];
}

void sd_row_flag_above_scalar(const float *a, const float *b, float t, uint8_t *f, uint8_t bit,
                              int n)
{
    for (int x = 0; x < n; x++)
        if ((b ? a[x] - b[x] : a[x]) > t)
            f[x] |= bit;
}

void sd_row_sum_scalar(const float *a, const uint8_t *f, unsigned bit, int n, double *sum)
{
    double s = 0;
    for (int x = 0; x < n; x++)
        if (f[x] & bit)
            s += (double)a[x];
    *sum += s;
}

void sd_row_sum4_scalar(const float *a, const float *e, const float *lam, const uint8_t *f,
                        unsigned bit, int n, int xs, double *sa, double *se, double *sl,
                        double *sr, const float *t, size_t *above)
{
    /* one loop, each sum in x order as row_sum */
    double ta = 0, te = 0, tl = 0, tr = 0;
    const float tv = t ? *t : 0.0f;
    size_t k = 0;
    for (int x = 0; x < n; x++) {
        if (!(f[x] & bit))
            continue;
        ta += (double)a[x];
        te += (double)e[x];
        if (x < xs)
            tl += (double)lam[x];
        else
            tr += (double)lam[x];
        k += a[x] > tv;
    }
    *sa += ta;
    *se += te;
    *sl += tl;
    *sr += tr;
    if (t)
        *above += k;
}

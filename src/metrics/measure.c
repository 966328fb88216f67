/*
 * sd_image_measure: texture, redness, pores and the quality measures of one
 * image over a mask in that image's own frame (see docs/metrics.md).
 *
 * Planes: Lambda, one scratch blur (G_t, then G_s), G_p (then D). Per-pixel
 * colour values are computed once, in the first pass.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "metrics/metrics_internal.h"
#include "skindelta/kernels.h"
#include "skindelta/metrics.h"

/* flags per pixel */
enum { F_MASK = 1, F_MEASURED = 2, F_CLIPPED = 4, F_VISITED = 8 };

typedef struct measure_buf {
    sd_plane lam, b, c;
    uint8_t *flags;
    float *va, *vb; /* compact per-measured-pixel scratch */
    double *colsum;
    size_t *colcnt;
    size_t *stack;
    size_t stack_cap;
} measure_buf;

static void measure_buf_release(measure_buf *m)
{
    sd_plane_release(&m->lam);
    sd_plane_release(&m->b);
    sd_plane_release(&m->c);
    free(m->flags);
    free(m->va);
    free(m->vb);
    free(m->colsum);
    free(m->colcnt);
    free(m->stack);
    memset(m, 0, sizeof *m);
}

static int params_ok(const sd_metric_params *p)
{
    return p->sigma_t > 0 && p->sigma_p > 0 && p->sigma_s > 0 && isfinite(p->sigma_t) &&
           isfinite(p->sigma_p) && isfinite(p->sigma_s) && p->sigma_p <= 1000 &&
           p->pore_area_min >= 0 && p->pore_area_max >= p->pore_area_min &&
           p->pore_max_elongation >= 1 && p->pore_k > 0 && p->pore_floor >= 0 &&
           p->pore_contrast >= 0 && isfinite(p->red_delta) && p->px_per_mm >= 0 &&
           isfinite(p->pore_area_max) && isfinite(p->pore_contrast) && isfinite(p->px_per_mm);
}

/* Components of candidate pixels (D > t), 8-connected, seeded only from
 * measured pixels but grown through every unclipped candidate pixel, so a
 * pore crossing the mask edge is seen whole. A component counts when its
 * centroid's nearest pixel is in the mask, and its area and elongation pass. */
static sd_status find_pores(sd_ctx *ctx, measure_buf *m, const sd_plane *d, float t,
                            double amin, double amax, double max_elong, size_t *count,
                            double *area_sum)
{
    int w = d->w, h = d->h;
    size_t n_acc = 0;
    double a_acc = 0;
    for (int y0 = 0; y0 < h; y0++) {
        const float *drow = sd_plane_row(d, y0);
        for (int x0 = 0; x0 < w; x0++) {
            size_t i0 = (size_t)y0 * (size_t)w + (size_t)x0;
            if ((m->flags[i0] & (F_MEASURED | F_VISITED)) != F_MEASURED || !(drow[x0] > t))
                continue;
            /* flood fill from (x0, y0) */
            size_t top = 0, n = 0;
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            m->flags[i0] |= F_VISITED;
            m->stack[top++] = i0;
            while (top) {
                size_t i = m->stack[--top];
                int x = (int)(i % (size_t)w), y = (int)(i / (size_t)w);
                double dx = x - x0, dy = y - y0;
                n++;
                sx += dx;
                sy += dy;
                sxx += dx * dx;
                syy += dy * dy;
                sxy += dx * dy;
                for (int ny = y - 1; ny <= y + 1; ny++) {
                    if (ny < 0 || ny >= h)
                        continue;
                    const float *nrow = sd_plane_row(d, ny);
                    for (int nx = x - 1; nx <= x + 1; nx++) {
                        if (nx < 0 || nx >= w)
                            continue;
                        size_t j = (size_t)ny * (size_t)w + (size_t)nx;
                        if (m->flags[j] & (F_VISITED | F_CLIPPED) || !(nrow[nx] > t))
                            continue;
                        m->flags[j] |= F_VISITED;
                        if (top == m->stack_cap) {
                            size_t cap = m->stack_cap * 2;
                            size_t *ns = cap > m->stack_cap && cap <= SIZE_MAX / sizeof *ns
                                             ? realloc(m->stack, cap * sizeof *ns)
                                             : NULL;
                            if (!ns)
                                return sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory");
                            m->stack = ns;
                            m->stack_cap = cap;
                        }
                        m->stack[top++] = j;
                    }
                }
            }
            double area = (double)n;
            if (area < amin || area > amax)
                continue;
            double mx = sx / area, my = sy / area;
            /* second moments of the union of unit pixel squares */
            double vxx = sxx / area - mx * mx + 1.0 / 12.0;
            double vyy = syy / area - my * my + 1.0 / 12.0;
            double vxy = sxy / area - mx * my;
            double tr = 0.5 * (vxx + vyy);
            double disc = sqrt(0.25 * (vxx - vyy) * (vxx - vyy) + vxy * vxy);
            double l1 = tr + disc, l2 = tr - disc;
            if (!(l2 > 0) || sqrt(l1 / l2) > max_elong)
                continue;
            long cx = sd_nearest(x0 + mx), cy = sd_nearest(y0 + my);
            if (cx < 0 || cy < 0 || cx >= w || cy >= h ||
                !(m->flags[(size_t)cy * (size_t)w + (size_t)cx] & F_MASK))
                continue;
            n_acc++;
            a_acc += area;
        }
    }
    *count = n_acc;
    *area_sum = a_acc;
    return SD_OK;
}

sd_status sd_image_measure(sd_ctx *ctx, const sd_image *img, const uint8_t *mask, double scale,
                           const double gains[3], const sd_metric_params *p,
                           sd_thresholds *thr, sd_metrics *out)
{
    if (!img || !img->px || !p || !thr || !out)
        return sd_fail(ctx, SD_ERR_ARG, "metrics: missing argument");
    memset(out, 0, sizeof *out);
    out->pore_density_per_cm2 = NAN;
    out->pore_mean_area_mm2 = NAN;
    if (!(scale >= 0.05 && scale <= 20))
        return sd_fail(ctx, SD_ERR_ARG, "metrics: scale %g out of range [0.05, 20]", scale);
    if (!params_ok(p))
        return sd_fail(ctx, SD_ERR_ARG, "metrics: invalid metric parameters");
    double g[3] = {1, 1, 1};
    for (int c = 0; gains && c < 3; c++) {
        if (!(gains[c] > 0 && isfinite(gains[c])))
            return sd_fail(ctx, SD_ERR_ARG, "metrics: gain %g is not a positive number",
                           gains[c]);
        g[c] = gains[c];
    }
    if (thr->set && !(isfinite(thr->t_red) && thr->t_pore >= 0 && isfinite(thr->t_pore)))
        return sd_fail(ctx, SD_ERR_ARG, "metrics: invalid fixed thresholds");

    const int iw = img->width, ih = img->height;
    const double border = ceil(sd_metric_border(p) * scale);
    if (iw < 2 * border + 1 || ih < 2 * border + 1)
        return sd_fail(ctx, SD_ERR_TOO_SMALL,
                       "metrics: image is %dx%d, too small for the filters (at least %.0fx%.0f)",
                       iw, ih, 2 * border + 1, 2 * border + 1);
    const double st = p->sigma_t * scale, sp = p->sigma_p * scale, ss = p->sigma_s * scale;
    const double s2 = scale * scale;

    /* Work on the mask's bounding box plus the widest blur's radius: inside
     * the mask every blurred value is the one the whole frame would give. */
    int ox = 0, oy = 0, w = iw, h = ih;
    if (mask) {
        int mx0 = iw, my0 = ih, mx1 = -1, my1 = -1;
        for (int y = 1; y < ih - 1; y++) {
            const uint8_t *mrow = mask + (size_t)y * (size_t)iw;
            for (int x = 1; x < iw - 1; x++)
                if (mrow[x]) {
                    mx0 = SD_MIN(mx0, x);
                    mx1 = SD_MAX(mx1, x);
                    my0 = SD_MIN(my0, y);
                    my1 = SD_MAX(my1, y);
                }
        }
        if (mx1 < 0)
            return sd_fail(ctx, SD_ERR_TOO_SMALL, "metrics: the region is empty");
        int r = sd_gauss_radius(SD_MAX(sp, SD_MAX(st, ss))) + 2;
        ox = SD_MAX(0, mx0 - r);
        oy = SD_MAX(0, my0 - r);
        w = SD_MIN(iw - 1, mx1 + r) - ox + 1;
        h = SD_MIN(ih - 1, my1 + r) - oy + 1;
    }

    measure_buf m;
    memset(&m, 0, sizeof m);
    sd_status s;
    const size_t npx = (size_t)w * (size_t)h;
    if ((s = sd_plane_init(ctx, &m.lam, w, h)) != SD_OK ||
        (s = sd_plane_init(ctx, &m.b, w, h)) != SD_OK ||
        (s = sd_plane_init(ctx, &m.c, w, h)) != SD_OK)
        goto done;
    m.flags = calloc(npx, 1);
    m.colsum = sd_calloc_array((size_t)w, sizeof *m.colsum);
    m.colcnt = sd_calloc_array((size_t)w, sizeof *m.colcnt);
    m.stack_cap = 4096;
    m.stack = sd_alloc_array(m.stack_cap, sizeof *m.stack);
    if (!m.flags || !m.colsum || !m.colcnt || !m.stack) {
        s = sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory for %dx%d", w, h);
        goto done;
    }

    /* Mask and clip flags; the outermost pixel frame is never measured (the
     * Laplacian needs neighbours). A NULL mask is the image minus the border. */
    size_t n_mask = 0, n_clip = 0;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            const int X = ox + x, Y = oy + y;
            const size_t mi = (size_t)Y * (size_t)iw + (size_t)X;
            uint8_t f = sd_px_clipped(sd_image_px(img, X, Y)) ? F_CLIPPED : 0;
            int in = mask ? mask[mi] != 0
                          : (X >= border && Y >= border && X < iw - border && Y < ih - border);
            if (in && X > 0 && Y > 0 && X < iw - 1 && Y < ih - 1) {
                f |= F_MASK;
                n_mask++;
                if (f & F_CLIPPED)
                    n_clip++;
                else if (!mask || mask[mi] != SD_ROI_EXCLUDED)
                    f |= F_MEASURED;
            }
            m.flags[i] = f;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < npx; i++)
        n += (m.flags[i] & F_MEASURED) != 0;
    if (n_mask == 0 || n == 0) {
        s = sd_fail(ctx, SD_ERR_TOO_SMALL, "metrics: %s",
                    n_mask ? "every pixel of the region is clipped" : "the region is empty");
        goto done;
    }
    m.va = sd_alloc_array(n, sizeof *m.va);
    m.vb = sd_alloc_array(n, sizeof *m.vb);
    if (!m.va || !m.vb) {
        s = sd_fail(ctx, SD_ERR_NOMEM, "metrics: out of memory for %zu pixels", n);
        goto done;
    }

    /* Pass 1: Lambda everywhere; colour values on measured pixels. */
    const float *lut = sd_srgb16_lut();
    const float gr = (float)g[0], gg = (float)g[1], gb = (float)g[2];
    const float xn = (float)(SD_XYZ_XR + SD_XYZ_XG + SD_XYZ_XB);
    const float eps_rg = 1.0f / 4096.0f;
    double sum_a = 0, sum_e = 0;
    size_t n_crush = 0, k = 0;
    for (int y = 0; y < h; y++) {
        float *lrow = sd_plane_row(&m.lam, y);
        const uint16_t *px = sd_image_px(img, ox, oy + y);
        const uint8_t *frow = m.flags + (size_t)y * (size_t)w;
        for (int x = 0; x < w; x++, px += 3) {
            float r = gr * lut[px[0]], gc = gg * lut[px[1]], b = gb * lut[px[2]];
            float yl = (float)SD_XYZ_YR * r + (float)SD_XYZ_YG * gc + (float)SD_XYZ_YB * b;
            float lam = logf(yl + (float)SD_LAMBDA_EPS);
            lrow[x] = lam;
            if (frow[x] & F_MASK && px[0] <= SD_CRUSH_LEVEL && px[1] <= SD_CRUSH_LEVEL &&
                px[2] <= SD_CRUSH_LEVEL)
                n_crush++;
            if (!(frow[x] & F_MEASURED))
                continue;
            float xx = (float)SD_XYZ_XR * r + (float)SD_XYZ_XG * gc + (float)SD_XYZ_XB * b;
            float a = 500.0f * (sd_lab_f(xx / xn) - sd_lab_f(yl));
            float e = 100.0f * log10f(SD_MAX(r, eps_rg) / SD_MAX(gc, eps_rg));
            sum_a += a;
            sum_e += e;
            m.va[k] = a;
            m.vb[k] = yl;
            k++;
            m.colsum[x] += lam;
            m.colcnt[x]++;
        }
    }
    out->pixels = n;
    out->clipped_fraction = (double)n_clip / (double)n_mask;
    out->crushed_fraction = (double)n_crush / (double)n_mask;
    out->mean_a = sum_a / (double)n;
    out->erythema_index = sum_e / (double)n;
    out->median_y = sd_select_median(m.vb, n);

    /* lighting asymmetry: split at the centroid column of the measured pixels */
    {
        double sxc = 0;
        for (int x = 0; x < w; x++)
            sxc += (double)x * (double)m.colcnt[x];
        double cx = sxc / (double)n, sl = 0, sr = 0;
        size_t nl = 0, nr = 0;
        for (int x = 0; x < w; x++) {
            if (x < cx) {
                sl += m.colsum[x];
                nl += m.colcnt[x];
            } else {
                sr += m.colsum[x];
                nr += m.colcnt[x];
            }
        }
        out->asymmetry = nl && nr ? fabs(sl / (double)nl - sr / (double)nr) : 0.0;
    }

    /* red area: T_red from this image's median a* unless fixed */
    double t_red = thr->set ? thr->t_red : sd_select_median(m.va, n) + p->red_delta;
    {
        size_t red = 0;
        for (size_t i = 0; i < n; i++)
            red += m.va[i] > t_red;
        out->red_area_fraction = (double)red / (double)n;
    }

    /* texture: H = Lambda - G_t(Lambda) */
    if ((s = sd_gauss_blur(ctx, &m.lam, &m.b, st)) != SD_OK)
        goto done;
    {
        double s1 = 0, s2h = 0;
        for (int y = 0; y < h; y++) {
            const float *l = sd_plane_row(&m.lam, y), *gt = sd_plane_row(&m.b, y);
            const uint8_t *frow = m.flags + (size_t)y * (size_t)w;
            for (int x = 0; x < w; x++) {
                if (!(frow[x] & F_MEASURED))
                    continue;
                double hv = (double)l[x] - (double)gt[x];
                s1 += fabs(hv);
                s2h += hv * hv;
            }
        }
        out->ra = 100.0 * s1 / (double)n;
        out->rq = 100.0 * sqrt(s2h / (double)n);
    }

    /* pores and sharpness: G_s into b, G_p into c, D = G_p - G_s into c */
    if ((s = sd_gauss_blur(ctx, &m.lam, &m.b, ss)) != SD_OK ||
        (s = sd_gauss_blur(ctx, &m.lam, &m.c, sp)) != SD_OK)
        goto done;
    {
        /* sharpness: variance of the 5-point Laplacian of G_s(Lambda), times
         * scale^4 so that it is per reference-frame pixel^2 */
        double sl = 0, sll = 0;
        k = 0;
        for (int y = 0; y < h; y++) {
            const float *up = sd_plane_row(&m.b, y > 0 ? y - 1 : y);
            const float *row = sd_plane_row(&m.b, y);
            const float *dn = sd_plane_row(&m.b, y < h - 1 ? y + 1 : y);
            float *drow = sd_plane_row(&m.c, y);
            const uint8_t *frow = m.flags + (size_t)y * (size_t)w;
            for (int x = 0; x < w; x++) {
                if (frow[x] & F_MEASURED) {
                    double lap = (double)up[x] + dn[x] + row[x - 1] + row[x + 1] - 4.0 * row[x];
                    sl += lap;
                    sll += lap * lap;
                }
                drow[x] -= row[x];
                if (frow[x] & F_MEASURED)
                    m.vb[k++] = drow[x];
            }
        }
        double mean = sl / (double)n;
        out->sharpness = SD_MAX(0.0, sll / (double)n - mean * mean) * s2 * s2;
    }
    double t_pore = thr->t_pore;
    if (!thr->set) {
        if (p->pore_contrast > 0) {
            t_pore = p->pore_contrast;
        } else {
            double med = sd_select_median(m.vb, n);
            for (size_t i = 0; i < n; i++)
                m.vb[i] = (float)fabs((double)m.vb[i] - med);
            double mad = sd_select_median(m.vb, n);
            t_pore = SD_MAX(p->pore_floor, p->pore_k * 1.4826 * mad);
        }
    }
    {
        size_t count = 0;
        double area_sum = 0;
        if ((s = find_pores(ctx, &m, &m.c, (float)t_pore, p->pore_area_min * s2,
                            p->pore_area_max * s2, p->pore_max_elongation, &count,
                            &area_sum)) != SD_OK)
            goto done;
        out->pore_count = (double)count;
        out->pore_area_fraction = area_sum / (double)n;
        out->pore_mean_area_px = count ? area_sum / (double)count / s2 : 0.0;
        if (p->px_per_mm > 0) {
            double roi_mm2 = (double)n / s2 / (p->px_per_mm * p->px_per_mm);
            out->pore_density_per_cm2 = (double)count / (roi_mm2 / 100.0);
            out->pore_mean_area_mm2 = out->pore_mean_area_px / (p->px_per_mm * p->px_per_mm);
        }
    }
    if (!thr->set) {
        thr->t_red = t_red;
        thr->t_pore = t_pore;
        thr->set = 1;
    }
    s = SD_OK;
done:
    measure_buf_release(&m);
    return s;
}

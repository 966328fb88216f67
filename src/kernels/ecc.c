/* One template row of the alignment's ECC sums (ecc_row, scalar reference;
 * kernels_internal.h gives the definition). */
#include "kernels/kernels_internal.h"

/* The gradient of the band-pass plane at pixel (x, y): central
 * differences, one-sided at the edges, 0 across a side of one pixel. */
static inline float grad_x(const sd_plane *b, int x, int y)
{
    const float *r = sd_plane_row(b, y);
    const int w = b->w;
    if (w < 2)
        return 0.0f;
    if (x == 0)
        return r[1] - r[0];
    if (x == w - 1)
        return r[w - 1] - r[w - 2];
    return (r[x + 1] - r[x - 1]) * 0.5f;
}

static inline float grad_y(const sd_plane *b, int x, int y)
{
    const int h = b->h;
    if (h < 2)
        return 0.0f;
    if (y == 0)
        return sd_plane_row(b, 1)[x] - sd_plane_row(b, 0)[x];
    if (y == h - 1)
        return sd_plane_row(b, h - 1)[x] - sd_plane_row(b, h - 2)[x];
    return (sd_plane_row(b, y + 1)[x] - sd_plane_row(b, y - 1)[x]) * 0.5f;
}

static inline __attribute__((always_inline)) void ecc_row_p(const sd_ecc_row *r, const int P,
                                                             int s0, int s1, double *acc)
{
    const sd_plane *ib = r->I;
    const double xmax = ib->w - 1, ymax = ib->h - 1;
    const float *ip = ib->p;
    for (int s = s0; s < s1; s++) {
        const int x = r->step * s;
        /* the walk through I slants across its rows and leaves the hardware
         * prefetcher behind: fetch the rows r->ahead samples ahead */
        const double px = r->m0 * (x + r->ahead * r->step) + r->rx,
                     py = r->m3 * (x + r->ahead * r->step) + r->ry;
        if (px >= 0 && px <= xmax && py >= 0 && py < ymax) {
            const float *k = ip + (size_t)(int)py * ib->stride + (size_t)(int)px;
            __builtin_prefetch(k);
            __builtin_prefetch(k + ib->stride);
            if (P) { /* the gradients' rows above and below */
                if (py >= 1)
                    __builtin_prefetch(k - ib->stride);
                __builtin_prefetch(k + 2 * ib->stride);
            }
        }
        const double fx = r->m0 * x + r->rx, fy = r->m3 * x + r->ry;
        if (!(fx >= 0 && fx <= xmax && fy >= 0 && fy <= ymax))
            continue;
        int x0 = (int)fx, y0 = (int)fy;
        if (x0 == ib->w - 1 && x0 > 0)
            x0--;
        if (y0 == ib->h - 1 && y0 > 0)
            y0--;
        const int x1 = x0 + 1 < ib->w ? x0 + 1 : x0, y1 = y0 + 1 < ib->h ? y0 + 1 : y0;
        const double ax = fx - x0, ay = fy - y0;
        const double w00 = (1 - ax) * (1 - ay), w01 = ax * (1 - ay), w10 = (1 - ax) * ay,
                     w11 = ax * ay;
        const size_t i00 = (size_t)y0 * ib->stride + (size_t)x0,
                     i01 = (size_t)y0 * ib->stride + (size_t)x1,
                     i10 = (size_t)y1 * ib->stride + (size_t)x0,
                     i11 = (size_t)y1 * ib->stride + (size_t)x1;
        const double i = w00 * ip[i00] + w01 * ip[i01] + w10 * ip[i10] + w11 * ip[i11];
        const double t = r->t[x];
        acc[0] += 1.0;
        acc[1] += t;
        acc[2] += i;
        acc[3] += t * t;
        acc[4] += i * i;
        acc[5] += t * i;
        if (P == 0)
            continue;
        /* the gradient at the four taps (inside the plane's border written
         * out, from the rows around them) */
        float gx00, gx01, gx10, gx11, gy00, gy01, gy10, gy11;
        if (x0 >= 1 && x1 + 1 < ib->w && y0 >= 1 && y1 + 1 < ib->h) {
            const float *rm = ip + i00 - ib->stride, *r0 = ip + i00, *r1 = ip + i10,
                        *r2 = ip + i10 + ib->stride;
            gx00 = (r0[1] - r0[-1]) * 0.5f;
            gx01 = (r0[2] - r0[0]) * 0.5f;
            gx10 = (r1[1] - r1[-1]) * 0.5f;
            gx11 = (r1[2] - r1[0]) * 0.5f;
            gy00 = (r1[0] - rm[0]) * 0.5f;
            gy01 = (r1[1] - rm[1]) * 0.5f;
            gy10 = (r2[0] - r0[0]) * 0.5f;
            gy11 = (r2[1] - r0[1]) * 0.5f;
        } else {
            gx00 = grad_x(ib, x0, y0);
            gx01 = grad_x(ib, x1, y0);
            gx10 = grad_x(ib, x0, y1);
            gx11 = grad_x(ib, x1, y1);
            gy00 = grad_y(ib, x0, y0);
            gy01 = grad_y(ib, x1, y0);
            gy10 = grad_y(ib, x0, y1);
            gy11 = grad_y(ib, x1, y1);
        }
        const double gx = w00 * gx00 + w01 * gx01 + w10 * gx10 + w11 * gx11;
        const double gy = w00 * gy00 + w01 * gy01 + w10 * gy10 + w11 * gy11;
        const double u = (x - r->cx) * r->invR, v = r->v;
        double G[6];
        if (P == 4) {
            G[0] = gx * u + gy * v;
            G[1] = -gx * v + gy * u;
            G[2] = gx;
            G[3] = gy;
        } else {
            G[0] = gx * u;
            G[1] = gx * v;
            G[2] = gy * u;
            G[3] = gy * v;
            G[4] = gx;
            G[5] = gy;
        }
        for (int k = 0; k < P; k++) {
            acc[SD_ECC_SG + k] += G[k];
            acc[SD_ECC_SGT + k] += G[k] * t;
            acc[SD_ECC_SGI + k] += G[k] * i;
            for (int j = 0; j < P; j++)
                acc[SD_ECC_SGG + 8 * k + j] += G[j] * G[k];
        }
    }
}

void sd_ecc_row_scalar(const sd_ecc_row *r, int s0, int s1, double *acc)
{
    switch (r->P) {
    case 0: ecc_row_p(r, 0, s0, s1, acc); break;
    case 4: ecc_row_p(r, 4, s0, s1, acc); break;
    default: ecc_row_p(r, 6, s0, s1, acc); break;
    }
}

/*
 * The bilinear warp row kernel (scalar reference of sd_image_warp; the ISA
 * versions are in warp_avx2.c and warp_avx512.c and give the same bits).
 * Contract in kernels_internal.h, figures in docs/kernels.md "Warp".
 */
#include <math.h>

#include "kernels/kernels_internal.h"

void sd_row_warp_scalar(const sd_image *src, const sd_xform *xf, int y, int x0, int n,
                        uint16_t *out)
{
    const int sw = src->width, sh = src->height;
    const size_t stride = src->stride;
    for (int i = 0; i < n; i++, out += 3) {
        double fx, fy;
        sd_xform_apply(xf, x0 + i, y, &fx, &fy);
        /* a pixel covers [c - 0.5, c + 0.5]: inside up to the outer edges */
        if (!(fx >= -0.5 && fx <= sw - 0.5 && fy >= -0.5 && fy <= sh - 0.5)) {
            out[0] = out[1] = out[2] = 0;
            continue;
        }
        fx = fx < 0.0 ? 0.0 : fx > sw - 1 ? (double)(sw - 1) : fx;
        fy = fy < 0.0 ? 0.0 : fy > sh - 1 ? (double)(sh - 1) : fy;
        const int ix = (int)fx, iy = (int)fy;
        const int ix1 = ix + 1 < sw ? ix + 1 : ix, iy1 = iy + 1 < sh ? iy + 1 : iy;
        const double ax = fx - ix, ay = fy - iy;
        const uint16_t *r0 = src->px + (size_t)iy * stride;
        const uint16_t *r1 = src->px + (size_t)iy1 * stride;
        for (int c = 0; c < 3; c++) {
            double top = r0[3 * ix + c] + ax * (r0[3 * ix1 + c] - r0[3 * ix + c]);
            double bot = r1[3 * ix + c] + ax * (r1[3 * ix1 + c] - r1[3 * ix + c]);
            long v = lrint(top + ay * (bot - top));
            out[c] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : v);
        }
    }
}

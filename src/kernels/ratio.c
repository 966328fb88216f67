/* The exposure ratios of one grid row of the normalization (row_ratio,
 * scalar reference; kernels_internal.h gives the definition). */
#include "kernels/kernels_internal.h"

int sd_row_ratio_scalar(const sd_ratio_row *r, float *out)
{
    const double *m = r->m;
    int k = 0;
    for (int i = 0; i < r->n; i++) {
        if (r->in[(size_t)r->step * (size_t)i] != r->in_val)
            continue;
        const double x = r->x0 + r->step * i, y = r->y;
        const double u = m[0] * x + m[1] * y + m[2], v = m[3] * x + m[4] * y + m[5];
        const double b = r->b[i];
        const double a = sd_plane_bilinear(r->a, (u - r->ox - r->c) * r->inv,
                                           (v - r->oy - r->c) * r->inv);
        if (b < r->dark || a < r->dark)
            continue;
        out[k++] = (float)(b / a);
    }
    return k;
}

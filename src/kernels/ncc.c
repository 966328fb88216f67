/* The sums of one row of the alignment's global search (row_ncc_sums,
 * scalar reference; kernels_internal.h gives the definition). */
#include "kernels/kernels_internal.h"

void sd_row_ncc_sums_scalar(const float *t, const float *t2, const float *w, const float *v,
                            int n, float out[6])
{
    float acc[6][SD_NCC_LANES] = {{0}};
    int x = 0;
    for (; x + SD_NCC_LANES <= n; x += SD_NCC_LANES)
        for (int j = 0; j < SD_NCC_LANES; j++) {
            acc[0][j] += v[x + j];
            acc[1][j] += t[x + j] * v[x + j];
            acc[2][j] += w[x + j];
            acc[3][j] += t2[x + j] * v[x + j];
            acc[4][j] += w[x + j] * w[x + j];
            acc[5][j] += t[x + j] * w[x + j];
        }
    for (int j = 0; x < n; x++, j++) {
        acc[0][j] += v[x];
        acc[1][j] += t[x] * v[x];
        acc[2][j] += w[x];
        acc[3][j] += t2[x] * v[x];
        acc[4][j] += w[x] * w[x];
        acc[5][j] += t[x] * w[x];
    }
    for (int k = 0; k < 6; k++) {
        float f = 0;
        for (int j = 0; j < SD_NCC_LANES; j++)
            f += acc[k][j];
        out[k] = f;
    }
}

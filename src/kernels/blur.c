#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "skindelta/kernels.h"

int sd_gauss_radius(double sigma)
{
    if (sigma <= 0)
        return 0;
    double r = ceil(4.0 * sigma);
    return r > 4096 ? 4096 : (int)r;
}

/* Mirror an index into [0, n) (reflect about the edge pixels: -1 -> 1). */
static int mirror(int i, int n)
{
    if (n == 1)
        return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

sd_status sd_gauss_blur(sd_ctx *ctx, const sd_plane *src, sd_plane *dst, double sigma)
{
    int w = src->w, h = src->h;
    if (dst->w != w || dst->h != h || src->p == dst->p)
        return sd_fail(ctx, SD_ERR_ARG, "blur: bad planes");
    if (sigma <= 0) {
        for (int y = 0; y < h; y++)
            memcpy(sd_plane_row(dst, y), sd_plane_row(src, y), (size_t)w * sizeof(float));
        return SD_OK;
    }
    int r = sd_gauss_radius(sigma);
    float *k = sd_alloc_array((size_t)(2 * r + 1), sizeof(float));
    float *tmp = sd_alloc_array((size_t)w + 2 * (size_t)r, sizeof(float));
    float *col = sd_alloc_array((size_t)h + 2 * (size_t)r, sizeof(float));
    if (!k || !tmp || !col) {
        free(k);
        free(tmp);
        free(col);
        return sd_fail(ctx, SD_ERR_NOMEM, "blur: out of memory");
    }
    double sum = 0;
    for (int i = -r; i <= r; i++)
        sum += exp(-0.5 * i * i / (sigma * sigma));
    for (int i = -r; i <= r; i++)
        k[i + r] = (float)(exp(-0.5 * i * i / (sigma * sigma)) / sum);

    /* horizontal pass into dst */
    for (int y = 0; y < h; y++) {
        const float *s = sd_plane_row(src, y);
        for (int x = -r; x < w + r; x++)
            tmp[x + r] = s[mirror(x, w)];
        float *d = sd_plane_row(dst, y);
        for (int x = 0; x < w; x++) {
            float acc = 0;
            for (int i = 0; i <= 2 * r; i++)
                acc += k[i] * tmp[x + i];
            d[x] = acc;
        }
    }
    /* vertical pass in place on dst, one column at a time */
    for (int x = 0; x < w; x++) {
        for (int y = -r; y < h + r; y++)
            col[y + r] = sd_plane_row(dst, mirror(y, h))[x];
        for (int y = 0; y < h; y++) {
            float acc = 0;
            for (int i = 0; i <= 2 * r; i++)
                acc += k[i] * col[y + i];
            sd_plane_row(dst, y)[x] = acc;
        }
    }
    free(k);
    free(tmp);
    free(col);
    return SD_OK;
}

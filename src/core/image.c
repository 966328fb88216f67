#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

sd_status sd_image_check_size(sd_ctx *ctx, const char *what, uint64_t w, uint64_t h,
                              uint64_t max_pixels)
{
    if (w == 0 || h == 0)
        return sd_fail(ctx, SD_ERR_CORRUPT, "%s: image has zero width or height", what);
    if (w > SD_MAX_DIM || h > SD_MAX_DIM)
        return sd_fail(ctx, SD_ERR_TOO_LARGE,
                       "%s: image is %llux%llu, a side exceeds the limit of %d pixels", what,
                       (unsigned long long)w, (unsigned long long)h, SD_MAX_DIM);
    /* w, h <= 2^20, so the product fits in 64 bits */
    if (max_pixels && w * h > max_pixels)
        return sd_fail(ctx, SD_ERR_TOO_LARGE,
                       "%s: image is %llux%llu = %llu pixels, over the limit of %llu (--max-pixels)",
                       what, (unsigned long long)w, (unsigned long long)h,
                       (unsigned long long)(w * h), (unsigned long long)max_pixels);
    return SD_OK;
}

static sd_status image_make(sd_ctx *ctx, int w, int h, uint64_t max_pixels, int zero,
                            sd_image **out)
{
    *out = NULL;
    if (w < 0 || h < 0)
        return sd_fail(ctx, SD_ERR_ARG, "image: negative size %dx%d", w, h);
    sd_status s = sd_image_check_size(ctx, "image", (uint64_t)w, (uint64_t)h, max_pixels);
    if (s != SD_OK)
        return s;
    sd_image *img = calloc(1, sizeof *img);
    if (!img)
        return sd_fail(ctx, SD_ERR_NOMEM, "image: out of memory");
    img->width = w;
    img->height = h;
    img->stride = (size_t)w * 3;
    img->px = zero ? sd_calloc_array((size_t)h, img->stride * sizeof(uint16_t))
                   : sd_alloc_array((size_t)h, img->stride * sizeof(uint16_t));
    if (!img->px) {
        free(img);
        return sd_fail(ctx, SD_ERR_NOMEM, "image: out of memory for %dx%d pixels", w, h);
    }
    img->bits = 8;
    img->orientation = 1;
    *out = img;
    return SD_OK;
}

sd_status sd_image_new(sd_ctx *ctx, int w, int h, uint64_t max_pixels, sd_image **out)
{
    return image_make(ctx, w, h, max_pixels, 1, out);
}

sd_status sd_image_alloc(sd_ctx *ctx, int w, int h, uint64_t max_pixels, sd_image **out)
{
    return image_make(ctx, w, h, max_pixels, 0, out);
}

void sd_image_free(sd_image *img)
{
    if (!img)
        return;
    sd_free(img->px);
    free(img);
}

sd_status sd_plane_alloc(sd_ctx *ctx, sd_plane *pl, int w, int h)
{
    memset(pl, 0, sizeof *pl);
    if (w <= 0 || h <= 0 || w > SD_MAX_DIM || h > SD_MAX_DIM)
        return sd_fail(ctx, SD_ERR_ARG, "plane: bad size %dx%d", w, h);
    /* rows padded to 16 floats (64 bytes) so SIMD kernels may read whole vectors */
    size_t stride = ((size_t)w + 15) & ~(size_t)15;
    if ((size_t)h > SIZE_MAX / sizeof(float) / stride)
        return sd_fail(ctx, SD_ERR_NOMEM, "plane: %dx%d too large", w, h);
    float *p = sd_alloc_aligned((size_t)h * stride * sizeof(float));
    if (!p)
        return sd_fail(ctx, SD_ERR_NOMEM, "plane: out of memory for %dx%d", w, h);
    if (stride > (size_t)w)
        for (int y = 0; y < h; y++)
            memset(p + (size_t)y * stride + w, 0, (stride - (size_t)w) * sizeof(float));
    pl->w = w;
    pl->h = h;
    pl->stride = stride;
    pl->p = p;
    return SD_OK;
}

sd_status sd_plane_init(sd_ctx *ctx, sd_plane *pl, int w, int h)
{
    sd_status s = sd_plane_alloc(ctx, pl, w, h);
    if (s == SD_OK)
        memset(pl->p, 0, (size_t)h * pl->stride * sizeof(float));
    return s;
}

void sd_plane_release(sd_plane *pl)
{
    if (!pl)
        return;
    sd_free(pl->p);
    memset(pl, 0, sizeof *pl);
}

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* 0: 16-bit samples, not cleared; 1: the same, zeroed; 2: compact (8-bit) */
static sd_status image_make(sd_ctx *ctx, int w, int h, uint64_t max_pixels, int kind,
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
    if (kind == 2)
        img->px8 = sd_alloc_array((size_t)h, img->stride);
    else
        img->px = kind ? sd_calloc_array((size_t)h, img->stride * sizeof(uint16_t))
                       : sd_alloc_array((size_t)h, img->stride * sizeof(uint16_t));
    if (!img->px && !img->px8) {
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

sd_status sd_image_alloc_compact(sd_ctx *ctx, int w, int h, uint64_t max_pixels,
                                 sd_image **out)
{
    return image_make(ctx, w, h, max_pixels, 2, out);
}

sd_status sd_image_expand(sd_ctx *ctx, const sd_image *img, sd_image **out)
{
    *out = NULL;
    sd_image *e = NULL;
    sd_status s = sd_image_alloc(ctx, img->width, img->height, 0, &e);
    if (s != SD_OK)
        return s;
    for (int y = 0; y < img->height; y++) {
        uint16_t *row = e->px + (size_t)y * e->stride;
        const uint16_t *src = sd_image_row(img, 0, y, img->width, row);
        if (src != row)
            memcpy(row, src, 3 * (size_t)img->width * sizeof *row);
    }
    e->bits = img->bits;
    e->orientation = img->orientation;
    e->had_alpha = img->had_alpha;
    memcpy(e->format, img->format, sizeof e->format);
    memcpy(e->sha256, img->sha256, sizeof e->sha256);
    *out = e;
    return SD_OK;
}

/* 8-bit samples to 16-bit (v * 257): with SSE2 (the x86-64 baseline)
 * sixteen at a time, each byte paired with itself (v | v << 8); elsewhere
 * four at a time in a 64-bit word. */
void sd_widen8(const uint8_t *restrict in, size_t n, uint16_t *restrict out)
{
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= n; i += 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm_unpacklo_epi8(v, v));
        _mm_storeu_si128((__m128i *)(void *)(out + i + 8), _mm_unpackhi_epi8(v, v));
    }
#endif
    for (; i + 4 <= n; i += 4) {
        uint64_t v = (uint64_t)in[i] | (uint64_t)in[i + 1] << 16 | (uint64_t)in[i + 2] << 32 |
                     (uint64_t)in[i + 3] << 48;
        v |= v << 8;
        uint16_t lanes[4] = {(uint16_t)v, (uint16_t)(v >> 16), (uint16_t)(v >> 32),
                             (uint16_t)(v >> 48)};
        memcpy(out + i, lanes, sizeof lanes);
    }
    for (; i < n; i++)
        out[i] = (uint16_t)(in[i] * 257);
}

const uint16_t *sd_image_row(const sd_image *img, int x, int y, int n, uint16_t *scratch)
{
    const size_t i = (size_t)y * img->stride + 3 * (size_t)x;
    if (img->px)
        return img->px + i;
    sd_widen8(img->px8 + i, 3 * (size_t)n, scratch);
    return scratch;
}

void sd_image_free(sd_image *img)
{
    if (!img)
        return;
    sd_free(img->px);
    sd_free(img->px8);
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

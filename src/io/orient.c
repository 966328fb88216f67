/*
 * EXIF orientation: turning an image stored in sensor order upright.
 *
 * Orientation o says where the stored rows and columns belong (EXIF 2.3,
 * tag 0x0112). For a stored pixel (x, y) of a W x H image the upright
 * position is:
 *
 *   1 (x, y)              normal
 *   2 (W-1-x, y)          mirrored left-right
 *   3 (W-1-x, H-1-y)      rotated 180
 *   4 (x, H-1-y)          mirrored top-bottom
 *   5 (y, x)              transposed (upright is H x W)
 *   6 (H-1-y, x)          rotated 90 clockwise
 *   7 (H-1-y, W-1-x)      transversed
 *   8 (y, W-1-x)          rotated 90 counter-clockwise
 *
 * For one stored row y the upright position moves by a constant step as x
 * grows, so a row is written with a start pointer and a step.
 */
#include <string.h>

#include "core/internal.h"
#include "io/io_internal.h"

void sd_io_put_row(sd_image *dst, int o, int src_w, int src_h, int y, const uint16_t *rgb)
{
    ptrdiff_t stride = (ptrdiff_t)dst->stride;
    ptrdiff_t start, step; /* in uint16_t elements */
    switch (o) {
    default: /* 1 */
        memcpy(dst->px + (size_t)y * dst->stride, rgb, (size_t)src_w * 3 * sizeof *rgb);
        return;
    case 2: start = (ptrdiff_t)y * stride + 3 * (ptrdiff_t)(src_w - 1); step = -3; break;
    case 3: start = (ptrdiff_t)(src_h - 1 - y) * stride + 3 * (ptrdiff_t)(src_w - 1); step = -3; break;
    case 4: start = (ptrdiff_t)(src_h - 1 - y) * stride; step = 3; break;
    case 5: start = 3 * (ptrdiff_t)y; step = stride; break;
    case 6: start = 3 * (ptrdiff_t)(src_h - 1 - y); step = stride; break;
    case 7: start = (ptrdiff_t)(src_w - 1) * stride + 3 * (ptrdiff_t)(src_h - 1 - y); step = -stride; break;
    case 8: start = (ptrdiff_t)(src_w - 1) * stride + 3 * (ptrdiff_t)y; step = -stride; break;
    }
    uint16_t *d = dst->px + start;
    for (int x = 0; x < src_w; x++, d += step) {
        d[0] = rgb[3 * x];
        d[1] = rgb[3 * x + 1];
        d[2] = rgb[3 * x + 2];
    }
}

sd_status sd_io_orient_image(sd_ctx *ctx, const char *name, int o, uint64_t max_pixels,
                             sd_image **img)
{
    sd_image *src = *img;
    if (o < 1 || o > 8)
        o = 1;
    src->orientation = o;
    if (o == 1)
        return SD_OK;
    int w, h;
    sd_io_upright_size(o, src->width, src->height, &w, &h);
    sd_image *dst = NULL;
    sd_status s = sd_image_new(ctx, w, h, max_pixels, &dst);
    if (s != SD_OK)
        return sd_fail(ctx, s, "%s: out of memory turning the image upright", name);
    for (int y = 0; y < src->height; y++)
        sd_io_put_row(dst, o, src->width, src->height, y, src->px + (size_t)y * src->stride);
    dst->bits = src->bits;
    dst->orientation = o;
    dst->had_alpha = src->had_alpha;
    memcpy(dst->format, src->format, sizeof dst->format);
    memcpy(dst->sha256, src->sha256, sizeof dst->sha256);
    sd_image_free(src);
    *img = dst;
    return SD_OK;
}

void sd_io_lower_first(char *msg)
{
    if (!msg || msg[0] < 'A' || msg[0] > 'Z')
        return;
    /* "Premature end" -> "premature end"; "JPEG ..." and "IHDR: ..." stay */
    if (msg[1] >= 'a' && msg[1] <= 'z')
        msg[0] = (char)(msg[0] - 'A' + 'a');
}

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
 * The upright position is linear in x and y (a base and two steps), so
 * rows are placed with pointer arithmetic; turned placements (5..8) are
 * written a strip of rows at a time, column by column, so that writes run
 * along upright rows instead of striding down columns one pixel at a time.
 */
#include <string.h>

#include "core/internal.h"
#include "io/io_internal.h"

/* Upright place of stored pixel (x, y): base + x * xstep + y * ystep, in
 * uint16_t elements. */
static void placement(const sd_image *dst, int o, int src_w, int src_h, ptrdiff_t *base,
                      ptrdiff_t *xstep, ptrdiff_t *ystep)
{
    ptrdiff_t s = (ptrdiff_t)dst->stride, w1 = src_w - 1, h1 = src_h - 1;
    switch (o) {
    default: *base = 0, *xstep = 3, *ystep = s; break;                 /* 1 */
    case 2: *base = 3 * w1, *xstep = -3, *ystep = s; break;            /* (W-1-x, y) */
    case 3: *base = h1 * s + 3 * w1, *xstep = -3, *ystep = -s; break;  /* (W-1-x, H-1-y) */
    case 4: *base = h1 * s, *xstep = 3, *ystep = -s; break;            /* (x, H-1-y) */
    case 5: *base = 0, *xstep = s, *ystep = 3; break;                  /* (y, x) */
    case 6: *base = 3 * h1, *xstep = s, *ystep = -3; break;            /* (H-1-y, x) */
    case 7: *base = w1 * s + 3 * h1, *xstep = -s, *ystep = -3; break;  /* (H-1-y, W-1-x) */
    case 8: *base = w1 * s, *xstep = -s, *ystep = 3; break;            /* (y, W-1-x) */
    }
}

/* One placement loop for 16-bit rows (copied) and 8-bit rows (widened to
 * v * 257 on the way): SAMPLE is the source type, PUT(d, s) writes one
 * upright pixel d from stored pixel s. */
#define SD_DEFINE_PUT_ROWS(NAME, SAMPLE, PUT)                                                  \
    void NAME(sd_image *dst, int o, int src_w, int src_h, int y0, int n, const SAMPLE *rows,    \
              size_t row_stride)                                                             \
    {                                                                                        \
        ptrdiff_t base, xs, ys;                                                              \
        placement(dst, o, src_w, src_h, &base, &xs, &ys);                                    \
        uint16_t *px = dst->px + base + (ptrdiff_t)y0 * ys;                                  \
        if (o >= 5 && o <= 8) {                                                              \
            /* a stored column lands in an upright row: walk the strip in                    \
             * tiles of 32 columns, column by column, so that each upright                   \
             * row gets a run of n pixels and a tile stays in L1 */                          \
            for (int x0 = 0; x0 < src_w; x0 += 32) {                                         \
                int x1 = SD_MIN(src_w, x0 + 32);                                             \
                for (int x = x0; x < x1; x++) {                                              \
                    uint16_t *restrict d = px + (ptrdiff_t)x * xs;                           \
                    const SAMPLE *restrict s = rows + 3 * (size_t)x;                         \
                    for (int j = 0; j < n; j++, d += ys, s += row_stride)                    \
                        PUT(d, s);                                                           \
                }                                                                            \
            }                                                                                \
            return;                                                                          \
        }                                                                                    \
        for (int j = 0; j < n; j++) {                                                        \
            uint16_t *restrict d = px + (ptrdiff_t)j * ys;                                   \
            const SAMPLE *restrict s = rows + (size_t)j * row_stride;                        \
            for (int x = 0; x < src_w; x++, d += xs, s += 3)                                 \
                PUT(d, s);                                                                   \
        }                                                                                    \
    }

#define SD_PUT_COPY(d, s) memcpy((d), (s), 3 * sizeof(uint16_t))
#define SD_PUT_WIDEN(d, s)                                                                   \
    ((d)[0] = (uint16_t)((s)[0] * 257), (d)[1] = (uint16_t)((s)[1] * 257),                    \
     (d)[2] = (uint16_t)((s)[2] * 257))

SD_DEFINE_PUT_ROWS(sd_io_put_rows, uint16_t, SD_PUT_COPY)
SD_DEFINE_PUT_ROWS(sd_io_put_rows8, uint8_t, SD_PUT_WIDEN)

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
    sd_status s = sd_image_alloc(ctx, w, h, max_pixels, &dst);
    if (s != SD_OK)
        return sd_fail(ctx, s, "%s: out of memory turning the image upright", name);
    for (int y = 0; y < src->height; y += SD_IO_STRIP_ROWS) {
        int n = SD_MIN(SD_IO_STRIP_ROWS, src->height - y);
        sd_io_put_rows(dst, o, src->width, src->height, y, n, src->px + (size_t)y * src->stride,
                       src->stride);
    }
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

/*
 * PNG decoding through libpng.
 *
 * Every colour type and bit depth comes out as 16-bit RGB: palettes are
 * expanded, grey 1/2/4-bit is scaled to 8, grey becomes R=G=B, alpha (and
 * tRNS transparency) is dropped and recorded in had_alpha, 8-bit samples are
 * multiplied by 257 and 16-bit samples are kept whole. gAMA, cHRM, iCCP,
 * sRGB, bKGD and the other ancillary chunks are not even parsed: inputs are
 * taken as sRGB (docs/io.md). The eXIf chunk's orientation is applied.
 *
 * setjmp/longjmp stays inside sd_io_decode_png, with volatile locals.
 * Limits: png_set_user_limits (sides), the pixel cap checked from IHDR
 * before any pixel buffer, png_set_chunk_malloc_max for ancillary chunks.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "core/internal.h"
#include "io/io_internal.h"

typedef struct pngd_src {
    const uint8_t *data;
    size_t len, pos;
} pngd_src;

typedef struct pngd_err {
    char msg[512];
    char warning[256]; /* the last warning: IHDR problems are told as warnings first */
} pngd_err;

/* Largest ancillary chunk libpng will allocate (eXIf, unknown chunks). */
#define SD_PNG_CHUNK_MALLOC_MAX ((png_alloc_size_t)8 << 20)
/* Most ancillary chunks of one kind libpng will keep. */
#define SD_PNG_CHUNK_CACHE_MAX 1000

/* Known ancillary chunks we do not use: handled as unknown and skipped
 * (CRC still checked), so their parsers never see the data. */
static const png_byte ignored_chunks[] = {
    'b', 'K', 'G', 'D', '\0', 'c', 'H', 'R', 'M', '\0', 'g', 'A', 'M', 'A', '\0',
    'h', 'I', 'S', 'T', '\0', 'i', 'C', 'C', 'P', '\0', 'i', 'T', 'X', 't', '\0',
    'o', 'F', 'F', 's', '\0', 'p', 'C', 'A', 'L', '\0', 'p', 'H', 'Y', 's', '\0',
    's', 'B', 'I', 'T', '\0', 's', 'C', 'A', 'L', '\0', 's', 'P', 'L', 'T', '\0',
    's', 'R', 'G', 'B', '\0', 't', 'E', 'X', 't', '\0', 't', 'I', 'M', 'E', '\0',
    'z', 'T', 'X', 't', '\0',
};

static void on_read(png_structp png, png_bytep out, size_t n)
{
    pngd_src *src = png_get_io_ptr(png);
    if (n > src->len - src->pos)
        png_error(png, "premature end of PNG data");
    memcpy(out, src->data + src->pos, n);
    src->pos += n;
}

static void on_error(png_structp png, png_const_charp msg)
{
    pngd_err *err = png_get_error_ptr(png);
    snprintf(err->msg, sizeof err->msg, "%s", msg && *msg ? msg : "corrupt PNG data");
    sd_io_lower_first(err->msg);
    /* "Invalid IHDR data" alone does not say what is wrong; the warning
     * just before it does ("Invalid bit depth in IHDR") */
    if (err->warning[0] && strstr(err->msg, "IHDR data")) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (%s)", err->warning);
    }
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    /* warnings concern ancillary data, which is not used, or come just
     * before an error that they explain: keep the last one */
    pngd_err *err = png_get_error_ptr(png);
    snprintf(err->warning, sizeof err->warning, "%s", msg ? msg : "");
    sd_io_lower_first(err->warning);
}

static sd_status status_of_message(const char *msg)
{
    if (strstr(msg, "exceeds user limit") || strstr(msg, "too large for this architecture"))
        return SD_ERR_TOO_LARGE;
    if (strstr(msg, "Insufficient memory") || strstr(msg, "out of memory") ||
        strstr(msg, "Out of memory"))
        return SD_ERR_NOMEM;
    return SD_ERR_CORRUPT;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* CRC-32 (ISO 3309, as PNG uses it), bitwise: only ever run on IHDR. */
static uint32_t crc32_bytes(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* The size from an intact IHDR (the first chunk, at a fixed place), checked
 * before libpng reads on: a forged header is refused as too large even when
 * nothing follows it. Returns SD_OK when the IHDR is absent or damaged
 * (libpng then says what is wrong). */
static sd_status precheck_ihdr(sd_ctx *ctx, const uint8_t *d, size_t len, const char *name,
                               uint64_t max_pixels)
{
    if (len < 33 || be32(d + 8) != 13 || memcmp(d + 12, "IHDR", 4) != 0 ||
        crc32_bytes(d + 12, 17) != be32(d + 29))
        return SD_OK;
    uint32_t w = be32(d + 16), h = be32(d + 20);
    if (w == 0 || h == 0)
        return SD_OK; /* libpng's message is better */
    return sd_image_check_size(ctx, name, w, h, max_pixels);
}

/* libpng allocates some ancillary chunks whole, at the length the chunk
 * header declares, before reading their data: libpng 1.6.39's eXIf
 * handler mallocs up to 2 GiB for a 60-byte file (png_set_chunk_malloc_max
 * does not apply to it). The whole file is in memory, so walk the chunk
 * headers first and refuse a chunk that declares more bytes than the file
 * has left: every allocation libpng makes for a chunk is then bounded by
 * the input size. Stops at IEND, at a damaged signature or length (left to
 * libpng, which says what is wrong). */
static sd_status precheck_chunks(sd_ctx *ctx, const uint8_t *d, size_t len, const char *name)
{
    if (len < 8 || memcmp(d, "\x89PNG\r\n\x1a\n", 8) != 0)
        return SD_OK;
    size_t pos = 8;
    while (len - pos >= 8) {
        uint32_t n = be32(d + pos);
        if (n > 0x7FFFFFFFu)
            return SD_OK;
        size_t left = len - pos - 8;
        if (memcmp(d + pos + 4, "IDAT", 4) != 0 && (size_t)n > left) {
            char type[5];
            for (int i = 0; i < 4; i++) {
                char c = (char)d[pos + 4 + i];
                type[i] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ? c : '?';
            }
            type[4] = '\0';
            return sd_fail(ctx, SD_ERR_CORRUPT,
                           "%s: premature end of PNG data (chunk %s declares %u bytes, "
                           "%zu left)",
                           name, type, (unsigned)n, left);
        }
        if (memcmp(d + pos + 4, "IEND", 4) == 0 || (size_t)n + 4 > left)
            return SD_OK;
        pos += 12 + (size_t)n;
    }
    return SD_OK;
}

/* 8-bit RGB bytes at the start of a row -> 16-bit in place (from the end,
 * so nothing is overwritten before it is read). */
static void expand_row_8_to_16(uint16_t *row, size_t n)
{
    const unsigned char *b = (const unsigned char *)row;
    for (size_t i = n; i-- > 0;)
        row[i] = (uint16_t)(b[i] * 257);
}

sd_status sd_io_decode_png(sd_ctx *ctx, const uint8_t *data, size_t len, const char *name,
                           const sd_io_opts *opts, sd_image **out)
{
    *out = NULL;
    sd_status s = precheck_ihdr(ctx, data, len, name, opts->max_pixels);
    if (s == SD_OK)
        s = precheck_chunks(ctx, data, len, name);
    if (s != SD_OK)
        return s;
    pngd_err err;
    pngd_src src = {data, len, 0};
    err.msg[0] = '\0';
    err.warning[0] = '\0';
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
    if (!png)
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", name);
    }
    /* changed after setjmp, read after longjmp */
    sd_image *volatile img = NULL;
    volatile sd_status size_status = SD_OK;

    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        sd_image_free(img);
        if (size_status != SD_OK) /* message already in ctx */
            return size_status;
        s = status_of_message(err.msg);
        if (s == SD_ERR_TOO_LARGE && len >= 24 && memcmp(data + 12, "IHDR", 4) == 0) {
            /* libpng's side limit: say it as the JPEG path does */
            s = sd_image_check_size(ctx, name, be32(data + 16), be32(data + 20),
                                    opts->max_pixels);
            if (s != SD_OK)
                return s;
            s = SD_ERR_TOO_LARGE;
        }
        return sd_fail(ctx, s, "%s: %s", name, err.msg);
    }

    png_set_read_fn(png, &src, on_read);
    uint64_t side = opts->max_pixels < SD_MAX_DIM ? opts->max_pixels : SD_MAX_DIM;
    png_set_user_limits(png, (png_uint_32)side, (png_uint_32)side);
    png_set_chunk_malloc_max(png, SD_PNG_CHUNK_MALLOC_MAX);
    png_set_chunk_cache_max(png, SD_PNG_CHUNK_CACHE_MAX);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, ignored_chunks,
                                (int)(sizeof ignored_chunks / 5));
    png_read_info(png, info);

    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    s = sd_image_check_size(ctx, name, w, h, opts->max_pixels);
    if (s != SD_OK) {
        size_status = s;
        png_longjmp(png, 1);
    }
    int had_alpha = (color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);

    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(png);
    if (had_alpha)
        png_set_strip_alpha(png);
    const uint16_t one = 1;
    if (depth == 16 && *(const unsigned char *)&one == 1)
        png_set_swap(png); /* PNG is big-endian; the image holds native uint16_t */
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int out_depth = png_get_bit_depth(png, info);
    if (png_get_channels(png, info) != 3 || (out_depth != 8 && out_depth != 16))
        png_error(png, "unexpected pixel layout after conversion");
    /* compact storage: libpng's 8-bit rows are the image's (made 16-bit
     * below if the eXIf orientation, known only at the end, turns it) */
    const int compact = opts->compact && out_depth == 8;
    sd_image *im = NULL;
    s = compact ? sd_image_alloc_compact(ctx, (int)w, (int)h, opts->max_pixels, &im)
                : sd_image_alloc(ctx, (int)w, (int)h, opts->max_pixels, &im);
    if (s != SD_OK) {
        size_status = s;
        png_longjmp(png, 1);
    }
    img = im;
    if (png_get_rowbytes(png, info) > im->stride * (compact ? 1 : sizeof(uint16_t)))
        png_error(png, "unexpected row size after conversion");
    im->bits = out_depth;
    im->had_alpha = had_alpha;
    for (int p = 0; p < passes; p++)
        for (png_uint_32 y = 0; y < h; y++)
            png_read_row(png,
                         compact ? im->px8 + (size_t)y * im->stride
                                 : (png_bytep)(im->px + (size_t)y * im->stride),
                         NULL);
    png_read_end(png, info);

    int orientation = 1;
    png_uint_32 exif_len = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(png, info, &exif_len, &exif) && exif)
        orientation = sd_exif_orientation(exif, exif_len);
    png_destroy_read_struct(&png, &info, NULL);

    if (out_depth == 8 && !compact)
        for (png_uint_32 y = 0; y < h; y++)
            expand_row_8_to_16(im->px + (size_t)y * im->stride, (size_t)w * 3);
    if (compact && orientation != 1) {
        sd_image *wide = NULL;
        s = sd_image_expand(ctx, im, &wide);
        sd_image_free(im);
        if (s != SD_OK)
            return s;
        im = wide;
    }
    s = sd_io_orient_image(ctx, name, orientation, opts->max_pixels, &im);
    if (s != SD_OK) {
        sd_image_free(im);
        return s;
    }
    *out = im;
    return SD_OK;
}

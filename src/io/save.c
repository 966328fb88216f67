/*
 * Saving images: baseline JPEG through libjpeg's memory destination, PNG
 * (8 or 16 bit RGB) through libpng with a memory write callback. Both then go
 * through sd_file_write_atomic, so a failed save never leaves a partial file.
 *
 * libjpeg and libpng report errors by longjmp. Everything they touch lives
 * in one heap-allocated state struct (not in automatic variables, whose
 * values are indeterminate after longjmp), and each setjmp sits in one
 * function.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "core/internal.h"
#include "skindelta/io.h"

/* 16-bit sRGB-encoded sample -> 8 bit, round(v / 257): the exact inverse of
 * the loaders' 8 -> 16 scaling (v * 257). */
static inline uint8_t to8(uint16_t v)
{
    return (uint8_t)(((uint32_t)v * 255u + 32767u) / 65535u);
}

static sd_status check_image(sd_ctx *ctx, const sd_image *img, const char *what)
{
    if (!sd_image_has_pixels(img) || img->width <= 0 || img->height <= 0 ||
        img->stride < 3 * (size_t)img->width)
        return sd_fail(ctx, SD_ERR_ARG, "%s: no image to save", what);
    return SD_OK;
}

/* ---------------------------------------------------------------- JPEG */

struct jpeg_state {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    unsigned char *buf; /* jpeg_mem_dest output, malloc'd by libjpeg */
    unsigned long size;
    JSAMPLE *row;
    uint16_t *row16; /* a compact image's row as 16-bit samples */
    int created;
};

static void jpeg_error_exit_cb(j_common_ptr cinfo)
{
    struct jpeg_state *s = (struct jpeg_state *)cinfo->client_data;
    cinfo->err->format_message(cinfo, s->msg);
    longjmp(s->jb, 1);
}

static void jpeg_output_message_cb(j_common_ptr cinfo)
{
    /* the library never prints: keep the latest message for the error path */
    struct jpeg_state *s = (struct jpeg_state *)cinfo->client_data;
    cinfo->err->format_message(cinfo, s->msg);
}

sd_status sd_image_encode_jpeg(sd_ctx *ctx, const sd_image *img, int quality, uint8_t **out,
                               size_t *out_len)
{
    if (!out || !out_len)
        return sd_fail(ctx, SD_ERR_ARG, "jpeg: no output buffer");
    *out = NULL;
    *out_len = 0;
    sd_status st = check_image(ctx, img, "jpeg");
    if (st != SD_OK)
        return st;
    if (quality < 1 || quality > 100)
        return sd_fail(ctx, SD_ERR_ARG, "jpeg: quality %d is outside 1..100", quality);
    if (img->width > JPEG_MAX_DIMENSION || img->height > JPEG_MAX_DIMENSION)
        return sd_fail(ctx, SD_ERR_UNSUPPORTED,
                       "jpeg: image is %dx%d, a side exceeds JPEG's limit of %d pixels",
                       img->width, img->height, (int)JPEG_MAX_DIMENSION);

    struct jpeg_state *s = calloc(1, sizeof *s);
    if (s) {
        s->row = sd_alloc_array((size_t)img->width, 3);
        s->row16 = sd_alloc_array((size_t)img->width, 3 * sizeof *s->row16);
    }
    if (!s || !s->row || !s->row16) {
        if (s) {
            free(s->row);
            free(s->row16);
        }
        free(s);
        return sd_fail(ctx, SD_ERR_NOMEM, "jpeg: out of memory");
    }

    s->cinfo.err = jpeg_std_error(&s->jerr);
    s->jerr.error_exit = jpeg_error_exit_cb;
    s->jerr.output_message = jpeg_output_message_cb;
    s->cinfo.client_data = s;
    if (setjmp(s->jb)) {
        st = sd_fail(ctx, SD_ERR_WRITE, "jpeg: cannot encode: %s", s->msg);
        goto done;
    }
    jpeg_create_compress(&s->cinfo);
    s->created = 1;
    jpeg_mem_dest(&s->cinfo, &s->buf, &s->size);
    s->cinfo.image_width = (JDIMENSION)img->width;
    s->cinfo.image_height = (JDIMENSION)img->height;
    s->cinfo.input_components = 3;
    s->cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&s->cinfo);
    jpeg_set_quality(&s->cinfo, quality, TRUE);
    s->cinfo.optimize_coding = TRUE; /* smaller files, same pixels */
    s->cinfo.dct_method = JDCT_ISLOW; /* exact integer DCT: identical bytes everywhere */
    jpeg_start_compress(&s->cinfo, TRUE);
    while (s->cinfo.next_scanline < s->cinfo.image_height) {
        const uint16_t *src =
            sd_image_row(img, 0, (int)s->cinfo.next_scanline, img->width, s->row16);
        for (size_t i = 0; i < 3 * (size_t)img->width; i++)
            s->row[i] = to8(src[i]);
        JSAMPROW rows[1] = {s->row};
        jpeg_write_scanlines(&s->cinfo, rows, 1);
    }
    jpeg_finish_compress(&s->cinfo);
    *out = s->buf;
    *out_len = (size_t)s->size;
    s->buf = NULL;
done:
    if (s->created)
        jpeg_destroy_compress(&s->cinfo);
    free(s->buf);
    free(s->row);
    free(s->row16);
    free(s);
    return st;
}

sd_status sd_image_save_jpeg(sd_ctx *ctx, const sd_image *img, const char *path, int quality)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    sd_status st = sd_image_encode_jpeg(ctx, img, quality, &buf, &len);
    if (st != SD_OK) {
        /* name the file in the message ("out.jpg: jpeg: quality ...") */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sd_ctx_message(ctx));
        return sd_fail(ctx, st, "%s: %s", path ? path : "?", msg);
    }
    st = sd_file_write_atomic(ctx, path, buf, len);
    free(buf);
    return st;
}

/* ----------------------------------------------------------------- PNG */

struct png_state {
    png_structp png;
    png_infop info;
    jmp_buf jb;
    char msg[256];
    uint8_t *buf; /* the encoded file, grown by the write callback */
    size_t len, cap;
    uint8_t *row;
    uint16_t *row16; /* a compact image's row as 16-bit samples */
};

static void png_error_cb(png_structp png, png_const_charp msg)
{
    struct png_state *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    longjmp(s->jb, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* writing our own well-formed data: nothing to report */
}

static void png_write_cb(png_structp png, png_bytep data, size_t n)
{
    struct png_state *s = png_get_io_ptr(png);
    if (n > s->cap - s->len) {
        size_t cap = s->cap ? s->cap : 65536;
        while (n > cap - s->len) {
            if (cap > SIZE_MAX / 2)
                png_error(png, "output too large");
            cap *= 2;
        }
        uint8_t *nb = realloc(s->buf, cap);
        if (!nb)
            png_error(png, "out of memory");
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
}

static void png_flush_cb(png_structp png)
{
    (void)png;
}

/* Encode img as an 8- or 16-bit RGB PNG into a malloc'd buffer. */
static sd_status encode_png(sd_ctx *ctx, const sd_image *img, int bits, uint8_t **out,
                            size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    size_t bpp = bits == 16 ? 6 : 3;
    struct png_state *s = calloc(1, sizeof *s);
    if (s) {
        s->row = sd_alloc_array((size_t)img->width, bpp);
        s->row16 = sd_alloc_array((size_t)img->width, 3 * sizeof *s->row16);
    }
    if (!s || !s->row || !s->row16) {
        if (s) {
            free(s->row);
            free(s->row16);
        }
        free(s);
        return sd_fail(ctx, SD_ERR_NOMEM, "png: out of memory");
    }
    sd_status st = SD_OK;
    s->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, png_error_cb, png_warning_cb);
    if (s->png)
        s->info = png_create_info_struct(s->png);
    if (!s->png || !s->info) {
        st = sd_fail(ctx, SD_ERR_NOMEM, "png: out of memory");
        goto done;
    }
    if (setjmp(s->jb)) {
        st = sd_fail(ctx, SD_ERR_WRITE, "png: cannot encode: %s", s->msg);
        goto done;
    }
    png_set_write_fn(s->png, s, png_write_cb, png_flush_cb);
    png_set_IHDR(s->png, s->info, (png_uint_32)img->width, (png_uint_32)img->height, bits,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_sRGB(s->png, s->info, PNG_sRGB_INTENT_PERCEPTUAL);
    png_write_info(s->png, s->info);
    for (int y = 0; y < img->height; y++) {
        const uint16_t *src = sd_image_row(img, 0, y, img->width, s->row16);
        size_t n = 3 * (size_t)img->width;
        if (bits == 16) {
            for (size_t i = 0; i < n; i++) { /* PNG is big-endian */
                s->row[2 * i] = (uint8_t)(src[i] >> 8);
                s->row[2 * i + 1] = (uint8_t)(src[i] & 0xff);
            }
        } else {
            for (size_t i = 0; i < n; i++)
                s->row[i] = to8(src[i]);
        }
        png_write_row(s->png, s->row);
    }
    png_write_end(s->png, NULL);
    *out = s->buf;
    *out_len = s->len;
    s->buf = NULL;
done:
    png_destroy_write_struct(s->png ? &s->png : NULL, s->info ? &s->info : NULL);
    free(s->buf);
    free(s->row);
    free(s->row16);
    free(s);
    return st;
}

sd_status sd_image_save_png(sd_ctx *ctx, const sd_image *img, const char *path, int bits)
{
    if (!path || !*path)
        return sd_fail(ctx, SD_ERR_ARG, "png: empty file name");
    sd_status st = check_image(ctx, img, path);
    if (st != SD_OK)
        return st;
    if (bits != 8 && bits != 16)
        return sd_fail(ctx, SD_ERR_ARG, "%s: PNG depth must be 8 or 16, not %d", path, bits);
    uint8_t *buf = NULL;
    size_t len = 0;
    st = encode_png(ctx, img, bits, &buf, &len);
    if (st != SD_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sd_ctx_message(ctx));
        return sd_fail(ctx, st, "%s: %s", path, msg);
    }
    st = sd_file_write_atomic(ctx, path, buf, len);
    free(buf);
    return st;
}

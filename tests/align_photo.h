/*
 * Test-only stand-ins for the io stage while its loaders are not merged:
 * read an 8-bit JPEG or PNG into an sd_image, and JPEG-recompress an image
 * in memory. To be replaced by sd_image_load / sd_image_encode_jpeg +
 * sd_image_load_mem when io lands. No EXIF handling (the face photos used
 * are orientation 1).
 */
#ifndef ALIGN_PHOTO_H
#define ALIGN_PHOTO_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "skindelta/core.h"

/* JPEG from memory (or a FILE when f != NULL) into an 8-bit-scaled sd_image. */
static inline sd_image *ph_jpeg_decode(FILE *f, const unsigned char *mem, unsigned long len)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr); /* test-only: errors exit the test */
    jpeg_create_decompress(&cinfo);
    if (f)
        jpeg_stdio_src(&cinfo, f);
    else
        jpeg_mem_src(&cinfo, mem, len);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    sd_image *img = NULL;
    if (sd_image_new(NULL, (int)cinfo.output_width, (int)cinfo.output_height, 0, &img) != SD_OK)
        abort();
    unsigned char *row = malloc((size_t)cinfo.output_width * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        uint16_t *d = img->px + (size_t)cinfo.output_scanline * img->stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
        for (size_t i = 0; i < (size_t)cinfo.output_width * 3; i++)
            d[i] = (uint16_t)(row[i] * 257);
    }
    free(row);
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return img;
}

static inline sd_image *ph_png_read(const char *path)
{
    png_image pi;
    memset(&pi, 0, sizeof pi);
    pi.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&pi, path))
        return NULL;
    pi.format = PNG_FORMAT_RGB;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(pi));
    if (!buf || !png_image_finish_read(&pi, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&pi);
        return NULL;
    }
    sd_image *img = NULL;
    if (sd_image_new(NULL, (int)pi.width, (int)pi.height, 0, &img) != SD_OK)
        abort();
    for (size_t y = 0; y < pi.height; y++)
        for (size_t i = 0; i < (size_t)pi.width * 3; i++)
            img->px[y * img->stride + i] = (uint16_t)(buf[y * pi.width * 3 + i] * 257);
    free(buf);
    return img;
}

/* Load a JPEG or PNG by its first bytes. NULL when it cannot be read. */
static inline sd_image *ph_load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char sig[2] = {0, 0};
    size_t n = fread(sig, 1, 2, f);
    sd_image *img = NULL;
    if (n == 2 && sig[0] == 0xFF && sig[1] == 0xD8) {
        rewind(f);
        img = ph_jpeg_decode(f, NULL, 0);
        fclose(f);
    } else {
        fclose(f);
        img = ph_png_read(path);
    }
    return img;
}

/* Encode img (8-bit, rounding the 16-bit samples) as JPEG at `quality` and
 * decode it again: a recompression. Returns a new image. */
static inline sd_image *ph_jpeg_roundtrip(const sd_image *img, int quality)
{
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    unsigned char *mem = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&cinfo, &mem, &len);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    unsigned char *row = malloc((size_t)img->width * 3);
    while (cinfo.next_scanline < cinfo.image_height) {
        const uint16_t *s = img->px + (size_t)cinfo.next_scanline * img->stride;
        for (size_t i = 0; i < (size_t)img->width * 3; i++)
            row[i] = (unsigned char)((s[i] + 128) / 257);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(row);
    sd_image *out = ph_jpeg_decode(NULL, mem, len);
    free(mem);
    return out;
}

#endif

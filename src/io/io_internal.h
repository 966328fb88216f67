/*
 * Declarations shared by the files of src/io (not installed, not used by the
 * CLI): the per-format decoders behind sd_image_load_mem, and the EXIF
 * orientation writer they both use.
 */
#ifndef SKINDELTA_IO_INTERNAL_H
#define SKINDELTA_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "skindelta/core.h"
#include "skindelta/io.h"

/* Largest input file read or decoded: 1 GiB. */
#define SD_IO_MAX_FILE_BYTES ((size_t)1 << 30)

/* Progressive (or multi-scan) JPEGs with more scans than this are refused:
 * libjpeg-turbo's documentation describes how a file with thousands of tiny
 * scans makes a decoder spend minutes on a few kilobytes. */
#define SD_IO_JPEG_MAX_SCANS 500

/* Effective load options: every field filled in (no zero "defaults"). */
typedef struct sd_io_opts {
    uint64_t max_pixels; /* >= 1 */
    int scale_denom;     /* 1, 2, 4 or 8 */
    int box_side;        /* > 0 with box: sd_image_load_mem_box's reduced copy */
    sd_image **box;      /* where the JPEG decoder puts it (NULL: none wanted) */
    void (*row_fn)(void *arg, const sd_image *img, int y); /* sd_load_opts' */
    void *row_arg;
    int compact; /* sd_load_opts' */
} sd_io_opts;

/* Call o->row_fn (when set) on every row of img, in order: for images whose
 * rows were not handed over as they were decoded. */
void sd_io_rows_visit(const sd_io_opts *o, const sd_image *img);

/* Decoders. `data` holds the whole file, already recognised by its first
 * bytes; `name` is used in messages. On success *out is a new upright image
 * (orientation applied, `orientation`, `bits`, `had_alpha` set; `format` and
 * `sha256` are left to the caller). On failure *out is NULL and ctx holds a
 * one-line "name: reason" message. */
sd_status sd_io_decode_jpeg(sd_ctx *ctx, const uint8_t *data, size_t len, const char *name,
                            const sd_io_opts *opts, sd_image **out);
sd_status sd_io_decode_png(sd_ctx *ctx, const uint8_t *data, size_t len, const char *name,
                           const sd_io_opts *opts, sd_image **out);

/* Rows per strip when placing decoded rows upright. */
#define SD_IO_STRIP_ROWS 64

/* Orientation: an image decoded in stored order (src_w x src_h) is written
 * into `dst`, already allocated at the upright size (src_h x src_w for
 * orientations 5..8, else src_w x src_h), n stored rows at a time: stored
 * rows y0 .. y0+n-1 are at `rows`, `row_stride` uint16_t apart, each src_w
 * RGB pixels. */
void sd_io_put_rows(sd_image *dst, int orientation, int src_w, int src_h, int y0, int n,
                    const uint16_t *rows, size_t row_stride);
/* The same from 8-bit RGB rows, widened to v * 257 on the way. */
void sd_io_put_rows8(sd_image *dst, int orientation, int src_w, int src_h, int y0, int n,
                     const uint8_t *rows, size_t row_stride);

/* Upright size of a src_w x src_h stored image under EXIF orientation o. */
static inline void sd_io_upright_size(int o, int src_w, int src_h, int *w, int *h)
{
    int swap = o >= 5 && o <= 8;
    *w = swap ? src_h : src_w;
    *h = swap ? src_w : src_h;
}

/* Replace *img (stored order) by an upright copy under orientation o
 * (1: nothing to do). Frees the old image on success; on failure *img is
 * left as it was and the caller still owns it. */
sd_status sd_io_orient_image(sd_ctx *ctx, const char *name, int o, uint64_t max_pixels,
                             sd_image **img);

/* libjpeg/libpng messages start with a capital ("Premature end of JPEG
 * file"); ours continue "name: premature ...". Lower-cases the first letter
 * of `msg` in place unless the first word is an acronym ("JPEG", "IHDR"). */
void sd_io_lower_first(char *msg);

#endif

/*
 * Loading and saving images, hashing, and writing output files safely.
 *
 * Loaders detect the format from the first bytes (never from the name),
 * apply the EXIF (JPEG APP1) or eXIf (PNG) orientation so the image is
 * upright, and check the pixel cap from the header before any allocation.
 * A truncated or corrupt file is an error (SD_ERR_CORRUPT), never an image
 * padded with grey. Messages name the file: "before.jpg: premature end of
 * JPEG data".
 */
#ifndef SKINDELTA_IO_H
#define SKINDELTA_IO_H

#include <stddef.h>
#include <stdint.h>

#include "skindelta/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sd_load_opts {
    uint64_t max_pixels; /* cap on width*height before allocating; 0 = SD_DEFAULT_MAX_PIXELS */
    int scale_denom;     /* JPEG only: DCT-domain downscale 1, 2, 4 or 8 (0 = 1); PNG ignores it */
    int no_hash;         /* leave sha256 empty (a second decode of bytes already hashed) */
    /* Optional (NULL: none): called on the loading thread with every row of
     * the upright image, y = 0 .. height - 1 in order, once each, as soon as
     * row y holds its final samples, so a pass that needs every pixel once
     * can run while the row is in cache: a JPEG stored upright (EXIF
     * orientation 1, scale_denom 1 or not) calls it as each row is decoded,
     * other images after the decode. A load that fails may have called it
     * for some rows. */
    void (*row_fn)(void *arg, const sd_image *img, int y);
    void *row_arg;
    /* Non-zero: an upright 8-bit JPEG or PNG keeps its samples in compact
     * storage (sd_image.px8, px NULL; see sd_image), half the memory and no
     * pass widening them. Other images are loaded as without it. Read such
     * an image through sd_image_row / sd_image_pixel. */
    int compact;
} sd_load_opts;

/* Load a JPEG or PNG file. opts may be NULL (defaults). On success *out is
 * a new image owned by the caller with sha256 (unless opts->no_hash) and
 * format set. */
SD_NODISCARD sd_status sd_image_load(sd_ctx *ctx, const char *path, const sd_load_opts *opts,
                                     sd_image **out);

/* The same from memory; `name` is used in messages. */
SD_NODISCARD sd_status sd_image_load_mem(sd_ctx *ctx, const void *data, size_t len,
                                         const char *name, const sd_load_opts *opts,
                                         sd_image **out);

/* sd_image_load_mem that also makes, for a JPEG whose long side exceeds
 * box_side (> 0), *box: the image reduced by the means of d x d pixel
 * boxes, d the smallest power of two up to 8 that brings the long side to
 * at most box_side, from the decoded rows while they are in cache (much
 * cheaper than a second decode scaled in the DCT domain). Box j covers
 * stored pixels [d j, d j + d), the last one partial, as libjpeg's 1/d
 * decode does, and is turned upright the same way (orientation set), so
 * it can stand wherever such a decode does (sd_pair_align_inputs). *box
 * is NULL for a PNG, a small image, or scale_denom > 1. */
SD_NODISCARD sd_status sd_image_load_mem_box(sd_ctx *ctx, const void *data, size_t len,
                                             const char *name, const sd_load_opts *opts,
                                             int box_side, sd_image **out, sd_image **box);

/* Read the EXIF orientation (1..8) from a TIFF-structured EXIF block (the
 * bytes after "Exif\0\0" in JPEG APP1, or a PNG eXIf chunk's data).
 * Returns 1 when absent, invalid or out of range. Never reads past len. */
int sd_exif_orientation(const uint8_t *tiff, size_t len);

/* Save as PNG (bits 8 or 16) or baseline JPEG (quality 1..100), through the
 * same temporary-file-and-rename path as every output. */
SD_NODISCARD sd_status sd_image_save_png(sd_ctx *ctx, const sd_image *img, const char *path,
                                         int bits);
SD_NODISCARD sd_status sd_image_save_jpeg(sd_ctx *ctx, const sd_image *img, const char *path,
                                          int quality);

/* Encode to memory (for tests and the generator): *out is malloc'd, owned by
 * the caller. */
SD_NODISCARD sd_status sd_image_encode_jpeg(sd_ctx *ctx, const sd_image *img, int quality,
                                            uint8_t **out, size_t *out_len);

/* SHA-256 of a buffer as 64 lowercase hex digits plus NUL. */
void sd_sha256_hex(const void *data, size_t len, char hex[65]);

/* Write `len` bytes to `path` atomically: a temporary file in the same
 * folder, fsync, rename. On any failure (unwritable folder, full disk) the
 * temporary file is removed, an existing file at `path` is untouched, and
 * SD_ERR_WRITE is returned with a message naming path and reason.
 * path "-" writes to standard output. */
SD_NODISCARD sd_status sd_file_write_atomic(sd_ctx *ctx, const char *path, const void *data,
                                            size_t len);

/* Read a whole file into a malloc'd buffer (at most max_bytes; 0 = 1 GiB). */
SD_NODISCARD sd_status sd_file_read(sd_ctx *ctx, const char *path, size_t max_bytes,
                                    uint8_t **out, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif

/*
 * Normalization of AFTER's exposure and colour to BEFORE.
 *
 * exposure (default): one gain on linear RGB from robust statistics over
 *   the common ROI, so chromaticity, and with it a real change of redness,
 *   survives.
 * reference: a grey or white patch visible in both photos (rectangle in
 *   BEFORE coordinates, carried into AFTER through the transform); per-channel
 *   gains; the comparison is colour calibrated.
 * none: gains 1.
 */
#ifndef SKINDELTA_NORMALIZE_H
#define SKINDELTA_NORMALIZE_H

#include "skindelta/align.h"
#include "skindelta/core.h"
#include "skindelta/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sd_norm_method { SD_NORM_EXPOSURE = 0, SD_NORM_REFERENCE, SD_NORM_NONE } sd_norm_method;

typedef struct sd_norm_result {
    sd_norm_method method;
    double gains[3];        /* applied to AFTER's linear RGB to bring it to BEFORE */
    double before_gains[3]; /* applied to BEFORE's linear RGB (1 unless reference) */
    double exposure_ev;     /* -log2 of the luminance gain: AFTER one stop darker -> -1 */
    int calibrated;         /* 1 with a reference patch */
} sd_norm_result;

const char *sd_norm_method_name(sd_norm_method m);

/* The level the exposure method reads, of one image: the means of its
 * linear luminance over the 4 x 4 blocks of the image's own grid (the last
 * ones repeating the last column or row). sd_pair_normalize makes it over
 * the windows its samples read; made beforehand row by row (e.g. in
 * sd_load_opts.row_fn while each row is in cache) and handed to
 * sd_pair_normalize_levels, it spares that pass over the pixels, with the
 * same gains. sd_norm_level_new: NULL when out of memory or w, h <= 0. */
typedef struct sd_norm_level sd_norm_level;
sd_norm_level *sd_norm_level_new(int width, int height);
/* Row y of img (width x height as given to _new), read from img in
 * either storage (a loader's row_fn may call it as soon as row y is
 * there); rows 0, 1, ... in order (any other call leaves the level
 * incomplete). */
void sd_norm_level_add_row(sd_norm_level *lv, const sd_image *img, int y);
void sd_norm_level_free(sd_norm_level *lv); /* NULL-safe */

/* ref: required for SD_NORM_REFERENCE (BEFORE coordinates), else ignored. */
SD_NODISCARD sd_status sd_pair_normalize(sd_ctx *ctx, const sd_image *before,
                                         const sd_image *after, const sd_xform *xf,
                                         const sd_roi *roi, sd_norm_method method,
                                         const sd_rect *ref, sd_norm_result *out);

/* The same with the images' levels made beforehand; either may be NULL
 * (made here). A level that is incomplete or of another size: SD_ERR_ARG.
 * Read by the exposure method only. */
SD_NODISCARD sd_status sd_pair_normalize_levels(sd_ctx *ctx, const sd_image *before,
                                                const sd_image *after, const sd_xform *xf,
                                                const sd_roi *roi, sd_norm_method method,
                                                const sd_rect *ref, const sd_norm_level *lb,
                                                const sd_norm_level *la, sd_norm_result *out);

#ifdef __cplusplus
}
#endif
#endif

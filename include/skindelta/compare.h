/*
 * The whole pipeline for one pair (compare) and one image (analyze):
 * load -> align -> common ROI -> normalize -> metrics -> quality verdict.
 * The result is a plain struct that the report stage turns into JSON.
 */
#ifndef SKINDELTA_COMPARE_H
#define SKINDELTA_COMPARE_H

#include <stdint.h>

#include "skindelta/align.h"
#include "skindelta/core.h"
#include "skindelta/metrics.h"
#include "skindelta/normalize.h"
#include "skindelta/quality.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every effective parameter of a run (recorded in the report's params). */
typedef struct sd_compare_params {
    uint64_t max_pixels;     /* pixel cap per image (SD_DEFAULT_MAX_PIXELS) */
    sd_align_model align;    /* similarity */
    int allow_unaligned;     /* measure a pair whose alignment failed */
    sd_norm_method normalize;/* exposure */
    int has_ref;
    sd_rect ref;             /* --ref, BEFORE coordinates */
    int has_roi;
    sd_rect roi;             /* --roi, BEFORE coordinates */
    const char *mask_path;   /* --mask FILE (BEFORE-sized; nonzero = in), or NULL */
    sd_metric_params metric; /* filters and thresholds; px_per_mm inside */
    int threads;             /* -j */
} sd_compare_params;

void sd_compare_params_default(sd_compare_params *p);

/* What the report says about one input image. */
typedef struct sd_image_info {
    const char *path;
    int width, height, orientation, bits;
    char format[8];
    char sha256[65];
} sd_image_info;

/* Wall milliseconds per stage; roi_ms is the common ROI (sd_roi_build and
 * the user's mask), normalize_ms the gains alone (0 for analyze). */
typedef struct sd_timing {
    double decode_ms, align_ms, roi_ms, normalize_ms, metrics_ms, total_ms;
} sd_timing;

typedef struct sd_compare_result {
    sd_image_info before, after;
    sd_align_result alignment;
    sd_norm_result normalization;
    sd_roi_source roi_source;
    size_t roi_pixels;
    sd_rect roi_bbox;
    sd_thresholds thresholds;
    sd_metrics m_before, m_after;
    sd_quality quality;
    sd_timing timing;
} sd_compare_result;

/* Compare one pair. Alignment that fails gives SD_ERR_ALIGN (message names
 * the files) unless p->allow_unaligned; out is filled as far as the run got. */
SD_NODISCARD sd_status sd_pair_compare(sd_ctx *ctx, const char *before_path,
                                       const char *after_path, const sd_compare_params *p,
                                       sd_compare_result *out);

/* Load a user mask (--mask): an image of exactly w x h; *out (w * h bytes,
 * 1 where the mask's green is >= 50 %, else 0) is malloc'd, owned by the
 * caller. */
SD_NODISCARD sd_status sd_mask_load(sd_ctx *ctx, const char *path, uint64_t max_pixels, int w,
                                    int h, uint8_t **out);

typedef struct sd_analyze_result {
    sd_image_info image;
    sd_roi_source roi_source;
    size_t roi_pixels;
    sd_rect roi_bbox;
    sd_thresholds thresholds;
    sd_metrics metrics;
    sd_quality quality;
    sd_timing timing;
} sd_analyze_result;

/* Metrics of one image (thresholds derived from itself). */
SD_NODISCARD sd_status sd_image_analyze(sd_ctx *ctx, const char *path,
                                        const sd_compare_params *p, sd_analyze_result *out);

#ifdef __cplusplus
}
#endif
#endif

/*
 * The quality verdict: is the pair comparable, and what should the reader
 * be warned of. Warnings are strings with a stable code before the colon
 * ("exposure: after is 0.7 EV darker"); the codes and the thresholds that
 * raise them are listed below and in the README.
 */
#ifndef SKINDELTA_QUALITY_H
#define SKINDELTA_QUALITY_H

#include "skindelta/align.h"
#include "skindelta/core.h"
#include "skindelta/metrics.h"
#include "skindelta/normalize.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Thresholds (documented in the README, "Quality verdict"). */
#define SD_Q_MIN_OVERLAP 0.80      /* overlap:   overlap_fraction below */
#define SD_Q_MAX_EV 0.50           /* exposure:  |exposure_ev| above */
/* focus: focus ratio (sd_metrics.focus_measure after / before) below this
 * or above 1/this (1.087). Measured by the repeatability study
 * (docs/repeatability.md, "Focus"): the tightest threshold that no genuine
 * skin change photographed in focus crosses either way (texture x0.7 reads
 * 0.939, the lowest), less 0.01. Its focus sweep warns from a defocus of
 * about 0.5 px against a reference at 0.3 px (texture then 10-14 % lower;
 * smaller focus differences cannot be told from real smoothing and are part
 * of the texture noise floor). */
#define SD_Q_MIN_FOCUS_RATIO 0.94
#define SD_Q_MAX_CLIPPED 0.02      /* clipping:  clipped share of the ROI above, either image */
#define SD_Q_MAX_CRUSHED 0.02      /* shadows:   crushed share of the ROI above, either image */
#define SD_Q_MAX_ASYMMETRY 0.15    /* lighting:  |mean Lambda left - right| above (~15 % luminance) */
#define SD_Q_MAX_ASYM_CHANGE 0.10  /* lighting:  change of that asymmetry between the images above */
#define SD_Q_MIN_ROI_PIXELS 10000  /* roi:       fewer ROI pixels than this */

/* pores: fewer pores than this in BEFORE's ROI and pore changes are not
 * judged (no floor, verdict "unchanged"). Measured by the repeatability
 * study: the smallest count from which the floor model max(base,
 * 100 c / sqrt(N)) holds in its lowest octave (docs/repeatability.md). */
#define SD_Q_MIN_PORES 20

#define SD_Q_MAX_WARNINGS 16

typedef struct sd_quality {
    double sharpness_before, sharpness_after; /* variance of the Laplacian (information) */
    double focus_before, focus_after;         /* sd_metrics.focus_measure */
    double focus_ratio;                       /* focus_after / focus_before */
    double clipped_before, clipped_after;
    double crushed_before, crushed_after;
    double asymmetry_before, asymmetry_after;
    int n_warnings;
    char warnings[SD_Q_MAX_WARNINGS][160];
} sd_quality;

/* Verdict for a pair. align/norm may be NULL (not run). */
void sd_quality_pair(const sd_align_result *align, const sd_norm_result *norm, size_t roi_pixels,
                     const sd_metrics *before, const sd_metrics *after, sd_quality *out);

/* Verdict for one image (analyze). */
void sd_quality_image(size_t roi_pixels, const sd_metrics *m, sd_quality *out);

#ifdef __cplusplus
}
#endif
#endif

/*
 * sd_image_measure in phases (library-internal), so the pipeline driver can
 * run the per-pixel work of BEFORE and AFTER at the same time and finish
 * AFTER with BEFORE's thresholds:
 *
 *   sd_measure_begin     flags, the fused strip pass (colour, Lambda, the
 *                        three blurs, H, D, accumulations, histograms);
 *                        with thresholds given it also counts the red
 *                        pixels and marks the pore candidates, and keeps
 *                        neither D nor the histograms (less memory, no
 *                        colour pass later)
 *   sd_measure_thresholds  T_red and T_pore from this image (exact medians;
 *                        only when begin had no thresholds)
 *   sd_measure_finish    red area, pores: the threshold-dependent parts
 *
 * sd_image_measure(...) == begin (with thr when thr->set), thresholds when
 * !thr->set, finish. Every path gives the same numbers.
 */
#ifndef SKINDELTA_MEASURE_INTERNAL_H
#define SKINDELTA_MEASURE_INTERNAL_H

#include "skindelta/metrics.h"

typedef struct sd_measure sd_measure;

/* Arguments as sd_image_measure; img and mask must outlive *out. rows:
 * img's row marks (sd_roi.rows_before / rows_after: which rows hold a
 * clipped or dark sample), so the flag pass reads pixels only on those
 * rows; NULL: it tests every row itself. thr: the thresholds finish will be
 * given, when known (NULL: not yet). Uses sd_ctx_threads(ctx) threads;
 * results do not depend on it. */
SD_NODISCARD sd_status sd_measure_begin(sd_ctx *ctx, const sd_image *img, const uint8_t *mask,
                                        const uint8_t *rows, double scale,
                                        const double gains[3], const sd_metric_params *p,
                                        const sd_thresholds *thr, sd_measure **out);
/* Derive thresholds from this image into *thr (sets thr->set). */
SD_NODISCARD sd_status sd_measure_thresholds(sd_ctx *ctx, sd_measure *m, sd_thresholds *thr);
/* Every metric with thresholds thr (thr->set must be 1; the ones given to
 * begin, if any). */
SD_NODISCARD sd_status sd_measure_finish(sd_ctx *ctx, sd_measure *m, const sd_thresholds *thr,
                                         sd_metrics *out);
void sd_measure_free(sd_measure *m); /* NULL-safe */
/* The bits of a measure's flag plane (one byte per window pixel). */
enum { SD_PF_MASK = 1, SD_PF_MEASURED = 2, SD_PF_CLIPPED = 4, SD_PF_CAND = 16 };
/* The pores of a flag plane (w x h, SD_PF_* bits; only read): components
 * of unclipped candidate pixels, 8-connected, holding a measured pixel,
 * with area (pixels) in [amin, amax], elongation at most max_elong and the
 * centroid's nearest pixel in the mask (docs/metrics.md "Pores"); their
 * number into *count, their areas' sum into *area_sum. */
SD_NODISCARD sd_status sd_pore_components(sd_ctx *ctx, const uint8_t *flags, int w, int h,
                                          double amin, double amax, double max_elong,
                                          size_t *count, double *area_sum);
/* The D = G_p - G_s plane of a measure begun without thresholds, over its
 * window, whose origin in the image goes to *ox, *oy (for the tests); NULL
 * once the thresholds are fixed. */
const sd_plane *sd_measure_d(const sd_measure *m, int *ox, int *oy);

#endif

/*
 * The common region of interest and the per-image metrics (version 1 of
 * ../shared/DESIGN.md "Metrics"): texture (ra, rq), redness (mean_a,
 * erythema_index, red_area_fraction) and pores (difference of Gaussians,
 * 8-connected components), plus the per-image measures the quality verdict
 * needs (sharpness, clipped and crushed shares, lighting asymmetry).
 *
 * Every image is measured on its own pixel grid: the ROI is carried into
 * AFTER's frame through the alignment transform, and the spatial filters and
 * pore areas are scaled by the transform's scale, so AFTER is never
 * resampled for a number (resampling smooths and fakes an improvement).
 */
#ifndef SKINDELTA_METRICS_H
#define SKINDELTA_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "skindelta/align.h"
#include "skindelta/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- parameters ---- */

typedef struct sd_metric_params {
    double sigma_t;             /* texture high-pass sigma, px (2) */
    double sigma_p;             /* pore DoG large sigma, px (6) */
    double sigma_s;             /* pore DoG small sigma, px (1.25) */
    double pore_area_min;       /* px^2 (4) */
    double pore_area_max;       /* px^2 (400) */
    double pore_max_elongation; /* ratio of principal axes (3) */
    double pore_k;              /* T_pore = pore_k * 1.4826 * MAD(D) (4) */
    double pore_floor;          /* T_pore never below this (0.05) */
    double pore_contrast;       /* > 0: fixed T_pore (--pore-contrast) */
    double red_delta;           /* T_red = median a* of BEFORE + red_delta (5) */
    double px_per_mm;           /* > 0: mm figures reported; 0: pixels only */
} sd_metric_params;

/* Pixel defaults of DESIGN.md. */
void sd_metric_params_default(sd_metric_params *p);
/* Spatial parameters from millimetres at px_per_mm (sigma_t 0.1 mm, sigma_p
 * 0.3 mm, sigma_s 0.06 mm, areas 0.02-0.8 mm^2); sets p->px_per_mm. */
void sd_metric_params_from_mm(sd_metric_params *p, double px_per_mm);
/* Pixels the ROI keeps away from the overlap's and the image's edges so
 * every filter sees real data (BEFORE pixels). */
int sd_metric_border(const sd_metric_params *p);

/* ---- region of interest ---- */

typedef enum sd_roi_source { SD_ROI_OVERLAP = 0, SD_ROI_RECT, SD_ROI_MASK } sd_roi_source;

typedef struct sd_roi_opts {
    const sd_rect *rect;  /* user rectangle in BEFORE coordinates, or NULL */
    const uint8_t *mask;  /* user mask in BEFORE's frame (nonzero = in), or NULL */
    int mask_w, mask_h;   /* must equal BEFORE's size */
    int border;           /* pixels removed inside the overlap and the image edges */
    /* Optional: the row marks (sd_row_marks) of every row of BEFORE and of
     * AFTER, when the caller made them already (from sd_load_opts' row_fn,
     * while the rows were in cache): sd_roi_build then does not read the
     * images for them. Either may be NULL (then made here); given, they must
     * be sd_row_marks' values. */
    const uint8_t *marks_before, *marks_after;
} sd_roi_opts;

/* Values of the ROI masks: 0 outside; 1 (SD_ROI_IN) in the ROI;
 * SD_ROI_EXCLUDED inside the geometric ROI but left out because the pixel is
 * clipped in either image. sd_image_measure measures SD_ROI_IN pixels and
 * counts SD_ROI_EXCLUDED ones only in the denominators of clipped_fraction
 * and crushed_fraction, so those shares are relative to the geometric ROI. */
#define SD_ROI_IN 1
#define SD_ROI_EXCLUDED 2

typedef struct sd_roi {
    sd_roi_source source;
    int bw, bh;
    uint8_t *before;       /* bw x bh, SD_ROI_IN = in ROI (BEFORE frame), see above */
    int aw, ah;
    uint8_t *after;        /* aw x ah: AFTER pixels whose BEFORE position is in the ROI; NULL for one image */
    size_t pixels;         /* ROI pixels in BEFORE's frame */
    sd_rect bbox;          /* bounding box in BEFORE's frame */
    size_t clipped_before; /* geometric-ROI pixels clipped in BEFORE / AFTER (excluded from the ROI) */
    size_t clipped_after;
    size_t geometric_pixels; /* ROI pixels before clipped ones were excluded */
    /* per row of BEFORE (bh) and of AFTER (ah; NULL for one image): which
     * extremes the row holds (SD_ROW_CLIP, SD_ROW_DARK), so later passes
     * read pixels only on rows that have one */
    uint8_t *rows_before, *rows_after;
} sd_roi;

/* Row marks of sd_roi: a sample at or above the clip level (250 on the
 * 8-bit scale); a sample at or below the crush level (5). */
enum { SD_ROW_CLIP = 1, SD_ROW_DARK = 2 };

/* The marks of one row of `width` pixels (3 * width samples). */
unsigned sd_row_marks(const uint16_t *row, int width);

/* Build the ROI: overlap (BEFORE pixels mapping inside AFTER) ∩ rect ∩ mask,
 * minus `border`, minus pixels clipped in either image. after/xf may be NULL
 * (one image: analyze). Empty ROI: SD_ERR_TOO_SMALL. */
SD_NODISCARD sd_status sd_roi_build(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                                    const sd_xform *xf, const sd_roi_opts *opts, sd_roi *out);
void sd_roi_release(sd_roi *roi); /* NULL-safe */

/* The geometric part of sd_roi_build's overlap test, for a ROI shared by
 * several images (batch: the intersection of every session's overlap):
 * clears in mask (bw x bh, BEFORE's frame, nonzero = in) each pixel that
 * does not map through xf at least border * scale pixels inside an aw x ah
 * AFTER frame. Pixels already 0 stay 0. */
SD_NODISCARD sd_status sd_roi_mask_overlap(sd_ctx *ctx, int bw, int bh, int aw, int ah,
                                           const sd_xform *xf, int border, uint8_t *mask);

/* ---- measurement ---- */

typedef struct sd_thresholds {
    int set;       /* 0: derive from the image being measured, then set */
    double t_red;  /* a* threshold */
    double t_pore; /* DoG threshold (ln-luminance units) */
} sd_thresholds;

typedef struct sd_metrics {
    /* texture, percent local contrast */
    double ra, rq;
    /* redness */
    double mean_a, erythema_index, red_area_fraction;
    /* pores (areas in reference-frame pixels: divided by scale^2) */
    double pore_count, pore_area_fraction, pore_mean_area_px;
    double pore_density_per_cm2, pore_mean_area_mm2; /* NAN without px_per_mm */
    /* measures for the quality verdict */
    size_t pixels;          /* pixels measured */
    double clipped_fraction; /* share of the mask clipped (any channel >= 250/255) */
    double crushed_fraction; /* share of the mask crushed (all channels <= 5/255) */
    double sharpness;        /* variance of the Laplacian of Lambda (scale-normalized) */
    double asymmetry;        /* |mean Lambda left half - right half| of the mask */
    double mean_lambda;      /* mean Lambda of the measured pixels (after gains) */
    /* focus: mean (Lambda - G_{sigma_s}(Lambda))^2 / mean H^2, the share of the
     * texture band's energy that lies in its finest part (both filters scaled
     * with `scale`). Invariant to exposure and to scaling the texture's
     * amplitude; defocus lowers it (docs/repeatability.md, "Focus"). */
    double focus_measure;
} sd_metrics;

/* Measure one image over mask (img-sized; SD_ROI_EXCLUDED = geometric ROI
 * but not measured, any other nonzero value = in; NULL = whole image minus
 * the border). Clipped pixels of img are never measured. `scale`: this image's pixels per reference-frame pixel
 * (1 for BEFORE, the alignment scale for AFTER); sigmas are multiplied and
 * areas divided accordingly. `gains`: linear RGB gains (NULL = 1). thr: if
 * !thr->set, thresholds are derived from this image and stored in thr. */
SD_NODISCARD sd_status sd_image_measure(sd_ctx *ctx, const sd_image *img, const uint8_t *mask,
                                        double scale, const double gains[3],
                                        const sd_metric_params *p, sd_thresholds *thr,
                                        sd_metrics *out);

#ifdef __cplusplus
}
#endif
#endif

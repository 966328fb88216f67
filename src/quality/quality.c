#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "skindelta/quality.h"

static void warn(sd_quality *q, const char *fmt, ...) SD_PRINTF(2, 3);

static void warn(sd_quality *q, const char *fmt, ...)
{
    if (q->n_warnings >= SD_Q_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->warnings[q->n_warnings++], sizeof q->warnings[0], fmt, ap);
    va_end(ap);
}

/* Warnings about one image's own exposure and lighting. */
static void image_warnings(sd_quality *q, const char *which, const sd_metrics *m)
{
    if (m->clipped_fraction > SD_Q_MAX_CLIPPED)
        warn(q, "clipping: %.1f %% of %s's ROI is clipped (left out of every metric)",
             100 * m->clipped_fraction, which);
    if (m->crushed_fraction > SD_Q_MAX_CRUSHED)
        warn(q, "shadows: %.1f %% of %s's ROI is crushed to black", 100 * m->crushed_fraction,
             which);
    if (m->asymmetry > SD_Q_MAX_ASYMMETRY)
        warn(q, "lighting: %s is lit unevenly (left/right differ by %.0f %%)", which,
             100 * (exp(m->asymmetry) - 1));
}

static void roi_warning(sd_quality *q, size_t roi_pixels)
{
    if (roi_pixels < SD_Q_MIN_ROI_PIXELS)
        warn(q, "roi: only %zu pixels are measured (fewer than %d)", roi_pixels,
             SD_Q_MIN_ROI_PIXELS);
}

void sd_quality_image(size_t roi_pixels, const sd_metrics *m, sd_quality *out)
{
    memset(out, 0, sizeof *out);
    out->sharpness_before = m->sharpness;
    out->focus_before = m->focus_measure;
    out->focus_after = NAN;
    out->clipped_before = m->clipped_fraction;
    out->crushed_before = m->crushed_fraction;
    out->asymmetry_before = m->asymmetry;
    out->focus_ratio = NAN;
    out->sharpness_after = out->clipped_after = out->crushed_after = out->asymmetry_after = NAN;
    roi_warning(out, roi_pixels);
    image_warnings(out, "the image", m);
}

void sd_quality_pair(const sd_align_result *align, const sd_norm_result *norm, size_t roi_pixels,
                     const sd_metrics *before, const sd_metrics *after, sd_quality *out)
{
    memset(out, 0, sizeof *out);
    out->sharpness_before = before->sharpness;
    out->sharpness_after = after->sharpness;
    out->focus_before = before->focus_measure;
    out->focus_after = after->focus_measure;
    out->focus_ratio = before->focus_measure > 0 ? after->focus_measure / before->focus_measure
                                                 : NAN;
    out->clipped_before = before->clipped_fraction;
    out->clipped_after = after->clipped_fraction;
    out->crushed_before = before->crushed_fraction;
    out->crushed_after = after->crushed_fraction;
    out->asymmetry_before = before->asymmetry;
    out->asymmetry_after = after->asymmetry;

    if (align) {
        if (align->status == SD_ALIGN_FAILED)
            warn(out, "alignment: failed (ncc %.2f): the photos may not show the same skin",
                 align->ncc);
        else if (align->status == SD_ALIGN_POOR)
            warn(out, "alignment: poor (ncc %.2f): check that the photos show the same area",
                 align->ncc);
        if (align->overlap_fraction < SD_Q_MIN_OVERLAP)
            warn(out, "overlap: after covers only %.0f %% of before", 100 * align->overlap_fraction);
    }
    if (norm && fabs(norm->exposure_ev) > SD_Q_MAX_EV)
        warn(out, "exposure: after is %.1f EV %s", fabs(norm->exposure_ev),
             norm->exposure_ev < 0 ? "darker" : "brighter");
    if (isfinite(out->focus_ratio)) {
        if (out->focus_ratio < SD_Q_MIN_FOCUS_RATIO)
            warn(out, "focus: after is less sharp than before (focus ratio %.2f)",
                 out->focus_ratio);
        else if (out->focus_ratio > 1.0 / SD_Q_MIN_FOCUS_RATIO)
            warn(out, "focus: before is less sharp than after (focus ratio %.2f)",
                 out->focus_ratio);
    }
    if (!(before->pore_count >= SD_Q_MIN_PORES))
        warn(out, "pores: only %.0f pores in the region; pore changes cannot be told from noise",
             isfinite(before->pore_count) ? before->pore_count : 0.0);
    roi_warning(out, roi_pixels);
    image_warnings(out, "before", before);
    image_warnings(out, "after", after);
    if (fabs(after->asymmetry - before->asymmetry) > SD_Q_MAX_ASYM_CHANGE)
        warn(out, "lighting: the left/right balance changed between the photos (by %.0f %%)",
             100 * (exp(fabs(after->asymmetry - before->asymmetry)) - 1));
}

/*
 * Helpers shared by the metrics and normalize stages (library-internal):
 * the clip test, the 2x3 transform (kept here so these stages do not depend
 * on the align stage's object code), exact order statistics, and bilinear
 * sampling of a float plane.
 */
#ifndef SKINDELTA_METRICS_INTERNAL_H
#define SKINDELTA_METRICS_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "skindelta/align.h"
#include "skindelta/core.h"

/* A sample at or above 250 on the 8-bit scale is clipped. */
#define SD_CLIP_LEVEL (250u * 257u)
/* All samples at or below 5 on the 8-bit scale: crushed shadow. */
#define SD_CRUSH_LEVEL (5u * 257u)

static inline int sd_px_clipped(const uint16_t *p)
{
    return p[0] >= SD_CLIP_LEVEL || p[1] >= SD_CLIP_LEVEL || p[2] >= SD_CLIP_LEVEL;
}

static inline const uint16_t *sd_image_px(const sd_image *img, int x, int y)
{
    return img->px + (size_t)y * img->stride + 3 * (size_t)x;
}

/* Nearest pixel index of a coordinate (pixel centres at integers). */
static inline long sd_nearest(double v)
{
    return (long)floor(v + 0.5);
}

/* Exact k-th smallest (0-based) of v[0..n-1]; permutes v. n > 0, k < n. */
float sd_select_kth(float *v, size_t n, size_t k);
/* Exact median (mean of the two middle values when n is even); permutes v. */
double sd_select_median(float *v, size_t n);


#endif

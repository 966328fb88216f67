/*
 * Internals of the normalization stage shared with its tests.
 */
#ifndef SD_NORMALIZE_INTERNAL_H
#define SD_NORMALIZE_INTERNAL_H

#include <stddef.h>

#include "skindelta/core.h"

/* The median of v[0 .. n) as sd_select_median defines it (the middle value,
 * or the mean of the two middle ones as doubles when n is even), found
 * without reordering v: two passes over v count the values' order-keeping
 * 32-bit keys, first by their high 16 bits, then by the low 16 bits of those
 * in the one or two bins that hold the middle; each pass is shared out over
 * the context's threads and the counts are added up, so the number is the
 * same at any thread count (docs/metrics.md, "Normalization"). n >= 1, no
 * NaN in v. */
sd_status sd_norm_median(sd_ctx *ctx, const float *v, size_t n, double *median);

#endif

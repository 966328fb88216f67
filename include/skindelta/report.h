/*
 * JSON reports: "skindelta/compare/1" for a pair, "skindelta/analyze/1" for
 * one image (schemas in ../shared/DESIGN.md and the README), plus the table
 * of metrics that both share: names, direction and noise floors.
 */
#ifndef SKINDELTA_REPORT_H
#define SKINDELTA_REPORT_H

#include <stddef.h>

#include "skindelta/compare.h"
#include "skindelta/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One metric of the report. */
typedef struct sd_metric_desc {
    const char *group;       /* "texture", "redness", "pores" */
    const char *name;        /* "ra", ... */
    size_t offset;           /* of its double in sd_metrics */
    double noise_floor_pct;  /* |change_pct| at or below the floor reads "unchanged";
                              * this is the floor, or its base (floor_count_c > 0) */
    int need_mm;             /* only reported with --px-per-mm */
    double floor_count_c;    /* > 0: the floor depends on BEFORE's pore count N,
                              * max(noise_floor_pct, 100 * floor_count_c / sqrt(N)) */
} sd_metric_desc;

/* The table, in report order; *n receives its length. */
const sd_metric_desc *sd_metric_table(size_t *n);
double sd_metric_value(const sd_metrics *m, const sd_metric_desc *d);

/* The noise floor of one metric for a pair whose BEFORE measured `before`
 * (the pore metrics' floor depends on its pore count; README, "Noise
 * floors"). The compare report's noise_floor_pct. NAN for a pore metric
 * when BEFORE holds fewer than SD_Q_MIN_PORES pores: such changes cannot
 * be told from noise and are not judged. */
double sd_metric_floor(const sd_metric_desc *d, const sd_metrics *before);

/* Whether pore changes against this BEFORE are judged (its pore count is at
 * least SD_Q_MIN_PORES). */
int sd_pores_judged(const sd_metrics *before);

/* "improved" | "worsened" | "unchanged" for the change of one metric
 * between two measurements, judged against sd_metric_floor(d, before)
 * (lower is better for every version-1 metric); "unchanged" when the
 * change is not judged (no floor). */
const char *sd_metric_verdict(const sd_metric_desc *d, const sd_metrics *before,
                              const sd_metrics *after);

/* Verdict of a group ("texture", "redness", "pores"): "improved" when more
 * of its metrics improved beyond their noise floors than worsened beyond
 * theirs, "worsened" the other way round, otherwise "unchanged" (no change
 * beyond the floors, or as many changes one way as the other). */
const char *sd_group_verdict(const char *group, int with_mm, const sd_metrics *before,
                             const sd_metrics *after);

/* Build the report; *json is a malloc'd NUL-terminated string owned by the
 * caller. `simd` names the kernel level used (recorded in params). */
SD_NODISCARD sd_status sd_report_compare(sd_ctx *ctx, const sd_compare_params *p,
                                         const sd_compare_result *r, char **json);
SD_NODISCARD sd_status sd_report_analyze(sd_ctx *ctx, const sd_compare_params *p,
                                         const sd_analyze_result *r, char **json);

#ifdef __cplusplus
}
#endif
#endif

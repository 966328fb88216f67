/*
 * The report stage's JSON building blocks, shared with the batch stage's
 * progress report so both print the same objects the same way. Library
 * internal (cJSON objects; the caller owns what is returned).
 */
#ifndef SKINDELTA_REPORT_INTERNAL_H
#define SKINDELTA_REPORT_INTERNAL_H

#include <cJSON.h>

#include "skindelta/compare.h"

/* A number with 8 significant digits; non-finite values become null. */
cJSON *sd_rjson_num(double x);
/* {"name": "skindelta", "version": SD_VERSION} */
cJSON *sd_rjson_tool(void);
/* Every effective parameter (pair: alignment and normalization too). */
cJSON *sd_rjson_params(const sd_compare_params *p, int pair);
cJSON *sd_rjson_alignment(const sd_align_result *al);
cJSON *sd_rjson_normalization(const sd_norm_result *nr);
cJSON *sd_rjson_roi(sd_roi_source src, size_t pixels, const sd_rect *bbox);
/* {"texture": {"ra": x, ...}, ...} with plain values (analyze's shape). */
cJSON *sd_rjson_metrics(const sd_compare_params *p, const sd_thresholds *thr, const sd_metrics *m);
cJSON *sd_rjson_pair(double before, double after);
cJSON *sd_rjson_warnings(const sd_quality *q);

#endif

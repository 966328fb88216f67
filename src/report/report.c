#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "core/internal.h"
#include "skindelta/kernels.h"
#include "report/report_internal.h"
#include "skindelta/report.h"

#define M(group, name, field, floor, c, mm) {group, name, offsetof(sd_metrics, field), floor, mm, c}

/* Noise floors in percent, measured by the repeatability study
 * (bench/repeatability.c, `make repeatability`, docs/repeatability.md)
 * over re-photographed null pairs that raise no quality warning: the
 * larger of the 95th percentiles of |change_pct| on generated skin and on
 * real photos, rounded up to 0.5 %. The pore metrics' floor depends on
 * BEFORE's pore count N: max(base, 100 c / sqrt(N)) (sd_metric_floor), with
 * c the 95th percentile of |change_pct| / 100 * sqrt(N) over those pairs
 * with N >= SD_Q_MIN_PORES and base the 95th percentile of |change_pct|
 * over the pairs with at least 100 pores; below SD_Q_MIN_PORES pore
 * changes are not judged (no floor, verdict "unchanged"). tests/test_repeatability.c checks these values against
 * a rerun. */
static const sd_metric_desc table[] = {
    M("texture", "ra", ra, 13.5, 0, 0),
    M("texture", "rq", rq, 13.5, 0, 0),
    M("redness", "mean_a", mean_a, 1.5, 0, 0),
    M("redness", "erythema_index", erythema_index, 1.0, 0, 0),
    M("redness", "red_area_fraction", red_area_fraction, 54.0, 0, 0),
    M("pores", "count", pore_count, 6.0, 0.63, 0),
    M("pores", "area_fraction", pore_area_fraction, 6.5, 0.72, 0),
    M("pores", "mean_area_px", pore_mean_area_px, 6.0, 0.69, 0),
    M("pores", "density_per_cm2", pore_density_per_cm2, 6.0, 0.63, 1),
    M("pores", "mean_area_mm2", pore_mean_area_mm2, 6.0, 0.69, 1),
};
static const char *const groups[] = {"texture", "redness", "pores"};
#define N_GROUPS (sizeof groups / sizeof groups[0])

const sd_metric_desc *sd_metric_table(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

double sd_metric_value(const sd_metrics *m, const sd_metric_desc *d)
{
    double v;
    memcpy(&v, (const char *)m + d->offset, sizeof v);
    return v;
}

static double change_pct(double before, double after)
{
    return before != 0 && isfinite(before) && isfinite(after) ? 100.0 * (after - before) / before
                                                              : NAN;
}

int sd_pores_judged(const sd_metrics *before)
{
    return isfinite(before->pore_count) && before->pore_count >= SD_Q_MIN_PORES;
}

double sd_metric_floor(const sd_metric_desc *d, const sd_metrics *before)
{
    double f = d->noise_floor_pct;
    if (d->floor_count_c > 0) {
        /* too few pores: no floor, the change is not judged */
        if (!sd_pores_judged(before))
            return NAN;
        f = fmax(f, 100.0 * d->floor_count_c / sqrt(before->pore_count));
    }
    return f;
}

const char *sd_metric_verdict(const sd_metric_desc *d, const sd_metrics *mb, const sd_metrics *ma)
{
    double before = sd_metric_value(mb, d), after = sd_metric_value(ma, d);
    double c = change_pct(before, after), floor = sd_metric_floor(d, mb);
    if (isnan(floor))
        return "unchanged"; /* not judged (too few pores; README, "Noise floors") */
    if (!isfinite(c)) {
        /* from zero: any appearance is a change, none is none */
        if (before == 0 && after > 0)
            return "worsened";
        return "unchanged";
    }
    if (fabs(c) <= floor)
        return "unchanged";
    return c < 0 ? "improved" : "worsened"; /* lower is better for every v1 metric */
}

const char *sd_group_verdict(const char *group, int with_mm, const sd_metrics *before,
                             const sd_metrics *after)
{
    int better = 0, worse = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const sd_metric_desc *d = &table[i];
        if (strcmp(d->group, group) != 0 || (d->need_mm && !with_mm))
            continue;
        const char *v = sd_metric_verdict(d, before, after);
        better += strcmp(v, "improved") == 0;
        worse += strcmp(v, "worsened") == 0;
    }
    if (better > worse)
        return "improved";
    if (worse > better)
        return "worsened";
    return "unchanged";
}

/* ---- JSON helpers: non-finite numbers become null; 8 significant digits ---- */

cJSON *sd_rjson_num(double x)
{
    if (!isfinite(x))
        return cJSON_CreateNull();
    char buf[32];
    snprintf(buf, sizeof buf, "%.8g", x);
    return cJSON_CreateNumber(strtod(buf, NULL));
}

#define num sd_rjson_num

static void add_num(cJSON *o, const char *k, double x) { cJSON_AddItemToObject(o, k, num(x)); }

static cJSON *num_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(a, num(v[i]));
    return a;
}

static cJSON *rect_array(const sd_rect *r)
{
    double v[4] = {r->x, r->y, r->w, r->h};
    return num_array(v, 4);
}

cJSON *sd_rjson_tool(void)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", "skindelta");
    cJSON_AddStringToObject(t, "version", SD_VERSION);
    return t;
}

static cJSON *image_json(const sd_image_info *im)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", im->path ? im->path : "");
    add_num(o, "width", im->width);
    add_num(o, "height", im->height);
    add_num(o, "orientation", im->orientation);
    cJSON_AddStringToObject(o, "sha256", im->sha256);
    cJSON_AddStringToObject(o, "format", im->format);
    add_num(o, "bits", im->bits);
    return o;
}

static const char *roi_source_name(sd_roi_source s)
{
    return s == SD_ROI_RECT ? "rect" : s == SD_ROI_MASK ? "mask" : "overlap";
}

cJSON *sd_rjson_params(const sd_compare_params *p, int pair)
{
    const sd_metric_params *m = &p->metric;
    cJSON *o = cJSON_CreateObject();
    add_num(o, "max_pixels", (double)p->max_pixels);
    if (pair) {
        cJSON_AddStringToObject(o, "align", sd_align_model_name(p->align));
        cJSON_AddBoolToObject(o, "allow_unaligned", p->allow_unaligned);
        cJSON_AddStringToObject(o, "normalize", sd_norm_method_name(p->normalize));
        cJSON_AddItemToObject(o, "ref", p->has_ref ? rect_array(&p->ref) : cJSON_CreateNull());
    }
    cJSON_AddItemToObject(o, "roi", p->has_roi ? rect_array(&p->roi) : cJSON_CreateNull());
    if (p->mask_path)
        cJSON_AddStringToObject(o, "mask", p->mask_path);
    else
        cJSON_AddNullToObject(o, "mask");
    cJSON_AddItemToObject(o, "px_per_mm", m->px_per_mm > 0 ? num(m->px_per_mm) : cJSON_CreateNull());
    add_num(o, "sigma_texture_px", m->sigma_t);
    add_num(o, "sigma_pore_px", m->sigma_p);
    add_num(o, "sigma_pore_small_px", m->sigma_s);
    add_num(o, "pore_area_min_px", m->pore_area_min);
    add_num(o, "pore_area_max_px", m->pore_area_max);
    add_num(o, "pore_max_elongation", m->pore_max_elongation);
    add_num(o, "pore_k", m->pore_k);
    add_num(o, "pore_floor", m->pore_floor);
    cJSON_AddItemToObject(o, "pore_contrast",
                          m->pore_contrast > 0 ? num(m->pore_contrast) : cJSON_CreateNull());
    add_num(o, "red_delta", m->red_delta);
    add_num(o, "border_px", sd_metric_border(m));
    add_num(o, "threads", p->threads);
    cJSON_AddStringToObject(o, "simd", sd_simd_name(sd_simd_active()));
    return o;
}

/* metrics: {"texture": {"ra": <leaf(d, before, after)>, ...}, ...} */
typedef cJSON *(*leaf_fn)(const sd_metric_desc *d, const sd_metrics *a, const sd_metrics *b);

static cJSON *metrics_json(const sd_compare_params *p, const sd_thresholds *thr, leaf_fn leaf,
                           const sd_metrics *a, const sd_metrics *b)
{
    cJSON *o = cJSON_CreateObject();
    for (size_t g = 0; g < N_GROUPS; g++) {
        cJSON *grp = cJSON_AddObjectToObject(o, groups[g]);
        for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
            const sd_metric_desc *d = &table[i];
            if (strcmp(d->group, groups[g]) != 0 || (d->need_mm && !(p->metric.px_per_mm > 0)))
                continue;
            cJSON_AddItemToObject(grp, d->name, leaf(d, a, b));
        }
        if (strcmp(groups[g], "redness") == 0)
            add_num(grp, "threshold", thr->t_red);
        if (strcmp(groups[g], "pores") == 0)
            add_num(grp, "threshold", thr->t_pore);
    }
    return o;
}

static cJSON *leaf_change(const sd_metric_desc *d, const sd_metrics *a, const sd_metrics *b)
{
    double x = sd_metric_value(a, d), y = sd_metric_value(b, d);
    cJSON *o = cJSON_CreateObject();
    add_num(o, "before", x);
    add_num(o, "after", y);
    add_num(o, "delta", y - x);
    add_num(o, "change_pct", change_pct(x, y));
    add_num(o, "noise_floor_pct", sd_metric_floor(d, a));
    return o;
}

static cJSON *leaf_plain(const sd_metric_desc *d, const sd_metrics *a, const sd_metrics *b)
{
    (void)b;
    return num(sd_metric_value(a, d));
}

cJSON *sd_rjson_metrics(const sd_compare_params *p, const sd_thresholds *thr,
                        const sd_metrics *m)
{
    return metrics_json(p, thr, leaf_plain, m, NULL);
}

cJSON *sd_rjson_roi(sd_roi_source src, size_t pixels, const sd_rect *bbox)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", roi_source_name(src));
    add_num(o, "pixels", (double)pixels);
    cJSON_AddItemToObject(o, "bbox", rect_array(bbox));
    return o;
}

cJSON *sd_rjson_pair(double before, double after)
{
    cJSON *o = cJSON_CreateObject();
    add_num(o, "before", before);
    add_num(o, "after", after);
    return o;
}

cJSON *sd_rjson_warnings(const sd_quality *q)
{
    cJSON *w = cJSON_CreateArray();
    for (int i = 0; i < q->n_warnings; i++)
        cJSON_AddItemToArray(w, cJSON_CreateString(q->warnings[i]));
    return w;
}

static cJSON *timing_json(const sd_timing *t, int pair)
{
    cJSON *o = cJSON_CreateObject();
    add_num(o, "decode", t->decode_ms);
    if (pair) {
        add_num(o, "align", t->align_ms);
    }
    add_num(o, "roi", t->roi_ms);
    if (pair)
        add_num(o, "normalize", t->normalize_ms);
    add_num(o, "metrics", t->metrics_ms);
    add_num(o, "total", t->total_ms);
    return o;
}

cJSON *sd_rjson_alignment(const sd_align_result *al)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "model", sd_align_model_name(al->model));
    cJSON_AddItemToObject(a, "matrix", num_array(al->xf.m, 6));
    add_num(a, "rotation_deg", al->rotation_deg);
    add_num(a, "scale", al->scale);
    double t[2] = {al->tx, al->ty};
    cJSON_AddItemToObject(a, "translation_px", num_array(t, 2));
    add_num(a, "overlap_fraction", al->overlap_fraction);
    add_num(a, "ncc", al->ncc);
    cJSON_AddStringToObject(a, "status", sd_align_status_name(al->status));
    return a;
}

cJSON *sd_rjson_normalization(const sd_norm_result *nr)
{
    cJSON *n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "method", sd_norm_method_name(nr->method));
    cJSON_AddItemToObject(n, "gains", num_array(nr->gains, 3));
    cJSON_AddItemToObject(n, "before_gains", num_array(nr->before_gains, 3));
    add_num(n, "exposure_ev", nr->exposure_ev);
    cJSON_AddBoolToObject(n, "calibrated", nr->calibrated);
    return n;
}

static sd_status finish(sd_ctx *ctx, cJSON *root, char **json)
{
    *json = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!*json)
        return sd_fail(ctx, SD_ERR_NOMEM, "report: out of memory");
    return SD_OK;
}

sd_status sd_report_compare(sd_ctx *ctx, const sd_compare_params *p, const sd_compare_result *r,
                            char **json)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "skindelta/compare/1");
    cJSON_AddItemToObject(root, "tool", sd_rjson_tool());
    cJSON_AddItemToObject(root, "before", image_json(&r->before));
    cJSON_AddItemToObject(root, "after", image_json(&r->after));
    cJSON_AddItemToObject(root, "params", sd_rjson_params(p, 1));

    cJSON_AddItemToObject(root, "alignment", sd_rjson_alignment(&r->alignment));
    cJSON_AddItemToObject(root, "normalization", sd_rjson_normalization(&r->normalization));

    cJSON_AddItemToObject(root, "roi", sd_rjson_roi(r->roi_source, r->roi_pixels, &r->roi_bbox));
    cJSON_AddItemToObject(root, "metrics",
                          metrics_json(p, &r->thresholds, leaf_change, &r->m_before, &r->m_after));

    cJSON *s = cJSON_AddObjectToObject(root, "summary");
    for (size_t g = 0; g < N_GROUPS; g++)
        cJSON_AddStringToObject(s, groups[g],
                                sd_group_verdict(groups[g], p->metric.px_per_mm > 0, &r->m_before,
                                                 &r->m_after));

    const sd_quality *q = &r->quality;
    cJSON *qo = cJSON_AddObjectToObject(root, "quality");
    cJSON_AddItemToObject(qo, "sharpness", sd_rjson_pair(q->sharpness_before, q->sharpness_after));
    cJSON_AddItemToObject(qo, "focus_measure", sd_rjson_pair(q->focus_before, q->focus_after));
    add_num(qo, "focus_ratio", q->focus_ratio);
    cJSON_AddItemToObject(qo, "clipped_fraction", sd_rjson_pair(q->clipped_before, q->clipped_after));
    cJSON_AddItemToObject(qo, "crushed_fraction", sd_rjson_pair(q->crushed_before, q->crushed_after));
    cJSON_AddItemToObject(qo, "lighting_asymmetry",
                          sd_rjson_pair(q->asymmetry_before, q->asymmetry_after));
    cJSON_AddItemToObject(qo, "warnings", sd_rjson_warnings(q));
    cJSON_AddItemToObject(root, "timing_ms", timing_json(&r->timing, 1));
    return finish(ctx, root, json);
}

sd_status sd_report_analyze(sd_ctx *ctx, const sd_compare_params *p, const sd_analyze_result *r,
                            char **json)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "skindelta/analyze/1");
    cJSON_AddItemToObject(root, "tool", sd_rjson_tool());
    cJSON_AddItemToObject(root, "image", image_json(&r->image));
    cJSON_AddItemToObject(root, "params", sd_rjson_params(p, 0));
    cJSON_AddItemToObject(root, "roi", sd_rjson_roi(r->roi_source, r->roi_pixels, &r->roi_bbox));
    const sd_quality *q = &r->quality;
    cJSON *qo = cJSON_AddObjectToObject(root, "quality");
    add_num(qo, "sharpness", q->sharpness_before);
    add_num(qo, "focus_measure", q->focus_before);
    add_num(qo, "clipped_fraction", q->clipped_before);
    add_num(qo, "crushed_fraction", q->crushed_before);
    add_num(qo, "lighting_asymmetry", q->asymmetry_before);
    cJSON_AddItemToObject(qo, "warnings", sd_rjson_warnings(q));
    cJSON_AddItemToObject(root, "metrics",
                          metrics_json(p, &r->thresholds, leaf_plain, &r->metrics, NULL));
    cJSON_AddItemToObject(root, "timing_ms", timing_json(&r->timing, 0));
    return finish(ctx, root, json);
}

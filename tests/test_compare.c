/* The whole pipeline on a generated pair with known truth, written to disk
 * as JPEG and read back through the public API: alignment against the true
 * transform, the direction of every metric, the report's schema and field
 * names, and the refusal of an unrelated pair. */
#include "sd_test.h"

#include <math.h>
#include <unistd.h>

#include <cJSON.h>

#include "skindelta/compare.h"
#include "skindelta/io.h"
#include "skindelta/report.h"
#include "skindelta/synth.h"

typedef struct fixture {
    char dir[64];
    char before[128], after[128], other[128];
    sd_synth_truth *truth;
} fixture;

static int setup(void **state)
{
    static fixture f;
    snprintf(f.dir, sizeof f.dir, "/tmp/sd-compare-XXXXXX");
    if (!mkdtemp(f.dir))
        return -1;
    snprintf(f.before, sizeof f.before, "%s/before.jpg", f.dir);
    snprintf(f.after, sizeof f.after, "%s/after.jpg", f.dir);
    snprintf(f.other, sizeof f.other, "%s/other.jpg", f.dir);
    sd_ctx *ctx = sd_ctx_new();
    sd_synth_skin skin;
    sd_synth_session ses;
    sd_synth_capture cb, ca;
    sd_synth_skin_defaults(&skin, 11, 640, 480);
    sd_synth_session_defaults(&ses);
    ses.pores_gone = 0.4;
    ses.pore_radius_scale = 0.85;
    ses.redness_scale = 0.4;
    ses.texture_scale = 0.75;
    sd_synth_capture_defaults(&cb, 640, 480);
    sd_synth_capture_defaults(&ca, 640, 480);
    cb.noise = ca.noise = 0.004;
    cb.noise_seed = 1;
    ca.noise_seed = 2;
    ca.ev = -0.5;
    ca.xf = sd_synth_similarity(-4.0, 1.05, 15, -10, 320, 240);
    sd_synth_pair pair;
    if (sd_synth_pair_render(ctx, &skin, &ses, &cb, &ca, &pair) != SD_OK ||
        sd_image_save_jpeg(ctx, pair.before, f.before, 92) != SD_OK ||
        sd_image_save_jpeg(ctx, pair.after, f.after, 92) != SD_OK)
        return -1;
    f.truth = pair.truth;
    pair.truth = NULL;
    sd_synth_pair_release(&pair);
    /* unrelated skin: another seed */
    sd_synth_skin_defaults(&skin, 999, 640, 480);
    sd_image *o = NULL;
    if (sd_synth_render(ctx, &skin, NULL, &cb, &o) != SD_OK ||
        sd_image_save_jpeg(ctx, o, f.other, 92) != SD_OK)
        return -1;
    sd_image_free(o);
    sd_ctx_free(ctx);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->before);
    unlink(f->after);
    unlink(f->other);
    rmdir(f->dir);
    sd_synth_truth_free(f->truth);
    return 0;
}

static void test_pair(void **state)
{
    fixture *f = *state;
    sd_ctx *ctx = sd_ctx_new();
    sd_compare_params p;
    sd_compare_params_default(&p);
    sd_compare_result r;
    assert_int_equal(sd_pair_compare(ctx, f->before, f->after, &p, &r), SD_OK);
    assert_int_equal(r.alignment.status, SD_ALIGN_OK);
    /* the transform within 1 px at the corners of the inner 80 % */
    double worst = 0;
    for (int i = 0; i < 4; i++) {
        double x = i & 1 ? 576 : 64, y = i & 2 ? 432 : 48, ex, ey, tx, ty;
        sd_xform_apply(&r.alignment.xf, x, y, &ex, &ey);
        sd_xform_apply(&f->truth->xf, x, y, &tx, &ty);
        worst = fmax(worst, hypot(ex - tx, ey - ty));
    }
    print_message("alignment error %.3f px; exposure_ev %.3f (true -0.5)\n", worst,
                  r.normalization.exposure_ev);
    assert_true(worst < 1.0);
    assert_true(fabs(r.normalization.exposure_ev + 0.5) < 0.05);
    /* every change in the true direction */
    print_message("ra %.3f -> %.3f, pores %.0f -> %.0f, mean_a %.3f -> %.3f\n", r.m_before.ra,
                  r.m_after.ra, r.m_before.pore_count, r.m_after.pore_count, r.m_before.mean_a,
                  r.m_after.mean_a);
    assert_true(r.m_after.ra < 0.9 * r.m_before.ra);
    assert_true(r.m_after.pore_count < 0.8 * r.m_before.pore_count);
    assert_true(r.m_after.pore_mean_area_px < r.m_before.pore_mean_area_px);
    assert_true(r.m_after.mean_a < r.m_before.mean_a);
    assert_true(r.m_after.red_area_fraction < r.m_before.red_area_fraction);
    assert_string_equal(sd_group_verdict("texture", 0, &r.m_before, &r.m_after), "improved");
    assert_string_equal(sd_group_verdict("pores", 0, &r.m_before, &r.m_after), "improved");
    assert_string_equal(sd_group_verdict("redness", 0, &r.m_before, &r.m_after), "improved");
    sd_ctx_free(ctx);
}

/* Field names other programs parse (DESIGN.md, "Report JSON"). */
static void test_report_schema(void **state)
{
    fixture *f = *state;
    sd_ctx *ctx = sd_ctx_new();
    sd_compare_params p;
    sd_compare_params_default(&p);
    sd_compare_result r;
    assert_int_equal(sd_pair_compare(ctx, f->before, f->after, &p, &r), SD_OK);
    char *json = NULL;
    assert_int_equal(sd_report_compare(ctx, &p, &r, &json), SD_OK);
    cJSON *root = cJSON_Parse(json);
    assert_non_null(root);
    static const char *const paths[] = {
        "schema", "tool/name", "tool/version", "before/path", "before/width", "before/height",
        "before/orientation", "before/sha256", "after/sha256", "params", "alignment/model",
        "alignment/matrix", "alignment/rotation_deg", "alignment/scale",
        "alignment/translation_px", "alignment/overlap_fraction", "alignment/ncc",
        "alignment/status", "normalization/method", "normalization/gains",
        "normalization/exposure_ev", "normalization/calibrated", "roi/source", "roi/pixels",
        "roi/bbox", "metrics/texture/ra/before", "metrics/texture/ra/after",
        "metrics/texture/ra/delta", "metrics/texture/ra/change_pct", "metrics/texture/rq",
        "metrics/redness/mean_a", "metrics/redness/erythema_index",
        "metrics/redness/red_area_fraction", "metrics/pores/count", "metrics/pores/area_fraction",
        "metrics/pores/mean_area_px", "summary/texture", "summary/redness", "summary/pores",
        "quality/sharpness/before", "quality/sharpness/after", "quality/clipped_fraction/before",
        "quality/warnings", "timing_ms/decode", "timing_ms/align", "timing_ms/normalize",
        "timing_ms/metrics", "timing_ms/total"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", paths[i]);
        const cJSON *node = root;
        for (char *tok = strtok(buf, "/"); tok && node; tok = strtok(NULL, "/"))
            node = cJSON_GetObjectItemCaseSensitive(node, tok);
        if (!node)
            fail_msg("report lacks %s", paths[i]);
    }
    assert_string_equal(cJSON_GetObjectItem(root, "schema")->valuestring, "skindelta/compare/1");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "alignment"),
                                                            "matrix")),
                     6);
    /* delta and change_pct follow their definitions */
    const cJSON *ra = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(root, "metrics"), "texture"), "ra");
    double b = cJSON_GetObjectItem(ra, "before")->valuedouble;
    double a = cJSON_GetObjectItem(ra, "after")->valuedouble;
    assert_true(fabs(cJSON_GetObjectItem(ra, "delta")->valuedouble - (a - b)) < 1e-5 * fabs(b));
    assert_true(fabs(cJSON_GetObjectItem(ra, "change_pct")->valuedouble - 100 * (a - b) / b) <
                1e-4);
    cJSON_Delete(root);
    free(json);
    sd_ctx_free(ctx);
}

static void test_unrelated_refused(void **state)
{
    fixture *f = *state;
    sd_ctx *ctx = sd_ctx_new();
    sd_compare_params p;
    sd_compare_params_default(&p);
    sd_compare_result r;
    assert_int_equal(sd_pair_compare(ctx, f->before, f->other, &p, &r), SD_ERR_ALIGN);
    assert_non_null(strstr(sd_ctx_message(ctx), f->other));
    p.allow_unaligned = 1;
    assert_int_equal(sd_pair_compare(ctx, f->before, f->other, &p, &r), SD_OK);
    assert_int_equal(r.alignment.status, SD_ALIGN_FAILED);
    sd_ctx_free(ctx);
}

/* Verdicts: beyond the floor in one direction only; both ways reads unchanged. */
static void test_verdicts(void **state)
{
    (void)state;
    size_t n;
    const sd_metric_desc *t = sd_metric_table(&n);
    assert_true(n >= 8);
    /* t[0] is texture.ra: one m.ra = 10 against another */
    sd_metrics mb = {0}, ma = {0};
    mb.ra = 10.0;
    ma.ra = 10.0 * (1 - t[0].noise_floor_pct / 200);
    assert_string_equal(sd_metric_verdict(&t[0], &mb, &ma), "unchanged");
    ma.ra = 10.0 * (1 - 2 * t[0].noise_floor_pct / 100);
    assert_string_equal(sd_metric_verdict(&t[0], &mb, &ma), "improved");
    ma.ra = 10.0 * (1 + 2 * t[0].noise_floor_pct / 100);
    assert_string_equal(sd_metric_verdict(&t[0], &mb, &ma), "worsened");
    mb.ra = ma.ra = 0.0;
    assert_string_equal(sd_metric_verdict(&t[0], &mb, &ma), "unchanged");
    /* pore floors depend on BEFORE's count N: max(base, 100 c / sqrt(N)),
     * and below SD_Q_MIN_PORES there is none: not judged, "unchanged" */
    assert_true(SD_Q_MIN_PORES <= 25);
    for (size_t i = 0; i < n; i++) {
        if (!(t[i].floor_count_c > 0))
            continue;
        sd_metrics pb = {0}, pa = {0};
        pb.pore_count = 25;
        assert_true(fabs(sd_metric_floor(&t[i], &pb) -
                         fmax(t[i].noise_floor_pct, 20 * t[i].floor_count_c)) < 1e-12);
        pb.pore_count = 1e8;
        assert_true(sd_metric_floor(&t[i], &pb) == t[i].noise_floor_pct);
        pb.pore_count = SD_Q_MIN_PORES - 1;
        assert_true(isnan(sd_metric_floor(&t[i], &pb)));
        pb.pore_area_fraction = pb.pore_mean_area_px = 0.01;
        pa.pore_count = 10 * pb.pore_count;
        pa.pore_area_fraction = pa.pore_mean_area_px = 0.1;
        assert_string_equal(sd_metric_verdict(&t[i], &pb, &pa), "unchanged");
    }
    sd_metrics b = {0}, a = {0};
    b.pore_count = 100, a.pore_count = 50;
    b.pore_mean_area_px = 10, a.pore_mean_area_px = 20;
    b.pore_area_fraction = a.pore_area_fraction = 0.01;
    assert_string_equal(sd_group_verdict("pores", 0, &b, &a), "unchanged");
    a.pore_mean_area_px = 10;
    assert_string_equal(sd_group_verdict("pores", 0, &b, &a), "improved");
    /* fewer pores and a smaller area share outweigh a larger mean area */
    a.pore_area_fraction = 0.005;
    a.pore_mean_area_px = 20;
    assert_string_equal(sd_group_verdict("pores", 0, &b, &a), "improved");
    /* and the other way round */
    assert_string_equal(sd_group_verdict("pores", 0, &a, &b), "worsened");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair),
        cmocka_unit_test(test_report_schema),
        cmocka_unit_test(test_unrelated_refused),
        cmocka_unit_test(test_verdicts),
    };
    return cmocka_run_group_tests_name("compare", tests, setup, teardown);
}

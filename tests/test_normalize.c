/* Normalization against known exposure and colour changes: an AFTER one stop
 * darker (and moved) gives gains 2 and -1 EV, after which every metric reads
 * as BEFORE's; a real redness increase survives; a colour cast on a grey
 * patch is removed by the per-channel reference gains. The exposure's
 * median (histograms of the values' keys) is held to the sorted middle. */
#include "sd_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "normalize/normalize_internal.h"
#include "skindelta/kernels.h"
#include "skindelta/metrics.h"
#include "skindelta/normalize.h"
#include "test_metrics_scene.h"

static sd_ctx *ctx;

static int setup(void **state)
{
    (void)state;
    ctx = sd_ctx_new();
    return ctx ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sd_ctx_free(ctx);
    return 0;
}

static sc_scene skin(sc_blob *b)
{
    sc_scene sc = {.base = SC_SKIN, .nsin = 2};
    sc.sin_a[0] = 0.05;
    sc.sin_p[0] = 9.3;
    sc.sin_th[0] = 0.4;
    sc.sin_a[1] = 0.04;
    sc.sin_p[1] = 14.1;
    sc.sin_th[1] = 1.9;
    int k = 0;
    for (int j = 0; j < 5; j++)
        for (int i = 0; i < 5; i++)
            b[k++] = (sc_blob){50 + 45 * i + 0.3 * j, 50 + 45 * j + 0.2 * i, 2.2, 0.8};
    sc.nblob = k;
    sc.blobs = b;
    return sc;
}

/* AFTER: the scene seen moved by (3.4, -2.1) (AFTER pixel u shows scene u - t) */
static const double T_X = 3.4, T_Y = -2.1;

static sd_image *render_after(const sc_scene *sc, int w, int h)
{
    double m[6] = {1, 0, -T_X, 0, 1, -T_Y};
    return sc_render(sc, w, h, m);
}

static void measure(const sd_image *img, const uint8_t *mask, const double *g,
                    sd_thresholds *thr, sd_metrics *m)
{
    sd_metric_params p;
    sd_metric_params_default(&p);
    if (sd_image_measure(ctx, img, mask, 1.0, g, &p, thr, m) != SD_OK)
        fail_msg("measure: %s", sd_ctx_message(ctx));
}

static void test_exposure_one_stop(void **state)
{
    (void)state;
    sc_blob b[25];
    sc_scene sc = skin(b);
    sd_image *before = sc_render(&sc, 320, 320, NULL);
    sc.expo = 0.5;
    sd_image *after = render_after(&sc, 320, 320);
    sd_xform xf = {{1, 0, T_X, 0, 1, T_Y}};
    sd_metric_params p;
    sd_metric_params_default(&p);
    sd_roi_opts ro = {.border = sd_metric_border(&p)};
    sd_roi roi;
    assert_int_equal(sd_roi_build(ctx, before, after, &xf, &ro, &roi), SD_OK);
    sd_norm_result nr;
    assert_int_equal(sd_pair_normalize(ctx, before, after, &xf, &roi, SD_NORM_EXPOSURE, NULL, &nr),
                     SD_OK);
    print_message("-1 EV: gains %.4f, exposure_ev %.4f\n", nr.gains[0], nr.exposure_ev);
    assert_true(fabs(nr.exposure_ev + 1) < 0.02);
    assert_true(fabs(nr.gains[0] - 2) < 0.03);
    assert_true(nr.gains[0] == nr.gains[1] && nr.gains[1] == nr.gains[2]);
    assert_true(nr.before_gains[0] == 1 && nr.before_gains[1] == 1 && nr.before_gains[2] == 1);
    assert_int_equal(nr.calibrated, 0);
    assert_string_equal(sd_norm_method_name(nr.method), "exposure");

    sd_thresholds thr = {0};
    sd_metrics mb, ma, mraw;
    measure(before, roi.before, NULL, &thr, &mb);
    measure(after, roi.after, nr.gains, &thr, &ma);
    assert_true(fabs(ma.mean_a - mb.mean_a) < 0.05);
    assert_true(fabs(ma.erythema_index - mb.erythema_index) < 0.05);
    assert_true(fabs(ma.ra - mb.ra) < 0.01 * mb.ra);
    assert_true(ma.pore_count == mb.pore_count);
    assert_true(fabs(ma.mean_lambda - mb.mean_lambda) < log(1.02)); /* luminance within 2 % */
    /* without the gain, a* of the darker photo is off (a* scales with lightness) */
    measure(after, roi.after, NULL, &thr, &mraw);
    assert_true(fabs(mraw.mean_a - mb.mean_a) > 0.5);
    sd_roi_release(&roi);
    sd_image_free(before);
    sd_image_free(after);
}

static void test_real_redness_survives(void **state)
{
    (void)state;
    sc_blob b[25];
    sc_scene sc = skin(b);
    sd_image *before = sc_render(&sc, 320, 320, NULL);
    /* AFTER: redder patches over ~20 % of the ROI, and one stop darker */
    sc_patch pt[3] = {{40, 40, 240, 30, {0.5, 0.21, 0.17}},
                      {40, 150, 240, 30, {0.5, 0.21, 0.17}},
                      {40, 250, 240, 20, {0.5, 0.21, 0.17}}};
    sc.npatch = 3;
    sc.patches = pt;
    sd_image *truth = render_after(&sc, 320, 320); /* same exposure as BEFORE */
    sc.expo = 0.5;
    sd_image *after = render_after(&sc, 320, 320);
    sd_xform xf = {{1, 0, T_X, 0, 1, T_Y}};
    sd_roi_opts ro = {.border = 18};
    sd_roi roi;
    assert_int_equal(sd_roi_build(ctx, before, after, &xf, &ro, &roi), SD_OK);
    sd_norm_result nr;
    assert_int_equal(sd_pair_normalize(ctx, before, after, &xf, &roi, SD_NORM_EXPOSURE, NULL, &nr),
                     SD_OK);
    assert_true(fabs(nr.exposure_ev + 1) < 0.02);
    sd_thresholds thr = {0};
    sd_metrics mb, ma, mt;
    measure(before, roi.before, NULL, &thr, &mb);
    measure(after, roi.after, nr.gains, &thr, &ma);
    measure(truth, roi.after, NULL, &thr, &mt);
    print_message("mean a*: before %.3f, after normalized %.3f, truth %.3f\n", mb.mean_a, ma.mean_a,
                  mt.mean_a);
    assert_true(mt.mean_a - mb.mean_a > 1.0); /* the change is real and large */
    assert_true(fabs(ma.mean_a - mt.mean_a) < 0.05);
    assert_true(fabs(ma.red_area_fraction - mt.red_area_fraction) < 0.005);
    assert_true(ma.red_area_fraction > 0.15);
    sd_roi_release(&roi);
    sd_image_free(before);
    sd_image_free(after);
    sd_image_free(truth);
}

static void test_reference_cast(void **state)
{
    (void)state;
    sc_blob b[25];
    sc_scene sc = skin(b);
    sc_patch grey = {250, 20, 40, 30, {0.18, 0.18, 0.18}};
    sc.npatch = 1;
    sc.patches = &grey;
    sc.nblob = 0;
    sc.nsin = 0;
    sd_image *before = sc_render(&sc, 320, 320, NULL);
    const double cast[3] = {1.2, 1.0, 0.7};
    for (int c = 0; c < 3; c++)
        sc.cast[c] = cast[c];
    sc.expo = 0.8;
    sd_image *after = render_after(&sc, 320, 320);
    sd_xform xf = {{1, 0, T_X, 0, 1, T_Y}};
    sd_rect ref = {255, 25, 30, 20}; /* inside the grey patch */
    sd_norm_result nr;
    assert_int_equal(sd_pair_normalize(ctx, before, after, &xf, NULL, SD_NORM_REFERENCE, &ref, &nr),
                     SD_OK);
    print_message("cast gains %.4f %.4f %.4f ev %.4f\n", nr.gains[0], nr.gains[1], nr.gains[2],
                  nr.exposure_ev);
    for (int c = 0; c < 3; c++) {
        assert_true(fabs(nr.gains[c] * cast[c] * 0.8 - 1) < 2e-3);
        assert_true(fabs(nr.before_gains[c] - 1) < 2e-3);
    }
    assert_int_equal(nr.calibrated, 1);
    /* luminance gain of the patch: 0.18 / Y(0.18 * cast * 0.8) */
    double ya = 0.18 * 0.8 * (SD_XYZ_YR * cast[0] + SD_XYZ_YG * cast[1] + SD_XYZ_YB * cast[2]);
    assert_true(fabs(nr.exposure_ev + log2(0.18 / ya)) < 0.01);
    /* the cast is gone from the skin too */
    sd_roi_opts ro = {.border = 18};
    sd_roi roi;
    assert_int_equal(sd_roi_build(ctx, before, after, &xf, &ro, &roi), SD_OK);
    sd_thresholds thr = {0};
    sd_metrics mb, ma;
    measure(before, roi.before, NULL, &thr, &mb);
    measure(after, roi.after, nr.gains, &thr, &ma);
    assert_true(fabs(ma.mean_a - mb.mean_a) < 0.05);
    assert_true(fabs(ma.erythema_index - mb.erythema_index) < 0.05);
    sd_roi_release(&roi);

    /* a tinted patch in BEFORE: before_gains make it neutral grey */
    sc_patch tint = {250, 20, 40, 30, {0.22, 0.18, 0.15}};
    sc_scene s2 = {.base = SC_SKIN, .npatch = 1, .patches = &tint};
    sd_image *b2 = sc_render(&s2, 320, 320, NULL);
    assert_int_equal(sd_pair_normalize(ctx, b2, after, &xf, NULL, SD_NORM_REFERENCE, &ref, &nr),
                     SD_OK);
    double yt = SD_XYZ_YR * 0.22 + SD_XYZ_YG * 0.18 + SD_XYZ_YB * 0.15;
    for (int c = 0; c < 3; c++) {
        assert_true(fabs(nr.before_gains[c] * tint.rgb[c] - yt) < 2e-3 * yt);
        assert_true(fabs(nr.gains[c] * 0.18 * cast[c] * 0.8 - yt) < 2e-3 * yt);
    }
    sd_image_free(b2);
    sd_image_free(before);
    sd_image_free(after);
}

static sd_norm_level *level_rows(const sd_image *img, int upto)
{
    sd_norm_level *lv = sd_norm_level_new(img->width, img->height);
    assert_non_null(lv);
    for (int y = 0; y < upto; y++)
        sd_norm_level_add_row(lv, img, y);
    return lv;
}

/* The exposure gain from levels made row by row beforehand (as compare
 * makes them while decoding) is the gain sd_pair_normalize gets from the
 * windows it makes itself, bit for bit: sizes that are not multiples of
 * the block, windows that meet the image's edges or not (rectangles at odd
 * offsets), a rotation with a scale. Levels that are incomplete or of the
 * other image: SD_ERR_ARG. */
static void test_levels_made_beforehand(void **state)
{
    (void)state;
    sc_blob b[25];
    sc_scene sc = skin(b);
    sd_image *before = sc_render(&sc, 321, 307, NULL);
    sc.expo = 0.7;
    double m[6] = {0.99, 0.05, -6.2, -0.05, 0.99, 9.1};
    sd_image *after = sc_render(&sc, 318, 311, m);
    const sd_xform shift = {{1, 0, 1.3, 0, 1, -2.7}};
    const sd_xform turn = {{0.99, -0.05, 6.0, 0.05, 0.99, -9.0}};
    const sd_rect rects[3] = {{0, 0, 321, 307}, {33, 45, 201, 151}, {7, 3, 290, 290}};
    sd_norm_level *lb = level_rows(before, before->height), *la = level_rows(after, after->height);
    for (int k = 0; k < 6; k++) {
        const sd_xform *xf = k % 2 ? &turn : &shift;
        sd_roi_opts ro = {.border = 3, .rect = k / 2 ? &rects[k / 2] : NULL};
        sd_roi roi;
        assert_int_equal(sd_roi_build(ctx, before, after, xf, &ro, &roi), SD_OK);
        sd_norm_result own, given;
        assert_int_equal(
            sd_pair_normalize(ctx, before, after, xf, &roi, SD_NORM_EXPOSURE, NULL, &own), SD_OK);
        assert_int_equal(sd_pair_normalize_levels(ctx, before, after, xf, &roi, SD_NORM_EXPOSURE,
                                                  NULL, lb, la, &given),
                         SD_OK);
        if (own.gains[0] != given.gains[0])
            fail_msg("case %d: gain %.9g from its own windows, %.9g from the levels", k,
                     own.gains[0], given.gains[0]);
        assert_true(fabs(own.exposure_ev - log2(0.7)) < 0.03);
        sd_roi_release(&roi);
    }
    sd_roi_opts ro = {.border = 3};
    sd_roi roi;
    assert_int_equal(sd_roi_build(ctx, before, after, &shift, &ro, &roi), SD_OK);
    sd_norm_result nr;
    sd_norm_level *part = level_rows(after, after->height - 1);
    assert_int_equal(sd_pair_normalize_levels(ctx, before, after, &shift, &roi, SD_NORM_EXPOSURE,
                                              NULL, lb, part, &nr),
                     SD_ERR_ARG);
    assert_int_equal(sd_pair_normalize_levels(ctx, before, after, &shift, &roi, SD_NORM_EXPOSURE,
                                              NULL, la, lb, &nr),
                     SD_ERR_ARG);
    sd_norm_level_free(part);
    sd_norm_level_free(lb);
    sd_norm_level_free(la);
    sd_norm_level_free(NULL);
    assert_null(sd_norm_level_new(0, 5));
    sd_roi_release(&roi);
    sd_image_free(before);
    sd_image_free(after);
}

static void test_errors_and_none(void **state)
{
    (void)state;
    sc_scene sc = {.base = {0.004, 0.004, 0.004}};
    sd_image *dark = sc_render(&sc, 100, 100, NULL);
    sc_scene sk = {.base = SC_SKIN};
    sd_image *img = sc_render(&sk, 100, 100, NULL);
    sd_norm_result nr;
    sd_rect ref = {10, 10, 20, 20};
    assert_int_equal(sd_pair_normalize(ctx, img, img, NULL, NULL, SD_NORM_NONE, NULL, &nr), SD_OK);
    assert_true(nr.gains[0] == 1 && nr.gains[1] == 1 && nr.gains[2] == 1 && nr.exposure_ev == 0);
    assert_int_equal(sd_pair_normalize(ctx, dark, dark, NULL, NULL, SD_NORM_REFERENCE, &ref, &nr),
                     SD_ERR_ARG);
    assert_non_null(strstr(sd_ctx_message(ctx), "too dark"));
    sd_rect outside = {90, 90, 20, 20};
    assert_int_equal(sd_pair_normalize(ctx, img, img, NULL, NULL, SD_NORM_REFERENCE, &outside, &nr),
                     SD_ERR_ARG);
    sd_xform far = {{1, 0, 85, 0, 1, 0}};
    assert_int_equal(sd_pair_normalize(ctx, img, img, &far, NULL, SD_NORM_REFERENCE, &ref, &nr),
                     SD_ERR_ARG);
    assert_non_null(strstr(sd_ctx_message(ctx), "outside AFTER"));
    assert_int_equal(sd_pair_normalize(ctx, img, img, NULL, NULL, SD_NORM_REFERENCE, NULL, &nr),
                     SD_ERR_ARG);
    assert_int_equal(sd_pair_normalize(ctx, img, img, NULL, NULL, SD_NORM_EXPOSURE, NULL, &nr),
                     SD_ERR_ARG);
    assert_true(nr.gains[0] == 1); /* failure leaves neutral gains */
    sd_image_free(dark);
    sd_image_free(img);
}

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* sd_norm_median against the textbook median of the sorted values (the
 * middle one, or the mean of the two middle ones in double), at 1, 2 and 3
 * threads: odd and even counts (also the counts at which the threads'
 * stretches change), values spread over decades or crowded in a few
 * floats, both signs, zeros of both signs, runs of equal values, the two
 * middle values in different and in the same high-half bins. */
static void test_median_exact(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 2, 3, 4, 5, 16, 17, 1000, 65535, 65536, 100001, 300000};
    uint32_t seed = 12345;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int kind = 0; kind < 5; kind++) {
            const size_t n = sizes[si];
            float *v = malloc(n * sizeof *v), *ref = malloc(n * sizeof *ref);
            assert_non_null(v);
            assert_non_null(ref);
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1664525u + 1013904223u;
                const double u = (seed >> 8) / 16777216.0; /* [0, 1) */
                switch (kind) {
                case 0: v[i] = (float)(0.2 + 0.05 * (u - 0.5)); break;   /* one exponent */
                case 1: v[i] = (float)((u - 0.5) * pow(10.0, 8 * u - 4)); break; /* decades */
                case 2: v[i] = (float)((int)(u * 7) - 3) * 0.125f; break; /* few values */
                case 3: v[i] = u < 0.5 ? -0.0f : 0.0f; break;           /* signed zeros */
                default: v[i] = (float)(u - 0.5) * 1e-30f; break;       /* tiny, both signs */
                }
            }
            memcpy(ref, v, n * sizeof *v);
            qsort(ref, n, sizeof *ref, cmp_float);
            const double want = n % 2 ? ref[n / 2]
                                      : 0.5 * ((double)ref[n / 2 - 1] + (double)ref[n / 2]);
            for (int th = 1; th <= 3; th++) {
                sd_ctx_set_threads(ctx, th);
                double got = -1;
                assert_int_equal(sd_norm_median(ctx, v, n, &got), SD_OK);
                if (got != want)
                    fail_msg("n %zu kind %d threads %d: %.9g, want %.9g", n, kind, th, got, want);
            }
            free(v);
            free(ref);
        }
    sd_ctx_set_threads(ctx, 1);
    double m;
    assert_int_equal(sd_norm_median(ctx, NULL, 0, &m), SD_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposure_one_stop),
        cmocka_unit_test(test_real_redness_survives),
        cmocka_unit_test(test_reference_cast),
        cmocka_unit_test(test_levels_made_beforehand),
        cmocka_unit_test(test_errors_and_none),
        cmocka_unit_test(test_median_exact),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Batch library pieces against independent references: the least-squares
 * slope (textbook closed form on exact data), calendar days (known
 * day counts), manifest validation (messages name the key), plan rules. */
#include "sd_test.h"

#include <math.h>

#include "skindelta/batch.h"

static void test_slope(void **state)
{
    (void)state;
    /* y = 3 - 0.5 x exactly: slope -0.5 whatever the spacing */
    double x[5] = {0, 30, 61, 90, 150}, y[5];
    for (int i = 0; i < 5; i++)
        y[i] = 3 - 0.5 * x[i];
    assert_true(fabs(sd_batch_slope(x, y, 5) + 0.5) < 1e-12);
    /* (0,0) (1,1) (2,1): slope = Sxy/Sxx = 1/2 */
    double a[3] = {0, 1, 2}, b[3] = {0, 1, 1};
    assert_true(fabs(sd_batch_slope(a, b, 3) - 0.5) < 1e-12);
    /* NAN points are skipped; one point is no slope */
    double c[3] = {0, NAN, 2}, d[3] = {1, 5, 3};
    assert_true(fabs(sd_batch_slope(c, d, 3) - 1.0) < 1e-12);
    assert_true(isnan(sd_batch_slope(a, b, 1)));
}

static void test_dates(void **state)
{
    (void)state;
    long d;
    assert_int_equal(sd_batch_date_days("1970-01-01", &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(sd_batch_date_days("2000-03-01", &d), 0);
    assert_int_equal(d, 11017); /* 30 years + 8 leap days + Jan + Feb 2000 (29) */
    long a, b;
    assert_int_equal(sd_batch_date_days("2024-02-28", &a), 0);
    assert_int_equal(sd_batch_date_days("2024-03-01", &b), 0);
    assert_int_equal(b - a, 2); /* leap year */
    assert_int_equal(sd_batch_date_days("2023-02-29", &d), -1);
    assert_int_equal(sd_batch_date_days("2026-13-01", &d), -1);
    assert_int_equal(sd_batch_date_days("2026-1-10x", &d), -1);
}

static void manifest_fails(const char *json, const char *needle)
{
    sd_ctx *ctx = sd_ctx_new();
    sd_batch_plan *p = NULL;
    assert_int_equal(sd_batch_plan_new(ctx, "pt", &p), SD_OK);
    assert_int_equal(sd_batch_manifest_parse(ctx, p, "patient.json", json), SD_ERR_ARG);
    if (!strstr(sd_ctx_message(ctx), needle))
        fail_msg("message '%s' lacks '%s'", sd_ctx_message(ctx), needle);
    sd_batch_plan_free(p);
    sd_ctx_free(ctx);
}

static void test_manifest(void **state)
{
    (void)state;
    manifest_fails("{", "not valid JSON");
    manifest_fails("{\"sesions\": []}", "patient.json: sesions: unknown key");
    manifest_fails("{\"views\": {\"cheek\": {\"roi\": [1, 2, 3]}}}", "views.cheek.roi:");
    manifest_fails("{\"views\": {\"cheek\": {\"px_per_mm\": \"20\"}}}", "views.cheek.px_per_mm:");
    manifest_fails("{\"views\": {\"cheek\": {\"mask\": \"../x.png\"}}}", "views.cheek.mask:");
    manifest_fails("{\"sessions\": [{\"folder\": \"a\", \"date\": \"2026-02-30\"}]}",
                   "sessions[0].date:");
    manifest_fails("{\"files\": {\"a.jpg\": 3}}", "files.a.jpg:");

    sd_ctx *ctx = sd_ctx_new();
    sd_batch_plan *p = NULL;
    assert_int_equal(sd_batch_plan_new(ctx, "pt/", &p), SD_OK);
    assert_int_equal(sd_batch_manifest_parse(ctx, p, "patient.json",
                                             "{\"sessions\": [{\"folder\": \"visit-a\", \"date\": "
                                             "\"2026-01-10\"}], \"files\": {\"IMG_1.JPG\": "
                                             "\"cheek\"}, \"views\": {\"cheek\": {\"roi\": [1, 2, "
                                             "30, 40], \"px_per_mm\": 20}}}"),
                     SD_OK);
    char date[11], view[64];
    assert_true(sd_batch_plan_has_session_list(p));
    assert_int_equal(sd_batch_session_date(p, "visit-a", date), 1);
    assert_string_equal(date, "2026-01-10");
    assert_int_equal(sd_batch_session_date(p, "2026-02-01", date), 0); /* not listed */
    assert_int_equal(sd_batch_file_view(p, "IMG_1.JPG", view, sizeof view), 1);
    assert_string_equal(view, "cheek");
    assert_int_equal(sd_batch_file_view(p, "notes.txt", view, sizeof view), 0);
    assert_int_equal(sd_batch_file_view(p, "forehead.PNG", view, sizeof view), 1);
    assert_string_equal(view, "forehead");
    assert_int_equal(sd_batch_plan_add(ctx, p, "visit-a", "2026-01-10", "cheek", "IMG_1.JPG"),
                     SD_OK);
    assert_int_equal(sd_batch_plan_add(ctx, p, "visit-a", "2026-01-10", "cheek", "b.png"),
                     SD_ERR_ARG);
    sd_batch_plan_free(p);

    /* without a manifest: dates from folder names */
    assert_int_equal(sd_batch_plan_new(ctx, "pt", &p), SD_OK);
    assert_int_equal(sd_batch_session_date(p, "2026-04-02 after laser", date), 1);
    assert_string_equal(date, "2026-04-02");
    assert_int_equal(sd_batch_session_date(p, "notes", date), 0);
    assert_int_equal(sd_batch_session_date(p, "2026-04-021", date), 0);
    sd_batch_plan_free(p);
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slope),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_manifest),
    };
    return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}

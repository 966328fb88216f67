/* Batch library pieces against independent references: the least-squares
 * slope (textbook closed form on exact data), calendar days (known
 * day counts), manifest validation (messages name the key), plan rules;
 * and sd_batch_run on a generated patient: a cancelled run's stats count
 * exactly the work items that ran (their events), and a resumed run gets
 * exactly those from the cache. */
#include "sd_test.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "skindelta/batch.h"
#include "skindelta/io.h"
#include "skindelta/synth.h"

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

/* ---- sd_batch_run on a generated patient folder ---- */

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char sub[1024];
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) < (int)sizeof sub)
                rm_tree(sub);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static const char *const dates[] = {"2026-01-10", "2026-02-09", "2026-03-11", "2026-04-10"};
#define N_SESS 4

/* A patient: one view, N_SESS sessions of one skin, each moved a little. */
static void make_patient(sd_ctx *ctx, const char *dir)
{
    sd_synth_skin skin;
    sd_synth_skin_defaults(&skin, 5, 320, 240);
    for (int k = 0; k < N_SESS; k++) {
        char sub[600], path[700];
        assert_true(snprintf(sub, sizeof sub, "%s/%s", dir, dates[k]) < (int)sizeof sub);
        assert_int_equal(mkdir(sub, 0777), 0);
        assert_true(snprintf(path, sizeof path, "%s/cheek.jpg", sub) < (int)sizeof path);
        sd_synth_session ses;
        sd_synth_session_defaults(&ses);
        ses.pores_gone = 0.15 * k;
        sd_synth_capture cap;
        sd_synth_capture_defaults(&cap, 320, 240);
        cap.noise = 0.004;
        cap.noise_seed = (uint64_t)k + 1;
        cap.xf = sd_synth_similarity(0.5 * k, 1.0, 2.0 * k, -1.0 * k, 160, 120);
        sd_image *img = NULL;
        assert_int_equal(sd_synth_render(ctx, &skin, k ? &ses : NULL, &cap, &img), SD_OK);
        assert_int_equal(sd_image_save_jpeg(ctx, img, path, 92), SD_OK);
        sd_image_free(img);
    }
}

typedef struct counter {
    pthread_mutex_t mu;
    size_t events, cancel_after;
    size_t n[3][3]; /* phase x {ok, cached, error} */
} counter;

static void on_event(void *user, const sd_batch_event *ev)
{
    counter *c = user;
    pthread_mutex_lock(&c->mu);
    int k = strcmp(ev->status, "ok") == 0 ? 0 : strcmp(ev->status, "cached") == 0 ? 1 : 2;
    c->n[ev->phase][k]++;
    c->events++;
    pthread_mutex_unlock(&c->mu);
}

static int on_cancelled(void *user)
{
    counter *c = user;
    pthread_mutex_lock(&c->mu);
    int stop = c->cancel_after && c->events >= c->cancel_after;
    pthread_mutex_unlock(&c->mu);
    return stop;
}

static sd_status run_patient(sd_ctx *ctx, const char *dir, counter *c, char **json,
                             sd_batch_stats *st)
{
    sd_batch_plan *plan = NULL;
    assert_int_equal(sd_batch_plan_new(ctx, dir, &plan), SD_OK);
    for (int k = 0; k < N_SESS; k++)
        assert_int_equal(sd_batch_plan_add(ctx, plan, dates[k], dates[k], "cheek", "cheek.jpg"),
                         SD_OK);
    sd_batch_opts o = {.use_cache = 1};
    sd_compare_params_default(&o.params);
    sd_batch_hooks h = {.user = c, .event = on_event, .cancelled = on_cancelled};
    sd_status s = sd_batch_run(ctx, plan, &o, &h, json, st);
    sd_batch_plan_free(plan);
    return s;
}

static void test_run_cancel_resume(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/sd_batch_XXXXXX", t && *t ? t : "/tmp");
    assert_non_null(mkdtemp(dir));
    sd_ctx *ctx = sd_ctx_new();
    make_patient(ctx, dir);

    /* cancelled after the 4 probes and 2 of the 3 alignments */
    counter c = {.cancel_after = N_SESS + 2};
    pthread_mutex_init(&c.mu, NULL);
    char *json = NULL;
    sd_batch_stats st;
    assert_int_equal(run_patient(ctx, dir, &c, &json, &st), SD_ERR_ARG);
    assert_non_null(strstr(sd_ctx_message(ctx), "interrupted"));
    assert_null(json);
    assert_int_equal(c.events, N_SESS + 2);
    assert_int_equal(c.n[SD_BATCH_PROBE][0], N_SESS);
    assert_int_equal(c.n[SD_BATCH_ALIGN][0], 2);
    assert_int_equal(st.images_decoded, N_SESS);
    assert_int_equal(st.pairs_aligned, 2);
    assert_int_equal(st.pairs_cached, 0);
    assert_int_equal(st.measured + st.measured_cached, 0);
    assert_int_equal(st.pairs_ok + st.pairs_failed, 0); /* no report, no summary */

    /* resumed: the 2 alignments come from the cache, the third is computed */
    counter r = {0};
    pthread_mutex_init(&r.mu, NULL);
    assert_int_equal(run_patient(ctx, dir, &r, &json, &st), SD_OK);
    assert_non_null(json);
    assert_int_equal(st.pairs_cached, 2);
    assert_int_equal(st.pairs_aligned, 1);
    assert_int_equal(st.images_decoded, 0); /* the probes were cached too */
    assert_int_equal(st.measured, N_SESS);
    assert_int_equal(st.pairs_ok, N_SESS - 1);
    assert_int_equal(r.n[SD_BATCH_ALIGN][1], 2);
    assert_int_equal(r.n[SD_BATCH_MEASURE][0], N_SESS);

    /* from scratch (no cache) gives the same bytes */
    char *json2 = NULL;
    sd_batch_plan *plan = NULL;
    assert_int_equal(sd_batch_plan_new(ctx, dir, &plan), SD_OK);
    for (int k = 0; k < N_SESS; k++)
        assert_int_equal(sd_batch_plan_add(ctx, plan, dates[k], dates[k], "cheek", "cheek.jpg"),
                         SD_OK);
    sd_batch_opts o = {.use_cache = 0};
    sd_compare_params_default(&o.params);
    assert_int_equal(sd_batch_run(ctx, plan, &o, NULL, &json2, &st), SD_OK);
    assert_string_equal(json, json2);
    assert_int_equal(st.pairs_aligned, N_SESS - 1);
    sd_batch_plan_free(plan);
    free(json);
    free(json2);
    pthread_mutex_destroy(&c.mu);
    pthread_mutex_destroy(&r.mu);
    sd_ctx_free(ctx);
    rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slope),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_run_cancel_resume),
    };
    return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}

/* Alignment on generated skin (include/skindelta/synth.h): BEFORE and AFTER
 * are two separate captures of one procedural skin, AFTER through a known
 * similarity (sd_synth_similarity) with its own exposure, sensor noise,
 * JPEG recompression and, on some, a mild defocus difference; on half of
 * them the skin itself changed between the sessions (fewer and shallower
 * pores, less redness, finer texture). Every transform must be recovered
 * within 1 px over the ROI (BEFORE minus a 10 % border, intersected with the
 * overlap). Unrelated skins, and a photograph against skin, are failed. */
#include "sd_test.h"

#include <math.h>

#include "align_scene.h"
#include "skindelta/align.h"
#include "skindelta/io.h"
#include "skindelta/synth.h"

static uint32_t rng_state = 5150811u;

static double urand(double lo, double hi)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return lo + (hi - lo) * ((rng_state >> 8) / 16777216.0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The skin changed between the sessions: half the pores gone, the rest
 * 30 % shallower, redness down to 40 %, texture down to 80 %. */
static void treated(sd_synth_session *s)
{
    sd_synth_session_defaults(s);
    s->pores_gone = 0.5;
    s->pore_depth_scale = 0.7;
    s->pore_radius_scale = 0.9;
    s->redness_scale = 0.4;
    s->texture_scale = 0.8;
}

typedef struct synth_case {
    uint64_t seed;
    int w, h;
    double rot, scale, tx, ty; /* sd_synth_similarity about the centre */
    double ev, noise;          /* AFTER exposure; noise of both captures */
    int q_before, q_after;     /* JPEG quality, 0 = none */
    double defocus_before, defocus_after;
    int session; /* the skin changed (treated()) */
} synth_case;

static void render(sd_ctx *ctx, const synth_case *c, sd_synth_pair *p)
{
    sd_synth_skin skin;
    sd_synth_skin_defaults(&skin, c->seed, c->w, c->h);
    sd_synth_session ses;
    if (c->session)
        treated(&ses);
    else
        sd_synth_session_defaults(&ses);
    sd_synth_capture b, a;
    sd_synth_capture_defaults(&b, c->w, c->h);
    a = b;
    a.xf = sd_synth_similarity(c->rot, c->scale, c->tx, c->ty, (c->w - 1) / 2.0,
                               (c->h - 1) / 2.0);
    a.ev = c->ev;
    b.noise = a.noise = c->noise;
    b.noise_seed = 2 * c->seed + 1;
    a.noise_seed = 2 * c->seed + 2;
    b.jpeg_quality = c->q_before;
    a.jpeg_quality = c->q_after;
    b.defocus = c->defocus_before;
    a.defocus = c->defocus_after;
    if (sd_synth_pair_render(ctx, &skin, &ses, &b, &a, p) != SD_OK)
        fail_msg("sd_synth_pair_render: %s", sd_ctx_message(ctx));
}

static void align(sd_ctx *ctx, const sd_image *b, const sd_image *a, sd_align_model model,
                  sd_align_result *r)
{
    sd_align_opts o = {model};
    if (sd_pair_align(ctx, b, a, &o, r) != SD_OK)
        fail_msg("sd_pair_align: %s", sd_ctx_message(ctx));
}

/* Run one case; returns the error over ROI and overlap. */
static double run_case(sd_ctx *ctx, int i, const synth_case *c, double *ncc)
{
    sd_synth_pair p;
    render(ctx, c, &p);
    sd_align_result r;
    align(ctx, p.before, p.after, SD_ALIGN_SIMILARITY, &r);
    const sd_xform *truth = &p.truth->xf;
    double err = sc_roi_overlap_error(truth, &r.xf, c->w, c->h, p.after->width,
                                      p.after->height);
    double err_roi = sc_roi_error(truth, &r.xf, c->w, c->h);
    double trot, tscale;
    sd_xform_decompose(truth, &trot, &tscale);
    print_message("  #%02d %4dx%-4d rot %+6.2f scale %.3f shift %+6.1f %+6.1f ev %+.2f noise "
                  "%.4f q%2d/%2d blur %.1f/%.1f %s-> err %.3f px (whole ROI %.3f), ncc %.3f, "
                  "overlap %.2f, %s\n",
                  i, c->w, c->h, c->rot, c->scale, c->tx, c->ty, c->ev, c->noise, c->q_before,
                  c->q_after, c->defocus_before, c->defocus_after, c->session ? "treated " : "",
                  err, err_roi, r.ncc, r.overlap_fraction, sd_align_status_name(r.status));
    /* the generator's own truth is the similarity we asked for */
    assert_true(fabs(trot - c->rot) < 1e-9 && fabs(tscale - c->scale) < 1e-9);
    assert_true(err >= 0);
    assert_true(err < 1.0);
    assert_int_equal(r.status, SD_ALIGN_OK);
    assert_true(fabs(r.rotation_deg - c->rot) < 0.2);
    assert_true(fabs(r.scale - c->scale) < 0.003);
    *ncc = r.ncc;
    sd_synth_pair_release(&p);
    return err;
}

/* 24 random similarities over the whole range (fixed seed), the extreme
 * corners of the range included. */
static void test_random_transforms(void **state)
{
    (void)state;
    enum { N = 24 };
    sd_ctx *ctx = sd_ctx_new();
    double err[N], worst = 0, min_ncc = 1;
    for (int i = 0; i < N; i++) {
        synth_case c;
        memset(&c, 0, sizeof c);
        c.seed = 300 + (uint64_t)i;
        c.w = i % 4 == 3 ? 480 : 640;
        c.h = i % 4 == 3 ? 640 : 480;
        c.rot = urand(-10, 10);
        c.scale = urand(0.9, 1.1);
        c.tx = urand(-0.1, 0.1) * c.w;
        c.ty = urand(-0.1, 0.1) * c.w;
        c.ev = urand(-1, 1);
        c.noise = urand(0.002, 0.01);
        c.q_after = 75 + (int)urand(0, 21);
        c.q_before = i % 3 == 0 ? 0 : 75 + (int)urand(0, 21);
        if (i % 4 == 1)
            c.defocus_after = urand(0.5, 1.2);
        if (i % 8 == 6)
            c.defocus_before = urand(0.5, 1.2);
        c.session = i % 2;
        if (i == 0) /* one extreme corner */
            c.rot = 10, c.scale = 1.1, c.tx = 0.1 * c.w, c.ty = -0.1 * c.w, c.ev = 1;
        if (i == 1) /* the opposite one */
            c.rot = -10, c.scale = 0.9, c.tx = -0.1 * c.w, c.ty = 0.1 * c.w, c.ev = -1;
        double ncc;
        err[i] = run_case(ctx, i, &c, &ncc);
        worst = fmax(worst, err[i]);
        min_ncc = fmin(min_ncc, ncc);
    }
    print_message("generated skin, random transforms: %d pairs, error over ROI and overlap max "
                  "%.3f px, median %.3f px, lowest ncc %.3f\n",
                  N, worst, median(err, N), min_ncc);
    sd_ctx_free(ctx);
}

/* The session's changes do not move the estimate: the same captures of the
 * untreated and of a strongly treated skin align to the same map. */
static void test_session_changes(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    synth_case c;
    memset(&c, 0, sizeof c);
    c.seed = 4711;
    c.w = 640;
    c.h = 480;
    c.rot = 6.5, c.scale = 0.94, c.tx = -35, c.ty = 22, c.ev = -0.6, c.noise = 0.005;
    c.q_after = 85;
    double e[2], ncc[2];
    sd_align_result r[2];
    for (int k = 0; k < 2; k++) {
        sd_synth_skin skin;
        sd_synth_skin_defaults(&skin, c.seed, c.w, c.h);
        sd_synth_session ses;
        sd_synth_session_defaults(&ses);
        if (k) { /* stronger than treated(): most pores and redness gone */
            ses.pores_gone = 0.8;
            ses.pore_depth_scale = 0.5;
            ses.redness_scale = 0.2;
            ses.texture_scale = 0.6;
        }
        sd_synth_capture b, a;
        sd_synth_capture_defaults(&b, c.w, c.h);
        a = b;
        a.xf = sd_synth_similarity(c.rot, c.scale, c.tx, c.ty, (c.w - 1) / 2.0,
                                   (c.h - 1) / 2.0);
        a.ev = c.ev;
        a.noise = b.noise = c.noise;
        b.noise_seed = 1;
        a.noise_seed = 2;
        a.jpeg_quality = c.q_after;
        sd_synth_pair p;
        if (sd_synth_pair_render(ctx, &skin, &ses, &b, &a, &p) != SD_OK)
            fail_msg("%s", sd_ctx_message(ctx));
        align(ctx, p.before, p.after, SD_ALIGN_SIMILARITY, &r[k]);
        e[k] = sc_roi_overlap_error(&p.truth->xf, &r[k].xf, c.w, c.h, p.after->width,
                                    p.after->height);
        ncc[k] = r[k].ncc;
        assert_int_equal(r[k].status, SD_ALIGN_OK);
        assert_true(e[k] >= 0 && e[k] < 1.0);
        if (k) /* the truth knows the pores went */
            assert_true(sd_synth_truth_count_pores(p.truth, (sd_rect){0, 0, c.w, c.h}, 1) <
                        sd_synth_truth_count_pores(p.truth, (sd_rect){0, 0, c.w, c.h}, 0) / 2);
        sd_synth_pair_release(&p);
    }
    double moved = sc_roi_error(&r[0].xf, &r[1].xf, c.w, c.h);
    print_message("session changes: untreated err %.3f px (ncc %.3f), treated err %.3f px "
                  "(ncc %.3f); the two estimates differ by %.3f px\n",
                  e[0], ncc[0], e[1], ncc[1], moved);
    assert_true(moved < 0.5);
    sd_ctx_free(ctx);
}

/* One 2 MP pair at an extreme of the range. */
static void test_2mp(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_ctx_set_threads(ctx, 2);
    synth_case c;
    memset(&c, 0, sizeof c);
    c.seed = 2024;
    c.w = 1920;
    c.h = 1080;
    c.rot = -9.5, c.scale = 1.08, c.tx = 150, c.ty = -90, c.ev = 0.8, c.noise = 0.006;
    c.q_before = 92;
    c.q_after = 80;
    c.defocus_after = 1.0;
    c.session = 1;
    double ncc;
    double err = run_case(ctx, 0, &c, &ncc);
    print_message("generated skin 1920x1080: err %.3f px, ncc %.3f\n", err, ncc);
    sd_ctx_free(ctx);
}

/* Different skins (other seeds), with the usual camera changes, are failed
 * by every model; so are a face photograph against skin, both ways. */
static void test_unrelated(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    double worst = -1;
    for (int i = 0; i < 4; i++) {
        synth_case c;
        memset(&c, 0, sizeof c);
        c.w = 640;
        c.h = 480;
        c.rot = 3.0 * i - 4, c.scale = 1.0 + 0.02 * i, c.tx = 10.0 * i, c.ty = -7;
        c.ev = -0.5, c.noise = 0.004, c.q_after = 85;
        sd_synth_pair p1, p2;
        c.seed = 900 + 2 * (uint64_t)i;
        render(ctx, &c, &p1);
        c.seed = 901 + 2 * (uint64_t)i;
        c.session = i % 2;
        render(ctx, &c, &p2);
        for (int m = 0; m < 3; m++) {
            sd_align_model model = m == 0   ? SD_ALIGN_SIMILARITY
                                   : m == 1 ? SD_ALIGN_AFFINE
                                            : SD_ALIGN_NONE;
            sd_align_result r;
            align(ctx, p1.before, p2.after, model, &r);
            print_message("  skin seed %d vs seed %d (%s): ncc %.3f overlap %.2f -> %s\n",
                          900 + 2 * i, 901 + 2 * i, sd_align_model_name(model), r.ncc,
                          r.overlap_fraction, sd_align_status_name(r.status));
            assert_int_equal(r.status, SD_ALIGN_FAILED);
            worst = fmax(worst, r.ncc);
        }
        sd_synth_pair_release(&p1);
        sd_synth_pair_release(&p2);
    }
    /* a photograph against skin of about its size, both ways */
    char path[1024];
    SD_REQUIRE_DATA(path, "data/faces/face_recognition/obama.jpg");
    sd_image *photo = NULL;
    if (sd_image_load(ctx, path, NULL, &photo) != SD_OK)
        fail_msg("%s", sd_ctx_message(ctx));
    synth_case c;
    memset(&c, 0, sizeof c);
    c.seed = 77;
    c.w = photo->width;
    c.h = photo->height;
    c.scale = 1, c.noise = 0.004, c.q_after = 90;
    sd_synth_pair p;
    render(ctx, &c, &p);
    for (int k = 0; k < 2; k++)
        for (int m = 0; m < 2; m++) {
            sd_align_model model = m ? SD_ALIGN_AFFINE : SD_ALIGN_SIMILARITY;
            sd_align_result r;
            align(ctx, k ? p.after : photo, k ? photo : p.after, model, &r);
            print_message("  %s vs %s (%s): ncc %.3f overlap %.2f -> %s\n",
                          k ? "skin" : "photo", k ? "photo" : "skin", sd_align_model_name(model),
                          r.ncc, r.overlap_fraction, sd_align_status_name(r.status));
            assert_int_equal(r.status, SD_ALIGN_FAILED);
            worst = fmax(worst, r.ncc);
        }
    sd_synth_pair_release(&p);
    sd_image_free(photo);
    print_message("unrelated generated skin / photo vs skin: highest ncc %.3f\n", worst);
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_transforms),
        cmocka_unit_test(test_session_changes),
        cmocka_unit_test(test_2mp),
        cmocka_unit_test(test_unrelated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Alignment against known ground truth: AFTER photos rendered from a
 * continuous scene through a known transform (never resampled from
 * BEFORE), with exposure changes, a lighting gradient and noise; the
 * estimated map must agree with the true one within 1 px over the ROI.
 * Unrelated pairs must be refused; the transform helpers are checked
 * against hand-computed values. */
#include "sd_test.h"

#include <math.h>

#include "align_scene.h"
#include "skindelta/align.h"

static uint32_t rng_state = 20261122u;

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

/* Render BEFORE (identity shot) and AFTER (through truth) of one scene. */
static void render_pair(const scene *sc, const sd_xform *truth, double ev, double noise, int w,
                        int h, sd_image **b, sd_image **a)
{
    shot pb = {{{1, 0, 0, 0, 1, 0}}, 0, 0, noise, 17};
    shot pa = {{{1, 0, 0, 0, 1, 0}}, ev, 0.25, noise, 91};
    assert_true(sd_xform_invert(truth, &pa.to_scene));
    *b = sc_render(sc, &pb, w, h);
    *a = sc_render(sc, &pa, w, h);
    assert_non_null(*b);
    assert_non_null(*a);
}

static void align_pair(const sd_image *b, const sd_image *a, sd_align_model model,
                       sd_align_result *r)
{
    sd_ctx *ctx = sd_ctx_new();
    sd_align_opts o = {model};
    sd_status st = sd_pair_align(ctx, b, a, &o, r);
    if (st != SD_OK)
        fail_msg("sd_pair_align: %s", sd_ctx_message(ctx));
    sd_ctx_free(ctx);
}

/* >= 20 random similarities over the whole range, every one within 1 px. */
static void test_random_similarities(void **state)
{
    (void)state;
    enum { N = 24 };
    double err[N], worst = 0, min_ncc = 1;
    for (int i = 0; i < N; i++) {
        int w = i % 3 == 0 ? 480 : 640, h = i % 3 == 0 ? 640 : 480;
        double rot = urand(-10, 10), k = urand(0.9, 1.1);
        double dx = urand(-0.1, 0.1) * w, dy = urand(-0.1, 0.1) * w;
        double ev = urand(-1, 1), noise = urand(0.5, 3);
        /* the extremes of the range are part of the set */
        if (i == 0)
            rot = 10, k = 1.1, dx = 0.1 * w, dy = -0.1 * w, ev = 1;
        if (i == 1)
            rot = -10, k = 0.9, dx = -0.1 * w, dy = 0.1 * w, ev = -1;
        scene sc = {1000u + (uint32_t)i, 1.0, 0, 0};
        sd_xform truth = sc_similarity(rot, k, dx, dy, (w - 1) / 2.0, (h - 1) / 2.0);
        sd_image *b, *a;
        render_pair(&sc, &truth, ev, noise, w, h, &b, &a);
        sd_align_result r;
        align_pair(b, a, SD_ALIGN_SIMILARITY, &r);
        err[i] = sc_roi_error(&truth, &r.xf, w, h);
        print_message("  #%02d %dx%d rot %+6.2f scale %.3f shift %+6.1f %+6.1f ev %+.2f noise "
                      "%.1f -> err %.3f px, ncc %.3f, overlap %.2f, %s\n",
                      i, w, h, rot, k, dx, dy, ev, noise, err[i], r.ncc, r.overlap_fraction,
                      sd_align_status_name(r.status));
        assert_int_equal(r.model, SD_ALIGN_SIMILARITY);
        assert_true(err[i] < 1.0);
        assert_int_equal(r.status, SD_ALIGN_OK);
        assert_true(fabs(r.rotation_deg - rot) < 0.2);
        assert_true(fabs(r.scale - k) < 0.003);
        worst = fmax(worst, err[i]);
        min_ncc = fmin(min_ncc, r.ncc);
        sd_image_free(b);
        sd_image_free(a);
    }
    qsort(err, N, sizeof err[0], cmp_double);
    print_message("random similarities: %d pairs, ROI error max %.3f px, median %.3f px, "
                  "lowest ncc %.3f\n",
                  N, worst, 0.5 * (err[N / 2 - 1] + err[N / 2]), min_ncc);
}

/* Affine with a mild shear and anisotropic scale: the affine model gets it
 * within 1 px; the similarity model cannot, and says so by its error. */
static void test_affine_model(void **state)
{
    (void)state;
    const int w = 640, h = 480;
    double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
    /* A = R(4 deg) * [[1.04, 0.05], [0, 0.97]], centre moved by (12, -9) */
    double c = cos(4 * M_PI / 180), s = sin(4 * M_PI / 180);
    double A[4] = {c * 1.04, c * 0.05 - s * 0.97, s * 1.04, s * 0.05 + c * 0.97};
    sd_xform truth = {{A[0], A[1], 0, A[2], A[3], 0}};
    truth.m[2] = cx + 12 - (A[0] * cx + A[1] * cy);
    truth.m[5] = cy - 9 - (A[2] * cx + A[3] * cy);
    scene sc = {77u, 1.0, 0, 0};
    sd_image *b, *a;
    render_pair(&sc, &truth, -0.5, 1.5, w, h, &b, &a);
    sd_align_result r;
    align_pair(b, a, SD_ALIGN_AFFINE, &r);
    double e_aff = sc_roi_error(&truth, &r.xf, w, h);
    assert_int_equal(r.model, SD_ALIGN_AFFINE);
    assert_int_equal(r.status, SD_ALIGN_OK);
    sd_align_result rs;
    align_pair(b, a, SD_ALIGN_SIMILARITY, &rs);
    double e_sim = sc_roi_error(&truth, &rs.xf, w, h);
    print_message("affine shear: affine model err %.3f px (ncc %.3f), similarity err %.3f px "
                  "(ncc %.3f)\n",
                  e_aff, r.ncc, e_sim, rs.ncc);
    assert_true(e_aff < 1.0);
    assert_true(e_sim > 3.0); /* a similarity cannot express the shear */
    assert_true(r.ncc > rs.ncc);
    sd_image_free(b);
    sd_image_free(a);
}

/* --align none: identity, with overlap and NCC still measured. */
static void test_none_model(void **state)
{
    (void)state;
    const int w = 400, h = 300;
    scene sc = {5u, 1.0, 0, 0};
    sd_xform id = {{1, 0, 0, 0, 1, 0}};
    sd_image *b, *a;
    render_pair(&sc, &id, 0.7, 1.0, w, h, &b, &a);
    sd_align_result r;
    align_pair(b, a, SD_ALIGN_NONE, &r);
    assert_int_equal(r.model, SD_ALIGN_NONE);
    for (int i = 0; i < 6; i++)
        assert_true(r.xf.m[i] == id.m[i]);
    assert_true(fabs(r.overlap_fraction - 1.0) < 1e-12);
    assert_int_equal(r.status, SD_ALIGN_OK);
    double ncc_same = r.ncc;
    sd_image_free(b);
    sd_image_free(a);
    /* the camera moved 6 degrees: identity is wrong and NCC shows it */
    sd_xform moved = sc_similarity(6, 1.0, 30, 0, (w - 1) / 2.0, (h - 1) / 2.0);
    render_pair(&sc, &moved, 0.0, 1.0, w, h, &b, &a);
    align_pair(b, a, SD_ALIGN_NONE, &r);
    print_message("--align none: same view ncc %.3f; moved view ncc %.3f (%s)\n", ncc_same,
                  r.ncc, sd_align_status_name(r.status));
    assert_int_equal(r.status, SD_ALIGN_FAILED);
    sd_image_free(b);
    sd_image_free(a);
}

/* Unrelated pairs are refused: another scene, flat, white noise, an
 * overlap far below 30 %; so are related pairs whose motion is outside the
 * recoverable range (25 degrees, scale 0.7). */
static void test_unrelated_refused(void **state)
{
    (void)state;
    const int w = 640, h = 480;
    sd_xform id = {{1, 0, 0, 0, 1, 0}};
    shot p0 = {id, 0, 0, 1.0, 3};
    shot p1 = {id, 0.3, 0.1, 1.0, 4};
    struct {
        const char *what;
        scene b, a;
        sd_xform a_to_scene;
    } cases[] = {
        {"different scene (seed)", {11u, 1, 0, 0}, {12u, 1, 0, 0}, id},
        {"different scene (seed, coarser)", {21u, 1, 0, 0}, {22u, 1.6, 0, 0}, id},
        {"flat after", {31u, 1, 0, 0}, {31u, 1, 1, 0}, id},
        {"white-noise after", {41u, 1, 0, 0}, {42u, 1, 0, 1}, id},
        {"both white noise", {51u, 1, 0, 1}, {52u, 1, 0, 1}, id},
        /* the same scene, but AFTER shows it moved by 75 % of the width */
        {"overlap 25 %", {61u, 1, 0, 0}, {61u, 1, 0, 0}, {{1, 0, 0.75 * w, 0, 1, 0}}},
        /* the same scene turned by 25 degrees: outside the recoverable range */
        {"rotated 25 deg", {71u, 1, 0, 0}, {71u, 1, 0, 0},
         {{0.906308, -0.422618, 131.3, 0.422618, 0.906308, -112.6}}},
        /* the same scene at 0.7x: outside the recoverable range */
        {"scaled 0.7", {81u, 1, 0, 0}, {81u, 1, 0, 0}, {{1 / 0.7, 0, -137, 0, 1 / 0.7, -103}}},
    };
    double worst = -1;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shot pa = p1;
        pa.to_scene = cases[i].a_to_scene;
        sd_image *b = sc_render(&cases[i].b, &p0, w, h);
        sd_image *a = sc_render(&cases[i].a, &pa, w, h);
        assert_non_null(b);
        assert_non_null(a);
        for (int m = 0; m < 2; m++) {
            sd_align_result r;
            align_pair(b, a, m ? SD_ALIGN_AFFINE : SD_ALIGN_SIMILARITY, &r);
            print_message("  unrelated %-32s %-10s ncc %.3f overlap %.2f -> %s\n",
                          cases[i].what, m ? "affine" : "similarity", r.ncc,
                          r.overlap_fraction, sd_align_status_name(r.status));
            assert_int_equal(r.status, SD_ALIGN_FAILED);
            if (i < 6) /* the last two are related but out of range */
                worst = fmax(worst, r.ncc);
        }
        sd_image_free(b);
        sd_image_free(a);
    }
    print_message("unrelated pairs: highest ncc %.3f\n", worst);
}

static void test_too_small(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    int sizes[][2] = {{8, 8}, {1, 1}, {31, 500}, {500, 31}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        sd_image *small = NULL, *big = NULL;
        assert_int_equal(sd_image_new(ctx, sizes[i][0], sizes[i][1], 0, &small), SD_OK);
        assert_int_equal(sd_image_new(ctx, 200, 200, 0, &big), SD_OK);
        sd_align_result r;
        assert_int_equal(sd_pair_align(ctx, small, big, NULL, &r), SD_ERR_TOO_SMALL);
        assert_non_null(strstr(sd_ctx_message(ctx), "before"));
        assert_int_equal(sd_pair_align(ctx, big, small, NULL, &r), SD_ERR_TOO_SMALL);
        assert_non_null(strstr(sd_ctx_message(ctx), "after"));
        assert_int_equal(sd_pair_align(ctx, small, small, NULL, &r), SD_ERR_TOO_SMALL);
        sd_image_free(small);
        sd_image_free(big);
    }
    /* the smallest accepted size runs, and two flat images are failed */
    sd_image *a = NULL, *b = NULL;
    assert_int_equal(sd_image_new(ctx, 32, 32, 0, &a), SD_OK);
    assert_int_equal(sd_image_new(ctx, 32, 32, 0, &b), SD_OK);
    sd_align_result r;
    assert_int_equal(sd_pair_align(ctx, a, b, NULL, &r), SD_OK);
    assert_int_equal(r.status, SD_ALIGN_FAILED);
    sd_image_free(a);
    sd_image_free(b);
    sd_ctx_free(ctx);
}

static void test_xform_helpers(void **state)
{
    (void)state;
    /* invert by hand: x' = 2x + 3, y' = 4y + 5  ->  x = x'/2 - 1.5, y = y'/4 - 1.25 */
    sd_xform f = {{2, 0, 3, 0, 4, 5}}, inv;
    assert_true(sd_xform_invert(&f, &inv));
    const double want[6] = {0.5, 0, -1.5, 0, 0.25, -1.25};
    for (int i = 0; i < 6; i++)
        assert_true(fabs(inv.m[i] - want[i]) < 1e-15);
    /* [[1, 2], [3, 4]] (det -2): inverse [[-2, 1], [1.5, -0.5]], t = -A^-1 (1, 1) */
    sd_xform g = {{1, 2, 1, 3, 4, 1}};
    assert_true(sd_xform_invert(&g, &inv));
    const double want2[6] = {-2, 1, 1, 1.5, -0.5, -1};
    for (int i = 0; i < 6; i++)
        assert_true(fabs(inv.m[i] - want2[i]) < 1e-12);
    double x, y;
    sd_xform_apply(&g, 2, -1, &x, &y);
    assert_true(x == 1 && y == 3); /* 2 - 2 + 1, 6 - 4 + 1 */
    /* singular maps */
    sd_xform s1 = {{1, 2, 0, 2, 4, 0}}, s0 = {{0, 0, 5, 0, 0, 5}};
    assert_false(sd_xform_invert(&s1, &inv));
    assert_false(sd_xform_invert(&s0, &inv));
    /* decompose: 2 * R(30 deg) */
    double rot, k;
    sd_xform r30 = {{sqrt(3), -1, 7, 1, sqrt(3), -2}};
    sd_xform_decompose(&r30, &rot, &k);
    assert_true(fabs(rot - 30) < 1e-12 && fabs(k - 2) < 1e-12);
    sd_xform rm90 = {{0, 0.5, 0, -0.5, 0, 0}};
    sd_xform_decompose(&rm90, &rot, &k);
    assert_true(fabs(rot + 90) < 1e-12 && fabs(k - 0.5) < 1e-12);
    /* anisotropic: scale is sqrt(det) = sqrt(2 * 0.5) */
    sd_xform an = {{2, 0, 0, 0, 0.5, 0}};
    sd_xform_decompose(&an, &rot, &k);
    assert_true(fabs(rot) < 1e-12 && fabs(k - 1) < 1e-12);
    assert_string_equal(sd_align_model_name(SD_ALIGN_SIMILARITY), "similarity");
    assert_string_equal(sd_align_model_name(SD_ALIGN_AFFINE), "affine");
    assert_string_equal(sd_align_model_name(SD_ALIGN_NONE), "none");
    assert_string_equal(sd_align_status_name(SD_ALIGN_OK), "ok");
    assert_string_equal(sd_align_status_name(SD_ALIGN_POOR), "poor");
    assert_string_equal(sd_align_status_name(SD_ALIGN_FAILED), "failed");
}

/* Bilinear warp is exact on a linear ramp (up to rounding), and outside
 * pixels are black. */
static void test_warp(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_image *src = NULL, *dst = NULL;
    const int w = 120, h = 90;
    assert_int_equal(sd_image_new(ctx, w, h, 0, &src), SD_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                src->px[(size_t)y * src->stride + 3 * x + c] =
                    (uint16_t)(1000 + 200 * x + 300 * y + 7 * c);
    sd_xform xf = sc_similarity(7, 0.95, 3.25, -2.5, 59.5, 44.5);
    assert_int_equal(sd_image_warp(ctx, src, &xf, w, h, &dst), SD_OK);
    int inside = 0, outside = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double fx, fy;
            sd_xform_apply(&xf, x, y, &fx, &fy);
            const uint16_t *p = dst->px + (size_t)y * dst->stride + 3 * x;
            if (fx >= 0 && fx <= w - 1 && fy >= 0 && fy <= h - 1) {
                for (int c = 0; c < 3; c++)
                    assert_true(fabs(p[c] - (1000 + 200 * fx + 300 * fy + 7 * c)) <= 0.5 + 1e-6);
                inside++;
            } else if (fx < -0.5 || fx > w - 0.5 || fy < -0.5 || fy > h - 0.5) {
                assert_true(p[0] == 0 && p[1] == 0 && p[2] == 0);
                outside++;
            }
        }
    assert_true(inside > w * h / 2 && outside > 100);
    sd_image_free(dst);
    sd_xform bad = {{1, 0, 0, 0, 1, 0}};
    assert_int_equal(sd_image_warp(ctx, src, &bad, 0, 10, &dst), SD_ERR_ARG);
    assert_null(dst);
    sd_image_free(src);
    sd_ctx_free(ctx);
}

/* The result does not depend on the thread count (the search grid and the
 * base level's rows are shared among threads): bit for bit the same map,
 * NCC and overlap for 1, 2, 3 and 7 threads, at a size where only the
 * search is threaded and at one where the base level is too. */
static void test_threads_equal(void **state)
{
    (void)state;
    const int sizes[2][2] = {{640, 480}, {1280, 960}};
    for (int k = 0; k < 2; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        scene sc = {31337u + (uint32_t)k, w / 640.0, 0, 0};
        sd_xform truth = sc_similarity(-6.5, 1.05, 0.05 * w, 0.03 * w, (w - 1) / 2.0,
                                       (h - 1) / 2.0);
        sd_image *b, *a;
        render_pair(&sc, &truth, 0.4, 1.0, w, h, &b, &a);
        sd_align_result r1;
        for (int m = 0; m < 2; m++) {
            sd_align_opts o = {m ? SD_ALIGN_AFFINE : SD_ALIGN_SIMILARITY};
            const int threads[4] = {1, 2, 3, 7};
            for (int t = 0; t < 4; t++) {
                sd_ctx *ctx = sd_ctx_new();
                sd_ctx_set_threads(ctx, threads[t]);
                sd_align_result r;
                assert_int_equal(sd_pair_align(ctx, b, a, &o, &r), SD_OK);
                assert_int_equal(r.status, SD_ALIGN_OK);
                assert_true(sc_roi_error(&truth, &r.xf, w, h) < 1.0);
                if (t == 0)
                    r1 = r;
                else {
                    for (int i = 0; i < 6; i++)
                        assert_true(r.xf.m[i] == r1.xf.m[i]);
                    assert_true(r.ncc == r1.ncc && r.overlap_fraction == r1.overlap_fraction);
                    assert_true(r.rotation_deg == r1.rotation_deg && r.scale == r1.scale);
                    assert_int_equal(r.status, r1.status);
                }
                sd_ctx_free(ctx);
            }
        }
        print_message("%dx%d: identical results with 1, 2, 3 and 7 threads\n", w, h);
        sd_image_free(b);
        sd_image_free(a);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xform_helpers),
        cmocka_unit_test(test_warp),
        cmocka_unit_test(test_too_small),
        cmocka_unit_test(test_random_similarities),
        cmocka_unit_test(test_affine_model),
        cmocka_unit_test(test_none_model),
        cmocka_unit_test(test_unrelated_refused),
        cmocka_unit_test(test_threads_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

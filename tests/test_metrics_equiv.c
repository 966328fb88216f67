/* The metric stage's fused strip pass against independent full-frame
 * references, and against itself across SIMD levels and thread counts.
 *
 *  - full-frame reference (sd_gauss_blur on whole planes, textbook sums in
 *    double, exact medians by selection over every value): ra, rq within
 *    and the mean Lambda 1e-12 relative (only the summation order
 *    differs); T_pore bit for bit against the selection over the stage's
 *    own D values (exact medians), and against D from the exact G_p
 *    within 2 k 1.4826 max|D - D_exact| (a median moves by at most the
 *    largest change of the values, the MAD by twice that; G_p takes the
 *    semigroup path, docs/metrics.md "Pores: G_p", tests/test_pore_filter.c).
 *  - thread counts 1, 2, 3 at one SIMD level: every metric and threshold
 *    bit-identical (per-strip sums merged in strip order).
 *  - each SIMD level against scalar -j 1 (docs/metrics.md "Speed"):
 *    ra, rq, sharpness, focus_measure, T_pore relative 1e-5 (fused vs unfused blur taps,
 *    a few float ulp); mean_a, erythema_index, T_red absolute 1e-4 (vector
 *    cube root and ln); clipped/crushed fractions exact; asymmetry and
 *    mean Lambda absolute 1e-6; red_area_fraction within 2
 *    pixels of n and pore_count within +-1 (a pixel whose a* or D lies
 *    within the kernels' error of its threshold can flip), pore area
 *    fraction within 20 pixels of n.
 *  - the phases (begin both, thresholds, finish both; or AFTER begun with
 *    the thresholds fixed) equal sd_image_measure.
 *  - the whole compare (BEFORE and AFTER measured at the same time) at
 *    -j 1, 2, 3: metrics and thresholds bit-identical.
 */
#include "sd_test.h"

#include <float.h>
#include <math.h>
#include <unistd.h>

#include "kernels/kernels_internal.h"
#include "metrics/measure_internal.h"
#include "metrics/metrics_internal.h"
#include "skindelta/compare.h"
#include "skindelta/io.h"
#include "skindelta/kernels.h"
#include "skindelta/metrics.h"
#include "skindelta/synth.h"

typedef struct pair_fixture {
    sd_ctx *ctx;
    sd_synth_pair pair;
    sd_roi roi;
    sd_xform xf;
    double scale;
} pair_fixture;

static pair_fixture fx;

static int setup(void **state)
{
    (void)state;
    fx.ctx = sd_ctx_new();
    sd_synth_skin skin;
    sd_synth_session ses;
    sd_synth_capture cb, ca;
    const int w = 420, h = 330;
    sd_synth_skin_defaults(&skin, 7, w, h);
    sd_synth_session_defaults(&ses);
    ses.pores_gone = 0.3;
    ses.redness_scale = 0.7;
    sd_synth_capture_defaults(&cb, w, h);
    sd_synth_capture_defaults(&ca, w, h);
    cb.noise = ca.noise = 0.004;
    cb.noise_seed = 3;
    ca.noise_seed = 4;
    ca.ev = -0.4;
    fx.xf = ca.xf = sd_synth_similarity(2.0, 1.03, 6, -4, w / 2.0, h / 2.0);
    fx.scale = sd_xform_scale(&fx.xf);
    if (sd_synth_pair_render(fx.ctx, &skin, &ses, &cb, &ca, &fx.pair) != SD_OK)
        return -1;
    /* a few clipped and crushed pixels */
    sd_image *b = fx.pair.before;
    for (int i = 0; i < 60; i++) {
        uint16_t *p = b->px + (size_t)(40 + i) * b->stride + 3 * (size_t)(50 + 2 * i);
        p[0] = p[1] = p[2] = (uint16_t)(i % 2 ? 65535 : 0);
    }
    sd_roi_opts ro = {.border = sd_metric_border(&(sd_metric_params){0})};
    sd_metric_params p;
    sd_metric_params_default(&p);
    ro.border = sd_metric_border(&p);
    if (sd_roi_build(fx.ctx, fx.pair.before, fx.pair.after, &fx.xf, &ro, &fx.roi) != SD_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sd_roi_release(&fx.roi);
    sd_synth_pair_release(&fx.pair);
    sd_ctx_free(fx.ctx);
    return 0;
}

/* sd_metrics is compared with memcmp: it must have no padding */
_Static_assert(sizeof(sd_metrics) == 17 * sizeof(double), "sd_metrics has padding");

/* field by field: the struct has padding after `set` */
static void assert_same_thresholds(const sd_thresholds *a, const sd_thresholds *b)
{
    assert_int_equal(a->set, b->set);
    assert_true(a->t_red == b->t_red);
    assert_true(a->t_pore == b->t_pore);
}

static const double gains_after[3] = {1.3, 1.3, 1.3};

static void measure_pair(sd_metric_params *p, sd_thresholds *thr, sd_metrics *mb,
                         sd_metrics *ma)
{
    thr->set = 0;
    assert_int_equal(sd_image_measure(fx.ctx, fx.pair.before, fx.roi.before, 1.0, NULL, p, thr,
                                      mb),
                     SD_OK);
    assert_int_equal(sd_image_measure(fx.ctx, fx.pair.after, fx.roi.after, fx.scale,
                                      gains_after, p, thr, ma),
                     SD_OK);
}

static void expect_close(const char *what, sd_simd_level lv, const sd_metrics *x,
                         const sd_metrics *r)
{
    const double n = (double)r->pixels;
#define REL(f, tol)                                                                        \
    if (fabs(x->f - r->f) > (tol) * fabs(r->f) + 1e-300)                                   \
        fail_msg("%s %s: " #f " %.12g vs scalar %.12g", what, sd_simd_name(lv), x->f, r->f);
#define ABS(f, tol)                                                                        \
    if (fabs(x->f - r->f) > (tol))                                                         \
        fail_msg("%s %s: " #f " %.12g vs scalar %.12g", what, sd_simd_name(lv), x->f, r->f);
    assert_int_equal(x->pixels, r->pixels);
    REL(ra, 1e-5);
    REL(rq, 1e-5);
    REL(sharpness, 1e-5);
    REL(focus_measure, 1e-5);
    ABS(mean_a, 1e-4);
    ABS(erythema_index, 1e-4);
    ABS(mean_lambda, 1e-6);
    ABS(clipped_fraction, 0);
    ABS(crushed_fraction, 0);
    ABS(asymmetry, 1e-6);
    ABS(red_area_fraction, 2.0 / n);
    ABS(pore_count, 1);
    ABS(pore_area_fraction, 20.0 / n);
#undef REL
#undef ABS
}

/* every level x threads 1..3 against scalar -j 1 */
static void test_levels_and_threads(void **state)
{
    (void)state;
    const sd_simd_level saved = sd_simd_active();
    sd_metric_params p;
    sd_metric_params_default(&p);
    sd_thresholds tr;
    sd_metrics rb, ra;
    sd_simd_set(SD_SIMD_SCALAR);
    sd_ctx_set_threads(fx.ctx, 1);
    measure_pair(&p, &tr, &rb, &ra);
    print_message("scalar: ra %.5f/%.5f pores %g/%g red %.4f/%.4f t_pore %.5f t_red %.4f\n",
                  rb.ra, ra.ra, rb.pore_count, ra.pore_count, rb.red_area_fraction,
                  ra.red_area_fraction, tr.t_pore, tr.t_red);
    assert_true(rb.pore_count > 5 && ra.red_area_fraction < rb.red_area_fraction);
    for (int lv = SD_SIMD_SCALAR; lv <= (int)sd_simd_detect(); lv++) {
        sd_simd_set((sd_simd_level)lv);
        sd_thresholds t1;
        sd_metrics b1, a1;
        for (int nt = 1; nt <= 3; nt++) {
            sd_thresholds t;
            sd_metrics b, a;
            sd_ctx_set_threads(fx.ctx, nt);
            measure_pair(&p, &t, &b, &a);
            if (nt == 1) {
                t1 = t;
                b1 = b;
                a1 = a;
            } else {
                /* bit-identical whatever the thread count */
                assert_same_thresholds(&t, &t1);
                assert_memory_equal(&b, &b1, sizeof b);
                assert_memory_equal(&a, &a1, sizeof a);
            }
        }
        expect_close("before", (sd_simd_level)lv, &b1, &rb);
        expect_close("after", (sd_simd_level)lv, &a1, &ra);
        if (fabs(t1.t_pore - tr.t_pore) > 1e-5 * tr.t_pore || fabs(t1.t_red - tr.t_red) > 1e-4)
            fail_msg("%s: thresholds %.9g %.9g vs %.9g %.9g", sd_simd_name(lv), t1.t_pore,
                     t1.t_red, tr.t_pore, tr.t_red);
        if (lv == SD_SIMD_SCALAR || lv == SD_SIMD_SSE2) {
            /* SSE2 has the scalar colour and an unfused blur: identical */
            assert_memory_equal(&b1, &rb, sizeof rb);
            assert_memory_equal(&a1, &ra, sizeof ra);
        }
    }
    sd_simd_set(saved);
    sd_ctx_set_threads(fx.ctx, 1);
}

/* The whole image (no mask) against full-frame planes built with the
 * public blur and exact selection over every measured value. */
static void test_full_frame_reference(void **state)
{
    (void)state;
    const sd_image *img = fx.pair.before;
    const int w = img->width, h = img->height;
    sd_metric_params p;
    sd_metric_params_default(&p);
    const int border = sd_metric_border(&p);
    for (int nt = 1; nt <= 2; nt++) {
        sd_ctx_set_threads(fx.ctx, nt);
        sd_thresholds thr = {0};
        sd_metrics m;
        assert_int_equal(sd_image_measure(fx.ctx, img, NULL, 1.0, NULL, &p, &thr, &m), SD_OK);
        sd_measure *ms = NULL;
        assert_int_equal(sd_measure_begin(fx.ctx, img, NULL, NULL, 1.0, NULL, &p, NULL, &ms), SD_OK);
        int ox, oy;
        const sd_plane *dm = sd_measure_d(ms, &ox, &oy);
        assert_true(dm && ox == 0 && oy == 0);
        float *dd = malloc(sizeof(float) * (size_t)w * h);
        assert_non_null(dd);
        double dmax = 0;
        sd_plane lam, gt, gs, gp;
        assert_int_equal(sd_plane_init(fx.ctx, &lam, w, h), SD_OK);
        assert_int_equal(sd_plane_init(fx.ctx, &gt, w, h), SD_OK);
        assert_int_equal(sd_plane_init(fx.ctx, &gs, w, h), SD_OK);
        assert_int_equal(sd_plane_init(fx.ctx, &gp, w, h), SD_OK);
        float *tmp = malloc(sizeof(float) * 4 * (size_t)w);
        float *dv = malloc(sizeof(float) * (size_t)w * h);
        float *av = malloc(sizeof(float) * (size_t)w * h); /* a* of every pixel */
        assert_true(tmp && dv && av);
        const float g1[3] = {1, 1, 1};
        for (int y = 0; y < h; y++) {
            sd_dsp_active()->row_colour(img->px + (size_t)y * img->stride, w, g1,
                                        sd_plane_row(&lam, y), tmp, tmp + w, tmp + 2 * w);
            memcpy(av + (size_t)y * w, tmp, sizeof(float) * (size_t)w);
        }
        assert_int_equal(sd_gauss_blur(fx.ctx, &lam, &gt, p.sigma_t), SD_OK);
        assert_int_equal(sd_gauss_blur(fx.ctx, &lam, &gs, p.sigma_s), SD_OK);
        assert_int_equal(sd_gauss_blur(fx.ctx, &lam, &gp, p.sigma_p), SD_OK);
        double s1 = 0, s2 = 0, sl = 0;
        size_t n = 0;
        for (int y = border; y < h - border; y++)
            for (int x = border; x < w - border; x++) {
                const uint16_t *px = img->px + (size_t)y * img->stride + 3 * (size_t)x;
                if (sd_px_clipped(px))
                    continue;
                double hv = (double)sd_plane_row(&lam, y)[x] - sd_plane_row(&gt, y)[x];
                s1 += fabs(hv);
                s2 += hv * hv;
                sl += sd_plane_row(&lam, y)[x];
                av[n] = av[(size_t)y * w + x]; /* n <= y w + x: read before overwritten */
                dv[n] = sd_plane_row(&gp, y)[x] - sd_plane_row(&gs, y)[x];
                dd[n] = sd_plane_row(dm, y)[x];
                dmax = fmax(dmax, fabs((double)dd[n] - dv[n]));
                n++;
            }
        assert_int_equal(m.pixels, n);
        const double ra_ref = 100 * s1 / (double)n, rq_ref = 100 * sqrt(s2 / (double)n);
        if (fabs(m.ra - ra_ref) > 1e-12 * ra_ref || fabs(m.rq - rq_ref) > 1e-12 * rq_ref)
            fail_msg("ra %.15g vs %.15g, rq %.15g vs %.15g", m.ra, ra_ref, m.rq, rq_ref);
        const double ml = sl / (double)n;
        if (fabs(m.mean_lambda - ml) > 1e-12 * fabs(ml))
            fail_msg("mean Lambda %.15g vs %.15g", m.mean_lambda, ml);
        double tp[2];
        for (int k = 0; k < 2; k++) {
            float *v = k ? dv : dd;
            const double med = sd_select_median(v, n);
            for (size_t i = 0; i < n; i++)
                v[i] = (float)fabs((double)v[i] - med);
            tp[k] = fmax(p.pore_floor, p.pore_k * 1.4826 * sd_select_median(v, n));
        }
        const double tol = 2 * p.pore_k * 1.4826 * dmax;
        print_message("full frame -j%d: t_pore %.9g vs reference %.9g (own D), %.9g (exact "
                      "G_p: max |D - D_exact| %.3g, allowed %.3g)\n",
                      nt, thr.t_pore, tp[0], tp[1], dmax, tol);
        assert_true(thr.t_pore == tp[0]);
        assert_true(fabs(thr.t_pore - tp[1]) <= tol);
        /* T_red: the exact median of every measured a* + red_delta, and
         * the red fraction a* > T_red, counted here */
        const double t_red = sd_select_median(av, n) + p.red_delta;
        size_t red = 0;
        for (size_t i = 0; i < n; i++)
            red += (double)av[i] > t_red;
        assert_true(thr.t_red == t_red);
        assert_true(m.red_area_fraction == (double)red / (double)n);
        /* finish without sd_measure_thresholds (its own colour pass for the
         * a* histogram): the same numbers */
        sd_metrics m2;
        assert_int_equal(sd_measure_finish(fx.ctx, ms, &thr, &m2), SD_OK);
        assert_memory_equal(&m2, &m, sizeof m);
        sd_measure_free(ms);
        free(av);
        free(dd);
        sd_plane_release(&lam);
        sd_plane_release(&gt);
        sd_plane_release(&gs);
        sd_plane_release(&gp);
        free(tmp);
        free(dv);
    }
    sd_ctx_set_threads(fx.ctx, 1);
}

/* begin BEFORE and AFTER, thresholds from BEFORE, finish both: the same
 * numbers as two sd_image_measure calls */
static void test_phases_equal_measure(void **state)
{
    (void)state;
    sd_metric_params p;
    sd_metric_params_default(&p);
    sd_thresholds tr;
    sd_metrics rb, ra, b, a;
    measure_pair(&p, &tr, &rb, &ra);
    sd_measure *mb = NULL, *ma = NULL;
    assert_int_equal(
        sd_measure_begin(fx.ctx, fx.pair.before, fx.roi.before, fx.roi.rows_before, 1.0, NULL, &p, NULL, &mb), SD_OK);
    assert_int_equal(sd_measure_begin(fx.ctx, fx.pair.after, fx.roi.after, fx.roi.rows_after, fx.scale, gains_after,
                                      &p, NULL, &ma),
                     SD_OK);
    sd_thresholds t = {0};
    assert_int_equal(sd_measure_thresholds(fx.ctx, mb, &t), SD_OK);
    assert_int_equal(sd_measure_finish(fx.ctx, mb, &t, &b), SD_OK);
    assert_int_equal(sd_measure_finish(fx.ctx, ma, &t, &a), SD_OK);
    /* finishing twice gives the same (the pore search only reads the flags) */
    sd_metrics a2;
    assert_int_equal(sd_measure_finish(fx.ctx, ma, &t, &a2), SD_OK);
    /* BEFORE's thresholds are fixed now: other ones are refused */
    sd_thresholds other = t;
    other.t_pore *= 2;
    sd_metrics junk;
    assert_int_equal(sd_measure_finish(fx.ctx, mb, &other, &junk), SD_ERR_ARG);
    assert_int_equal(sd_measure_thresholds(fx.ctx, mb, &other), SD_ERR_ARG);
    assert_int_equal(sd_measure_finish(fx.ctx, mb, &t, &b), SD_OK);
    sd_measure_free(mb);
    sd_measure_free(ma);
    /* AFTER begun with the thresholds fixed: red count and pore candidates
     * in the fused pass, no D plane */
    sd_metrics a3;
    assert_int_equal(sd_measure_begin(fx.ctx, fx.pair.after, fx.roi.after, fx.roi.rows_after, fx.scale, gains_after,
                                      &p, &t, &ma),
                     SD_OK);
    assert_int_equal(sd_measure_finish(fx.ctx, ma, &t, &a3), SD_OK);
    assert_int_equal(sd_measure_finish(fx.ctx, ma, &other, &junk), SD_ERR_ARG);
    sd_measure_free(ma);
    assert_same_thresholds(&t, &tr);
    assert_memory_equal(&b, &rb, sizeof b);
    assert_memory_equal(&a, &ra, sizeof a);
    assert_memory_equal(&a2, &ra, sizeof a);
    assert_memory_equal(&a3, &ra, sizeof a);
}

/* The a* median predicted from every 16th row (rows 8, 24, ...) misses
 * when those rows are redder than the rest: T_red and the red fraction are
 * still the exact ones, through the a* histogram and a colour pass. */
static void test_prediction_missed(void **state)
{
    (void)state;
    const int w = 200, h = 160;
    sd_image *img = NULL;
    assert_int_equal(sd_image_new(fx.ctx, w, h, 0, &img), SD_OK);
    uint32_t r = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            r = r * 1103515245u + 12345u;
            const int red = y % 16 == 8;
            uint16_t *px = img->px + (size_t)y * img->stride + 3 * (size_t)x;
            px[0] = (uint16_t)((red ? 52000 : 40000) + (r >> 20));
            px[1] = (uint16_t)((red ? 26000 : 33000) + (r >> 21));
            px[2] = (uint16_t)(30000 + (r >> 22));
        }
    sd_metric_params p;
    sd_metric_params_default(&p);
    const int border = sd_metric_border(&p);
    for (int nt = 1; nt <= 2; nt++) {
        sd_ctx_set_threads(fx.ctx, nt);
        sd_thresholds thr = {0};
        sd_metrics m;
        assert_int_equal(sd_image_measure(fx.ctx, img, NULL, 1.0, NULL, &p, &thr, &m), SD_OK);
        float *av = malloc(sizeof(float) * (size_t)w * h), *tmp = malloc(sizeof(float) * 4 * w);
        assert_true(av && tmp);
        const float g1[3] = {1, 1, 1};
        size_t n = 0;
        for (int y = border; y < h - border; y++) {
            sd_dsp_active()->row_colour(img->px + (size_t)y * img->stride, w, g1, NULL, tmp,
                                        NULL, tmp + w);
            for (int x = border; x < w - border; x++)
                av[n++] = tmp[x];
        }
        assert_int_equal(m.pixels, n);
        const double t_red = sd_select_median(av, n) + p.red_delta;
        size_t red = 0;
        for (size_t i = 0; i < n; i++)
            red += (double)av[i] > t_red;
        assert_true(thr.t_red == t_red);
        assert_true(m.red_area_fraction == (double)red / (double)n);
        assert_true(red > 0);
        free(av);
        free(tmp);
    }
    sd_ctx_set_threads(fx.ctx, 1);
    sd_image_free(img);
}

static void test_compare_threads(void **state)
{
    (void)state;
    char dir[] = "/tmp/sd_equiv_XXXXXX", pb[64], pa[64];
    assert_non_null(mkdtemp(dir));
    snprintf(pb, sizeof pb, "%s/before.png", dir);
    snprintf(pa, sizeof pa, "%s/after.png", dir);
    assert_int_equal(sd_image_save_png(fx.ctx, fx.pair.before, pb, 16), SD_OK);
    assert_int_equal(sd_image_save_png(fx.ctx, fx.pair.after, pa, 16), SD_OK);
    sd_compare_result r[3];
    for (int nt = 1; nt <= 3; nt++) {
        sd_compare_params p;
        sd_compare_params_default(&p);
        p.threads = nt;
        sd_ctx_set_threads(fx.ctx, nt);
        assert_int_equal(sd_pair_compare(fx.ctx, pb, pa, &p, &r[nt - 1]), SD_OK);
        assert_memory_equal(&r[nt - 1].m_before, &r[0].m_before, sizeof r[0].m_before);
        assert_memory_equal(&r[nt - 1].m_after, &r[0].m_after, sizeof r[0].m_after);
        assert_same_thresholds(&r[nt - 1].thresholds, &r[0].thresholds);
    }
    print_message("compare: pores %g -> %g, red %.4f -> %.4f\n", r[0].m_before.pore_count,
                  r[0].m_after.pore_count, r[0].m_before.red_area_fraction,
                  r[0].m_after.red_area_fraction);
    assert_true(r[0].m_after.pore_count < r[0].m_before.pore_count);
    sd_ctx_set_threads(fx.ctx, 1);
    remove(pb);
    remove(pa);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_frame_reference),
        cmocka_unit_test(test_levels_and_threads),
        cmocka_unit_test(test_phases_equal_measure),
        cmocka_unit_test(test_prediction_missed),
        cmocka_unit_test(test_compare_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

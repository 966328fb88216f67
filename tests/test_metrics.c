/* The version-1 metrics against analytic ground truth: sinusoidal texture
 * (Gaussian high-pass attenuation), textbook CIELAB a* and erythema index of
 * a uniform colour, red patches of known area, Gaussian dark blobs of known
 * number and thresholded area, wrinkles rejected by elongation, clipped
 * pixels excluded, thresholds carried from BEFORE to AFTER, and the same
 * skin rendered at scale 1 and 1.1 reading the same. */
#include "sd_test.h"

#include <math.h>

#include "skindelta/kernels.h"
#include "skindelta/metrics.h"
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

static sd_metric_params defaults(void)
{
    sd_metric_params p;
    sd_metric_params_default(&p);
    return p;
}

static void measure(const sd_image *img, const uint8_t *mask, double scale,
                    const sd_metric_params *p, sd_thresholds *thr, sd_metrics *m)
{
    sd_status s = sd_image_measure(ctx, img, mask, scale, NULL, p, thr, m);
    if (s != SD_OK)
        fail_msg("measure: %s", sd_ctx_message(ctx));
}

#define ASSERT_REL(got, want, tol)                                                         \
    do {                                                                                   \
        double g_ = (got), w_ = (want);                                                    \
        if (!(fabs(g_ - w_) <= (tol) * fabs(w_)))                                          \
            fail_msg("%s = %.6g, expected %.6g within %.1f %%", #got, g_, w_, 100 * (tol)); \
    } while (0)

#define ASSERT_ABS(got, want, tol)                                                         \
    do {                                                                                   \
        double g_ = (got), w_ = (want);                                                    \
        if (!(fabs(g_ - w_) <= (tol)))                                                     \
            fail_msg("%s = %.6g, expected %.6g within %g", #got, g_, w_, (double)(tol));  \
    } while (0)

/* ---- texture ---- */

static void test_texture_sinusoid(void **state)
{
    (void)state;
    const double periods[] = {8.0, 12.3, 21.7};
    for (int i = 0; i < 3; i++) {
        for (double amp = 0.05; amp <= 0.2; amp += 0.15) {
            sc_scene sc = {.base = {0.2, 0.2, 0.2}, .nsin = 1};
            sc.sin_a[0] = amp;
            sc.sin_p[0] = periods[i];
            sc.sin_th[0] = 0.3;
            sc.sin_ph[0] = 0.7;
            sd_image *img = sc_render(&sc, 256, 256, NULL);
            assert_non_null(img);
            sd_metric_params p = defaults();
            sd_thresholds thr = {0};
            sd_metrics m;
            measure(img, NULL, 1.0, &p, &thr, &m);
            double a1 = amp * (1 - exp(-2 * M_PI * M_PI * p.sigma_t * p.sigma_t /
                                       (periods[i] * periods[i])));
            ASSERT_REL(m.ra, 100 * 2 / M_PI * a1, 0.02);
            ASSERT_REL(m.rq, 100 * a1 / sqrt(2), 0.02);
            /* D of a sinusoid: amplitude a (K_s - K_p), median 0, MAD = a/sqrt2 */
            double ks = exp(-2 * M_PI * M_PI * p.sigma_s * p.sigma_s / (periods[i] * periods[i]));
            double kp = exp(-2 * M_PI * M_PI * p.sigma_p * p.sigma_p / (periods[i] * periods[i]));
            double tp = fmax(0.05, 4 * 1.4826 * amp * (ks - kp) / sqrt(2));
            ASSERT_REL(thr.t_pore, tp, 0.03);
            assert_true(m.pore_count == 0); /* a pure sinusoid never exceeds 4 robust sd */
            /* a small mask off-centre (the work is cropped to it): same truth */
            uint8_t *mask = calloc(256 * 256, 1);
            for (int y = 150; y < 200; y++)
                for (int x = 40; x < 100; x++)
                    mask[y * 256 + x] = 1;
            sd_thresholds t2 = {0};
            measure(img, mask, 1.0, &p, &t2, &m);
            assert_int_equal(m.pixels, 50 * 60);
            ASSERT_REL(m.ra, 100 * 2 / M_PI * a1, 0.03);
            ASSERT_REL(m.rq, 100 * a1 / sqrt(2), 0.03);
            free(mask);
            sd_image_free(img);
        }
    }
}

/* ---- quality measures ---- */

static void test_sharpness_and_asymmetry(void **state)
{
    (void)state;
    sd_metric_params p = defaults();
    /* sharpness of a sinusoid: var of the 5-point Laplacian of G_s(Lambda) =
     * (A K_s Lf)^2 / 2, Lf = 4 sin^2(pi fx) + 4 sin^2(pi fy) */
    const double per = 11.3, th = 0.5, amp = 0.1;
    sc_scene sc = {.base = {0.2, 0.2, 0.2}, .nsin = 1};
    sc.sin_a[0] = amp;
    sc.sin_p[0] = per;
    sc.sin_th[0] = th;
    sd_image *img = sc_render(&sc, 256, 256, NULL);
    sd_thresholds thr = {0};
    sd_metrics m;
    measure(img, NULL, 1.0, &p, &thr, &m);
    double fx = cos(th) / per, fy = sin(th) / per;
    double ks = exp(-2 * M_PI * M_PI * p.sigma_s * p.sigma_s / (per * per));
    double lf = 4 * sin(M_PI * fx) * sin(M_PI * fx) + 4 * sin(M_PI * fy) * sin(M_PI * fy);
    ASSERT_REL(m.sharpness, 0.5 * pow(amp * ks * lf, 2), 0.03);
    /* focus measure: energy of Lambda - G_s over energy of Lambda - G_t, for
     * a sinusoid ((1 - K_s) / (1 - K_t))^2 with K the Gaussians' transfer */
    double kt = exp(-2 * M_PI * M_PI * p.sigma_t * p.sigma_t / (per * per));
    ASSERT_REL(m.focus_measure, pow((1 - ks) / (1 - kt), 2), 0.03);
    ASSERT_ABS(m.asymmetry, 0, 0.002);
    /* a defocused copy (smaller high-frequency amplitude) reads less sharp */
    sc.sin_a[0] = amp * 0.5;
    sd_image *soft = sc_render(&sc, 256, 256, NULL);
    sd_metrics ms;
    thr.set = 0;
    measure(soft, NULL, 1.0, &p, &thr, &ms);
    ASSERT_REL(ms.sharpness, 0.25 * m.sharpness, 0.02);
    /* the focus measure does not depend on the texture's amplitude */
    ASSERT_REL(ms.focus_measure, m.focus_measure, 0.01);
    sd_image_free(img);
    sd_image_free(soft);

    /* asymmetry of a Lambda ramp k x over the default mask x in [18, 237]:
     * k (mean x right of the centroid column - mean x left of it) */
    const double k = 0.002;
    sd_image *ramp = NULL;
    assert_int_equal(sd_image_new(ctx, 256, 64, 0, &ramp), SD_OK);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 256; x++) {
            double yl = exp(log(0.2 + SD_LAMBDA_EPS) + k * x) - SD_LAMBDA_EPS;
            for (int c = 0; c < 3; c++)
                ramp->px[(size_t)y * ramp->stride + 3 * (size_t)x + c] = sc_q16(yl);
        }
    thr.set = 0;
    measure(ramp, NULL, 1.0, &p, &thr, &m);
    /* centroid 127.5: left 18..127 (mean 72.5), right 128..237 (mean 182.5) */
    ASSERT_REL(m.asymmetry, k * (182.5 - 72.5), 0.01);
    sd_image_free(ramp);
}

/* ---- redness ---- */

static void test_uniform_colour(void **state)
{
    (void)state;
    const double cols[][3] = {{0.45, 0.25, 0.18}, {0.6, 0.2, 0.2}, {0.1, 0.12, 0.3}, {0.002, 0.001, 0.001}};
    for (int i = 0; i < 4; i++) {
        sc_scene sc = {.base = {cols[i][0], cols[i][1], cols[i][2]}};
        sd_image *img = sc_render(&sc, 64, 64, NULL);
        assert_non_null(img);
        double srgb[3], lab[3], lin[3];
        for (int c = 0; c < 3; c++) {
            srgb[c] = img->px[c] / 65535.0;
            lin[c] = sd_srgb_eotf_ref(srgb[c]);
        }
        sd_srgb_to_lab_ref(srgb, lab);
        sd_metric_params p = defaults();
        sd_thresholds thr = {0};
        sd_metrics m;
        measure(img, NULL, 1.0, &p, &thr, &m);
        ASSERT_ABS(m.mean_a, lab[1], 0.01);
        double ei = 100 * log10(fmax(lin[0], 1.0 / 4096) / fmax(lin[1], 1.0 / 4096));
        ASSERT_ABS(m.erythema_index, ei, 1e-3);
        ASSERT_ABS(m.red_area_fraction, 0, 0);
        ASSERT_ABS(thr.t_red, lab[1] + 5, 0.01);
        ASSERT_ABS(m.ra, 0, 1e-3);
        assert_true(m.pore_count == 0);
        ASSERT_ABS(m.mean_lambda,
                   log(SD_XYZ_YR * lin[0] + SD_XYZ_YG * lin[1] + SD_XYZ_YB * lin[2] + 1.0 / 4096),
                   1e-5);
        ASSERT_ABS(m.clipped_fraction, 0, 0);
        ASSERT_ABS(m.asymmetry, 0, 1e-6);
        assert_int_equal(m.pixels, (64 - 36) * (64 - 36));
        sd_image_free(img);
    }
}

static void test_red_patches(void **state)
{
    (void)state;
    /* 4 patches 20x15 on a 160x120 image, well inside the 18 px border */
    sc_patch pt[4];
    for (int i = 0; i < 4; i++)
        pt[i] = (sc_patch){30 + 30 * i, 40 + 10 * (i % 2), 20, 15, {0.5, 0.2, 0.17}};
    sc_scene sc = {.base = SC_SKIN, .nsin = 1, .npatch = 4, .patches = pt};
    sc.sin_a[0] = 0.03;
    sc.sin_p[0] = 9.1;
    sc.sin_th[0] = 1.1;
    sd_image *img = sc_render(&sc, 160, 120, NULL);
    assert_non_null(img);
    double lab_bg[3], lab_red[3];
    double bg[3] = SC_SKIN;
    sd_linear_to_lab_ref(bg, lab_bg);
    sd_linear_to_lab_ref(pt[0].rgb, lab_red);
    assert_true(lab_red[1] > lab_bg[1] + 10); /* the patches are clearly above T_red */
    sd_metric_params p = defaults();
    sd_thresholds thr = {0};
    sd_metrics m;
    measure(img, NULL, 1.0, &p, &thr, &m);
    size_t n = (160 - 36) * (120 - 36);
    ASSERT_ABS(m.red_area_fraction, 4.0 * 20 * 15 / n, 1e-12);
    /* the median a* of the ROI is the background's (texture moves a* a little) */
    ASSERT_ABS(thr.t_red, lab_bg[1] + 5, 0.3);
    /* mean a* is the area-weighted mix */
    double share = 4.0 * 20 * 15 / n;
    ASSERT_ABS(m.mean_a, (1 - share) * lab_bg[1] + share * lab_red[1], 0.3);
    sd_image_free(img);
}

/* ---- pores ---- */

/* D(r) of a dark Gaussian blob (width w, depth c in Lambda) after the DoG */
static double blob_dog(double r, double w, double c, const sd_metric_params *p)
{
    double ws = w * w + p->sigma_s * p->sigma_s, wp = w * w + p->sigma_p * p->sigma_p;
    return c * (w * w / ws * exp(-r * r / (2 * ws)) - w * w / wp * exp(-r * r / (2 * wp)));
}

/* analytic area of {D > t} of one blob */
static double blob_area(double w, double c, double t, const sd_metric_params *p)
{
    double lo = 0, hi = 10 * w + 3 * p->sigma_p;
    if (blob_dog(0, w, c, p) <= t)
        return 0;
    for (int i = 0; i < 100; i++) {
        double mid = 0.5 * (lo + hi);
        if (blob_dog(mid, w, c, p) > t)
            lo = mid;
        else
            hi = mid;
    }
    return M_PI * lo * lo;
}

/* n x n blobs on a grid of pitch `pitch` starting at `origin`, with
 * deterministic sub-pixel jitter */
static int make_blobs(sc_blob *b, int n, double origin, double pitch, double w, double c)
{
    int k = 0;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++, k++)
            b[k] = (sc_blob){origin + pitch * i + 0.37 * ((k * 7) % 5) / 4.0,
                             origin + pitch * j + 0.41 * ((k * 3) % 7) / 6.0, w, c};
    return k;
}

static void test_pores_flat(void **state)
{
    (void)state;
    sc_blob b[64];
    int nb = make_blobs(b, 6, 40, 45, 2.0, 0.5);
    sc_scene sc = {.base = SC_SKIN, .nblob = nb, .blobs = b};
    sd_image *img = sc_render(&sc, 320, 320, NULL);
    assert_non_null(img);
    sd_metric_params p = defaults();
    sd_thresholds thr = {0};
    sd_metrics m;
    measure(img, NULL, 1.0, &p, &thr, &m);
    /* flat background: MAD 0, so the floor applies */
    ASSERT_ABS(thr.t_pore, 0.05, 1e-9);
    ASSERT_REL(m.pore_count, nb, 0.1);
    double area = blob_area(2.0, 0.5, 0.05, &p);
    print_message("pores flat: %g of %d, mean area %.2f px (analytic %.2f)\n", m.pore_count, nb,
                  m.pore_mean_area_px, area);
    ASSERT_REL(m.pore_mean_area_px, area, 0.1);
    ASSERT_REL(m.pore_area_fraction, m.pore_count * m.pore_mean_area_px / (double)m.pixels,
               1e-9);

    /* fewer and smaller pores read lower, with BEFORE's threshold */
    sc_blob b2[64];
    int nb2 = make_blobs(b2, 4, 50, 60, 1.4, 0.5);
    sc_scene sc2 = {.base = SC_SKIN, .nblob = nb2, .blobs = b2};
    sd_image *img2 = sc_render(&sc2, 320, 320, NULL);
    sd_metrics m2;
    measure(img2, NULL, 1.0, &p, &thr, &m2);
    ASSERT_REL(m2.pore_count, nb2, 0.1);
    ASSERT_REL(m2.pore_mean_area_px, blob_area(1.4, 0.5, 0.05, &p), 0.1);
    assert_true(m2.pore_count < m.pore_count);
    assert_true(m2.pore_mean_area_px < m.pore_mean_area_px);
    assert_true(m2.pore_area_fraction < m.pore_area_fraction);
    sd_image_free(img);
    sd_image_free(img2);
}

static sc_scene textured(void)
{
    sc_scene sc = {.base = SC_SKIN, .nsin = 3};
    const double a[3] = {0.04, 0.035, 0.03}, per[3] = {7.3, 11.9, 17.1},
                 th[3] = {0.2, 1.3, 2.4}, ph[3] = {0.1, 1.7, 2.9};
    for (int i = 0; i < 3; i++) {
        sc.sin_a[i] = a[i];
        sc.sin_p[i] = per[i];
        sc.sin_th[i] = th[i];
        sc.sin_ph[i] = ph[i];
    }
    return sc;
}

static void test_pores_textured_and_wrinkles(void **state)
{
    (void)state;
    sd_metric_params p = defaults();
    /* pore-free texture: no pores */
    sc_scene sc = textured();
    sd_image *img = sc_render(&sc, 320, 320, NULL);
    sd_thresholds thr = {0};
    sd_metrics m;
    measure(img, NULL, 1.0, &p, &thr, &m);
    assert_true(thr.t_pore > 0.05); /* derived from the texture's MAD, not the floor */
    assert_true(m.pore_count == 0);
    assert_true(m.ra > 1.0);
    sd_image_free(img);

    /* the same texture with 36 blobs and 5 long wrinkles */
    sc_blob b[64];
    int nb = make_blobs(b, 6, 40, 45, 2.2, 0.8);
    sc_line l[5];
    for (int i = 0; i < 5; i++)
        l[i] = (sc_line){50 + 30 * i, 62.5 + 45 * i, 92 + 30 * i, 62.5 + 45 * i + 6 * (i - 2),
                         1.2, 0.6}; /* ~42 px long: inside the area bounds */
    sc.nblob = nb;
    sc.blobs = b;
    sc.nline = 5;
    sc.lines = l;
    img = sc_render(&sc, 320, 320, NULL);
    sd_thresholds thr2 = {0};
    measure(img, NULL, 1.0, &p, &thr2, &m);
    print_message("pores textured: %g of %d (t_pore %.4f)\n", m.pore_count, nb, thr2.t_pore);
    ASSERT_REL(m.pore_count, nb, 0.1);
    ASSERT_REL(m.pore_mean_area_px, blob_area(2.2, 0.8, thr2.t_pore, &p), 0.15);
    sd_image_free(img);

    /* wrinkles alone: bright enough to be candidates, never pores */
    sc.nblob = 0;
    img = sc_render(&sc, 320, 320, NULL);
    sd_thresholds thr3 = thr2;
    measure(img, NULL, 1.0, &p, &thr3, &m);
    assert_true(m.pore_count == 0);
    /* and they are candidates of pore size: only the elongation limit rejects them */
    sd_metric_params loose = p;
    loose.pore_max_elongation = 1000;
    thr3 = thr2;
    measure(img, NULL, 1.0, &loose, &thr3, &m);
    assert_true(m.pore_count == 5);
    sd_image_free(img);
}

/* A pore crossing the mask edge counts, whole, exactly when its centroid's
 * nearest pixel is in the mask. */
static void test_pore_on_mask_edge(void **state)
{
    (void)state;
    /* mask: x >= 100 (inside the image border); blobs straddle x = 100 */
    const double xs[4] = {100.3, 99.3, 100.0 - 0.45, 101.8};
    const int want[4] = {1, 0, 1, 1};
    sd_metric_params p = defaults();
    uint8_t *mask = calloc(200 * 120, 1);
    for (int y = 20; y < 100; y++)
        for (int x = 100; x < 180; x++)
            mask[y * 200 + x] = 1;
    for (int i = 0; i < 4; i++) {
        sc_blob b = {xs[i], 60.2, 2.0, 0.5};
        sc_scene sc = {.base = SC_SKIN, .nblob = 1, .blobs = &b};
        sd_image *img = sc_render(&sc, 200, 120, NULL);
        sd_thresholds thr = {1, 100, 0.05};
        sd_metrics m;
        measure(img, mask, 1.0, &p, &thr, &m);
        if (m.pore_count != want[i])
            fail_msg("blob at x = %.2f: %g pores, expected %d", xs[i], m.pore_count, want[i]);
        if (want[i])
            ASSERT_REL(m.pore_mean_area_px, blob_area(2.0, 0.5, 0.05, &p), 0.1);
        sd_image_free(img);
    }
    free(mask);
}

/* ---- clipping, thresholds, limits ---- */

static void test_clipped_excluded(void **state)
{
    (void)state;
    sc_patch wsq = {50, 40, 20, 10, {1, 1, 1}};
    sc_scene sc = {.base = SC_SKIN, .nwhite = 1, .white = &wsq};
    sd_image *img = sc_render(&sc, 128, 96, NULL);
    sc_scene plain = {.base = SC_SKIN};
    sd_image *ref = sc_render(&plain, 128, 96, NULL);
    sd_metric_params p = defaults();
    sd_thresholds thr = {0}, thr_ref = {0};
    sd_metrics m, mr;
    measure(img, NULL, 1.0, &p, &thr, &m);
    measure(ref, NULL, 1.0, &p, &thr_ref, &mr);
    size_t n = (128 - 36) * (96 - 36);
    ASSERT_ABS(m.clipped_fraction, 200.0 / n, 1e-12);
    assert_int_equal(m.pixels, n - 200);
    ASSERT_ABS(m.mean_a, mr.mean_a, 1e-6);
    ASSERT_ABS(m.erythema_index, mr.erythema_index, 1e-6);
    ASSERT_ABS(m.mean_lambda, mr.mean_lambda, 1e-9);
    ASSERT_ABS(m.red_area_fraction, 0, 0);
    /* one channel at 250/255 is enough */
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 128; x++)
            if (x >= 20 && x < 30 && y >= 20 && y < 30)
                img->px[(size_t)y * img->stride + 3 * (size_t)x + 2] = 250 * 257;
    sd_thresholds t2 = {0};
    measure(img, NULL, 1.0, &p, &t2, &m);
    ASSERT_ABS(m.clipped_fraction, 300.0 / n, 1e-12);
    sd_image_free(img);
    sd_image_free(ref);
}

static void test_thresholds_carried(void **state)
{
    (void)state;
    sc_patch pt = {40, 40, 30, 30, {0.5, 0.2, 0.17}};
    sc_scene sc = {.base = SC_SKIN, .npatch = 1, .patches = &pt};
    sd_image *before = sc_render(&sc, 128, 128, NULL);
    sc_scene red = {.base = {0.5, 0.2, 0.17}};
    sd_image *after = sc_render(&red, 128, 128, NULL);
    sd_metric_params p = defaults();
    sd_thresholds thr = {0};
    sd_metrics mb, ma;
    measure(before, NULL, 1.0, &p, &thr, &mb);
    assert_int_equal(thr.set, 1);
    sd_thresholds kept = thr;
    measure(after, NULL, 1.0, &p, &thr, &ma);
    assert_memory_equal(&thr, &kept, sizeof thr);
    ASSERT_ABS(mb.red_area_fraction, 900.0 / (92 * 92), 1e-12);
    ASSERT_ABS(ma.red_area_fraction, 1.0, 0); /* AFTER's own median would give 0 */
    /* --pore-contrast fixes T_pore */
    p.pore_contrast = 0.123;
    sd_thresholds t3 = {0};
    measure(before, NULL, 1.0, &p, &t3, &mb);
    ASSERT_ABS(t3.t_pore, 0.123, 0);
    sd_image_free(before);
    sd_image_free(after);
}

static void test_too_small_and_args(void **state)
{
    (void)state;
    sc_scene sc = {.base = SC_SKIN};
    sd_image *img = sc_render(&sc, 36, 80, NULL); /* needs 37 for the 18 px border */
    sd_metric_params p = defaults();
    sd_thresholds thr = {0};
    sd_metrics m;
    assert_int_equal(sd_image_measure(ctx, img, NULL, 1.0, NULL, &p, &thr, &m), SD_ERR_TOO_SMALL);
    assert_non_null(strstr(sd_ctx_message(ctx), "too small"));
    assert_int_equal(thr.set, 0);
    sd_image_free(img);
    img = sc_render(&sc, 64, 64, NULL);
    uint8_t mask[64 * 64] = {0};
    assert_int_equal(sd_image_measure(ctx, img, mask, 1.0, NULL, &p, &thr, &m), SD_ERR_TOO_SMALL);
    assert_non_null(strstr(sd_ctx_message(ctx), "empty"));
    assert_int_equal(sd_image_measure(ctx, img, NULL, 0.0, NULL, &p, &thr, &m), SD_ERR_ARG);
    double bad[3] = {1, NAN, 1};
    assert_int_equal(sd_image_measure(ctx, img, NULL, 1.0, bad, &p, &thr, &m), SD_ERR_ARG);
    p.sigma_p = -1;
    assert_int_equal(sd_image_measure(ctx, img, NULL, 1.0, NULL, &p, &thr, &m), SD_ERR_ARG);
    /* a one-pixel mask is measurable and gives finite numbers */
    sd_metric_params_default(&p);
    mask[32 * 64 + 32] = 1;
    assert_int_equal(sd_image_measure(ctx, img, mask, 1.0, NULL, &p, &thr, &m), SD_OK);
    assert_true(isfinite(m.ra) && isfinite(m.mean_a) && isfinite(m.sharpness));
    sd_image_free(img);
}

static void test_mm_params(void **state)
{
    (void)state;
    sd_metric_params p;
    sd_metric_params_default(&p);
    sd_metric_params_from_mm(&p, 20.0);
    ASSERT_ABS(p.sigma_t, 2.0, 1e-12);
    ASSERT_ABS(p.sigma_p, 6.0, 1e-12);
    ASSERT_ABS(p.sigma_s, 1.2, 1e-12);
    ASSERT_ABS(p.pore_area_min, 8.0, 1e-12);
    ASSERT_ABS(p.pore_area_max, 320.0, 1e-12);
    assert_int_equal(sd_metric_border(&p), 18);
    sc_blob b[64];
    int nb = make_blobs(b, 6, 40, 45, 2.0, 0.5);
    sc_scene sc = {.base = SC_SKIN, .nblob = nb, .blobs = b};
    sd_image *img = sc_render(&sc, 320, 320, NULL);
    sd_thresholds thr = {0};
    sd_metrics m;
    measure(img, NULL, 1.0, &p, &thr, &m);
    /* ROI = 284^2 px = (14.2 mm)^2 = 2.0164 cm^2 */
    ASSERT_REL(m.pore_density_per_cm2, m.pore_count / (284.0 * 284.0 / 400.0 / 100.0), 1e-12);
    ASSERT_REL(m.pore_mean_area_mm2, m.pore_mean_area_px / 400.0, 1e-12);
    sd_metric_params_default(&p);
    thr.set = 0;
    measure(img, NULL, 1.0, &p, &thr, &m);
    assert_true(isnan(m.pore_density_per_cm2) && isnan(m.pore_mean_area_mm2));
    sd_image_free(img);
}

/* ---- own-grid measurement: the same skin at scale 1 and 1.1 ---- */

static void test_scale_invariance(void **state)
{
    (void)state;
    sc_blob b[64];
    int nb = make_blobs(b, 6, 45, 42, 2.2, 0.8);
    sc_scene sc = textured();
    sc.nblob = nb;
    sc.blobs = b;
    const double s = 1.1;
    sd_image *before = sc_render(&sc, 320, 320, NULL);
    sd_image *after = sc_render_scaled(&sc, 352, 352, s);
    sd_xform xf = {{s, 0, 0, 0, s, 0}};
    sd_metric_params p = defaults();
    sd_roi_opts ro = {.border = sd_metric_border(&p)};
    sd_roi roi;
    assert_int_equal(sd_roi_build(ctx, before, after, &xf, &ro, &roi), SD_OK);
    sd_thresholds thr = {0};
    sd_metrics mb, ma;
    measure(before, roi.before, 1.0, &p, &thr, &mb);
    measure(after, roi.after, s, &p, &thr, &ma);
    print_message("scale 1 vs 1.1: ra %.4f/%.4f rq %.4f/%.4f pores %g/%g area %.2f/%.2f "
                  "sharp %.3g/%.3g\n",
                  mb.ra, ma.ra, mb.rq, ma.rq, mb.pore_count, ma.pore_count, mb.pore_mean_area_px,
                  ma.pore_mean_area_px, mb.sharpness, ma.sharpness);
    ASSERT_REL(ma.ra, mb.ra, 0.03);
    ASSERT_REL(ma.rq, mb.rq, 0.03);
    ASSERT_REL(mb.pore_count, nb, 0.1);
    ASSERT_REL(ma.pore_count, mb.pore_count, 0.05);
    ASSERT_REL(ma.pore_mean_area_px, mb.pore_mean_area_px, 0.05);
    ASSERT_REL(ma.pore_area_fraction, mb.pore_area_fraction, 0.05);
    ASSERT_REL(ma.sharpness, mb.sharpness, 0.1);
    ASSERT_ABS(ma.mean_a, mb.mean_a, 0.05);
    /* measured as if it were BEFORE's grid, the scaled image reads differently */
    sd_metrics wrong;
    sd_thresholds t2 = thr;
    measure(after, roi.after, 1.0, &p, &t2, &wrong);
    assert_true(fabs(wrong.ra - mb.ra) > 0.05 * mb.ra);
    sd_roi_release(&roi);
    sd_image_free(before);
    sd_image_free(after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_texture_sinusoid),
        cmocka_unit_test(test_sharpness_and_asymmetry),
        cmocka_unit_test(test_uniform_colour),
        cmocka_unit_test(test_red_patches),
        cmocka_unit_test(test_pores_flat),
        cmocka_unit_test(test_pores_textured_and_wrinkles),
        cmocka_unit_test(test_pore_on_mask_edge),
        cmocka_unit_test(test_clipped_excluded),
        cmocka_unit_test(test_thresholds_carried),
        cmocka_unit_test(test_too_small_and_args),
        cmocka_unit_test(test_mm_params),
        cmocka_unit_test(test_scale_invariance),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

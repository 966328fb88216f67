/* The metrics recover the ground truth of the synthetic skin generator:
 * pore counts against the true pore list (counted by the metric's own
 * centroid rule), fewer and smaller pores reading lower in proportion, no
 * pores on pore-free texture, the mean a* change predicted by the true red
 * patches, texture amplitude ratios, and the null pair (same skin, camera
 * moved, exposure changed, new noise) reading unchanged. AFTER is measured on
 * its own grid through the generator's true transform (BEFORE -> AFTER). */
#include "sd_test.h"

#include <math.h>

#include "skindelta/metrics.h"
#include "skindelta/normalize.h"
#include "skindelta/synth.h"

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

/* One rendered and measured pair. */
typedef struct run {
    sd_synth_pair p;
    sd_roi roi;
    sd_norm_result norm;
    double scale; /* AFTER pixels per BEFORE pixel: sqrt|det| of the true transform */
    sd_thresholds thr;
    sd_metrics mb, ma;
    size_t truth_b, truth_a; /* true pores the centroid rule counts in each frame */
} run;

static double xf_scale(const sd_xform *xf)
{
    return sqrt(fabs(xf->m[0] * xf->m[4] - xf->m[1] * xf->m[3]));
}

/* 1 when the nearest pixel of (x, y) lies in the w x h mask (any nonzero
 * value: SD_ROI_IN or SD_ROI_EXCLUDED), the rule the pore count uses for a
 * component's centroid (docs/metrics.md "Components on the mask edge"). */
static int in_mask(const uint8_t *mask, int w, int h, double x, double y)
{
    long ix = (long)floor(x + 0.5), iy = (long)floor(y + 0.5);
    return ix >= 0 && iy >= 0 && ix < w && iy < h && mask[(size_t)iy * (size_t)w + (size_t)ix];
}

/* True pores counted by the centroid rule: BEFORE pores whose centre's
 * nearest BEFORE pixel is in the BEFORE mask; surviving pores whose AFTER
 * centre's nearest AFTER pixel is in the AFTER mask. */
static void truth_counts(const sd_synth_truth *t, const sd_roi *roi, size_t *nb, size_t *na)
{
    *nb = *na = 0;
    for (size_t k = 0; k < t->n_pores; k++) {
        const sd_synth_pore *q = &t->pores[k];
        *nb += (size_t)in_mask(roi->before, roi->bw, roi->bh, q->x, q->y);
        if (q->survives)
            *na += (size_t)in_mask(roi->after, roi->aw, roi->ah, q->after_x, q->after_y);
    }
}

static void run_pair(const sd_synth_skin *skin, const sd_synth_session *ses,
                     const sd_synth_capture *cb, const sd_synth_capture *ca, const sd_rect *rect,
                     sd_norm_method nm, run *r)
{
    memset(r, 0, sizeof *r);
    if (sd_synth_pair_render(ctx, skin, ses, cb, ca, &r->p) != SD_OK)
        fail_msg("render: %s", sd_ctx_message(ctx));
    const sd_xform *xf = &r->p.truth->xf;
    r->scale = xf_scale(xf);
    sd_metric_params prm;
    sd_metric_params_default(&prm);
    sd_roi_opts ro = {.rect = rect, .border = sd_metric_border(&prm)};
    if (sd_roi_build(ctx, r->p.before, r->p.after, xf, &ro, &r->roi) != SD_OK)
        fail_msg("roi: %s", sd_ctx_message(ctx));
    if (sd_pair_normalize(ctx, r->p.before, r->p.after, xf, &r->roi, nm, NULL, &r->norm) != SD_OK)
        fail_msg("normalize: %s", sd_ctx_message(ctx));
    if (sd_image_measure(ctx, r->p.before, r->roi.before, 1.0, r->norm.before_gains, &prm,
                         &r->thr, &r->mb) != SD_OK ||
        sd_image_measure(ctx, r->p.after, r->roi.after, r->scale, r->norm.gains, &prm, &r->thr,
                         &r->ma) != SD_OK)
        fail_msg("measure: %s", sd_ctx_message(ctx));
    truth_counts(r->p.truth, &r->roi, &r->truth_b, &r->truth_a);
}

static void run_release(run *r)
{
    sd_roi_release(&r->roi);
    sd_synth_pair_release(&r->p);
}

static void print_run(const char *what, const run *r)
{
    const sd_metrics *b = &r->mb, *a = &r->ma;
    print_message("%s: scale %.4f ev %.3f, pixels %zu/%zu, t_pore %.4f t_red %.3f\n", what,
                  r->scale, r->norm.exposure_ev, b->pixels, a->pixels, r->thr.t_pore,
                  r->thr.t_red);
    print_message("  pores  B %g (true %zu)  A %g (true %zu)  area px %.2f/%.2f  frac %.5f/%.5f\n",
                  b->pore_count, r->truth_b, a->pore_count, r->truth_a, b->pore_mean_area_px,
                  a->pore_mean_area_px, b->pore_area_fraction, a->pore_area_fraction);
    print_message("  ra %.4f/%.4f (x%.4f)  rq %.4f/%.4f (x%.4f)\n", b->ra, a->ra, a->ra / b->ra,
                  b->rq, a->rq, a->rq / b->rq);
    print_message("  mean_a %.4f/%.4f (%+.4f)  EI %.4f/%.4f (%+.4f)  red area %.5f/%.5f\n",
                  b->mean_a, a->mean_a, a->mean_a - b->mean_a, b->erythema_index,
                  a->erythema_index, a->erythema_index - b->erythema_index, b->red_area_fraction,
                  a->red_area_fraction);
}

/* DoG response D(r) = G_p(Lambda) - G_s(Lambda) of one Gaussian dip of ln Y
 * (sigma w, depth c) at distance r: a Gaussian blurred by a Gaussian is a
 * Gaussian with the variances added and the peak scaled by w^2 / (w^2 + s^2). */
static double dip_dog(double r, double w, double c, const sd_metric_params *p)
{
    double ws = w * w + p->sigma_s * p->sigma_s, wp = w * w + p->sigma_p * p->sigma_p;
    return c * (w * w / ws * exp(-r * r / (2 * ws)) - w * w / wp * exp(-r * r / (2 * wp)));
}

/* Area (px^2) of {D > t} around an isolated dip: pi r^2 at the radius where
 * D falls to t (D decreases monotonically out to where it turns negative). */
static double dip_area(double w, double c, double t, const sd_metric_params *p)
{
    if (dip_dog(0, w, c, p) <= t)
        return 0;
    double lo = 0, hi = 4 * (w + p->sigma_p);
    for (int i = 0; i < 60; i++) {
        double mid = 0.5 * (lo + hi);
        if (dip_dog(mid, w, c, p) > t)
            lo = mid;
        else
            hi = mid;
    }
    return M_PI * lo * lo;
}

/* Mean analytic area (BEFORE px^2) of the true pores the centroid rule counts
 * in BEFORE (after = 0) or AFTER (after = 1; AFTER sigmas divided by the
 * scale, as the metric divides its areas), at threshold t. */
static double truth_mean_area(const run *r, int after, double t)
{
    const sd_synth_truth *tr = r->p.truth;
    sd_metric_params prm;
    sd_metric_params_default(&prm);
    double sum = 0;
    size_t n = 0;
    for (size_t k = 0; k < tr->n_pores; k++) {
        const sd_synth_pore *q = &tr->pores[k];
        if (!after && in_mask(r->roi.before, r->roi.bw, r->roi.bh, q->x, q->y)) {
            sum += dip_area(q->sigma, q->depth, t, &prm);
            n++;
        } else if (after && q->survives &&
                   in_mask(r->roi.after, r->roi.aw, r->roi.ah, q->after_x, q->after_y)) {
            sum += dip_area(q->after_sigma / r->scale, q->after_depth, t, &prm);
            n++;
        }
    }
    return n ? sum / (double)n : 0;
}

/* The skin of the pore tests: well-separated pores of sufficient contrast.
 * Spacing 24 px, jitter 0.4 (centres at least 14.4 px apart, over 2 sigma_p),
 * sigma 2.2 px, depth 0.5 (each +-20 %): the shallowest, narrowest AFTER pore
 * (depth 0.4, sigma 0.8 * 1.76) still has a central DoG of 0.20, well above
 * the T_pore of ~0.14 the texture sets. Everything else at its default. */
static void pore_skin(sd_synth_skin *skin, uint64_t seed, int w, int h)
{
    sd_synth_skin_defaults(skin, seed, w, h);
    skin->pore_spacing = 24;
    skin->pore_jitter = 0.4;
    skin->pore_radius = 2.2;
    skin->pore_depth = 0.5;
}

/* BEFORE identity; AFTER rotated, scaled and shifted about the centre, ev
 * darker; independent noise 0.004 on both. */
static void moved_captures(sd_synth_capture *cb, sd_synth_capture *ca, int w, int h, double rot,
                           double scale, double ev)
{
    sd_synth_capture_defaults(cb, w, h);
    *ca = *cb;
    cb->noise = ca->noise = 0.004;
    cb->noise_seed = 1;
    ca->noise_seed = 2;
    ca->xf = sd_synth_similarity(rot, scale, 9.5, -6.25, (w - 1) / 2.0, (h - 1) / 2.0);
    ca->ev = ev;
}

/* ---- pores ---- */

/* Pore counts of BEFORE and of an AFTER with 30-50 % of the pores gone and
 * the rest smaller, through rotation + scale + shift and an exposure change,
 * against the truth counted by the centroid rule; fewer and smaller read
 * lower, in proportion. */
static void test_pores_recovered(void **state)
{
    (void)state;
    const int W = 640, H = 480;
    const struct {
        uint64_t seed;
        double gone, size, rot, scale, ev;
    } cases[] = {
        {11, 0.4, 0.8, 4.0, 1.05, -0.5},
        {12, 0.3, 0.85, -3.0, 0.95, 0.4},
        {13, 0.5, 0.75, 7.0, 1.1, -1.0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sd_synth_skin skin;
        pore_skin(&skin, cases[c].seed, W, H);
        sd_synth_session ses;
        sd_synth_session_defaults(&ses);
        ses.pores_gone = cases[c].gone;
        ses.pore_radius_scale = cases[c].size;
        sd_synth_capture cb, ca;
        moved_captures(&cb, &ca, W, H, cases[c].rot, cases[c].scale, cases[c].ev);
        run r;
        run_pair(&skin, &ses, &cb, &ca, NULL, SD_NORM_EXPOSURE, &r);
        char what[96];
        snprintf(what, sizeof what,
                 "pores seed %llu, %.0f %% gone, size x%.2f, rot %g scale %g ev %g",
                 (unsigned long long)cases[c].seed, 100 * cases[c].gone, cases[c].size,
                 cases[c].rot, cases[c].scale, cases[c].ev);
        print_run(what, &r);
        double tb = (double)r.truth_b, ta = (double)r.truth_a;
        double area_b = truth_mean_area(&r, 0, r.thr.t_pore);
        double area_a = truth_mean_area(&r, 1, r.thr.t_pore);
        print_message("  count ratio %.4f (true %.4f); mean area vs analytic: "
                      "B %.2f/%.2f A %.2f/%.2f\n",
                      r.ma.pore_count / r.mb.pore_count, ta / tb, r.mb.pore_mean_area_px, area_b,
                      r.ma.pore_mean_area_px, area_a);
        ASSERT_ABS(r.norm.exposure_ev, cases[c].ev, 0.02);
        assert_true(tb > 250);
        /* the session removed the stated share (the truth's own draw) */
        ASSERT_ABS(1 - ta / tb, cases[c].gone, 0.07);
        ASSERT_REL(r.mb.pore_count, tb, 0.10);
        ASSERT_REL(r.ma.pore_count, ta, 0.10);
        ASSERT_REL(r.ma.pore_count / r.mb.pore_count, ta / tb, 0.10);
        /* fewer and smaller read lower */
        assert_true(r.ma.pore_count < r.mb.pore_count);
        assert_true(r.ma.pore_mean_area_px < r.mb.pore_mean_area_px);
        assert_true(r.ma.pore_area_fraction < r.mb.pore_area_fraction);
        /* areas against the analytic {D > T} of each true pore (the texture and the
         * pixel grid perturb each area by a few px; measured within 2 %) */
        ASSERT_REL(r.mb.pore_mean_area_px, area_b, 0.05);
        ASSERT_REL(r.ma.pore_mean_area_px, area_a, 0.05);
        run_release(&r);
    }
}

/* The counting helper matches the generator's own rectangle count on a
 * rectangular ROI (identity), and a pore cut by the rectangle's edge counts
 * by its centre, as the metric counts it by its centroid. */
static void test_pores_in_rect(void **state)
{
    (void)state;
    const int W = 560, H = 420;
    sd_synth_skin skin;
    pore_skin(&skin, 21, W, H);
    sd_synth_capture cb, ca;
    moved_captures(&cb, &ca, W, H, 0, 1, 0);
    ca.xf = cb.xf;
    const sd_rect rects[] = {{100, 80, 301, 203}, {37, 51, 150, 333}};
    for (int i = 0; i < 2; i++) {
        run r;
        run_pair(&skin, NULL, &cb, &ca, &rects[i], SD_NORM_NONE, &r);
        size_t want = sd_synth_truth_count_pores(r.p.truth, rects[i], 0);
        print_message("rect %d,%d,%d,%d: pores B %g A %g, true %zu (mask rule %zu/%zu)\n",
                      rects[i].x, rects[i].y, rects[i].w, rects[i].h, r.mb.pore_count,
                      r.ma.pore_count, want, r.truth_b, r.truth_a);
        assert_int_equal(r.truth_b, want);
        assert_int_equal(r.truth_a, want);
        ASSERT_REL(r.mb.pore_count, (double)want, 0.10);
        ASSERT_REL(r.ma.pore_count, (double)want, 0.10);
        run_release(&r);
    }
}

/* Pore-free skin reads no pores: the default skin without pores, a texture-only
 * skin of three times the default amplitude, and an AFTER whose pores are all
 * gone measured with BEFORE's threshold. */
static void test_no_pores(void **state)
{
    (void)state;
    const int W = 560, H = 420;
    sd_synth_skin skin;
    sd_synth_capture cb, ca;
    moved_captures(&cb, &ca, W, H, 3.0, 1.04, -0.5);
    run r;

    sd_synth_skin_defaults(&skin, 31, W, H);
    skin.components &= ~(unsigned)SD_SYNTH_PORES;
    run_pair(&skin, NULL, &cb, &ca, NULL, SD_NORM_EXPOSURE, &r);
    print_message("no pores (default skin): pores %g/%g, t_pore %.4f, ra %.3f\n",
                  r.mb.pore_count, r.ma.pore_count, r.thr.t_pore, r.mb.ra);
    assert_int_equal(r.p.truth->n_pores, 0);
    assert_true(r.mb.pore_count == 0 && r.ma.pore_count == 0);
    assert_true(r.mb.pore_area_fraction == 0 && r.ma.pore_mean_area_px == 0);
    run_release(&r);

    sd_synth_skin_defaults(&skin, 32, W, H);
    skin.components = SD_SYNTH_TEXTURE;
    skin.texture = 0.15;
    run_pair(&skin, NULL, &cb, &ca, NULL, SD_NORM_EXPOSURE, &r);
    print_message("no pores (texture 0.15 only): pores %g/%g, t_pore %.4f, ra %.3f\n",
                  r.mb.pore_count, r.ma.pore_count, r.thr.t_pore, r.mb.ra);
    assert_true(r.thr.t_pore > 0.05); /* set by the texture, not the floor */
    assert_true(r.mb.ra > 5.0);
    assert_true(r.mb.pore_count == 0 && r.ma.pore_count == 0);
    run_release(&r);

    pore_skin(&skin, 33, W, H);
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    ses.pores_gone = 1.0;
    run_pair(&skin, &ses, &cb, &ca, NULL, SD_NORM_EXPOSURE, &r);
    print_message("all pores gone: pores B %g (true %zu) A %g (true %zu)\n", r.mb.pore_count,
                  r.truth_b, r.ma.pore_count, r.truth_a);
    ASSERT_REL(r.mb.pore_count, (double)r.truth_b, 0.10);
    assert_int_equal(r.truth_a, 0);
    assert_true(r.ma.pore_count == 0);
    run_release(&r);
}

/* Below sufficient contrast the count falls short, as the analytic DoG says:
 * the default skin (depth 0.35 +-20 %, spacing 22, jitter 0.6) with the
 * surviving pores 0.8 times narrower in AFTER. A pore is kept only when its
 * area {D > T_pore} reaches pore_area_min (4 px); for the narrow shallow ones
 * the analytic area, pi r^2 with D(r) = T, falls under that, and the texture
 * (which sets T_pore and perturbs D) pushes more under. The AFTER count lies
 * between the number of true pores whose analytic area at T reaches 4 px
 * and that number at 1.1 T (a 10 % texture margin); BEFORE's wider pores
 * are still found within 10 %. */
static size_t truth_detectable(const run *r, double t)
{
    sd_metric_params prm;
    sd_metric_params_default(&prm);
    size_t n = 0;
    for (size_t k = 0; k < r->p.truth->n_pores; k++) {
        const sd_synth_pore *q = &r->p.truth->pores[k];
        if (q->survives && in_mask(r->roi.after, r->roi.aw, r->roi.ah, q->after_x, q->after_y) &&
            dip_area(q->after_sigma / r->scale, q->after_depth, t, &prm) >= prm.pore_area_min)
            n++;
    }
    return n;
}

static void test_pores_low_contrast(void **state)
{
    (void)state;
    const int W = 640, H = 480;
    sd_synth_skin skin;
    sd_synth_skin_defaults(&skin, 11, W, H);
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    ses.pores_gone = 0.4;
    ses.pore_radius_scale = 0.8;
    sd_synth_capture cb, ca;
    moved_captures(&cb, &ca, W, H, 4.0, 1.05, -0.5);
    run r;
    run_pair(&skin, &ses, &cb, &ca, NULL, SD_NORM_EXPOSURE, &r);
    print_run("default skin (depth 0.35), 40 % gone, x0.8", &r);
    size_t hi = truth_detectable(&r, r.thr.t_pore);
    size_t lo = truth_detectable(&r, 1.1 * r.thr.t_pore);
    print_message("  AFTER: %g found of %zu true (%.1f %%); analytic area >= 4 px: %zu at T, "
                  "%zu at 1.1 T; count ratio %.3f vs true %.3f\n",
                  r.ma.pore_count, r.truth_a, 100 * (r.ma.pore_count / (double)r.truth_a - 1), hi,
                  lo, r.ma.pore_count / r.mb.pore_count, (double)r.truth_a / (double)r.truth_b);
    ASSERT_REL(r.mb.pore_count, (double)r.truth_b, 0.10);
    assert_true(r.ma.pore_count <= (double)hi && r.ma.pore_count >= (double)lo);
    assert_true(hi < r.truth_a); /* the shortfall is real, not the metric's invention */
    run_release(&r);
}

/* ---- redness ---- */

/* Expected change of mean a* over the BEFORE ROI from the truth's patch list:
 * the generator adds amount * exp(-r^2 / 2 sigma^2) to a* at constant L*, so
 * AFTER - BEFORE = (after_amount - amount) * that, averaged over the measured
 * pixels. (The luminance terms multiply X and Y alike, which scales the
 * measured a* by their cube root: the shading's std of 0.1 in ln Y moves a
 * patch's a* by ~3 % locally and cancels to well under that on average.) */
static double truth_delta_a(const run *r)
{
    const sd_synth_truth *t = r->p.truth;
    double sum = 0;
    size_t n = 0;
    for (int y = 0; y < r->roi.bh; y++)
        for (int x = 0; x < r->roi.bw; x++) {
            if (r->roi.before[(size_t)y * (size_t)r->roi.bw + (size_t)x] != SD_ROI_IN)
                continue;
            for (size_t k = 0; k < t->n_patches; k++) {
                const sd_synth_patch *q = &t->patches[k];
                double dx = x - q->x, dy = y - q->y, s2 = q->sigma * q->sigma;
                if (dx * dx + dy * dy < 16 * s2)
                    sum += (q->after_amount - q->amount) * exp(-(dx * dx + dy * dy) / (2 * s2));
            }
            n++;
        }
    return sum / (double)n;
}

static void test_redness_change(void **state)
{
    (void)state;
    const int W = 640, H = 480;
    sd_synth_skin skin;
    sd_synth_capture cb, ca;
    moved_captures(&cb, &ca, W, H, 3.0, 1.04, -0.3);
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    ses.redness_scale = 0.5;
    const uint64_t seeds[] = {41, 42};
    for (int i = 0; i < 2; i++) {
        sd_synth_skin_defaults(&skin, seeds[i], W, H);
        run r;
        run_pair(&skin, &ses, &cb, &ca, NULL, SD_NORM_EXPOSURE, &r);
        double want = truth_delta_a(&r);
        print_run("redness x0.5", &r);
        print_message("  mean a* change %+.4f, truth %+.4f\n", r.ma.mean_a - r.mb.mean_a, want);
        assert_true(want < -0.2);
        assert_true(r.ma.mean_a < r.mb.mean_a);
        assert_true(r.ma.erythema_index < r.mb.erythema_index);
        assert_true(r.ma.red_area_fraction < r.mb.red_area_fraction);
        ASSERT_REL(r.ma.mean_a - r.mb.mean_a, want, 0.05);
        run_release(&r);
    }
}

/* No redness change, AFTER one stop darker and moved: every redness measure
 * within 2 %. The red area is a per-pixel threshold on a*, so it also counts
 * sensor noise: the generator's noise grows as sqrt(signal), so the darker
 * AFTER, brought back by the gain of 2, is relatively noisier, its a*
 * spread wider and more pixels cross T_red. Noise-free and at noise 0.001
 * the red area holds within 0.3 %; at the default 0.004 it reads +7 to
 * +9 % (measured; mean a* and the erythema index stay within 0.02 %), and
 * the bound 12 % below keeps that known effect from growing unnoticed. */
static void test_redness_unchanged(void **state)
{
    (void)state;
    const int W = 640, H = 480;
    const double noises[] = {0.001, 0.004};
    for (int i = 0; i < 2; i++) {
        sd_synth_skin skin;
        sd_synth_skin_defaults(&skin, 41, W, H);
        sd_synth_capture cb, ca;
        moved_captures(&cb, &ca, W, H, -5.0, 0.96, -1.0);
        cb.noise = ca.noise = noises[i];
        run r;
        run_pair(&skin, NULL, &cb, &ca, NULL, SD_NORM_EXPOSURE, &r);
        char what[64];
        snprintf(what, sizeof what, "redness unchanged, -1 EV, noise %.3f", noises[i]);
        print_run(what, &r);
        print_message("  changes: mean_a %+.3f %% EI %+.3f %% red area %+.2f %%\n",
                      100 * (r.ma.mean_a / r.mb.mean_a - 1),
                      100 * (r.ma.erythema_index / r.mb.erythema_index - 1),
                      100 * (r.ma.red_area_fraction / r.mb.red_area_fraction - 1));
        ASSERT_ABS(r.norm.exposure_ev, -1.0, 0.02);
        ASSERT_REL(r.ma.mean_a, r.mb.mean_a, 0.02);
        ASSERT_ABS(r.ma.mean_a, r.mb.mean_a, 0.05);
        ASSERT_REL(r.ma.erythema_index, r.mb.erythema_index, 0.02);
        ASSERT_REL(r.ma.red_area_fraction, r.mb.red_area_fraction, i == 0 ? 0.02 : 0.12);
        run_release(&r);
    }
}

/* ---- texture ---- */

static void test_texture_ratio(void **state)
{
    (void)state;
    const int W = 640, H = 480;
    sd_synth_skin skin;
    sd_synth_skin_defaults(&skin, 51, W, H);
    skin.components &= ~(unsigned)(SD_SYNTH_PORES | SD_SYNTH_REDNESS);
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    ses.texture_scale = 0.7;
    sd_synth_capture cb, ca;
    moved_captures(&cb, &ca, W, H, 0, 1, 0);
    ca.xf = cb.xf;
    cb.noise = ca.noise = 0.001;
    run r;
    run_pair(&skin, &ses, &cb, &ca, NULL, SD_NORM_NONE, &r);
    print_run("texture x0.7", &r);
    /* the floor: the same skin with no texture (noise, shading and blotch residue) */
    sd_synth_session flat = ses;
    flat.texture_scale = 0;
    sd_synth_capture c0 = cb;
    c0.noise_seed = 3;
    sd_image *img0 = NULL;
    if (sd_synth_render(ctx, &skin, &flat, &c0, &img0) != SD_OK)
        fail_msg("render: %s", sd_ctx_message(ctx));
    sd_metric_params prm;
    sd_metric_params_default(&prm);
    sd_thresholds t0 = r.thr;
    sd_metrics m0;
    if (sd_image_measure(ctx, img0, r.roi.before, 1.0, NULL, &prm, &t0, &m0) != SD_OK)
        fail_msg("measure: %s", sd_ctx_message(ctx));
    double rq_want = sqrt(0.49 * (r.mb.rq * r.mb.rq - m0.rq * m0.rq) + m0.rq * m0.rq);
    print_message("  floor ra %.4f rq %.4f; rq expected %.4f (ratio %.4f)\n", m0.ra, m0.rq,
                  rq_want, rq_want / r.mb.rq);
    ASSERT_REL(r.ma.ra / r.mb.ra, 0.7, 0.03);
    ASSERT_REL(r.ma.rq / r.mb.rq, 0.7, 0.03);
    ASSERT_REL(r.ma.rq, rq_want, 0.01);
    sd_image_free(img0);
    run_release(&r);

    /* x1 through a transform, default noise: own-grid scaling keeps it */
    ses.texture_scale = 1.0;
    const double rots[] = {4.0, -6.0}, scales[] = {1.05, 0.93};
    for (int i = 0; i < 2; i++) {
        moved_captures(&cb, &ca, W, H, rots[i], scales[i], -0.5);
        run_pair(&skin, &ses, &cb, &ca, NULL, SD_NORM_EXPOSURE, &r);
        print_run("texture x1 moved", &r);
        ASSERT_REL(r.ma.ra, r.mb.ra, 0.03);
        ASSERT_REL(r.ma.rq, r.mb.rq, 0.03);
        run_release(&r);
    }
}

/* ---- the null pair ---- */

static void test_null_pair(void **state)
{
    (void)state;
    const int W = 640, H = 480;
    sd_synth_skin skin;
    sd_synth_skin_defaults(&skin, 61, W, H);
    sd_synth_capture cb, ca;
    moved_captures(&cb, &ca, W, H, 4.0, 1.05, -0.5);
    run r;
    run_pair(&skin, NULL, &cb, &ca, NULL, SD_NORM_EXPOSURE, &r);
    print_run("null pair (rot 4, scale 1.05, shift 9.5,-6.25, -0.5 EV)", &r);
    const sd_metrics *b = &r.mb, *a = &r.ma;
    print_message("  changes: ra %+.2f %% rq %+.2f %% mean_a %+.2f %% EI %+.2f %% "
                  "red area %+.2f %% pores %+.2f %% area frac %+.2f %% mean area %+.2f %%\n",
                  100 * (a->ra / b->ra - 1), 100 * (a->rq / b->rq - 1),
                  100 * (a->mean_a / b->mean_a - 1),
                  100 * (a->erythema_index / b->erythema_index - 1),
                  100 * (a->red_area_fraction / b->red_area_fraction - 1),
                  100 * (a->pore_count / b->pore_count - 1),
                  100 * (a->pore_area_fraction / b->pore_area_fraction - 1),
                  100 * (a->pore_mean_area_px / b->pore_mean_area_px - 1));
    ASSERT_ABS(r.norm.exposure_ev, -0.5, 0.02);
    ASSERT_REL(a->ra, b->ra, 0.03);
    ASSERT_REL(a->rq, b->rq, 0.03);
    ASSERT_REL(a->mean_a, b->mean_a, 0.02);
    ASSERT_REL(a->erythema_index, b->erythema_index, 0.02);
    ASSERT_REL(a->red_area_fraction, b->red_area_fraction, 0.05);
    ASSERT_REL(a->pore_count, b->pore_count, 0.05);
    ASSERT_REL(a->pore_area_fraction, b->pore_area_fraction, 0.05);
    ASSERT_REL(a->pore_mean_area_px, b->pore_mean_area_px, 0.05);
    run_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pores_recovered),
        cmocka_unit_test(test_pores_in_rect),
        cmocka_unit_test(test_pores_low_contrast),
        cmocka_unit_test(test_no_pores),
        cmocka_unit_test(test_redness_change),
        cmocka_unit_test(test_redness_unchanged),
        cmocka_unit_test(test_texture_ratio),
        cmocka_unit_test(test_null_pair),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

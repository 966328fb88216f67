/* The common ROI against geometry: a known shift gives an exactly countable
 * rectangle; a 45 degree rotation of a square about its centre leaves the
 * regular octagon of area (2 sqrt2 - 2) L^2; rect, mask, border and clipped
 * exclusion count exactly; errors are values. */
#include "sd_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static sd_image *flat(int w, int h)
{
    sc_scene sc = {.base = SC_SKIN};
    return sc_render(&sc, w, h, NULL);
}

static size_t count(const uint8_t *m, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += m[i] == SD_ROI_IN;
    return c;
}

static void build_ok(const sd_image *b, const sd_image *a, const sd_xform *xf,
                     const sd_roi_opts *o, sd_roi *roi)
{
    if (sd_roi_build(ctx, b, a, xf, o, roi) != SD_OK)
        fail_msg("roi: %s", sd_ctx_message(ctx));
}

static void test_shift(void **state)
{
    (void)state;
    const int W = 200, H = 150, b = 18;
    const double tx = 10.3, ty = -5.2;
    sd_image *bi = flat(W, H), *ai = flat(W, H);
    sd_xform xf = {{1, 0, tx, 0, 1, ty}};
    sd_roi_opts o = {.border = b};
    sd_roi roi;
    build_ok(bi, ai, &xf, &o, &roi);
    /* b <= x <= W-1-b and b <= x + tx <= W-1-b */
    int x0 = (int)fmax(b, ceil(b - tx)), x1 = (int)fmin(W - 1 - b, floor(W - 1 - b - tx));
    int y0 = (int)fmax(b, ceil(b - ty)), y1 = (int)fmin(H - 1 - b, floor(H - 1 - b - ty));
    assert_int_equal(roi.pixels, (size_t)(x1 - x0 + 1) * (size_t)(y1 - y0 + 1));
    assert_int_equal(roi.geometric_pixels, roi.pixels);
    assert_int_equal(count(roi.before, (size_t)W * H), roi.pixels);
    assert_int_equal(roi.bbox.x, x0);
    assert_int_equal(roi.bbox.y, y0);
    assert_int_equal(roi.bbox.w, x1 - x0 + 1);
    assert_int_equal(roi.bbox.h, y1 - y0 + 1);
    assert_int_equal(roi.source, SD_ROI_OVERLAP);
    /* AFTER's mask: the same rectangle shifted, as many pixels */
    assert_int_equal(count(roi.after, (size_t)W * H), roi.pixels);
    for (int v = 0; v < H; v++)
        for (int u = 0; u < W; u++) {
            long x = lround(floor(u - tx + 0.5)), y = lround(floor(v - ty + 0.5));
            int in = x >= x0 && x <= x1 && y >= y0 && y <= y1;
            if ((roi.after[(size_t)v * W + u] == SD_ROI_IN) != in)
                fail_msg("AFTER mask wrong at %d,%d", u, v);
        }
    sd_roi_release(&roi);
    sd_roi_release(&roi); /* released twice: harmless */
    sd_image_free(bi);
    sd_image_free(ai);
}

static void test_rotation_octagon(void **state)
{
    (void)state;
    const int N = 401;
    const double L = N - 1, c = L / 2, th = M_PI / 4;
    sd_image *bi = flat(N, N), *ai = flat(N, N);
    sd_xform xf = {{cos(th), -sin(th), 0, sin(th), cos(th), 0}};
    xf.m[2] = c - (xf.m[0] * c + xf.m[1] * c);
    xf.m[5] = c - (xf.m[3] * c + xf.m[4] * c);
    sd_roi_opts o = {.border = 0};
    sd_roi roi;
    build_ok(bi, ai, &xf, &o, &roi);
    double octagon = (2 * sqrt(2) - 2) * L * L;
    print_message("45 deg: %zu pixels, octagon area %.0f\n", roi.pixels, octagon);
    assert_true(fabs(roi.pixels - octagon) < 0.01 * octagon);
    size_t na = count(roi.after, (size_t)N * N);
    assert_true(fabs((double)na - octagon) < 0.01 * octagon);
    sd_roi_release(&roi);
    /* with a border of 20 the octagon is that of side L - 40 */
    o.border = 20;
    build_ok(bi, ai, &xf, &o, &roi);
    double oct2 = (2 * sqrt(2) - 2) * (L - 40) * (L - 40);
    assert_true(fabs(roi.pixels - oct2) < 0.01 * oct2);
    sd_roi_release(&roi);
    sd_image_free(bi);
    sd_image_free(ai);
}

static void test_scale_after_mask(void **state)
{
    (void)state;
    sd_image *bi = flat(200, 200), *ai = flat(230, 230);
    sd_xform xf = {{1.1, 0, 2.0, 0, 1.1, 1.0}};
    sd_roi_opts o = {.border = 10};
    sd_roi roi;
    build_ok(bi, ai, &xf, &o, &roi);
    /* BEFORE: 10 <= x <= 189, and 11 <= 1.1x + 2 <= 218 -> x <= 196.4: 180 x 180 */
    assert_int_equal(roi.pixels, 180 * 180);
    double na = (double)count(roi.after, (size_t)230 * 230);
    assert_true(fabs(na - 1.21 * roi.pixels) < 0.01 * 1.21 * roi.pixels);
    sd_roi_release(&roi);
    sd_image_free(bi);
    sd_image_free(ai);
}

static void test_rect_mask_border(void **state)
{
    (void)state;
    sd_image *bi = flat(120, 100);
    sd_rect r = {5, 30, 50, 20};
    sd_roi_opts o = {.rect = &r, .border = 10};
    sd_roi roi;
    build_ok(bi, NULL, NULL, &o, &roi); /* one image */
    assert_null(roi.after);
    assert_int_equal(roi.source, SD_ROI_RECT);
    assert_int_equal(roi.pixels, (size_t)(55 - 10) * 20); /* x from the border at 10 */
    assert_int_equal(roi.bbox.x, 10);
    assert_int_equal(roi.bbox.w, 45);
    sd_roi_release(&roi);

    uint8_t *mask = calloc(120 * 100, 1);
    size_t disc = 0;
    for (int y = 0; y < 100; y++)
        for (int x = 0; x < 120; x++)
            if ((x - 60) * (x - 60) + (y - 50) * (y - 50) <= 25 * 25) {
                mask[y * 120 + x] = 255;
                disc++;
            }
    sd_roi_opts om = {.mask = mask, .mask_w = 120, .mask_h = 100, .border = 18};
    build_ok(bi, NULL, NULL, &om, &roi);
    assert_int_equal(roi.source, SD_ROI_MASK);
    assert_int_equal(roi.pixels, disc);
    sd_roi_release(&roi);
    /* mask and rect together: the intersection (a quarter-disc plus) */
    sd_rect right = {60, 0, 60, 100};
    om.rect = &right;
    build_ok(bi, NULL, NULL, &om, &roi);
    size_t half = 0;
    for (int y = 0; y < 100; y++)
        for (int x = 60; x < 120; x++)
            half += mask[y * 120 + x] != 0;
    assert_int_equal(roi.pixels, half);
    sd_roi_release(&roi);
    free(mask);
    sd_image_free(bi);
}

static void test_clipped(void **state)
{
    (void)state;
    sc_patch wb = {40, 40, 10, 10, {1, 1, 1}}, wa = {100, 60, 8, 8, {1, 1, 1}};
    sc_scene sb = {.base = SC_SKIN, .nwhite = 1, .white = &wb};
    sc_scene sa = {.base = SC_SKIN, .nwhite = 1, .white = &wa};
    sd_image *bi = sc_render(&sb, 160, 120, NULL), *ai = sc_render(&sa, 160, 120, NULL);
    sd_xform xf = {{1, 0, 3, 0, 1, -2}};
    sd_roi_opts o = {.border = 5};
    sd_roi roi;
    build_ok(bi, ai, &xf, &o, &roi);
    assert_int_equal(roi.clipped_before, 100);
    assert_int_equal(roi.clipped_after, 64);
    assert_int_equal(roi.pixels, roi.geometric_pixels - 164);
    /* the BEFORE pixels under AFTER's white square are out: x + 3 in [100,108) */
    assert_int_equal(roi.before[(size_t)63 * 160 + 97], SD_ROI_EXCLUDED);
    assert_int_equal(roi.before[(size_t)63 * 160 + 96], SD_ROI_IN);
    assert_int_equal(roi.before[(size_t)45 * 160 + 45], SD_ROI_EXCLUDED);
    assert_int_equal(roi.after[(size_t)45 * 160 + 48], SD_ROI_EXCLUDED);
    /* measured through the ROI masks, each image's clipped share is relative to
     * the geometric ROI, and only SD_ROI_IN pixels are measured */
    sd_metric_params p;
    sd_metric_params_default(&p);
    sd_thresholds thr = {0};
    sd_metrics mb, ma;
    assert_int_equal(sd_image_measure(ctx, bi, roi.before, 1.0, NULL, &p, &thr, &mb), SD_OK);
    assert_int_equal(sd_image_measure(ctx, ai, roi.after, 1.0, NULL, &p, &thr, &ma), SD_OK);
    assert_true(fabs(mb.clipped_fraction - 100.0 / roi.geometric_pixels) < 1e-12);
    assert_true(fabs(ma.clipped_fraction - 64.0 / roi.geometric_pixels) < 1e-12);
    assert_int_equal(mb.pixels, roi.pixels);
    assert_int_equal(ma.pixels, roi.pixels);
    sd_roi_release(&roi);
    sd_image_free(bi);
    sd_image_free(ai);
}

/* AFTER's mask by the inverse rule itself: each AFTER pixel takes the label
 * of the BEFORE pixel nearest to its image through inv (sd_xform_apply's
 * arithmetic, floor), when that pixel lies in the box of BEFORE's labelled
 * (geometric) pixels, else 0. */
static void check_after(const sd_roi *roi, const sd_xform *xf, int trial)
{
    int gx0 = roi->bw, gy0 = roi->bh, gx1 = -1, gy1 = -1;
    for (int y = 0; y < roi->bh; y++)
        for (int x = 0; x < roi->bw; x++)
            if (roi->before[(size_t)y * roi->bw + x]) {
                gx0 = x < gx0 ? x : gx0;
                gx1 = x > gx1 ? x : gx1;
                gy0 = y < gy0 ? y : gy0;
                gy1 = y > gy1 ? y : gy1;
            }
    sd_xform inv;
    assert_true(sd_xform_invert(xf, &inv));
    for (int v = 0; v < roi->ah; v++)
        for (int u = 0; u < roi->aw; u++) {
            double tx, ty;
            sd_xform_apply(&inv, u, v, &tx, &ty);
            const double fx = floor(tx + 0.5), fy = floor(ty + 0.5);
            int want = 0;
            if (fx >= gx0 && fx <= gx1 && fy >= gy0 && fy <= gy1)
                want = roi->before[(size_t)fy * roi->bw + (size_t)fx];
            if (roi->after[(size_t)v * roi->aw + u] != want)
                fail_msg("trial %d: AFTER pixel (%d, %d) is %d, the inverse rule says %d", trial,
                         u, v, roi->after[(size_t)v * roi->aw + u], want);
        }
}

/* Pixel for pixel, the BEFORE ROI equals the per-pixel geometric test
 * (sd_roi_mask_overlap: every BEFORE pixel inside the border mapped through
 * xf and tested against AFTER's border, in sd_xform_apply's arithmetic),
 * for random similarities, flips of the sign of every coefficient
 * included. The ROI finds most of each row's run by bisection and fills it,
 * so a one-pixel slip at a run's end would show here. AFTER's mask equals
 * the inverse rule (check_after), which the ROI applies per pixel only near
 * each row's ends; every fifth trial has clipped squares in both images
 * (rows whose labels are not one run), every third a user rectangle. */
static void test_exact_rows(void **state)
{
    (void)state;
    const int bw = 301, bh = 257, aw = 280, ah = 300, border = 7;
    sc_patch wb[2] = {{60, 40, 9, 7, {1, 1, 1}}, {200, 180, 5, 12, {1, 1, 1}}};
    sc_patch wa[2] = {{120, 150, 8, 8, {1, 1, 1}}, {30, 230, 12, 4, {1, 1, 1}}};
    sc_scene sb = {.base = SC_SKIN, .nwhite = 2, .white = wb};
    sc_scene sa = {.base = SC_SKIN, .nwhite = 2, .white = wa};
    sd_image *bi = flat(bw, bh), *ai = flat(aw, ah);
    sd_image *bc = sc_render(&sb, bw, bh, NULL), *ac = sc_render(&sa, aw, ah, NULL);
    uint8_t *ref = malloc((size_t)bw * bh);
    assert_true(bi && ai && bc && ac && ref);
    uint64_t r = 12345;
    for (int trial = 0; trial < 60; trial++) {
        double u[5];
        for (int i = 0; i < 5; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            u[i] = (double)(r >> 11) / 9007199254740992.0;
        }
        /* up to a quarter turn either way (so coefficients of either sign
         * and near zero), scale 0.8..1.2, shifts of +-60 px */
        const double th = (u[0] - 0.5) * (trial < 4 ? 0 : M_PI), s = 0.8 + 0.4 * u[1];
        sd_xform xf = {{s * cos(th), -s * sin(th), (u[2] - 0.5) * 120, s * sin(th), s * cos(th),
                        (u[3] - 0.5) * 120}};
        if (trial == 1)
            xf.m[1] = xf.m[3] = 0; /* axis-aligned: a coefficient exactly 0 */
        const int clipped = trial % 5 == 4;
        const sd_rect rect = {20 + (int)(u[4] * 60), 15 + (int)(u[4] * 40), 200, 180};
        sd_roi_opts o = {.border = border, .rect = trial % 3 == 2 ? &rect : NULL};
        sd_roi roi;
        if (sd_roi_build(ctx, clipped ? bc : bi, clipped ? ac : ai, &xf, &o, &roi) != SD_OK)
            continue; /* no overlap: nothing to compare */
        check_after(&roi, &xf, trial);
        if (clipped || o.rect) {
            sd_roi_release(&roi);
            continue; /* the geometric test below knows neither */
        }
        memset(ref, 0, (size_t)bw * bh);
        for (int y = border; y < bh - border; y++)
            memset(ref + (size_t)y * bw + border, 1, (size_t)(bw - 2 * border));
        assert_int_equal(sd_roi_mask_overlap(ctx, bw, bh, aw, ah, &xf, border, ref), SD_OK);
        for (size_t i = 0; i < (size_t)bw * bh; i++)
            if ((roi.before[i] != 0) != (ref[i] != 0))
                fail_msg("trial %d: pixel (%zu, %zu) is %d, the per-pixel test says %d", trial,
                         i % (size_t)bw, i / (size_t)bw, roi.before[i], ref[i]);
        sd_roi_release(&roi);
    }
    free(ref);
    sd_image_free(bi);
    sd_image_free(ai);
    sd_image_free(bc);
    sd_image_free(ac);
}

/* sd_row_marks against the definition (a sample >= 250 * 257: clipped; a
 * sample <= 5 * 257: dark), on rows with either, both and none, and at
 * every width 1..40 (the vector body and its tail); and a ROI built from
 * given marks is the one sd_roi_build makes itself. */
static void test_given_marks(void **state)
{
    (void)state;
    uint16_t row[3 * 40];
    uint64_t r = 99;
    for (int w = 1; w <= 40; w++)
        for (int k = 0; k < 8; k++) {
            for (int i = 0; i < 3 * w; i++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                /* mostly mid-grey; now and then a clipped or a dark sample */
                const unsigned u = (unsigned)(r >> 33) % 1000;
                row[i] = (uint16_t)(u < 3 ? 250 * 257 + u : u < 6 ? 5 * 257 - u + 3 : 30000 + u);
            }
            unsigned want = 0;
            for (int i = 0; i < 3 * w; i++)
                want |= (row[i] >= 250u * 257u ? SD_ROW_CLIP : 0u) |
                        (row[i] <= 5u * 257u ? SD_ROW_DARK : 0u);
            assert_int_equal(sd_row_marks(row, w), want);
        }
    sc_patch wb = {40, 40, 10, 10, {1, 1, 1}}, wa = {100, 60, 8, 8, {1, 1, 1}};
    sc_scene sb = {.base = SC_SKIN, .nwhite = 1, .white = &wb};
    sc_scene sa = {.base = SC_SKIN, .nwhite = 1, .white = &wa};
    sd_image *bi = sc_render(&sb, 160, 120, NULL), *ai = sc_render(&sa, 150, 130, NULL);
    uint8_t *mb = malloc(120), *ma = malloc(130);
    for (int y = 0; y < 120; y++)
        mb[y] = (uint8_t)sd_row_marks(bi->px + (size_t)y * bi->stride, bi->width);
    for (int y = 0; y < 130; y++)
        ma[y] = (uint8_t)sd_row_marks(ai->px + (size_t)y * ai->stride, ai->width);
    sd_xform xf = {{0.99, -0.05, 3, 0.05, 0.99, -2}};
    sd_roi_opts o = {.border = 5};
    sd_roi a, b;
    build_ok(bi, ai, &xf, &o, &a);
    o.marks_before = mb;
    o.marks_after = ma;
    build_ok(bi, ai, &xf, &o, &b);
    assert_true(a.clipped_before > 0 && a.clipped_after > 0);
    assert_int_equal(a.pixels, b.pixels);
    assert_memory_equal(a.before, b.before, 160 * 120);
    assert_memory_equal(a.after, b.after, 150 * 130);
    assert_memory_equal(a.rows_before, mb, 120);
    assert_memory_equal(b.rows_before, mb, 120);
    assert_memory_equal(a.rows_after, ma, 130);
    assert_memory_equal(b.rows_after, ma, 130);
    sd_roi_release(&a);
    sd_roi_release(&b);
    free(mb);
    free(ma);
    sd_image_free(bi);
    sd_image_free(ai);
}

static void test_errors(void **state)
{
    (void)state;
    sd_image *bi = flat(100, 80), *ai = flat(100, 80);
    sd_roi roi;
    sd_roi_opts o = {.border = 40}; /* 80 high: nothing left */
    assert_int_equal(sd_roi_build(ctx, bi, NULL, NULL, &o, &roi), SD_ERR_TOO_SMALL);
    assert_null(roi.before);
    o.border = 10;
    sd_xform far = {{1, 0, 95, 0, 1, 0}};
    assert_int_equal(sd_roi_build(ctx, bi, ai, &far, &o, &roi), SD_ERR_TOO_SMALL);
    assert_non_null(strstr(sd_ctx_message(ctx), "empty"));
    sd_rect out = {90, 10, 20, 20};
    o.rect = &out;
    assert_int_equal(sd_roi_build(ctx, bi, ai, NULL, &o, &roi), SD_ERR_ARG);
    assert_non_null(strstr(sd_ctx_message(ctx), "not inside"));
    sd_rect neg = {10, 10, 0, 5};
    o.rect = &neg;
    assert_int_equal(sd_roi_build(ctx, bi, ai, NULL, &o, &roi), SD_ERR_ARG);
    sd_rect corner = {0, 0, 10, 10}; /* inside the image but all in the border */
    o.rect = &corner;
    assert_int_equal(sd_roi_build(ctx, bi, ai, NULL, &o, &roi), SD_ERR_TOO_SMALL);
    uint8_t m[4] = {1, 1, 1, 1};
    sd_roi_opts om = {.mask = m, .mask_w = 2, .mask_h = 2};
    assert_int_equal(sd_roi_build(ctx, bi, ai, NULL, &om, &roi), SD_ERR_ARG);
    sd_xform sing = {{0, 0, 0, 0, 0, 0}};
    o.rect = NULL;
    assert_int_equal(sd_roi_build(ctx, bi, ai, &sing, &o, &roi), SD_ERR_ARG);
    /* all clipped */
    sc_patch all = {-1, -1, 1000, 1000, {1, 1, 1}};
    sc_scene w = {.base = SC_SKIN, .nwhite = 1, .white = &all};
    sd_image *white = sc_render(&w, 100, 80, NULL);
    assert_int_equal(sd_roi_build(ctx, white, NULL, NULL, &o, &roi), SD_ERR_TOO_SMALL);
    assert_non_null(strstr(sd_ctx_message(ctx), "clipped"));
    sd_image_free(white);
    sd_image_free(bi);
    sd_image_free(ai);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shift),
        cmocka_unit_test(test_rotation_octagon),
        cmocka_unit_test(test_scale_after_mask),
        cmocka_unit_test(test_rect_mask_border),
        cmocka_unit_test(test_clipped),
        cmocka_unit_test(test_exact_rows),
        cmocka_unit_test(test_given_marks),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

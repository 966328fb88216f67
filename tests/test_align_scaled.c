/* Alignment from JPEG decodes scaled in the DCT domain (sd_align_input):
 * the map must be the full-resolution one whatever the EXIF orientation,
 * including sizes that are not a multiple of the scale (libjpeg's partial
 * last block lands first in the upright picture under orientations 2, 3,
 * 4, 6, 7, 8, which moves every pixel centre of the scaled decode by up to
 * scale - 1 full pixels). Ground truth: a rendered scene pair through a
 * known similarity, stored turned by the inverse of the orientation with
 * an EXIF block saying so. Wrong inputs are refused. */
#include "sd_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align_scene.h"
#include "skindelta/align.h"
#include "skindelta/io.h"

/* JPEG bytes of `up` stored turned so that orientation o makes it upright
 * again, with an EXIF APP1 block carrying o. */
static void encode_oriented(const sd_image *up, int o, uint8_t **out, size_t *out_len)
{
    const int W = o >= 5 ? up->height : up->width, H = o >= 5 ? up->width : up->height;
    sd_image *st = NULL;
    assert_int_equal(sd_image_new(NULL, W, H, 0, &st), SD_OK);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int ux, uy;
            sd_test_upright(o, x, y, W, H, &ux, &uy);
            memcpy(st->px + (size_t)y * st->stride + 3 * (size_t)x,
                   up->px + (size_t)uy * up->stride + 3 * (size_t)ux, 3 * sizeof(uint16_t));
        }
    uint8_t *jpg = NULL;
    size_t len = 0;
    assert_int_equal(sd_image_encode_jpeg(NULL, st, 95, &jpg, &len), SD_OK);
    sd_image_free(st);
    /* SOI, then APP1 "Exif\0\0" + a little-endian TIFF with one IFD entry */
    static const uint8_t tiff_head[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0,
                                        1,   0,   0,  0};
    const size_t app = 2 + 6 + sizeof tiff_head + 4 + 4;
    uint8_t *buf = malloc(len + 2 + app);
    assert_non_null(buf);
    size_t n = 0;
    memcpy(buf, jpg, 2);
    n = 2;
    buf[n++] = 0xFF;
    buf[n++] = 0xE1;
    buf[n++] = (uint8_t)(app >> 8);
    buf[n++] = (uint8_t)app;
    memcpy(buf + n, "Exif\0\0", 6);
    n += 6;
    memcpy(buf + n, tiff_head, sizeof tiff_head);
    n += sizeof tiff_head;
    const uint8_t tail[8] = {(uint8_t)o, 0, 0, 0, 0, 0, 0, 0};
    memcpy(buf + n, tail, sizeof tail);
    n += sizeof tail;
    memcpy(buf + n, jpg + 2, len - 2);
    n += len - 2;
    free(jpg);
    *out = buf;
    *out_len = n;
}

static void test_orientations(void **state)
{
    (void)state;
    /* f0 = 4 (long side 2101 > 2 x 1024): 1/4 decodes, 2101 = 4 * 526 - 3,
     * 1499 = 4 * 375 - 1 */
    const int w = 2101, h = 1499;
    assert_int_equal(sd_align_scale_denom(w, h), 4);
    assert_int_equal(sd_align_scale_denom(1920, 1080), 2);
    assert_int_equal(sd_align_scale_denom(640, 480), 1);
    assert_int_equal(sd_align_scale_denom(9000, 6000), 8);
    scene sc = {777u, w / 640.0, 0, 0};
    sd_xform truth = sc_similarity(5.0, 1.04, 0.05 * w, -0.03 * w, (w - 1) / 2.0, (h - 1) / 2.0);
    shot pb = {{{1, 0, 0, 0, 1, 0}}, 0, 0, 1.0, 3};
    shot pa = {{{1, 0, 0, 0, 1, 0}}, -0.4, 0.2, 1.0, 4};
    assert_true(sd_xform_invert(&truth, &pa.to_scene));
    sd_image *ub = sc_render(&sc, &pb, w, h), *ua = sc_render(&sc, &pa, w, h);
    assert_non_null(ub);
    assert_non_null(ua);
    const int orient[] = {1, 2, 3, 4, 5, 6, 7, 8};
    double worst_scaled = 0, worst_full = 0, worst_apart = 0;
    sd_ctx *ctx = sd_ctx_new();
    sd_ctx_set_threads(ctx, 2);
    for (size_t i = 0; i < sizeof orient / sizeof orient[0]; i++) {
        const int o = orient[i];
        uint8_t *jb = NULL, *ja = NULL;
        size_t lb = 0, la = 0;
        encode_oriented(ub, o, &jb, &lb);
        encode_oriented(ua, o, &ja, &la);
        sd_image *fb = NULL, *fa = NULL, *cb = NULL, *ca = NULL;
        sd_load_opts full = {.max_pixels = 0, .scale_denom = 1}, quarter = {.max_pixels = 0, .scale_denom = 4};
        assert_int_equal(sd_image_load_mem(ctx, jb, lb, "b.jpg", &full, &fb), SD_OK);
        assert_int_equal(sd_image_load_mem(ctx, ja, la, "a.jpg", &full, &fa), SD_OK);
        assert_int_equal(sd_image_load_mem(ctx, jb, lb, "b.jpg", &quarter, &cb), SD_OK);
        assert_int_equal(sd_image_load_mem(ctx, ja, la, "a.jpg", &quarter, &ca), SD_OK);
        assert_int_equal(fb->width, w);
        assert_int_equal(fb->height, h);
        assert_int_equal(cb->orientation, o);
        assert_int_equal(cb->width, (w + 3) / 4);
        assert_int_equal(cb->height, (h + 3) / 4);
        sd_align_result rf, rs;
        assert_int_equal(sd_pair_align(ctx, fb, fa, NULL, &rf), SD_OK);
        sd_align_input ib = {cb, w, h}, ia = {ca, w, h};
        assert_int_equal(sd_pair_align_inputs(ctx, &ib, &ia, NULL, &rs), SD_OK);
        double ef = sc_roi_error(&truth, &rf.xf, w, h);
        double es = sc_roi_error(&truth, &rs.xf, w, h);
        double apart = sc_roi_error(&rf.xf, &rs.xf, w, h);
        print_message("  orientation %d: full decode err %.3f px (ncc %.3f), 1/4 decode err %.3f "
                      "px (ncc %.3f), %.3f px apart\n",
                      o, ef, rf.ncc, es, rs.ncc, apart);
        assert_int_equal(rf.status, SD_ALIGN_OK);
        assert_int_equal(rs.status, SD_ALIGN_OK);
        /* an uncorrected partial block would be off by 3 px in x, 1 in y */
        assert_true(ef < 0.5);
        assert_true(es < 0.5);
        worst_scaled = fmax(worst_scaled, es);
        worst_full = fmax(worst_full, ef);
        worst_apart = fmax(worst_apart, apart);
        /* mixed, BEFORE scaled and AFTER whole: here a grid offset cannot
         * cancel between the two images (with both scaled, an uncorrected
         * one would move the map by only (A - I) times it) */
        sd_align_input iaf = {fa, 0, 0};
        assert_int_equal(sd_pair_align_inputs(ctx, &ib, &iaf, NULL, &rs), SD_OK);
        double em = sc_roi_error(&truth, &rs.xf, w, h);
        print_message("  orientation %d: 1/4 BEFORE with full AFTER err %.3f px\n", o, em);
        assert_true(em < 0.5);
        worst_scaled = fmax(worst_scaled, em);
        sd_image_free(fb);
        sd_image_free(fa);
        sd_image_free(cb);
        sd_image_free(ca);
        free(jb);
        free(ja);
    }
    print_message("2101x1499, 8 orientations: full decodes max err %.3f px, 1/4 decodes max err "
                  "%.3f px, at most %.3f px apart\n",
                  worst_full, worst_scaled, worst_apart);
    sd_ctx_free(ctx);
    sd_image_free(ub);
    sd_image_free(ua);
}

/* sd_image_load_mem_box: the full image is the plain decode's, and every
 * box is the exact mean (rounded) of the full image's pixels of its block,
 * the blocks laid on the stored image (the last ones partial) and turned
 * upright with it, as libjpeg's 1/d decode: all 8 orientations at a size
 * whose blocks are partial on both axes (d = 4; d = 2 and 8, from other box
 * sides, upright and turned). (compare aligns from them: its tests hold the
 * alignment to the truth.) */
static void test_box_means(void **state)
{
    (void)state;
    const int w = 2101, h = 1499;
    /* box sides for d = 2, 4, 8: 2101 / 2 <= 1100, 2101 / 2 > 1024 >= 2101 / 4,
     * 2101 / 4 > 300 >= 2101 / 8 */
    static const int sides[3] = {1100, SD_ALIGN_BASE_SIDE, 300}, ds[3] = {2, 4, 8};
    scene sc = {4242u, w / 640.0, 0, 0};
    shot pb = {{{1, 0, 0, 0, 1, 0}}, 0, 0, 1.0, 3};
    sd_image *up = sc_render(&sc, &pb, w, h);
    assert_non_null(up);
    sd_ctx *ctx = sd_ctx_new();
    /* d = 4 in orientations 1 .. 8, then d = 2 and 8 in 1 and 6 */
    for (int k = 0; k < 12; k++) {
        const int di = k < 8 ? 1 : k < 10 ? 0 : 2, o = k < 8 ? k + 1 : k % 2 ? 6 : 1;
        const int d = ds[di];
        uint8_t *jpg = NULL;
        size_t len = 0;
        encode_oriented(up, o, &jpg, &len);
        sd_image *full = NULL, *plain = NULL, *box = NULL;
        sd_load_opts lo = {.max_pixels = 0, .scale_denom = 1};
        assert_int_equal(sd_image_load_mem(ctx, jpg, len, "x.jpg", &lo, &plain), SD_OK);
        assert_int_equal(
            sd_image_load_mem_box(ctx, jpg, len, "x.jpg", &lo, sides[di], &full, &box),
            SD_OK);
        assert_non_null(box);
        assert_int_equal(full->width, plain->width);
        assert_memory_equal(full->px, plain->px,
                            (size_t)full->height * full->stride * sizeof(uint16_t));
        /* stored size and the box grid on it */
        const int W = o >= 5 ? h : w, H = o >= 5 ? w : h;
        const int BW = (W + d - 1) / d, BH = (H + d - 1) / d;
        assert_int_equal(box->width, o >= 5 ? BH : BW);
        assert_int_equal(box->height, o >= 5 ? BW : BH);
        assert_int_equal(box->orientation, o);
        double *sum = calloc((size_t)BW * BH * 3, sizeof(double));
        int *cnt = calloc((size_t)BW * BH, sizeof(int));
        assert_true(sum && cnt);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int ux, uy, bx, by;
                sd_test_upright(o, x, y, W, H, &ux, &uy);
                sd_test_upright(o, x / d, y / d, BW, BH, &bx, &by);
                const size_t bi = (size_t)by * box->width + (size_t)bx;
                const uint16_t *p = full->px + (size_t)uy * full->stride + 3 * (size_t)ux;
                for (int c = 0; c < 3; c++)
                    sum[3 * bi + c] += p[c];
                cnt[bi]++;
            }
        for (int by = 0; by < box->height; by++)
            for (int bx = 0; bx < box->width; bx++) {
                const size_t bi = (size_t)by * box->width + (size_t)bx;
                for (int c = 0; c < 3; c++) {
                    const int want = (int)floor(sum[3 * bi + c] / cnt[bi] + 0.5);
                    const int got = box->px[(size_t)by * box->stride + 3 * (size_t)bx + c];
                    if (got != want)
                        fail_msg("orientation %d box (%d, %d) channel %d: %d, the mean is %d", o,
                                 bx, by, c, got, want);
                }
            }
        free(sum);
        free(cnt);
        sd_image_free(full);
        sd_image_free(plain);
        sd_image_free(box);
        free(jpg);
    }
    /* too small for boxes, or a scaled decode: none */
    sd_image *full = NULL, *box = NULL;
    uint8_t *jpg = NULL;
    size_t len = 0;
    encode_oriented(up, 1, &jpg, &len);
    sd_load_opts half = {.max_pixels = 0, .scale_denom = 2};
    assert_int_equal(sd_image_load_mem_box(ctx, jpg, len, "x.jpg", &half, 1024, &full, &box),
                     SD_OK);
    assert_null(box);
    sd_image_free(full);
    sd_load_opts one = {.max_pixels = 0, .scale_denom = 1};
    assert_int_equal(sd_image_load_mem_box(ctx, jpg, len, "x.jpg", &one, 4096, &full, &box),
                     SD_OK);
    assert_null(box);
    sd_image_free(full);
    free(jpg);
    sd_ctx_free(ctx);
    sd_image_free(up);
}

static void test_wrong_inputs(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_image *a = NULL, *b = NULL;
    assert_int_equal(sd_image_new(ctx, 500, 375, 0, &a), SD_OK);
    assert_int_equal(sd_image_new(ctx, 1000, 750, 0, &b), SD_OK);
    sd_align_result r;
    /* 500 x 375 is not a 1/2, 1/4 or 1/8 decode of 3000 x 3000 */
    sd_align_input bad = {a, 3000, 3000}, ok = {b, 4000, 3000};
    assert_int_equal(sd_pair_align_inputs(ctx, &bad, &ok, NULL, &r), SD_ERR_ARG);
    assert_non_null(strstr(sd_ctx_message(ctx), "before"));
    assert_int_equal(sd_pair_align_inputs(ctx, &ok, &bad, NULL, &r), SD_ERR_ARG);
    assert_non_null(strstr(sd_ctx_message(ctx), "after"));
    /* a 1/8 decode where the base level is 1/4 */
    sd_align_input eighth = {a, 4000, 3000};
    assert_int_equal(sd_pair_align_inputs(ctx, &ok, &eighth, NULL, &r), SD_ERR_ARG);
    assert_non_null(strstr(sd_ctx_message(ctx), "1/8"));
    /* a stated size below the minimum is too small, whatever the pixels */
    sd_align_input tiny = {a, 20, 20};
    assert_int_equal(sd_pair_align_inputs(ctx, &tiny, &ok, NULL, &r), SD_ERR_TOO_SMALL);
    sd_image_free(a);
    sd_image_free(b);
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orientations),
        cmocka_unit_test(test_box_means),
        cmocka_unit_test(test_wrong_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

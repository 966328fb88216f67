/* Alignment on real photographs from ../shared/data/faces: BEFORE is a
 * centre crop of the photo, AFTER the same photo seen through a known
 * similarity (resampled from the full photo, so AFTER holds real content
 * to its edges), with an exposure change, a lighting gradient, noise and a
 * JPEG recompression. Every transform must be recovered within 1 px over
 * the ROI; pairs of different photos must be refused. */
#include "sd_test.h"

#include <math.h>

#include "align_scene.h"
#include "skindelta/align.h"
#include "skindelta/io.h"
#include "skindelta/kernels.h"

static uint32_t rng_state = 7771u;

static double urand(double lo, double hi)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return lo + (hi - lo) * ((rng_state >> 8) / 16777216.0);
}

static sd_image *load_or_skip(const char *rel)
{
    char path[1024];
    SD_REQUIRE_DATA(path, rel);
    sd_ctx *ctx = sd_ctx_new();
    sd_image *img = NULL;
    if (sd_image_load(ctx, path, NULL, &img) != SD_OK)
        fail_msg("%s", sd_ctx_message(ctx));
    sd_ctx_free(ctx);
    return img;
}

/* JPEG recompression through the io stage: encode at `quality`, decode the
 * bytes again. */
static sd_image *jpeg_roundtrip(sd_ctx *ctx, const sd_image *img, int quality)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    sd_image *out = NULL;
    if (sd_image_encode_jpeg(ctx, img, quality, &buf, &len) != SD_OK ||
        sd_image_load_mem(ctx, buf, len, "recompressed", NULL, &out) != SD_OK)
        fail_msg("%s", sd_ctx_message(ctx));
    free(buf);
    assert_string_equal(out->format, "jpeg");
    assert_int_equal(out->width, img->width);
    assert_int_equal(out->height, img->height);
    return out;
}

/* Exposure gain 2^ev and a left-right lighting gradient on linear light,
 * plus noise (8-bit steps), in place. */
static void relight(sd_image *img, double ev, double shade, double noise, uint32_t seed)
{
    const float *lut = sd_srgb16_lut();
    double g = pow(2.0, ev);
    for (int y = 0; y < img->height; y++) {
        uint16_t *p = img->px + (size_t)y * img->stride;
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < 3; c++) {
                double lin = lut[p[3 * x + c]] * g * (1 + shade * ((double)x / img->width - 0.5));
                double v = sc_encode(lin) + noise * 257.0 * sc_gauss(&seed);
                p[3 * x + c] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : lrint(v));
            }
    }
}

/* BEFORE = crop (ox, oy, w, h) of photo; AFTER = photo through truth. */
static void make_pair(const sd_image *photo, const sd_xform *truth, double ev, double noise,
                      int quality, sd_image **b, sd_image **a)
{
    int w = (int)(0.6 * photo->width), h = (int)(0.6 * photo->height);
    double ox = (photo->width - w) / 2, oy = (photo->height - h) / 2;
    sd_ctx *ctx = sd_ctx_new();
    sd_xform crop = {{1, 0, ox, 0, 1, oy}}, inv, to_photo;
    assert_int_equal(sd_image_warp(ctx, photo, &crop, w, h, b), SD_OK);
    assert_true(sd_xform_invert(truth, &inv));
    /* after pixel -> before pixel (inv) -> photo pixel (+ crop offset) */
    to_photo = inv;
    to_photo.m[2] += ox;
    to_photo.m[5] += oy;
    sd_image *warped = NULL;
    assert_int_equal(sd_image_warp(ctx, photo, &to_photo, w, h, &warped), SD_OK);
    relight(warped, ev, 0.2, noise, 99);
    *a = jpeg_roundtrip(ctx, warped, quality);
    sd_image_free(warped);
    sd_ctx_free(ctx);
}

static void test_photos_warped(void **state)
{
    (void)state;
    static const char *photos[] = {
        "data/faces/face_recognition/biden2.jpg",
        "data/faces/thumbor/giunchedi_2015_01.jpg",
        "data/faces/face_recognition/obama.jpg",
        "data/faces/skimage/astronaut.png",
    };
    enum { PER = 4 };
    double worst = 0, min_ncc = 1;
    int n = 0;
    for (size_t p = 0; p < sizeof photos / sizeof photos[0]; p++) {
        sd_image *photo = load_or_skip(photos[p]);
        for (int i = 0; i < PER; i++) {
            int w = (int)(0.6 * photo->width), h = (int)(0.6 * photo->height);
            double rot = urand(-10, 10), k = urand(0.9, 1.1);
            double dx = urand(-0.1, 0.1) * w, dy = urand(-0.1, 0.1) * w;
            if (i == 0) /* a corner of the range */
                rot = p % 2 ? -10 : 10, k = p % 2 ? 0.9 : 1.1, dx = 0.1 * w, dy = -0.1 * w;
            dy = fmax(-0.1 * h, fmin(0.1 * h, dy)); /* keep AFTER inside the photo */
            double ev = urand(-1, 1), noise = urand(0.5, 2.5);
            int q = 70 + (int)urand(0, 25);
            sd_xform truth = sc_similarity(rot, k, dx, dy, (w - 1) / 2.0, (h - 1) / 2.0);
            sd_image *b, *a;
            make_pair(photo, &truth, ev, noise, q, &b, &a);
            sd_ctx *ctx = sd_ctx_new();
            sd_align_result r;
            assert_int_equal(sd_pair_align(ctx, b, a, NULL, &r), SD_OK);
            double err = sc_roi_error(&truth, &r.xf, w, h);
            print_message("  %-38s %dx%d rot %+6.2f scale %.3f shift %+6.1f %+6.1f ev %+.2f "
                          "q%d -> err %.3f px, ncc %.3f, overlap %.2f, %s\n",
                          photos[p], w, h, rot, k, dx, dy, ev, q, err, r.ncc,
                          r.overlap_fraction, sd_align_status_name(r.status));
            assert_true(err < 1.0);
            assert_int_equal(r.status, SD_ALIGN_OK);
            worst = fmax(worst, err);
            min_ncc = fmin(min_ncc, r.ncc);
            n++;
            sd_ctx_free(ctx);
            sd_image_free(b);
            sd_image_free(a);
        }
        sd_image_free(photo);
    }
    print_message("warped photos: %d pairs, ROI error max %.3f px, lowest ncc %.3f\n", n, worst,
                  min_ncc);
}

/* Different photographs are not comparable. */
static void test_photos_unrelated(void **state)
{
    (void)state;
    static const char *pairs[][2] = {
        {"data/faces/face_recognition/obama.jpg", "data/faces/skimage/astronaut.png"},
        {"data/faces/face_recognition/biden2.jpg", "data/faces/thumbor/giunchedi_2015_01.jpg"},
        {"data/faces/face_recognition/obama.jpg", "data/faces/face_recognition/biden2.jpg"},
        {"data/faces/skimage/astronaut.png", "data/faces/thumbor/giunchedi_2015_01.jpg"},
        {"data/faces/face_recognition/obama.jpg", "data/faces/face_recognition/obama2.jpg"},
    };
    double worst = -1;
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        sd_image *b = load_or_skip(pairs[i][0]), *a = load_or_skip(pairs[i][1]);
        for (int m = 0; m < 3; m++) {
            sd_ctx *ctx = sd_ctx_new();
            sd_align_opts o = {m == 0 ? SD_ALIGN_SIMILARITY : m == 1 ? SD_ALIGN_AFFINE
                                                                     : SD_ALIGN_NONE};
            sd_align_result r;
            assert_int_equal(sd_pair_align(ctx, b, a, &o, &r), SD_OK);
            print_message("  %s vs %s (%s): ncc %.3f overlap %.2f -> %s\n", pairs[i][0],
                          pairs[i][1], sd_align_model_name(o.model), r.ncc, r.overlap_fraction,
                          sd_align_status_name(r.status));
            assert_int_equal(r.status, SD_ALIGN_FAILED);
            worst = fmax(worst, r.ncc);
            sd_ctx_free(ctx);
        }
        sd_image_free(b);
        sd_image_free(a);
    }
    print_message("unrelated photos: highest ncc %.3f\n", worst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_photos_warped),
        cmocka_unit_test(test_photos_unrelated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

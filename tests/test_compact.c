/*
 * Compact storage (sd_load_opts.compact): an upright 8-bit JPEG keeps its
 * samples as bytes. Everything that reads an image must see the same
 * 16-bit samples (257 v) and give bit for bit the same results as from the
 * plain 16-bit load: the loader (rows, box means, row callback), the
 * accessors, expand, warp, the encoders, and the stages compare runs on
 * such images (ROI, normalization, metrics), on skin with clipped and
 * crushed patches so every per-pixel path runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>

#include "core/internal.h"
#include "metrics/metrics_internal.h"
#include "skindelta/align.h"
#include "skindelta/core.h"
#include "skindelta/io.h"
#include "skindelta/metrics.h"
#include "skindelta/normalize.h"
#include "skindelta/synth.h"

/* A fresh file name in TMPDIR (or /tmp). */
static void temp_path(char *path, size_t size)
{
    const char *t = getenv("TMPDIR");
    snprintf(path, size, "%s/sd_compact_XXXXXX", t && *t ? t : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

/* A rendered skin of w x h with a clipped (white) and a crushed (black)
 * patch, as JPEG bytes. */
static void skin_jpeg(sd_ctx *ctx, uint64_t seed, int w, int h, double rot, uint8_t **jpg,
                      size_t *len)
{
    sd_synth_skin skin;
    sd_synth_skin_defaults(&skin, seed, w, h);
    sd_synth_capture cap;
    sd_synth_capture_defaults(&cap, w, h);
    cap.xf = sd_synth_similarity(rot, 1.0, 3.0, -2.0, w / 2.0, h / 2.0);
    sd_image *img = NULL;
    assert_int_equal(sd_synth_render(ctx, &skin, NULL, &cap, &img), SD_OK);
    for (int y = h / 5; y < h / 5 + 12 && y < h; y++)
        for (int x = w / 3; x < w / 3 + 20 && x < w; x++)
            for (int c = 0; c < 3; c++) {
                img->px[(size_t)y * img->stride + 3 * (size_t)x + c] = 65535;
                img->px[(size_t)(h - 1 - y) * img->stride + 3 * (size_t)(w - 1 - x) + c] = 0;
            }
    assert_int_equal(sd_image_encode_jpeg(ctx, img, 92, jpg, len), SD_OK);
    sd_image_free(img);
}

/* The rows of a and b as 16-bit samples are the same. */
static void assert_same_pixels(const sd_image *a, const sd_image *b)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    uint16_t *ra = malloc(6 * (size_t)a->width), *rb = malloc(6 * (size_t)a->width);
    assert_non_null(ra);
    assert_non_null(rb);
    for (int y = 0; y < a->height; y++)
        assert_memory_equal(sd_image_row(a, 0, y, a->width, ra), sd_image_row(b, 0, y, b->width, rb),
                            6 * (size_t)a->width);
    free(ra);
    free(rb);
}

typedef struct rows_seen {
    uint16_t *copy; /* the rows the callback saw, as 16-bit samples */
    uint16_t *scratch;
    int next, bad;
} rows_seen;

static void seen_row(void *arg, const sd_image *img, int y)
{
    rows_seen *r = arg;
    if (y != r->next++) {
        r->bad = 1;
        return;
    }
    memcpy(r->copy + 3 * (size_t)y * (size_t)img->width,
           sd_image_row(img, 0, y, img->width, r->scratch), 6 * (size_t)img->width);
}

/* Load data both ways (box side 64, row callback) and compare everything. */
static void check_load(sd_ctx *ctx, const uint8_t *data, size_t len, int expect_compact)
{
    sd_image *img[2] = {NULL, NULL}, *box[2] = {NULL, NULL};
    rows_seen rs[2];
    for (int k = 0; k < 2; k++) {
        rs[k] = (rows_seen){.copy = calloc(3u << 20, sizeof(uint16_t)),
                            .scratch = calloc(3u << 12, sizeof(uint16_t))};
        sd_load_opts lo = {.row_fn = seen_row, .row_arg = &rs[k], .compact = k};
        assert_int_equal(sd_image_load_mem_box(ctx, data, len, "c.jpg", &lo, 64, &img[k], &box[k]),
                         SD_OK);
        assert_false(rs[k].bad);
        assert_int_equal(rs[k].next, img[k]->height);
    }
    assert_non_null(img[0]->px);
    assert_null(img[0]->px8);
    if (expect_compact) {
        assert_null(img[1]->px);
        assert_non_null(img[1]->px8);
    } else {
        assert_non_null(img[1]->px);
    }
    assert_same_pixels(img[0], img[1]);
    assert_memory_equal(rs[0].copy, rs[1].copy,
                        6 * (size_t)img[0]->width * (size_t)img[0]->height);
    assert_int_equal(img[0]->bits, img[1]->bits);
    assert_int_equal(img[0]->orientation, img[1]->orientation);
    assert_string_equal(img[0]->sha256, img[1]->sha256);
    if (box[0] || box[1]) {
        assert_non_null(box[0]);
        assert_non_null(box[1]);
        assert_same_pixels(box[0], box[1]);
    }
    /* single pixels, and the 16-bit copy */
    for (int i = 0; i < 200; i++) {
        const int x = (i * 7919) % img[0]->width, y = (i * 104729) % img[0]->height;
        uint16_t p0[3], p1[3];
        sd_image_pixel(img[0], x, y, p0);
        sd_image_pixel(img[1], x, y, p1);
        assert_memory_equal(p0, p1, sizeof p0);
        assert_memory_equal(p0, img[0]->px + (size_t)y * img[0]->stride + 3 * (size_t)x,
                            sizeof p0);
    }
    sd_image *wide = NULL;
    assert_int_equal(sd_image_expand(ctx, img[1], &wide), SD_OK);
    assert_non_null(wide->px);
    assert_same_pixels(img[0], wide);
    assert_string_equal(wide->sha256, img[0]->sha256);
    sd_image_free(wide);
    for (int k = 0; k < 2; k++) {
        sd_image_free(img[k]);
        sd_image_free(box[k]);
        free(rs[k].copy);
        free(rs[k].scratch);
    }
}

static void test_loads(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    /* odd sizes, more than one strip, box factors 2 .. 8 */
    const int sizes[][2] = {{1, 1}, {37, 211}, {130, 67}, {333, 150}, {600, 257}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *jpg = NULL;
        size_t len = 0;
        skin_jpeg(ctx, 7 + i, sizes[i][0], sizes[i][1], 0.0, &jpg, &len);
        check_load(ctx, jpg, len, 1);
        free(jpg);
    }
    /* PNGs: an 8-bit one compact, a 16-bit one as without the option */
    sd_image *img = NULL;
    assert_int_equal(sd_image_new(ctx, 50, 40, 0, &img), SD_OK);
    for (size_t i = 0; i < 3 * 50 * 40; i++)
        img->px[i] = (uint16_t)(257 * ((i * 37) % 256) + (i % 3 == 1 ? i % 200 : 0));
    for (int bits = 8; bits <= 16; bits += 8) {
        char png[512];
        temp_path(png, sizeof png);
        assert_int_equal(sd_image_save_png(ctx, img, png, bits), SD_OK);
        uint8_t *data = NULL;
        size_t len = 0;
        assert_int_equal(sd_file_read(ctx, png, 0, &data, &len), SD_OK);
        check_load(ctx, data, len, bits == 8);
        free(data);
        remove(png);
    }
    sd_image_free(img);
    sd_ctx_free(ctx);
}

/* What reads an image reads a compact one the same: warp, the encoders. */
static void test_readers(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    uint8_t *jpg = NULL;
    size_t len = 0;
    skin_jpeg(ctx, 3, 301, 203, 0.0, &jpg, &len);
    sd_image *img[2];
    for (int k = 0; k < 2; k++) {
        sd_load_opts lo = {.compact = k};
        assert_int_equal(sd_image_load_mem(ctx, jpg, len, "r.jpg", &lo, &img[k]), SD_OK);
    }
    assert_non_null(img[1]->px8);
    const sd_xform xf = sd_synth_similarity(4.0, 1.03, 2.5, -1.5, 150, 100);
    sd_image *wp[2];
    uint8_t *enc[2][2];
    size_t elen[2][2];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(sd_image_warp(ctx, img[k], &xf, 280, 190, &wp[k]), SD_OK);
        assert_int_equal(sd_image_encode_jpeg(ctx, img[k], 90, &enc[k][0], &elen[k][0]), SD_OK);
        char png[512];
        temp_path(png, sizeof png);
        assert_int_equal(sd_image_save_png(ctx, img[k], png, 16), SD_OK);
        assert_int_equal(sd_file_read(ctx, png, 0, &enc[k][1], &elen[k][1]), SD_OK);
        remove(png);
    }
    assert_same_pixels(wp[0], wp[1]);
    for (int f = 0; f < 2; f++) {
        assert_int_equal(elen[0][f], elen[1][f]);
        assert_memory_equal(enc[0][f], enc[1][f], elen[0][f]);
    }
    for (int k = 0; k < 2; k++) {
        sd_image_free(img[k]);
        sd_image_free(wp[k]);
        free(enc[k][0]);
        free(enc[k][1]);
    }
    free(jpg);
    sd_ctx_free(ctx);
}

/* The stages compare runs on its images, on a rotated pair with clipped and
 * crushed patches, at one and two threads: the same ROI, gains, thresholds
 * and metrics, bit for bit. */
static void test_stages(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    const int W = 420, H = 300;
    uint8_t *jb = NULL, *ja = NULL;
    size_t lb = 0, la = 0;
    skin_jpeg(ctx, 11, W, H, 0.0, &jb, &lb);
    skin_jpeg(ctx, 11, W, H, 2.0, &ja, &la);
    sd_image *b[2], *a[2];
    for (int k = 0; k < 2; k++) {
        sd_load_opts lo = {.compact = k};
        assert_int_equal(sd_image_load_mem(ctx, jb, lb, "b.jpg", &lo, &b[k]), SD_OK);
        assert_int_equal(sd_image_load_mem(ctx, ja, la, "a.jpg", &lo, &a[k]), SD_OK);
    }
    assert_non_null(b[1]->px8);
    assert_non_null(a[1]->px8);
    const sd_xform xf = sd_synth_similarity(-2.0, 1.0, -3.0, 2.0, W / 2.0, H / 2.0);
    sd_metric_params mp;
    sd_metric_params_default(&mp);
    for (int threads = 1; threads <= 2; threads++) {
        sd_ctx_set_threads(ctx, threads);
        sd_roi roi[2];
        sd_norm_result nr[2];
        sd_metrics mb[2], ma[2], mf[2];
        sd_thresholds thr[2];
        for (int k = 0; k < 2; k++) {
            sd_roi_opts ro = {.border = sd_metric_border(&mp)};
            assert_int_equal(sd_roi_build(ctx, b[k], a[k], &xf, &ro, &roi[k]), SD_OK);
            assert_int_equal(sd_pair_normalize(ctx, b[k], a[k], &xf, &roi[k], SD_NORM_EXPOSURE,
                                               NULL, &nr[k]),
                             SD_OK);
            memset(&thr[k], 0, sizeof thr[k]);
            assert_int_equal(sd_image_measure(ctx, b[k], roi[k].before, 1.0, NULL, &mp, &thr[k],
                                              &mb[k]),
                             SD_OK);
            assert_int_equal(sd_image_measure(ctx, a[k], roi[k].after, 1.0, nr[k].gains, &mp,
                                              &thr[k], &ma[k]),
                             SD_OK);
            /* no mask: the whole frame, its row extremes found here */
            sd_thresholds t = {0};
            assert_int_equal(sd_image_measure(ctx, a[k], NULL, 1.0, NULL, &mp, &t, &mf[k]),
                             SD_OK);
        }
        assert_int_equal(roi[0].pixels, roi[1].pixels);
        assert_memory_equal(roi[0].before, roi[1].before, (size_t)W * H);
        assert_memory_equal(roi[0].after, roi[1].after, (size_t)W * H);
        assert_memory_equal(nr[0].gains, nr[1].gains, sizeof nr[0].gains);
        /* what compare's row callback makes from a compact row's bytes (not
         * widened): the row marks and the exposure levels, as from the
         * 16-bit rows, and the same gains from those levels */
        sd_norm_level *lv[2][2];
        for (int k = 0; k < 2; k++) {
            const sd_image *im[2] = {b[k], a[k]};
            for (int i = 0; i < 2; i++) {
                lv[k][i] = sd_norm_level_new(W, H);
                assert_non_null(lv[k][i]);
                for (int y = 0; y < H; y++) {
                    sd_norm_level_add_row(lv[k][i], im[i], y);
                    if (k)
                        assert_int_equal(sd_image_row_marks(im[i], y),
                                         sd_row_marks(i ? a[0]->px + (size_t)y * a[0]->stride
                                                        : b[0]->px + (size_t)y * b[0]->stride,
                                                      W));
                }
            }
            sd_norm_result nl;
            assert_int_equal(sd_pair_normalize_levels(ctx, b[k], a[k], &xf, &roi[k],
                                                      SD_NORM_EXPOSURE, NULL, lv[k][0], lv[k][1],
                                                      &nl),
                             SD_OK);
            assert_memory_equal(nl.gains, nr[0].gains, sizeof nl.gains);
            sd_norm_level_free(lv[k][0]);
            sd_norm_level_free(lv[k][1]);
        }
        assert_true(thr[0].t_red == thr[1].t_red && thr[0].t_pore == thr[1].t_pore);
        assert_memory_equal(&mb[0], &mb[1], sizeof mb[0]);
        assert_memory_equal(&ma[0], &ma[1], sizeof ma[0]);
        assert_memory_equal(&mf[0], &mf[1], sizeof mf[0]);
        /* the patches were seen */
        assert_true(mf[0].clipped_fraction > 0);
        assert_true(mf[0].crushed_fraction > 0);
        for (int k = 0; k < 2; k++)
            sd_roi_release(&roi[k]);
    }
    for (int k = 0; k < 2; k++) {
        sd_image_free(b[k]);
        sd_image_free(a[k]);
    }
    free(jb);
    free(ja);
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads),
        cmocka_unit_test(test_readers),
        cmocka_unit_test(test_stages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Real files from shared/data:
 *   - jpeg/: every file decodes or is refused cleanly; where a reference
 *     .png sits beside a .jpg the decode matches it (mean and max absolute
 *     error in 8-bit units, tolerances in docs/io.md); arithmetic coding
 *     equals its Huffman transcode; 12-bit is refused as unsupported;
 *     DCT-scaled decodes have libjpeg's size and look like a box downscale;
 *   - exif-orientation/: all nine orientations of each photo load upright,
 *     matching the _1 file within JPEG noise while every wrong placement
 *     is far off;
 *   - corrupt/: every file returns (OK or an error), without a crash, a
 *     leak (make asan) or a hang (an alarm per file and a time bound);
 *   - faces/thumbor: the same photo as JPEG, PNG and CMYK JPEG agrees. */
#include "sd_test.h"

#include <dirent.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>

#include "skindelta/io.h"

/* A hang guard: the default SIGALRM action ends the test binary, which the
 * runner counts as a failure. */
#define PER_FILE_ALARM_S 30
/* Wall-clock bound per corrupt file (generous for sanitizer builds). */
#define PER_FILE_MAX_S 10.0

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ file lists */

typedef struct file_list {
    char **paths;
    int n, cap;
} file_list;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Every regular file under dir (recursively) whose name ends in suffix
 * ("" for all), sorted. */
static void walk(const char *dir, const char *suffix, file_list *fl)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            walk(path, suffix, fl);
        } else if (S_ISREG(st.st_mode) && has_suffix(e->d_name, suffix)) {
            if (fl->n == fl->cap) {
                fl->cap = fl->cap ? 2 * fl->cap : 64;
                fl->paths = realloc(fl->paths, (size_t)fl->cap * sizeof *fl->paths);
                assert_non_null(fl->paths);
            }
            fl->paths[fl->n++] = strdup(path);
        }
    }
    closedir(d);
    qsort(fl->paths, (size_t)fl->n, sizeof *fl->paths, cmp_str);
}

static void free_files(file_list *fl)
{
    for (int i = 0; i < fl->n; i++)
        free(fl->paths[i]);
    free(fl->paths);
    memset(fl, 0, sizeof *fl);
}

/* --------------------------------------------------------------- helpers */

static const uint16_t *px_at(const sd_image *img, int x, int y)
{
    return img->px + (size_t)y * img->stride + 3 * (size_t)x;
}

static void assert_message_names(sd_ctx *ctx, const char *path)
{
    const char *m = sd_ctx_message(ctx);
    size_t n = strlen(path);
    if (strncmp(m, path, n) != 0 || strncmp(m + n, ": ", 2) != 0 || !m[n + 2])
        fail_msg("message does not name %s: \"%s\"", path, m);
    if (strchr(m, '\n'))
        fail_msg("message has a line break: \"%s\"", m);
}

static sd_image *load_ok(sd_ctx *ctx, const char *path, const sd_load_opts *o)
{
    sd_image *img = NULL;
    sd_status s = sd_image_load(ctx, path, o, &img);
    if (s != SD_OK)
        fail_msg("%s: status %d: %s", path, s, sd_ctx_message(ctx));
    return img;
}

/* Mean and max absolute difference in 8-bit units (samples / 257). */
static void diff_stats(const sd_image *a, const sd_image *b, double *mean, double *max)
{
    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    double sum = 0, mx = 0;
    for (int y = 0; y < a->height; y++)
        for (int x = 0; x < a->width; x++)
            for (int c = 0; c < 3; c++) {
                double d = fabs((double)px_at(a, x, y)[c] - px_at(b, x, y)[c]) / 257.0;
                sum += d;
                if (d > mx)
                    mx = d;
            }
    *mean = sum / (3.0 * a->width * a->height);
    *max = mx;
}

/* The colour space libjpeg reads from the header (for the CMYK bound). */
static int jpeg_is_cmyk(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct jpeg_decompress_struct di;
    struct jpeg_error_mgr jerr;
    di.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&di);
    jpeg_stdio_src(&di, f);
    jpeg_read_header(&di, TRUE);
    int cmyk = di.jpeg_color_space == JCS_CMYK || di.jpeg_color_space == JCS_YCCK;
    jpeg_destroy_decompress(&di);
    fclose(f);
    return cmyk;
}

/* ------------------------------------------------------------ JPEG corpus */

static void test_jpeg_corpus_decodes_or_refuses(void **state)
{
    (void)state;
    char dir[512];
    SD_REQUIRE_DATA(dir, "data/jpeg");
    sd_ctx *ctx = sd_ctx_new();
    file_list fl = {0};
    walk(dir, ".jpg", &fl);
    int decoded = 0, refused = 0;
    for (int i = 0; i < fl.n; i++) {
        const char *p = fl.paths[i];
        sd_image *img = NULL;
        alarm(PER_FILE_ALARM_S);
        sd_status s = sd_image_load(ctx, p, NULL, &img);
        alarm(0);
        if (s == SD_OK) {
            assert_true(img->width > 0 && img->height > 0);
            decoded++;
            sd_image_free(img);
        } else {
            assert_null(img);
            assert_message_names(ctx, p);
            print_message("refused: %s\n", sd_ctx_message(ctx) + strlen(dir) + 1);
            refused++;
        }
    }
    print_message("%d JPEG corpus files: %d decoded, %d refused\n", fl.n, decoded, refused);
    assert_true(fl.n >= 30);
    free_files(&fl);

    /* 12-bit: refused as unsupported, saying why */
    char path[1024];
    snprintf(path, sizeof path, "%s/libjpeg-turbo/monkey12.jpg", dir);
    sd_image *img = NULL;
    assert_int_equal(sd_image_load(ctx, path, NULL, &img), SD_ERR_UNSUPPORTED);
    assert_non_null(strstr(sd_ctx_message(ctx), "12-bit"));
    /* a PNG with a .jpg name is a PNG */
    snprintf(path, sizeof path, "%s/mozilla-reftest/jpg-size-6x6.jpg", dir);
    img = load_ok(ctx, path, NULL);
    assert_string_equal(img->format, "png");
    sd_image_free(img);
    sd_ctx_free(ctx);
}

/* Each .jpg against the .png beside it. */
static void test_jpeg_corpus_against_references(void **state)
{
    (void)state;
    char dir[512];
    SD_REQUIRE_DATA(dir, "data/jpeg");
    sd_ctx *ctx = sd_ctx_new();
    file_list fl = {0};
    walk(dir, ".jpg", &fl);
    int compared = 0;
    for (int i = 0; i < fl.n; i++) {
        char ref[1024];
        snprintf(ref, sizeof ref, "%.*s.png", (int)strlen(fl.paths[i]) - 4, fl.paths[i]);
        struct stat st;
        if (stat(ref, &st) != 0)
            continue;
        sd_image *a = load_ok(ctx, fl.paths[i], NULL), *b = load_ok(ctx, ref, NULL);
        if (a->width != b->width || a->height != b->height)
            fail_msg("%s: %dx%d, reference %dx%d", fl.paths[i], a->width, a->height, b->width,
                     b->height);
        double mean, max;
        diff_stats(a, b, &mean, &max);
        int cmyk = strcmp(a->format, "jpeg") == 0 && jpeg_is_cmyk(fl.paths[i]);
        /* tolerances (docs/io.md): IDCT and chroma upsampling differ by a
         * level or so between decoders; CMYK adds the rounding of the
         * CMYK -> RGB product */
        double max_mean = cmyk ? 0.5 : 0.1, max_max = 4.0;
        print_message("%-50s mean %.3f max %.0f%s\n", fl.paths[i] + strlen(dir) + 1, mean, max,
                      cmyk ? " (CMYK)" : "");
        if (mean > max_mean || max > max_max)
            fail_msg("%s differs from its reference: mean %.3f (bound %.2f), max %.0f (bound "
                     "%.0f)",
                     fl.paths[i], mean, max_mean, max, max_max);
        sd_image_free(a);
        sd_image_free(b);
        compared++;
    }
    assert_true(compared >= 24);
    free_files(&fl);
    sd_ctx_free(ctx);
}

/* testimgint.jpg is libjpeg-turbo's lossless Huffman transcode of the
 * arithmetic-coded testimgari.jpg: the same coefficients, so the same
 * pixels. */
static void test_arithmetic_equals_huffman(void **state)
{
    (void)state;
    char ari[512], in[512];
    SD_REQUIRE_DATA(ari, "data/jpeg/libjpeg-turbo/testimgari.jpg");
    SD_REQUIRE_DATA(in, "data/jpeg/libjpeg-turbo/testimgint.jpg");
    sd_ctx *ctx = sd_ctx_new();
    sd_image *a = load_ok(ctx, ari, NULL), *b = load_ok(ctx, in, NULL);
    double mean, max;
    diff_stats(a, b, &mean, &max);
    assert_true(mean == 0 && max == 0);
    assert_int_equal(a->width, 227);
    assert_int_equal(a->height, 149);
    sd_image_free(a);
    sd_image_free(b);
    sd_ctx_free(ctx);
}

static void test_grayscale_jpegs(void **state)
{
    (void)state;
    const char *files[] = {"data/jpeg/mozilla-reftest/jpg-gray.jpg",
                           "data/jpeg/thumbor/grayscale.jpg"};
    sd_ctx *ctx = sd_ctx_new();
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        SD_REQUIRE_DATA(path, files[i]);
        sd_image *img = load_ok(ctx, path, NULL);
        for (int y = 0; y < img->height; y++)
            for (int x = 0; x < img->width; x++) {
                const uint16_t *p = px_at(img, x, y);
                assert_true(p[0] == p[1] && p[1] == p[2]);
            }
        sd_image_free(img);
    }
    sd_ctx_free(ctx);
}

/* scale_denom 2/4/8: the output size libjpeg computes for the header, and
 * a picture close to the d x d box mean of the full decode. */
static void test_scaled_decode_real_photos(void **state)
{
    (void)state;
    const char *files[] = {"data/faces/thumbor/giunchedi_2015_01.jpg",
                           "data/jpeg/libjpeg-turbo/testorig.jpg",
                           "data/faces/thumbor/giunchedi_2015_01-cmyk.jpg"};
    sd_ctx *ctx = sd_ctx_new();
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512];
        SD_REQUIRE_DATA(path, files[i]);
        sd_image *full = load_ok(ctx, path, NULL);
        for (int d = 2; d <= 8; d *= 2) {
            FILE *f = fopen(path, "rb");
            assert_non_null(f);
            struct jpeg_decompress_struct di;
            struct jpeg_error_mgr jerr;
            di.err = jpeg_std_error(&jerr);
            jpeg_create_decompress(&di);
            jpeg_stdio_src(&di, f);
            jpeg_read_header(&di, TRUE);
            di.scale_num = 1;
            di.scale_denom = (unsigned)d;
            jpeg_calc_output_dimensions(&di);
            int sw = (int)di.output_width, sh = (int)di.output_height;
            jpeg_destroy_decompress(&di);
            fclose(f);

            sd_load_opts o = {.max_pixels = 0, .scale_denom = d};
            sd_image *img = load_ok(ctx, path, &o);
            assert_int_equal(img->width, sw);
            assert_int_equal(img->height, sh);
            double sum = 0;
            long n = 0;
            for (int y = 0; (y + 1) * d <= full->height; y++)
                for (int x = 0; (x + 1) * d <= full->width; x++)
                    for (int c = 0; c < 3; c++) {
                        double m = 0;
                        for (int j = 0; j < d; j++)
                            for (int k = 0; k < d; k++)
                                m += px_at(full, x * d + k, y * d + j)[c];
                        sum += fabs(px_at(img, x, y)[c] - m / (d * d)) / 257.0;
                        n++;
                    }
            double mean = sum / (double)n;
            print_message("%s 1/%d: %dx%d, mean difference from the box downscale %.2f\n",
                          files[i], d, sw, sh, mean);
            if (mean > 1.5)
                fail_msg("%s 1/%d: mean difference %.2f from the box downscale", path, d, mean);
            sd_image_free(img);
        }
        sd_image_free(full);
    }
    sd_ctx_free(ctx);
}

/* ---------------------------------------------------------- orientation */

/* Mean difference (8-bit units) between ref and img moved by placement g;
 * -1 when the moved size differs from ref's. Every second pixel. */
static double placed_diff(const sd_image *img, int g, const sd_image *ref)
{
    int W = img->width, H = img->height;
    int pw = g >= 5 ? H : W, ph = g >= 5 ? W : H;
    if (pw != ref->width || ph != ref->height)
        return -1;
    double sum = 0;
    long n = 0;
    for (int y = 0; y < H; y += 2)
        for (int x = 0; x < W; x += 2) {
            int ux, uy;
            sd_test_upright(g, x, y, W, H, &ux, &uy);
            const uint16_t *a = px_at(img, x, y), *b = px_at(ref, ux, uy);
            for (int c = 0; c < 3; c++)
                sum += fabs((double)a[c] - b[c]) / 257.0;
            n += 3;
        }
    return sum / (double)n;
}

static void check_orientation_set(const char *stem)
{
    char dir[512];
    SD_REQUIRE_DATA(dir, "data/exif-orientation");
    sd_ctx *ctx = sd_ctx_new();
    char path[1024];
    snprintf(path, sizeof path, "%s/%s_1.jpg", dir, stem);
    sd_image *ref = load_ok(ctx, path, NULL);
    assert_int_equal(ref->orientation, 1);
    double worst_ok = 0, best_wrong = 1e9;
    for (int n = 0; n <= 8; n++) {
        snprintf(path, sizeof path, "%s/%s_%d.jpg", dir, stem, n);
        sd_image *img = load_ok(ctx, path, NULL);
        assert_int_equal(img->orientation, n == 0 ? 1 : n); /* 0 is invalid: means 1 */
        /* upright size: the same for all nine */
        assert_int_equal(img->width, ref->width);
        assert_int_equal(img->height, ref->height);
        double ok = placed_diff(img, 1, ref);
        if (ok > worst_ok)
            worst_ok = ok;
        print_message("%s_%d: %.2f\n", stem, n, ok);
        if (ok > 6.0)
            fail_msg("%s_%d: mean difference %.2f from %s_1 after orientation", stem, n, ok,
                     stem);
        /* any other placement of the same pixels is far off (those that
         * change the size cannot match at all) */
        for (int g = 2; g <= 8; g++) {
            double wrong = placed_diff(img, g, ref);
            if (wrong < 0)
                continue;
            if (wrong < best_wrong)
                best_wrong = wrong;
            if (wrong < 20.0)
                fail_msg("%s_%d: placement %d is only %.2f from %s_1", stem, n, g, wrong, stem);
        }
        sd_image_free(img);
    }
    print_message("%s: worst upright difference %.2f, closest wrong placement %.2f\n", stem,
                  worst_ok, best_wrong);
    sd_image_free(ref);
    sd_ctx_free(ctx);
}

static void test_exif_orientation_landscape(void **state)
{
    (void)state;
    check_orientation_set("Landscape");
}

static void test_exif_orientation_portrait(void **state)
{
    (void)state;
    check_orientation_set("Portrait");
}

/* --------------------------------------------------------------- corrupt */

static void test_corrupt_corpus(void **state)
{
    (void)state;
    char dir[512];
    SD_REQUIRE_DATA(dir, "data/corrupt");
    sd_ctx *ctx = sd_ctx_new();
    file_list fl = {0};
    walk(dir, "", &fl);
    int ok = 0, errors = 0;
    for (int i = 0; i < fl.n; i++) {
        const char *p = fl.paths[i];
        for (int d = 1; d <= 8; d *= 8) { /* full and 1/8 scale */
            sd_load_opts o = {.max_pixels = 0, .scale_denom = d};
            sd_image *img = NULL;
            double t0 = now_s();
            alarm(PER_FILE_ALARM_S);
            sd_status s = sd_image_load(ctx, p, &o, &img);
            alarm(0);
            double dt = now_s() - t0;
            if (dt > PER_FILE_MAX_S)
                fail_msg("%s took %.1f s", p, dt);
            if (s == SD_OK) {
                assert_true(img->width > 0 && img->height > 0);
                sd_image_free(img);
                ok += d == 1;
            } else {
                assert_null(img);
                assert_message_names(ctx, p);
                errors += d == 1;
                if (d == 1)
                    print_message("%s\n", sd_ctx_message(ctx) + strlen(dir) + 1);
            }
        }
    }
    print_message("%d corrupt-corpus files: %d decoded, %d refused\n", fl.n, ok, errors);
    assert_true(fl.n >= 40);
    free_files(&fl);

    /* the truncated and broken ones are errors, never a padded image */
    static const struct {
        const char *file;
        sd_status s;
    } must[] = {
        {"jpeg/skimage-truncated.jpg", SD_ERR_CORRUPT},
        {"jpeg/pillow-truncated_jpeg.jpg", SD_ERR_CORRUPT},
        {"png/pillow-truncated_end_chunk.png", SD_ERR_CORRUPT},
        {"png/pillow-broken_data_stream.png", SD_ERR_CORRUPT},
        {"png/libpng-crashers/badcrc.png", SD_ERR_CORRUPT},
        {"jpeg/thumbor-image_invalid.jpg", SD_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, must[i].file);
        sd_image *img = NULL;
        sd_status s = sd_image_load(ctx, path, NULL, &img);
        if (s != must[i].s)
            fail_msg("%s: status %d, expected %d (%s)", must[i].file, s, must[i].s,
                     s == SD_OK ? "decoded" : sd_ctx_message(ctx));
        sd_image_free(img);
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/jpeg/skimage-truncated.jpg", dir);
    sd_image *img = NULL;
    assert_int_equal(sd_image_load(ctx, path, NULL, &img), SD_ERR_CORRUPT);
    char expect[1100];
    snprintf(expect, sizeof expect, "%s: premature end of JPEG data", path);
    assert_string_equal(sd_ctx_message(ctx), expect);
    snprintf(path, sizeof path, "%s/jpeg/jpeg-decoder-crashtest/empty.jpg", dir);
    sd_status s = sd_image_load(ctx, path, NULL, &img);
    assert_true(s == SD_ERR_FORMAT || s == SD_ERR_CORRUPT);
    snprintf(expect, sizeof expect, "%s: empty file", path);
    assert_string_equal(sd_ctx_message(ctx), expect);
    sd_ctx_free(ctx);
}

/* ----------------------------------------------------------------- faces */

static void test_faces_encodings_agree(void **state)
{
    (void)state;
    char jpg[512], png[512], cmyk[512];
    SD_REQUIRE_DATA(jpg, "data/faces/thumbor/giunchedi_2015_01.jpg");
    SD_REQUIRE_DATA(png, "data/faces/thumbor/giunchedi_2015_01.png");
    SD_REQUIRE_DATA(cmyk, "data/faces/thumbor/giunchedi_2015_01-cmyk.jpg");
    sd_ctx *ctx = sd_ctx_new();
    sd_image *a = load_ok(ctx, jpg, NULL), *b = load_ok(ctx, png, NULL),
             *c = load_ok(ctx, cmyk, NULL);
    assert_int_equal(a->width, 800);
    assert_int_equal(a->height, 533);
    assert_string_equal(b->format, "png");
    assert_true(jpeg_is_cmyk(cmyk));
    double mean, max;
    diff_stats(a, b, &mean, &max);
    print_message("jpg vs png: mean %.3f max %.0f\n", mean, max);
    assert_true(mean <= 0.1 && max <= 4);
    diff_stats(c, b, &mean, &max);
    print_message("cmyk jpg vs png: mean %.3f max %.0f\n", mean, max);
    assert_true(mean <= 0.5 && max <= 8);
    diff_stats(c, a, &mean, &max);
    print_message("cmyk jpg vs jpg: mean %.3f max %.0f\n", mean, max);
    assert_true(mean <= 0.5 && max <= 8);
    sd_image_free(a);
    sd_image_free(b);
    sd_image_free(c);

    /* the other faces load with the sizes the manifest gives */
    static const struct {
        const char *file;
        int w, h;
    } faces[] = {
        {"data/faces/face_recognition/obama.jpg", 910, 1137},
        {"data/faces/face_recognition/obama-240p.jpg", 427, 240},
        {"data/faces/face_recognition/biden2.jpg", 1200, 1200},
        {"data/faces/skimage/astronaut.png", 512, 512},
        {"data/faces/pillow/hopper.png", 128, 128},
    };
    for (size_t i = 0; i < sizeof faces / sizeof faces[0]; i++) {
        char path[512];
        SD_REQUIRE_DATA(path, faces[i].file);
        sd_image *img = load_ok(ctx, path, NULL);
        assert_int_equal(img->width, faces[i].w);
        assert_int_equal(img->height, faces[i].h);
        sd_image_free(img);
    }
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_corpus_decodes_or_refuses),
        cmocka_unit_test(test_jpeg_corpus_against_references),
        cmocka_unit_test(test_arithmetic_equals_huffman),
        cmocka_unit_test(test_grayscale_jpegs),
        cmocka_unit_test(test_scaled_decode_real_photos),
        cmocka_unit_test(test_exif_orientation_landscape),
        cmocka_unit_test(test_exif_orientation_portrait),
        cmocka_unit_test(test_corrupt_corpus),
        cmocka_unit_test(test_faces_encodings_agree),
    };
    return cmocka_run_group_tests_name("corpus", tests, NULL, NULL);
}

/* PngSuite (shared/data/pngsuite): every valid file loads with the size
 * its IHDR declares (and its name, for the s## files), with pixel values
 * checked against independent references:
 *   - the BMP decodes in reference_bmp/ (a tiny BMP reader below): every
 *     valid file that has one, at every pixel the BMP does not mark fully
 *     transparent (the reference's colour there is arbitrary: tbbn0g04
 *     has black); exact for sources of 8 bits or less, within the rounding
 *     of 16 -> 8 bits for 16-bit sources. The BMPs hold the stored samples
 *     with neither gAMA nor bKGD applied and alpha kept apart, which is
 *     what the loader returns by design (docs/io.md), so gamma and
 *     background do not enter and alpha only through that mask;
 *   - the families the suite declares to be one picture: interlaced basi*
 *     and s##i* against their basn* / s##n* twins, the z0* compression
 *     levels, the oi* IDAT splits, the bg* and tb* background variants,
 *     the cm* / ps* / pp* files that differ only in ancillary chunks (the
 *     f0* filter-type files are five different pictures, as their BMPs
 *     are: they are checked against the BMPs only);
 *   - 16-bit files keep 16-bit precision (not 8-bit values times 257),
 *     except the g*n0g16 gamma pictures, whose samples are v * 257.
 * Every x*.png is refused with SD_ERR_CORRUPT or SD_ERR_FORMAT and a
 * message naming the file. */
#include "sd_test.h"

#include <dirent.h>
#include <math.h>

#include "skindelta/io.h"

#define SUITE "data/pngsuite"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted list of *.png names in the suite folder; *n set. */
static char **list_pngs(const char *dir, int *n)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char **names = NULL;
    int count = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".png") != 0)
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, (size_t)cap * sizeof *names);
            assert_non_null(names);
        }
        names[count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof *names, cmp_str);
    *n = count;
    return names;
}

static void free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* What the file itself declares, read by walking its chunks. */
typedef struct png_facts {
    uint32_t w, h;
    int depth, color, interlace;
    int has_trns;
} png_facts;

static void png_read_facts(const char *path, png_facts *f)
{
    size_t len = 0;
    uint8_t *d = read_all(path, &len);
    assert_non_null(d);
    memset(f, 0, sizeof *f);
    assert_true(len >= 33 && memcmp(d + 12, "IHDR", 4) == 0);
    f->w = be32(d + 16), f->h = be32(d + 20);
    f->depth = d[24], f->color = d[25], f->interlace = d[28];
    for (size_t p = 8; p + 8 <= len;) {
        uint32_t n = be32(d + p);
        if (memcmp(d + p + 4, "tRNS", 4) == 0)
            f->has_trns = 1;
        if (n > len - p - 8)
            break;
        p += 12 + (size_t)n;
    }
    free(d);
}

/* A BMP (32-bit BI_BITFIELDS or BI_RGB, 24-bit BI_RGB) as RGBA rows, top
 * first. */
typedef struct bmp {
    int w, h;
    uint8_t *rgba;
} bmp;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int mask_shift(uint32_t m)
{
    int s = 0;
    while (m && !(m & 1))
        m >>= 1, s++;
    return s;
}

static int bmp_read(const char *path, bmp *b)
{
    size_t len = 0;
    uint8_t *d = read_all(path, &len);
    if (!d)
        return 0;
    assert_true(len >= 54 && d[0] == 'B' && d[1] == 'M');
    uint32_t off = le32(d + 10), hsize = le32(d + 14);
    int32_t w = (int32_t)le32(d + 18), h = (int32_t)le32(d + 22);
    int bpp = d[28] | d[29] << 8;
    uint32_t comp = le32(d + 30);
    int top_down = h < 0;
    if (top_down)
        h = -h;
    assert_true(w > 0 && h > 0 && (bpp == 32 || bpp == 24));
    uint32_t rm = 0x00FF0000u, gm = 0x0000FF00u, bm = 0x000000FFu, am = 0xFF000000u;
    if (comp == 3) { /* masks after the 40-byte header fields */
        assert_true(len >= 14 + 40 + 12);
        rm = le32(d + 54), gm = le32(d + 58), bm = le32(d + 62);
        am = hsize >= 56 ? le32(d + 66) : 0;
    } else {
        assert_int_equal(comp, 0);
        if (bpp == 24)
            am = 0;
    }
    size_t rowb = (((size_t)w * (size_t)bpp / 8) + 3) & ~(size_t)3;
    assert_true(off + rowb * (size_t)h <= len);
    b->w = w, b->h = h;
    b->rgba = malloc((size_t)w * (size_t)h * 4);
    assert_non_null(b->rgba);
    for (int y = 0; y < h; y++) {
        const uint8_t *row = d + off + rowb * (size_t)(top_down ? y : h - 1 - y);
        for (int x = 0; x < w; x++) {
            uint32_t v = bpp == 32 ? le32(row + 4 * x)
                                   : (uint32_t)row[3 * x] | (uint32_t)row[3 * x + 1] << 8 |
                                         (uint32_t)row[3 * x + 2] << 16;
            uint8_t *o = b->rgba + ((size_t)y * (size_t)w + (size_t)x) * 4;
            o[0] = (uint8_t)((v & rm) >> mask_shift(rm));
            o[1] = (uint8_t)((v & gm) >> mask_shift(gm));
            o[2] = (uint8_t)((v & bm) >> mask_shift(bm));
            o[3] = am ? (uint8_t)((v & am) >> mask_shift(am)) : 255;
        }
    }
    free(d);
    return 1;
}

static sd_image *load_ok(sd_ctx *ctx, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/" SUITE "/%s", sd_test_shared(), name);
    sd_image *img = NULL;
    sd_status s = sd_image_load(ctx, path, NULL, &img);
    if (s != SD_OK)
        fail_msg("%s: status %d: %s", name, s, sd_ctx_message(ctx));
    return img;
}

static void assert_same_pixels(sd_ctx *ctx, const char *a, const char *b)
{
    sd_image *ia = load_ok(ctx, a), *ib = load_ok(ctx, b);
    if (ia->width != ib->width || ia->height != ib->height)
        fail_msg("%s and %s differ in size", a, b);
    for (int y = 0; y < ia->height; y++)
        if (memcmp(ia->px + (size_t)y * ia->stride, ib->px + (size_t)y * ib->stride,
                   (size_t)ia->width * 3 * sizeof(uint16_t)) != 0)
            fail_msg("%s and %s differ in row %d", a, b, y);
    sd_image_free(ia);
    sd_image_free(ib);
}

/* Every valid file: loads, IHDR size (and the s## name's size), bits,
 * had_alpha, format; every colour type / depth pair of the PNG standard is
 * met along the way. */
static void test_valid_files_load(void **state)
{
    (void)state;
    char dir[512];
    SD_REQUIRE_DATA(dir, SUITE);
    sd_ctx *ctx = sd_ctx_new();
    int n = 0;
    char **names = list_pngs(dir, &n);
    int seen[7][17] = {{0}};
    int loaded = 0;
    for (int i = 0; i < n; i++) {
        if (names[i][0] == 'x')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        png_facts f;
        png_read_facts(path, &f);
        sd_image *img = load_ok(ctx, names[i]);
        if ((uint32_t)img->width != f.w || (uint32_t)img->height != f.h)
            fail_msg("%s: %dx%d, IHDR says %ux%u", names[i], img->width, img->height, f.w, f.h);
        int side = 0;
        if (names[i][0] == 's' && sscanf(names[i] + 1, "%2d", &side) == 1) {
            assert_int_equal(img->width, side);
            assert_int_equal(img->height, side);
        }
        assert_int_equal(img->bits, f.depth == 16 ? 16 : 8);
        assert_int_equal(img->had_alpha, (f.color & 4) || f.has_trns);
        assert_int_equal(img->orientation, 1);
        assert_string_equal(img->format, "png");
        assert_int_equal(strlen(img->sha256), 64);
        if (f.color <= 6 && f.depth <= 16)
            seen[f.color][f.depth] = 1;
        /* grey sources come out R = G = B */
        if (f.color == 0 || f.color == 4)
            for (int y = 0; y < img->height; y++)
                for (int x = 0; x < img->width; x++) {
                    const uint16_t *p = img->px + (size_t)y * img->stride + 3 * (size_t)x;
                    assert_true(p[0] == p[1] && p[1] == p[2]);
                }
        sd_image_free(img);
        loaded++;
    }
    static const int combos[][2] = {{0, 1}, {0, 2}, {0, 4}, {0, 8}, {0, 16}, {2, 8}, {2, 16},
                                    {3, 1}, {3, 2}, {3, 4}, {3, 8}, {4, 8}, {4, 16}, {6, 8},
                                    {6, 16}};
    for (size_t k = 0; k < sizeof combos / sizeof combos[0]; k++)
        if (!seen[combos[k][0]][combos[k][1]])
            fail_msg("colour type %d depth %d never met", combos[k][0], combos[k][1]);
    print_message("%d valid PngSuite files loaded\n", loaded);
    assert_true(loaded >= 150);
    free_list(names, n);
    sd_ctx_free(ctx);
}

static void test_corrupt_files_refused(void **state)
{
    (void)state;
    char dir[512];
    SD_REQUIRE_DATA(dir, SUITE);
    sd_ctx *ctx = sd_ctx_new();
    int n = 0, refused = 0;
    char **names = list_pngs(dir, &n);
    for (int i = 0; i < n; i++) {
        if (names[i][0] != 'x')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        sd_image *img = NULL;
        sd_status s = sd_image_load(ctx, path, NULL, &img);
        if (s != SD_ERR_CORRUPT && s != SD_ERR_FORMAT)
            fail_msg("%s: status %d (%s)", names[i], s, sd_ctx_message(ctx));
        assert_null(img);
        const char *m = sd_ctx_message(ctx);
        if (strncmp(m, path, strlen(path)) != 0 || strncmp(m + strlen(path), ": ", 2) != 0)
            fail_msg("%s: message does not name the file: %s", names[i], m);
        print_message("%s\n", m + strlen(dir) + 1);
        refused++;
    }
    assert_int_equal(refused, 14);
    free_list(names, n);
    sd_ctx_free(ctx);
}

/* Against the BMP decodes, where the BMP pixel is not fully transparent. */
static void test_against_reference_bmp(void **state)
{
    (void)state;
    char dir[512];
    SD_REQUIRE_DATA(dir, SUITE "/reference_bmp");
    sd_ctx *ctx = sd_ctx_new();
    int n = 0, compared = 0;
    char suite[512];
    snprintf(suite, sizeof suite, "%s/" SUITE, sd_test_shared());
    char **names = list_pngs(suite, &n);
    double worst16 = 0;
    for (int i = 0; i < n; i++) {
        if (names[i][0] == 'x')
            continue;
        char bpath[1024];
        snprintf(bpath, sizeof bpath, "%s/%.*s.bmp", dir, (int)strlen(names[i]) - 4, names[i]);
        bmp b;
        if (!bmp_read(bpath, &b))
            continue;
        sd_image *img = load_ok(ctx, names[i]);
        assert_int_equal(img->width, b.w);
        assert_int_equal(img->height, b.h);
        long visible = 0;
        for (int y = 0; y < b.h; y++)
            for (int x = 0; x < b.w; x++) {
                const uint8_t *r = b.rgba + ((size_t)y * (size_t)b.w + (size_t)x) * 4;
                if (r[3] == 0)
                    continue;
                visible++;
                const uint16_t *p = img->px + (size_t)y * img->stride + 3 * (size_t)x;
                for (int c = 0; c < 3; c++) {
                    if (img->bits == 8) {
                        if (p[c] != r[c] * 257)
                            fail_msg("%s (%d,%d) channel %d: %u, reference %u", names[i], x, y,
                                     c, p[c], r[c] * 257);
                    } else {
                        double e = fabs(p[c] / 257.0 - r[c]);
                        if (e > worst16)
                            worst16 = e;
                        if (e > 1.0)
                            fail_msg("%s (%d,%d) channel %d: %u (%.2f), reference %u", names[i],
                                     x, y, c, p[c], p[c] / 257.0, r[c]);
                    }
                }
            }
        assert_true(visible > 0);
        sd_image_free(img);
        free(b.rgba);
        compared++;
    }
    print_message("%d files compared with their BMP; worst 16-bit difference %.3f (8-bit units)\n",
                  compared, worst16);
    assert_true(compared >= 150);
    free_list(names, n);
    sd_ctx_free(ctx);
}

/* Files the suite declares to be the same picture decode to the same
 * pixels (interlacing, compression level, filter type, IDAT split, and
 * ancillary chunks that the loader ignores). */
static void test_families_equal(void **state)
{
    (void)state;
    char dir[512];
    SD_REQUIRE_DATA(dir, SUITE);
    sd_ctx *ctx = sd_ctx_new();
    int n = 0, pairs = 0;
    char **names = list_pngs(dir, &n);
    for (int i = 0; i < n; i++) {
        const char *f = names[i];
        char twin[64];
        /* basi* -> basn*, s##i* -> s##n* */
        if (strncmp(f, "basi", 4) == 0 || (f[0] == 's' && f[3] == 'i')) {
            snprintf(twin, sizeof twin, "%s", f);
            twin[3] = 'n';
            assert_same_pixels(ctx, f, twin);
            pairs++;
        }
    }
    static const char *const same[][8] = {
        {"z00n2c08.png", "z03n2c08.png", "z06n2c08.png", "z09n2c08.png"},
        {"basn0g16.png", "oi1n0g16.png", "oi2n0g16.png", "oi4n0g16.png", "oi9n0g16.png"},
        {"basn2c16.png", "oi1n2c16.png", "oi2n2c16.png", "oi4n2c16.png", "oi9n2c16.png",
         "pp0n2c16.png", "ps1n2c16.png", "ps2n2c16.png"},
        {"basi4a08.png", "bgai4a08.png"},
        {"basi4a16.png", "bgai4a16.png"},
        {"basn4a08.png", "bgbn4a08.png"},
        {"basn4a16.png", "bggn4a16.png"},
        {"basn6a08.png", "bgan6a08.png", "bgwn6a08.png"},
        {"basn6a16.png", "bgan6a16.png", "bgyn6a16.png"},
        {"tbbn2c16.png", "tbgn2c16.png"},
        {"tbbn3p08.png", "tbgn3p08.png", "tbwn3p08.png", "tbyn3p08.png"},
        {"cm0n0g04.png", "cm7n0g04.png", "cm9n0g04.png"},
        {"ps1n0g08.png", "ps2n0g08.png"},
    };
    for (size_t k = 0; k < sizeof same / sizeof same[0]; k++)
        for (int j = 1; j < 8 && same[k][j]; j++) {
            assert_same_pixels(ctx, same[k][0], same[k][j]);
            pairs++;
        }
    print_message("%d pairs equal\n", pairs);
    assert_int_equal(pairs, 62);
    free_list(names, n);
    sd_ctx_free(ctx);
}

/* 16-bit sources keep their low byte. */
static void test_16bit_precision_kept(void **state)
{
    (void)state;
    char dir[512];
    SD_REQUIRE_DATA(dir, SUITE);
    sd_ctx *ctx = sd_ctx_new();
    int n = 0, files = 0;
    char **names = list_pngs(dir, &n);
    for (int i = 0; i < n; i++) {
        if (names[i][0] == 'x')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        png_facts f;
        png_read_facts(path, &f);
        if (f.depth != 16 || names[i][0] == 'g')
            continue;
        sd_image *img = load_ok(ctx, names[i]);
        assert_int_equal(img->bits, 16);
        long not_x257 = 0, low_nonzero = 0, total = 0;
        for (int y = 0; y < img->height; y++)
            for (int x = 0; x < 3 * img->width; x++) {
                uint16_t v = img->px[(size_t)y * img->stride + (size_t)x];
                not_x257 += v % 257 != 0;
                low_nonzero += (v & 0xFF) != 0;
                total++;
            }
        if (not_x257 == 0 || low_nonzero == 0)
            fail_msg("%s: 16-bit samples look 8-bit (%ld of %ld not v*257)", names[i], not_x257,
                     total);
        sd_image_free(img);
        files++;
    }
    print_message("%d 16-bit files keep their precision\n", files);
    assert_true(files >= 27);
    free_list(names, n);
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_files_load),
        cmocka_unit_test(test_corrupt_files_refused),
        cmocka_unit_test(test_against_reference_bmp),
        cmocka_unit_test(test_families_equal),
        cmocka_unit_test(test_16bit_precision_kept),
    };
    return cmocka_run_group_tests_name("pngsuite", tests, NULL, NULL);
}

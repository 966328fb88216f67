/* Limits against hostile input, measured rather than assumed.
 *
 * Decompression bombs are loaded in a forked child, and the child's peak
 * resident set (ru_maxrss from wait4) and wall time are checked: a refused
 * bomb must stay under 64 MB and finish in well under a second. The bombs:
 * a PNG and a JPEG whose headers declare 60000x60000, and a real
 * 20000x20000 PNG (within the side limit, four times the default pixel cap)
 * whose 1.2 GB of pixels deflate to 7.5 MB. The deflate stream is written
 * here by hand (RFC 1951 fixed Huffman codes: a literal, then 258-byte
 * matches at distance 1), and the same writer's small images are checked
 * to decode, so the big one is a true bomb and not just a broken file.
 *
 * The corpus census loads every file of ../shared/data/{pngsuite,jpeg,
 * corrupt}, each in its own child with a time limit, and counts decoded /
 * refused / other (a signal, a time-out, or a status no loader should
 * return for bad bytes). "other" must be zero; every PngSuite x*.png is
 * refused. The counts are printed (docs/robustness.md quotes them). */
#include "sd_test.h"

#include <dirent.h>
#include <signal.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "skindelta/io.h"

/* ---- a child process that loads, measured ---- */

#define BOMB_RSS_LIMIT_KB (64 * 1024)

typedef struct run {
    int status;     /* sd_status of the load; -1 killed by a signal; -2 timed out */
    int sig;        /* the signal when status == -1 */
    long maxrss_kb; /* peak resident set of the child */
    double secs;    /* wall time */
} run;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Load from memory (data) or from a file (path) in a forked child with an
 * alarm of `timeout` seconds; the child exits with the status. */
static run load_in_child(const void *data, size_t len, const char *path, uint64_t max_pixels,
                         unsigned timeout)
{
    run r = {0, 0, 0, 0};
    fflush(NULL);
    double t0 = now_s();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(timeout);
        sd_ctx *ctx = sd_ctx_new();
        sd_load_opts o = {.max_pixels = max_pixels, .scale_denom = 0};
        sd_image *img = NULL;
        sd_status s = path ? sd_image_load(ctx, path, &o, &img)
                           : sd_image_load_mem(ctx, data, len, "bomb", &o, &img);
        sd_image_free(img);
        sd_ctx_free(ctx);
        _exit((int)s);
    }
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    assert_int_equal(wait4(pid, &st, 0, &ru), pid);
    r.secs = now_s() - t0;
    r.maxrss_kb = ru.ru_maxrss;
    if (WIFEXITED(st)) {
        r.status = WEXITSTATUS(st);
    } else {
        r.sig = WTERMSIG(st);
        r.status = r.sig == SIGALRM ? -2 : -1;
    }
    return r;
}

/* Peak RSS of a child that loads nothing: what fork alone costs. */
static long baseline_rss_kb(void)
{
    static const uint8_t none[1] = {0};
    return load_in_child(none, 1, NULL, 0, 5).maxrss_kb;
}

static void expect_refused_small(const char *what, const void *data, size_t len,
                                 uint64_t max_pixels)
{
    run r = load_in_child(data, len, NULL, max_pixels, 10);
    print_message("%s: status %d, peak RSS %.1f MB (fork alone %.1f MB), %.3f s\n", what,
                  r.status, r.maxrss_kb / 1024.0, baseline_rss_kb() / 1024.0, r.secs);
    if (r.status != SD_ERR_TOO_LARGE)
        fail_msg("%s: status %d (signal %d), expected SD_ERR_TOO_LARGE", what, r.status, r.sig);
    if (r.maxrss_kb >= BOMB_RSS_LIMIT_KB)
        fail_msg("%s: peak RSS %ld kB, over 64 MB", what, r.maxrss_kb);
    if (r.secs > 1.0)
        fail_msg("%s: refusing took %.3f s", what, r.secs);
}

/* ---- PNG writing by hand ---- */

typedef struct buf {
    uint8_t *p;
    size_t len, cap;
    uint64_t bits; /* pending bits of the deflate writer, LSB first */
    int nbits;
} buf;

static void put_bytes(buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        assert_non_null(b->p);
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void put_be32(buf *b, uint32_t v)
{
    uint8_t q[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put_bytes(b, q, 4);
}

/* Bits into the deflate stream: `value` LSB first (headers, extra bits). */
static void put_bits(buf *b, uint32_t value, int n)
{
    b->bits |= (uint64_t)value << b->nbits;
    b->nbits += n;
    while (b->nbits >= 8) {
        uint8_t c = (uint8_t)b->bits;
        put_bytes(b, &c, 1);
        b->bits >>= 8;
        b->nbits -= 8;
    }
}

/* A Huffman code: its bits go MSB first (RFC 1951 3.1.1). */
static void put_code(buf *b, uint32_t code, int n)
{
    for (int i = n - 1; i >= 0; i--)
        put_bits(b, (code >> i) & 1, 1);
}

static void flush_bits(buf *b)
{
    if (b->nbits > 0)
        put_bits(b, 0, 8 - b->nbits);
}

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_chunk(buf *png, const char *type, const uint8_t *d, size_t n)
{
    put_be32(png, (uint32_t)n);
    size_t at = png->len;
    put_bytes(png, type, 4);
    if (n)
        put_bytes(png, d, n);
    put_be32(png, crc32_of(png->p + at, n + 4));
}

/* zlib stream of n zero bytes: one fixed-Huffman block, a literal 0 and
 * then matches of 258 at distance 1 (13 bits each), literals for the rest;
 * Adler-32 of n zeros is a = 1, b = n mod 65521. */
static void zlib_zeros(buf *z, uint64_t n)
{
    const uint8_t hdr[2] = {0x78, 0x01};
    put_bytes(z, hdr, 2);
    put_bits(z, 1, 1); /* BFINAL */
    put_bits(z, 1, 2); /* BTYPE 01: fixed codes */
    uint64_t left = n;
    if (left > 0) {
        put_code(z, 0x30, 8); /* literal 0: 00110000 */
        left--;
    }
    for (; left >= 258; left -= 258) {
        put_code(z, 0xC5, 8); /* length 258: code 285 = 11000101 */
        put_code(z, 0, 5);    /* distance 1: code 0 */
    }
    for (; left > 0; left--)
        put_code(z, 0x30, 8);
    put_code(z, 0, 7); /* end of block: code 256 */
    flush_bits(z);
    put_be32(z, (uint32_t)(n % 65521) << 16 | 1u);
}

/* An all-black w x h 8-bit RGB PNG (filter byte 0 on every row, so the
 * whole decompressed stream is zeros). */
static buf png_black(uint32_t w, uint32_t h)
{
    buf png = {0}, z = {0};
    const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    put_bytes(&png, sig, 8);
    uint8_t ihdr[13] = {(uint8_t)(w >> 24), (uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w,
                        (uint8_t)(h >> 24), (uint8_t)(h >> 16), (uint8_t)(h >> 8), (uint8_t)h,
                        8, 2, 0, 0, 0};
    put_chunk(&png, "IHDR", ihdr, 13);
    zlib_zeros(&z, (uint64_t)h * (1 + 3 * (uint64_t)w));
    /* IDAT chunks of at most 1 MiB, as encoders write them */
    for (size_t at = 0; at < z.len; at += (size_t)1 << 20) {
        size_t n = z.len - at < ((size_t)1 << 20) ? z.len - at : (size_t)1 << 20;
        put_chunk(&png, "IDAT", z.p + at, n);
    }
    put_chunk(&png, "IEND", NULL, 0);
    free(z.p);
    return png;
}

/* ---- the tests ---- */

/* The deflate writer makes real images: small ones decode, all black. */
static void test_png_writer_is_valid(void **state)
{
    (void)state;
    static const uint32_t sizes[][2] = {{1, 1}, {86, 1}, {64, 64}, {301, 17}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        buf png = png_black(sizes[i][0], sizes[i][1]);
        sd_ctx *ctx = sd_ctx_new();
        sd_image *img = NULL;
        sd_status s = sd_image_load_mem(ctx, png.p, png.len, "black.png", NULL, &img);
        if (s != SD_OK)
            fail_msg("%ux%u: %s", sizes[i][0], sizes[i][1], sd_ctx_message(ctx));
        assert_int_equal(img->width, (int)sizes[i][0]);
        assert_int_equal(img->height, (int)sizes[i][1]);
        for (int y = 0; y < img->height; y++)
            for (int x = 0; x < 3 * img->width; x++)
                assert_int_equal(img->px[(size_t)y * img->stride + (size_t)x], 0);
        sd_image_free(img);
        sd_ctx_free(ctx);
        free(png.p);
    }
}

/* 20000 x 20000 (sides within SD_MAX_DIM, 4e8 pixels over the default cap
 * of 1e8): 1.2 GB of pixel data in a 7.5 MB file. */
static void test_png_deflate_bomb(void **state)
{
    (void)state;
    buf png = png_black(20000, 20000);
    print_message("20000x20000 PNG bomb: %zu bytes for %.2f GB of pixel rows\n", png.len,
                  20000.0 * 60001 / 1e9);
    assert_true(png.len < ((size_t)8 << 20));
    expect_refused_small("20000x20000 PNG, default cap", png.p, png.len, 0);
    free(png.p);
    /* a caller's lower cap is honoured the same way: 4000x3000 over 1 Mpx */
    png = png_black(4000, 3000);
    expect_refused_small("4000x3000 PNG, cap 1 Mpx", png.p, png.len, 1000000);
    free(png.p);
}

/* Only a header: IHDR says 60000 x 60000, one tiny IDAT follows. */
static void test_png_header_bomb(void **state)
{
    (void)state;
    buf png = png_black(1, 1);
    /* IHDR data starts at 16: width, height; then its CRC at 29 */
    const uint8_t side[4] = {0, 0, 0xEA, 0x60};
    memcpy(png.p + 16, side, 4);
    memcpy(png.p + 20, side, 4);
    uint32_t c = crc32_of(png.p + 12, 17);
    const uint8_t crc[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    memcpy(png.p + 29, crc, 4);
    expect_refused_small("PNG header 60000x60000", png.p, png.len, 0);
    free(png.p);
}

/* A real 16x16 JPEG from our encoder with its SOF0 size set to 60000. */
static void test_jpeg_header_bomb(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_image *img = NULL;
    assert_int_equal(sd_image_new(ctx, 16, 16, 0, &img), SD_OK);
    uint8_t *jpg = NULL;
    size_t len = 0;
    assert_int_equal(sd_image_encode_jpeg(ctx, img, 90, &jpg, &len), SD_OK);
    sd_image_free(img);
    /* walk the marker segments to SOF0: FF C0 len(2) precision(1) h(2) w(2) */
    size_t i = 2, sof = 0;
    while (i + 4 <= len && jpg[i] == 0xFF) {
        if (jpg[i + 1] == 0xC0) {
            sof = i;
            break;
        }
        i += 2 + ((size_t)jpg[i + 2] << 8 | jpg[i + 3]);
    }
    assert_true(sof > 0 && sof + 9 <= len);
    jpg[sof + 5] = 0xEA, jpg[sof + 6] = 0x60, jpg[sof + 7] = 0xEA, jpg[sof + 8] = 0x60;
    expect_refused_small("JPEG header 60000x60000", jpg, len, 0);
    free(jpg);
    sd_ctx_free(ctx);
}

/* ---- the corpus census ---- */

typedef struct census {
    int tried, decoded, refused, other, x_decoded;
    long worst_rss_kb;
    double worst_secs;
} census;

static int is_refusal(int s)
{
    return s == SD_ERR_FORMAT || s == SD_ERR_CORRUPT || s == SD_ERR_UNSUPPORTED ||
           s == SD_ERR_TOO_LARGE;
}

static int has_image_ext(const char *n)
{
    const char *dot = strrchr(n, '.');
    if (!dot)
        return 0;
    return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg");
}

/* Every regular file under dir (recursively); `images_only` skips files
 * that are not named as images (licences, READMEs). */
static void census_dir(const char *dir, int images_only, int pngsuite, census *c)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    for (int i = 0; i < n; i++) {
        const char *e = names[i]->d_name;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e);
        struct stat st;
        if (e[0] == '.' || stat(path, &st) != 0) {
            free(names[i]);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            census_dir(path, images_only, pngsuite, c);
        } else if (S_ISREG(st.st_mode) && (!images_only || has_image_ext(e))) {
            run r = load_in_child(NULL, 0, path, 0, 20);
            c->tried++;
            if (r.status == SD_OK) {
                c->decoded++;
                if (pngsuite && e[0] == 'x')
                    c->x_decoded++;
            } else if (is_refusal(r.status)) {
                c->refused++;
            } else {
                c->other++;
                print_message("other: %s: status %d, signal %d\n", path, r.status, r.sig);
            }
            if (r.maxrss_kb > c->worst_rss_kb)
                c->worst_rss_kb = r.maxrss_kb;
            if (r.secs > c->worst_secs)
                c->worst_secs = r.secs;
        }
        free(names[i]);
    }
    free(names);
}

static void census_one(const char *rel, int images_only, int pngsuite)
{
    char dir[512];
    SD_REQUIRE_DATA(dir, rel);
    census c = {0, 0, 0, 0, 0, 0, 0};
    census_dir(dir, images_only, pngsuite, &c);
    print_message("census %s: %d tried: %d decoded, %d refused, %d other "
                  "(worst peak RSS %.1f MB, slowest %.3f s)\n",
                  rel, c.tried, c.decoded, c.refused, c.other, c.worst_rss_kb / 1024.0,
                  c.worst_secs);
    assert_true(c.tried > 0);
    assert_int_equal(c.other, 0);
    assert_int_equal(c.x_decoded, 0);
}

static void test_census_pngsuite(void **state)
{
    (void)state;
    census_one("data/pngsuite", 1, 1);
}

static void test_census_jpeg(void **state)
{
    (void)state;
    census_one("data/jpeg", 1, 0);
}

/* every file of corrupt/, whatever its name: all of them are hostile */
static void test_census_corrupt(void **state)
{
    (void)state;
    census_one("data/corrupt", 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_writer_is_valid), cmocka_unit_test(test_png_deflate_bomb),
        cmocka_unit_test(test_png_header_bomb),     cmocka_unit_test(test_jpeg_header_bomb),
        cmocka_unit_test(test_census_pngsuite),     cmocka_unit_test(test_census_jpeg),
        cmocka_unit_test(test_census_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The loaders on inputs made here: SHA-256 against FIPS 180-2, the EXIF
 * parser on hand-made TIFF blocks, file reading errors, format detection by
 * magic bytes, JPEGs and PNGs encoded in memory with libjpeg/libpng
 * (truncated, forged to huge sizes, with EXIF/eXIf orientation, CMYK,
 * progressive with too many scans, DCT-scaled). */
#include "sd_test.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "skindelta/io.h"

/* ---------------------------------------------------------------- helpers */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Deterministic pseudo-random numbers (xorshift32). */
static uint32_t rng_state = 2463534242u;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* A test picture: smooth, asymmetric (so every flip and turn shows), with
 * distinct colours in the four quadrants. */
static void test_pixel(int x, int y, int w, int h, uint8_t rgb[3])
{
    int qx = x >= w / 2, qy = y >= h / 2;
    rgb[0] = (uint8_t)(qx ? 220 : 40);
    rgb[1] = (uint8_t)(qy ? 200 : 60);
    rgb[2] = (uint8_t)(30 + (200 * x) / (w > 1 ? w - 1 : 1) * (y + h) / (2 * h));
}

typedef struct jpeg_spec {
    int w, h;
    int comps;            /* 1 gray, 3 RGB input, 4 CMYK input */
    int quality;
    int progressive;      /* 1: jpeg_simple_progression */
    int orientation;      /* >= 0: add an EXIF APP1 with this tag value */
    int big_endian_exif;  /* MM instead of II */
    const jpeg_scan_info *scans;
    int num_scans;
} jpeg_spec;

/* A TIFF block with IFD0 holding only the Orientation tag. */
static size_t make_orientation_tiff(uint8_t *t, int value, int be)
{
    memset(t, 0, 26);
    if (be) {
        memcpy(t, "MM\0\x2a\0\0\0\x08", 8);
        t[8] = 0, t[9] = 1;              /* one entry */
        t[10] = 0x01, t[11] = 0x12;      /* tag 0x0112 */
        t[12] = 0, t[13] = 3;            /* SHORT */
        t[14] = 0, t[15] = 0, t[16] = 0, t[17] = 1;
        t[18] = (uint8_t)(value >> 8), t[19] = (uint8_t)value;
    } else {
        memcpy(t, "II\x2a\0\x08\0\0\0", 8);
        t[8] = 1, t[9] = 0;
        t[10] = 0x12, t[11] = 0x01;
        t[12] = 3, t[13] = 0;
        t[14] = 1, t[15] = 0, t[16] = 0, t[17] = 0;
        t[18] = (uint8_t)value, t[19] = (uint8_t)(value >> 8);
    }
    /* next IFD offset 0 at 22..25 */
    return 26;
}

/* Encode the test picture with libjpeg's compressor. *out is malloc'd. */
static void encode_jpeg(const jpeg_spec *sp, uint8_t **out, size_t *out_len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    unsigned char *buf = NULL;
    unsigned long len = 0;
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)sp->w;
    c.image_height = (JDIMENSION)sp->h;
    c.input_components = sp->comps;
    c.in_color_space = sp->comps == 1 ? JCS_GRAYSCALE : sp->comps == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, sp->quality, TRUE);
    if (sp->progressive)
        jpeg_simple_progression(&c);
    if (sp->scans) {
        c.scan_info = sp->scans;
        c.num_scans = sp->num_scans;
    }
    jpeg_start_compress(&c, TRUE);
    if (sp->orientation >= 0) {
        uint8_t app1[6 + 26];
        memcpy(app1, "Exif\0\0", 6);
        size_t n = make_orientation_tiff(app1 + 6, sp->orientation, sp->big_endian_exif);
        jpeg_write_marker(&c, JPEG_APP0 + 1, app1, (unsigned)(6 + n));
    }
    JSAMPLE *row = malloc((size_t)sp->w * (size_t)sp->comps);
    assert_non_null(row);
    while (c.next_scanline < c.image_height) {
        int y = (int)c.next_scanline;
        for (int x = 0; x < sp->w; x++) {
            uint8_t rgb[3];
            test_pixel(x, y, sp->w, sp->h, rgb);
            if (sp->comps == 1)
                row[x] = rgb[0];
            else if (sp->comps == 3)
                memcpy(row + 3 * x, rgb, 3);
            else /* stored CMYK values as given; K carries a ramp */
                row[4 * x] = rgb[0], row[4 * x + 1] = rgb[1], row[4 * x + 2] = rgb[2],
                row[4 * x + 3] = (uint8_t)(255 - (x * 64) / sp->w);
        }
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    *out = buf;
    *out_len = len;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}

/* CRC-32 of PNG chunks (ISO 3309), bitwise: independent of zlib. */
static uint32_t crc32_png(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Signature + IHDR only (w x h, 8-bit RGB): enough for a header check. */
static size_t forge_png_header(uint8_t *buf, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(buf, sig, 8);
    put_be32(buf + 8, 13);
    memcpy(buf + 12, "IHDR", 4);
    put_be32(buf + 16, w);
    put_be32(buf + 20, h);
    buf[24] = 8, buf[25] = 2, buf[26] = 0, buf[27] = 0, buf[28] = 0;
    put_be32(buf + 29, crc32_png(buf + 12, 17));
    return 33;
}

typedef struct mem_png {
    uint8_t *data;
    size_t len, cap;
} mem_png;

static void mem_png_write(png_structp png, png_bytep d, size_t n)
{
    mem_png *m = png_get_io_ptr(png);
    if (m->len + n > m->cap) {
        m->cap = (m->len + n) * 2;
        m->data = realloc(m->data, m->cap);
        if (!m->data)
            png_error(png, "oom");
    }
    memcpy(m->data + m->len, d, n);
    m->len += n;
}

static void mem_png_flush(png_structp png) { (void)png; }

/* Encode a PNG with libpng. `rows` holds depth-8 or big-endian depth-16
 * samples in the layout of `color`. exif: an eXIf payload or NULL, written
 * before IDAT, or after it when exif_after_idat. */
static int exif_after_idat;
static void encode_png(int w, int h, int depth, int color, int interlace, const uint8_t *pixels,
                       size_t rowbytes, const uint8_t *exif, size_t exif_len, mem_png *out)
{
    memset(out, 0, sizeof *out);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png)))
        fail_msg("libpng failed to write the test PNG");
    png_set_write_fn(png, out, mem_png_write, mem_png_flush);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (exif && !exif_after_idat)
        png_set_eXIf_1(png, info, (png_uint_32)exif_len, (png_bytep)(uintptr_t)exif);
    png_write_info(png, info);
    png_bytep *rp = malloc((size_t)h * sizeof *rp);
    assert_non_null(rp);
    for (int y = 0; y < h; y++)
        rp[y] = (png_bytep)(uintptr_t)(pixels + (size_t)y * rowbytes);
    png_write_image(png, rp);
    if (exif && exif_after_idat)
        png_set_eXIf_1(png, info, (png_uint_32)exif_len, (png_bytep)(uintptr_t)exif);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rp);
}

static const uint16_t *px_at(const sd_image *img, int x, int y)
{
    return img->px + (size_t)y * img->stride + 3 * (size_t)x;
}

/* The message names the input and is one line. */
static void assert_message_names(sd_ctx *ctx, const char *name)
{
    const char *m = sd_ctx_message(ctx);
    size_t n = strlen(name);
    if (strncmp(m, name, n) != 0 || strncmp(m + n, ": ", 2) != 0)
        fail_msg("message does not start with \"%s: \": \"%s\"", name, m);
    if (strchr(m, '\n'))
        fail_msg("message has a line break: \"%s\"", m);
}

/* ------------------------------------------------------------------ SHA-256 */

static void test_sha256_fips180_2(void **state)
{
    (void)state;
    char hex[65];
    sd_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sd_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sd_sha256_hex(NULL, 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sd_sha256_hex(m, strlen(m), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* -------------------------------------------------------------------- EXIF */

/* Calls the parser on an exact-size heap copy, so ASan sees any read past
 * the end. */
static int exif_exact(const uint8_t *t, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, t, len);
    int o = sd_exif_orientation(copy, len);
    free(copy);
    return o;
}

static void test_exif_byte_orders(void **state)
{
    (void)state;
    uint8_t t[64];
    for (int v = 1; v <= 8; v++) {
        size_t n = make_orientation_tiff(t, v, 0);
        assert_int_equal(exif_exact(t, n), v);
        n = make_orientation_tiff(t, v, 1);
        assert_int_equal(exif_exact(t, n), v);
    }
    /* the same bytes read in the wrong order would be 0x0600: MM says 6 */
    size_t n = make_orientation_tiff(t, 6, 1);
    assert_int_equal(t[18], 0);
    assert_int_equal(exif_exact(t, n), 6);
}

static void test_exif_invalid_values(void **state)
{
    (void)state;
    uint8_t t[64];
    int bad[] = {0, 9, 255, 0x0106, 0xFFFF};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(exif_exact(t, make_orientation_tiff(t, bad[i], 0)), 1);
        assert_int_equal(exif_exact(t, make_orientation_tiff(t, bad[i], 1)), 1);
    }
}

static void test_exif_tag_absent_and_bad_headers(void **state)
{
    (void)state;
    uint8_t t[64];
    size_t n = make_orientation_tiff(t, 6, 0);
    t[10] = 0x10; /* tag 0x0110 (Model) instead */
    assert_int_equal(exif_exact(t, n), 1);

    n = make_orientation_tiff(t, 6, 0);
    t[8] = 0; /* zero entries */
    assert_int_equal(exif_exact(t, n), 1);

    n = make_orientation_tiff(t, 6, 0);
    t[2] = 43; /* not 42 */
    assert_int_equal(exif_exact(t, n), 1);

    n = make_orientation_tiff(t, 6, 0);
    t[0] = 'I', t[1] = 'M'; /* no byte order */
    assert_int_equal(exif_exact(t, n), 1);

    assert_int_equal(sd_exif_orientation(NULL, 100), 1);
    assert_int_equal(exif_exact(t, 0), 1);
    assert_int_equal(exif_exact((const uint8_t *)"II*\0", 4), 1);

    /* a wrong type (ASCII) is not trusted */
    n = make_orientation_tiff(t, 6, 0);
    t[12] = 2;
    assert_int_equal(exif_exact(t, n), 1);

    /* count 0 */
    n = make_orientation_tiff(t, 6, 0);
    t[14] = 0;
    assert_int_equal(exif_exact(t, n), 1);

    /* a LONG holding the value (seen in the wild) is accepted */
    n = make_orientation_tiff(t, 6, 0);
    t[12] = 4;
    assert_int_equal(exif_exact(t, n), 6);
}

static void test_exif_offsets_out_of_bounds(void **state)
{
    (void)state;
    uint8_t t[64];
    /* IFD offset past the end, at the end, and one byte short of a count */
    size_t n = make_orientation_tiff(t, 6, 0);
    uint32_t offs[] = {26, 25, 1000, 0xFFFFFFF0u, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        t[4] = (uint8_t)offs[i], t[5] = (uint8_t)(offs[i] >> 8), t[6] = (uint8_t)(offs[i] >> 16),
        t[7] = (uint8_t)(offs[i] >> 24);
        assert_int_equal(exif_exact(t, n), 1);
    }

    /* entry count far larger than the block: only whole entries are read */
    n = make_orientation_tiff(t, 6, 0);
    t[8] = 0xFF, t[9] = 0xFF;
    assert_int_equal(exif_exact(t, n), 6);
    n = make_orientation_tiff(t, 6, 0);
    t[10] = 0x10; /* ... and the tag absent: no read past the end */
    t[8] = 0xFF, t[9] = 0xFF;
    assert_int_equal(exif_exact(t, n), 1);

    /* SHORT count so large the values sit at an offset: out of bounds */
    n = make_orientation_tiff(t, 6, 0);
    t[14] = 0xFF, t[15] = 0xFF, t[16] = 0xFF, t[17] = 0xFF;
    t[18] = 0xF0, t[19] = 0xFF, t[20] = 0xFF, t[21] = 0xFF;
    assert_int_equal(exif_exact(t, n), 1);
    /* ... and in bounds: the first value is used */
    n = make_orientation_tiff(t, 0, 0);
    t[14] = 3;          /* three SHORTs */
    t[18] = 26, t[19] = 0, t[20] = 0, t[21] = 0;
    t[26] = 8, t[27] = 0, t[28] = 1, t[29] = 0, t[30] = 1, t[31] = 0;
    assert_int_equal(exif_exact(t, 32), 8);
    assert_int_equal(exif_exact(t, 27), 1); /* the value cut in half */

    /* every prefix of a valid block: never a read past len, and the value
     * only once the whole entry is there */
    n = make_orientation_tiff(t, 3, 1);
    for (size_t len = 0; len <= n; len++)
        assert_int_equal(exif_exact(t, len), len >= 22 ? 3 : 1);
}

static void test_exif_random_blocks(void **state)
{
    (void)state;
    uint8_t t[96];
    for (int i = 0; i < 20000; i++) {
        size_t len = rnd() % sizeof t;
        for (size_t k = 0; k < len; k++)
            t[k] = (uint8_t)rnd();
        if (len >= 8 && (i & 1)) { /* valid header, random IFD */
            memcpy(t, (i & 2) ? "MM\0\x2a" : "II\x2a\0", 4);
            t[4] = t[5] = t[6] = 0;
            t[7] = (uint8_t)(rnd() % 100);
            if (!(i & 2))
                t[4] = t[7], t[7] = 0;
        }
        int o = exif_exact(t, len);
        assert_true(o >= 1 && o <= 8);
    }
}

/* ------------------------------------------------------- files and formats */

static void test_missing_and_unreadable_files(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_image *img = (sd_image *)1;
    assert_int_equal(sd_image_load(ctx, "/nonexistent/before.jpg", NULL, &img), SD_ERR_IO);
    assert_null(img);
    assert_string_equal(sd_ctx_message(ctx), "/nonexistent/before.jpg: No such file or directory");

    assert_int_equal(sd_image_load(ctx, "/", NULL, &img), SD_ERR_IO);
    assert_message_names(ctx, "/");
    assert_null(img);

    if (geteuid() != 0) { /* root reads anything */
        char path[] = "/tmp/sd_io_XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        close(fd);
        chmod(path, 0);
        assert_int_equal(sd_image_load(ctx, path, NULL, &img), SD_ERR_IO);
        assert_message_names(ctx, path);
        assert_non_null(strstr(sd_ctx_message(ctx), "Permission denied"));
        unlink(path);
    }
    sd_ctx_free(ctx);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_empty_file_and_size_cap(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    char dir[] = "/tmp/sd_io_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/empty.jpg", dir);
    write_file(path, "", 0);
    sd_image *img = NULL;
    sd_status s = sd_image_load(ctx, path, NULL, &img);
    assert_true(s == SD_ERR_FORMAT || s == SD_ERR_CORRUPT);
    char expect[300];
    snprintf(expect, sizeof expect, "%s: empty file", path);
    assert_string_equal(sd_ctx_message(ctx), expect);

    /* sd_file_read: contents, and the cap refused before reading */
    uint8_t data[100];
    for (int i = 0; i < 100; i++)
        data[i] = (uint8_t)(i * 7);
    snprintf(path, sizeof path, "%s/data.bin", dir);
    write_file(path, data, sizeof data);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sd_file_read(ctx, path, 0, &buf, &len), SD_OK);
    assert_int_equal(len, 100);
    assert_memory_equal(buf, data, 100);
    free(buf);
    assert_int_equal(sd_file_read(ctx, path, 100, &buf, &len), SD_OK);
    free(buf);
    assert_int_equal(sd_file_read(ctx, path, 99, &buf, &len), SD_ERR_TOO_LARGE);
    assert_null(buf);
    assert_message_names(ctx, path);
    unlink(path);
    snprintf(path, sizeof path, "%s/empty.jpg", dir);
    unlink(path);
    rmdir(dir);
    sd_ctx_free(ctx);
}

static void test_not_an_image(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_image *img = NULL;
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)rnd();
    junk[0] = 'x'; /* neither FF nor 89 */
    assert_int_equal(sd_image_load_mem(ctx, junk, sizeof junk, "junk.jpg", NULL, &img),
                     SD_ERR_FORMAT);
    assert_string_equal(sd_ctx_message(ctx), "junk.jpg: not a JPEG or PNG file");
    assert_null(img);

    /* empty and 1-byte buffers */
    sd_status s = sd_image_load_mem(ctx, junk, 0, "e.png", NULL, &img);
    assert_true(s == SD_ERR_FORMAT || s == SD_ERR_CORRUPT);
    assert_string_equal(sd_ctx_message(ctx), "e.png: empty file");
    const uint8_t ff = 0xFF, p89 = 0x89;
    s = sd_image_load_mem(ctx, &ff, 1, "one.jpg", NULL, &img);
    assert_true(s == SD_ERR_FORMAT || s == SD_ERR_CORRUPT);
    assert_message_names(ctx, "one.jpg");
    s = sd_image_load_mem(ctx, &p89, 1, "one.png", NULL, &img);
    assert_true(s == SD_ERR_FORMAT || s == SD_ERR_CORRUPT);
    assert_message_names(ctx, "one.png");

    /* random bytes behind a JPEG or PNG signature: an error, never OK */
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    for (int i = 0; i < 200; i++) {
        size_t len = 2 + rnd() % 2000;
        for (size_t k = 0; k < len; k++)
            junk[k] = (uint8_t)rnd();
        if (i & 1)
            junk[0] = 0xFF, junk[1] = 0xD8;
        else
            memcpy(junk, png_sig, len < 8 ? len : 8);
        s = sd_image_load_mem(ctx, junk, len, "rnd", NULL, &img);
        assert_int_not_equal(s, SD_OK);
        assert_null(img);
        assert_message_names(ctx, "rnd");
    }
    /* NULL name and bad options */
    junk[0] = 'x';
    assert_int_equal(sd_image_load_mem(ctx, junk, 10, NULL, NULL, &img), SD_ERR_FORMAT);
    sd_load_opts o = {.max_pixels = 0, .scale_denom = 3};
    assert_int_equal(sd_image_load_mem(ctx, png_sig, 8, "x", &o, &img), SD_ERR_ARG);
    sd_ctx_free(ctx);
}

/* The name does not matter: a JPEG called .png is a JPEG. */
static void test_format_from_magic_not_name(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    jpeg_spec sp = {32, 24, 3, 90, 0, -1, 0, NULL, 0};
    uint8_t *jpg = NULL;
    size_t jlen = 0;
    encode_jpeg(&sp, &jpg, &jlen);
    char dir[] = "/tmp/sd_io_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/photo.png", dir);
    write_file(path, jpg, jlen);
    sd_image *img = NULL;
    assert_int_equal(sd_image_load(ctx, path, NULL, &img), SD_OK);
    assert_string_equal(img->format, "jpeg");
    char hex[65];
    sd_sha256_hex(jpg, jlen, hex);
    assert_string_equal(img->sha256, hex);
    sd_image_free(img);
    unlink(path);
    rmdir(dir);
    free(jpg);
    sd_ctx_free(ctx);
}

/* -------------------------------------------------------------------- JPEG */

static void test_jpeg_roundtrip(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    for (int comps = 1; comps <= 3; comps += 2)
        for (int prog = 0; prog <= 1; prog++) {
            jpeg_spec sp = {61, 37, comps, 98, prog, -1, 0, NULL, 0};
            uint8_t *jpg = NULL;
            size_t len = 0;
            encode_jpeg(&sp, &jpg, &len);
            sd_image *img = NULL;
            assert_int_equal(sd_image_load_mem(ctx, jpg, len, "rt.jpg", NULL, &img), SD_OK);
            assert_int_equal(img->width, 61);
            assert_int_equal(img->height, 37);
            assert_int_equal(img->bits, 8);
            assert_int_equal(img->orientation, 1);
            assert_int_equal(img->had_alpha, 0);
            assert_string_equal(img->format, "jpeg");
            char hex[65];
            sd_sha256_hex(jpg, len, hex);
            assert_string_equal(img->sha256, hex);
            assert_true(img->stride >= 3 * (size_t)img->width);
            double sum = 0;
            for (int y = 0; y < 37; y++)
                for (int x = 0; x < 61; x++) {
                    uint8_t rgb[3];
                    test_pixel(x, y, 61, 37, rgb);
                    const uint16_t *p = px_at(img, x, y);
                    for (int c = 0; c < 3; c++) {
                        assert_int_equal(p[c] % 257, 0); /* 8-bit v stored as v * 257 */
                        int want = comps == 1 ? rgb[0] : rgb[c];
                        sum += fabs(p[c] / 257.0 - want);
                    }
                    if (comps == 1) /* grey: R = G = B */
                        assert_true(p[0] == p[1] && p[1] == p[2]);
                }
            double mean = sum / (61.0 * 37 * 3);
            if (mean > 3.0)
                fail_msg("comps %d prog %d: mean error %.2f", comps, prog, mean);
            sd_image_free(img);
            free(jpg);
        }
    sd_ctx_free(ctx);
}

/* Cut a valid JPEG at many points: always SD_ERR_CORRUPT, never a
 * grey-padded success. */
static void test_jpeg_truncated(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    for (int prog = 0; prog <= 1; prog++) {
        jpeg_spec sp = {64, 48, 3, 85, prog, 6, 0, NULL, 0};
        uint8_t *jpg = NULL;
        size_t len = 0;
        encode_jpeg(&sp, &jpg, &len);
        sd_image *img = NULL;
        assert_int_equal(sd_image_load_mem(ctx, jpg, len, "whole.jpg", NULL, &img), SD_OK);
        sd_image_free(img);
        for (size_t cut = 2; cut < len; cut += (cut < 700 ? 1 : 7)) {
            uint8_t *part = malloc(cut);
            assert_non_null(part);
            memcpy(part, jpg, cut);
            img = NULL;
            sd_status s = sd_image_load_mem(ctx, part, cut, "before.jpg", NULL, &img);
            if (s != SD_ERR_CORRUPT)
                fail_msg("cut at %zu of %zu (progressive %d): status %d \"%s\"", cut, len, prog,
                         s, sd_ctx_message(ctx));
            assert_null(img);
            assert_message_names(ctx, "before.jpg");
            free(part);
        }
        /* the end cut off mid-data says so in the example's words */
        uint8_t *part = malloc(len / 2);
        memcpy(part, jpg, len / 2);
        assert_int_equal(sd_image_load_mem(ctx, part, len / 2, "before.jpg", NULL, &img),
                         SD_ERR_CORRUPT);
        assert_string_equal(sd_ctx_message(ctx), "before.jpg: premature end of JPEG data");
        free(part);
        free(jpg);
    }
    sd_ctx_free(ctx);
}

/* libjpeg's warnings about corrupt data are errors. */
static void test_jpeg_warnings_are_errors(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    jpeg_spec sp = {40, 40, 3, 90, 0, -1, 0, NULL, 0};
    uint8_t *jpg = NULL;
    size_t len = 0;
    encode_jpeg(&sp, &jpg, &len);
    assert_true(jpg[len - 2] == 0xFF && jpg[len - 1] == 0xD9);
    /* six junk bytes before EOI: "extraneous bytes" */
    uint8_t *x = malloc(len + 6);
    memcpy(x, jpg, len - 2);
    memcpy(x + len - 2, "\x12\x34\x56\x78\x9a\xbc", 6);
    memcpy(x + len + 4, "\xFF\xD9", 2);
    sd_image *img = NULL;
    assert_int_equal(sd_image_load_mem(ctx, x, len + 6, "x.jpg", NULL, &img), SD_ERR_CORRUPT);
    assert_null(img);
    assert_message_names(ctx, "x.jpg");
    assert_non_null(strstr(sd_ctx_message(ctx), "extraneous bytes"));
    free(x);
    free(jpg);
    sd_ctx_free(ctx);
}

/* A forged header declaring a huge image is refused at once, before the
 * image is allocated: the call returns fast, and ASan would abort on a
 * 25 GB allocation attempt. */
static void test_jpeg_forged_huge_header(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    jpeg_spec sp = {16, 16, 3, 90, 0, -1, 0, NULL, 0};
    uint8_t *jpg = NULL;
    size_t len = 0;
    encode_jpeg(&sp, &jpg, &len);
    size_t sof = 0;
    for (size_t i = 2; i + 9 < len; i++)
        if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
            sof = i;
            break;
        }
    assert_true(sof > 0);
    /* FF C0 len(2) precision(1) height(2) width(2) */
    jpg[sof + 5] = 0xEA, jpg[sof + 6] = 0x60; /* 60000 */
    jpg[sof + 7] = 0xEA, jpg[sof + 8] = 0x60;
    sd_load_opts small = {.max_pixels = 1000, .scale_denom = 0};
    sd_image *img = NULL;
    double t0 = now_s();
    assert_int_equal(sd_image_load_mem(ctx, jpg, len, "huge.jpg", &small, &img),
                     SD_ERR_TOO_LARGE);
    assert_int_equal(sd_image_load_mem(ctx, jpg, len, "huge.jpg", NULL, &img), SD_ERR_TOO_LARGE);
    double dt = now_s() - t0;
    assert_null(img);
    assert_message_names(ctx, "huge.jpg");
    assert_non_null(strstr(sd_ctx_message(ctx), "60000x60000"));
    if (dt > 0.5)
        fail_msg("refusing a forged header took %.3f s", dt);
    /* the cap applies to the real 16x16 image too */
    jpg[sof + 5] = 0, jpg[sof + 6] = 16, jpg[sof + 7] = 0, jpg[sof + 8] = 16;
    sd_load_opts tiny = {.max_pixels = 255, .scale_denom = 0};
    assert_int_equal(sd_image_load_mem(ctx, jpg, len, "small.jpg", &tiny, &img),
                     SD_ERR_TOO_LARGE);
    tiny.max_pixels = 256;
    assert_int_equal(sd_image_load_mem(ctx, jpg, len, "small.jpg", &tiny, &img), SD_OK);
    sd_image_free(img);
    free(jpg);
    sd_ctx_free(ctx);
}

/* A progressive script of one scan per coefficient and bit: 631 scans,
 * over the limit of 500; the same idea with 442 scans decodes. */
static jpeg_scan_info *many_scans(int al_first, int *n)
{
    int count = 1 + 63 * (al_first + 1);
    jpeg_scan_info *s = calloc((size_t)count, sizeof *s);
    assert_non_null(s);
    int k = 0;
    s[k].comps_in_scan = 1, s[k].component_index[0] = 0, s[k].Ss = 0, s[k].Se = 0;
    s[k].Ah = 0, s[k].Al = 0, k++;
    for (int coef = 1; coef <= 63; coef++) {
        s[k].comps_in_scan = 1, s[k].Ss = s[k].Se = coef, s[k].Ah = 0, s[k].Al = al_first, k++;
        for (int al = al_first; al > 0; al--) {
            s[k].comps_in_scan = 1, s[k].Ss = s[k].Se = coef;
            s[k].Ah = al, s[k].Al = al - 1, k++;
        }
    }
    assert_int_equal(k, count);
    *n = count;
    return s;
}

static void test_jpeg_scan_limit(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    int n = 0;
    jpeg_scan_info *scans = many_scans(9, &n);
    assert_true(n > 500);
    jpeg_spec sp = {16, 16, 1, 90, 0, -1, 0, scans, n};
    uint8_t *jpg = NULL;
    size_t len = 0;
    encode_jpeg(&sp, &jpg, &len);
    sd_image *img = NULL;
    sd_status s = sd_image_load_mem(ctx, jpg, len, "scans.jpg", NULL, &img);
    assert_true(s == SD_ERR_UNSUPPORTED || s == SD_ERR_CORRUPT);
    assert_null(img);
    assert_message_names(ctx, "scans.jpg");
    assert_non_null(strstr(sd_ctx_message(ctx), "scans"));
    free(jpg);
    free(scans);

    scans = many_scans(6, &n);
    assert_true(n > 400 && n <= 500);
    sp.scans = scans, sp.num_scans = n;
    encode_jpeg(&sp, &jpg, &len);
    assert_int_equal(sd_image_load_mem(ctx, jpg, len, "scans.jpg", NULL, &img), SD_OK);
    sd_image_free(img);
    free(jpg);
    free(scans);
    sd_ctx_free(ctx);
}

/* Adobe CMYK is stored inverted (libjpeg writes the Adobe marker and the
 * values as given): stored C, M, Y, K give R = C*K/255 and so on. */
static void test_jpeg_cmyk_adobe(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    jpeg_spec sp = {64, 32, 4, 100, 0, -1, 0, NULL, 0};
    uint8_t *jpg = NULL;
    size_t len = 0;
    encode_jpeg(&sp, &jpg, &len);
    sd_image *img = NULL;
    assert_int_equal(sd_image_load_mem(ctx, jpg, len, "cmyk.jpg", NULL, &img), SD_OK);
    double sum = 0;
    for (int y = 0; y < 32; y++)
        for (int x = 0; x < 64; x++) {
            uint8_t rgb[3];
            test_pixel(x, y, 64, 32, rgb);
            double k = 255 - (x * 64) / 64;
            for (int c = 0; c < 3; c++)
                sum += fabs(px_at(img, x, y)[c] / 257.0 - rgb[c] * k / 255.0);
        }
    double mean = sum / (64.0 * 32 * 3);
    if (mean > 2.0)
        fail_msg("CMYK mean error %.2f", mean);
    sd_image_free(img);
    free(jpg);
    sd_ctx_free(ctx);
}

/* EXIF orientation from APP1, every value, both byte orders: the decoded
 * image equals the upright placement of the orientation-1 decode. */
static void test_jpeg_exif_orientation(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    const int W = 48, H = 32;
    jpeg_spec sp = {W, H, 3, 95, 0, -1, 0, NULL, 0};
    uint8_t *jpg = NULL;
    size_t len = 0;
    encode_jpeg(&sp, &jpg, &len);
    sd_image *ref = NULL;
    assert_int_equal(sd_image_load_mem(ctx, jpg, len, "o.jpg", NULL, &ref), SD_OK);
    free(jpg);
    for (int o = 0; o <= 9; o++)
        for (int be = 0; be <= 1; be++) {
            sp.orientation = o;
            sp.big_endian_exif = be;
            encode_jpeg(&sp, &jpg, &len);
            sd_image *img = NULL;
            assert_int_equal(sd_image_load_mem(ctx, jpg, len, "o.jpg", NULL, &img), SD_OK);
            int eo = (o >= 1 && o <= 8) ? o : 1;
            assert_int_equal(img->orientation, eo);
            int uw = eo >= 5 ? H : W, uh = eo >= 5 ? W : H;
            assert_int_equal(img->width, uw);
            assert_int_equal(img->height, uh);
            /* same coefficients, so the same pixels, only moved */
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int ux, uy;
                    sd_test_upright(eo, x, y, W, H, &ux, &uy);
                    assert_memory_equal(px_at(img, ux, uy), px_at(ref, x, y),
                                        3 * sizeof(uint16_t));
                }
            sd_image_free(img);
            free(jpg);
        }
    sd_image_free(ref);
    sd_ctx_free(ctx);
}

/* sd_load_opts' row_fn: each row of the upright image once, in order, with
 * its final samples (a copy taken in the call equals the loaded image),
 * for a JPEG of every orientation (rows handed over as decoded when
 * upright, else after) taller than one strip, and for a PNG. */
typedef struct row_seen {
    int next, bad;
    uint16_t *copy;
} row_seen;

static void seen_row(void *arg, const sd_image *img, int y)
{
    row_seen *r = arg;
    if (y != r->next++ || !r->copy) {
        r->bad = 1;
        return;
    }
    memcpy(r->copy + (size_t)y * 3 * img->width, img->px + (size_t)y * img->stride,
           3 * (size_t)img->width * sizeof(uint16_t));
}

static void check_rows(sd_ctx *ctx, const uint8_t *data, size_t len, int W, int H)
{
    row_seen r = {0, 0, calloc((size_t)W * H * 3, sizeof(uint16_t))};
    sd_load_opts lo = {.row_fn = seen_row, .row_arg = &r};
    sd_image *img = NULL;
    assert_int_equal(sd_image_load_mem(ctx, data, len, "rows", &lo, &img), SD_OK);
    assert_false(r.bad);
    assert_int_equal(r.next, img->height);
    for (int y = 0; y < img->height; y++)
        assert_memory_equal(r.copy + (size_t)y * 3 * img->width, px_at(img, 0, y),
                            3 * (size_t)img->width * sizeof(uint16_t));
    sd_image_free(img);
    free(r.copy);
}

static void test_row_fn(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    const int W = 40, H = 150; /* three strips of SD_IO_STRIP_ROWS */
    jpeg_spec sp = {W, H, 3, 95, 0, -1, 0, NULL, 0};
    for (int o = 1; o <= 8; o++) {
        uint8_t *jpg = NULL;
        size_t len = 0;
        sp.orientation = o;
        encode_jpeg(&sp, &jpg, &len);
        check_rows(ctx, jpg, len, W, H);
        free(jpg);
    }
    uint8_t *pix = malloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            test_pixel(x, y, W, H, pix + (y * W + x) * 3);
    mem_png m;
    encode_png(W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, pix, W * 3, NULL, 0, &m);
    check_rows(ctx, m.data, m.len, W, H);
    free(m.data);
    free(pix);
    sd_ctx_free(ctx);
}

/* DCT-domain scaling: the size libjpeg computes, and a picture that looks
 * like a box downscale of the full decode. */
static void test_jpeg_scaled_decode(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    const int W = 203, H = 128; /* H: whole blocks once turned upright */
    jpeg_spec sp = {W, H, 3, 95, 0, 6, 0, NULL, 0};
    uint8_t *jpg = NULL;
    size_t len = 0;
    encode_jpeg(&sp, &jpg, &len);
    sd_image *full = NULL;
    assert_int_equal(sd_image_load_mem(ctx, jpg, len, "s.jpg", NULL, &full), SD_OK);
    for (int d = 1; d <= 8; d *= 2) {
        /* the size as libjpeg computes it, stored order, then turned */
        struct jpeg_decompress_struct di;
        struct jpeg_error_mgr jerr;
        di.err = jpeg_std_error(&jerr);
        jpeg_create_decompress(&di);
        jpeg_mem_src(&di, jpg, (unsigned long)len);
        jpeg_read_header(&di, TRUE);
        di.scale_num = 1;
        di.scale_denom = (unsigned)d;
        jpeg_calc_output_dimensions(&di);
        int sw = (int)di.output_width, sh = (int)di.output_height;
        jpeg_destroy_decompress(&di);

        sd_load_opts o = {.max_pixels = 0, .scale_denom = d};
        sd_image *img = NULL;
        assert_int_equal(sd_image_load_mem(ctx, jpg, len, "s.jpg", &o, &img), SD_OK);
        assert_int_equal(img->orientation, 6);
        assert_int_equal(img->width, sh); /* orientation 6 swaps the sides */
        assert_int_equal(img->height, sw);
        /* compare with the mean of each d x d block of the full decode */
        double sum = 0;
        long n = 0;
        for (int y = 0; y < img->height && (y + 1) * d <= full->height; y++)
            for (int x = 0; x < img->width && (x + 1) * d <= full->width; x++)
                for (int c = 0; c < 3; c++) {
                    double m = 0;
                    for (int j = 0; j < d; j++)
                        for (int i = 0; i < d; i++)
                            m += px_at(full, x * d + i, y * d + j)[c];
                    m /= d * d;
                    sum += fabs(px_at(img, x, y)[c] - m) / 257.0;
                    n++;
                }
        double mean = sum / (double)n;
        print_message("scale 1/%d: %dx%d, mean difference from box downscale %.2f\n", d,
                      img->width, img->height, mean);
        if (mean > (d == 1 ? 0.001 : 4.0))
            fail_msg("scale 1/%d: mean difference %.2f from the box downscale", d, mean);
        sd_image_free(img);
    }
    sd_image_free(full);
    free(jpg);
    sd_ctx_free(ctx);
}

/* --------------------------------------------------------------------- PNG */

static void test_png_forged_huge_header(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    uint8_t buf[64];
    size_t n = forge_png_header(buf, 60000, 60000);
    sd_image *img = NULL;
    sd_load_opts small = {.max_pixels = 1000, .scale_denom = 0};
    double t0 = now_s();
    assert_int_equal(sd_image_load_mem(ctx, buf, n, "huge.png", &small, &img), SD_ERR_TOO_LARGE);
    assert_message_names(ctx, "huge.png");
    assert_non_null(strstr(sd_ctx_message(ctx), "60000x60000"));
    assert_int_equal(sd_image_load_mem(ctx, buf, n, "huge.png", NULL, &img), SD_ERR_TOO_LARGE);
    assert_non_null(strstr(sd_ctx_message(ctx), "60000x60000"));
    assert_true(now_s() - t0 < 0.5);
    assert_null(img);
    /* one side over SD_MAX_DIM */
    n = forge_png_header(buf, SD_MAX_DIM + 1, 1);
    assert_int_equal(sd_image_load_mem(ctx, buf, n, "wide.png", NULL, &img), SD_ERR_TOO_LARGE);
    assert_message_names(ctx, "wide.png");
    /* within the limits, the header alone is a truncated file */
    n = forge_png_header(buf, 20, 20);
    assert_int_equal(sd_image_load_mem(ctx, buf, n, "cut.png", NULL, &img), SD_ERR_CORRUPT);
    assert_message_names(ctx, "cut.png");
    sd_load_opts tiny = {.max_pixels = 399, .scale_denom = 0};
    assert_int_equal(sd_image_load_mem(ctx, buf, n, "cut.png", &tiny, &img), SD_ERR_TOO_LARGE);
    /* a damaged IHDR CRC */
    n = forge_png_header(buf, 20, 20);
    buf[30] ^= 1;
    assert_int_equal(sd_image_load_mem(ctx, buf, n, "x.png", NULL, &img), SD_ERR_CORRUPT);
    assert_string_equal(sd_ctx_message(ctx), "x.png: IHDR: CRC error");
    sd_ctx_free(ctx);
}

/* 16-bit samples are kept whole; 8-bit grey+alpha becomes R=G=B=v*257 with
 * had_alpha; interlaced and not give the same pixels. */
static void test_png_depths_exact(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    const int W = 37, H = 23;
    uint8_t *rgb16 = malloc((size_t)W * H * 6);
    uint8_t *ga8 = malloc((size_t)W * H * 2);
    for (int i = 0; i < W * H * 6; i++)
        rgb16[i] = (uint8_t)rnd();
    for (int i = 0; i < W * H * 2; i++)
        ga8[i] = (uint8_t)rnd();
    for (int il = 0; il <= 1; il++) {
        mem_png m;
        encode_png(W, H, 16, PNG_COLOR_TYPE_RGB, il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                   rgb16, (size_t)W * 6, NULL, 0, &m);
        sd_image *img = NULL;
        assert_int_equal(sd_image_load_mem(ctx, m.data, m.len, "d16.png", NULL, &img), SD_OK);
        assert_int_equal(img->bits, 16);
        assert_int_equal(img->had_alpha, 0);
        assert_string_equal(img->format, "png");
        for (int y = 0; y < H; y++)
            for (int x = 0; x < 3 * W; x++) {
                const uint8_t *s = rgb16 + ((size_t)y * W * 3 + (size_t)x) * 2;
                assert_int_equal(img->px[(size_t)y * img->stride + (size_t)x], s[0] << 8 | s[1]);
            }
        sd_image_free(img);
        free(m.data);

        encode_png(W, H, 8, PNG_COLOR_TYPE_GRAY_ALPHA,
                   il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, ga8, (size_t)W * 2, NULL, 0,
                   &m);
        assert_int_equal(sd_image_load_mem(ctx, m.data, m.len, "ga.png", NULL, &img), SD_OK);
        assert_int_equal(img->bits, 8);
        assert_int_equal(img->had_alpha, 1);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint16_t v = (uint16_t)(ga8[((size_t)y * W + (size_t)x) * 2] * 257);
                const uint16_t *p = px_at(img, x, y);
                assert_true(p[0] == v && p[1] == v && p[2] == v);
            }
        sd_image_free(img);
        free(m.data);
    }
    free(rgb16);
    free(ga8);
    sd_ctx_free(ctx);
}

/* The eXIf chunk's orientation is applied like JPEG's; a truncated PNG is
 * corrupt at every cut. */
static void test_png_exif_and_truncation(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    const int W = 20, H = 12;
    uint8_t pix[20 * 12 * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            test_pixel(x, y, W, H, pix + (y * W + x) * 3);
    for (int k = 1; k <= 16; k++) {
        int o = (k - 1) % 8 + 1;
        exif_after_idat = k > 8; /* eXIf may follow the image data */
        uint8_t tiff[32];
        size_t tn = make_orientation_tiff(tiff, o, o & 1);
        mem_png m;
        encode_png(W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, pix, W * 3, tiff, tn, &m);
        /* where the chunk went: before or after IDAT */
        const uint8_t *ex = NULL, *id = NULL;
        for (size_t i = 8; i + 4 <= m.len; i++) {
            if (!ex && memcmp(m.data + i, "eXIf", 4) == 0)
                ex = m.data + i;
            if (!id && memcmp(m.data + i, "IDAT", 4) == 0)
                id = m.data + i;
        }
        assert_true(ex && id && (exif_after_idat ? ex > id : ex < id));
        sd_image *img = NULL;
        assert_int_equal(sd_image_load_mem(ctx, m.data, m.len, "e.png", NULL, &img), SD_OK);
        assert_int_equal(img->orientation, o);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int ux, uy;
                sd_test_upright(o, x, y, W, H, &ux, &uy);
                const uint16_t *p = px_at(img, ux, uy);
                for (int c = 0; c < 3; c++)
                    assert_int_equal(p[c], pix[(y * W + x) * 3 + c] * 257);
            }
        sd_image_free(img);
        /* compact: turned, so made 16-bit; upright, kept as bytes */
        const sd_load_opts co = {.compact = 1};
        assert_int_equal(sd_image_load_mem(ctx, m.data, m.len, "e.png", &co, &img), SD_OK);
        assert_int_equal(img->orientation, o);
        assert_true(o == 1 ? img->px8 && !img->px : img->px && !img->px8);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int ux, uy;
                sd_test_upright(o, x, y, W, H, &ux, &uy);
                uint16_t p[3];
                sd_image_pixel(img, ux, uy, p);
                for (int c = 0; c < 3; c++)
                    assert_int_equal(p[c], pix[(y * W + x) * 3 + c] * 257);
            }
        sd_image_free(img);
        if (k == 6) {
            for (size_t cut = 2; cut < m.len; cut++) {
                uint8_t *part = malloc(cut);
                memcpy(part, m.data, cut);
                sd_status s = sd_image_load_mem(ctx, part, cut, "cut.png", NULL, &img);
                if (s != SD_ERR_CORRUPT)
                    fail_msg("PNG cut at %zu of %zu: status %d \"%s\"", cut, m.len, s,
                             sd_ctx_message(ctx));
                assert_null(img);
                assert_message_names(ctx, "cut.png");
                free(part);
            }
        }
        free(m.data);
    }
    exif_after_idat = 0;
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_fips180_2),
        cmocka_unit_test(test_exif_byte_orders),
        cmocka_unit_test(test_exif_invalid_values),
        cmocka_unit_test(test_exif_tag_absent_and_bad_headers),
        cmocka_unit_test(test_exif_offsets_out_of_bounds),
        cmocka_unit_test(test_exif_random_blocks),
        cmocka_unit_test(test_missing_and_unreadable_files),
        cmocka_unit_test(test_empty_file_and_size_cap),
        cmocka_unit_test(test_not_an_image),
        cmocka_unit_test(test_format_from_magic_not_name),
        cmocka_unit_test(test_jpeg_roundtrip),
        cmocka_unit_test(test_jpeg_truncated),
        cmocka_unit_test(test_jpeg_warnings_are_errors),
        cmocka_unit_test(test_jpeg_forged_huge_header),
        cmocka_unit_test(test_jpeg_scan_limit),
        cmocka_unit_test(test_jpeg_cmyk_adobe),
        cmocka_unit_test(test_jpeg_exif_orientation),
        cmocka_unit_test(test_jpeg_scaled_decode),
        cmocka_unit_test(test_row_fn),
        cmocka_unit_test(test_png_forged_huge_header),
        cmocka_unit_test(test_png_depths_exact),
        cmocka_unit_test(test_png_exif_and_truncation),
    };
    return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}

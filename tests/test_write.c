/* Atomic output files and the image savers.
 *
 * The writer is checked on the file system itself: contents read back, the
 * folder scanned for left-over temporary files, failures (missing folder,
 * parent that is a regular file, destination that is a folder, read-only
 * folder when not root, a full disk simulated with RLIMIT_FSIZE in a forked
 * child) leave an existing file byte-identical. The savers are checked by
 * decoding with libpng's and libjpeg's own decoders, independent of our
 * loaders. */
#include "sd_test.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "skindelta/io.h"

/* ---- helpers ---- */

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sd_write_XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static void rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int teardown(void **state)
{
    (void)state;
    rm_tree(tmpdir);
    return 0;
}

static void path_in(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", tmpdir, rel);
}

/* Whole file into a malloc'd buffer; NULL when it cannot be read. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) {
                free(b);
                b = NULL;
            }
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

static void assert_file_is(const char *path, const void *data, size_t len)
{
    size_t n = 0;
    uint8_t *b = slurp(path, &n);
    if (!b)
        fail_msg("%s: cannot read back", path);
    if (n != len || memcmp(b, data, len) != 0)
        fail_msg("%s: %zu bytes on disk, expected %zu (or contents differ)", path, n, len);
    free(b);
}

/* Names in folder `dir` other than . and .., counted; the first one that
 * starts with '.' (a temporary file) copied into `hidden` when given. */
static int count_entries(const char *dir, char *hidden, size_t hn)
{
    int n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    if (hidden && hn)
        hidden[0] = '\0';
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        if (hidden && e->d_name[0] == '.' && !hidden[0])
            snprintf(hidden, hn, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

static mode_t current_umask(void)
{
    mode_t m = umask(022);
    umask(m);
    return m;
}

/* ---- the writer ---- */

static void test_write_and_read_back(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    char p[512];
    path_in(p, sizeof p, "a.bin");
    uint8_t data[10000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(sd_file_write_atomic(ctx, p, data, sizeof data), SD_OK);
    assert_file_is(p, data, sizeof data);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0666 & ~current_umask());
    /* an empty file is a valid output */
    path_in(p, sizeof p, "empty.bin");
    assert_int_equal(sd_file_write_atomic(ctx, p, NULL, 0), SD_OK);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);
    /* a relative path (no folder part) goes to the current folder */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);
    assert_int_equal(sd_file_write_atomic(ctx, "rel.txt", "xyz", 3), SD_OK);
    assert_int_equal(chdir(cwd), 0);
    path_in(p, sizeof p, "rel.txt");
    assert_file_is(p, "xyz", 3);
    sd_ctx_free(ctx);
}

static void test_overwrite_leaves_no_temp(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    char d[512], p[600], hidden[256];
    path_in(d, sizeof d, "ow");
    assert_int_equal(mkdir(d, 0700), 0);
    snprintf(p, sizeof p, "%s/report.json", d);
    assert_int_equal(sd_file_write_atomic(ctx, p, "first version, longer", 21), SD_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(sd_file_write_atomic(ctx, p, "second", 6), SD_OK);
    assert_file_is(p, "second", 6);
    assert_int_equal(count_entries(d, hidden, sizeof hidden), 1);
    assert_string_equal(hidden, "");
    sd_ctx_free(ctx);
}

/* A failed write: SD_ERR_WRITE, message names the path, nothing created. */
static void expect_write_failure(sd_ctx *ctx, const char *p)
{
    sd_status s = sd_file_write_atomic(ctx, p, "data", 4);
    assert_int_equal(s, SD_ERR_WRITE);
    const char *m = sd_ctx_message(ctx);
    if (strncmp(m, p, strlen(p)) != 0 || !strchr(m + strlen(p), ':'))
        fail_msg("message does not start with the path: \"%s\"", m);
    print_message("  %s\n", m);
}

static void test_unwritable_destinations(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    char p[600], f[512], d[512], hidden[256];
    /* a folder that does not exist */
    path_in(p, sizeof p, "no/such/folder/out.json");
    expect_write_failure(ctx, p);
    /* a parent that is a regular file */
    path_in(f, sizeof f, "plainfile");
    assert_int_equal(sd_file_write_atomic(ctx, f, "old", 3), SD_OK);
    snprintf(p, sizeof p, "%s/out.json", f);
    expect_write_failure(ctx, p);
    assert_file_is(f, "old", 3);
    /* the destination is a folder: rename fails after the temporary file was
     * written; it must be removed and the folder left alone */
    path_in(d, sizeof d, "isdir");
    assert_int_equal(mkdir(d, 0700), 0);
    path_in(p, sizeof p, "isdir/keep");
    assert_int_equal(sd_file_write_atomic(ctx, p, "k", 1), SD_OK);
    expect_write_failure(ctx, d);
    assert_file_is(p, "k", 1);
    int before = count_entries(tmpdir, hidden, sizeof hidden);
    assert_string_equal(hidden, "");
    (void)before;
    /* a read-only folder (root ignores permissions, so only when not root) */
    if (geteuid() != 0) {
        path_in(d, sizeof d, "ro");
        assert_int_equal(mkdir(d, 0700), 0);
        path_in(p, sizeof p, "ro/old.txt");
        assert_int_equal(sd_file_write_atomic(ctx, p, "old", 3), SD_OK);
        assert_int_equal(chmod(d, 0500), 0);
        expect_write_failure(ctx, p);
        assert_int_equal(chmod(d, 0700), 0);
        assert_file_is(p, "old", 3);
        assert_int_equal(count_entries(d, NULL, 0), 1);
    } else {
        print_message("  running as root: read-only folder case not testable\n");
    }
    /* bad arguments */
    assert_int_equal(sd_file_write_atomic(ctx, "", "x", 1), SD_ERR_ARG);
    assert_int_equal(sd_file_write_atomic(ctx, NULL, "x", 1), SD_ERR_ARG);
    path_in(p, sizeof p, "x");
    assert_int_equal(sd_file_write_atomic(ctx, p, NULL, 5), SD_ERR_ARG);
    sd_ctx_free(ctx);
}

/* Full disk: in a child with RLIMIT_FSIZE of 4096 bytes and SIGXFSZ
 * ignored, write() fails with EFBIG part-way through. */
static void test_full_disk(void **state)
{
    (void)state;
    char d[512], p[600], hidden[256];
    path_in(d, sizeof d, "full");
    assert_int_equal(mkdir(d, 0700), 0);
    snprintf(p, sizeof p, "%s/old.jpg", d);
    sd_ctx *ctx = sd_ctx_new();
    assert_int_equal(sd_file_write_atomic(ctx, p, "the old file", 12), SD_OK);
    sd_ctx_free(ctx);

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(90);
        size_t n = 1 << 20;
        uint8_t *big = calloc(n, 1);
        sd_ctx *c = sd_ctx_new();
        if (!big || !c)
            _exit(91);
        sd_status s = sd_file_write_atomic(c, p, big, n);
        if (s != SD_ERR_WRITE)
            _exit(92);
        /* "PATH: cannot write: File too large" */
        if (!strstr(sd_ctx_message(c), p) || !strstr(sd_ctx_message(c), strerror(EFBIG)))
            _exit(93);
        _exit(0);
    }
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
    assert_file_is(p, "the old file", 12);
    assert_int_equal(count_entries(d, hidden, sizeof hidden), 1);
    assert_string_equal(hidden, "");
}

/* "-" goes to standard output: checked in a child whose stdout is a file. */
static void test_stdout(void **state)
{
    (void)state;
    char p[512];
    path_in(p, sizeof p, "stdout.txt");
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
            _exit(90);
        sd_ctx *c = sd_ctx_new();
        _exit(sd_file_write_atomic(c, "-", "to stdout\n", 10) == SD_OK ? 0 : 91);
    }
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
    assert_file_is(p, "to stdout\n", 10);
}

/* ---- the savers ---- */

/* A test image: smooth gradients plus a few sharp edges, 16-bit samples
 * that are not multiples of 257. */
static sd_image *make_image(sd_ctx *ctx, int w, int h)
{
    sd_image *img = NULL;
    assert_int_equal(sd_image_new(ctx, w, h, 0, &img), SD_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint16_t *px = img->px + (size_t)y * img->stride + 3 * (size_t)x;
            px[0] = (uint16_t)(65535.0 * x / (w - 1));
            px[1] = (uint16_t)(65535.0 * y / (h - 1));
            px[2] = (uint16_t)(((x / 16 + y / 16) & 1) ? 50000 + x : 9000 + y);
        }
    return img;
}

static void test_png_round_trip(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_image *img = make_image(ctx, 97, 61);
    for (int bits = 8; bits <= 16; bits += 8) {
        char p[512];
        path_in(p, sizeof p, bits == 8 ? "rt8.png" : "rt16.png");
        assert_int_equal(sd_image_save_png(ctx, img, p, bits), SD_OK);
        png_image pi;
        memset(&pi, 0, sizeof pi);
        pi.version = PNG_IMAGE_VERSION;
        assert_true(png_image_begin_read_from_file(&pi, p));
        assert_int_equal(pi.width, 97);
        assert_int_equal(pi.height, 61);
        /* read as stored: 16-bit linear format would convert the gamma, so
         * use the sRGB 8-bit format for 8 bits and check the raw bytes for 16 */
        if (bits == 8) {
            pi.format = PNG_FORMAT_RGB;
            uint8_t *buf = malloc(PNG_IMAGE_SIZE(pi));
            assert_true(png_image_finish_read(&pi, NULL, buf, 0, NULL));
            for (int i = 0; i < 97 * 61 * 3; i++) {
                int want = (int)floor(img->px[i] / 257.0 + 0.5);
                if (buf[i] != want)
                    fail_msg("8-bit sample %d: %d, want round(%d/257) = %d", i, buf[i],
                             img->px[i], want);
            }
            free(buf);
        } else {
            png_image_free(&pi);
            /* the low-level reader: 16-bit samples exactly as written */
            FILE *f = fopen(p, "rb");
            assert_non_null(f);
            png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
            png_infop info = png_create_info_struct(png);
            assert_int_equal(setjmp(png_jmpbuf(png)), 0);
            png_init_io(png, f);
            png_read_info(png, info);
            assert_int_equal(png_get_bit_depth(png, info), 16);
            assert_int_equal(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
            uint8_t row[97 * 6];
            for (int y = 0; y < 61; y++) {
                png_read_row(png, row, NULL);
                for (int i = 0; i < 97 * 3; i++) {
                    int v = row[2 * i] << 8 | row[2 * i + 1];
                    assert_int_equal(v, img->px[(size_t)y * img->stride + i]);
                }
            }
            png_destroy_read_struct(&png, &info, NULL);
            fclose(f);
        }
    }
    char p[512];
    path_in(p, sizeof p, "bad.png");
    assert_int_equal(sd_image_save_png(ctx, img, p, 12), SD_ERR_ARG);
    path_in(p, sizeof p, "missing/x.png");
    assert_int_equal(sd_image_save_png(ctx, img, p, 8), SD_ERR_WRITE);
    sd_image_free(img);
    sd_ctx_free(ctx);
}

/* Decode JPEG bytes with libjpeg into 8-bit RGB; returns malloc'd pixels. */
static uint8_t *decode_jpeg(const uint8_t *data, size_t len, int *w, int *h)
{
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, data, (unsigned long)len);
    assert_int_equal(jpeg_read_header(&ci, TRUE), JPEG_HEADER_OK);
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    *w = (int)ci.output_width;
    *h = (int)ci.output_height;
    uint8_t *px = malloc((size_t)*w * *h * 3);
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW r = px + (size_t)ci.output_scanline * *w * 3;
        jpeg_read_scanlines(&ci, &r, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    return px;
}

static void test_jpeg(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    int W = 160, H = 120;
    sd_image *img = make_image(ctx, W, H);
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    assert_int_equal(sd_image_encode_jpeg(ctx, img, 95, &a, &alen), SD_OK);
    assert_int_equal(sd_image_encode_jpeg(ctx, img, 95, &b, &blen), SD_OK);
    assert_int_equal(alen, blen); /* deterministic */
    assert_memory_equal(a, b, alen);
    int w, h;
    uint8_t *px = decode_jpeg(a, alen, &w, &h);
    assert_int_equal(w, W);
    assert_int_equal(h, H);
    /* mean error against round(v/257) on the smooth channels (R, G): small */
    /* away from the blue checker edges, which 4:2:0 chroma smears */
    double err = 0;
    int n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (x % 16 < 4 || x % 16 > 11 || y % 16 < 4 || y % 16 > 11)
                continue;
            for (int c = 0; c < 3; c++) {
                size_t i = (size_t)y * img->stride + 3 * (size_t)x + c;
                err += fabs(px[i] - floor(img->px[i] / 257.0 + 0.5));
                n++;
            }
        }
    err /= n;
    print_message("  q95 mean abs error away from edges: %.3f / 255\n", err);
    assert_true(err < 1.0);
    free(px);
    /* lower quality: smaller file */
    uint8_t *c = NULL;
    size_t clen = 0;
    assert_int_equal(sd_image_encode_jpeg(ctx, img, 20, &c, &clen), SD_OK);
    assert_true(clen < alen);
    free(c);
    /* saved file = encoded bytes */
    char p[512];
    path_in(p, sizeof p, "s.jpg");
    assert_int_equal(sd_image_save_jpeg(ctx, img, p, 95), SD_OK);
    assert_file_is(p, a, alen);
    free(a);
    free(b);
    /* bad quality */
    assert_int_equal(sd_image_encode_jpeg(ctx, img, 0, &c, &clen), SD_ERR_ARG);
    assert_null(c);
    assert_int_equal(sd_image_save_jpeg(ctx, img, p, 101), SD_ERR_ARG);
    assert_non_null(strstr(sd_ctx_message(ctx), p));
    sd_image_free(img);
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_and_read_back),
        cmocka_unit_test(test_overwrite_leaves_no_temp),
        cmocka_unit_test(test_unwritable_destinations),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_stdout),
        cmocka_unit_test(test_png_round_trip),
        cmocka_unit_test(test_jpeg),
    };
    return cmocka_run_group_tests_name("write", tests, setup, teardown);
}

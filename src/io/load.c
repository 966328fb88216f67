/*
 * Loading: read the file, recognise the format by its first bytes (never by
 * the name), hand the bytes to the JPEG or PNG decoder, and stamp the image
 * with its format and the SHA-256 of the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "io/io_internal.h"

static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

typedef enum { FMT_UNKNOWN, FMT_JPEG, FMT_PNG } fmt;

/* JPEG: the SOI marker FF D8. PNG: "\x89PNG"; a damaged rest of the
 * signature (a file sent through a text-mode transfer) is left to the PNG
 * decoder, which says so, rather than called "not a PNG". */
static fmt sniff(const uint8_t *d, size_t len)
{
    if (len >= 2 && d[0] == 0xFF && d[1] == 0xD8)
        return FMT_JPEG;
    size_t n = len < 4 ? len : 4;
    if (len >= 2 && memcmp(d, png_sig, n) == 0)
        return FMT_PNG;
    return FMT_UNKNOWN;
}

static void errno_text(int err, char *buf, size_t n)
{
    /* XSI strerror_r (thread-safe; _POSIX_C_SOURCE without _GNU_SOURCE) */
    if (strerror_r(err, buf, n) != 0)
        snprintf(buf, n, "error %d", err);
}

sd_status sd_file_read(sd_ctx *ctx, const char *path, size_t max_bytes, uint8_t **out,
                       size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!path || !*path)
        return sd_fail(ctx, SD_ERR_ARG, "no file name given");
    if (max_bytes == 0)
        max_bytes = SD_IO_MAX_FILE_BYTES;
    char why[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        errno_text(errno, why, sizeof why);
        return sd_fail(ctx, SD_ERR_IO, "%s: %s", path, why);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        errno_text(errno, why, sizeof why);
        close(fd);
        return sd_fail(ctx, SD_ERR_IO, "%s: %s", path, why);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        errno_text(EISDIR, why, sizeof why);
        return sd_fail(ctx, SD_ERR_IO, "%s: %s", path, why);
    }
    /* refuse an oversized regular file before reading a byte of it */
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > (uint64_t)max_bytes) {
        close(fd);
        return sd_fail(ctx, SD_ERR_TOO_LARGE, "%s: file is %llu bytes, over the limit of %zu",
                       path, (unsigned long long)st.st_size, max_bytes);
    }
    /* regular files: their size (+1 to see the end in one read); pipes and
     * devices: grow as needed, up to max_bytes */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    if (cap > max_bytes + 1)
        cap = max_bytes + 1;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        close(fd);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
    }
    size_t len = 0;
    for (;;) {
        if (len == cap) {
            if (cap > max_bytes) {
                free(buf);
                close(fd);
                return sd_fail(ctx, SD_ERR_TOO_LARGE, "%s: file is over the limit of %zu bytes",
                               path, max_bytes);
            }
            size_t ncap = cap > (max_bytes + 1) / 2 ? max_bytes + 1 : cap * 2;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                close(fd);
                return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory reading the file", path);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            errno_text(errno, why, sizeof why);
            free(buf);
            close(fd);
            return sd_fail(ctx, SD_ERR_IO, "%s: %s", path, why);
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len > max_bytes) { /* a file that grew while it was read */
        free(buf);
        return sd_fail(ctx, SD_ERR_TOO_LARGE, "%s: file is over the limit of %zu bytes", path,
                       max_bytes);
    }
    *out = buf;
    *out_len = len;
    return SD_OK;
}

void sd_io_rows_visit(const sd_io_opts *o, const sd_image *img)
{
    if (o->row_fn)
        for (int y = 0; y < img->height; y++)
            o->row_fn(o->row_arg, img, y);
}

sd_status sd_image_load_mem(sd_ctx *ctx, const void *data, size_t len, const char *name,
                            const sd_load_opts *opts, sd_image **out)
{
    return sd_image_load_mem_box(ctx, data, len, name, opts, 0, out, NULL);
}

sd_status sd_image_load_mem_box(sd_ctx *ctx, const void *data, size_t len, const char *name,
                                const sd_load_opts *opts, int box_side, sd_image **out,
                                sd_image **box)
{
    if (box)
        *box = NULL;
    if (!out)
        return sd_fail(ctx, SD_ERR_ARG, "sd_image_load_mem: no output pointer");
    *out = NULL;
    if (!name)
        name = "(memory)";
    if (!data && len)
        return sd_fail(ctx, SD_ERR_ARG, "%s: no data", name);
    sd_io_opts o = {.max_pixels = SD_DEFAULT_MAX_PIXELS, .scale_denom = 1,
                    .box_side = box_side, .box = box};
    if (opts) {
        o.row_fn = opts->row_fn;
        o.row_arg = opts->row_arg;
        o.compact = opts->compact;
        if (opts->max_pixels)
            o.max_pixels = opts->max_pixels;
        if (opts->scale_denom) {
            int d = opts->scale_denom;
            if (d != 1 && d != 2 && d != 4 && d != 8)
                return sd_fail(ctx, SD_ERR_ARG, "%s: scale_denom must be 1, 2, 4 or 8, not %d",
                               name, d);
            o.scale_denom = d;
        }
    }
    if (len == 0)
        return sd_fail(ctx, SD_ERR_FORMAT, "%s: empty file", name);
    if (len > SD_IO_MAX_FILE_BYTES)
        return sd_fail(ctx, SD_ERR_TOO_LARGE, "%s: file is %zu bytes, over the limit of %zu",
                       name, len, SD_IO_MAX_FILE_BYTES);
    const uint8_t *d = data;
    sd_image *img = NULL;
    sd_status s;
    const char *format;
    switch (sniff(d, len)) {
    case FMT_JPEG:
        s = sd_io_decode_jpeg(ctx, d, len, name, &o, &img);
        format = "jpeg";
        break;
    case FMT_PNG:
        s = sd_io_decode_png(ctx, d, len, name, &o, &img);
        if (s == SD_OK)
            sd_io_rows_visit(&o, img);
        format = "png";
        break;
    default:
        return sd_fail(ctx, SD_ERR_FORMAT, "%s: not a JPEG or PNG file", name);
    }
    if (s != SD_OK) {
        sd_image_free(img);
        /* sd_image_new speaks of "image": name the file instead */
        const char *m = sd_ctx_message(ctx);
        if (strncmp(m, "image: ", 7) == 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", m + 7);
            s = sd_fail(ctx, s, "%s: %s", name, why);
        }
        return s;
    }
    snprintf(img->format, sizeof img->format, "%s", format);
    if (!(opts && opts->no_hash))
        sd_sha256_hex(d, len, img->sha256);
    if (box && *box) { /* the same file's: its format and hash */
        memcpy((*box)->format, img->format, sizeof img->format);
        memcpy((*box)->sha256, img->sha256, sizeof img->sha256);
    }
    *out = img;
    return SD_OK;
}

sd_status sd_image_load(sd_ctx *ctx, const char *path, const sd_load_opts *opts, sd_image **out)
{
    if (!out)
        return sd_fail(ctx, SD_ERR_ARG, "sd_image_load: no output pointer");
    *out = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    sd_status s = sd_file_read(ctx, path, SD_IO_MAX_FILE_BYTES, &buf, &len);
    if (s != SD_OK)
        return s;
    s = sd_image_load_mem(ctx, buf, len, path, opts, out);
    free(buf);
    return s;
}

/*
 * JPEG decoding through the libjpeg API of libjpeg-turbo.
 *
 * Everything that can longjmp stays inside sd_io_decode_jpeg, whose locals
 * that change after setjmp are volatile (libwebp imageio/jpegdec.c). The
 * error manager turns libjpeg's fatal errors into statuses, and its
 * warnings about corrupt data (premature end, bad Huffman code, extraneous
 * bytes, ...) into SD_ERR_CORRUPT at once: libjpeg would otherwise pad the
 * rest of the picture with grey and report success.
 *
 * Limits: the pixel cap is checked right after the header, before any
 * pixel buffer exists; libjpeg's own memory (the whole-image coefficient
 * buffer of a progressive file) is capped through max_memory_to_use; a
 * progress monitor refuses files with more than SD_IO_JPEG_MAX_SCANS scans
 * (libjpeg-turbo's documented mitigation of the scan-count denial of
 * service).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <jpeglib.h>
#include <jerror.h>

#include "core/internal.h"
#include "io/io_internal.h"

typedef struct jdec_err {
    struct jpeg_error_mgr pub; /* first: libjpeg sees a jpeg_error_mgr */
    jmp_buf jb;
    sd_status status;
    char msg[JMSG_LENGTH_MAX + 128]; /* "" when ctx already holds the message */
} jdec_err;

typedef struct jdec_prog {
    struct jpeg_progress_mgr pub; /* first */
    int max_scans;
} jdec_prog;

/* libjpeg warnings that say nothing about the pixel data. */
static int warning_is_benign(int code)
{
    switch (code) {
    case JWRN_JFIF_MAJOR:     /* unknown JFIF version: header only */
    case JWRN_ADOBE_XFORM:    /* unknown Adobe transform: colour space from the component count */
    case JWRN_NOT_SEQUENTIAL: /* odd Ss/Se/Ah/Al in a sequential file: data still complete */
        return 1;
    default:
        return 0;
    }
}

static sd_status status_of_error(int code)
{
    switch (code) {
    case JERR_BAD_PRECISION:
    case JERR_SOF_UNSUPPORTED:
    case JERR_CONVERSION_NOTIMPL:
    case JERR_NOT_COMPILED:
    case JERR_ARITH_NOTIMPL:
    case JERR_EMPTY_IMAGE:
        return SD_ERR_UNSUPPORTED;
    case JERR_IMAGE_TOO_BIG:
    case JERR_WIDTH_OVERFLOW:
    case JERR_NO_BACKING_STORE:
        return SD_ERR_TOO_LARGE;
    case JERR_OUT_OF_MEMORY:
        return SD_ERR_NOMEM;
    default:
        return SD_ERR_CORRUPT;
    }
}

/* Record libjpeg's current message with status s and leave through the
 * setjmp in sd_io_decode_jpeg. */
static void leave(j_common_ptr cinfo, sd_status s) __attribute__((noreturn));
static void leave(j_common_ptr cinfo, sd_status s)
{
    jdec_err *err = (jdec_err *)cinfo->err;
    int code = err->pub.msg_code;
    err->status = s;
    if (code == JWRN_JPEG_EOF) {
        snprintf(err->msg, sizeof err->msg, "premature end of JPEG data");
    } else if (code == JERR_BAD_PRECISION) {
        int p = err->pub.msg_parm.i[0];
        snprintf(err->msg, sizeof err->msg,
                 "%d-bit JPEG (sample precision %d) is not supported, only 8-bit", p, p);
    } else if (code == JERR_NO_BACKING_STORE) {
        snprintf(err->msg, sizeof err->msg,
                 "decoding needs more memory than the limit of %ld MiB",
                 cinfo->mem->max_memory_to_use >> 20);
    } else {
        char buf[JMSG_LENGTH_MAX];
        buf[0] = '\0';
        err->pub.format_message(cinfo, buf);
        sd_io_lower_first(buf);
        snprintf(err->msg, sizeof err->msg, "%s", buf[0] ? buf : "corrupt JPEG data");
    }
    longjmp(err->jb, 1);
}

static void on_error_exit(j_common_ptr cinfo)
{
    leave(cinfo, status_of_error(cinfo->err->msg_code));
}

static void on_emit_message(j_common_ptr cinfo, int level)
{
    if (level >= 0) /* trace messages */
        return;
    cinfo->err->num_warnings++;
    if (!warning_is_benign(cinfo->err->msg_code))
        leave(cinfo, SD_ERR_CORRUPT);
}

static void on_output_message(j_common_ptr cinfo)
{
    (void)cinfo; /* a library never prints */
}

static void on_progress(j_common_ptr cinfo)
{
    if (!cinfo->is_decompressor)
        return;
    jdec_prog *prog = (jdec_prog *)cinfo->progress;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > prog->max_scans) {
        jdec_err *err = (jdec_err *)cinfo->err;
        err->status = SD_ERR_UNSUPPORTED;
        snprintf(err->msg, sizeof err->msg,
                 "JPEG has more than %d scans (refused: a known denial-of-service pattern)",
                 prog->max_scans);
        longjmp(err->jb, 1);
    }
}

/* Leave with a message of our own. */
static void bail(jdec_err *err, sd_status s, const char *fmt, ...)
    SD_PRINTF(3, 4) __attribute__((noreturn));
static void bail(jdec_err *err, sd_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->status = s;
    longjmp(err->jb, 1);
}

/* EXIF orientation from the saved APP1 markers (the first "Exif\0\0"). */
static int exif_orientation(j_decompress_ptr cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 6)
            continue;
        if (memcmp(m->data, "Exif\0\0", 6) != 0)
            continue;
        return sd_exif_orientation(m->data + 6, m->data_length - 6);
    }
    return 1;
}

/* libjpeg's own memory (mostly the coefficient buffer of progressive and
 * multi-scan files: up to 4 components x 2 bytes per pixel at 4:4:4). */
static long memory_cap(uint64_t max_pixels)
{
    uint64_t px = max_pixels < (uint64_t)1 << 32 ? max_pixels : (uint64_t)1 << 32;
    uint64_t cap = ((uint64_t)64 << 20) + 8 * px;
    if (cap > ((uint64_t)4 << 30))
        cap = (uint64_t)4 << 30;
    return cap > (uint64_t)LONG_MAX ? LONG_MAX : (long)cap;
}

/* The box means of the box rows in a strip of stored rows [y0, y0 + n)
 * (8-bit RGB, w pixels, row3 bytes apart; y0 a multiple of d, and n too
 * unless the strip ends the image): per box row, the column sums of its d
 * rows (fewer at the image's end) in acc (3 w, 16-bit: at most 8 x 255),
 * made in registers; then each box's mean as a 16-bit sample,
 * round(257 * sum / count) = the mean of the samples widened (a shift when
 * the count is the full d * d, a power of two). */
static void box_add_strip(const uint8_t *strip, size_t row3, int w, int d, int y0, int n, int h,
                          uint16_t *acc, sd_image *box)
{
    const size_t n3 = 3 * (size_t)w;
    int shift = 0;
    while ((1 << shift) < d * d)
        shift++;
    for (int r0 = 0; r0 < n; r0 += d) {
        const int rows = SD_MIN(d, h - (y0 + r0));
        const uint8_t *src = strip + (size_t)r0 * row3;
        size_t i = 0;
#if defined(__SSE2__)
        const __m128i z = _mm_setzero_si128();
        for (; i + 16 <= n3; i += 16) {
            __m128i lo = z, hi = z;
            for (int r = 0; r < rows; r++) {
                const __m128i v =
                    _mm_loadu_si128((const __m128i *)(const void *)(src + (size_t)r * row3 + i));
                lo = _mm_add_epi16(lo, _mm_unpacklo_epi8(v, z));
                hi = _mm_add_epi16(hi, _mm_unpackhi_epi8(v, z));
            }
            _mm_storeu_si128((__m128i *)(void *)(acc + i), lo);
            _mm_storeu_si128((__m128i *)(void *)(acc + i + 8), hi);
        }
#endif
        for (; i < n3; i++) {
            unsigned sum = 0;
            for (int r = 0; r < rows; r++)
                sum += src[(size_t)r * row3 + i];
            acc[i] = (uint16_t)sum;
        }
        uint16_t *out = box->px + (size_t)((y0 + r0) / d) * box->stride;
        const int full = rows == d ? w / d : 0; /* boxes of d x d pixels */
        for (int bx = 0; bx < full; bx++) {
            const uint16_t *a = acc + 3 * (size_t)d * (size_t)bx;
            uint32_t s0 = 0, s1 = 0, s2 = 0;
            for (int x = 0; x < d; x++, a += 3) {
                s0 += a[0];
                s1 += a[1];
                s2 += a[2];
            }
            const uint32_t half = 1u << shift >> 1;
            out[3 * bx] = (uint16_t)((257u * s0 + half) >> shift);
            out[3 * bx + 1] = (uint16_t)((257u * s1 + half) >> shift);
            out[3 * bx + 2] = (uint16_t)((257u * s2 + half) >> shift);
        }
        for (int bx = full; bx < box->width; bx++) {
            const int x0 = d * bx, x1 = SD_MIN(x0 + d, w);
            const uint32_t cnt = (uint32_t)rows * (uint32_t)(x1 - x0);
            for (int c = 0; c < 3; c++) {
                uint32_t sum = 0;
                for (int x = x0; x < x1; x++)
                    sum += acc[3 * x + c];
                out[3 * bx + c] = (uint16_t)((257u * sum + cnt / 2) / cnt);
            }
        }
    }
}

enum { KIND_GRAY, KIND_RGB, KIND_CMYK, KIND_CMYK_INVERTED };

/* One row of libjpeg's grey or CMYK output to 8-bit RGB. */
static void to_rgb8(const JSAMPLE *restrict in, int w, int kind, uint8_t *restrict out)
{
    switch (kind) {
    case KIND_GRAY:
        for (int x = 0; x < w; x++)
            out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = in[x];
        break;
    case KIND_CMYK_INVERTED:
        /* Adobe (Photoshop) CMYK is stored inverted: 255 means no ink, so
         * R = (1 - C)(1 - K) is simply stored C times stored K */
        for (int x = 0; x < w; x++) {
            unsigned k = in[4 * x + 3];
            for (int c = 0; c < 3; c++)
                out[3 * x + c] = (uint8_t)((in[4 * x + c] * k + 127) / 255);
        }
        break;
    default: /* KIND_CMYK: plain CMYK, 255 = full ink */
        for (int x = 0; x < w; x++) {
            unsigned k = 255u - in[4 * x + 3];
            for (int c = 0; c < 3; c++)
                out[3 * x + c] = (uint8_t)(((255u - in[4 * x + c]) * k + 127) / 255);
        }
        break;
    }
}

sd_status sd_io_decode_jpeg(sd_ctx *ctx, const uint8_t *data, size_t len, const char *name,
                            const sd_io_opts *opts, sd_image **out)
{
    *out = NULL;
    struct jpeg_decompress_struct cinfo;
    jdec_err err;
    jdec_prog prog;
    /* changed after setjmp, read after longjmp */
    sd_image *volatile img = NULL;
    JSAMPLE *volatile row = NULL;  /* libjpeg's grey or CMYK output */
    uint8_t *volatile rgb8 = NULL; /* 8-bit RGB: one row, or a strip to place upright */
    sd_image *volatile box = NULL; /* the box-mean copy (opts->box), stored order */
    uint16_t *volatile box_acc = NULL;

    memset(&cinfo, 0, sizeof cinfo);
    memset(&err, 0, sizeof err);
    memset(&prog, 0, sizeof prog);
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error_exit;
    err.pub.emit_message = on_emit_message;
    err.pub.output_message = on_output_message;
    err.status = SD_OK;

    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&cinfo);
        sd_image_free(img);
        sd_image_free(box);
        free(row);
        free(rgb8);
        free(box_acc);
        if (!err.msg[0]) /* the message is already in ctx */
            return err.status;
        return sd_fail(ctx, err.status, "%s: %s", name, err.msg);
    }

    jpeg_create_decompress(&cinfo);
    cinfo.mem->max_memory_to_use = memory_cap(opts->max_pixels);
    prog.pub.progress_monitor = on_progress;
    prog.max_scans = SD_IO_JPEG_MAX_SCANS;
    cinfo.progress = &prog.pub;
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    /* the limits, from the header, before any pixel buffer */
    sd_status s = sd_image_check_size(ctx, name, cinfo.image_width, cinfo.image_height,
                                      opts->max_pixels);
    if (s != SD_OK) {
        err.status = s;
        err.msg[0] = '\0';
        longjmp(err.jb, 1);
    }

    int kind;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo.out_color_space = JCS_GRAYSCALE;
        kind = KIND_GRAY;
        break;
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo.out_color_space = JCS_RGB;
        kind = KIND_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        kind = cinfo.saw_Adobe_marker ? KIND_CMYK_INVERTED : KIND_CMYK;
        break;
    default:
        bail(&err, SD_ERR_UNSUPPORTED, "JPEG with %d colour components is not supported",
             cinfo.num_components);
    }
    cinfo.scale_num = 1;
    cinfo.scale_denom = (unsigned)opts->scale_denom;
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_calc_output_dimensions(&cinfo);
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    int orientation = exif_orientation(&cinfo);
    int uw, uh;
    sd_io_upright_size(orientation, w, h, &uw, &uh);
    /* compact storage: the decoder's bytes are the image's (upright only;
     * a rotated image is put in place through 16-bit samples) */
    const int compact = opts->compact && orientation == 1;
    sd_image *im = NULL;
    s = compact ? sd_image_alloc_compact(ctx, uw, uh, opts->max_pixels, &im)
                : sd_image_alloc(ctx, uw, uh, opts->max_pixels, &im);
    if (s != SD_OK) {
        err.status = s;
        err.msg[0] = '\0';
        longjmp(err.jb, 1);
    }
    img = im;
    im->bits = 8;
    im->orientation = orientation;
    im->had_alpha = 0;

    jpeg_start_decompress(&cinfo);
    if ((int)cinfo.output_width != w || (int)cinfo.output_height != h)
        bail(&err, SD_ERR_CORRUPT, "JPEG output size changed while decoding");
    /* RGB output goes straight to rgb8; grey and CMYK through `row` */
    if (kind != KIND_RGB && !(row = sd_alloc_array((size_t)w, (size_t)cinfo.output_components)))
        bail(&err, SD_ERR_NOMEM, "out of memory");
    /* rows are decoded a strip at a time (RGB output several rows per
     * libjpeg call, straight into the strip), then widened into place or
     * put through the orientation */
    _Static_assert(SD_IO_STRIP_ROWS % 8 == 0, "a box row (d <= 8 rows) must not straddle strips");
    const int strip = SD_IO_STRIP_ROWS;
    size_t row3 = (size_t)w * 3;
    if (!compact && !(rgb8 = sd_alloc_array(row3, (size_t)strip)))
        bail(&err, SD_ERR_NOMEM, "out of memory");
    JSAMPROW rows[SD_IO_STRIP_ROWS];
    /* the box-mean copy: d the smallest power of two (at most 8) bringing
     * the long side to opts->box_side; d x d boxes of stored pixels, the
     * last ones partial, as libjpeg's 1/d decode */
    int d = 1;
    while (opts->box && opts->box_side > 0 && opts->scale_denom == 1 && d < 8 &&
           SD_MAX(w, h) / d > opts->box_side)
        d *= 2;
    if (d > 1) {
        sd_image *bi = NULL;
        if ((s = sd_image_alloc(ctx, (w + d - 1) / d, (h + d - 1) / d, 0, &bi)) != SD_OK) {
            err.status = s;
            err.msg[0] = '\0';
            longjmp(err.jb, 1);
        }
        box = bi;
        if (!(box_acc = sd_calloc_array(3 * (size_t)w, sizeof(uint16_t))))
            bail(&err, SD_ERR_NOMEM, "out of memory");
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        const int y0 = (int)cinfo.output_scanline, want = SD_MIN(strip, h - y0);
        /* the strip: the image's own rows in compact storage */
        uint8_t *const st8 = compact ? im->px8 + (size_t)y0 * row3 : rgb8;
        int got = 0;
        while (got < want) {
            uint8_t *dst8 = st8 + (size_t)got * row3;
            JDIMENSION n;
            if (kind == KIND_RGB) {
                for (int i = got; i < want; i++)
                    rows[i] = st8 + (size_t)i * row3;
                n = jpeg_read_scanlines(&cinfo, rows + got, (JDIMENSION)(want - got));
            } else {
                JSAMPROW rp = row;
                if ((n = jpeg_read_scanlines(&cinfo, &rp, 1)) == 1)
                    to_rgb8(row, w, kind, dst8);
            }
            if (n == 0)
                bail(&err, SD_ERR_CORRUPT, "premature end of JPEG data");
            got += (int)n;
        }
        if (box)
            box_add_strip(st8, row3, w, d, y0, want, h, box_acc, box);
        if (orientation == 1)
            for (int i = 0; i < want; i++) {
                if (!compact)
                    sd_widen8(st8 + (size_t)i * row3, row3, im->px + (size_t)(y0 + i) * im->stride);
                if (opts->row_fn)
                    opts->row_fn(opts->row_arg, im, y0 + i);
            }
        else
            sd_io_put_rows8(im, orientation, w, h, y0, want, rgb8, row3);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    if (orientation != 1)
        sd_io_rows_visit(opts, im);
    free(row);
    free(rgb8);
    free(box_acc);
    if (box) {
        sd_image *bi = box;
        bi->bits = 16; /* means of 8-bit samples: not multiples of 257 */
        bi->had_alpha = 0;
        if ((s = sd_io_orient_image(ctx, name, orientation, 0, &bi)) != SD_OK) {
            sd_image_free(bi);
            sd_image_free(im);
            return s;
        }
        *opts->box = bi;
    }
    *out = im;
    return SD_OK;
}

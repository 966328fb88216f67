/*
 * Fuzz harness: image loading from memory (JPEG and PNG, with their EXIF
 * APP1 / eXIf orientation), the whole of sd_image_load_mem.
 *
 * Invariants checked beyond "no crash, no leak, no undefined behaviour":
 * a decoded image has sane sizes within the pixel cap, a valid orientation
 * and every sample readable; a refusal returns no image and a message that
 * names the input; a JPEG that decodes at full size also decodes at 1/8
 * scale to ceil(w/8) x ceil(h/8) (libjpeg's DCT scaling) with the same
 * orientation; the row_fn sees each upright row once, in order, every
 * sample of it readable.
 */
#include <string.h>

#include "fuzz.h"
#include "skindelta/io.h"

/* Small enough that one input decodes in milliseconds and an accepted
 * image stays far below the fuzzer's RSS limit (2 Mpx = 12 MB). */
#define FUZZ_MAX_PIXELS ((uint64_t)1 << 21)

static void check_image(const sd_image *img)
{
    FUZZ_CHECK(img->width >= 1 && img->height >= 1);
    FUZZ_CHECK((uint64_t)img->width * (uint64_t)img->height <= FUZZ_MAX_PIXELS);
    FUZZ_CHECK(img->stride >= 3 * (size_t)img->width);
    FUZZ_CHECK(img->orientation >= 1 && img->orientation <= 8);
    FUZZ_CHECK(img->bits == 8 || img->bits == 16);
    FUZZ_CHECK(strcmp(img->format, "jpeg") == 0 || strcmp(img->format, "png") == 0);
    FUZZ_CHECK(strlen(img->sha256) == 64);
    /* every sample is read, so an uninitialised or missing row shows up
     * under memcheck and ASan */
    uint32_t acc = 0;
    for (int y = 0; y < img->height; y++) {
        const uint16_t *r = img->px + (size_t)y * img->stride;
        for (size_t i = 0; i < 3 * (size_t)img->width; i++)
            acc += r[i];
    }
    /* 8-bit sources are v * 257: a sample is a multiple of 257 */
    if (img->bits == 8) {
        const uint16_t *r = img->px;
        for (int i = 0; i < 3 * img->width; i++)
            FUZZ_CHECK(r[i] % 257 == 0);
    }
    (void)acc;
}

/* row_fn: counts rows that come in order and reads each row's samples */
typedef struct rows_seen {
    int next, bad;
    uint32_t acc;
} rows_seen;

static void see_row(void *arg, const sd_image *img, int y)
{
    rows_seen *r = arg;
    r->bad |= y != r->next++ || y < 0 || y >= img->height;
    if (r->bad)
        return;
    const uint16_t *p = img->px + (size_t)y * img->stride;
    for (size_t i = 0; i < 3 * (size_t)img->width; i++)
        r->acc += p[i];
}

static void check_refusal(sd_ctx *ctx, sd_status s, const sd_image *img)
{
    FUZZ_CHECK(img == NULL);
    /* only the statuses a loader may return for bad bytes */
    FUZZ_CHECK(s == SD_ERR_FORMAT || s == SD_ERR_CORRUPT || s == SD_ERR_UNSUPPORTED ||
               s == SD_ERR_TOO_LARGE || s == SD_ERR_NOMEM);
    FUZZ_CHECK(sd_ctx_status(ctx) == s);
    const char *m = sd_ctx_message(ctx);
    FUZZ_CHECK(strncmp(m, "fuzz: ", 6) == 0 && m[6] != '\0');
    FUZZ_CHECK(strchr(m, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sd_ctx *ctx = sd_ctx_new();
    if (!ctx)
        return 0;
    sd_load_opts o = {.max_pixels = FUZZ_MAX_PIXELS, .scale_denom = 1};
    sd_image *img = NULL;
    sd_status s = sd_image_load_mem(ctx, data, size, "fuzz", &o, &img);
    if (s != SD_OK) {
        check_refusal(ctx, s, img);
    } else {
        check_image(img);
        if (strcmp(img->format, "jpeg") == 0) {
            sd_image *small = NULL;
            o.scale_denom = 8;
            sd_status s8 = sd_image_load_mem(ctx, data, size, "fuzz", &o, &small);
            FUZZ_CHECK(s8 == SD_OK);
            check_image(small);
            FUZZ_CHECK(small->orientation == img->orientation);
            FUZZ_CHECK(small->width == (img->width + 7) / 8);
            FUZZ_CHECK(small->height == (img->height + 7) / 8);
            sd_image_free(small);
            /* the box-mean copy made while decoding (a small box_side, so
             * that small inputs take that path): the same image, and boxes
             * of the size the rule gives, upright the same way */
            sd_image *full = NULL, *box = NULL;
            rows_seen seen = {0, 0, 0};
            o.scale_denom = 1;
            o.row_fn = see_row;
            o.row_arg = &seen;
            sd_status sb = sd_image_load_mem_box(ctx, data, size, "fuzz", &o, 16, &full, &box);
            o.row_fn = NULL;
            FUZZ_CHECK(sb == SD_OK);
            check_image(full);
            FUZZ_CHECK(!seen.bad && seen.next == full->height);
            FUZZ_CHECK(full->width == img->width && full->height == img->height);
            int d = 1;
            while (d < 8 && (full->width > full->height ? full->width : full->height) / d > 16)
                d *= 2;
            FUZZ_CHECK((d > 1) == (box != NULL));
            if (box) {
                check_image(box);
                FUZZ_CHECK(box->orientation == img->orientation);
                FUZZ_CHECK(box->width == (img->width + d - 1) / d);
                FUZZ_CHECK(box->height == (img->height + d - 1) / d);
            }
            sd_image_free(box);
            sd_image_free(full);
        }
        sd_image_free(img);
    }
    sd_ctx_free(ctx);
    return 0;
}

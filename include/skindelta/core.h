/*
 * skindelta core: status codes, the context that carries error messages and
 * run-time settings, images and float planes.
 *
 * Ownership: every object returned through an `out` pointer belongs to the
 * caller and is released with its NULL-safe free function.
 */
#ifndef SKINDELTA_CORE_H
#define SKINDELTA_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SD_NODISCARD __attribute__((warn_unused_result))
#define SD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SD_NODISCARD
#define SD_PRINTF(f, a)
#endif

#define SD_VERSION "0.1.0"

/* Errors are values. The detailed message ("before.jpg: premature end of
 * JPEG data") lives in the sd_ctx that was passed to the failing call. */
typedef enum sd_status {
    SD_OK = 0,
    SD_ERR_ARG,         /* invalid argument or option value */
    SD_ERR_NOMEM,       /* allocation failed */
    SD_ERR_IO,          /* cannot open or read an input */
    SD_ERR_FORMAT,      /* not a JPEG or PNG file */
    SD_ERR_CORRUPT,     /* truncated or corrupt image data */
    SD_ERR_UNSUPPORTED, /* valid file, but a variant we do not handle */
    SD_ERR_TOO_LARGE,   /* over the pixel or dimension limit */
    SD_ERR_TOO_SMALL,   /* too small for the filters */
    SD_ERR_ALIGN,       /* the pair cannot be aligned: not comparable */
    SD_ERR_WRITE        /* cannot write an output */
} sd_status;

/* Static English name of a status ("corrupt image data"). Never NULL. */
const char *sd_strerror(sd_status s);

/* Default pixel cap for loaded images (width * height). */
#define SD_DEFAULT_MAX_PIXELS 100000000ull
/* No side of an image may exceed this, whatever the pixel cap. */
#define SD_MAX_DIM (1 << 20)

/* The context: error message of the last failing call plus run-time
 * settings. One context per thread of work; contexts are independent. */
typedef struct sd_ctx sd_ctx;

SD_NODISCARD sd_ctx *sd_ctx_new(void); /* NULL when out of memory */
void sd_ctx_free(sd_ctx *ctx);         /* NULL-safe */
/* Message of the last error set on ctx, "" when none. Owned by ctx, valid
 * until the next call that fails on ctx. */
const char *sd_ctx_message(const sd_ctx *ctx);
/* Make msg one line of plain text in place: line breaks and tabs become
 * spaces, other control characters '?'. Every message in a context is
 * already so. */
void sd_one_line(char *msg);
sd_status sd_ctx_status(const sd_ctx *ctx);
void sd_ctx_clear(sd_ctx *ctx);
/* Number of worker threads the library may use (>= 1). */
void sd_ctx_set_threads(sd_ctx *ctx, int threads);
int sd_ctx_threads(const sd_ctx *ctx);
/* Keep up to `bytes` of large freed blocks (images, planes, masks) for
 * reuse, process-wide: a program that compares many same-sized pairs then
 * stops paying the first touch of every page (~70 ms of CPU per 12 MP pair
 * here). 0, the default, frees the cached blocks and turns it off. Off when
 * SKINDELTA_NO_MEMCACHE=1 (valgrind); under AddressSanitizer cached blocks
 * are poisoned. Thread-safe. */
void sd_memory_cache(size_t bytes);

/* A rectangle in pixel coordinates. */
typedef struct sd_rect {
    int x, y, w, h;
} sd_rect;

/* An RGB image, upright (EXIF orientation already applied), samples
 * sRGB-encoded on 0..65535 whatever the source depth (8-bit sources are
 * scaled by 257, so 8-bit value v reads v * 257). Grey sources have R=G=B.
 *
 * Compact storage: an image loaded with sd_load_opts.compact from an 8-bit
 * source may keep its samples as the source's bytes, in px8 (px is then
 * NULL): half the memory, and no widening pass. Sample s of px8 reads
 * 257 s. Code that reads an image it did not make itself reads its pixels
 * through sd_image_row and sd_image_pixel, which serve both storages. */
typedef struct sd_image {
    int width, height;
    size_t stride;   /* samples from one row to the next, >= 3 * width */
    uint16_t *px;    /* owned by the image; NULL in compact storage */
    uint8_t *px8;    /* compact storage, owned by the image; else NULL */
    int bits;        /* precision of the source samples: 8 or 16 */
    int orientation; /* EXIF orientation that was applied, 1..8 (1 when none) */
    int had_alpha;   /* the source had an alpha channel (it is ignored) */
    char format[8];  /* "jpeg", "png", or "" for images made in memory */
    char sha256[65]; /* hex SHA-256 of the file's bytes, "" when not loaded */
} sd_image;

/* Allocate a w x h image (pixels zeroed). Fails with SD_ERR_TOO_LARGE when
 * w or h exceeds SD_MAX_DIM or w*h exceeds max_pixels (0: no pixel cap). */
SD_NODISCARD sd_status sd_image_new(sd_ctx *ctx, int w, int h, uint64_t max_pixels,
                                    sd_image **out);
void sd_image_free(sd_image *img); /* NULL-safe */

/* The samples of pixels (x, y) .. (x + n - 1, y) as 16-bit values: a
 * pointer into px, or, for compact storage, scratch (at least 3 n values)
 * filled with them. */
const uint16_t *sd_image_row(const sd_image *img, int x, int y, int n, uint16_t *scratch);

/* Whether img holds pixels (in either storage). */
static inline int sd_image_has_pixels(const sd_image *img)
{
    return img && (img->px || img->px8);
}

/* The three samples of pixel (x, y) as 16-bit values. */
static inline void sd_image_pixel(const sd_image *img, int x, int y, uint16_t out[3])
{
    const size_t i = (size_t)y * img->stride + 3 * (size_t)x;
    for (int c = 0; c < 3; c++)
        out[c] = img->px ? img->px[i + (size_t)c] : (uint16_t)(257 * img->px8[i + (size_t)c]);
}

/* Check w x h against the limits without allocating; `what` names the
 * image in the message. */
SD_NODISCARD sd_status sd_image_check_size(sd_ctx *ctx, const char *what, uint64_t w,
                                           uint64_t h, uint64_t max_pixels);

/* A single-channel float plane. Released with sd_plane_release. */
typedef struct sd_plane {
    int w, h;
    size_t stride; /* floats from one row to the next */
    float *p;
} sd_plane;

/* A zeroed w x h plane. */
SD_NODISCARD sd_status sd_plane_init(sd_ctx *ctx, sd_plane *pl, int w, int h);
/* The same without clearing the pixels (only the padding after each row's
 * w values is zero), for a caller that writes every pixel: the pages are
 * then first touched by that writer (on its threads), not by a memset. */
SD_NODISCARD sd_status sd_plane_alloc(sd_ctx *ctx, sd_plane *pl, int w, int h);
void sd_plane_release(sd_plane *pl); /* NULL-safe; leaves pl zeroed */

static inline float *sd_plane_row(const sd_plane *pl, int y)
{
    return pl->p + (size_t)y * pl->stride;
}

/* Bilinear sample at (x, y), pixel centres at integers, the coordinates
 * clamped into the plane. */
static inline float sd_plane_bilinear(const sd_plane *pl, double x, double y)
{
    x = x < 0 ? 0 : x > pl->w - 1 ? pl->w - 1 : x;
    y = y < 0 ? 0 : y > pl->h - 1 ? pl->h - 1 : y;
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < pl->w ? x0 + 1 : x0, y1 = y0 + 1 < pl->h ? y0 + 1 : y0;
    float fx = (float)(x - x0), fy = (float)(y - y0);
    const float *r0 = sd_plane_row(pl, y0), *r1 = sd_plane_row(pl, y1);
    float top = r0[x0] + fx * (r0[x1] - r0[x0]);
    float bot = r1[x0] + fx * (r1[x1] - r1[x0]);
    return top + fy * (bot - top);
}

#ifdef __cplusplus
}
#endif
#endif

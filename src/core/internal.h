/*
 * Library-internal helpers shared by every stage: error reporting into the
 * context and overflow-checked allocation. Not installed, not used by the CLI.
 */
#ifndef SKINDELTA_INTERNAL_H
#define SKINDELTA_INTERNAL_H

#include <stddef.h>

#include "skindelta/core.h"

/* Set ctx's message (printf-style; one line, no trailing newline) and
 * return `s`, so failures read `return sd_fail(ctx, SD_ERR_IO, "%s: ...", p);`.
 * ctx may be NULL (the message is then dropped). */
sd_status sd_fail(sd_ctx *ctx, sd_status s, const char *fmt, ...) SD_PRINTF(3, 4);

/* malloc(n * size) with the product checked; NULL on overflow or failure. */
void *sd_alloc_array(size_t n, size_t size);
/* calloc with the same checks. */
void *sd_calloc_array(size_t n, size_t size);
/* A 64-byte aligned block (NULL on failure). */
void *sd_alloc_aligned(size_t bytes);
/* free(p), except that a large block goes back to the memory cache when
 * sd_memory_cache() has enabled it (src/core/mem.c). Any of the three
 * allocators' blocks may be passed; NULL-safe. */
void sd_free(void *p);

/* sd_image_new without zeroing the pixels: for writers that set every
 * sample (decoders, orientation, warp). A reused block of the memory cache
 * then needs no pass before it is written. */
SD_NODISCARD sd_status sd_image_alloc(sd_ctx *ctx, int w, int h, uint64_t max_pixels,
                                      sd_image **out);
/* The same in compact storage (px8, 8-bit samples; not cleared). */
SD_NODISCARD sd_status sd_image_alloc_compact(sd_ctx *ctx, int w, int h, uint64_t max_pixels,
                                              sd_image **out);
/* A 16-bit copy of img (either storage), format and hash included. */
SD_NODISCARD sd_status sd_image_expand(sd_ctx *ctx, const sd_image *img, sd_image **out);
/* n 8-bit samples to 16-bit ones, v * 257. */
void sd_widen8(const uint8_t *restrict in, size_t n, uint16_t *restrict out);

/* Run fn on jobs[0..nt-1] (records of `size` bytes), one per thread, the
 * caller's included; a job whose thread cannot start runs on the caller:
 * same result. nt is clamped to 1..SD_MAX_JOBS. */
#define SD_MAX_JOBS 64
void sd_run_jobs(int nt, void *(*fn)(void *), void *jobs, size_t size);

#define SD_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SD_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SD_CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))

#endif

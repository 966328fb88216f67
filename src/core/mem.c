/*
 * Allocation: overflow-checked arrays, and an opt-in cache of large freed
 * blocks.
 *
 * A 12 MP pair touches about 170 MB of fresh memory (two decoded images,
 * masks, flags, the D plane); every first touch of a 4 KiB page is a page
 * fault, about 1 us here: a fresh 12 MP pair takes some 56 k of them. A
 * process that compares many pairs (batch, the benchmark) can keep the
 * large blocks it frees and hand them out again: the pages stay
 * mapped, and same-sized images reuse them whole. The cache is off unless
 * sd_memory_cache() sets a size; it holds blocks of SD_MEM_LARGE bytes and
 * more, at most SD_MEM_SLOTS of them and `cap` bytes in all, the oldest
 * freed first when it is full. A block is reused for a request it exceeds
 * by at most a quarter (so a small request does not pin a large block).
 * sd_alloc_aligned's blocks (planes) are 64-byte aligned, from the cache
 * or not. Every block stays a malloc block: free() is always valid, only
 * sd_free() returns it to the cache. Under AddressSanitizer a cached block
 * is poisoned while it waits, so a use after sd_free is still caught;
 * valgrind cannot be told, so SKINDELTA_NO_MEMCACHE=1 in the environment
 * turns the cache off (make valgrind sets it).
 */
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define SD_MEM_LARGE ((size_t)1 << 20)
#define SD_MEM_SLOTS 16

/* AddressSanitizer: a cached block is poisoned until it is handed out
 * again, so a use after sd_free is still reported (as a use after poison). */
#if defined(__SANITIZE_ADDRESS__)
#define SD_MEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SD_MEM_ASAN 1
#endif
#endif
#ifdef SD_MEM_ASAN
#include <sanitizer/asan_interface.h>
#define MEM_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define MEM_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define MEM_POISON(p, n) ((void)(p), (void)(n))
#define MEM_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static struct {
    pthread_mutex_t mu;
    size_t cap, total;
    unsigned long long clock;
    struct {
        void *p;
        size_t size;
        unsigned long long stamp;
    } slot[SD_MEM_SLOTS];
    int n;
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Drop slot i and return its block, still poisoned (the caller holds the
 * lock). */
static void *cache_take(int i)
{
    void *p = cache.slot[i].p;
    cache.total -= cache.slot[i].size;
    cache.slot[i] = cache.slot[--cache.n];
    return p;
}

/* Free the oldest blocks until `bytes` more fit (the caller holds the lock). */
static void cache_make_room(size_t bytes)
{
    while (cache.n > 0 && (cache.total + bytes > cache.cap || cache.n == SD_MEM_SLOTS)) {
        int old = 0;
        for (int i = 1; i < cache.n; i++)
            if (cache.slot[i].stamp < cache.slot[old].stamp)
                old = i;
        const size_t size = cache.slot[old].size;
        void *p = cache_take(old);
        MEM_UNPOISON(p, size);
        free(p);
    }
}

void sd_memory_cache(size_t bytes)
{
    const char *off = getenv("SKINDELTA_NO_MEMCACHE");
    if (off && *off && strcmp(off, "0") != 0)
        bytes = 0;
    pthread_mutex_lock(&cache.mu);
    cache.cap = bytes;
    cache_make_room(0);
    pthread_mutex_unlock(&cache.mu);
}

/* A block of `bytes` (>= SD_MEM_LARGE) from the cache when it holds one
 * that fits (64-byte aligned when `align` asks), else fresh; zeroed when
 * asked (a fresh zeroed block comes from calloc: no pass over it). */
static void *large_alloc(size_t bytes, int zero, int align)
{
    void *p = NULL;
    pthread_mutex_lock(&cache.mu);
    int best = -1;
    for (int i = 0; i < cache.n; i++) {
        size_t s = cache.slot[i].size;
        if (s >= bytes && s - bytes <= bytes / 4 && (!align || ((uintptr_t)cache.slot[i].p & 63) == 0) &&
            (best < 0 || s < cache.slot[best].size))
            best = i;
    }
    if (best >= 0)
        p = cache_take(best);
    pthread_mutex_unlock(&cache.mu);
    if (p) {
        MEM_UNPOISON(p, bytes); /* the rest of the block stays poisoned */
        if (zero)
            memset(p, 0, bytes);
        return p;
    }
    if (align) {
        if (posix_memalign(&p, 64, bytes) != 0)
            return NULL;
        if (zero)
            memset(p, 0, bytes);
        return p;
    }
    return zero ? calloc(bytes, 1) : malloc(bytes);
}

void sd_free(void *p)
{
    if (!p)
        return;
    size_t size = malloc_usable_size(p);
    if (size >= SD_MEM_LARGE) {
        pthread_mutex_lock(&cache.mu);
        if (size <= cache.cap) {
            cache_make_room(size);
            MEM_POISON(p, size);
            cache.slot[cache.n].p = p;
            cache.slot[cache.n].size = size;
            cache.slot[cache.n].stamp = ++cache.clock;
            cache.n++;
            cache.total += size;
            p = NULL;
        }
        pthread_mutex_unlock(&cache.mu);
    }
    free(p);
}

void *sd_alloc_aligned(size_t bytes)
{
    if (bytes >= SD_MEM_LARGE)
        return large_alloc(bytes, 0, 1);
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 1) == 0 ? p : NULL;
}

void *sd_alloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    return bytes >= SD_MEM_LARGE ? large_alloc(bytes, 0, 0) : malloc(bytes ? bytes : 1);
}

void *sd_calloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    return bytes >= SD_MEM_LARGE ? large_alloc(bytes, 1, 0) : calloc(n ? n : 1, size ? size : 1);
}

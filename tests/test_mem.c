/* The memory cache (src/core/mem.c): large freed blocks are handed out
 * again only while sd_memory_cache() enables it, within the size slack and
 * the byte limit, zeroed when calloc'd, 64-byte aligned when asked; under
 * AddressSanitizer a cached block is poisoned until it is handed out again
 * (and then only the bytes asked for are addressable). */
#include "sd_test.h"

#include <pthread.h>
#include <stdint.h>

#include "core/internal.h"

#define CACHING 1
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISONED(p) __asan_address_is_poisoned(p)
#else
#define POISONED(p) 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#else
#define ASAN 0
#endif

#define MB ((size_t)1 << 20)

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static void test_reuse_and_zero(void **state)
{
    (void)state;
    sd_memory_cache(64 * MB);
    unsigned char *p = sd_calloc_array(4, MB);
    assert_non_null(p);
    assert_true(all_zero(p, 4 * MB));
    memset(p, 0xab, 4 * MB);
    sd_free(p);
    assert_int_equal(POISONED(p + 4 * MB - 1), ASAN); /* waiting in the cache */
    unsigned char *q = sd_calloc_array(4, MB); /* the same block, zeroed again */
    assert_non_null(q);
    assert_int_equal(q == p, CACHING);
    assert_int_equal(POISONED(q), 0);
    assert_int_equal(POISONED(q + 4 * MB - 1), 0);
    assert_true(all_zero(q, 4 * MB));
    sd_free(q);
    unsigned char *r = sd_alloc_array(7, MB / 2); /* 3.5 MB: within a quarter */
    assert_int_equal(r == p, CACHING);
    assert_int_equal(POISONED(r + 7 * MB / 2 - 1), 0);
    assert_int_equal(POISONED(r + 7 * MB / 2), ASAN); /* past what was asked */
    sd_free(r);
    unsigned char *s = sd_alloc_array(2, MB); /* 2 MB: would pin twice its size */
    assert_ptr_not_equal(s, p);
    sd_free(s);
    sd_memory_cache(0);
}

static void test_small_blocks_not_cached(void **state)
{
    (void)state;
    sd_memory_cache(64 * MB);
    void *p = sd_alloc_array(1000, 1);
    void *keep = sd_alloc_array(4, MB);
    sd_free(p); /* plain free: a small block may be reused by malloc, never by the cache */
    sd_free(keep);
    void *q = sd_alloc_array(4, MB);
    assert_int_equal(q == keep, CACHING);
    sd_free(q);
    sd_memory_cache(0);
}

static void test_alignment(void **state)
{
    (void)state;
    sd_memory_cache(64 * MB);
    /* a plain large block (malloc's alignment) is not handed to an aligned request */
    void *plain = sd_alloc_array(4, MB);
    assert_non_null(plain);
    int plain_aligned = ((uintptr_t)plain & 63) == 0;
    sd_free(plain);
    void *a = sd_alloc_aligned(4 * MB);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a & 63, 0);
    if (!plain_aligned)
        assert_ptr_not_equal(a, plain);
    sd_free(a);
    void *b = sd_alloc_aligned(4 * MB);
    assert_int_equal((uintptr_t)b & 63, 0);
    sd_free(b);
    sd_memory_cache(0);
    void *c = sd_alloc_aligned(100); /* small ones too */
    assert_non_null(c);
    assert_int_equal((uintptr_t)c & 63, 0);
    sd_free(c);
}

/* Which of the marked blocks came back: a reused block keeps its marker
 * (sd_alloc_array does not zero), a fresh one reads 0. Fresh means new
 * pages only above glibc's largest mmap threshold (32 MB): smaller freed
 * blocks malloc may keep and reuse itself. */
#define BIG (40 * MB)
static int marker(const unsigned char *p) { return p[12345]; }

static void test_limit_evicts_oldest(void **state)
{
    (void)state;
    sd_memory_cache(2 * BIG + MB); /* room for two blocks (plus malloc's header) */
    unsigned char *b[3];
    for (int i = 0; i < 3; i++) {
        assert_non_null(b[i] = sd_alloc_array(1, BIG));
        b[i][12345] = (unsigned char)(0xa0 + i);
    }
    for (int i = 0; i < 3; i++)
        sd_free(b[i]); /* b[0] is evicted by b[2] */
    unsigned char *x[3];
    int seen[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        assert_non_null(x[i] = sd_alloc_array(1, BIG));
        int m = marker(x[i]);
        if (m >= 0xa0 && m < 0xa3)
            seen[m - 0xa0]++;
        else
            assert_int_equal(m, 0);
    }
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], CACHING);
    assert_int_equal(seen[2], CACHING);
    for (int i = 0; i < 3; i++) {
        x[i][12345] = 0x77;
        sd_free(x[i]);
    }
    /* off: the cached blocks go back to the system, nothing is reused */
    sd_memory_cache(0);
    unsigned char *q = sd_alloc_array(1, BIG);
    assert_int_equal(marker(q), 0);
    sd_free(q);
}

static void test_env_turns_it_off(void **state)
{
    (void)state;
    setenv("SKINDELTA_NO_MEMCACHE", "1", 1);
    sd_memory_cache(2 * BIG);
    unsigned char *p = sd_alloc_array(1, BIG);
    p[12345] = 0x55;
    sd_free(p);
    unsigned char *q = sd_alloc_array(1, BIG);
    assert_int_equal(marker(q), 0);
    sd_free(q);
    unsetenv("SKINDELTA_NO_MEMCACHE");
    sd_memory_cache(0);
}

static void *churn(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 400; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = MB + (seed >> 8) % (3 * MB);
        unsigned char *p = (seed >> 4) & 1 ? sd_calloc_array(n, 1) : sd_alloc_aligned(n);
        if (!p)
            return (void *)1;
        if ((seed >> 4) & 1 && !(p[0] == 0 && p[n / 2] == 0 && p[n - 1] == 0))
            return (void *)1;
        p[0] = p[n / 2] = p[n - 1] = 1;
        sd_free(p);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    sd_memory_cache(16 * MB);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(i + 1)), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    sd_memory_cache(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_zero),    cmocka_unit_test(test_small_blocks_not_cached),
        cmocka_unit_test(test_alignment),         cmocka_unit_test(test_limit_evicts_oldest),
        cmocka_unit_test(test_env_turns_it_off),  cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

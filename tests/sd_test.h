/*
 * Shared helpers for the cmocka suites: where ../shared is, and how a test
 * that needs its data behaves when it is absent (skip with a message, or
 * fail loudly when CI=true).
 */
#ifndef SD_TEST_H
#define SD_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the four above first */
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Folder of the shared test material (SKINDELTA_SHARED, else ../shared). */
static inline const char *sd_test_shared(void)
{
    const char *s = getenv("SKINDELTA_SHARED");
    return s && *s ? s : "../shared";
}

/* Path under ../shared into buf; returns 1 when it exists. */
static inline int sd_test_data(char *buf, size_t n, const char *rel)
{
    struct stat st;
    snprintf(buf, n, "%s/%s", sd_test_shared(), rel);
    return stat(buf, &st) == 0;
}

/* Use at the top of a test that needs ../shared/<rel>: skips with a message
 * when it is absent, and fails when CI=true. */
#define SD_REQUIRE_DATA(buf, rel)                                                          \
    do {                                                                                   \
        if (!sd_test_data((buf), sizeof(buf), (rel))) {                                    \
            const char *ci_ = getenv("CI");                                                \
            if (ci_ && strcmp(ci_, "true") == 0)                                           \
                fail_msg("test data missing in CI: %s", (buf));                            \
            print_message("skipping: test data not found: %s\n", (buf));                   \
            skip();                                                                        \
        }                                                                                  \
    } while (0)

/* Upright position of stored pixel (x, y) of a W x H stored image under
 * EXIF orientation o, from the EXIF 2.3 table (independent of the
 * library's own, so the tests check it). */
static inline void sd_test_upright(int o, int x, int y, int W, int H, int *ux, int *uy)
{
    switch (o) {
    case 2: *ux = W - 1 - x, *uy = y; break;
    case 3: *ux = W - 1 - x, *uy = H - 1 - y; break;
    case 4: *ux = x, *uy = H - 1 - y; break;
    case 5: *ux = y, *uy = x; break;
    case 6: *ux = H - 1 - y, *uy = x; break;
    case 7: *ux = H - 1 - y, *uy = W - 1 - x; break;
    case 8: *ux = y, *uy = W - 1 - x; break;
    default: *ux = x, *uy = y; break;
    }
}

#endif

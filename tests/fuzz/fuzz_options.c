/*
 * Fuzz harness: the parsing of option values (src/cli/parse.c): numbers,
 * integers, pixel counts with k/M/G, rectangles, choices. The first byte
 * picks the parser ('0'..'4' in the committed seeds), the rest is the
 * value as the shell would pass it (cut at the first NUL).
 *
 * Invariants, from the documented grammar rather than from the code:
 *   accepted values are within the range asked for;
 *   an accepted count is digits with at most one k/K/M/G suffix, and its
 *   value is the digits times the suffix;
 *   an accepted integer or count starts with a digit or a sign, an
 *   accepted number does not start with white space (strict: the whole
 *   string, nothing skipped);
 *   an accepted rectangle is exactly four comma-separated digit runs with
 *   W, H >= 1 and all within SD_MAX_DIM;
 *   a refusal leaves a one-line, NUL-terminated reason in err.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "cli/parse.h"
#include "fuzz.h"

static void check_err(const char *err, size_t n)
{
    FUZZ_CHECK(memchr(err, '\0', n) != NULL);
    FUZZ_CHECK(err[0] != '\0');
}

/* Digits only, from s to end; their value (saturating), or -1 if none. */
static int digits(const char *s, const char *end, unsigned long long *v)
{
    if (s == end)
        return -1;
    unsigned long long x = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        x = x > (~0ull - d) / 10 ? ~0ull : x * 10 + d;
    }
    *v = x;
    return 0;
}

static void fuzz_count(const char *s)
{
    char err[200];
    uint64_t v = 0, lo = 1, hi = (uint64_t)1 << 40;
    if (sd_parse_count(s, lo, hi, &v, err, sizeof err) != 0) {
        check_err(err, sizeof err);
        return;
    }
    size_t n = strlen(s);
    uint64_t mult = 1;
    char last = n ? s[n - 1] : '\0';
    if (last == 'k' || last == 'K')
        mult = 1000;
    else if (last == 'M')
        mult = 1000000;
    else if (last == 'G')
        mult = 1000000000;
    unsigned long long d = 0;
    FUZZ_CHECK(digits(s, s + n - (mult > 1), &d) == 0);
    FUZZ_CHECK(d <= hi / mult && d * mult == v);
    FUZZ_CHECK(v >= lo && v <= hi);
}

static void fuzz_int(const char *s)
{
    char err[200];
    int v = 0;
    if (sd_parse_int(s, -1000, 1000, &v, err, sizeof err) != 0) {
        check_err(err, sizeof err);
        return;
    }
    FUZZ_CHECK(v >= -1000 && v <= 1000);
    const char *p = s + (s[0] == '-' || s[0] == '+');
    unsigned long long d = 0;
    FUZZ_CHECK(digits(p, p + strlen(p), &d) == 0);
    FUZZ_CHECK((long long)d == (s[0] == '-' ? -(long long)v : v));
}

static void fuzz_double(const char *s)
{
    char err[200];
    double v = 0;
    if (sd_parse_double(s, 1e-3, 1e5, &v, err, sizeof err) != 0) {
        check_err(err, sizeof err);
        return;
    }
    FUZZ_CHECK(isfinite(v) && v >= 1e-3 && v <= 1e5);
    FUZZ_CHECK(s[0] != '\0' && !isspace((unsigned char)s[0]));
}

static void fuzz_rect(const char *s)
{
    char err[200];
    sd_rect r;
    if (sd_parse_rect(s, &r, err, sizeof err) != 0) {
        check_err(err, sizeof err);
        return;
    }
    /* four digit runs separated by exactly three commas */
    long want[4];
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        const char *e = i < 3 ? strchr(p, ',') : p + strlen(p);
        FUZZ_CHECK(e != NULL);
        unsigned long long d = 0;
        FUZZ_CHECK(digits(p, e, &d) == 0);
        FUZZ_CHECK(d <= SD_MAX_DIM);
        want[i] = (long)d;
        p = e + (i < 3);
    }
    FUZZ_CHECK(r.x == want[0] && r.y == want[1] && r.w == want[2] && r.h == want[3]);
    FUZZ_CHECK(r.x >= 0 && r.y >= 0 && r.w >= 1 && r.h >= 1);
}

static void fuzz_choice(const char *s)
{
    static const char *const names[] = {"similarity", "affine", "none", NULL};
    int k = sd_parse_choice(s, names);
    FUZZ_CHECK(k >= -1 && k <= 2);
    FUZZ_CHECK(k < 0 || strcmp(s, names[k]) == 0);
    for (int i = 0; names[i]; i++)
        FUZZ_CHECK(strcmp(s, names[i]) != 0 || k == i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *s = malloc(size); /* size - 1 value bytes + NUL */
    if (!s)
        return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    switch ((data[0] + 2) % 5) { /* '0' -> 0, ..., '4' -> 4 */
    case 0: fuzz_double(s); break;
    case 1: fuzz_int(s); break;
    case 2: fuzz_count(s); break;
    case 3: fuzz_rect(s); break;
    default: fuzz_choice(s); break;
    }
    free(s);
    return 0;
}

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/parse.h"

/* strtod, strtol and strtoull skip leading white space (and strtoull then
 * negates a '-' it finds after it: " -18446744073709551615" reads as 1);
 * a value must start with what the grammar allows, so refuse it up front. */
static int leading_space(const char *s)
{
    return s && isspace((unsigned char)*s);
}

int sd_parse_double(const char *s, double lo, double hi, double *out, char *err, size_t n)
{
    char *end = NULL;
    errno = 0;
    double v = s && *s ? strtod(s, &end) : NAN;
    if (!s || !*s || leading_space(s) || *end || errno || !isfinite(v)) {
        snprintf(err, n, "'%s' is not a number", s ? s : "");
        return -1;
    }
    if (v < lo || v > hi) {
        snprintf(err, n, "%s is out of range [%g, %g]", s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int sd_parse_int(const char *s, long lo, long hi, int *out, char *err, size_t n)
{
    char *end = NULL;
    errno = 0;
    long v = s && *s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || leading_space(s) || *end || errno) {
        snprintf(err, n, "'%s' is not an integer", s ? s : "");
        return -1;
    }
    if (v < lo || v > hi) {
        snprintf(err, n, "%s is out of range [%ld, %ld]", s, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int sd_parse_count(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, char *err, size_t n)
{
    char *end = NULL;
    errno = 0;
    if (!s || !*s || *s == '-' || *s == '+' || leading_space(s)) {
        snprintf(err, n, "'%s' is not a positive count", s ? s : "");
        return -1;
    }
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mult = 1;
    if (end != s && *end && !end[1]) {
        if (*end == 'k' || *end == 'K')
            mult = 1000;
        else if (*end == 'M')
            mult = 1000000;
        else if (*end == 'G')
            mult = 1000000000;
        if (mult > 1)
            end++;
    }
    if (end == s || *end || errno) {
        snprintf(err, n, "'%s' is not a positive count", s);
        return -1;
    }
    if (v > hi / mult || v * mult < lo) {
        snprintf(err, n, "%s is out of range [%llu, %llu]", s, (unsigned long long)lo,
                 (unsigned long long)hi);
        return -1;
    }
    *out = v * mult;
    return 0;
}

int sd_parse_rect(const char *s, sd_rect *out, char *err, size_t n)
{
    long v[4];
    const char *p = s ? s : "";
    for (int i = 0; i < 4; i++) {
        char *end = NULL;
        errno = 0;
        if (*p < '0' || *p > '9')
            goto bad;
        v[i] = strtol(p, &end, 10);
        if (errno || end == p || v[i] > SD_MAX_DIM)
            goto bad;
        if (i < 3 && *end != ',')
            goto bad;
        p = end + (i < 3);
        if (i == 3 && *end)
            goto bad;
    }
    if (v[2] < 1 || v[3] < 1) {
        snprintf(err, n, "'%s': width and height must be at least 1", s);
        return -1;
    }
    out->x = (int)v[0];
    out->y = (int)v[1];
    out->w = (int)v[2];
    out->h = (int)v[3];
    return 0;
bad:
    snprintf(err, n, "'%s' is not a rectangle X,Y,W,H of non-negative integers", s ? s : "");
    return -1;
}

int sd_parse_choice(const char *s, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

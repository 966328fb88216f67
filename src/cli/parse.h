/*
 * Parsing of option values: strict (the whole string, finite, in range),
 * so that "--px-per-mm 12abc" or "--roi 1,2,3" is a usage error, never a
 * silently different number.
 */
#ifndef SKINDELTA_CLI_PARSE_H
#define SKINDELTA_CLI_PARSE_H

#include <stdint.h>

#include "skindelta/core.h"

/* Each returns 0 on success, -1 with a reason in err (one line). */
int sd_parse_double(const char *s, double lo, double hi, double *out, char *err, size_t n);
int sd_parse_int(const char *s, long lo, long hi, int *out, char *err, size_t n);
/* Pixel counts with an optional k, M or G suffix (powers of 1000). */
int sd_parse_count(const char *s, uint64_t lo, uint64_t hi, uint64_t *out, char *err, size_t n);
/* "X,Y,W,H": X, Y >= 0, W, H >= 1, all within SD_MAX_DIM. */
int sd_parse_rect(const char *s, sd_rect *out, char *err, size_t n);
/* Index of s in the NULL-terminated list of names, or -1. */
int sd_parse_choice(const char *s, const char *const *names);

#endif

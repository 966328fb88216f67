/*
 * Internals of the batch stage: the plan's storage and the cache.
 */
#ifndef SKINDELTA_BATCH_INTERNAL_H
#define SKINDELTA_BATCH_INTERNAL_H

#include <cJSON.h>

#include "skindelta/batch.h"

typedef struct sd_batch_session_def {
    char *folder;
    char date[11];
} sd_batch_session_def;

typedef struct sd_batch_file_map {
    char *file, *view;
} sd_batch_file_map;

/* Per-view settings from the manifest (override the run's defaults). */
typedef struct sd_batch_view_cfg {
    char *name;
    int has_roi, has_ref;
    sd_rect roi, ref;
    char *mask;       /* relative to the patient folder, or NULL */
    double px_per_mm; /* 0: the run's */
} sd_batch_view_cfg;

typedef struct sd_batch_image {
    char *session, *view, *file;
    char date[11];
    long days;
} sd_batch_image;

struct sd_batch_plan {
    char *dir, *patient;
    int has_manifest, has_session_list;
    sd_batch_session_def *sessions;
    size_t n_sessions;
    sd_batch_file_map *files;
    size_t n_files;
    sd_batch_view_cfg *views;
    size_t n_views;
    sd_batch_image *images;
    size_t n_images, cap_images;
};

const sd_batch_view_cfg *sd_batch_view_config(const sd_batch_plan *p, const char *view);

/* ---- cache: PATIENT/.skindelta-cache/<kind>-<key>.json ----
 * Each entry is written atomically and holds its own key and the format
 * version; an entry that does not parse, or whose key or version differ, is
 * ignored (*rejected = 1) and recomputed. */
#define SD_BATCH_CACHE_FORMAT 1

/* key = hex SHA-256 of the text (which names every input of the result) */
void sd_batch_cache_key(const char *text, char key[65]);
/* The entry's object (owned by the caller), or NULL when absent or bad
 * (then *rejected is set to 1; it is never cleared). */
cJSON *sd_batch_cache_get(const char *dir, const char *kind, const char *key, int *rejected);
/* Store obj (its "key" and "format" are set here); 0 on success. */
int sd_batch_cache_put(const char *dir, const char *kind, const char *key, cJSON *obj);

/* Numbers in entries round-trip exactly (17 digits); non-finite ones are
 * null <-> NAN. */
cJSON *sd_batch_exact_num(double x);
/* 0 and *x set when present (null -> NAN), -1 when absent or not a number. */
int sd_batch_get_num(const cJSON *o, const char *k, double *x);

#endif

/*
 * Batch: a patient folder of dated sessions -> one progress report
 * ("skindelta/progress/1", ../shared/DESIGN.md and docs/batch.md).
 *
 * The caller (the CLI) walks the folder and fills a plan with
 * sd_batch_plan_add; the optional manifest (patient.json) is parsed and
 * validated here. sd_batch_run then works the plan view by view:
 *   1. probe every image (content hash; decode unless the cache knows it),
 *      the baseline of a view is its earliest session whose image loads;
 *   2. align every later session to the baseline (cached per pair);
 *   3. the common ROI: user rect/mask ∩ every aligned session's overlap,
 *      in the baseline frame;
 *   4. measure the baseline over it (thresholds fixed from it), then every
 *      session on its own grid over the ROI carried through its transform
 *      (cached per session, keyed by the common ROI too);
 *   5. the report: vs_baseline, vs_previous, trends.
 * Work items of a phase are independent; the caller may run them on threads
 * through hooks->run (results are merged in a fixed order, so the report
 * does not depend on the thread count). The library never prints: progress
 * goes to hooks->event.
 */
#ifndef SKINDELTA_BATCH_H
#define SKINDELTA_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "skindelta/compare.h"
#include "skindelta/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SD_BATCH_MANIFEST "patient.json"
#define SD_BATCH_REPORT "skindelta-progress.json"
#define SD_BATCH_CACHE_DIR ".skindelta-cache"

typedef struct sd_batch_plan sd_batch_plan; /* opaque */

/* A new empty plan for the patient folder `dir` (the report's "patient" is
 * its last path component unless the manifest names it). */
SD_NODISCARD sd_status sd_batch_plan_new(sd_ctx *ctx, const char *dir, sd_batch_plan **out);
void sd_batch_plan_free(sd_batch_plan *plan); /* NULL-safe */

/* Parse and validate a manifest (JSON text; `name` is used in messages):
 *   {"patient": "P-0042",
 *    "sessions": [{"folder": "visit-1", "date": "2026-01-10"}, ...],
 *    "files": {"IMG_0012.jpg": "cheek-left", ...},
 *    "views": {"cheek-left": {"roi": [x, y, w, h], "mask": "masks/cl.png",
 *                             "px_per_mm": 20, "ref": [x, y, w, h]}}}
 * Every key is optional; unknown keys and wrong types are SD_ERR_ARG with a
 * message naming the key ("patient.json: views.cheek-left.roi: ..."). */
SD_NODISCARD sd_status sd_batch_manifest_parse(sd_ctx *ctx, sd_batch_plan *plan,
                                               const char *name, const char *json);
/* Did the manifest list sessions? Then only those folders are sessions. */
int sd_batch_plan_has_session_list(const sd_batch_plan *plan);
/* The date the plan gives a session folder: from the manifest's list, else
 * the folder name's leading YYYY-MM-DD (a real calendar date). Returns 1 and
 * fills date[11], or 0 when the folder is not a session. */
int sd_batch_session_date(const sd_batch_plan *plan, const char *folder, char date[11]);
/* The view a file of a session belongs to: the manifest's "files" map, else
 * the stem for .jpg/.jpeg/.png (any case). Returns 0 for a non-image file. */
int sd_batch_file_view(const sd_batch_plan *plan, const char *file, char *view, size_t n);

/* Add one image: session folder name (relative to the patient folder), its
 * date "YYYY-MM-DD", the view, and the file name inside the session folder.
 * A second image of the same view in the same session is SD_ERR_ARG. */
SD_NODISCARD sd_status sd_batch_plan_add(sd_ctx *ctx, sd_batch_plan *plan, const char *session,
                                         const char *date, const char *view, const char *file);

/* ---- running ---- */

typedef enum sd_batch_phase { SD_BATCH_PROBE = 0, SD_BATCH_ALIGN, SD_BATCH_MEASURE } sd_batch_phase;

typedef struct sd_batch_event {
    const char *patient, *view, *session, *image; /* image: path relative to the patient folder */
    sd_batch_phase phase;
    const char *status; /* "ok", "cached", "error" */
    const char *error;  /* the message when status is "error", else NULL */
    double elapsed_ms;  /* time this item took */
} sd_batch_event;

typedef struct sd_batch_stats {
    size_t items_total;      /* work items scheduled (probe + align + measure) */
    size_t images_decoded;   /* probes that had to decode */
    size_t pairs_aligned;    /* alignments computed (cache misses) */
    size_t pairs_cached;     /* alignments taken from the cache */
    size_t measured;         /* sessions measured (cache misses) */
    size_t measured_cached;  /* sessions taken from the cache */
    size_t cache_rejected;   /* cache entries present but damaged or mismatched */
    size_t sessions, views, pairs_ok, pairs_failed; /* the report's summary */
} sd_batch_stats;

typedef struct sd_batch_hooks {
    void *user;
    /* Run fn(arg, i) for i in [0, n), in any order, on any threads, and
     * return when all are done (or, once cancelled() is true, skip the ones
     * not started). NULL: the library runs them one after another. Each
     * call of fn uses its own context. */
    void (*run)(void *user, size_t n, void (*fn)(void *arg, size_t i), void *arg);
    /* Called after each work item, possibly from several threads at once. */
    void (*event)(void *user, const sd_batch_event *ev);
    /* Called before each work item; nonzero: stop scheduling. */
    int (*cancelled)(void *user);
    /* Called once per phase with the number of items it schedules. */
    void (*planned)(void *user, size_t n);
} sd_batch_hooks;

typedef struct sd_batch_opts {
    sd_compare_params params; /* defaults for every view (the manifest overrides per view) */
    int use_cache;            /* read and write PATIENT/.skindelta-cache */
} sd_batch_opts;

/* Run the plan and build the report. *json (malloc'd, NUL-terminated, ends
 * with a newline) is the progress report; stats is filled as far as the run
 * got. Failed images do not fail the run (they are in the report and
 * stats->pairs_failed). Returns SD_ERR_ARG when cancelled (message
 * "interrupted"), or an error for what stops the whole patient (memory,
 * no sessions). */
SD_NODISCARD sd_status sd_batch_run(sd_ctx *ctx, const sd_batch_plan *plan,
                                    const sd_batch_opts *opts, const sd_batch_hooks *hooks,
                                    char **json, sd_batch_stats *stats);

/* Least-squares slope of y over x (x in days) and the value it gives. Only
 * finite points count; fewer than two distinct x: NAN. Public for the tests. */
double sd_batch_slope(const double *x, const double *y, size_t n);
/* Days since 1970-01-01 of "YYYY-MM-DD"; 0 on success, -1 when it is not a
 * real date. */
int sd_batch_date_days(const char *date, long *days);

#ifdef __cplusplus
}
#endif
#endif

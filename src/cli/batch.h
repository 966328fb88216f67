/*
 * skindelta batch: the CLI side (folder walking, threads, progress output,
 * signals). The numbers come from the library (skindelta/batch.h).
 */
#ifndef SKINDELTA_CLI_BATCH_H
#define SKINDELTA_CLI_BATCH_H

#include "skindelta/compare.h"

typedef struct sd_cli_batch_opts {
    const char *output;   /* -o FILE (single patient only) or NULL */
    const char *progress; /* auto | bar | jsonl | none */
    int quiet;
    int no_cache;
    sd_compare_params p;
} sd_cli_batch_opts;

/* Run batch over the patient folders; returns the exit code. */
int sd_cli_batch(const sd_cli_batch_opts *o, int n, char **dirs);

#endif

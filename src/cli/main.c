/*
 * skindelta: the command-line program. Parses argv, calls the library,
 * writes the report, prints errors as "skindelta: FILE: reason" and maps
 * statuses to the documented exit codes. Uses the public headers only.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/batch.h"
#include "cli/parse.h"
#include "skindelta/compare.h"
#include "skindelta/io.h"
#include "skindelta/kernels.h"
#include "skindelta/report.h"

enum { EXIT_USAGE = 1, EXIT_INPUT = 2, EXIT_ALIGN = 3, EXIT_OUTPUT = 4 };

static const char usage_text[] =
    "usage: skindelta compare [options] BEFORE AFTER   one pair -> report JSON\n"
    "       skindelta analyze [options] IMAGE          one image -> metrics JSON\n"
    "       skindelta batch [options] PATIENT_DIR...   sessions -> progress JSON\n"
    "       skindelta --help | --version\n"
    "\n"
    "options:\n"
    "  -o, --output FILE        write the report to FILE ('-' = stdout, the default)\n"
    "      --roi X,Y,W,H        measure only this rectangle (BEFORE pixel coordinates)\n"
    "      --mask FILE.png      measure only where the mask is white (BEFORE-sized)\n"
    "      --px-per-mm S        image scale: filters set in mm, mm and cm2 figures added\n"
    "      --align MODEL        similarity (default) | affine | none\n"
    "      --allow-unaligned    measure a pair even when alignment fails\n"
    "      --normalize METHOD   exposure (default) | reference | none\n"
    "      --ref X,Y,W,H        grey/white reference patch (BEFORE coordinates); implies\n"
    "                           --normalize reference\n"
    "      --max-pixels N       refuse images with more pixels (default 100M; k/M/G)\n"
    "      --red-delta D        red area threshold above the BEFORE median a* (default 5)\n"
    "      --pore-contrast T    fixed pore threshold instead of 4 robust SDs of BEFORE\n"
    "  -j, --jobs N             worker threads (default: number of cores)\n"
    "      --simd LEVEL         scalar | sse2 | avx2 | avx512: force a kernel level (default:\n"
    "                           the best the CPU has; also SKINDELTA_SIMD)\n"
    "  -q, --quiet              no summary on stderr\n"
    "batch only:\n"
    "      --progress MODE      auto (bar on a TTY, else none) | bar | jsonl | none\n"
    "      --no-cache           ignore and do not write PATIENT_DIR/.skindelta-cache\n"
    "\n"
    "exit codes: 0 ok, 1 usage error, 2 input error, 3 not comparable (alignment failed),\n"
    "            4 output error, 5 batch finished with some sessions failed,\n"
    "            130/143 batch interrupted by SIGINT/SIGTERM (previous report kept)\n";

static int usage_error(const char *fmt, ...) SD_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sd_one_line(msg); /* an operand may hold any byte */
    fprintf(stderr, "skindelta: %s (see skindelta --help)\n", msg);
    return EXIT_USAGE;
}

static int exit_code(sd_status s)
{
    switch (s) {
    case SD_OK: return 0;
    case SD_ERR_ARG: return EXIT_USAGE;
    case SD_ERR_ALIGN: return EXIT_ALIGN;
    case SD_ERR_WRITE: return EXIT_OUTPUT;
    default: return EXIT_INPUT;
    }
}

static int fail(sd_ctx *ctx, sd_status s)
{
    const char *msg = sd_ctx_message(ctx);
    fprintf(stderr, "skindelta: %s\n", *msg ? msg : sd_strerror(s));
    return exit_code(s);
}

typedef struct cli {
    const char *output;
    int quiet;
    int norm_given;
    const char *progress; /* batch only */
    int no_cache;         /* batch only */
    sd_compare_params p;
} cli;

enum {
    OPT_ROI = 256, OPT_MASK, OPT_PXMM, OPT_ALIGN, OPT_ALLOW, OPT_NORM, OPT_REF, OPT_MAXPX,
    OPT_REDDELTA, OPT_PORECONTRAST, OPT_SIMD, OPT_PROGRESS, OPT_NOCACHE
};

static const struct option long_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"roi", required_argument, NULL, OPT_ROI},
    {"mask", required_argument, NULL, OPT_MASK},
    {"px-per-mm", required_argument, NULL, OPT_PXMM},
    {"align", required_argument, NULL, OPT_ALIGN},
    {"allow-unaligned", no_argument, NULL, OPT_ALLOW},
    {"normalize", required_argument, NULL, OPT_NORM},
    {"ref", required_argument, NULL, OPT_REF},
    {"max-pixels", required_argument, NULL, OPT_MAXPX},
    {"red-delta", required_argument, NULL, OPT_REDDELTA},
    {"pore-contrast", required_argument, NULL, OPT_PORECONTRAST},
    {"simd", required_argument, NULL, OPT_SIMD},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"no-cache", no_argument, NULL, OPT_NOCACHE},
    {"jobs", required_argument, NULL, 'j'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* Parse the options after the command; returns -1 on success (optind at the
 * operands) or the exit code. */
static int parse_options(int argc, char **argv, cli *c)
{
    static const char *const aligns[] = {"similarity", "affine", "none", NULL};
    static const char *const norms[] = {"exposure", "reference", "none", NULL};
    static const sd_align_model align_v[] = {SD_ALIGN_SIMILARITY, SD_ALIGN_AFFINE, SD_ALIGN_NONE};
    static const sd_norm_method norm_v[] = {SD_NORM_EXPOSURE, SD_NORM_REFERENCE, SD_NORM_NONE};
    static const char *const progress_modes[] = {"auto", "bar", "jsonl", "none", NULL};
    char err[200];
    double px_per_mm = 0;
    int opt, k;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":o:j:qh", long_opts, NULL)) != -1) {
        const char *name = argv[optind - 1];
        switch (opt) {
        case 'o': c->output = optarg; break;
        case 'q': c->quiet = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'j':
            if (sd_parse_int(optarg, 1, 256, &c->p.threads, err, sizeof err))
                return usage_error("-j: %s", err);
            break;
        case OPT_ROI:
            if (sd_parse_rect(optarg, &c->p.roi, err, sizeof err))
                return usage_error("--roi: %s", err);
            c->p.has_roi = 1;
            break;
        case OPT_REF:
            if (sd_parse_rect(optarg, &c->p.ref, err, sizeof err))
                return usage_error("--ref: %s", err);
            c->p.has_ref = 1;
            break;
        case OPT_MASK: c->p.mask_path = optarg; break;
        case OPT_PXMM:
            if (sd_parse_double(optarg, 1e-3, 1e5, &px_per_mm, err, sizeof err))
                return usage_error("--px-per-mm: %s", err);
            break;
        case OPT_ALIGN:
            if ((k = sd_parse_choice(optarg, aligns)) < 0)
                return usage_error("--align: '%s' is not one of similarity, affine, none", optarg);
            c->p.align = align_v[k];
            break;
        case OPT_ALLOW: c->p.allow_unaligned = 1; break;
        case OPT_NORM:
            if ((k = sd_parse_choice(optarg, norms)) < 0)
                return usage_error("--normalize: '%s' is not one of exposure, reference, none",
                                   optarg);
            c->p.normalize = norm_v[k];
            c->norm_given = 1;
            break;
        case OPT_MAXPX:
            if (sd_parse_count(optarg, 1, (uint64_t)SD_MAX_DIM * SD_MAX_DIM, &c->p.max_pixels, err,
                               sizeof err))
                return usage_error("--max-pixels: %s", err);
            break;
        case OPT_REDDELTA:
            if (sd_parse_double(optarg, 0, 100, &c->p.metric.red_delta, err, sizeof err))
                return usage_error("--red-delta: %s", err);
            break;
        case OPT_PORECONTRAST:
            if (sd_parse_double(optarg, 1e-6, 10, &c->p.metric.pore_contrast, err, sizeof err))
                return usage_error("--pore-contrast: %s", err);
            break;
        case OPT_SIMD: {
            sd_simd_level lv;
            if (sd_simd_parse(optarg, &lv) != 0)
                return usage_error("--simd: '%s' is not one of scalar, sse2, avx2, avx512", optarg);
            sd_simd_set(lv); /* a level the CPU lacks falls back to the best it has */
            break;
        }
        case OPT_PROGRESS:
            if (sd_parse_choice(optarg, progress_modes) < 0)
                return usage_error("--progress: '%s' is not one of auto, bar, jsonl, none", optarg);
            c->progress = optarg;
            break;
        case OPT_NOCACHE: c->no_cache = 1; break;
        case ':': return usage_error("%s needs a value", name);
        default: return usage_error("unknown option '%s'", name);
        }
    }
    if (px_per_mm > 0) {
        /* keep explicit thresholds, rescale only the spatial parameters */
        double rd = c->p.metric.red_delta, pc = c->p.metric.pore_contrast;
        sd_metric_params_from_mm(&c->p.metric, px_per_mm);
        c->p.metric.red_delta = rd;
        c->p.metric.pore_contrast = pc;
    }
    if (c->p.has_ref && !c->norm_given)
        c->p.normalize = SD_NORM_REFERENCE;
    if (c->p.normalize == SD_NORM_REFERENCE && !c->p.has_ref)
        return usage_error("--normalize reference needs --ref X,Y,W,H");
    if (c->p.has_ref && c->p.normalize != SD_NORM_REFERENCE)
        return usage_error("--ref is only used with --normalize reference");
    return -1;
}

static void print_summary(const cli *c, const sd_compare_result *r)
{
    size_t n;
    const sd_metric_desc *t = sd_metric_table(&n);
    char line[4096]; /* the paths may hold any byte: one line of plain text */
    snprintf(line, sizeof line,
             "%s -> %s: alignment %s (rotation %.2f deg, scale %.3f, ncc %.2f), exposure %+.2f EV",
             r->before.path, r->after.path, sd_align_status_name(r->alignment.status),
             r->alignment.rotation_deg, r->alignment.scale, r->alignment.ncc,
             r->normalization.exposure_ev);
    sd_one_line(line);
    fprintf(stderr, "skindelta: %s\n", line);
    for (size_t i = 0; i < n; i++) {
        if (t[i].need_mm && !(c->p.metric.px_per_mm > 0))
            continue;
        double b = sd_metric_value(&r->m_before, &t[i]), a = sd_metric_value(&r->m_after, &t[i]);
        fprintf(stderr, "  %-8s %-18s %10.4g -> %-10.4g", t[i].group, t[i].name, b, a);
        if (b != 0 && isfinite(b))
            fprintf(stderr, " %+7.1f %%", 100 * (a - b) / b);
        else
            fprintf(stderr, "         ");
        fprintf(stderr, "  %s\n", sd_metric_verdict(&t[i], &r->m_before, &r->m_after));
    }
    for (int i = 0; i < r->quality.n_warnings; i++)
        fprintf(stderr, "  warning: %s\n", r->quality.warnings[i]);
    snprintf(line, sizeof line, "%s", c->output);
    sd_one_line(line);
    fprintf(stderr, "  report: %s (%.0f ms)\n", line, r->timing.total_ms);
}

static int write_report(sd_ctx *ctx, const cli *c, char *json)
{
    size_t len = strlen(json);
    json[len] = '\0';
    /* the report ends with a newline */
    char *buf = malloc(len + 2);
    if (!buf) {
        free(json);
        fprintf(stderr, "skindelta: %s: out of memory\n", c->output);
        return EXIT_OUTPUT;
    }
    memcpy(buf, json, len);
    buf[len] = '\n';
    free(json);
    /* The writer's temporary file exists only during this call. Hold
     * SIGINT, SIGTERM, SIGHUP and SIGQUIT until it returns (the report is
     * then complete under its name, or the temporary file is gone) and let
     * a pending one take effect after: an interrupted run never leaves a
     * temporary file behind. The program runs no other thread here. */
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGINT);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGHUP);
    sigaddset(&term, SIGQUIT);
    sigprocmask(SIG_BLOCK, &term, &old);
    sd_status s = sd_file_write_atomic(ctx, c->output, buf, len + 1);
    free(buf);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return s == SD_OK ? 0 : fail(ctx, s);
}

static int run(int argc, char **argv, int pair)
{
    cli c = {.output = "-"};
    sd_compare_params_default(&c.p);
    c.p.threads = default_threads();
    int rc = parse_options(argc, argv, &c);
    if (rc >= 0)
        return rc;
    if (c.progress || c.no_cache)
        return usage_error("%s is only used by batch", c.progress ? "--progress" : "--no-cache");
    int want = pair ? 2 : 1;
    if (argc - optind != want)
        return usage_error("%s", pair ? "compare needs BEFORE and AFTER image paths"
                                      : "analyze needs one IMAGE path");
    sd_ctx *ctx = sd_ctx_new();
    if (!ctx) {
        fputs("skindelta: out of memory\n", stderr);
        return EXIT_INPUT;
    }
    sd_ctx_set_threads(ctx, c.p.threads);
    char *json = NULL;
    sd_status s;
    if (pair) {
        sd_compare_result r;
        s = sd_pair_compare(ctx, argv[optind], argv[optind + 1], &c.p, &r);
        if (s == SD_OK)
            s = sd_report_compare(ctx, &c.p, &r, &json);
        if (s == SD_OK) {
            rc = write_report(ctx, &c, json);
            if (rc == 0 && !c.quiet && strcmp(c.output, "-") != 0)
                print_summary(&c, &r);
        }
    } else {
        sd_analyze_result r;
        s = sd_image_analyze(ctx, argv[optind], &c.p, &r);
        if (s == SD_OK)
            s = sd_report_analyze(ctx, &c.p, &r, &json);
        if (s == SD_OK)
            rc = write_report(ctx, &c, json);
    }
    if (s != SD_OK)
        rc = fail(ctx, s);
    sd_ctx_free(ctx);
    return rc;
}

static int run_batch(int argc, char **argv)
{
    cli c = {.output = NULL, .progress = "auto"};
    sd_compare_params_default(&c.p);
    c.p.threads = default_threads();
    int rc = parse_options(argc, argv, &c);
    if (rc >= 0)
        return rc;
    if (argc - optind < 1)
        return usage_error("batch needs at least one PATIENT_DIR");
    if (c.output && argc - optind > 1)
        return usage_error("-o is for a single patient folder (each gets %s otherwise)",
                           "PATIENT_DIR/skindelta-progress.json");
    sd_cli_batch_opts o = {.output = c.output, .progress = c.progress, .quiet = c.quiet,
                           .no_cache = c.no_cache, .p = c.p};
    return sd_cli_batch(&o, argc - optind, argv + optind);
}

int main(int argc, char **argv)
{
    /* Over the file-size limit (ulimit -f) a write raises SIGXFSZ, whose
     * default action kills the program with the writer's temporary file
     * left behind; ignored, the write fails with EFBIG, the writer removes
     * the file and the run ends with exit 4 like any full disk. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2)
        return usage_error("no command given");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        puts("skindelta " SD_VERSION);
        return 0;
    }
    /* options and operands after the command */
    if (strcmp(cmd, "compare") == 0)
        return run(argc - 1, argv + 1, 1);
    if (strcmp(cmd, "analyze") == 0)
        return run(argc - 1, argv + 1, 0);
    if (strcmp(cmd, "batch") == 0)
        return run_batch(argc - 1, argv + 1);
    return usage_error("unknown command '%s'", cmd);
}

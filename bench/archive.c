/*
 * bench/archive: `skindelta batch` over a generated archive of patients,
 * printed as JSON: pairs/s at -j 2 and -j 1, peak RSS of the real program
 * (a child process, measured by wait4), and the speed-up of a fully cached
 * rerun.
 *
 *   archive [--quick] [--dir DIR] [--skindelta PATH]
 *
 * The archive (full: 20 patients x 6 sessions x 3 views at 1632x1224 = 2 MP;
 * quick: 2 x 3 x 2 at 400x300) is rendered by the project's skin generator
 * into DIR/archive-full (or archive-quick) and reused when its marker file
 * says it was completed with the same layout (rendering is slow). Each view
 * of a patient is its own skin; session k has a known progression (a
 * fraction 0.6 k / (sessions - 1) of the pores gone, red patches x
 * 1 - 0.6 k / (sessions - 1)), and every session after the first a small
 * random camera move (rotation +-2 deg, scale +-2 %, shift +-2 % of the
 * frame) and exposure change (+-0.3 EV), all from a fixed seed; one sample
 * per pixel (rendering 2 MP is the slow part), JPEG q 90.
 *
 * Runs, each one `skindelta batch -q -j N --progress=jsonl DIR...` as a
 * child over several patients in one command:
 *   A  first 5 patients (quick: 1), -j 1, --no-cache     (scaling, RSS)
 *   B  first 5 patients (quick: 1), -j 2, --no-cache     (scaling, RSS)
 *   C  all patients, -j 2, cache emptied first            (pairs/s, RSS)
 *   D  all patients, -j 2, fully cached rerun of C        (speed-up)
 * Checks: every run exits 0; the reports of A, B, C and D are byte-identical
 * where they cover the same patient (so -j, the cache and a cached rerun
 * change no byte); C aligned every pair and D computed nothing (their jsonl
 * "done" lines); every view's pore-count and red-area trends fall (the
 * generated truth; how many views' mean a* falls is printed, not judged);
 * in the full mode, peak RSS over all patients is at most 1.5x that over 5
 * (4x the patients): memory is bounded by -j, not by patients.
 * --quick is CI's check that every path runs: it never judges speed or RSS.
 * The machine's load average and the child's CPU time (user + system, from
 * wait4) are printed beside each run: on a shared machine wall times mean
 * little without them, and CPU ms per pair does not depend on the load.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "skindelta/io.h"
#include "skindelta/synth.h"

extern char **environ;

#define MAX_PATIENTS 64

static const char *const view_names[] = {"cheek-left", "cheek-right", "forehead"};

typedef struct layout {
    int patients, sessions, views, w, h, subset; /* subset: patients of runs A and B */
} layout;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, sd_ctx *ctx)
{
    fprintf(stderr, "archive: %s: %s\n", what, ctx ? sd_ctx_message(ctx) : strerror(errno));
    exit(1);
}

static double round_to(double x, double unit) { return round(x / unit) * unit; }

static double load_avg(void)
{
    double l[1];
    return getloadavg(l, 1) == 1 ? round_to(l[0], 0.01) : NAN;
}

/* splitmix64: the camera jitter, reproducible without rand() */
static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* uniform in [-1, 1) */
static double jitter(uint64_t *s) { return (double)(mix(s) >> 11) / (double)(1ull << 52) - 1.0; }

/* "YYYY-MM-DD" of 2026-01-05 + days */
static void date_after(int days, char out[11])
{
    struct tm tm = {.tm_year = 126, .tm_mon = 0, .tm_mday = 5 + days, .tm_hour = 12};
    time_t t = timegm(&tm);
    struct tm n;
    gmtime_r(&t, &n);
    strftime(out, 11, "%Y-%m-%d", &n);
}

static void patient_dir(const char *root, int p, char *buf, size_t n)
{
    snprintf(buf, n, "%s/P%02d", root, p + 1);
}

/* ---- the archive ---- */

static void render_session(sd_ctx *ctx, const layout *L, const char *pdir, int p, int v, int k,
                           char *date_out)
{
    char date[11], sdir[1100], path[1200];
    date_after(28 * k + 3 * p, date); /* patients start on different days */
    if (date_out)
        memcpy(date_out, date, sizeof date);
    snprintf(sdir, sizeof sdir, "%s/%s", pdir, date);
    if (mkdir(sdir, 0777) != 0 && errno != EEXIST)
        die(sdir, NULL);
    snprintf(path, sizeof path, "%s/%s.jpg", sdir, view_names[v]);
    sd_synth_skin skin;
    sd_synth_skin_defaults(&skin, 1000u * (unsigned)(p + 1) + 17u * (unsigned)v, L->w, L->h);
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    double step = 0.6 / (L->sessions - 1);
    ses.pores_gone = step * k;
    ses.redness_scale = 1.0 - step * k;
    sd_synth_capture cap;
    sd_synth_capture_defaults(&cap, L->w, L->h);
    cap.noise = 0.004;
    cap.supersample = 1; /* 4x faster to render; the benchmark is about batch */
    uint64_t rng = 0x5eed0000ull + 1000u * (unsigned)p + 10u * (unsigned)v + (unsigned)k;
    cap.noise_seed = mix(&rng) >> 12;
    if (k > 0) { /* the baseline is the identity; later sessions move a little */
        double rot = 2.0 * jitter(&rng), sc = 1.0 + 0.02 * jitter(&rng);
        double tx = 0.02 * L->w * jitter(&rng), ty = 0.02 * L->h * jitter(&rng);
        cap.xf = sd_synth_similarity(rot, sc, tx, ty, L->w / 2.0, L->h / 2.0);
        cap.ev = 0.3 * jitter(&rng);
    }
    sd_image *img = NULL;
    if (sd_synth_render(ctx, &skin, k ? &ses : NULL, &cap, &img) != SD_OK)
        die("render", ctx);
    if (sd_image_save_jpeg(ctx, img, path, 90) != SD_OK)
        die("save", ctx);
    sd_image_free(img);
}

/* Render the archive unless the marker says it is there; returns seconds
 * spent rendering (0 when reused). */
static double make_archive(const layout *L, const char *root)
{
    char marker[600], want[256];
    snprintf(marker, sizeof marker, "%s/.complete", root);
    snprintf(want, sizeof want, "archive/2 %d patients %d sessions %d views %dx%d\n", L->patients,
             L->sessions, L->views, L->w, L->h);
    FILE *f = fopen(marker, "r");
    if (f) {
        char have[256] = "";
        size_t n = fread(have, 1, sizeof have - 1, f);
        have[n] = '\0';
        fclose(f);
        if (strcmp(have, want) == 0)
            return 0;
    }
    unlink(marker);
    if (mkdir(root, 0777) != 0 && errno != EEXIST)
        die(root, NULL);
    double t0 = now_ms();
    sd_ctx *ctx = sd_ctx_new();
    sd_ctx_set_threads(ctx, 2);
    for (int p = 0; p < L->patients; p++) {
        char pdir[1024];
        patient_dir(root, p, pdir, sizeof pdir);
        if (mkdir(pdir, 0777) != 0 && errno != EEXIST)
            die(pdir, NULL);
        for (int k = 0; k < L->sessions; k++)
            for (int v = 0; v < L->views; v++)
                render_session(ctx, L, pdir, p, v, k, NULL);
        fprintf(stderr, "archive: rendered %s\n", pdir);
    }
    sd_ctx_free(ctx);
    f = fopen(marker, "w");
    if (!f || fputs(want, f) < 0 || fclose(f) != 0)
        die(marker, NULL);
    return (now_ms() - t0) / 1e3;
}

/* Remove a patient's cache and report (a from-scratch run follows). */
static void wipe_patient(const char *pdir)
{
    char cdir[1200], path[1600];
    snprintf(cdir, sizeof cdir, "%s/.skindelta-cache", pdir);
    DIR *d = opendir(cdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", cdir, e->d_name);
            unlink(path);
        }
        closedir(d);
        rmdir(cdir);
    }
    snprintf(path, sizeof path, "%s/skindelta-progress.json", pdir);
    unlink(path);
}

/* ---- one run of the real program ---- */

typedef struct run_result {
    const char *name;
    int patients, threads, exit_code;
    const char *cache; /* off | cold | warm */
    double wall_s, cpu_s, rss_mb, load; /* cpu_s: user + system of the child */
    /* summed over the jsonl "done" lines */
    double pairs_aligned, pairs_cached, measured, measured_cached, images_decoded, pairs_ok,
        pairs_failed;
    int done_lines;
    char *reports[MAX_PATIENTS]; /* each patient's report text after the run */
} run_result;

static void sum_done_lines(run_result *r, const char *log)
{
    FILE *f = fopen(log, "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"event\":"))
            continue;
        cJSON *o = cJSON_Parse(line);
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
        if (cJSON_IsString(ev) && strcmp(ev->valuestring, "done") == 0) {
            r->done_lines++;
            struct {
                const char *k;
                double *v;
            } f2[] = {{"pairs_aligned", &r->pairs_aligned},   {"pairs_cached", &r->pairs_cached},
                      {"measured", &r->measured},             {"measured_cached", &r->measured_cached},
                      {"images_decoded", &r->images_decoded}, {"pairs_ok", &r->pairs_ok},
                      {"pairs_failed", &r->pairs_failed}};
            for (size_t i = 0; i < sizeof f2 / sizeof f2[0]; i++) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, f2[i].k);
                *f2[i].v += cJSON_IsNumber(x) ? x->valuedouble : NAN;
            }
        }
        cJSON_Delete(o);
    }
    if (f)
        fclose(f);
}

static void run_batch(run_result *r, const char *prog, const char *root, int patients,
                      int threads, int no_cache)
{
    char jarg[16], log[1200], pdirs[MAX_PATIENTS][1024];
    snprintf(jarg, sizeof jarg, "-j%d", threads);
    snprintf(log, sizeof log, "%s/.run-%s.jsonl", root, r->name);
    char *argv[MAX_PATIENTS + 8];
    int a = 0;
    argv[a++] = (char *)(uintptr_t)prog;
    argv[a++] = "batch";
    argv[a++] = "-q";
    argv[a++] = jarg;
    argv[a++] = "--progress=jsonl";
    if (no_cache)
        argv[a++] = "--no-cache";
    for (int p = 0; p < patients; p++) {
        patient_dir(root, p, pdirs[p], sizeof pdirs[p]);
        argv[a++] = pdirs[p];
    }
    argv[a] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    r->patients = patients;
    r->threads = threads;
    r->load = load_avg();
    double t0 = now_ms();
    pid_t pid;
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    if (posix_spawn(&pid, prog, &fa, NULL, argv, environ) != 0)
        die(prog, NULL);
    if (wait4(pid, &status, 0, &ru) < 0)
        die("wait4", NULL);
    r->wall_s = (now_ms() - t0) / 1e3;
    posix_spawn_file_actions_destroy(&fa);
    r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r->rss_mb = ru.ru_maxrss / 1024.0;
    r->cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    sum_done_lines(r, log);
    sd_ctx *ctx = sd_ctx_new();
    for (int p = 0; p < patients; p++) {
        char path[1200];
        if (snprintf(path, sizeof path, "%s/skindelta-progress.json", pdirs[p]) >= (int)sizeof path)
            continue;
        uint8_t *data = NULL;
        size_t len = 0;
        if (sd_file_read(ctx, path, 0, &data, &len) == SD_OK) {
            r->reports[p] = malloc(len + 1);
            if (r->reports[p]) {
                memcpy(r->reports[p], data, len);
                r->reports[p][len] = '\0';
            }
            free(data);
        }
    }
    sd_ctx_free(ctx);
}

static void run_free(run_result *r)
{
    for (int p = 0; p < MAX_PATIENTS; p++)
        free(r->reports[p]);
}

static cJSON *run_json(const run_result *r, int pairs)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "run", r->name);
    cJSON_AddNumberToObject(o, "patients", r->patients);
    cJSON_AddNumberToObject(o, "threads", r->threads);
    cJSON_AddStringToObject(o, "cache", r->cache);
    cJSON_AddNumberToObject(o, "exit", r->exit_code);
    cJSON_AddNumberToObject(o, "pairs", pairs);
    cJSON_AddNumberToObject(o, "wall_s", round_to(r->wall_s, 0.001));
    cJSON_AddNumberToObject(o, "pairs_per_s", round_to(pairs / r->wall_s, 0.01));
    cJSON_AddNumberToObject(o, "cpu_s", round_to(r->cpu_s, 0.01));
    cJSON_AddNumberToObject(o, "cpu_ms_per_pair", round_to(1e3 * r->cpu_s / pairs, 0.1));
    cJSON_AddNumberToObject(o, "peak_rss_mb", round_to(r->rss_mb, 0.1));
    cJSON_AddNumberToObject(o, "load_avg_1min", r->load);
    cJSON_AddNumberToObject(o, "pairs_aligned", r->pairs_aligned);
    cJSON_AddNumberToObject(o, "pairs_cached", r->pairs_cached);
    cJSON_AddNumberToObject(o, "measured", r->measured);
    cJSON_AddNumberToObject(o, "measured_cached", r->measured_cached);
    cJSON_AddNumberToObject(o, "images_decoded", r->images_decoded);
    return o;
}

/* Do the reports of x and y agree byte for byte on the first n patients? */
static int same_reports(const run_result *x, const run_result *y, int n)
{
    for (int p = 0; p < n; p++)
        if (!x->reports[p] || !y->reports[p] || strcmp(x->reports[p], y->reports[p]) != 0)
            return 0;
    return 1;
}

static double trend(const cJSON *view, const char *group, const char *metric)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(view, "trend");
    t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, group), metric);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "slope_per_30d");
    return cJSON_IsNumber(s) ? s->valuedouble : NAN;
}

/* Views whose pore count and red area both fall, out of *total views;
 * *mean_a: views whose mean a* falls too (informative only: 4 red patches
 * of sigma 36 px move the mean a* of a 2 MP frame by ~0.1 over the whole
 * course, which JPEG and exposure noise can hide in a view whose patches
 * lie near the frame's edge). */
static int falling_views(const run_result *r, int patients, int *total, int *mean_a)
{
    int n = 0;
    *total = *mean_a = 0;
    for (int p = 0; p < patients; p++) {
        cJSON *root = r->reports[p] ? cJSON_Parse(r->reports[p]) : NULL;
        const cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "views"))
        {
            ++*total;
            n += trend(v, "pores", "count") < 0 && trend(v, "redness", "red_area_fraction") < 0;
            *mean_a += trend(v, "redness", "mean_a") < 0;
        }
        cJSON_Delete(root);
    }
    return n;
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *dir = "build/bench", *prog = "build/skindelta";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--skindelta") == 0 && i + 1 < argc)
            prog = argv[++i];
        else {
            fputs("usage: archive [--quick] [--dir DIR] [--skindelta PATH]\n", stderr);
            return 1;
        }
    }
    const layout L = quick ? (layout){2, 3, 2, 400, 300, 1} : (layout){20, 6, 3, 1632, 1224, 5};
    char root[512];
    mkdir(dir, 0777);
    snprintf(root, sizeof root, "%s/archive-%s", dir, quick ? "quick" : "full");
    double gen_s = make_archive(&L, root);
    const int pairs_per_patient = (L.sessions - 1) * L.views;

    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "schema", "skindelta/bench-archive/1");
    cJSON_AddStringToObject(out, "version", SD_VERSION);
    cJSON_AddBoolToObject(out, "quick", quick);
    cJSON *arch = cJSON_AddObjectToObject(out, "archive");
    cJSON_AddStringToObject(arch, "dir", root);
    cJSON_AddNumberToObject(arch, "patients", L.patients);
    cJSON_AddNumberToObject(arch, "sessions", L.sessions);
    cJSON_AddNumberToObject(arch, "views", L.views);
    cJSON_AddNumberToObject(arch, "width", L.w);
    cJSON_AddNumberToObject(arch, "height", L.h);
    cJSON_AddNumberToObject(arch, "images", L.patients * L.sessions * L.views);
    cJSON_AddNumberToObject(arch, "pairs", L.patients * pairs_per_patient);
    cJSON_AddBoolToObject(arch, "reused", gen_s == 0);
    cJSON_AddNumberToObject(arch, "render_s", round_to(gen_s, 0.1));
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cJSON_AddNumberToObject(out, "cpus", (double)ncpu);

    static run_result A = {.name = "A-subset-j1", .cache = "off"},
                      B = {.name = "B-subset-j2", .cache = "off"},
                      C = {.name = "C-all-j2-cold", .cache = "cold"},
                      D = {.name = "D-all-j2-cached", .cache = "warm"};
    for (int p = 0; p < L.patients; p++) {
        char pdir[1024];
        patient_dir(root, p, pdir, sizeof pdir);
        wipe_patient(pdir);
    }
    run_batch(&A, prog, root, L.subset, 1, 1);
    run_batch(&B, prog, root, L.subset, 2, 1);
    run_batch(&C, prog, root, L.patients, 2, 0);
    run_batch(&D, prog, root, L.patients, 2, 0);

    cJSON *runs = cJSON_AddArrayToObject(out, "runs");
    cJSON_AddItemToArray(runs, run_json(&A, L.subset * pairs_per_patient));
    cJSON_AddItemToArray(runs, run_json(&B, L.subset * pairs_per_patient));
    cJSON_AddItemToArray(runs, run_json(&C, L.patients * pairs_per_patient));
    cJSON_AddItemToArray(runs, run_json(&D, L.patients * pairs_per_patient));

    const int all_pairs = L.patients * pairs_per_patient;
    cJSON *fig = cJSON_AddObjectToObject(out, "figures");
    cJSON_AddNumberToObject(fig, "pairs_per_s_j2", round_to(all_pairs / C.wall_s, 0.01));
    cJSON_AddNumberToObject(fig, "pairs_per_s_j1_subset",
                            round_to(L.subset * pairs_per_patient / A.wall_s, 0.01));
    cJSON_AddNumberToObject(fig, "cpu_ms_per_pair_j2", round_to(1e3 * C.cpu_s / all_pairs, 0.1));
    cJSON_AddNumberToObject(fig, "speedup_j2_over_j1_subset", round_to(A.wall_s / B.wall_s, 0.01));
    cJSON_AddNumberToObject(fig, "peak_rss_mb_j2_all", round_to(C.rss_mb, 0.1));
    cJSON_AddNumberToObject(fig, "peak_rss_mb_j2_subset", round_to(B.rss_mb, 0.1));
    cJSON_AddNumberToObject(fig, "peak_rss_mb_j1_subset", round_to(A.rss_mb, 0.1));
    cJSON_AddNumberToObject(fig, "cached_rerun_s", round_to(D.wall_s, 0.001));
    cJSON_AddNumberToObject(fig, "cached_speedup", round_to(C.wall_s / D.wall_s, 0.1));

    int total = 0, mean_a = 0, falling = falling_views(&C, L.patients, &total, &mean_a);
    cJSON *chk = cJSON_AddObjectToObject(out, "checks");
    struct {
        const char *name;
        int ok;
    } c[] = {
        {"all_runs_exit_0", !A.exit_code && !B.exit_code && !C.exit_code && !D.exit_code},
        {"one_done_line_per_patient", A.done_lines == L.subset && B.done_lines == L.subset &&
                                          C.done_lines == L.patients && D.done_lines == L.patients},
        {"j1_report_equals_j2", same_reports(&A, &B, L.subset)},
        {"no_cache_report_equals_cold_cache", same_reports(&B, &C, L.subset)},
        {"cached_rerun_report_identical", same_reports(&C, &D, L.patients)},
        {"cold_run_aligned_every_pair", C.pairs_aligned == all_pairs && C.pairs_cached == 0 &&
                                            C.pairs_ok == all_pairs && C.pairs_failed == 0},
        {"cached_rerun_computed_nothing", D.pairs_aligned == 0 && D.measured == 0 &&
                                              D.images_decoded == 0 && D.pairs_cached == all_pairs},
        {"every_view_pore_count_and_red_area_fall", total == L.patients * L.views && falling == total},
        /* speed and memory are judged only in the full run */
        /* 4x the patients would be ~4x the memory if it grew with them;
         * 1.5x leaves room for glibc's arenas (one patient at -j 2 measured
         * 194 MB, five 261 MB, twenty 228 MB: noise, not growth) */
        {"peak_rss_bounded_by_j_not_patients", quick || C.rss_mb <= 1.5 * B.rss_mb},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        cJSON_AddBoolToObject(chk, c[i].name, c[i].ok);
        ok &= c[i].ok;
    }
    cJSON_AddNumberToObject(chk, "views_falling", falling);
    cJSON_AddNumberToObject(chk, "views_total", total);
    cJSON_AddNumberToObject(chk, "views_mean_a_falling", mean_a);
    cJSON_AddBoolToObject(out, "checks_passed", ok);
    char *s = cJSON_Print(out);
    puts(s);
    free(s);
    cJSON_Delete(out);
    run_free(&A);
    run_free(&B);
    run_free(&C);
    run_free(&D);
    return ok ? 0 : 1;
}

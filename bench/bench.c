/*
 * bench: end-to-end figures for `skindelta compare`, printed as JSON.
 *
 * Generates its inputs with the project's skin generator (a pair per size,
 * JPEG and PNG), then for each pair: the time libjpeg-turbo (or libpng)
 * alone needs to decode the two files (the floor no design beats), the
 * per-stage milliseconds of sd_pair_compare at -j 1 and -j 2 (medians after
 * a warm-up, in one process with the memory cache on, as a batch runs), their
 * ratio to the floor, and the wall time and peak RSS of the real program
 * doing one compare at -j 2 (a child process per run, measured by wait4:
 * every page touched afresh; spawned by a small server forked at the start,
 * so the figure is the child's own, see run_process).
 *
 *   bench [--quick] [--reps N] [--dir DIR] [--skindelta PATH] [--kernels PATH]
 *
 * --kernels PATH runs the kernel micro-benchmark (bench/kernels.c: Mpix/s per
 * kernel and SIMD level) and embeds its JSON under "kernels". The pipeline
 * runs at the best SIMD level, and once more forced to scalar at -j 1, so the
 * metric stage's speed-up over its own scalar reference is measured.
 *
 * --quick: one small pair and two repetitions, for CI: it checks that every
 * path runs and that the thread count does not change a number; it never
 * judges speed.
 */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <jpeglib.h>
#include <png.h>

#include "skindelta/compare.h"
#include "skindelta/io.h"
#include "skindelta/kernels.h"
#include "skindelta/synth.h"

extern char **environ;

typedef struct size_case {
    const char *name;
    int w, h;
} size_case;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what, sd_ctx *ctx)
{
    fprintf(stderr, "bench: %s: %s\n", what, ctx ? sd_ctx_message(ctx) : strerror(errno));
    exit(1);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* Render the pair of a size once (kept in dir for later runs). */
static void make_pair(sd_ctx *ctx, const size_case *sc, const char *dir, char paths[4][512])
{
    snprintf(paths[0], 512, "%s/%s-before.jpg", dir, sc->name);
    snprintf(paths[1], 512, "%s/%s-after.jpg", dir, sc->name);
    snprintf(paths[2], 512, "%s/%s-before.png", dir, sc->name);
    snprintf(paths[3], 512, "%s/%s-after.png", dir, sc->name);
    if (file_exists(paths[0]) && file_exists(paths[1]) && file_exists(paths[2]) &&
        file_exists(paths[3]))
        return;
    sd_synth_skin skin;
    sd_synth_session session;
    sd_synth_capture before, after;
    sd_synth_skin_defaults(&skin, 42, sc->w, sc->h);
    sd_synth_session_defaults(&session);
    session.pores_gone = 0.3;
    session.pore_radius_scale = 0.85;
    session.redness_scale = 0.6;
    session.texture_scale = 0.85;
    sd_synth_capture_defaults(&before, sc->w, sc->h);
    sd_synth_capture_defaults(&after, sc->w, sc->h);
    before.noise = after.noise = 0.004;
    before.noise_seed = 1;
    after.noise_seed = 2;
    after.ev = -0.3;
    after.xf = sd_synth_similarity(3.0, 1.04, 0.015 * sc->w, -0.01 * sc->h, sc->w / 2.0,
                                   sc->h / 2.0);
    sd_synth_pair pair;
    if (sd_synth_pair_render(ctx, &skin, &session, &before, &after, &pair) != SD_OK)
        die("render", ctx);
    if (sd_image_save_jpeg(ctx, pair.before, paths[0], 92) != SD_OK ||
        sd_image_save_jpeg(ctx, pair.after, paths[1], 92) != SD_OK ||
        sd_image_save_png(ctx, pair.before, paths[2], 8) != SD_OK ||
        sd_image_save_png(ctx, pair.after, paths[3], 8) != SD_OK)
        die("save", ctx);
    sd_synth_pair_release(&pair);
}

/* ---- the floor: the codec alone, from memory to 8-bit RGB ---- */

static void decode_jpeg_floor(const uint8_t *buf, size_t len, uint8_t *rgb)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr); /* inputs are our own files: errors exit */
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * 3;
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = rgb + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
}

static void decode_png_floor(const uint8_t *buf, size_t len, uint8_t *rgb)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, buf, len))
        exit(1);
    img.format = PNG_FORMAT_RGB;
    if (!png_image_finish_read(&img, NULL, rgb, 0, NULL))
        exit(1);
}

static double floor_ms(sd_ctx *ctx, const char *a, const char *b, int jpeg, int reps)
{
    uint8_t *buf[2];
    size_t len[2];
    const char *p[2] = {a, b};
    for (int i = 0; i < 2; i++)
        if (sd_file_read(ctx, p[i], 0, &buf[i], &len[i]) != SD_OK)
            die("read", ctx);
    uint8_t *rgb = malloc((size_t)5000 * 5000 * 3);
    double t[64];
    for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
        double t0 = now_ms();
        for (int i = 0; i < 2; i++)
            (jpeg ? decode_jpeg_floor : decode_png_floor)(buf[i], len[i], rgb);
        if (r >= 0)
            t[r] = now_ms() - t0;
    }
    free(rgb);
    free(buf[0]);
    free(buf[1]);
    return median(t, reps);
}

/* ---- compare in-process: medians per stage ---- */

static cJSON *stage_json(const sd_timing *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "decode", round(t->decode_ms * 10) / 10);
    cJSON_AddNumberToObject(o, "align", round(t->align_ms * 10) / 10);
    cJSON_AddNumberToObject(o, "roi", round(t->roi_ms * 10) / 10);
    cJSON_AddNumberToObject(o, "normalize", round(t->normalize_ms * 10) / 10);
    cJSON_AddNumberToObject(o, "metrics", round(t->metrics_ms * 10) / 10);
    cJSON_AddNumberToObject(o, "total", round(t->total_ms * 10) / 10);
    return o;
}

static sd_timing compare_ms(sd_ctx *ctx, const char *a, const char *b, int threads, int reps,
                            sd_compare_result *last)
{
    double v[6][64];
    sd_compare_params p;
    sd_compare_params_default(&p);
    p.threads = threads;
    sd_ctx_set_threads(ctx, threads);
    /* as a batch runs: the large blocks of one compare serve the next (the
     * floor, too, decodes into a buffer it reuses); the whole-process
     * figures below pay every page afresh */
    sd_memory_cache((size_t)1 << 30);
    for (int r = -1; r < reps; r++) {
        if (sd_pair_compare(ctx, a, b, &p, last) != SD_OK)
            die("compare", ctx);
        if (r < 0)
            continue;
        v[0][r] = last->timing.decode_ms;
        v[1][r] = last->timing.align_ms;
        v[2][r] = last->timing.normalize_ms;
        v[3][r] = last->timing.metrics_ms;
        v[4][r] = last->timing.total_ms;
        v[5][r] = last->timing.roi_ms;
    }
    sd_memory_cache(0);
    sd_timing t = {.decode_ms = median(v[0], reps), .align_ms = median(v[1], reps),
                   .roi_ms = median(v[5], reps), .normalize_ms = median(v[2], reps),
                   .metrics_ms = median(v[3], reps), .total_ms = median(v[4], reps)};
    return t;
}

/* ---- the real program, one process per pair: wall time and peak RSS ---- */

/* Linux hands a process the peak RSS of the memory it replaces at exec
 * (exec_mmap), and a child spawned by vfork or fork execs out of a view of
 * its parent's memory: spawned from this process, which has held a 12 MP
 * pair of its own, the child's ru_maxrss would be ours. So the runs are
 * spawned by a small server forked at the start, before anything large was
 * allocated, and asked for over a pipe. */
typedef struct proc_req {
    char prog[1024], a[1024], b[1024];
} proc_req;
typedef struct proc_rep {
    double ms, rss_mb; /* NAN when the run failed */
} proc_rep;

static int spawner_to = -1, spawner_from = -1;

static proc_rep run_process(const proc_req *q)
{
    proc_rep r = {NAN, NAN};
    pid_t pid;
    char *argv[] = {(char *)(uintptr_t)q->prog, "compare", "-q", "-j", "2", "-o", "/dev/null",
                    (char *)(uintptr_t)q->a, (char *)(uintptr_t)q->b, NULL};
    double t0 = now_ms();
    if (posix_spawn(&pid, q->prog, NULL, NULL, argv, environ) != 0)
        return r;
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return r;
    r.ms = now_ms() - t0;
    r.rss_mb = ru.ru_maxrss / 1024.0;
    return r;
}

static void spawner_start(void)
{
    int to[2], from[2];
    if (pipe(to) != 0 || pipe(from) != 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        close(to[1]);
        close(from[0]);
        proc_req q;
        while (read(to[0], &q, sizeof q) == (ssize_t)sizeof q) {
            proc_rep r = run_process(&q);
            if (write(from[1], &r, sizeof r) != (ssize_t)sizeof r)
                break;
        }
        _exit(0);
    }
    close(to[0]);
    close(from[1]);
    if (pid < 0) {
        close(to[1]);
        close(from[0]);
        return;
    }
    spawner_to = to[1];
    spawner_from = from[0];
}

/* One run through the server (here when it could not start: RSS then
 * includes ours, and is reported as unknown). */
static proc_rep spawn_run(const char *prog, const char *a, const char *b)
{
    proc_req q;
    proc_rep r = {NAN, NAN};
    memset(&q, 0, sizeof q);
    if (strlen(prog) >= sizeof q.prog || strlen(a) >= sizeof q.a || strlen(b) >= sizeof q.b)
        return r;
    memcpy(q.prog, prog, strlen(prog));
    memcpy(q.a, a, strlen(a));
    memcpy(q.b, b, strlen(b));
    if (spawner_to < 0) {
        r = run_process(&q);
        r.rss_mb = NAN;
        return r;
    }
    if (write(spawner_to, &q, sizeof q) != (ssize_t)sizeof q ||
        read(spawner_from, &r, sizeof r) != (ssize_t)sizeof r)
        return (proc_rep){NAN, NAN};
    return r;
}

/* Median wall time of `reps` runs (after a warm-up); the largest peak RSS. */
static double process_ms(const char *prog, const char *a, const char *b, int reps, double *rss)
{
    double t[64];
    *rss = 0;
    for (int r = -1; r < reps; r++) {
        proc_rep p = spawn_run(prog, a, b);
        if (!isfinite(p.ms)) {
            *rss = NAN;
            return NAN;
        }
        if (!isfinite(p.rss_mb) || !isfinite(*rss))
            *rss = NAN;
        else if (p.rss_mb > *rss)
            *rss = p.rss_mb;
        if (r >= 0)
            t[r] = p.ms;
    }
    return median(t, reps);
}

/* Run the kernel micro-benchmark and parse its JSON. */
static cJSON *kernels_json(const char *prog, int runs)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "'%s' %d", prog, runs);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0, n;
    char *buf = malloc(cap);
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb)
                free(buf);
            buf = nb;
        }
    }
    int rc = pclose(f);
    if (!buf)
        return NULL;
    buf[len] = '\0';
    cJSON *j = rc == 0 ? cJSON_Parse(buf) : NULL;
    free(buf);
    return j;
}

/* The numbers must not depend on the thread count. */
static int same_metrics(const sd_compare_result *x, const sd_compare_result *y)
{
    return memcmp(&x->m_before, &y->m_before, sizeof x->m_before) == 0 &&
           memcmp(&x->m_after, &y->m_after, sizeof x->m_after) == 0 &&
           memcmp(&x->alignment.xf, &y->alignment.xf, sizeof x->alignment.xf) == 0;
}

int main(int argc, char **argv)
{
    int quick = 0, reps = 5;
    const char *dir = "build/bench", *prog = "build/skindelta", *kprog = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1, reps = 2;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--skindelta") == 0 && i + 1 < argc)
            prog = argv[++i];
        else if (strcmp(argv[i], "--kernels") == 0 && i + 1 < argc)
            kprog = argv[++i];
        else {
            fputs("usage: bench [--quick] [--reps N] [--dir DIR] [--skindelta PATH] [--kernels PATH]\n",
                  stderr);
            return 1;
        }
    }
    if (reps < 1 || reps > 64)
        reps = 5;
    spawner_start(); /* first, while this process is small */
    mkdir(dir, 0777);
    static const size_case full[] = {{"2mp", 1632, 1224}, {"12mp", 4000, 3000}};
    static const size_case small[] = {{"quick", 800, 600}};
    const size_case *cases = quick ? small : full;
    int n_cases = quick ? 1 : 2;

    sd_ctx *ctx = sd_ctx_new();
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "schema", "skindelta/bench/1");
    cJSON_AddStringToObject(root, "version", SD_VERSION);
    cJSON_AddBoolToObject(root, "quick", quick);
    cJSON_AddNumberToObject(root, "reps", reps);
    sd_simd_level best = sd_simd_active();
    cJSON_AddStringToObject(root, "simd", sd_simd_name(best));
    if (kprog) {
        cJSON *k = kernels_json(kprog, quick ? 1 : reps);
        if (k)
            cJSON_AddItemToObject(root, "kernels", k);
        else
            cJSON_AddNullToObject(root, "kernels");
    }
    cJSON *pairs = cJSON_AddArrayToObject(root, "pairs");
    int ok = 1;
    for (int c = 0; c < n_cases; c++) {
        char paths[4][512];
        make_pair(ctx, &cases[c], dir, paths);
        for (int fmt = 0; fmt < 2; fmt++) {
            const char *a = paths[2 * fmt], *b = paths[2 * fmt + 1];
            cJSON *o = cJSON_CreateObject();
            char name[64];
            snprintf(name, sizeof name, "%s-%s", cases[c].name, fmt ? "png" : "jpeg");
            cJSON_AddStringToObject(o, "name", name);
            cJSON_AddNumberToObject(o, "width", cases[c].w);
            cJSON_AddNumberToObject(o, "height", cases[c].h);
            double fl = floor_ms(ctx, a, b, !fmt, reps);
            cJSON_AddNumberToObject(o, "decode_floor_ms", round(fl * 10) / 10);
            sd_compare_result r1, r2;
            sd_timing t1 = compare_ms(ctx, a, b, 1, reps, &r1);
            sd_timing t2 = compare_ms(ctx, a, b, 2, reps, &r2);
            sd_compare_result r0;
            sd_simd_set(SD_SIMD_SCALAR);
            sd_timing t0 = compare_ms(ctx, a, b, 1, quick ? 1 : 3, &r0);
            sd_simd_set(best);
            cJSON_AddItemToObject(o, "compare_ms_scalar_j1", stage_json(&t0));
            cJSON_AddNumberToObject(o, "metrics_speedup_over_scalar",
                                    round(t0.metrics_ms / t1.metrics_ms * 100) / 100);
            cJSON_AddItemToObject(o, "compare_ms_j1", stage_json(&t1));
            cJSON_AddItemToObject(o, "compare_ms_j2", stage_json(&t2));
            cJSON_AddNumberToObject(o, "floor_ratio_j2", round(t2.total_ms / fl * 100) / 100);
            cJSON_AddNumberToObject(o, "speedup_j2_over_j1",
                                    round(t1.total_ms / t2.total_ms * 100) / 100);
            double mp = cases[c].w * (double)cases[c].h * 2 / 1e6;
            cJSON_AddNumberToObject(o, "megapixels_per_s_j2", round(mp / t2.total_ms * 1e4) / 10);
            double rss, pms = process_ms(prog, a, b, reps, &rss);
            if (isfinite(pms)) {
                cJSON_AddNumberToObject(o, "process_ms_j2", round(pms * 10) / 10);
                cJSON_AddNumberToObject(o, "floor_ratio_process_j2", round(pms / fl * 100) / 100);
            }
            if (isfinite(rss))
                cJSON_AddNumberToObject(o, "peak_rss_mb", round(rss * 10) / 10);
            else
                cJSON_AddNullToObject(o, "peak_rss_mb");
            int same = same_metrics(&r1, &r2);
            cJSON_AddBoolToObject(o, "j1_equals_j2", same);
            cJSON_AddStringToObject(o, "alignment", sd_align_status_name(r2.alignment.status));
            ok &= same && isfinite(rss) && r2.alignment.status != SD_ALIGN_FAILED;
            cJSON_AddItemToArray(pairs, o);
        }
    }
    if (kprog && !cJSON_IsObject(cJSON_GetObjectItem(root, "kernels")))
        ok = 0;
    cJSON_AddBoolToObject(root, "checks_passed", ok);
    char *s = cJSON_Print(root);
    puts(s);
    free(s);
    cJSON_Delete(root);
    sd_ctx_free(ctx);
    return ok ? 0 : 1;
}

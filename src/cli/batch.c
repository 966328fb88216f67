/*
 * skindelta batch: walks each patient folder into a plan, runs it with a
 * pthread pool over the library's work items, prints progress, handles
 * SIGINT/SIGTERM (stop scheduling, let running items finish, keep the
 * previous report, exit 130/143) and writes the report atomically.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/batch.h"
#include "skindelta/batch.h"
#include "skindelta/io.h"

enum { EXIT_INPUT = 2, EXIT_OUTPUT = 4, EXIT_FAILED = 5 };
enum { PROG_NONE = 0, PROG_BAR, PROG_JSONL };

static volatile sig_atomic_t g_signal;

static void on_signal(int sig) { g_signal = sig; }

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- discovery ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of the entries of dir, without hidden ones; NULL on error. */
static char **list_dir(const char *dir, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    size_t cap = 16;
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while (names && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            char **m = realloc(names, 2 * cap * sizeof *names);
            if (!m)
                break;
            names = m;
            cap *= 2;
        }
        names[*n] = strdup(e->d_name);
        if (names[*n])
            (*n)++;
    }
    closedir(d);
    if (names)
        qsort(names, *n, sizeof *names, cmp_str);
    return names;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* buf = a/b; -1 when it does not fit */
static int join(char *buf, size_t n, const char *a, const char *b)
{
    int k = snprintf(buf, n, "%s/%s", a, b);
    return k > 0 && (size_t)k < n ? 0 : -1;
}

/* Is path (which may be a symlink) a dir/regular file that stays strictly
 * inside root (a real path)? Symlinks that leave the folder, dangle or loop
 * are not followed. */
static int inside(const char *root, const char *path, int want_dir)
{
    struct stat st;
    if (stat(path, &st) != 0) /* ELOOP, ENOENT: not followed */
        return 0;
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
        return 0;
    char real[PATH_MAX];
    if (!realpath(path, real))
        return 0;
    size_t n = strlen(root);
    return strncmp(real, root, n) == 0 && real[n] == '/';
}

typedef struct walker {
    const sd_cli_batch_opts *o;
    sd_ctx *ctx;
    sd_batch_plan *plan;
    const char *dir;
} walker;

/* "skindelta: MESSAGE" on stderr, after lead (the progress bar's erase, or
 * ""), as one line of plain text: a folder or file name may hold any byte,
 * a line break or an escape sequence that would drive the terminal. */
static void say(const char *lead, const char *fmt, ...) SD_PRINTF(2, 3);
static void say(const char *lead, const char *fmt, ...)
{
    char msg[4 * PATH_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sd_one_line(msg);
    fprintf(stderr, "%sskindelta: %s\n", lead, msg);
}

/* "skindelta: DIR/WHAT: WHY" unless --quiet */
static void note(const walker *w, const char *what, const char *why)
{
    if (!w->o->quiet)
        say("", "%s/%s: %s", w->dir, what, why);
}

static int walk_session(walker *w, const char *root, const char *folder, const char *date)
{
    char path[2 * PATH_MAX + 2];
    if (join(path, sizeof path, w->dir, folder) != 0)
        return 0;
    size_t n;
    char **files = list_dir(path, &n);
    if (!files) {
        say("", "%s: %s", path, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char view[256], fp[2 * PATH_MAX + 2];
        if (join(fp, sizeof fp, path, files[i]) != 0)
            continue;
        if (!sd_batch_file_view(w->plan, files[i], view, sizeof view))
            continue; /* not an image */
        if (!inside(root, fp, 0)) {
            char what[2 * PATH_MAX + 2];
            if (join(what, sizeof what, folder, files[i]) != 0)
                continue;
            note(w, what, "not a regular file inside the patient folder, ignored");
            continue;
        }
        if (sd_batch_plan_add(w->ctx, w->plan, folder, date, view, files[i]) != SD_OK)
            note(w, sd_ctx_message(w->ctx), "ignored");
    }
    free_list(files, n);
    return 0;
}

/* Fill the plan from the folder; returns 0, or -1 after printing why. */
static int discover(walker *w)
{
    char root[PATH_MAX];
    if (!realpath(w->dir, root)) {
        say("", "%s: %s", w->dir, strerror(errno));
        return -1;
    }
    char mpath[PATH_MAX + 32];
    snprintf(mpath, sizeof mpath, "%s/" SD_BATCH_MANIFEST, w->dir);
    struct stat st;
    if (stat(mpath, &st) == 0) {
        uint8_t *data = NULL;
        size_t len = 0;
        sd_status s = sd_file_read(w->ctx, mpath, 1u << 22, &data, &len);
        char *text = s == SD_OK ? malloc(len + 1) : NULL;
        if (text) {
            memcpy(text, data, len);
            text[len] = '\0';
            s = sd_batch_manifest_parse(w->ctx, w->plan, mpath, text);
        } else if (s == SD_OK) {
            s = SD_ERR_NOMEM;
        }
        free(text);
        free(data);
        if (s != SD_OK) {
            say("", "%s", sd_ctx_message(w->ctx));
            return -1;
        }
    }
    size_t n;
    char **names = list_dir(w->dir, &n);
    if (!names) {
        say("", "%s: %s", w->dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[2 * PATH_MAX + 2], date[11];
        if (join(path, sizeof path, w->dir, names[i]) != 0)
            continue;
        struct stat ls;
        if (stat(path, &ls) != 0 || !S_ISDIR(ls.st_mode)) {
            if (lstat(path, &ls) == 0 && S_ISLNK(ls.st_mode))
                note(w, names[i], "a symlink that cannot be followed, ignored");
            continue;
        }
        if (!sd_batch_session_date(w->plan, names[i], date)) {
            note(w, names[i], "not a session (no YYYY-MM-DD date), ignored");
            continue;
        }
        if (!inside(root, path, 1)) {
            note(w, names[i], "leaves the patient folder, not followed");
            continue;
        }
        rc = walk_session(w, root, names[i], date);
    }
    free_list(names, n);
    return rc;
}

/* ---- the thread pool and progress ---- */

typedef struct pool {
    int threads, mode;
    const char *patient_dir;
    pthread_mutex_t mu;
    size_t next, n, done, total_done, total_planned;
    void (*fn)(void *arg, size_t i);
    void *arg;
    double t0;
    int bar_shown;
} pool;

static void *worker(void *p_)
{
    pool *p = p_;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t i = p->next < p->n && !g_signal ? p->next++ : p->n;
        pthread_mutex_unlock(&p->mu);
        if (i >= p->n)
            return NULL;
        p->fn(p->arg, i);
    }
}

static void pool_run(void *user, size_t n, void (*fn)(void *arg, size_t i), void *arg)
{
    pool *p = user;
    p->next = 0;
    p->n = n;
    p->fn = fn;
    p->arg = arg;
    int t = p->threads < 1 ? 1 : p->threads;
    if ((size_t)t > n)
        t = (int)n;
    pthread_t tid[256];
    int started = 0;
    for (int k = 1; k < t; k++)
        if (pthread_create(&tid[started], NULL, worker, p) == 0)
            started++;
    worker(p);
    for (int k = 0; k < started; k++)
        pthread_join(tid[k], NULL);
}

static int pool_cancelled(void *user)
{
    (void)user;
    return g_signal != 0;
}

static void pool_planned(void *user, size_t n)
{
    pool *p = user;
    p->total_planned += n;
}

static const char *phase_name(sd_batch_phase ph)
{
    return ph == SD_BATCH_PROBE ? "probe" : ph == SD_BATCH_ALIGN ? "align" : "measure";
}

static void json_str(const char *s)
{
    fputc('"', stderr);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(stderr, "\\%c", c);
        else if (c < 0x20)
            fprintf(stderr, "\\u%04x", c);
        else
            fputc(c, stderr);
    }
    fputc('"', stderr);
}

static void pool_event(void *user, const sd_batch_event *ev)
{
    pool *p = user;
    pthread_mutex_lock(&p->mu);
    p->total_done++;
    if (ev->error)
        say(p->bar_shown ? "\r\033[K" : "", "%s/%s", p->patient_dir, ev->error);
    if (p->mode == PROG_JSONL) {
        fputs("{\"patient\":", stderr);
        json_str(ev->patient);
        fputs(",\"view\":", stderr);
        json_str(ev->view);
        fputs(",\"session\":", stderr);
        json_str(ev->session);
        fprintf(stderr, ",\"phase\":\"%s\",\"status\":\"%s\",\"elapsed_ms\":%.1f}\n",
                phase_name(ev->phase), ev->status, ev->elapsed_ms);
    } else if (p->mode == PROG_BAR) {
        double el = (now_ms() - p->t0) / 1e3;
        size_t d = p->total_done, t = p->total_planned > d ? p->total_planned : d;
        double eta = d ? el * (double)(t - d) / (double)d : 0;
        int w = 30, f = t ? (int)(w * d / t) : w;
        char name[PATH_MAX];
        snprintf(name, sizeof name, "%s", p->patient_dir);
        sd_one_line(name);
        fprintf(stderr, "\r\033[K%s [%.*s%*s] %zu/%zu  %.0fs  ETA %.0fs", name, f,
                "##############################", w - f, "", d, t, el, eta);
        p->bar_shown = 1;
    }
    fflush(stderr);
    pthread_mutex_unlock(&p->mu);
}

/* ---- one patient ---- */

static int one_patient(const sd_cli_batch_opts *o, int mode, const char *dir)
{
    sd_ctx *ctx = sd_ctx_new();
    if (!ctx) {
        fputs("skindelta: out of memory\n", stderr);
        return EXIT_INPUT;
    }
    sd_batch_plan *plan = NULL;
    int rc = 0;
    if (sd_batch_plan_new(ctx, dir, &plan) != SD_OK) {
        say("", "%s", sd_ctx_message(ctx));
        sd_ctx_free(ctx);
        return EXIT_INPUT;
    }
    walker w = {.o = o, .ctx = ctx, .plan = plan, .dir = dir};
    if (discover(&w) != 0) {
        sd_batch_plan_free(plan);
        sd_ctx_free(ctx);
        return EXIT_INPUT;
    }
    pool p = {.threads = o->p.threads, .mode = mode, .patient_dir = dir, .t0 = now_ms()};
    pthread_mutex_init(&p.mu, NULL);
    sd_batch_hooks h = {.user = &p,
                        .run = pool_run,
                        .event = pool_event,
                        .cancelled = pool_cancelled,
                        .planned = pool_planned};
    sd_batch_opts bo = {.params = o->p, .use_cache = !o->no_cache};
    char *json = NULL;
    sd_batch_stats st;
    sd_status s = sd_batch_run(ctx, plan, &bo, &h, &json, &st);
    if (p.bar_shown)
        fputs("\r\033[K", stderr);
    if (mode == PROG_JSONL) {
        /* The work counters are what was done before the signal (items in
         * flight finish and count); pairs_ok/pairs_failed are the report's
         * summary, and an interrupted run has no report: null, not 0. */
        int done = !g_signal && s == SD_OK;
        char ok[32] = "null", failed[32] = "null";
        if (done) {
            snprintf(ok, sizeof ok, "%zu", st.pairs_ok);
            snprintf(failed, sizeof failed, "%zu", st.pairs_failed);
        }
        fputs("{\"folder\":", stderr);
        json_str(dir);
        fprintf(stderr,
                ",\"event\":\"%s\",\"pairs_aligned\":%zu,"
                "\"pairs_cached\":%zu,\"measured\":%zu,\"measured_cached\":%zu,"
                "\"images_decoded\":%zu,\"cache_rejected\":%zu,\"pairs_ok\":%s,"
                "\"pairs_failed\":%s,\"elapsed_ms\":%.1f}\n",
                g_signal ? "interrupted" : done ? "done" : "failed", st.pairs_aligned,
                st.pairs_cached, st.measured, st.measured_cached, st.images_decoded,
                st.cache_rejected, ok, failed, now_ms() - p.t0);
    }
    if (g_signal) {
        rc = 128 + g_signal;
        say("", "%s: interrupted, previous report kept", dir);
    } else if (s != SD_OK) {
        say("", "%s", sd_ctx_message(ctx));
        rc = EXIT_INPUT;
    } else {
        char out[PATH_MAX + 32];
        if (o->output)
            snprintf(out, sizeof out, "%s", o->output);
        else
            snprintf(out, sizeof out, "%s/" SD_BATCH_REPORT, dir);
        if (sd_file_write_atomic(ctx, out, json, strlen(json)) != SD_OK) {
            say("", "%s", sd_ctx_message(ctx));
            rc = EXIT_OUTPUT;
        } else {
            rc = st.pairs_failed ? EXIT_FAILED : 0;
        }
    }
    free(json);
    pthread_mutex_destroy(&p.mu);
    sd_batch_plan_free(plan);
    sd_ctx_free(ctx);
    return rc;
}

int sd_cli_batch(const sd_cli_batch_opts *o, int n, char **dirs)
{
    int mode = PROG_NONE;
    if (strcmp(o->progress, "bar") == 0 ||
        (strcmp(o->progress, "auto") == 0 && isatty(STDERR_FILENO) && !o->quiet))
        mode = PROG_BAR;
    else if (strcmp(o->progress, "jsonl") == 0)
        mode = PROG_JSONL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* many pairs of the same size: each worker's large blocks serve its
     * next pair instead of being faulted in afresh (a 12 MP pair's are
     * about 250 MB) */
    sd_memory_cache((size_t)(o->p.threads > 1 ? o->p.threads : 1) << 28);
    int worst = 0;
    for (int i = 0; i < n && !g_signal; i++) {
        int rc = one_patient(o, mode, dirs[i]);
        if (rc >= 128) {
            sd_memory_cache(0);
            return rc;
        }
        /* input and output errors outrank "some sessions failed" */
        if (rc && (worst == 0 || worst == EXIT_FAILED))
            worst = rc;
    }
    sd_memory_cache(0);
    return g_signal ? 128 + g_signal : worst;
}

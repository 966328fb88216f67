/*
 * Micro-benchmark of the row kernels at every SIMD level this machine has:
 * the full-plane blur (sigma 1.25, 2, 6) at 1 and 2 threads and Lambda, on a
 * 12 MP (4000 x 3000) plane. Each output is checked against the scalar path
 * first (within the tolerance of docs/kernels.md), then timed: one warm-up,
 * then N runs; prints JSON on stdout with the median ("mpix_per_s", "ms")
 * and the best run ("best_mpix_per_s").
 *
 *   build/bench_kernels [runs]      (runs: default 5)
 *
 * Build (not part of `make`):
 *   cc -O2 -Iinclude -Isrc bench/kernels.c build/libskindelta.a \
 *      $(pkg-config --libs libpng libjpeg libcjson libcrypto) -lm -pthread \
 *      -o build/bench_kernels
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "skindelta/kernels.h"

#define W 4000
#define H 3000
#define MAX_RUNS 51

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t seed = 88172645463325252ull;
static uint32_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return (uint32_t)(seed >> 32);
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static int first = 1;
/* t[0..n) sorted by median(); min is the figure least disturbed by other
 * processes on a shared machine */
static void emit(const char *kernel, double sigma, sd_simd_level lv, int threads, double sec,
                 double best, double maxdiff)
{
    printf("%s    {\"kernel\": \"%s\", ", first ? "" : ",\n", kernel);
    if (sigma > 0)
        printf("\"sigma\": %g, ", sigma);
    printf("\"level\": \"%s\", \"threads\": %d, \"ms\": %.2f, \"mpix_per_s\": %.1f, "
           "\"best_mpix_per_s\": %.1f, \"max_diff_vs_scalar\": %.3g}",
           sd_simd_name(lv), threads, sec * 1e3, (double)W * H / sec / 1e6,
           (double)W * H / best / 1e6, maxdiff);
    first = 0;
    fflush(stdout);
}

static double plane_maxdiff(const sd_plane *a, const sd_plane *b)
{
    double m = 0;
    for (int y = 0; y < a->h; y++)
        for (int x = 0; x < a->w; x++)
            m = fmax(m, fabs(sd_plane_row(a, y)[x] - sd_plane_row(b, y)[x]));
    return m;
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "bench_kernels: runs must be 1..%d\n", MAX_RUNS);
        return 2;
    }
    sd_ctx *ctx = sd_ctx_new();
    sd_plane src, out, ref;
    uint16_t *rgb = malloc(sizeof(uint16_t) * 3 * (size_t)W * H);
    float *lam = malloc(sizeof(float) * (size_t)W * H);
    float *lam_ref = malloc(sizeof(float) * (size_t)W * H);
    if (!ctx || !rgb || !lam || !lam_ref || sd_plane_init(ctx, &src, W, H) != SD_OK ||
        sd_plane_init(ctx, &out, W, H) != SD_OK || sd_plane_init(ctx, &ref, W, H) != SD_OK) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        return 1;
    }
    /* smooth structure plus noise, in the range of Lambda */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            sd_plane_row(&src, y)[x] =
                (float)(-2.0 + sin(x * 0.01) * cos(y * 0.013) + (rnd() >> 8) * (1.0 / 16777216.0));
    /* photo-like: a smooth skin-tone field with sensor noise (the LUT reads
     * then hit neighbouring entries, as in real images) */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) {
                double v = (0.75 - 0.1 * c) * (0.6 + 0.35 * sin(x * 0.002 + c) * cos(y * 0.003));
                int q = (int)(v * 65535.0) + (int)(rnd() % 1025) - 512;
                rgb[3 * ((size_t)y * W + x) + c] = (uint16_t)(q < 0 ? 0 : q > 65535 ? 65535 : q);
            }

    const sd_simd_level top = sd_simd_detect(), saved = sd_simd_active();
    printf("{\n  \"plane\": {\"width\": %d, \"height\": %d}, \"runs\": %d,\n", W, H, runs);
    printf("  \"detected\": \"%s\",\n  \"results\": [\n", sd_simd_name(top));
    const double sigmas[] = {1.25, 2.0, 6.0};
    double t[MAX_RUNS];
    int bad = 0;
    for (int si = 0; si < 3; si++) {
        const double sg = sigmas[si];
        const double tol = 2 * (sd_gauss_radius(sg) + 2) * FLT_EPSILON * 3.5; /* max|x| <= 3.5 */
        sd_simd_set(SD_SIMD_SCALAR);
        sd_ctx_set_threads(ctx, 1);
        if (sd_gauss_blur(ctx, &src, &ref, sg) != SD_OK)
            return 1;
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            sd_simd_set((sd_simd_level)lv);
            for (int th = 1; th <= 2; th++) {
                sd_ctx_set_threads(ctx, th);
                if (sd_gauss_blur(ctx, &src, &out, sg) != SD_OK) /* check + warm-up */
                    return 1;
                double d = plane_maxdiff(&out, &ref);
                if (d > tol) {
                    fprintf(stderr, "bench_kernels: blur %s differs from scalar by %g\n",
                            sd_simd_name((sd_simd_level)lv), d);
                    bad = 1;
                }
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    if (sd_gauss_blur(ctx, &src, &out, sg) != SD_OK)
                        return 1;
                    t[i] = now() - t0;
                }
                {
                    double med = median(t, runs);
                    emit("blur", sg, (sd_simd_level)lv, th, med, t[0], d);
                }
            }
        }
    }
    sd_simd_set(SD_SIMD_SCALAR);
    for (int y = 0; y < H; y++)
        sd_row_lambda(rgb + 3 * (size_t)y * W, W, lam_ref + (size_t)y * W);
    for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
        sd_simd_set((sd_simd_level)lv);
        for (int y = 0; y < H; y++) /* check + warm-up */
            sd_row_lambda(rgb + 3 * (size_t)y * W, W, lam + (size_t)y * W);
        double d = 0;
        for (size_t i = 0; i < (size_t)W * H; i++)
            d = fmax(d, fabs(lam[i] - lam_ref[i]));
        if (d >= 1e-6) {
            fprintf(stderr, "bench_kernels: lambda %s differs from scalar by %g\n",
                    sd_simd_name((sd_simd_level)lv), d);
            bad = 1;
        }
        for (int i = 0; i < runs; i++) {
            double t0 = now();
            for (int y = 0; y < H; y++)
                sd_row_lambda(rgb + 3 * (size_t)y * W, W, lam + (size_t)y * W);
            t[i] = now() - t0;
        }
        double med = median(t, runs);
        emit("lambda", 0, (sd_simd_level)lv, 1, med, t[0], d);
    }
    printf("\n  ]\n}\n");
    sd_simd_set(saved);
    sd_plane_release(&src);
    sd_plane_release(&out);
    sd_plane_release(&ref);
    free(rgb);
    free(lam);
    free(lam_ref);
    sd_ctx_free(ctx);
    return bad;
}

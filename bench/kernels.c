/*
 * Micro-benchmark of the row kernels at every SIMD level this machine has:
 * the full-plane blur (sigma 1.25, 2, 6) at 1 and 2 threads, Lambda, the
 * metric stage's colour kernel (Lambda, a*, erythema, Y with gains), the
 * luminance alone (Y with gains), its
 * accumulation kernel (sum, |v|, v^2 in double over flagged pixels), the
 * alignment search's six row sums (rows of 62 pixels), its ECC rows (a
 * similarity pass at the 12 MP base level), the normalization's ratio rows
 * (one 12 MP image's grid), the
 * histogram and selection kernels of the exact medians, the vertical
 * taps four rows at a time (sigma 6), the strip pass's fused row kernels
 * (row_acc3, row_sum4, row_sub_hist, and the calls each replaced), and the
 * bilinear warp of a 16-bit RGB
 * picture (row kernel, and sd_image_warp at 1 and 2 threads), on a 12 MP
 * (4000 x 3000) plane. Each output is checked against the scalar path
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

#include "core/internal.h"
#include "kernels/kernels_internal.h"
#include "skindelta/align.h"
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
static void emit_named(const char *kernel, double sigma, const char *level, int threads,
                       double sec, double best, double maxdiff)
{
    printf("%s    {\"kernel\": \"%s\", ", first ? "" : ",\n", kernel);
    if (sigma > 0)
        printf("\"sigma\": %g, ", sigma);
    printf("\"level\": \"%s\", \"threads\": %d, \"ms\": %.2f, \"mpix_per_s\": %.1f, "
           "\"best_mpix_per_s\": %.1f, \"max_diff_vs_scalar\": %.3g}",
           level, threads, sec * 1e3, (double)W * H / sec / 1e6,
           (double)W * H / best / 1e6, maxdiff);
    first = 0;
    fflush(stdout);
}

static void emit(const char *kernel, double sigma, sd_simd_level lv, int threads, double sec,
                 double best, double maxdiff)
{
    emit_named(kernel, sigma, sd_simd_name(lv), threads, sec, best, maxdiff);
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
    /* colour: four outputs per pixel; a* checked within 2e-3 of scalar */
    {
        float *co = malloc(sizeof(float) * 4 * (size_t)W), *cr = malloc(sizeof(float) * 4 * (size_t)W);
        float *aref = malloc(sizeof(float) * (size_t)W * H);
        uint8_t *fl = malloc((size_t)W);
        if (!co || !cr || !aref || !fl)
            return 1;
        memset(fl, 0xff, (size_t)W);
        const float g[3] = {1.1f, 1.1f, 1.1f};
        for (int y = 0; y < H; y++) {
            sd_row_colour_scalar(rgb + 3 * (size_t)y * W, W, g, cr, aref + (size_t)y * W,
                                 cr + 2 * W, cr + 3 * W);
        }
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
            double d = 0;
            for (int y = 0; y < H; y++) { /* check + warm-up */
                dsp->row_colour(rgb + 3 * (size_t)y * W, W, g, co, co + W, co + 2 * W, co + 3 * W);
                for (int x = 0; x < W; x++)
                    d = fmax(d, fabs(co[W + x] - aref[(size_t)y * W + x]));
            }
            if (d >= 2e-3) {
                fprintf(stderr, "bench_kernels: colour %s a* differs from scalar by %g\n",
                        sd_simd_name((sd_simd_level)lv), d);
                bad = 1;
            }
            for (int i = 0; i < runs; i++) {
                double t0 = now();
                for (int y = 0; y < H; y++)
                    dsp->row_colour(rgb + 3 * (size_t)y * W, W, g, co, co + W, co + 2 * W,
                                    co + 3 * W);
                t[i] = now() - t0;
            }
            const double med = median(t, runs); /* sorts t: t[0] is then the best */
            emit("colour", 0, (sd_simd_level)lv, 1, med, t[0], d);
        }
        /* luminance (Y with gains): bit for bit equal to scalar */
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
            double d = 0;
            for (int y = 0; y < H; y++) { /* check + warm-up */
                sd_row_luminance_scalar(rgb + 3 * (size_t)y * W, W, g, cr);
                dsp->row_luminance(rgb + 3 * (size_t)y * W, W, g, co);
                d += memcmp(co, cr, sizeof(float) * W) != 0;
            }
            if (d != 0) {
                fprintf(stderr, "bench_kernels: luminance %s differs from scalar\n",
                        sd_simd_name((sd_simd_level)lv));
                bad = 1;
            }
            for (int i = 0; i < runs; i++) {
                double t0 = now();
                for (int y = 0; y < H; y++)
                    dsp->row_luminance(rgb + 3 * (size_t)y * W, W, g, co);
                t[i] = now() - t0;
            }
            const double med = median(t, runs); /* sorts t: t[0] is then the best */
            emit("luminance", 0, (sd_simd_level)lv, 1, med, t[0], d);
        }
        /* a compact (8-bit) image's rows: "colour_widened" / "luminance_widened"
         * are what its rows took before the byte kernels (sd_widen8, then
         * the 16-bit kernel), "colour8" / "luminance8" the byte kernels;
         * each byte kernel bit for bit the widened path at its level */
        {
            uint8_t *rgb8 = malloc(3 * (size_t)W * H);
            uint16_t *w16 = malloc(sizeof(uint16_t) * 3 * (size_t)W);
            float *c8 = malloc(sizeof(float) * 4 * (size_t)W);
            if (!rgb8 || !w16 || !c8)
                return 1;
            for (size_t i = 0; i < 3 * (size_t)W * H; i++)
                rgb8[i] = (uint8_t)(rgb[i] >> 8);
            const sd_dsp *tabs[5];
            const int nt = sd_dsp_tables(tabs);
            for (int k = 0; k < nt; k++) {
                const sd_dsp *dsp = tabs[k];
                double d = 0;
                for (int y = 0; y < H; y++) { /* check + warm-up */
                    const uint8_t *r8 = rgb8 + 3 * (size_t)y * W;
                    sd_widen8(r8, 3 * (size_t)W, w16);
                    dsp->row_colour(w16, W, g, co, co + W, co + 2 * W, co + 3 * W);
                    dsp->row_colour8(r8, W, g, c8, c8 + W, c8 + 2 * W, c8 + 3 * W);
                    d += memcmp(co, c8, sizeof(float) * 4 * W) != 0;
                    dsp->row_luminance(w16, W, g, co);
                    dsp->row_luminance8(r8, W, g, c8);
                    d += memcmp(co, c8, sizeof(float) * W) != 0;
                }
                if (d != 0) {
                    fprintf(stderr, "bench_kernels: %s byte kernels differ from the widened path\n",
                            sd_dsp_name(dsp));
                    bad = 1;
                }
                for (int kind = 0; kind < 4; kind++) {
                    for (int i = 0; i < runs; i++) {
                        double t0 = now();
                        for (int y = 0; y < H; y++) {
                            const uint8_t *r8 = rgb8 + 3 * (size_t)y * W;
                            if (kind == 0 || kind == 2)
                                sd_widen8(r8, 3 * (size_t)W, w16);
                            if (kind == 0)
                                dsp->row_colour(w16, W, g, co, co + W, co + 2 * W, co + 3 * W);
                            else if (kind == 1)
                                dsp->row_colour8(r8, W, g, co, co + W, co + 2 * W, co + 3 * W);
                            else if (kind == 2)
                                dsp->row_luminance(w16, W, g, co);
                            else
                                dsp->row_luminance8(r8, W, g, co);
                        }
                        t[i] = now() - t0;
                    }
                    const double med = median(t, runs);
                    static const char *const names[4] = {"colour_widened", "colour8",
                                                         "luminance_widened", "luminance8"};
                    emit_named(names[kind], 0, sd_dsp_name(dsp), 1, med, t[0], d);
                }
            }
            free(rgb8);
            free(w16);
            free(c8);
        }
        double ref3[3] = {0, 0, 0};
        for (int y = 0; y < H; y++)
            sd_row_acc_scalar(lam_ref + (size_t)y * W, NULL, fl, 2, W, ref3);
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
            double acc[3] = {0, 0, 0};
            for (int y = 0; y < H; y++)
                dsp->row_acc(lam_ref + (size_t)y * W, NULL, fl, 2, W, acc);
            double d = fabs(acc[2] - ref3[2]) / ref3[2];
            if (d > 1e-12) {
                fprintf(stderr, "bench_kernels: acc %s differs from scalar by %g\n",
                        sd_simd_name((sd_simd_level)lv), d);
                bad = 1;
            }
            for (int i = 0; i < runs; i++) {
                double t0 = now();
                for (int y = 0; y < H; y++)
                    dsp->row_acc(lam_ref + (size_t)y * W, NULL, fl, 2, W, acc);
                t[i] = now() - t0;
            }
            const double med = median(t, runs); /* sorts t: t[0] is then the best */
            emit("accumulate", 0, (sd_simd_level)lv, 1, med, t[0], d);
        }
        /* the global search's row sums as the search calls them: rows of
         * 62 pixels (the 12 MP search level's width) of a 62 x 46 template
         * that stays in cache (template Lambda, its square, the smooth
         * plane as the warped AFTER, inside everywhere but every 7th
         * pixel), as many rows as the plane has pixels / 62 */
        {
            enum { SW = 62, SH = 46 };
            float *tt = malloc(sizeof(float) * 4 * SW * SH);
            if (!tt)
                return 1;
            float *t2 = tt + SW * SH, *ww = t2 + SW * SH, *vv = ww + SW * SH;
            for (int i = 0; i < SW * SH; i++) {
                tt[i] = lam_ref[(size_t)(i / SW) * W + (size_t)(i % SW)];
                t2[i] = tt[i] * tt[i];
                vv[i] = i % 7 ? 1.0f : 0.0f;
                ww[i] = vv[i] * sd_plane_row(&src, i / SW)[i % SW];
            }
            const int rows = (int)((size_t)W * H / SW);
            float ref6[6], got6[6];
            double sref = 0;
            for (int r = 0; r < SH; r++) {
                sd_row_ncc_sums_scalar(tt + r * SW, t2 + r * SW, ww + r * SW, vv + r * SW, SW,
                                       ref6);
                sref += ref6[0] + ref6[1] + ref6[2] + ref6[3] + ref6[4] + ref6[5];
            }
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
                double sum = 0;
                for (int r = 0; r < SH; r++) {
                    dsp->row_ncc_sums(tt + r * SW, t2 + r * SW, ww + r * SW, vv + r * SW, SW, got6);
                    sum += got6[0] + got6[1] + got6[2] + got6[3] + got6[4] + got6[5];
                }
                const double d = fabs(sum - sref);
                if (d != 0) {
                    fprintf(stderr, "bench_kernels: ncc_sums %s differs from scalar by %g\n",
                            sd_simd_name((sd_simd_level)lv), d);
                    bad = 1;
                }
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    for (int k = 0; k < rows; k++) {
                        const int r = k % SH;
                        dsp->row_ncc_sums(tt + r * SW, t2 + r * SW, ww + r * SW, vv + r * SW, SW,
                                          got6);
                    }
                    t[i] = now() - t0;
                }
                const double med = median(t, runs); /* sorts t: t[0] is then the best */
                emit("ncc_sums", 0, (sd_simd_level)lv, 1, med, t[0], d);
            }
            free(tt);
        }
        /* the normalization's ratio rows as it calls them for a 12 MP pair:
         * the 1000 x 750 level of AFTER (positive, from the smooth plane),
         * BEFORE's 1000 samples per grid row, every 13th outside the ROI,
         * the map a 3 degree rotation, scale 1.04, shift (20, -15); 750 grid
         * rows, one per 4 image rows (a run is one 12 MP image's ratios) */
        {
            enum { LW = W / 4, LH = H / 4 };
            sd_plane lvl;
            float *bb = malloc(sizeof(float) * LW), *q = malloc(sizeof(float) * LW);
            uint8_t *roi = malloc(4 * (size_t)LW);
            if (!bb || !q || !roi || sd_plane_init(ctx, &lvl, LW, LH) != SD_OK)
                return 1;
            for (int y = 0; y < LH; y++)
                for (int x = 0; x < LW; x++)
                    sd_plane_row(&lvl, y)[x] = expf(sd_plane_row(&src, 4 * y)[4 * x]);
            for (int x = 0; x < LW; x++)
                bb[x] = expf(sd_plane_row(&src, 1)[4 * x + 1]);
            for (int i = 0; i < 4 * LW; i++)
                roi[i] = i % 13 ? 1 : 0;
            const double th = 3.0 * M_PI / 180.0;
            const double m[6] = {1.04 * cos(th), -1.04 * sin(th), 20.0,
                                 1.04 * sin(th), 1.04 * cos(th), -15.0};
            sd_ratio_row rr = {.b = bb, .in = roi, .n = LW, .x0 = 0, .step = 4, .in_val = 1,
                               .m = m, .a = &lvl, .ox = 0, .oy = 0, .c = 1.5, .inv = 0.25,
                               .dark = 1.0 / 1024.0};
            double sref = 0;
            for (int y = 0; y < H; y += 4) {
                rr.y = y;
                const int k = sd_row_ratio_scalar(&rr, q);
                for (int i = 0; i < k; i++)
                    sref += q[i];
            }
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
                double sum = 0;
                for (int y = 0; y < H; y += 4) {
                    rr.y = y;
                    const int k = dsp->row_ratio(&rr, q);
                    for (int i = 0; i < k; i++)
                        sum += q[i];
                }
                const double d = fabs(sum - sref);
                if (d != 0) {
                    fprintf(stderr, "bench_kernels: row_ratio %s differs from scalar by %g\n",
                            sd_simd_name((sd_simd_level)lv), d);
                    bad = 1;
                }
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    for (int y = 0; y < H; y += 4) {
                        rr.y = y;
                        (void)dsp->row_ratio(&rr, q);
                    }
                    t[i] = now() - t0;
                }
                const double med = median(t, runs);
                emit("row_ratio", 0, (sd_simd_level)lv, 1, med, t[0], d);
            }
            sd_plane_release(&lvl);
            free(bb);
            free(q);
            free(roi);
        }
        /* the alignment's ECC rows as a similarity pass at the 12 MP base
         * level calls them: AFTER's 1000 x 750 band-pass (the smooth plane
         * subsampled), BEFORE's rows every 4th, every 4th pixel sampled,
         * the map a 3 degree rotation, scale 1.04; as many rows as make
         * W x H samples (MP/s: million samples per second) */
        {
            enum { LW = W / 4, LH = H / 4, STEP = 4, NS = LW / STEP };
            sd_plane ib;
            if (sd_plane_init(ctx, &ib, LW, LH) != SD_OK)
                return 1;
            for (int y = 0; y < LH; y++)
                for (int x = 0; x < LW; x++)
                    sd_plane_row(&ib, y)[x] = sd_plane_row(&src, 4 * y)[4 * x];
            const double th = 3.0 * M_PI / 180.0, m[6] = {1.04 * cos(th), -1.04 * sin(th), 20.0,
                                                          1.04 * sin(th), 1.04 * cos(th), -15.0};
            sd_ecc_row er = {.step = STEP, .P = 4, .ahead = 16, .m0 = m[0], .m3 = m[3],
                             .cx = (LW - 1) / 2.0, .invR = 1.0 / 625.0, .I = &ib};
            const int rows = (int)((size_t)W * H / NS);
            double esum[SD_ECC_SUMS] = {0};
            for (int y = 0; y < LH; y += STEP) {
                er.t = sd_plane_row(&src, 4 * y + 1);
                er.rx = m[1] * y + m[2];
                er.ry = m[4] * y + m[5];
                er.v = (y - (LH - 1) / 2.0) / 625.0;
                sd_ecc_row_scalar(&er, 0, NS, esum);
            }
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
                double got[SD_ECC_SUMS] = {0};
                for (int y = 0; y < LH; y += STEP) {
                    er.t = sd_plane_row(&src, 4 * y + 1);
                    er.rx = m[1] * y + m[2];
                    er.ry = m[4] * y + m[5];
                    er.v = (y - (LH - 1) / 2.0) / 625.0;
                    dsp->ecc_row(&er, 0, NS, got);
                }
                double d = 0;
                for (int k = 0; k < SD_ECC_SUMS; k++)
                    d = fmax(d, fabs(got[k] - esum[k]));
                if (memcmp(got, esum, sizeof esum) != 0) {
                    fprintf(stderr, "bench_kernels: ecc_row %s differs from scalar by %g\n",
                            sd_simd_name((sd_simd_level)lv), d);
                    bad = 1;
                }
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    for (int k = 0; k < rows; k++) {
                        const int y = STEP * (k % (LH / STEP));
                        er.t = sd_plane_row(&src, 4 * y + 1);
                        er.rx = m[1] * y + m[2];
                        er.ry = m[4] * y + m[5];
                        er.v = (y - (LH - 1) / 2.0) / 625.0;
                        dsp->ecc_row(&er, 0, NS, got);
                    }
                    t[i] = now() - t0;
                }
                const double med = median(t, runs);
                emit("ecc_row", 0, (sd_simd_level)lv, 1, med, t[0], d);
            }
            sd_plane_release(&ib);
        }
        /* histogram and selection of the exact medians, on the smooth
         * plane (every pixel flagged): the selection keeps the bins around
         * the scalar histogram's median, as the metric stage does */
        uint32_t *href = calloc(65536, sizeof(uint32_t)), *hist = calloc(65536, sizeof(uint32_t));
        float *sel = malloc(sizeof(float) * (size_t)W);
        if (!href || !hist || !sel)
            return 1;
        for (int y = 0; y < H; y++)
            sd_row_hist_scalar(sd_plane_row(&src, y), fl, 2, W, NULL, href);
        unsigned bmed = 0;
        for (size_t c = 0; bmed < 65536 && (c += href[bmed]) <= (size_t)W * H / 2; bmed++)
            ;
        size_t nsel_ref = href[bmed];
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
            memset(hist, 0, 65536 * sizeof(uint32_t));
            size_t nsel = 0;
            for (int y = 0; y < H; y++) { /* check + warm-up */
                dsp->row_hist(sd_plane_row(&src, y), fl, 2, W, NULL, hist);
                nsel += dsp->row_select(sd_plane_row(&src, y), fl, 2, W, NULL, bmed, bmed, sel);
            }
            double d = memcmp(hist, href, 65536 * sizeof(uint32_t)) != 0 || nsel != nsel_ref;
            if (d != 0) {
                fprintf(stderr, "bench_kernels: hist/select %s differ from scalar\n",
                        sd_simd_name((sd_simd_level)lv));
                bad = 1;
            }
            for (int i = 0; i < runs; i++) {
                double t0 = now();
                for (int y = 0; y < H; y++)
                    dsp->row_hist(sd_plane_row(&src, y), fl, 2, W, NULL, hist);
                t[i] = now() - t0;
            }
            const double med_h = median(t, runs); /* sorts t: t[0] is then the best */
            emit("histogram", 0, (sd_simd_level)lv, 1, med_h, t[0], d);
            for (int i = 0; i < runs; i++) {
                double t0 = now();
                for (int y = 0; y < H; y++)
                    dsp->row_select(sd_plane_row(&src, y), fl, 2, W, NULL, bmed, bmed, sel);
                t[i] = now() - t0;
            }
            const double med = median(t, runs); /* sorts t: t[0] is then the best */
            emit("select", 0, (sd_simd_level)lv, 1, med, t[0], d);
            /* row_hist_select: three ranges (the median's bin and two
             * about 40 bins off, as the MAD's pass) in one call against
             * three row_select calls; and the histogram with the first two
             * ranges in one call against row_hist and two row_select calls */
            const unsigned r3[3][2] = {{bmed - 41, bmed - 39}, {bmed, bmed}, {bmed + 39, bmed + 41}};
            size_t k3 = 0, k3ref = 0;
            for (int y = 0; y < H; y++) {
                for (int i = 0; i < 3; i++)
                    k3ref += dsp->row_select(sd_plane_row(&src, y), fl, 2, W, NULL, r3[i][0],
                                             r3[i][1], sel);
                k3 += dsp->row_hist_select(sd_plane_row(&src, y), fl, 2, W, NULL, r3, 3, NULL, sel);
            }
            const double d3 = k3 != k3ref;
            if (d3 != 0) {
                fprintf(stderr, "bench_kernels: hist_select %s differs from row_select\n",
                        sd_simd_name((sd_simd_level)lv));
                bad = 1;
            }
            for (int sep = 0; sep < 2; sep++) {
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    for (int y = 0; y < H; y++) {
                        const float *v = sd_plane_row(&src, y);
                        if (sep)
                            for (int k = 0; k < 3; k++)
                                dsp->row_select(v, fl, 2, W, NULL, r3[k][0], r3[k][1], sel);
                        else
                            dsp->row_hist_select(v, fl, 2, W, NULL, r3, 3, NULL, sel);
                    }
                    t[i] = now() - t0;
                }
                const double m3 = median(t, runs); /* sorts t: t[0] is then the best */
                emit(sep ? "select_3_separate" : "select_3_ranges", 0, (sd_simd_level)lv, 1, m3,
                     t[0], d3);
            }
            for (int sep = 0; sep < 2; sep++) {
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    for (int y = 0; y < H; y++) {
                        const float *v = sd_plane_row(&src, y);
                        if (sep) {
                            dsp->row_hist(v, fl, 2, W, NULL, hist);
                            for (int k = 0; k < 2; k++)
                                dsp->row_select(v, fl, 2, W, NULL, r3[k][0], r3[k][1], sel);
                        } else {
                            dsp->row_hist_select(v, fl, 2, W, hist, r3, 2, NULL, sel);
                        }
                    }
                    t[i] = now() - t0;
                }
                const double m2 = median(t, runs); /* sorts t: t[0] is then the best */
                emit(sep ? "hist_select_2_separate" : "hist_select_2", 0, (sd_simd_level)lv, 1,
                     m2, t[0], d3);
            }
        }
        free(href);
        free(hist);
        free(sel);
        free(co);
        free(cr);
        free(aref);
        free(fl);
    }
    /* the metric stage's vertical taps (sigma 6, r = 24): four output rows
     * per call where the level has blur_taps4, one blur_taps per row
     * otherwise; checked against scalar, and bit for bit against the
     * level's own blur_taps */
    {
        float k[4097];
        const int r = sd_gauss_kernel(6.0, k);
        const float *in[2 * 24 + 4];
        float *rows[4];
        sd_simd_set(SD_SIMD_SCALAR);
        for (int y = r; y + 4 <= H - r; y += 4) {
            for (int i = 0; i < 2 * r + 4; i++)
                in[i] = sd_plane_row(&src, y - r + i);
            for (int j = 0; j < 4; j++)
                rows[j] = sd_plane_row(&ref, y + j);
            sd_blur_rows(sd_dsp_level(SD_SIMD_SCALAR), in, k, r, rows, 4, W);
        }
        const double tol = 2 * (r + 2) * FLT_EPSILON * 3.5;
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
            double d = 0;
            for (int y = r; y + 4 <= H - r; y += 4) { /* check + warm-up */
                for (int i = 0; i < 2 * r + 4; i++)
                    in[i] = sd_plane_row(&src, y - r + i);
                for (int j = 0; j < 4; j++)
                    rows[j] = sd_plane_row(&out, y + j);
                sd_blur_rows(dsp, in, k, r, rows, 4, W);
                for (int j = 0; j < 4; j++) {
                    float *one = sd_plane_row(&out, 0);
                    dsp->blur_taps(in + j, k, r, one, W);
                    if (memcmp(one, rows[j], sizeof(float) * W) != 0)
                        d = INFINITY;
                    for (int x = 0; x < W; x++)
                        d = fmax(d, fabs(rows[j][x] - sd_plane_row(&ref, y + j)[x]));
                }
            }
            if (!(d <= tol)) {
                fprintf(stderr, "bench_kernels: vertical taps %s differ by %g\n",
                        sd_simd_name((sd_simd_level)lv), d);
                bad = 1;
            }
            for (int i = 0; i < runs; i++) {
                double t0 = now();
                for (int y = r; y + 4 <= H - r; y += 4) {
                    for (int q = 0; q < 2 * r + 4; q++)
                        in[q] = sd_plane_row(&src, y - r + q);
                    for (int j = 0; j < 4; j++)
                        rows[j] = sd_plane_row(&out, y + j);
                    sd_blur_rows(dsp, in, k, r, rows, 4, W);
                }
                t[i] = now() - t0;
            }
            const double med = median(t, runs); /* sorts t: t[0] is then the best */
            emit("vertical_taps4", 6.0, (sd_simd_level)lv, 1, med, t[0], d);
        }
    }
    /* the metric stage's horizontal taps of G_t and G_s (sigma 2 and
     * 1.25, r = 8 and 5) on each row of the plane, from a padded row that
     * stays in L1 as in the fused pass: "horizontal_taps2" is one
     * sd_blur_row2 call per row (both kernels, blur_row2 where the level
     * has it), "horizontal_taps" the two blur_taps calls it replaced;
     * checked bit for bit against each other, and against scalar */
    {
        float kt[4097], ks[4097];
        const int rt = sd_gauss_kernel(2.0, kt), rs = sd_gauss_kernel(1.25, ks);
        float *pad = malloc(sizeof(float) * (W + 2 * 8) * 8), *gt = malloc(sizeof(float) * W);
        float *gs = malloc(sizeof(float) * W), *rt_ref = malloc(sizeof(float) * W);
        const float *in[17];
        if (!pad || !gt || !gs || !rt_ref)
            return 1;
        for (int i = 0; i < (W + 2 * 8) * 8; i++)
            pad[i] = sd_plane_row(&src, i / (W + 16))[i % W];
        sd_blur_row2(sd_dsp_level(SD_SIMD_SCALAR), pad + 8, kt, rt, rt_ref, NULL, 0, NULL, W, in);
        const double tol = 2 * (rt + 2) * FLT_EPSILON * 3.5;
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
            for (int pass = 0; pass < 2; pass++) {
                double d = 0;
                sd_blur_row2(dsp, pad + 8, kt, rt, gt, ks, rs, gs, W, in);
                for (int x = 0; x < W; x++)
                    d = fmax(d, fabs(gt[x] - rt_ref[x]));
                for (int i = 0; i <= 2 * rt; i++)
                    in[i] = pad + i;
                float *one = sd_plane_row(&out, 0);
                dsp->blur_taps(in, kt, rt, one, W);
                if (memcmp(one, gt, sizeof(float) * W) != 0)
                    d = INFINITY;
                if (!(d <= tol)) {
                    fprintf(stderr, "bench_kernels: horizontal taps %s differ by %g\n",
                            sd_simd_name((sd_simd_level)lv), d);
                    bad = 1;
                }
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    for (int y = 0; y < H; y++) {
                        const float *c = pad + (size_t)(y % 8) * (W + 16) + 8;
                        if (pass) {
                            sd_blur_row2(dsp, c, kt, rt, gt, ks, rs, gs, W, in);
                        } else {
                            for (int q = 0; q <= 2 * rt; q++)
                                in[q] = c - rt + q;
                            dsp->blur_taps(in, kt, rt, gt, W);
                            dsp->blur_taps(in + rt - rs, ks, rs, gs, W);
                        }
                    }
                    t[i] = now() - t0;
                }
                const double med = median(t, runs);
                emit(pass ? "horizontal_taps2" : "horizontal_taps", 2.0, (sd_simd_level)lv, 1,
                     med, t[0], d);
            }
        }
        free(pad);
        free(gt);
        free(gs);
        free(rt_ref);
    }
    /* the strip pass's sums of an output row (texture, fine band, the
     * focus Laplacian) over rows that stay in cache as in the pass (eight
     * rows of the plane, 7 of 8 pixels flagged): "strip_sums" is one
     * row_acc3 call per row, "strip_sums_separate" the two row_acc and
     * one row_lap_acc calls it replaced; checked bit for bit against each
     * other, and against scalar (relative difference of the sums) */
    {
        uint8_t *fl = malloc((size_t)W);
        if (!fl)
            return 1;
        for (int x = 0; x < W; x++)
            fl[x] = rnd() % 8 ? 2 : 0;
#define SROW(y, k) sd_plane_row(&src, ((y) + (k)) % 8)
        double sref[8] = {0};
        for (int y = 0; y < H; y++)
            sd_row_acc3_scalar(SROW(y, 0), SROW(y, 1), SROW(y, 2), SROW(y, 3), SROW(y, 4), fl, 2,
                               W, sref, sref + 3, sref + 6);
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
            double a[8] = {0}, b[8] = {0}, d = 0;
            for (int y = 0; y < H; y++) { /* check + warm-up */
                dsp->row_acc3(SROW(y, 0), SROW(y, 1), SROW(y, 2), SROW(y, 3), SROW(y, 4), fl, 2,
                              W, a, a + 3, a + 6);
                dsp->row_acc(SROW(y, 0), SROW(y, 1), fl, 2, W, b);
                dsp->row_acc(SROW(y, 0), SROW(y, 3), fl, 2, W, b + 3);
                dsp->row_lap_acc(SROW(y, 2) + 1, SROW(y, 3) + 1, SROW(y, 4) + 1, fl + 1, 2, W - 2,
                                 b + 6);
            }
            for (int k = 0; k < 8; k++)
                d = fmax(d, fabs(a[k] - sref[k]) / fabs(sref[k]));
            if (memcmp(a, b, sizeof a) != 0 || d > 1e-12) {
                fprintf(stderr, "bench_kernels: strip sums %s differ (%g vs scalar)\n",
                        sd_simd_name((sd_simd_level)lv), d);
                bad = 1;
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    for (int y = 0; y < H; y++) {
                        if (pass) {
                            dsp->row_acc3(SROW(y, 0), SROW(y, 1), SROW(y, 2), SROW(y, 3),
                                          SROW(y, 4), fl, 2, W, a, a + 3, a + 6);
                        } else {
                            dsp->row_acc(SROW(y, 0), SROW(y, 1), fl, 2, W, b);
                            dsp->row_acc(SROW(y, 0), SROW(y, 3), fl, 2, W, b + 3);
                            dsp->row_lap_acc(SROW(y, 2) + 1, SROW(y, 3) + 1, SROW(y, 4) + 1,
                                             fl + 1, 2, W - 2, b + 6);
                        }
                    }
                    t[i] = now() - t0;
                }
                const double med = median(t, runs);
                emit(pass ? "strip_sums" : "strip_sums_separate", 0, (sd_simd_level)lv, 1, med,
                     t[0], d);
            }
        }
        /* the colour sums of a source row (a*, e, the Λ halves split at
         * column 1931, and the red count): "colour_sums" is one row_sum4
         * call, "colour_sums_separate" the four row_sum calls (the count
         * was a loop in the metric stage); bit for bit against each other */
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
            const int xs = 1931;
            const float tr = -2.0f;
            double a[4] = {0}, b[4] = {0}, d = 0;
            size_t red = 0;
            for (int y = 0; y < H; y++) { /* check + warm-up */
                dsp->row_sum4(SROW(y, 0), SROW(y, 1), SROW(y, 2), fl, 2, W, xs, a, a + 1, a + 2,
                              a + 3, &tr, &red);
                dsp->row_sum(SROW(y, 0), fl, 2, W, b);
                dsp->row_sum(SROW(y, 1), fl, 2, W, b + 1);
                dsp->row_sum(SROW(y, 2), fl, 2, xs, b + 2);
                dsp->row_sum(SROW(y, 2) + xs, fl + xs, 2, W - xs, b + 3);
            }
            if (memcmp(a, b, sizeof a) != 0) {
                fprintf(stderr, "bench_kernels: colour sums %s differ\n",
                        sd_simd_name((sd_simd_level)lv));
                bad = 1;
                d = INFINITY;
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    for (int y = 0; y < H; y++) {
                        if (pass) {
                            dsp->row_sum4(SROW(y, 0), SROW(y, 1), SROW(y, 2), fl, 2, W, xs, a,
                                          a + 1, a + 2, a + 3, &tr, &red);
                        } else {
                            dsp->row_sum(SROW(y, 0), fl, 2, W, b);
                            dsp->row_sum(SROW(y, 1), fl, 2, W, b + 1);
                            dsp->row_sum(SROW(y, 2), fl, 2, xs, b + 2);
                            dsp->row_sum(SROW(y, 2) + xs, fl + xs, 2, W - xs, b + 3);
                        }
                    }
                    t[i] = now() - t0;
                }
                const double med = median(t, runs);
                emit(pass ? "colour_sums" : "colour_sums_separate", 0, (sd_simd_level)lv, 1, med,
                     t[0], d);
            }
        }
        /* the D row and its histogram: "sub_hist" is one row_sub_hist
         * call, "sub_hist_separate" row_sub then row_hist; plane and
         * histogram checked against scalar */
        {
            uint32_t *href = calloc(65536, sizeof(uint32_t)), *hist = calloc(65536, sizeof(uint32_t));
            float *dr = malloc(sizeof(float) * W), *dg = malloc(sizeof(float) * W);
            if (!href || !hist || !dr || !dg)
                return 1;
            for (int y = 0; y < H; y++)
                sd_row_sub_hist_scalar(SROW(y, 0), SROW(y, 1), dr, fl, 2, W, href);
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
                memset(hist, 0, 65536 * sizeof(uint32_t));
                for (int y = 0; y < H; y++) /* check + warm-up */
                    dsp->row_sub_hist(SROW(y, 0), SROW(y, 1), dg, fl, 2, W, hist);
                double d = memcmp(hist, href, 65536 * sizeof(uint32_t)) != 0 ||
                           memcmp(dg, dr, sizeof(float) * W) != 0;
                if (d != 0) {
                    fprintf(stderr, "bench_kernels: sub_hist %s differs from scalar\n",
                            sd_simd_name((sd_simd_level)lv));
                    bad = 1;
                }
                for (int pass = 0; pass < 2; pass++) {
                    for (int i = 0; i < runs; i++) {
                        double t0 = now();
                        for (int y = 0; y < H; y++) {
                            if (pass) {
                                dsp->row_sub_hist(SROW(y, 0), SROW(y, 1), dg, fl, 2, W, hist);
                            } else {
                                dsp->row_sub(SROW(y, 0), SROW(y, 1), dg, W);
                                dsp->row_hist(dg, fl, 2, W, NULL, hist);
                            }
                        }
                        t[i] = now() - t0;
                    }
                    const double med = median(t, runs);
                    emit(pass ? "sub_hist" : "sub_hist_separate", 0, (sd_simd_level)lv, 1, med,
                         t[0], d);
                }
            }
            free(href);
            free(hist);
            free(dr);
            free(dg);
        }
#undef SROW
        free(fl);
    }
    /* the bilinear warp of a 12 MP 16-bit RGB picture through a typical
     * alignment map (2.5 deg, scale 1.03, shifted; a band along the edges
     * falls outside): "warp" is the row kernel alone over every row into a
     * ready buffer (one thread), "warp_image" is sd_image_warp (output
     * allocated, rows on 1 or 2 threads). Checked bit for bit against the
     * scalar kernel first. */
    {
        sd_image pic = {0};
        pic.width = W;
        pic.height = H;
        pic.stride = 3 * (size_t)W;
        pic.px = rgb;
        pic.bits = 16;
        const double th = 2.5 * M_PI / 180, k = 1.03;
        sd_xform xf = {{k * cos(th), -k * sin(th), 0, k * sin(th), k * cos(th), 0}};
        xf.m[2] = 0.5 * (W - 1) + 17.25 - xf.m[0] * 0.5 * (W - 1) - xf.m[1] * 0.5 * (H - 1);
        xf.m[5] = 0.5 * (H - 1) - 11.5 - xf.m[3] * 0.5 * (W - 1) - xf.m[4] * 0.5 * (H - 1);
        uint16_t *wref = malloc(sizeof(uint16_t) * 3 * (size_t)W * H);
        uint16_t *wout = malloc(sizeof(uint16_t) * 3 * (size_t)W * H);
        if (!wref || !wout)
            return 1;
        for (int y = 0; y < H; y++)
            sd_row_warp_scalar(&pic, &xf, y, 0, W, wref + 3 * (size_t)y * W);
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *dsp = sd_dsp_level((sd_simd_level)lv);
            memset(wout, 0x55, sizeof(uint16_t) * 3 * (size_t)W * H);
            for (int y = 0; y < H; y++) /* check + warm-up */
                dsp->row_warp(&pic, &xf, y, 0, W, wout + 3 * (size_t)y * W);
            double d = 0;
            for (size_t i = 0; i < 3 * (size_t)W * H; i++)
                d = fmax(d, fabs((double)wout[i] - wref[i]));
            if (d != 0) {
                fprintf(stderr, "bench_kernels: warp %s differs from scalar by %g\n",
                        sd_simd_name((sd_simd_level)lv), d);
                bad = 1;
            }
            for (int i = 0; i < runs; i++) {
                double t0 = now();
                for (int y = 0; y < H; y++)
                    dsp->row_warp(&pic, &xf, y, 0, W, wout + 3 * (size_t)y * W);
                t[i] = now() - t0;
            }
            const double med = median(t, runs); /* sorts t: t[0] is then the best */
            emit("warp", 0, (sd_simd_level)lv, 1, med, t[0], d);
            sd_simd_set((sd_simd_level)lv);
            for (int thr = 1; thr <= 2; thr++) {
                sd_ctx_set_threads(ctx, thr);
                sd_image *img = NULL;
                if (sd_image_warp(ctx, &pic, &xf, W, H, &img) != SD_OK) /* check + warm-up */
                    return 1;
                double di = 0;
                for (int y = 0; y < H; y++)
                    if (memcmp(img->px + (size_t)y * img->stride, wref + 3 * (size_t)y * W,
                               sizeof(uint16_t) * 3 * W) != 0)
                        di = INFINITY;
                sd_image_free(img);
                if (di != 0) {
                    fprintf(stderr, "bench_kernels: sd_image_warp %s, %d threads, differs\n",
                            sd_simd_name((sd_simd_level)lv), thr);
                    bad = 1;
                }
                for (int i = 0; i < runs; i++) {
                    double t0 = now();
                    if (sd_image_warp(ctx, &pic, &xf, W, H, &img) != SD_OK)
                        return 1;
                    t[i] = now() - t0;
                    sd_image_free(img);
                }
                const double medi = median(t, runs);
                emit("warp_image", 0, (sd_simd_level)lv, thr, medi, t[0], di);
            }
        }
        free(wref);
        free(wout);
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

/* The exact median and MAD from a 65536-bin key histogram and one pass
 * collecting a few bins (sd_mad_plan_init, sd_mad_finish; docs/metrics.md
 * "Medians"), held to a brute-force sort of every value: the median is the
 * middle value (the mean of the two middle ones, in double, for an even
 * count) and the MAD the same of the distances (float)|v - median| computed
 * in double, on adversarial distributions: tiny counts, all values equal or
 * in one bin, values at bin edges and one float off them, a median at a
 * bin's edge, ties at the MAD, both signs and zeros, medians far from zero
 * (a median bin wider than the MAD), even and odd counts, and random draws
 * from a pool of such edge values. Each must match bit for bit, and the MAD
 * must lie in the plan's [A, B].
 *
 * Then the pore candidates the thresholds' D pass marks (D > the T_pore of
 * B, the pixels up to the T_pore of A listed and settled later, or past a
 * limit one more pass): a measure that derives its thresholds gives the
 * same metrics as one begun with those thresholds fixed (whose fused pass
 * marks D > T_pore itself), on a pattern whose D repeats down every column,
 * with pore_k set so that T_pore falls just below D's largest values (whole
 * columns then lie between the two bounds, past the list's limit) and at
 * tenths of them (a column or none between the bounds). */
#include "sd_test.h"

#include <math.h>

#include "kernels/kernels_internal.h"
#include "metrics/measure_internal.h"
#include "metrics/metrics_internal.h"
#include "skindelta/metrics.h"
#include "test_metrics_scene.h"

#define NB 65536u

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The textbook median of n sorted floats. */
static double sorted_median(const float *s, size_t n)
{
    return n % 2 ? (double)s[n / 2] : 0.5 * ((double)s[n / 2 - 1] + (double)s[n / 2]);
}

/* The plan's way against the sort; returns the number of values collected. */
static size_t check(const float *v, size_t n)
{
    uint32_t *hist = calloc(NB, sizeof *hist);
    float *s = malloc(n * sizeof *s), *c = malloc(n * sizeof *c);
    assert_non_null(hist);
    assert_non_null(s);
    assert_non_null(c);
    for (size_t i = 0; i < n; i++)
        hist[sd_fbin(v[i])]++;

    sd_mad_plan p;
    sd_mad_plan_init(&p, hist, n);
    assert_true(p.nr >= 1 && p.nr <= 3);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned b = sd_fbin(v[i]);
        for (int r = 0; r < p.nr; r++)
            if (b >= p.r[r][0] && b <= p.r[r][1])
                c[k++] = v[i];
    }
    assert_int_equal(k, p.cap);
    double med;
    const double mad = sd_mad_finish(&p, c, &med);

    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_float);
    const double med_ref = sorted_median(s, n);
    for (size_t i = 0; i < n; i++)
        s[i] = (float)fabs((double)v[i] - med_ref);
    qsort(s, n, sizeof *s, cmp_float);
    const double mad_ref = sorted_median(s, n);
    assert_true(mad >= p.A && mad <= p.B);
    if (med != med_ref || mad != mad_ref)
        fail_msg("n %zu: median %.17g (sort %.17g), MAD %.17g (sort %.17g)", n, med, med_ref, mad,
                 mad_ref);
    free(hist);
    free(s);
    free(c);
    return k;
}

/* xorshift64*: a fixed sequence per seed */
static uint64_t rng_next(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * UINT64_C(2685821657736338717);
}

static double rng_unit(uint64_t *st) { return (double)(rng_next(st) >> 11) * 0x1p-53; }

static float bin_lo(unsigned b) { return sd_key_float((uint32_t)b << 16); }
static float bin_hi(unsigned b) { return sd_key_float(((uint32_t)b << 16) | 0xffffu); }

static void test_tiny_counts(void **state)
{
    (void)state;
    const float one[] = {0.25f}, neg[] = {-3.5f}, zero[] = {-0.0f};
    check(one, 1);
    check(neg, 1);
    check(zero, 1);
    const float two[][2] = {{1, 2}, {-1, 1}, {0.0f, -0.0f}, {5, 5}, {1e-30f, -1e30f}};
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
        check(two[i], 2);
    const float three[][3] = {{1, 2, 3}, {-1, 0, 1}, {7, 7, 7}, {-2, -2, 5}, {1e-3f, 1e3f, 1}};
    for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
        check(three[i], 3);
}

static void test_equal_and_one_bin(void **state)
{
    (void)state;
    enum { N = 1001 };
    float v[N];
    for (int i = 0; i < N; i++)
        v[i] = -0.375f;
    check(v, N);
    check(v, N - 1);
    /* every value in the bin of 1.0, spread over it */
    uint64_t st = 7;
    const unsigned b = sd_fbin(1.0f);
    for (int i = 0; i < N; i++)
        v[i] = sd_key_float(((uint32_t)b << 16) | (uint32_t)(rng_next(&st) & 0xffffu));
    check(v, N);
    check(v, N - 1);
    /* and in the bins either side of zero only */
    for (int i = 0; i < N; i++)
        v[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? -0.0f : (i % 2 ? 1e-45f : -1e-45f);
    check(v, N);
    check(v, N - 1);
}

/* Values at the edges of a few bins and one float off them, both signs. */
static void test_bin_edges(void **state)
{
    (void)state;
    enum { N = 600 };
    float v[N];
    const unsigned b0 = sd_fbin(0.5f), b1 = sd_fbin(-0.5f);
    for (int i = 0; i < N; i++) {
        const unsigned b = (i % 2 ? b0 : b1) + (unsigned)(i % 7) - 3;
        float x = i % 4 < 2 ? bin_lo(b) : bin_hi(b);
        if (i % 5 == 0)
            x = nextafterf(x, i % 10 ? INFINITY : -INFINITY);
        v[i] = x;
    }
    check(v, N);
    check(v, N - 1);
    /* the median exactly at a bin's lowest value, the rest just below the
     * bin below and at the bin above, at distances around its width */
    const unsigned bm = sd_fbin(3.0f);
    for (int i = 0; i < 301; i++)
        v[i] = i == 150 ? bin_lo(bm) : i < 150 ? bin_hi(bm - 1 - (unsigned)(i % 3)) : bin_lo(bm + (unsigned)(i % 4));
    check(v, 301);
    v[301] = bin_lo(bm);
    check(v, 302);
}

/* Ties at the MAD: -d, 0 and +d in blocks; and a step in the distances
 * exactly at the middle rank. */
static void test_ties(void **state)
{
    (void)state;
    enum { N = 400 };
    float v[N];
    for (int n = N - 3; n <= N; n++) {
        for (int i = 0; i < n; i++)
            v[i] = i % 4 == 0 ? -1.0f : i % 4 == 1 ? 1.0f : i % 4 == 2 ? 0.0f : 1.0f;
        check(v, (size_t)n);
        for (int i = 0; i < n; i++)
            v[i] = i < n / 2 ? -2.0f + (float)(i % 2) : 2.0f - (float)(i % 2);
        check(v, (size_t)n);
    }
}

/* Smooth distributions: Laplacian and Gaussian-like around several centres
 * (zero, negative, far from zero with a MAD much smaller than the median's
 * bin), even and odd counts; the plan collects few of them. */
static void test_smooth(void **state)
{
    (void)state;
    enum { N = 200001 };
    float *v = malloc(N * sizeof *v);
    assert_non_null(v);
    uint64_t st = 12345;
    const double centres[] = {0.0, -0.003, 1e3, -7.25, 1e-20};
    const double scales[] = {0.02, 0.01, 0.001, 5.0, 1e-22};
    for (size_t c = 0; c < sizeof centres / sizeof centres[0]; c++) {
        for (int i = 0; i < N; i++) {
            const double u = rng_unit(&st) + 1e-300, g = rng_unit(&st);
            const double lap = (g < 0.5 ? -1 : 1) * log(u);
            const double gau = rng_unit(&st) + rng_unit(&st) + rng_unit(&st) - 1.5;
            v[i] = (float)(centres[c] + scales[c] * (i % 2 ? lap : gau));
        }
        size_t k = check(v, N);
        if (c == 0 || c == 1)
            assert_true(k < N / 10); /* a few bins each side, not all of them */
        check(v, N - 1);
    }
    free(v);
}

/* Random draws from a small pool of awkward values (bin edges, one float
 * off, zeros of both signs, values whose distances to the centre round),
 * many small counts: the brute force over every one. */
static void test_random_pools(void **state)
{
    (void)state;
    enum { POOL = 48, MAXN = 64 };
    float pool[POOL], v[MAXN];
    uint64_t st = 99;
    for (int round = 0; round < 4000; round++) {
        const float base = (float)(0.5 + 3 * rng_unit(&st)) * (round % 3 ? 1.0f : 1e-3f);
        const unsigned bb = sd_fbin(base);
        for (int i = 0; i < POOL; i++) {
            const unsigned b = (rng_next(&st) % 2 ? bb : sd_fbin(-base)) + (unsigned)(rng_next(&st) % 9) - 4;
            float x;
            switch (rng_next(&st) % 6) {
            case 0: x = bin_lo(b); break;
            case 1: x = bin_hi(b); break;
            case 2: x = nextafterf(bin_lo(b), -INFINITY); break;
            case 3: x = nextafterf(bin_hi(b), INFINITY); break;
            case 4: x = rng_next(&st) % 2 ? 0.0f : -0.0f; break;
            default: x = sd_key_float(((uint32_t)b << 16) | (uint32_t)(rng_next(&st) & 0xffffu)); break;
            }
            pool[i] = x;
        }
        const size_t n = 1 + (size_t)(rng_next(&st) % MAXN);
        for (size_t i = 0; i < n; i++)
            v[i] = pool[rng_next(&st) % (round % 2 ? POOL : 6)];
        check(v, n);
    }
}

/* Distances that round when converted to float: the two middle values are
 * adjacent floats, so for an even count the median (their mean) is no
 * float and |v - median| falls half an ulp of the centre from a float. */
static void test_rounding(void **state)
{
    (void)state;
    enum { N = 2000 };
    float v[N];
    uint64_t st = 5;
    for (int round = 0; round < 50; round++) {
        const float a = (float)(1 + rng_unit(&st)), b = nextafterf(a, INFINITY);
        for (int n = N - 1; n <= N; n++) {
            for (int i = 0; i < n; i++) {
                const double d = ldexp(1 + rng_unit(&st), -(int)(rng_next(&st) % 30));
                v[i] = i < 2 ? (i ? b : a) : i % 2 ? (float)((double)b + d) : (float)((double)a - d);
            }
            check(v, (size_t)n);
        }
    }
}

/* sd_select_kth leaves the values partitioned around the k-th (the
 * prediction of the a* median and sd_select_middle rely on it). */
static void test_select_partitions(void **state)
{
    (void)state;
    enum { N = 1000 };
    float v[N], s[N];
    uint64_t st = 3;
    for (int round = 0; round < 200; round++) {
        const size_t n = 1 + (size_t)(rng_next(&st) % N), k = (size_t)(rng_next(&st) % n);
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(rng_next(&st) % (round % 2 ? 7 : 100000));
        memcpy(s, v, n * sizeof *s);
        qsort(s, n, sizeof *s, cmp_float);
        const float x = sd_select_kth(v, n, k);
        assert_true(x == s[k]);
        for (size_t i = 0; i < n; i++)
            assert_true(i < k ? v[i] <= x : v[i] >= x);
    }
}

/* sd_image_measure deriving the thresholds, and with them fixed: equal. */
static void derived_equals_fixed(sd_ctx *ctx, const sd_image *img, const sd_metric_params *p)
{
    sd_thresholds t = {0};
    sd_metrics a, b;
    assert_int_equal(sd_image_measure(ctx, img, NULL, 1.0, NULL, p, &t, &a), SD_OK);
    assert_true(t.set);
    assert_int_equal(sd_image_measure(ctx, img, NULL, 1.0, NULL, p, &t, &b), SD_OK);
    assert_memory_equal(&a, &b, sizeof a);
}

static void test_candidates(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    assert_non_null(ctx);
    /* a sinusoid across x only: D is the same down each column */
    sc_scene sc = {.base = {0.2, 0.2, 0.2}, .nsin = 1};
    sc.sin_a[0] = 0.1;
    sc.sin_p[0] = 23.7;
    sc.sin_ph[0] = 0.4;
    const int w = 512, h = 1024;
    sd_image *img = sc_render(&sc, w, h, NULL);
    assert_non_null(img);
    sd_metric_params p;
    sd_metric_params_default(&p);
    /* candidates are whole columns: keep them all */
    p.pore_area_max = 1e9;
    p.pore_max_elongation = 1e9;
    p.pore_floor = 0;
    derived_equals_fixed(ctx, img, &p);
    /* T_pore just below D's peak: the MAD from the default pore_k's T_pore,
     * the peak from the D plane (the ninth largest of a middle row: the
     * columns at the edges, mirrored, go higher) */
    sd_thresholds t = {0};
    sd_metrics m;
    assert_int_equal(sd_image_measure(ctx, img, NULL, 1.0, NULL, &p, &t, &m), SD_OK);
    const double mad = t.t_pore / (p.pore_k * 1.4826);
    sd_measure *ms = NULL;
    assert_int_equal(sd_measure_begin(ctx, img, NULL, NULL, 1.0, NULL, &p, NULL, &ms), SD_OK);
    int ox, oy;
    const sd_plane *d = sd_measure_d(ms, &ox, &oy);
    assert_non_null(d);
    float *row = malloc((size_t)d->w * sizeof *row);
    assert_non_null(row);
    memcpy(row, sd_plane_row(d, d->h / 2), (size_t)d->w * sizeof *row);
    qsort(row, (size_t)d->w, sizeof *row, cmp_float);
    const double peak = row[d->w - 9];
    free(row);
    sd_measure_free(ms);
    for (int i = 0; i <= 12; i++) {
        p.pore_k = peak * (1 - 0.001 * i) / (1.4826 * mad);
        derived_equals_fixed(ctx, img, &p);
    }
    /* and lower, where a column or two lies between the bounds (listed) */
    for (int i = 1; i <= 9; i++) {
        p.pore_k = peak * 0.1 * i / (1.4826 * mad);
        derived_equals_fixed(ctx, img, &p);
    }
    sd_image_free(img);
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_counts),   cmocka_unit_test(test_equal_and_one_bin),
        cmocka_unit_test(test_bin_edges),     cmocka_unit_test(test_ties),
        cmocka_unit_test(test_smooth),        cmocka_unit_test(test_random_pools),
        cmocka_unit_test(test_rounding),     cmocka_unit_test(test_select_partitions),
        cmocka_unit_test(test_candidates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Every ISA's kernels against the scalar reference and against independent
 * double-precision formulas: random data, widths 1..67 (tails) and a few
 * large ones, odd strides, unaligned starts; the detector with instruction
 * sets hidden behind a fake CPUID; SKINDELTA_SIMD forcing a level; the blur
 * bit-identical whatever the thread count.
 *
 * Tolerances (docs/kernels.md):
 *  - blur_taps: SSE2 == scalar bit for bit; AVX2 == AVX-512 bit for bit;
 *    fused vs unfused: |d| <= (r+1) eps S, S = sum of |terms|, eps = 2^-23.
 *  - sd_gauss_blur vs the blur in double: <= 2 (r+2) eps max|x| per level.
 *  - Lambda / ln: |vector - log()| < 1e-6; AVX2 == AVX-512 bit for bit. */
#include "sd_test.h"

#include <float.h>
#include <math.h>
#include <unistd.h>

#include "kernels/kernels_internal.h"
#include "skindelta/kernels.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}
static float frand(void) { return (float)(rng() / 4294967296.0 * 2.0 - 1.0); }

static const int widths_big[] = {255, 1000, 4099};
#define N_WIDTHS (67 + 3)
static int width_at(int i) { return i < 67 ? i + 1 : widths_big[i - 67]; }

/* The normalized sampled Gaussian, one side, as sd_gauss_blur builds it. */
static void gauss_half(double sigma, int r, float *k)
{
    double sum = 0;
    for (int i = -r; i <= r; i++)
        sum += exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i <= r; i++)
        k[i] = (float)(exp(-0.5 * i * i / (sigma * sigma)) / sum);
}

/* ---- blur_taps ---- */

static void test_taps_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    const int radii[] = {1, 3, 5, 8, 24};
    for (int ri = 0; ri < 5; ri++) {
        const int r = radii[ri], R = 2 * r + 1;
        float k[25];
        gauss_half(r / 4.0, r, k);
        for (int wi = 0; wi < N_WIDTHS; wi++) {
            const int n = width_at(wi);
            const int stride = n + 3 + 2 * (wi % 3); /* odd strides */
            const int off = 1 + wi % 3;               /* unaligned starts */
            float *buf = malloc(sizeof(float) * ((size_t)R * stride + off));
            float *ref = malloc(sizeof(float) * (size_t)n);
            float *out = malloc(sizeof(float) * ((size_t)n + 17));
            float *fused = malloc(sizeof(float) * (size_t)n);
            const float *in[49];
            assert_non_null(buf);
            assert_non_null(ref);
            assert_non_null(out);
            assert_non_null(fused);
            for (size_t i = 0; i < (size_t)R * stride + off; i++)
                buf[i] = frand();
            for (int j = 0; j < R; j++)
                in[j] = buf + off + (size_t)j * stride;
            sd_blur_taps_scalar(in, k, r, ref, n);
            /* the scalar kernel against the sum in double */
            for (int x = 0; x < n; x++) {
                double s = (double)k[0] * in[r][x], mag = fabs(s);
                for (int i = 1; i <= r; i++) {
                    double t = (double)k[i] * ((double)in[r - i][x] + in[r + i][x]);
                    s += t;
                    mag += fabs(t) + k[i] * (fabs(in[r - i][x]) + fabs(in[r + i][x]));
                }
                assert_true(fabs(ref[x] - s) <= 2 * (r + 1) * FLT_EPSILON * mag);
            }
            int have_fused = 0;
            for (int lv = SD_SIMD_SSE2; lv <= (int)top; lv++) {
                const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
                assert_int_equal(d->level, lv);
                for (int x = 0; x < n + 17; x++)
                    out[x] = -12345.0f;
                d->blur_taps(in, k, r, out, n);
                for (int x = n; x < n + 17; x++)
                    assert_true(out[x] == -12345.0f); /* nothing past n */
                if (lv == SD_SIMD_SSE2) {
                    assert_memory_equal(out, ref, sizeof(float) * (size_t)n);
                    continue;
                }
                for (int x = 0; x < n; x++) {
                    double mag = fabs((double)k[0] * in[r][x]);
                    for (int i = 1; i <= r; i++)
                        mag += k[i] * (fabs(in[r - i][x]) + fabs(in[r + i][x]));
                    if (fabs((double)out[x] - ref[x]) > (r + 1) * FLT_EPSILON * mag)
                        fail_msg("%s r=%d n=%d x=%d: %.9g vs %.9g", sd_simd_name(lv), r, n,
                                 x, out[x], ref[x]);
                }
                if (have_fused)
                    assert_memory_equal(out, fused, sizeof(float) * (size_t)n);
                memcpy(fused, out, sizeof(float) * (size_t)n);
                have_fused = 1;
            }
            free(buf);
            free(ref);
            free(out);
            free(fused);
        }
    }
}

/* ---- the whole blur ---- */

static int mirror_ref(int i, int n)
{
    if (n == 1)
        return 0;
    for (;;) { /* reflect until inside: independent of the library's modulo */
        if (i < 0)
            i = -i;
        else if (i > n - 1)
            i = 2 * (n - 1) - i;
        else
            return i;
    }
}

/* The blur in double, straight from the definition. */
static void blur_ref(const sd_plane *src, double sigma, double *out)
{
    const int w = src->w, h = src->h, r = sd_gauss_radius(sigma);
    float k[25];
    gauss_half(sigma, r, k);
    double *tmp = malloc(sizeof(double) * (size_t)w * h);
    assert_non_null(tmp);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double s = 0;
            for (int i = -r; i <= r; i++)
                s += (double)k[abs(i)] * sd_plane_row(src, y)[mirror_ref(x + i, w)];
            tmp[(size_t)y * w + x] = s;
        }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double s = 0;
            for (int i = -r; i <= r; i++)
                s += (double)k[abs(i)] * tmp[(size_t)mirror_ref(y + i, h) * w + x];
            out[(size_t)y * w + x] = s;
        }
    free(tmp);
}

/* A plane with an odd stride and an unaligned start over caller memory. */
static float *odd_plane(sd_plane *pl, int w, int h)
{
    pl->w = w;
    pl->h = h;
    pl->stride = (size_t)w + 5;
    float *mem = malloc(sizeof(float) * (pl->stride * (size_t)h + 1));
    assert_non_null(mem);
    pl->p = mem + 1;
    return mem;
}

static void test_blur_all_levels(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    const sd_simd_level top = sd_simd_detect(), saved = sd_simd_active();
    const double sigmas[] = {0.5, 1.25, 2.0, 6.0};
    const int sizes[][2] = {{1, 1}, {2, 3}, {7, 5}, {17, 33}, {33, 9}, {67, 41}, {130, 70}};
    for (int si = 0; si < 7; si++) {
        const int w = sizes[si][0], h = sizes[si][1];
        sd_plane src, dst, sc;
        float *ms = odd_plane(&src, w, h), *md = odd_plane(&dst, w, h),
              *mc = odd_plane(&sc, w, h);
        double *ref = malloc(sizeof(double) * (size_t)w * h);
        assert_non_null(ref);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                sd_plane_row(&src, y)[x] = frand();
        for (int gi = 0; gi < 4; gi++) {
            const double sigma = sigmas[gi];
            const int r = sd_gauss_radius(sigma);
            blur_ref(&src, sigma, ref);
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                assert_int_equal(sd_simd_set((sd_simd_level)lv), lv);
                assert_int_equal(sd_gauss_blur(ctx, &src, &dst, sigma), SD_OK);
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++) {
                        double e = fabs(sd_plane_row(&dst, y)[x] - ref[(size_t)y * w + x]);
                        if (e > 2 * (r + 2) * FLT_EPSILON)
                            fail_msg("%s %dx%d sigma %g (%d,%d): error %.3g",
                                     sd_simd_name(lv), w, h, sigma, x, y, e);
                    }
                if (lv == SD_SIMD_SCALAR)
                    for (int y = 0; y < h; y++)
                        memcpy(sd_plane_row(&sc, y), sd_plane_row(&dst, y), sizeof(float) * w);
                else if (lv == SD_SIMD_SSE2)
                    for (int y = 0; y < h; y++)
                        assert_memory_equal(sd_plane_row(&sc, y), sd_plane_row(&dst, y),
                                            sizeof(float) * w);
            }
        }
        free(ms);
        free(md);
        free(mc);
        free(ref);
    }
    sd_simd_set(saved);
    sd_ctx_free(ctx);
}

static void test_blur_threads_bit_identical(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    const sd_simd_level top = sd_simd_detect(), saved = sd_simd_active();
    const int w = 1501, h = 301; /* several column tiles at sigma 6 */
    sd_plane src, a, b;
    assert_int_equal(sd_plane_init(ctx, &src, w, h), SD_OK);
    assert_int_equal(sd_plane_init(ctx, &a, w, h), SD_OK);
    assert_int_equal(sd_plane_init(ctx, &b, w, h), SD_OK);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            sd_plane_row(&src, y)[x] = frand();
    const double sigmas[] = {1.25, 2.0, 6.0};
    for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
        sd_simd_set((sd_simd_level)lv);
        for (int gi = 0; gi < 3; gi++) {
            sd_ctx_set_threads(ctx, 1);
            assert_int_equal(sd_gauss_blur(ctx, &src, &a, sigmas[gi]), SD_OK);
            for (int t = 2; t <= 3; t++) {
                sd_ctx_set_threads(ctx, t);
                assert_int_equal(sd_gauss_blur(ctx, &src, &b, sigmas[gi]), SD_OK);
                for (int y = 0; y < h; y++)
                    assert_memory_equal(sd_plane_row(&a, y), sd_plane_row(&b, y),
                                        sizeof(float) * w);
            }
        }
    }
    sd_simd_set(saved);
    sd_plane_release(&src);
    sd_plane_release(&a);
    sd_plane_release(&b);
    sd_ctx_free(ctx);
}

static void test_blur_bad_args(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_plane a, b;
    assert_int_equal(sd_plane_init(ctx, &a, 8, 8), SD_OK);
    assert_int_equal(sd_plane_init(ctx, &b, 8, 7), SD_OK);
    assert_int_equal(sd_gauss_blur(ctx, &a, &b, 1.0), SD_ERR_ARG);
    assert_int_equal(sd_gauss_blur(ctx, &a, &a, 1.0), SD_ERR_ARG);
    assert_non_null(strstr(sd_ctx_message(ctx), "blur"));
    sd_plane_release(&a);
    sd_plane_release(&b);
    sd_ctx_free(ctx);
}

/* ---- Lambda and ln ---- */

static double lambda_ref(const uint16_t *p)
{
    double y = SD_XYZ_YR * sd_srgb_eotf_ref(p[0] / 65535.0) +
               SD_XYZ_YG * sd_srgb_eotf_ref(p[1] / 65535.0) +
               SD_XYZ_YB * sd_srgb_eotf_ref(p[2] / 65535.0);
    return log(y + SD_LAMBDA_EPS);
}

static void test_lambda_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = 1 + wi % 4; /* odd word offsets: unaligned */
        uint16_t *buf = malloc(sizeof(uint16_t) * (3 * (size_t)n + off));
        float *ref = malloc(sizeof(float) * (size_t)n);
        float *out = malloc(sizeof(float) * ((size_t)n + 17));
        float *fused = malloc(sizeof(float) * (size_t)n);
        assert_non_null(buf);
        assert_non_null(ref);
        assert_non_null(out);
        assert_non_null(fused);
        uint16_t *rgb = buf + off;
        for (int i = 0; i < 3 * n; i++) {
            uint32_t v = rng();
            /* a mix of dark, extreme and random samples */
            rgb[i] = (uint16_t)(v % 5 == 0 ? 0 : v % 5 == 1 ? 65535 : v % 5 == 2 ? v % 300 : v >> 16);
        }
        sd_row_lambda_scalar(rgb, n, ref);
        for (int x = 0; x < n; x++)
            assert_true(fabs(ref[x] - lambda_ref(rgb + 3 * x)) < 2e-6);
        int have_fused = 0;
        for (int lv = SD_SIMD_SSE2; lv <= (int)top; lv++) {
            const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
            for (int x = 0; x < n + 17; x++)
                out[x] = -12345.0f;
            d->row_lambda(rgb, n, out);
            for (int x = n; x < n + 17; x++)
                assert_true(out[x] == -12345.0f);
            for (int x = 0; x < n; x++) {
                double e = fabs(out[x] - lambda_ref(rgb + 3 * x));
                if (e >= 2e-6 || fabs(out[x] - ref[x]) >= 1e-6)
                    fail_msg("%s n=%d x=%d: %.9g vs scalar %.9g", sd_simd_name(lv), n, x,
                             out[x], ref[x]);
            }
            if (lv < SD_SIMD_AVX2)
                continue;
            if (have_fused)
                assert_memory_equal(out, fused, sizeof(float) * (size_t)n);
            memcpy(fused, out, sizeof(float) * (size_t)n);
            have_fused = 1;
        }
        free(buf);
        free(ref);
        free(out);
        free(fused);
    }
}

/* The vector ln over the whole range of Y + 1/4096 (every 7th float of
 * [2^-12, 1 + 2^-12]) against log() in double. */
static void test_log_range(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    enum { CHUNK = 4096 };
    float in[CHUNK], out[CHUNK], prev[CHUNK];
    union { float f; uint32_t u; } lo = {1.0f / 4096.0f}, hi = {1.0f + 1.0f / 4096.0f};
    for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
        const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
        double worst = 0;
        for (uint32_t u = lo.u; u <= hi.u;) {
            int n = 0;
            for (; n < CHUNK && u <= hi.u; n++, u += 7) {
                union { uint32_t u; float f; } c = {u};
                in[n] = c.f;
            }
            d->row_log(in, n, out);
            for (int i = 0; i < n; i++)
                worst = fmax(worst, fabs(out[i] - log((double)in[i])));
            if (lv == SD_SIMD_AVX512) { /* same arithmetic as AVX2 */
                sd_dsp_level(SD_SIMD_AVX2)->row_log(in, n, prev);
                assert_memory_equal(out, prev, sizeof(float) * (size_t)n);
            }
        }
        print_message("ln %s: max |error| vs log() %.3g\n", sd_simd_name(lv), worst);
        assert_true(worst < 1e-6);
    }
}

/* ---- detection ---- */

typedef struct fake_cpu {
    uint32_t max_leaf, ecx1, edx1, ebx7;
    uint64_t xcr0;
    int xgetbv_calls;
} fake_cpu;

static void fake_cpuid(void *user, uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
    const fake_cpu *c = user;
    (void)subleaf;
    r[0] = r[1] = r[2] = r[3] = 0;
    if (leaf > c->max_leaf)
        return;
    if (leaf == 0)
        r[0] = c->max_leaf;
    else if (leaf == 1) {
        r[2] = c->ecx1;
        r[3] = c->edx1;
    } else if (leaf == 7)
        r[1] = c->ebx7;
}

static uint64_t fake_xgetbv(void *user)
{
    fake_cpu *c = user;
    c->xgetbv_calls++;
    return c->xcr0;
}

static sd_simd_level detect_fake(fake_cpu c, int *xgetbv_calls)
{
    sd_cpu_probe p = {fake_cpuid, fake_xgetbv, &c};
    sd_simd_level l = sd_simd_detect_with(&p);
    if (xgetbv_calls)
        *xgetbv_calls = c.xgetbv_calls;
    return l;
}

static void test_detect_fake_cpuid(void **state)
{
    (void)state;
    /* a Skylake-X-like CPU with an OS that saves everything */
    const fake_cpu full = {
        .max_leaf = 13,
        .ecx1 = (1u << 12) | (1u << 27) | (1u << 28),
        .edx1 = 1u << 26,
        .ebx7 = (1u << 5) | (1u << 16) | (1u << 17) | (1u << 30) | (1u << 31),
        .xcr0 = 0xe7,
    };
    fake_cpu c = full;
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_AVX512);
    c.ebx7 &= ~(1u << 30); /* no AVX-512BW */
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_AVX2);
    c = full;
    c.ebx7 &= ~(1u << 31); /* no AVX-512VL */
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_AVX2);
    c = full;
    c.xcr0 = 0x7; /* OS does not save ZMM/opmask state */
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_AVX2);
    c = full;
    c.xcr0 = 0x3; /* OS does not save YMM state */
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_SSE2);
    c = full;
    c.ecx1 &= ~(1u << 12); /* no FMA */
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_SSE2);
    c = full;
    c.ebx7 &= ~(1u << 5); /* no AVX2 (but AVX-512 bits: still not AVX2 level) */
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_SSE2);
    c = full;
    int calls = -1;
    c.ecx1 &= ~(1u << 27); /* no OSXSAVE: xgetbv must not be executed */
    assert_int_equal(detect_fake(c, &calls), SD_SIMD_SSE2);
    assert_int_equal(calls, 0);
    c = full;
    c.max_leaf = 1; /* no leaf 7 */
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_SSE2);
    c = full;
    c.edx1 = 0; /* no SSE2 */
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_SCALAR);
    c.max_leaf = 0;
    assert_int_equal(detect_fake(c, NULL), SD_SIMD_SCALAR);
}

static void test_set_and_names(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect(), saved = sd_simd_active();
    assert_true(saved <= top);
    assert_int_equal(sd_simd_set(SD_SIMD_SCALAR), SD_SIMD_SCALAR);
    assert_int_equal(sd_simd_active(), SD_SIMD_SCALAR);
    assert_int_equal(sd_dsp_active()->level, SD_SIMD_SCALAR);
    assert_int_equal(sd_simd_set(SD_SIMD_AVX512), top); /* clamped */
    assert_int_equal(sd_simd_active(), top);
    assert_int_equal(sd_dsp_active()->level, top);
    for (int lv = 0; lv <= SD_SIMD_AVX512; lv++) {
        sd_simd_level got = SD_SIMD_SCALAR;
        assert_int_equal(sd_simd_parse(sd_simd_name((sd_simd_level)lv), &got), 0);
        assert_int_equal(got, lv);
    }
    sd_simd_level keep = SD_SIMD_SSE2;
    assert_int_equal(sd_simd_parse("avx3", &keep), -1);
    assert_int_equal(sd_simd_parse("", &keep), -1);
    assert_int_equal(sd_simd_parse(NULL, &keep), -1);
    assert_int_equal(keep, SD_SIMD_SSE2);
    assert_string_equal(sd_simd_name((sd_simd_level)9), "unknown");
#if defined(__x86_64__)
    assert_true(top >= SD_SIMD_SSE2); /* SSE2 is part of x86-64 */
#endif
    sd_simd_set(saved);
}

/* Run this binary again with SKINDELTA_SIMD=value; it prints the level. */
static void level_under_env(const char *value, char *got, size_t n)
{
    char self[4096], cmd[4300];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(len > 0);
    self[len] = '\0';
    snprintf(cmd, sizeof cmd, "SKINDELTA_SIMD='%s' '%s' --print-simd", value, self);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    got[0] = '\0';
    assert_non_null(fgets(got, (int)n, f));
    assert_int_equal(pclose(f), 0);
    got[strcspn(got, "\n")] = '\0';
}

static void test_env_forces_level(void **state)
{
    (void)state;
    char got[64];
    const char *top = sd_simd_name(sd_simd_detect());
    level_under_env("scalar", got, sizeof got);
    assert_string_equal(got, "scalar");
    level_under_env("avx512", got, sizeof got); /* clamped to the machine */
    assert_string_equal(got, top);
    level_under_env("bogus", got, sizeof got); /* ignored: the default */
    assert_string_equal(got, top);
    if (sd_simd_detect() >= SD_SIMD_SSE2) {
        level_under_env("sse2", got, sizeof got);
        assert_string_equal(got, "sse2");
    }
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--print-simd") == 0) {
        printf("%s\n", sd_simd_name(sd_simd_active()));
        return 0;
    }
    print_message("SIMD: detected %s, active %s\n", sd_simd_name(sd_simd_detect()),
                  sd_simd_name(sd_simd_active()));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect_fake_cpuid),
        cmocka_unit_test(test_set_and_names),
        cmocka_unit_test(test_env_forces_level),
        cmocka_unit_test(test_taps_all_levels),
        cmocka_unit_test(test_blur_all_levels),
        cmocka_unit_test(test_blur_threads_bit_identical),
        cmocka_unit_test(test_blur_bad_args),
        cmocka_unit_test(test_lambda_all_levels),
        cmocka_unit_test(test_log_range),
    };
    return cmocka_run_group_tests_name("kernels_simd", tests, NULL, NULL);
}

/* Every ISA's kernels against the scalar reference and against independent
 * double-precision formulas: random data, widths 1..67 (tails) and a few
 * large ones, odd strides, unaligned starts; the detector with instruction
 * sets hidden behind a fake CPUID; SKINDELTA_SIMD forcing a level; the blur
 * bit-identical whatever the thread count.
 *
 * Tolerances (docs/kernels.md):
 *  - blur_taps: SSE2 == scalar bit for bit; AVX2 == AVX-512 bit for bit;
 *    fused vs unfused: |d| <= (r+1) eps S, S = sum of |terms|, eps = 2^-23.
 *    blur_taps4 and blur_row2 (one row, two kernels): bit for bit the
 *    level's blur_taps.
 *  - sd_gauss_blur vs the blur in double: <= 2 (r+2) eps max|x| per level.
 *  - Lambda / ln: |vector - log()| < 1e-6; AVX2 == AVX-512 bit for bit.
 *  - colour (Lambda, a*, erythema, Y with gains): scalar a* within 0.01 of
 *    the textbook Lab; SIMD vs scalar: Y bit for bit, Lambda < 1e-6,
 *    a* < 2e-3, erythema < 2e-3; AVX2 == AVX-512 bit for bit.
 *  - accumulations (row_acc, row_lap_acc): every level within 1e-12 of the
 *    magnitude of the sum in double (only the summation order differs);
 *    the fused row_acc3 and row_sum4 bit for bit the level's separate calls.
 *  - warp (row_warp, sd_image_warp): every level == scalar bit for bit, any
 *    thread count; scalar within 0.5 (the rounding) of the textbook bilinear
 *    formula in long double. */
#include "sd_test.h"

#include <float.h>
#include <math.h>
#include <unistd.h>

#include "kernels/kernels_internal.h"
#include "skindelta/align.h"
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

/* Several output rows at once (sd_blur_rows: blur_taps4 where the level
 * has it) equal one blur_taps call per row, bit for bit, at every level,
 * with nothing written past n. */
static void test_taps_rows_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    const int radii[] = {1, 2, 5, 18};
    for (int ri = 0; ri < 4; ri++) {
        const int r = radii[ri];
        float k[19];
        gauss_half(r / 4.0, r, k);
        for (int wi = 0; wi < N_WIDTHS; wi += 1 + (wi > 20)) {
            const int n = width_at(wi), nout = 1 + wi % 9, R = 2 * r + nout;
            const int stride = n + 3 + 2 * (wi % 3), off = 1 + wi % 3;
            float *buf = malloc(sizeof(float) * ((size_t)R * stride + off));
            float *got = malloc(sizeof(float) * (size_t)nout * ((size_t)n + 17));
            float *ref = malloc(sizeof(float) * (size_t)n);
            const float *in[2 * 18 + 9];
            float *out[9];
            assert_true(buf && got && ref);
            for (size_t i = 0; i < (size_t)R * stride + off; i++)
                buf[i] = frand();
            for (int j = 0; j < R; j++)
                in[j] = buf + off + (size_t)j * stride;
            for (int j = 0; j < nout; j++)
                out[j] = got + (size_t)j * ((size_t)n + 17);
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
                for (size_t i = 0; i < (size_t)nout * ((size_t)n + 17); i++)
                    got[i] = -12345.0f;
                sd_blur_rows(d, in, k, r, out, nout, n);
                for (int j = 0; j < nout; j++) {
                    d->blur_taps(in + j, k, r, ref, n);
                    if (memcmp(out[j], ref, sizeof(float) * (size_t)n) != 0)
                        fail_msg("%s r=%d n=%d row %d of %d differs from blur_taps",
                                 sd_simd_name(lv), r, n, j, nout);
                    for (int x = n; x < n + 17; x++)
                        assert_true(out[j][x] == -12345.0f);
                }
            }
            free(buf);
            free(got);
            free(ref);
        }
    }
}

/* The horizontal taps of one contiguous row (sd_blur_row2: blur_row2
 * where the level has it), one or two kernels: bit for bit the level's
 * blur_taps with in[i] = c - r + i, nothing written past n, and nothing
 * read outside c[-r1 .. n - 1 + r1] (the row is allocated to exactly that,
 * so the sanitizer builds catch a stray read). */
static void test_row2_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    const int pairs[][2] = {{1, -1}, {5, 3}, {8, 5}, {12, -1}, {15, 15}, {16, 8},
                            {17, 1}, {24, 18}, {2, 0}};
    for (size_t pi = 0; pi < sizeof pairs / sizeof pairs[0]; pi++) {
        const int r1 = pairs[pi][0], r2 = pairs[pi][1], two = r2 >= 0;
        float k1[25], k2[25];
        gauss_half(r1 / 4.0, r1, k1);
        if (two)
            gauss_half(r2 > 0 ? r2 / 4.0 : 0.3, r2, k2);
        for (int wi = 0; wi < N_WIDTHS; wi++) {
            const int n = width_at(wi), off = wi % 5; /* unaligned starts */
            float *buf = malloc(sizeof(float) * ((size_t)n + 2 * (size_t)r1 + (size_t)off));
            float *o1 = malloc(sizeof(float) * ((size_t)n + 17));
            float *o2 = malloc(sizeof(float) * ((size_t)n + 17));
            float *ref = malloc(sizeof(float) * (size_t)n);
            const float *in[49];
            assert_true(buf && o1 && o2 && ref);
            for (size_t i = 0; i < (size_t)n + 2 * (size_t)r1 + (size_t)off; i++)
                buf[i] = frand();
            const float *c = buf + off + r1;
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
                for (int x = 0; x < n + 17; x++)
                    o1[x] = o2[x] = -12345.0f;
                sd_blur_row2(d, c, k1, r1, o1, k2, r2, two ? o2 : NULL, n, in);
                for (int x = n; x < n + 17; x++)
                    assert_true(o1[x] == -12345.0f && o2[x] == -12345.0f);
                for (int x = 0; !two && x < n; x++)
                    assert_true(o2[x] == -12345.0f);
                for (int kk = 0; kk < 1 + two; kk++) {
                    const int r = kk ? r2 : r1;
                    for (int i = 0; i <= 2 * r; i++)
                        in[i] = c - r + i;
                    d->blur_taps(in, kk ? k2 : k1, r, ref, n);
                    if (memcmp(kk ? o2 : o1, ref, sizeof(float) * (size_t)n) != 0)
                        fail_msg("%s r1=%d r2=%d n=%d off=%d: kernel %d differs from blur_taps",
                                 sd_simd_name(lv), r1, r2, n, off, kk + 1);
                }
            }
            free(buf);
            free(o1);
            free(o2);
            free(ref);
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

/* ---- colour and accumulation kernels of the metric stage ---- */

static void test_colour_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    const float *lut = sd_srgb16_lut();
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = wi % 3; /* unaligned starts (in samples) */
        uint16_t *buf = malloc(sizeof(uint16_t) * (3 * (size_t)n + 3));
        float *o[2][4];
        assert_non_null(buf);
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 4; j++) {
                o[k][j] = malloc(sizeof(float) * ((size_t)n + 1));
                assert_non_null(o[k][j]);
            }
        uint16_t *rgb = buf + off;
        for (int i = 0; i < 3 * n; i++) {
            uint32_t v = rng();
            /* include black, white and the Lab linear segment */
            rgb[i] = (uint16_t)(v % 7 == 0 ? (v >> 8) % 3000 : v % 13 == 0 ? 65535 : v >> 16);
        }
        const float g[3] = {0.5f + (rng() % 1000) / 500.0f, 0.5f + (rng() % 1000) / 500.0f,
                            0.5f + (rng() % 1000) / 500.0f};
        float *lam = o[0][0], *a = o[0][1], *e = o[0][2], *y = o[0][3];
        sd_row_colour_scalar(rgb, n, g, lam, a, e, y);
        for (int x = 0; x < n; x++) {
            /* textbook formulas in double on the same linear values */
            double lin[3], lab[3];
            for (int c = 0; c < 3; c++)
                lin[c] = (double)(g[c] * lut[rgb[3 * x + c]]);
            sd_linear_to_lab_ref(lin, lab);
            double yy = SD_XYZ_YR * lin[0] + SD_XYZ_YG * lin[1] + SD_XYZ_YB * lin[2];
            if (fabs(a[x] - lab[1]) > 0.01 || fabs(y[x] - yy) > 1e-6 * (1 + yy) ||
                fabs(lam[x] - log(yy + SD_LAMBDA_EPS)) > 2e-6 ||
                fabs(e[x] - 100 * log10(fmax(lin[0], 1.0 / 4096) / fmax(lin[1], 1.0 / 4096))) >
                    1e-3)
                fail_msg("scalar colour n=%d x=%d: a %.6f vs %.6f, e %.6f", n, x, a[x], lab[1],
                         e[x]);
        }
        int have = 0;
        for (int lv = SD_SIMD_SSE2; lv <= (int)top; lv++) {
            const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
            float *q[4];
            for (int j = 0; j < 4; j++) {
                q[j] = o[1][j];
                q[j][n] = -777.0f;
            }
            d->row_colour(rgb, n, g, q[0], q[1], q[2], q[3]);
            for (int j = 0; j < 4; j++)
                assert_true(q[j][n] == -777.0f); /* nothing past n */
            assert_memory_equal(q[3], y, sizeof(float) * (size_t)n);
            for (int x = 0; x < n; x++)
                if (fabs(q[0][x] - lam[x]) > 1e-6 || fabs(q[1][x] - a[x]) > 2e-3 ||
                    fabs(q[2][x] - e[x]) > 2e-3)
                    fail_msg("%s n=%d x=%d: lam %.8g/%.8g a %.8g/%.8g e %.8g/%.8g",
                             sd_simd_name(lv), n, x, q[0][x], lam[x], q[1][x], a[x], q[2][x],
                             e[x]);
            /* lam and e may be NULL: a* and Y unchanged */
            float *a2 = malloc(sizeof(float) * (size_t)n), *y2 = malloc(sizeof(float) * (size_t)n);
            assert_true(a2 && y2);
            d->row_colour(rgb, n, g, NULL, a2, NULL, y2);
            assert_memory_equal(a2, q[1], sizeof(float) * (size_t)n);
            assert_memory_equal(y2, q[3], sizeof(float) * (size_t)n);
            free(a2);
            free(y2);
            if (lv >= SD_SIMD_AVX2) {
                static float prev[3][4200];
                if (have)
                    for (int j = 0; j < 3; j++)
                        assert_memory_equal(prev[j], q[j], sizeof(float) * (size_t)n);
                for (int j = 0; j < 3; j++)
                    memcpy(prev[j], q[j], sizeof(float) * (size_t)n);
                have = 1;
            }
        }
        free(buf);
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 4; j++)
                free(o[k][j]);
    }
}

/* The luminance kernel: the scalar reference against the formula in
 * double on the LUT's values; every level bit for bit equal to it and to
 * its own row_colour's Y, at widths 1..67 and more, unaligned starts (0..5
 * samples: rows of images with odd strides), nothing written past n, and
 * every 16-bit sample value in every channel (the gather indices). */
static void test_luminance_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    for (int wi = 0; wi < N_WIDTHS + 1; wi++) {
        /* the last width: a ramp over all 65536 samples in each channel */
        const int n = wi < N_WIDTHS ? width_at(wi) : 65536, off = wi % 6;
        uint16_t *buf = malloc(sizeof(uint16_t) * (3 * (size_t)n + 6));
        float *ref = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * ((size_t)n + 1));
        float *cy = malloc(sizeof(float) * (size_t)n), *ca = malloc(sizeof(float) * (size_t)n);
        assert_true(buf && ref && y && cy && ca);
        uint16_t *rgb = buf + off;
        for (int i = 0; i < 3 * n; i++)
            rgb[i] = n == 65536 ? (uint16_t)((i / 3) * (2 * (i % 3) + 1)) : (uint16_t)(rng() >> 16);
        const float g[3] = {0.5f + (rng() % 1000) / 500.0f, 0.5f + (rng() % 1000) / 500.0f,
                            0.5f + (rng() % 1000) / 500.0f};
        sd_row_luminance_scalar(rgb, n, g, ref);
        for (int x = 0; x < n; x++) {
            double yy = 0;
            for (int c = 0; c < 3; c++) {
                const double coef[3] = {SD_XYZ_YR, SD_XYZ_YG, SD_XYZ_YB};
                yy += coef[c] * g[c] * sd_srgb_eotf_ref(rgb[3 * x + c] / 65535.0);
            }
            if (fabs(ref[x] - yy) > 1e-6 * (1 + yy))
                fail_msg("scalar luminance n=%d x=%d: %.9g vs %.9g", n, x, ref[x], yy);
        }
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
            y[n] = -777.0f;
            d->row_luminance(rgb, n, g, y);
            assert_true(y[n] == -777.0f);
            if (memcmp(y, ref, sizeof(float) * (size_t)n) != 0)
                fail_msg("luminance %s n=%d off=%d differs from scalar", sd_simd_name(lv), n, off);
            d->row_colour(rgb, n, g, NULL, ca, NULL, cy);
            assert_memory_equal(cy, ref, sizeof(float) * (size_t)n);
        }
        /* the public entry is the active level's */
        sd_row_luminance(rgb, n, g, y);
        assert_memory_equal(y, ref, sizeof(float) * (size_t)n);
        free(buf);
        free(ref);
        free(y);
        free(cy);
        free(ca);
    }
}

/* The SIMD colour kernels' X / Xn without a division (SD_LAB_XN_INV):
 * q = X (1/Xn), then fma(fma(-q, Xn, X), 1/Xn, q) is the quotient's float
 * for X = 0 and every float X in [2^-100, 2^126) (every float was checked
 * once; here a stride of 4099 floats, about 0.5 M of them, and powers of
 * two). fmaf is the lanes' single-rounding FMA. */
static void test_div_xn(void **state)
{
    (void)state;
    const float xn = SD_LAB_XN, inv = SD_LAB_XN_INV;
    for (uint32_t u = 0x0d800000u; u < 0x7f000000u; u += 4099) {
        float x, q;
        memcpy(&x, &u, 4);
        q = x * inv;
        q = fmaf(fmaf(-q, xn, x), inv, q);
        if (q != x / xn)
            fail_msg("X = %a: %a, the quotient is %a", (double)x, (double)q, (double)(x / xn));
    }
    for (int k = -100; k < 126; k++) {
        const float x = ldexpf(1.0f, k), q0 = x * inv;
        assert_true(fmaf(fmaf(-q0, xn, x), inv, q0) == x / xn);
    }
    const float z = 0.0f, q0 = z * inv;
    assert_true(fmaf(fmaf(-q0, xn, z), inv, q0) == 0.0f);
}

/* The byte kernels of every table this machine runs (the AVX-512 one with
 * and without VBMI): row_colour8 and row_luminance8 of 8-bit samples bit
 * for bit the table's 16-bit kernels on the widened samples (v * 257), at
 * widths 1..67 and more, starts 0..5 bytes off, every byte value in every
 * channel (the last width), nothing written past n, lam and e optional. */
static void test_byte_kernels(void **state)
{
    (void)state;
    const sd_dsp *tabs[5];
    const int nt = sd_dsp_tables(tabs);
    for (int wi = 0; wi < N_WIDTHS + 1; wi++) {
        const int n = wi < N_WIDTHS ? width_at(wi) : 3 * 256, off = wi % 6;
        uint8_t *buf = malloc(3 * (size_t)n + 6);
        uint16_t *w16 = malloc(sizeof(uint16_t) * 3 * (size_t)n);
        float *o[2][4];
        assert_true(buf && w16);
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 4; j++)
                assert_non_null(o[k][j] = malloc(sizeof(float) * ((size_t)n + 1)));
        uint8_t *rgb = buf + off;
        for (int i = 0; i < 3 * n; i++) {
            const uint32_t v = rng();
            rgb[i] = wi == N_WIDTHS ? (uint8_t)((i / 3) * (2 * (i % 3) + 1))
                                    : (uint8_t)(v % 11 == 0 ? 0 : v % 13 == 0 ? 255 : v >> 24);
            w16[i] = (uint16_t)(rgb[i] * 257);
        }
        const float g[3] = {0.5f + (rng() % 1000) / 500.0f, 0.5f + (rng() % 1000) / 500.0f,
                            0.5f + (rng() % 1000) / 500.0f};
        for (int k = 0; k < nt; k++) {
            const sd_dsp *d = tabs[k];
            for (int j = 0; j < 4; j++)
                o[1][j][n] = -777.0f;
            d->row_colour(w16, n, g, o[0][0], o[0][1], o[0][2], o[0][3]);
            d->row_colour8(rgb, n, g, o[1][0], o[1][1], o[1][2], o[1][3]);
            for (int j = 0; j < 4; j++) {
                assert_true(o[1][j][n] == -777.0f);
                if (memcmp(o[0][j], o[1][j], sizeof(float) * (size_t)n) != 0)
                    fail_msg("colour8 %s n=%d off=%d output %d differs from the widened path",
                             sd_dsp_name(d), n, off, j);
            }
            d->row_colour8(rgb, n, g, NULL, o[1][1], NULL, o[1][3]);
            assert_memory_equal(o[0][1], o[1][1], sizeof(float) * (size_t)n);
            assert_memory_equal(o[0][3], o[1][3], sizeof(float) * (size_t)n);
            d->row_luminance(w16, n, g, o[0][0]);
            d->row_luminance8(rgb, n, g, o[1][0]);
            assert_true(o[1][0][n] == -777.0f);
            if (memcmp(o[0][0], o[1][0], sizeof(float) * (size_t)n) != 0)
                fail_msg("luminance8 %s n=%d off=%d differs from the widened path",
                         sd_dsp_name(d), n, off);
        }
        free(buf);
        free(w16);
        for (int k = 0; k < 2; k++)
            for (int j = 0; j < 4; j++)
                free(o[k][j]);
    }
}

/* The a* of the vector cube root over a whole ramp of samples: every level
 * within 2e-3 of scalar, near the eps/kappa seam included. */
static void test_colour_grey_ramp(void **state)
{
    (void)state;
    enum { N = 65536 };
    uint16_t *rgb = malloc(sizeof(uint16_t) * 3 * N);
    float *o = malloc(sizeof(float) * 8 * N);
    assert_non_null(rgb);
    assert_non_null(o);
    for (int i = 0; i < N; i++) {
        rgb[3 * i] = (uint16_t)i;
        rgb[3 * i + 1] = (uint16_t)(65535 - i);
        rgb[3 * i + 2] = (uint16_t)((i * 7) & 0xffff);
    }
    const float g[3] = {1, 1, 1};
    sd_row_colour_scalar(rgb, N, g, o, o + N, o + 2 * N, o + 3 * N);
    for (int lv = SD_SIMD_SSE2; lv <= (int)sd_simd_detect(); lv++) {
        sd_dsp_level((sd_simd_level)lv)->row_colour(rgb, N, g, o + 4 * N, o + 5 * N, o + 6 * N,
                                                    o + 7 * N);
        double worst = 0, worst_e = 0;
        for (int i = 0; i < N; i++) {
            worst = fmax(worst, fabs(o[5 * N + i] - o[N + i]));
            worst_e = fmax(worst_e, fabs(o[6 * N + i] - o[2 * N + i]));
        }
        print_message("colour ramp %s: max |a* - scalar| = %.3g, |e - scalar| = %.3g\n",
                      sd_simd_name(lv), worst, worst_e);
        assert_true(worst < 2e-3);
        assert_true(worst_e < 2e-3);
    }
    free(rgb);
    free(o);
}

static void test_acc_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = 1 + wi % 3;
        float *a = malloc(sizeof(float) * ((size_t)n + 8)), *b = malloc(sizeof(float) * ((size_t)n + 8));
        float *u = malloc(sizeof(float) * ((size_t)n + 8)), *d = malloc(sizeof(float) * ((size_t)n + 8));
        uint8_t *f = malloc((size_t)n + 8);
        assert_true(a && b && u && d && f);
        for (int i = 0; i < n + 8; i++) {
            a[i] = frand() * 3;
            b[i] = frand();
            u[i] = frand();
            d[i] = frand();
            f[i] = (uint8_t)(rng() & 0xff);
        }
        const unsigned bit = 1u << (wi % 8);
        const float *A = a + off, *Bv = b + off, *U = u + off, *D = d + off;
        const uint8_t *F = f + off;
        const int nl = n - 1; /* the Laplacian reads row[-1] .. row[n] */
        for (int withb = 0; withb < 2; withb++) {
            double ref[3] = {0, 0, 0}, mag = 0;
            for (int x = 0; x < n; x++)
                if (F[x] & bit) {
                    double v = (double)A[x] - (withb ? (double)Bv[x] : 0);
                    ref[0] += v;
                    ref[1] += fabs(v);
                    ref[2] += v * v;
                    mag += fabs(v) + v * v;
                }
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                double acc[3] = {1, 2, 3};
                sd_dsp_level((sd_simd_level)lv)->row_acc(A, withb ? Bv : NULL, F, bit, n, acc);
                if (!withb) { /* row_sum is row_acc's acc[0], bit for bit */
                    double sum = 1;
                    sd_dsp_level((sd_simd_level)lv)->row_sum(A, F, bit, n, &sum);
                    if (memcmp(&sum, &acc[0], sizeof sum) != 0)
                        fail_msg("row_sum %s n=%d: %.17g, row_acc %.17g", sd_simd_name(lv), n,
                                 sum, acc[0]);
                }
                for (int k = 0; k < 3; k++)
                    if (fabs(acc[k] - (ref[k] + k + 1)) > 1e-12 * (mag + 10))
                        fail_msg("row_acc %s n=%d k=%d: %.17g vs %.17g", sd_simd_name(lv), n, k,
                                 acc[k], ref[k] + k + 1);
            }
        }
        double lref[2] = {0, 0}, lmag = 0;
        for (int x = 0; x < nl; x++)
            if (F[x] & bit) {
                double l = (double)U[x] + D[x] + A[x - 1] + A[x + 1] - 4.0 * A[x];
                lref[0] += l;
                lref[1] += l * l;
                lmag += fabs(l) + l * l;
            }
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            double acc[2] = {0, 0};
            sd_dsp_level((sd_simd_level)lv)->row_lap_acc(U, A, D, F, bit, nl, acc);
            for (int k = 0; k < 2; k++)
                if (fabs(acc[k] - lref[k]) > 1e-12 * (lmag + 1))
                    fail_msg("row_lap_acc %s n=%d k=%d: %.17g vs %.17g", sd_simd_name(lv), nl,
                             k, acc[k], lref[k]);
        }
        free(a);
        free(b);
        free(u);
        free(d);
        free(f);
    }
}

/* row_acc3 (the strip pass's fused row): at every level bit for bit the
 * level's row_acc (lam - gt, lam - gs) and row_lap_acc (columns 1 .. n - 2,
 * untouched when n < 3), which the test above holds to the formulas; the
 * scalar one also within 1e-12 of the formulas here. Random data, flags
 * random / all / none / alternating / runs, unaligned starts. */
static void test_acc3_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = wi % 5;
        float *p[5];
        for (int k = 0; k < 5; k++) {
            p[k] = malloc(sizeof(float) * ((size_t)n + 8));
            assert_non_null(p[k]);
            for (int i = 0; i < n + 8; i++)
                p[k][i] = frand() * (float)(k + 1);
        }
        uint8_t *f = malloc((size_t)n + 8);
        assert_non_null(f);
        const float *L = p[0] + off, *T = p[1] + off, *U = p[2] + off, *S = p[3] + off,
                    *D = p[4] + off;
        const uint8_t *F = f + off;
        const unsigned bit = 1u << (wi % 8);
        for (int pat = 0; pat < 5; pat++) {
            for (int i = 0; i < n + 8; i++)
                f[i] = (uint8_t)(pat == 0   ? rng() & 0xff
                                 : pat == 1 ? 0xff
                                 : pat == 2 ? (uint8_t)~bit
                                 : pat == 3 ? (i & 1 ? bit : 0)
                                            : ((i / 5) & 1 ? 0xff : 0));
            /* the formulas in double, x order */
            double rt[3] = {0, 0, 0}, rs[3] = {0, 0, 0}, rl[2] = {0, 0}, mag = 1;
            for (int x = 0; x < n; x++) {
                if (!(F[x] & bit))
                    continue;
                const double v = (double)L[x] - T[x], u = (double)L[x] - S[x];
                rt[0] += v, rt[1] += fabs(v), rt[2] += v * v;
                rs[0] += u, rs[1] += fabs(u), rs[2] += u * u;
                mag += fabs(v) + v * v + fabs(u) + u * u;
                if (x >= 1 && x < n - 1) {
                    const double l = (double)U[x] + D[x] + S[x - 1] + S[x + 1] - 4.0 * S[x];
                    rl[0] += l, rl[1] += l * l;
                    mag += fabs(l) + l * l;
                }
            }
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
                double t1[3] = {1, 2, 3}, s1[3] = {4, 5, 6}, l1[2] = {7, 8};
                double t2[3] = {1, 2, 3}, s2[3] = {4, 5, 6}, l2[2] = {7, 8};
                d->row_acc3(L, T, U, S, D, F, bit, n, t1, s1, l1);
                d->row_acc(L, T, F, bit, n, t2);
                d->row_acc(L, S, F, bit, n, s2);
                if (n >= 3)
                    d->row_lap_acc(U + 1, S + 1, D + 1, F + 1, bit, n - 2, l2);
                if (memcmp(t1, t2, sizeof t1) || memcmp(s1, s2, sizeof s1) ||
                    memcmp(l1, l2, sizeof l1))
                    fail_msg("row_acc3 %s n=%d pat=%d: tex %.17g/%.17g fine %.17g/%.17g "
                             "lap %.17g/%.17g",
                             sd_simd_name(lv), n, pat, t1[2], t2[2], s1[2], s2[2], l1[1], l2[1]);
                if (lv == SD_SIMD_SCALAR)
                    for (int k = 0; k < 3; k++)
                        if (fabs(t1[k] - (rt[k] + k + 1)) > 1e-12 * mag ||
                            fabs(s1[k] - (rs[k] + k + 4)) > 1e-12 * mag ||
                            (k < 2 && fabs(l1[k] - (rl[k] + k + 7)) > 1e-12 * mag))
                            fail_msg("row_acc3 scalar n=%d pat=%d k=%d off the formulas", n,
                                     pat, k);
            }
        }
        for (int k = 0; k < 5; k++)
            free(p[k]);
        free(f);
    }
}

/* row_sum4 (the strip pass's colour sums of a source row): at every level
 * bit for bit the level's four row_sum calls (a, e, lam left of xs, lam
 * from xs), which the tests above hold to the formula; the scalar one also
 * within 1e-12 of the sums in double here; the red count (a > t, t one of
 * the values) exact, and none without t. Splits xs = 0, 1, n / 2, n - 1,
 * n and random, the flag patterns of row_acc3, unaligned starts. */
static void test_sum4_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = wi % 7;
        float *p[3];
        for (int k = 0; k < 3; k++) {
            p[k] = malloc(sizeof(float) * ((size_t)n + 8));
            assert_non_null(p[k]);
            for (int i = 0; i < n + 8; i++)
                p[k][i] = frand() * (float)(10 * k + 1);
        }
        uint8_t *f = malloc((size_t)n + 8);
        assert_non_null(f);
        const float *A = p[0] + off, *E = p[1] + off, *L = p[2] + off;
        const uint8_t *F = f + off;
        const unsigned bit = 1u << (wi % 8);
        const int splits[6] = {0, 1 % (n + 1), n / 2, n - 1, n, (int)(rng() % (unsigned)(n + 1))};
        for (int pat = 0; pat < 5; pat++) {
            for (int i = 0; i < n + 8; i++)
                f[i] = (uint8_t)(pat == 0   ? rng() & 0xff
                                 : pat == 1 ? 0xff
                                 : pat == 2 ? (uint8_t)~bit
                                 : pat == 3 ? (i & 1 ? bit : 0)
                                            : ((i / 5) & 1 ? 0xff : 0));
            for (int si = 0; si < 6; si++) {
                const int xs = splits[si];
                /* the red count's threshold: one of the values (ties) */
                const float t = A[rng() % (unsigned)n];
                double ref[4] = {0, 0, 0, 0}, mag = 1;
                size_t ref_above = 0;
                for (int x = 0; x < n; x++)
                    if (F[x] & bit) {
                        ref[0] += A[x], ref[1] += E[x], ref[x < xs ? 2 : 3] += L[x];
                        mag += fabs(A[x]) + fabs(E[x]) + fabs(L[x]);
                        ref_above += A[x] > t;
                    }
                for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                    const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
                    double s1[4] = {1, 2, 3, 4}, s2[4] = {1, 2, 3, 4}, s3[4] = {1, 2, 3, 4};
                    size_t above = 5, none = 7;
                    d->row_sum4(A, E, L, F, bit, n, xs, &s1[0], &s1[1], &s1[2], &s1[3], &t,
                                &above);
                    d->row_sum4(A, E, L, F, bit, n, xs, &s3[0], &s3[1], &s3[2], &s3[3], NULL,
                                &none);
                    if (above != ref_above + 5 || none != 7 || memcmp(s1, s3, sizeof s1))
                        fail_msg("row_sum4 %s n=%d xs=%d pat=%d: count %zu, want %zu (%zu)",
                                 sd_simd_name(lv), n, xs, pat, above - 5, ref_above, none);
                    d->row_sum(A, F, bit, n, &s2[0]);
                    d->row_sum(E, F, bit, n, &s2[1]);
                    d->row_sum(L, F, bit, xs, &s2[2]);
                    d->row_sum(L + xs, F + xs, bit, n - xs, &s2[3]);
                    if (memcmp(s1, s2, sizeof s1))
                        fail_msg("row_sum4 %s n=%d xs=%d pat=%d: %.17g %.17g %.17g %.17g vs "
                                 "%.17g %.17g %.17g %.17g",
                                 sd_simd_name(lv), n, xs, pat, s1[0], s1[1], s1[2], s1[3], s2[0],
                                 s2[1], s2[2], s2[3]);
                    if (lv == SD_SIMD_SCALAR)
                        for (int k = 0; k < 4; k++)
                            if (fabs(s1[k] - (ref[k] + k + 1)) > 1e-12 * mag)
                                fail_msg("row_sum4 scalar n=%d xs=%d k=%d off the formula", n,
                                         xs, k);
                }
            }
        }
        for (int k = 0; k < 3; k++)
            free(p[k]);
        free(f);
    }
}

/* row_sub_hist (the D plane and its histogram in one pass): at every level
 * the plane a - b exactly (nothing written past n) and the histogram of
 * sd_fbin(a - b) over the flagged x, counted here from the formula; values
 * of both signs and magnitudes, exact zeros of both signs, flag patterns. */
static void test_sub_hist_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    uint32_t *ref = calloc(65536, sizeof(uint32_t)), *got = calloc(65536, sizeof(uint32_t));
    assert_true(ref && got);
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = wi % 5;
        float *a = malloc(sizeof(float) * ((size_t)n + 24)), *b = malloc(sizeof(float) * ((size_t)n + 24));
        float *d = malloc(sizeof(float) * ((size_t)n + 24));
        uint8_t *f = malloc((size_t)n + 24);
        assert_true(a && b && d && f);
        for (int i = 0; i < n + 24; i++) {
            const unsigned r = rng() % 8;
            a[i] = r == 0 ? -0.0f : frand() * (r < 4 ? 1e-3f : 10.0f);
            b[i] = r == 0 ? 0.0f : r == 1 ? a[i] : frand() * 0.01f;
        }
        const unsigned bit = 1u << (wi % 8);
        for (int pat = 0; pat < 3; pat++) {
            for (int i = 0; i < n + 24; i++)
                f[i] = (uint8_t)(pat == 0 ? rng() & 0xff : pat == 1 ? 0xff : (i / 3) & 1 ? bit : 0);
            memset(ref, 0, 65536 * sizeof(uint32_t));
            for (int x = 0; x < n; x++)
                if (f[off + x] & bit)
                    ref[sd_fbin(a[off + x] - b[off + x])]++;
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                memset(got, 0, 65536 * sizeof(uint32_t));
                for (int i = 0; i < n + 24; i++)
                    d[i] = -7.0f;
                sd_dsp_level((sd_simd_level)lv)->row_sub_hist(a + off, b + off, d, f + off, bit, n, got);
                for (int x = 0; x < n; x++) {
                    const float want = a[off + x] - b[off + x];
                    if (memcmp(&d[x], &want, sizeof want) != 0)
                        fail_msg("row_sub_hist %s n=%d x=%d: %g, want %g", sd_simd_name(lv), n, x,
                                 (double)d[x], (double)want);
                }
                for (int x = n; x < n + 24; x++)
                    assert_true(d[x] == -7.0f);
                if (memcmp(got, ref, 65536 * sizeof(uint32_t)) != 0)
                    fail_msg("row_sub_hist %s n=%d pat=%d: histogram differs", sd_simd_name(lv), n,
                             pat);
            }
        }
        free(a);
        free(b);
        free(d);
        free(f);
    }
    free(ref);
    free(got);
}

/* Histogram and selection: exact at every level, with and without a
 * centre, on values of every sign and magnitude (and zeros of both signs). */
static void test_hist_select_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    uint32_t *ref = calloc(65536, sizeof(uint32_t)), *got = calloc(65536, sizeof(uint32_t));
    assert_true(ref && got);
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = 1 + wi % 3;
        float *v = malloc(sizeof(float) * ((size_t)n + 8));
        float *outr = malloc(sizeof(float) * ((size_t)n + 8)), *outg = malloc(sizeof(float) * ((size_t)n + 8));
        uint8_t *f = malloc((size_t)n + 8);
        assert_true(v && outr && outg && f);
        for (int i = 0; i < n + 8; i++) {
            uint32_t r = rng();
            v[i] = r % 17 == 0 ? (r & 1 ? -0.0f : 0.0f) : frand() * ldexpf(1.0f, (int)(r % 20) - 10);
            f[i] = (uint8_t)(rng() & 0xff);
        }
        const unsigned bit = 1u << (wi % 8);
        const float *V = v + off;
        const uint8_t *F = f + off;
        const double centre = frand() * 0.01;
        for (int withc = 0; withc < 2; withc++) {
            const double *c = withc ? &centre : NULL;
            memset(ref, 0, 65536 * sizeof(uint32_t));
            size_t nflag = 0;
            for (int x = 0; x < n; x++)
                if (F[x] & bit) {
                    double w = withc ? fabs((double)V[x] - centre) : V[x];
                    ref[sd_fbin((float)w)]++;
                    nflag++;
                }
            /* a bin range around a flagged value's bin, and the whole range */
            unsigned b0 = nflag ? sd_fbin(sd_hist_value(V[n / 2], c)) : 1000;
            const unsigned ranges[2][2] = {{b0 > 3 ? b0 - 3 : 0, b0 + 3}, {0, 65535}};
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
                memset(got, 0, 65536 * sizeof(uint32_t));
                d->row_hist(V, F, bit, n, c, got);
                if (memcmp(ref, got, 65536 * sizeof(uint32_t)) != 0)
                    fail_msg("row_hist %s n=%d centre=%d differs", sd_simd_name(lv), n, withc);
                for (int ri = 0; ri < 2; ri++) {
                    const unsigned lo = ranges[ri][0], hi = ranges[ri][1];
                    size_t kr = 0;
                    for (int x = 0; x < n; x++) {
                        if (!(F[x] & bit))
                            continue;
                        float w = (float)(withc ? fabs((double)V[x] - centre) : V[x]);
                        if (sd_fbin(w) >= lo && sd_fbin(w) <= hi)
                            outr[kr++] = w;
                    }
                    size_t kg = d->row_select(V, F, bit, n, c, lo, hi, outg);
                    if (kg != kr || memcmp(outr, outg, kr * sizeof(float)) != 0)
                        fail_msg("row_select %s n=%d centre=%d bins [%u, %u]: %zu vs %zu values",
                                 sd_simd_name(lv), n, withc, lo, hi, kg, kr);
                    if (ri == 1 && kr != nflag)
                        fail_msg("row_select over every bin kept %zu of %zu", kr, nflag);
                }
            }
        }
        free(v);
        free(outr);
        free(outg);
        free(f);
    }
    free(ref);
    free(got);
}

/* row_hist_select: at every level the histogram, the values in any of
 * 0..3 bin ranges (overlapping, touching, at the ends of the key range) in
 * x order and the counts below each range, against the definitions
 * counted here pixel by pixel; nothing written past the values returned;
 * the histogram and the counts only when asked for. */
static void test_hist_select_ranges_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    uint32_t *ref = calloc(65536, sizeof(uint32_t)), *got = calloc(65536, sizeof(uint32_t));
    assert_true(ref && got);
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = 1 + wi % 3;
        float *v = malloc(sizeof(float) * ((size_t)n + 8));
        float *outr = malloc(sizeof(float) * ((size_t)n + 8)), *outg = malloc(sizeof(float) * ((size_t)n + 8));
        uint8_t *f = malloc((size_t)n + 8);
        assert_true(v && outr && outg && f);
        /* clustered values (as a* is) on even widths, any sign and magnitude on odd */
        for (int i = 0; i < n + 8; i++) {
            uint32_t r = rng();
            v[i] = wi % 2 ? (r % 17 == 0 ? (r & 1 ? -0.0f : 0.0f)
                                         : frand() * ldexpf(1.0f, (int)(r % 20) - 10))
                          : 12.0f + 0.3f * frand();
            f[i] = (uint8_t)(rng() & 0xff);
        }
        const unsigned bit = 1u << (wi % 8);
        const float *V = v + off;
        const uint8_t *F = f + off;
        for (int set = 0; set < 8; set++) {
            /* ranges around the bins of a few values, one of them wide,
             * two overlapping or touching, one at an end of the keys */
            unsigned r[SD_SELECT_RANGES][2];
            const int nr = set % (SD_SELECT_RANGES + 1);
            for (int i = 0; i < nr; i++) {
                const unsigned b = sd_fbin(V[(int)(rng() % (uint32_t)n)]);
                const unsigned h = (set + i) % 3 == 0 ? 40u : rng() % 3;
                r[i][0] = b > h ? b - h : 0;
                r[i][1] = b + h < 65535 ? b + h : 65535;
            }
            if (set >= 6) {
                /* overlapping (nr 2), touching (nr 3) */
                r[1][0] = r[0][1] < 65535 ? r[0][1] + (set == 6 ? 0 : 1) : 65535;
                r[1][1] = r[1][0] < 65530 ? r[1][0] + 5 : 65535;
            }
            if (set == 3 || set == 7) {
                r[2][0] = 0;
                r[2][1] = rng() % 65536;
            }
            memset(ref, 0, 65536 * sizeof(uint32_t));
            size_t kr = 0, below_r[SD_SELECT_RANGES] = {0};
            for (int x = 0; x < n; x++) {
                if (!(F[x] & bit))
                    continue;
                const unsigned b = sd_fbin(V[x]);
                ref[b]++;
                int in = 0;
                for (int i = 0; i < nr; i++) {
                    in = in || (b >= r[i][0] && b <= r[i][1]);
                    below_r[i] += b < r[i][0];
                }
                if (in)
                    outr[kr++] = V[x];
            }
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
                for (int want = 0; want < 2; want++) {
                    size_t below_g[SD_SELECT_RANGES] = {7, 7, 7};
                    memset(got, 0, 65536 * sizeof(uint32_t));
                    memset(outg, 0xff, sizeof(float) * ((size_t)n + 8));
                    const size_t kg = d->row_hist_select(V, F, bit, n, want ? got : NULL,
                                                         (const unsigned (*)[2])r, nr,
                                                         want ? below_g : NULL, outg);
                    if (kg != kr || memcmp(outr, outg, kr * sizeof(float)) != 0)
                        fail_msg("row_hist_select %s n=%d set=%d: %zu vs %zu values",
                                 sd_simd_name(lv), n, set, kg, kr);
                    for (size_t i = kg; i < (size_t)n + 8; i++) {
                        uint32_t u;
                        memcpy(&u, &outg[i], 4);
                        if (u != 0xffffffffu)
                            fail_msg("row_hist_select %s n=%d wrote past its values",
                                     sd_simd_name(lv), n);
                    }
                    for (int i = 0; i < SD_SELECT_RANGES; i++)
                        if (below_g[i] != (want && i < nr ? 7 + below_r[i] : 7))
                            fail_msg("row_hist_select %s n=%d set=%d: %zu below range %d, want %zu",
                                     sd_simd_name(lv), n, set, below_g[i] - 7, i, below_r[i]);
                    if (want && memcmp(ref, got, 65536 * sizeof(uint32_t)) != 0)
                        fail_msg("row_hist_select %s n=%d set=%d: histogram differs",
                                 sd_simd_name(lv), n, set);
                }
            }
        }
        free(v);
        free(outr);
        free(outg);
        free(f);
    }
    free(ref);
    free(got);
}

/* The band-pass and threshold kernels: exact at every level (with and
 * without b), flags outside the marked ones untouched, nothing past n. */
static void test_sub_flag_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = 1 + wi % 3;
        float *a = malloc(sizeof(float) * ((size_t)n + 24)), *b = malloc(sizeof(float) * ((size_t)n + 24));
        float *ref = malloc(sizeof(float) * ((size_t)n + 24)), *got = malloc(sizeof(float) * ((size_t)n + 24));
        uint8_t *f0 = malloc((size_t)n + 24), *fr = malloc((size_t)n + 24), *fg = malloc((size_t)n + 24);
        assert_true(a && b && ref && got && f0 && fr && fg);
        for (int i = 0; i < n + 24; i++) {
            a[i] = frand();
            b[i] = rng() % 5 == 0 ? a[i] - 0.25f : frand(); /* some exactly at t */
            f0[i] = (uint8_t)(rng() & 0xef);
        }
        const float t = 0.25f;
        for (int withb = 0; withb < 2; withb++) {
            const float *B = withb ? b + off : NULL;
            memcpy(fr, f0, (size_t)n + 24);
            for (int x = 0; x < n; x++)
                if ((B ? a[off + x] - B[x] : a[off + x]) > t)
                    fr[off + x] |= 16;
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
                memcpy(fg, f0, (size_t)n + 24);
                d->row_flag_above(a + off, B, t, fg + off, 16, n);
                if (memcmp(fg, fr, (size_t)n + 24) != 0)
                    fail_msg("row_flag_above %s n=%d b=%d differs", sd_simd_name(lv), n, withb);
            }
        }
        for (int x = 0; x < n; x++)
            ref[x] = a[off + x] - b[off + x];
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            for (int x = 0; x < n + 24; x++)
                got[x] = -7.0f;
            sd_dsp_level((sd_simd_level)lv)->row_sub(a + off, b + off, got, n);
            if (memcmp(got, ref, sizeof(float) * (size_t)n) != 0)
                fail_msg("row_sub %s n=%d differs", sd_simd_name(lv), n);
            for (int x = n; x < n + 24; x++)
                assert_true(got[x] == -7.0f);
        }
        free(a);
        free(b);
        free(ref);
        free(got);
        free(f0);
        free(fr);
        free(fg);
    }
}

/* The search's row sums: every level gives the definition's six floats bit
 * for bit (lane x mod 8 summed in float, the lanes added in order), on rows
 * where V is 0 or 1 and W is 0 where V is (as the search makes them), of
 * every width, from unaligned starts. */
static void test_ncc_sums_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), off = 1 + wi % 3;
        float *buf = malloc(sizeof(float) * 4 * ((size_t)n + off));
        assert_non_null(buf);
        float *t = buf + off, *t2 = t + n + off, *w = t2 + n + off, *v = w + n + off;
        for (int x = 0; x < n; x++) {
            t[x] = frand();
            t2[x] = t[x] * t[x];
            v[x] = rng() % 4 ? 1.0f : 0.0f;
            w[x] = v[x] * frand();
        }
        float acc[6][SD_NCC_LANES] = {{0}}, ref[6];
        for (int x = 0; x < n; x++) {
            const int j = x % SD_NCC_LANES;
            acc[0][j] += v[x];
            acc[1][j] += t[x] * v[x];
            acc[2][j] += w[x];
            acc[3][j] += t2[x] * v[x];
            acc[4][j] += w[x] * w[x];
            acc[5][j] += t[x] * w[x];
        }
        for (int k = 0; k < 6; k++) {
            ref[k] = 0;
            for (int j = 0; j < SD_NCC_LANES; j++)
                ref[k] += acc[k][j];
        }
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            float got[6];
            sd_dsp_level((sd_simd_level)lv)->row_ncc_sums(t, t2, w, v, n, got);
            if (memcmp(got, ref, sizeof ref) != 0)
                fail_msg("row_ncc_sums %s n=%d differs", sd_simd_name(lv), n);
        }
        free(buf);
    }
}

/* The normalization's ratio rows: every level gives the definition's
 * samples bit for bit (the ROI test, the map and sd_plane_bilinear in
 * double, the dark test, the division in double, in sample order), on
 * levels of odd sizes mapped partly off their edges (clamped), ROI bytes
 * in and out, values around the dark limit, every row length. */
static void test_row_ratio_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    size_t used = 0, total = 0;
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), pw = 5 + (int)(rng() % 300), ph = 3 + (int)(rng() % 40);
        sd_plane pl;
        assert_int_equal(sd_plane_init(NULL, &pl, pw, ph), SD_OK);
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++)
                sd_plane_row(&pl, y)[x] = (frand() + 1.0f) * (1.0f / 512.0f);
        float *b = malloc(sizeof(float) * ((size_t)n + 1)), *want = malloc(sizeof(float) * n);
        uint8_t *in = malloc(4 * (size_t)n + 1);
        assert_true(b && want && in);
        for (int i = 0; i < n; i++)
            b[i + 1] = (frand() + 1.0f) * (1.0f / 512.0f);
        for (int i = 0; i < 4 * n + 1; i++)
            in[i] = (uint8_t)(rng() % 5 ? 1 : rng() % 3);
        const double th = frand() * 0.3, sc = 1.0 + frand() * 0.2;
        const double m[6] = {sc * cos(th), -sc * sin(th), frand() * 40.0,
                             sc * sin(th), sc * cos(th), frand() * 40.0};
        sd_ratio_row r = {.b = b + 1, .in = in + 1, .n = n, .x0 = (int)(rng() % 41),
                          .y = (int)(rng() % (4 * (unsigned)ph + 12)), .step = 4, .in_val = 1,
                          .m = m, .a = &pl, .ox = 4.0 * (int)(rng() % 3), .oy = 4.0,
                          .c = 1.5, .inv = 0.25, .dark = 1.0 / 1024.0};
        int nw = 0;
        for (int i = 0; i < n; i++) {
            if (r.in[4 * i] != 1)
                continue;
            const double x = r.x0 + 4 * i, y = r.y;
            const double u = m[0] * x + m[1] * y + m[2], v = m[3] * x + m[4] * y + m[5];
            const double bb = r.b[i];
            const double aa = sd_plane_bilinear(&pl, (u - r.ox - 1.5) * 0.25, (v - r.oy - 1.5) * 0.25);
            if (bb < 1.0 / 1024.0 || aa < 1.0 / 1024.0)
                continue;
            want[nw++] = (float)(bb / aa);
        }
        used += (size_t)nw;
        total += (size_t)n;
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            float *got = malloc(sizeof(float) * ((size_t)n + 16));
            assert_non_null(got);
            const int k = sd_dsp_level((sd_simd_level)lv)->row_ratio(&r, got);
            if (k != nw || memcmp(got, want, sizeof(float) * (size_t)nw) != 0)
                fail_msg("row_ratio %s n=%d: %d samples, want %d", sd_simd_name(lv), n, k, nw);
            free(got);
        }
        free(b);
        free(want);
        free(in);
        sd_plane_release(&pl);
    }
    /* both outcomes of the ROI and dark tests occurred */
    assert_true(used > total / 4 && used < total);
}

/* The alignment's ECC rows: every level's sums are the scalar kernel's bit
 * for bit (P 0, 4 and 6; sample steps 1 to 4; planes from 1 x 1 up, odd
 * sizes; maps with rotation and scale that take part of the row off the
 * plane and across its border rows and columns, where the gradients are
 * one-sided; sums carried in from earlier rows), and entries outside the
 * definition stay as they were. */
static void test_ecc_row_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi), step = 1 + wi % 4;
        const int pw = wi % 11 == 0 ? 1 + wi % 3 : 4 + (int)(rng() % 200);
        const int ph = wi % 13 == 0 ? 1 + wi % 4 : 4 + (int)(rng() % 60);
        sd_plane pl;
        assert_int_equal(sd_plane_init(NULL, &pl, pw, ph), SD_OK);
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++)
                sd_plane_row(&pl, y)[x] = frand();
        float *t = malloc(sizeof(float) * ((size_t)n * step + 1));
        assert_non_null(t);
        for (int x = 0; x < n * step + 1; x++)
            t[x] = frand();
        const double th = frand() * 0.25, sc = 1.0 + frand() * 0.15;
        sd_ecc_row r = {.t = t + 1, .step = step, .ahead = 16, .m0 = sc * cos(th),
                        .m3 = sc * sin(th), .rx = frand() * pw, .ry = (frand() + 0.5) * ph,
                        .cx = n * step / 2.0, .invR = 1.0 / (n * step + 1), .v = frand(),
                        .I = &pl};
        for (int pi = 0; pi < 3; pi++) {
            r.P = pi == 0 ? 0 : pi == 1 ? 4 : 6;
            double init[SD_ECC_SUMS], want[SD_ECC_SUMS];
            for (int k = 0; k < SD_ECC_SUMS; k++)
                init[k] = frand();
            memcpy(want, init, sizeof want);
            sd_ecc_row_scalar(&r, 0, n, want);
            for (int k = 0; k < SD_ECC_SUMS; k++) {
                const int sub = k % 8, blk = k / 8;
                const int defined = blk == 0 ? sub < 6
                                    : blk < 4 ? sub < r.P
                                              : blk - 4 < r.P && sub < r.P;
                if (!defined && want[k] != init[k])
                    fail_msg("ecc_row scalar P=%d: entry %d changed", r.P, k);
            }
            for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                double got[SD_ECC_SUMS];
                memcpy(got, init, sizeof got);
                sd_dsp_level((sd_simd_level)lv)->ecc_row(&r, 0, n, got);
                if (memcmp(got, want, sizeof got) != 0)
                    fail_msg("ecc_row %s P=%d n=%d step %d plane %dx%d differs",
                             sd_simd_name(lv), r.P, n, step, pw, ph);
            }
        }
        free(t);
        sd_plane_release(&pl);
    }
}

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

/* ---- the bilinear warp ---- */

/* The warp of one pixel by the textbook formula, independently of the
 * kernel: the four weights (1 - ax)(1 - ay), ax (1 - ay), (1 - ax) ay, ax ay
 * in long double. Returns 0 (and leaves v alone) when xf maps (x, y) outside
 * the source, whose pixels cover [c - 0.5, c + 0.5]. */
static int warp_ref(const sd_image *s, const sd_xform *xf, int x, int y, long double v[3])
{
    long double fx = (long double)xf->m[0] * x + (long double)xf->m[1] * y + xf->m[2];
    long double fy = (long double)xf->m[3] * x + (long double)xf->m[4] * y + xf->m[5];
    if (!(fx >= -0.5L && fx <= s->width - 0.5L && fy >= -0.5L && fy <= s->height - 0.5L))
        return 0;
    fx = fminl(fmaxl(fx, 0), s->width - 1);
    fy = fminl(fmaxl(fy, 0), s->height - 1);
    const int ix = (int)floorl(fx), iy = (int)floorl(fy);
    const long double ax = fx - ix, ay = fy - iy;
    const int jx = ix + 1 < s->width ? ix + 1 : ix, jy = iy + 1 < s->height ? iy + 1 : iy;
    for (int c = 0; c < 3; c++) {
        const uint16_t *r0 = s->px + (size_t)iy * s->stride, *r1 = s->px + (size_t)jy * s->stride;
        v[c] = (1 - ax) * (1 - ay) * r0[3 * ix + c] + ax * (1 - ay) * r0[3 * jx + c] +
               (1 - ax) * ay * r1[3 * ix + c] + ax * ay * r1[3 * jx + c];
    }
    return 1;
}

/* A random affine map: rotation 0..360 deg, scales 0.5..2 on each axis, a
 * shear up to 0.2, the output's centre sent near the source's centre, off by
 * up to 0.6 of the source's size (so rows run in, across and out of it). */
static sd_xform random_map(int sw, int sh, int n, int rows)
{
    const double t = rng() / 4294967296.0 * 2 * M_PI;
    const double sx = 0.5 + 1.5 * (rng() / 4294967296.0), sy = 0.5 + 1.5 * (rng() / 4294967296.0);
    const double k = 0.4 * (rng() / 4294967296.0) - 0.2;
    sd_xform xf;
    xf.m[0] = sx * cos(t);
    xf.m[1] = sy * (k * cos(t) - sin(t));
    xf.m[3] = sx * sin(t);
    xf.m[4] = sy * (k * sin(t) + cos(t));
    const double cx = 0.5 * (sw - 1) + 0.6 * sw * frand(), cy = 0.5 * (sh - 1) + 0.6 * sh * frand();
    xf.m[2] = cx - xf.m[0] * 0.5 * (n - 1) - xf.m[1] * 0.5 * (rows - 1);
    xf.m[5] = cy - xf.m[3] * 0.5 * (n - 1) - xf.m[4] * 0.5 * (rows - 1);
    return xf;
}

/* Every level's row_warp against the scalar reference, bit for bit; the
 * scalar one against the textbook formula (within the rounding, 0.5);
 * widths 1..67 and more, sources from 1 x 1 up with odd strides and
 * unaligned starts, output rows at unaligned addresses with guards behind
 * them; random maps and the special ones (identity, half-pixel shifts onto
 * the outer edges, NaN, far away). */
static void test_warp_all_levels(void **state)
{
    (void)state;
    const sd_simd_level top = sd_simd_detect();
    const int rows = 5;
    size_t inside = 0, outside = 0;
    for (int wi = 0; wi < N_WIDTHS; wi++) {
        const int n = width_at(wi);
        for (int rep = 0; rep < 12; rep++) {
            /* tiny sources (every pixel near an edge), small ones, and
             * ones about as wide as the output row */
            const int sw = 1 + (int)(rng() % (rep < 4    ? 4u
                                              : rep < 8 ? 90u
                                                        : (unsigned)n + 60u)),
                      sh = 1 + (int)(rng() % 70u);
            const size_t stride = 3 * (size_t)sw + (size_t)(wi % 4) * 3 + (size_t)(rep % 2);
            const size_t off = (size_t)(rep % 3);
            uint16_t *buf = malloc(sizeof(uint16_t) * (stride * sh + off));
            uint16_t *ref = malloc(sizeof(uint16_t) * 3 * (size_t)n);
            uint16_t *got = malloc(sizeof(uint16_t) * (3 * (size_t)n + 16));
            assert_non_null(buf);
            assert_non_null(ref);
            assert_non_null(got);
            for (size_t i = 0; i < stride * sh + off; i++) /* full range, some extremes */
                buf[i] = (uint16_t)(rng() % 7 == 0 ? (rng() & 1) * 65535 : rng() & 0xffff);
            sd_image s = {0};
            s.width = sw;
            s.height = sh;
            s.stride = stride;
            s.px = buf + off;
            sd_xform xf = random_map(sw, sh, n, rows);
            switch (rep) {
            case 0: xf = (sd_xform){{1, 0, 0, 0, 1, 0}}; break;
            case 1: xf = (sd_xform){{1, 0, -0.5, 0, 1, -0.5}}; break; /* onto the edges */
            case 2: xf = (sd_xform){{1, 0, sw - n - 0.5, 0, 1, sh - rows + 0.5}}; break;
            case 3: xf = (sd_xform){{NAN, 0, 0, 0, 1, 0}}; break;
            case 4: xf.m[2] += 1e9; break; /* far outside */
            default: break;
            }
            for (int y = -1; y < rows; y++) {
                const int x0 = rep == 5 ? -(n / 2) : 0; /* output columns left of 0 */
                sd_row_warp_scalar(&s, &xf, y, x0, n, ref);
                for (int x = 0; x < n; x++) {
                    long double v[3];
                    if (warp_ref(&s, &xf, x0 + x, y, v)) {
                        for (int c = 0; c < 3; c++)
                            assert_true(fabsl(ref[3 * x + c] - v[c]) <= 0.5L + 1e-9L);
                        inside++;
                    } else {
                        assert_true(ref[3 * x] == 0 && ref[3 * x + 1] == 0 && ref[3 * x + 2] == 0);
                        outside++;
                    }
                }
                if (rep == 0 && y >= 0 && y < sh) /* identity: the source itself */
                    for (int x = 0; x < (n < sw ? n : sw); x++)
                        for (int c = 0; c < 3; c++)
                            assert_int_equal(ref[3 * x + c], s.px[(size_t)y * stride + 3 * x + c]);
                for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
                    const sd_dsp *d = sd_dsp_level((sd_simd_level)lv);
                    const int o = 1 + (wi + lv) % 5; /* unaligned output */
                    for (int i = 0; i < 3 * n + 16; i++)
                        got[i] = 0xabcd;
                    d->row_warp(&s, &xf, y, x0, n, got + o);
                    assert_memory_equal(got + o, ref, sizeof(uint16_t) * 3 * (size_t)n);
                    for (int i = 0; i < o; i++)
                        assert_int_equal(got[i], 0xabcd);
                    for (int i = o + 3 * n; i < 3 * n + 16; i++)
                        assert_int_equal(got[i], 0xabcd);
                    /* in two pieces: the same bits */
                    const int k = n / 3;
                    d->row_warp(&s, &xf, y, x0, k, got);
                    d->row_warp(&s, &xf, y, x0 + k, n - k, got + 3 * k);
                    assert_memory_equal(got, ref, sizeof(uint16_t) * 3 * (size_t)n);
                }
            }
            free(buf);
            free(ref);
            free(got);
        }
    }
    print_message("warp: %zu pixels inside, %zu outside\n", inside, outside);
    assert_true(inside > 20000 && outside > 20000);
}

/* sd_image_warp: the same image for 1, 2 and 3 threads at every level, each
 * row that of the scalar row kernel. */
static void test_warp_threads_levels(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    const sd_simd_level top = sd_simd_detect(), saved = sd_simd_active();
    const int sw = 700, sh = 500, w = 613, h = 401; /* > 65536 pixels: threaded */
    sd_image *src = NULL, *a = NULL, *b = NULL;
    assert_int_equal(sd_image_new(ctx, sw, sh, 0, &src), SD_OK);
    for (int y = 0; y < sh; y++)
        for (int x = 0; x < 3 * sw; x++)
            src->px[(size_t)y * src->stride + x] = (uint16_t)(rng() & 0xffff);
    src->bits = 16;
    uint16_t *row = malloc(sizeof(uint16_t) * 3 * (size_t)w);
    assert_non_null(row);
    for (int rep = 0; rep < 3; rep++) {
        const sd_xform xf = random_map(sw, sh, w, h);
        for (int lv = SD_SIMD_SCALAR; lv <= (int)top; lv++) {
            sd_simd_set((sd_simd_level)lv);
            sd_ctx_set_threads(ctx, 1);
            assert_int_equal(sd_image_warp(ctx, src, &xf, w, h, &a), SD_OK);
            assert_int_equal(a->bits, 16);
            for (int y = 0; y < h; y++) {
                sd_row_warp_scalar(src, &xf, y, 0, w, row);
                assert_memory_equal(a->px + (size_t)y * a->stride, row, sizeof(uint16_t) * 3 * w);
            }
            for (int t = 2; t <= 3; t++) {
                sd_ctx_set_threads(ctx, t);
                assert_int_equal(sd_image_warp(ctx, src, &xf, w, h, &b), SD_OK);
                for (int y = 0; y < h; y++)
                    assert_memory_equal(a->px + (size_t)y * a->stride,
                                        b->px + (size_t)y * b->stride, sizeof(uint16_t) * 3 * w);
                sd_image_free(b);
            }
            sd_image_free(a);
        }
    }
    sd_simd_set(saved);
    free(row);
    sd_image_free(src);
    sd_ctx_free(ctx);
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
        cmocka_unit_test(test_taps_rows_all_levels),
        cmocka_unit_test(test_row2_all_levels),
        cmocka_unit_test(test_blur_all_levels),
        cmocka_unit_test(test_blur_threads_bit_identical),
        cmocka_unit_test(test_blur_bad_args),
        cmocka_unit_test(test_lambda_all_levels),
        cmocka_unit_test(test_log_range),
        cmocka_unit_test(test_colour_all_levels),
        cmocka_unit_test(test_luminance_all_levels),
        cmocka_unit_test(test_byte_kernels),
        cmocka_unit_test(test_div_xn),
        cmocka_unit_test(test_colour_grey_ramp),
        cmocka_unit_test(test_acc_all_levels),
        cmocka_unit_test(test_acc3_all_levels),
        cmocka_unit_test(test_sum4_all_levels),
        cmocka_unit_test(test_sub_hist_all_levels),
        cmocka_unit_test(test_hist_select_all_levels),
        cmocka_unit_test(test_hist_select_ranges_all_levels),
        cmocka_unit_test(test_warp_all_levels),
        cmocka_unit_test(test_warp_threads_levels),
        cmocka_unit_test(test_sub_flag_all_levels),
        cmocka_unit_test(test_ncc_sums_all_levels),
        cmocka_unit_test(test_row_ratio_all_levels),
        cmocka_unit_test(test_ecc_row_all_levels),
    };
    return cmocka_run_group_tests_name("kernels_simd", tests, NULL, NULL);
}

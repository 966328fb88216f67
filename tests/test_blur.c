/* The Gaussian blur against the exact (continuous-limit) Gaussian: an
 * impulse gives the normalized sampled kernel; a linear ramp is unchanged;
 * a sinusoid of period P is attenuated by exp(-2 pi^2 sigma^2 / P^2).
 *
 * The error of the sampled FIR (radius ceil(4 sigma), normalized) against
 * the continuous Gaussian, for sigma >= 1.25 and periods >= 3 px: transfer
 * |H(1/P) - exp(-2 pi^2 sigma^2 / P^2)| < 1e-4 (mostly the renormalized
 * tails beyond 4 sigma, mass 6.3e-5); impulse response within 1e-4 of the
 * peak 1/(2 pi sigma^2) of the 2-D Gaussian inside the support, and zero
 * outside it where the continuous tail is below exp(-8) = 3.4e-4 of the
 * peak. Held at every SIMD level. */
#include "sd_test.h"

#include <math.h>

#include "skindelta/kernels.h"

#define SIGMAS_N 4
static const double sigmas[SIGMAS_N] = {1.25, 2.0, 3.0, 6.0};

static void test_sinusoid_attenuation(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_plane src, dst;
    assert_int_equal(sd_plane_init(ctx, &src, 256, 64), SD_OK);
    assert_int_equal(sd_plane_init(ctx, &dst, 256, 64), SD_OK);
    const double period = 16.0;
    for (double sigma = 1.0; sigma <= 4.0; sigma += 1.5) {
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 256; x++)
                sd_plane_row(&src, y)[x] = (float)sin(2 * M_PI * x / period);
        assert_int_equal(sd_gauss_blur(ctx, &src, &dst, sigma), SD_OK);
        double expect = exp(-2 * M_PI * M_PI * sigma * sigma / (period * period));
        /* amplitude in the interior, away from mirrored edges */
        double amp = 0;
        for (int x = 64; x < 192; x++)
            amp = fmax(amp, fabs(sd_plane_row(&dst, 32)[x]));
        assert_true(fabs(amp - expect) < 2e-3);
    }
    sd_plane_release(&src);
    sd_plane_release(&dst);
    sd_ctx_free(ctx);
}

static void test_impulse_and_ramp(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_plane src, dst;
    assert_int_equal(sd_plane_init(ctx, &src, 101, 101), SD_OK);
    assert_int_equal(sd_plane_init(ctx, &dst, 101, 101), SD_OK);
    sd_plane_row(&src, 50)[50] = 1.0f;
    const double sigma = 3.0;
    assert_int_equal(sd_gauss_blur(ctx, &src, &dst, sigma), SD_OK);
    double sum = 0;
    for (int y = 0; y < 101; y++)
        for (int x = 0; x < 101; x++)
            sum += sd_plane_row(&dst, y)[x];
    assert_true(fabs(sum - 1.0) < 1e-5);
    /* 2-D Gaussian value at the centre, for a sampled kernel ~ 1/(2 pi s^2) */
    assert_true(fabs(sd_plane_row(&dst, 50)[50] - 1.0 / (2 * M_PI * sigma * sigma)) < 1e-4);
    for (int y = 0; y < 101; y++)
        for (int x = 0; x < 101; x++)
            sd_plane_row(&src, y)[x] = (float)(0.01 * x + 0.02 * y);
    assert_int_equal(sd_gauss_blur(ctx, &src, &dst, sigma), SD_OK);
    for (int y = 20; y < 80; y++)
        for (int x = 20; x < 80; x++)
            assert_true(fabs(sd_plane_row(&dst, y)[x] - (0.01 * x + 0.02 * y)) < 1e-4);
    sd_plane_release(&src);
    sd_plane_release(&dst);
    sd_ctx_free(ctx);
}

/* Planes smaller than the kernel (mirroring wraps) stay finite and flat in = flat out. */
static void test_tiny(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_plane src, dst;
    assert_int_equal(sd_plane_init(ctx, &src, 3, 1), SD_OK);
    assert_int_equal(sd_plane_init(ctx, &dst, 3, 1), SD_OK);
    for (int x = 0; x < 3; x++)
        sd_plane_row(&src, 0)[x] = 2.0f;
    assert_int_equal(sd_gauss_blur(ctx, &src, &dst, 6.0), SD_OK);
    for (int x = 0; x < 3; x++)
        assert_true(fabs(sd_plane_row(&dst, 0)[x] - 2.0f) < 1e-5);
    sd_plane_release(&src);
    sd_plane_release(&dst);
    sd_ctx_free(ctx);
}

/* Mirrored edges: random planes, narrow (the row inside the kernel's reach
 * and wrapping several times), one tile and several tiles wide, against the
 * textbook separable sum with reflection about the edge pixels (-1 -> 1). */
static int reflect(int i, int n)
{
    while (n > 1 && (i < 0 || i >= n))
        i = i < 0 ? -i : 2 * (n - 1) - i;
    return n > 1 ? i : 0;
}

static void test_mirror_direct(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    static const int widths[] = {1, 2, 3, 5, 9, 17, 70, 2000};
    static const double sg[] = {1.0, 2.5};
    unsigned rng = 12345;
    for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
        for (size_t si = 0; si < 2; si++) {
            const int w = widths[wi], h = 13, r = sd_gauss_radius(sg[si]);
            sd_plane src, dst;
            assert_int_equal(sd_plane_init(ctx, &src, w, h), SD_OK);
            assert_int_equal(sd_plane_init(ctx, &dst, w, h), SD_OK);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    rng = rng * 1103515245u + 12345u;
                    sd_plane_row(&src, y)[x] = (float)((rng >> 8) & 0xffff) / 65536.0f;
                }
            assert_int_equal(sd_gauss_blur(ctx, &src, &dst, sg[si]), SD_OK);
            double k[64], sum = 0;
            for (int i = -r; i <= r; i++)
                sum += exp(-0.5 * i * i / (sg[si] * sg[si]));
            for (int i = 0; i <= r; i++)
                k[i] = exp(-0.5 * i * i / (sg[si] * sg[si])) / sum;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    double v = 0;
                    for (int dy = -r; dy <= r; dy++)
                        for (int dx = -r; dx <= r; dx++)
                            v += k[abs(dx)] * k[abs(dy)] *
                                 sd_plane_row(&src, reflect(y + dy, h))[reflect(x + dx, w)];
                    double got = sd_plane_row(&dst, y)[x];
                    if (fabs(got - v) > 1e-5)
                        fail_msg("w %d sigma %g (%d,%d): %.8f, direct %.8f", w, sg[si], x, y, got,
                                 v);
                }
            sd_plane_release(&src);
            sd_plane_release(&dst);
        }
    sd_ctx_free(ctx);
}

/* Amplitude of the period-P component of row[x0, x0 + len) (len a multiple
 * of P): least-squares fit of a sin + b cos. */
static double amplitude(const float *row, int x0, int len, double period)
{
    double ss = 0, cc = 0, ys = 0, yc = 0;
    for (int x = x0; x < x0 + len; x++) {
        double sn = sin(2 * M_PI * x / period), cs = cos(2 * M_PI * x / period);
        ss += sn * sn;
        cc += cs * cs;
        ys += row[x] * sn;
        yc += row[x] * cs;
    }
    return hypot(ys / ss, yc / cc);
}

static void test_fir_vs_continuous(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_plane src, dst;
    const int w = 512, h = 8;
    assert_int_equal(sd_plane_init(ctx, &src, w, h), SD_OK);
    assert_int_equal(sd_plane_init(ctx, &dst, w, h), SD_OK);
    const double periods[] = {3, 4, 6, 8, 16, 64};
    const sd_simd_level saved = sd_simd_active();
    for (int lv = SD_SIMD_SCALAR; lv <= (int)sd_simd_detect(); lv++) {
        sd_simd_set((sd_simd_level)lv);
        for (int pi = 0; pi < 6; pi++) {
            const double P = periods[pi];
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    sd_plane_row(&src, y)[x] = (float)sin(2 * M_PI * x / P + 0.3);
            for (int si = 0; si < SIGMAS_N; si++) {
                const double sg = sigmas[si];
                const int r = sd_gauss_radius(sg);
                assert_int_equal(sd_gauss_blur(ctx, &src, &dst, sg), SD_OK);
                double amp = amplitude(sd_plane_row(&dst, 3), 128, 192, P);
                double cont = exp(-2 * M_PI * M_PI * sg * sg / (P * P));
                /* the exact transfer of the normalized sampled kernel */
                double sum = 0, hs = 0;
                for (int i = -r; i <= r; i++) {
                    double g = exp(-0.5 * i * i / (sg * sg));
                    sum += g;
                    hs += g * cos(2 * M_PI * i / P);
                }
                hs = fabs(hs / sum);
                if (fabs(amp - hs) > 3e-6 || fabs(amp - cont) > 1e-4)
                    fail_msg("%s sigma %g period %g: %.8f, sampled %.8f, continuous %.8f",
                             sd_simd_name((sd_simd_level)lv), sg, P, amp, hs, cont);
            }
        }
    }
    sd_simd_set(saved);
    sd_plane_release(&src);
    sd_plane_release(&dst);
    sd_ctx_free(ctx);
}

static void test_impulse_response(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    sd_plane src, dst;
    const int n = 61, c = 30;
    assert_int_equal(sd_plane_init(ctx, &src, n, n), SD_OK);
    assert_int_equal(sd_plane_init(ctx, &dst, n, n), SD_OK);
    sd_plane_row(&src, c)[c] = 1.0f;
    const sd_simd_level saved = sd_simd_active();
    for (int lv = SD_SIMD_SCALAR; lv <= (int)sd_simd_detect(); lv++) {
        sd_simd_set((sd_simd_level)lv);
        for (int si = 0; si < SIGMAS_N; si++) {
            const double sg = sigmas[si], peak = 1 / (2 * M_PI * sg * sg);
            const int r = sd_gauss_radius(sg);
            assert_int_equal(sd_gauss_blur(ctx, &src, &dst, sg), SD_OK);
            double sum = 0;
            for (int i = -r; i <= r; i++)
                sum += exp(-0.5 * i * i / (sg * sg));
            for (int y = 0; y < n; y++)
                for (int x = 0; x < n; x++) {
                    int dx = x - c, dy = y - c;
                    double v = sd_plane_row(&dst, y)[x];
                    double sampled = 0, cont = peak * exp(-(dx * dx + dy * dy) / (2 * sg * sg));
                    /* outside the support the continuous tail is < exp(-8) peak */
                    double tol = 3.4e-4 * peak;
                    if (abs(dx) <= r && abs(dy) <= r) {
                        sampled = exp(-0.5 * dx * dx / (sg * sg)) / sum *
                                  exp(-0.5 * dy * dy / (sg * sg)) / sum;
                        tol = 1e-4 * peak;
                    }
                    if (fabs(v - sampled) > 1e-6 * peak || fabs(v - cont) > tol)
                        fail_msg("%s sigma %g (%d,%d): %.9g, sampled %.9g, continuous %.9g",
                                 sd_simd_name((sd_simd_level)lv), sg, dx, dy, v, sampled, cont);
                }
        }
    }
    sd_simd_set(saved);
    sd_plane_release(&src);
    sd_plane_release(&dst);
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sinusoid_attenuation),
        cmocka_unit_test(test_impulse_and_ramp),
        cmocka_unit_test(test_tiny),
        cmocka_unit_test(test_fir_vs_continuous),
        cmocka_unit_test(test_impulse_response),
        cmocka_unit_test(test_mirror_direct),
    };
    return cmocka_run_group_tests_name("blur", tests, NULL, NULL);
}

/* The Gaussian blur against the exact (continuous-limit) Gaussian: an
 * impulse gives the normalized sampled kernel; a linear ramp is unchanged;
 * a sinusoid of period P is attenuated by exp(-2 pi^2 sigma^2 / P^2). */
#include "sd_test.h"

#include <math.h>

#include "skindelta/kernels.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sinusoid_attenuation),
        cmocka_unit_test(test_impulse_and_ramp),
        cmocka_unit_test(test_tiny),
    };
    return cmocka_run_group_tests_name("blur", tests, NULL, NULL);
}

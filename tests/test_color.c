/* Colour conversion against the textbook: published sRGB -> CIELAB values
 * (D65, 2 degree observer, IEC 61966-2-1 matrix) and the CIE formulas in
 * double, for many colours including dark ones below the eps threshold. */
#include "sd_test.h"

#include <math.h>

#include "skindelta/kernels.h"

/* Published values (e.g. Lindbloom's calculator, ColorMine): 8-bit sRGB -> Lab */
static const struct {
    int rgb[3];
    double lab[3];
} published[] = {
    {{255, 255, 255}, {100.0000, 0.0000, 0.0000}},
    {{0, 0, 0}, {0.0000, 0.0000, 0.0000}},
    {{255, 0, 0}, {53.2408, 80.0925, 67.2032}},
    {{0, 255, 0}, {87.7347, -86.1827, 83.1793}},
    {{0, 0, 255}, {32.2970, 79.1875, -107.8602}},
    {{128, 128, 128}, {53.5850, 0.0000, 0.0000}},
    {{1, 1, 1}, {0.2742, 0.0000, 0.0000}},
};

static void test_published_values(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof published / sizeof published[0]; i++) {
        double srgb[3], lab[3];
        for (int c = 0; c < 3; c++)
            srgb[c] = published[i].rgb[c] / 255.0;
        sd_srgb_to_lab_ref(srgb, lab);
        for (int c = 0; c < 3; c++) {
            if (fabs(lab[c] - published[i].lab[c]) > 0.01)
                fail_msg("rgb(%d,%d,%d) channel %d: %.4f, published %.4f", published[i].rgb[0],
                         published[i].rgb[1], published[i].rgb[2], c, lab[c],
                         published[i].lab[c]);
        }
    }
}

/* Independent CIE formula: XYZ from the sRGB matrix, f with eps/kappa. */
static double cie_f(double t)
{
    const double eps = 216.0 / 24389.0, kappa = 24389.0 / 27.0;
    return t > eps ? pow(t, 1.0 / 3.0) : (kappa * t + 16.0) / 116.0;
}

static double srgb_decode(double v)
{
    return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
}

/* The float pieces the kernels use (LUT, sd_lab_f) against the double CIE
 * formula, over a grid of 16-bit colours including very dark ones. */
static void test_lut_and_f_against_cie(void **state)
{
    (void)state;
    const float *lut = sd_srgb16_lut();
    double worst = 0;
    for (int r = 0; r < 65536; r += 1021)
        for (int g = 0; g < 65536; g += 2039)
            for (int b = 0; b < 65536; b += 4093) {
                int v[3] = {r, g, b};
                double lin[3], flin[3];
                for (int c = 0; c < 3; c++) {
                    lin[c] = srgb_decode(v[c] / 65535.0);
                    flin[c] = lut[v[c]];
                }
                double x = 0.4124564 * lin[0] + 0.3575761 * lin[1] + 0.1804375 * lin[2];
                double y = 0.2126729 * lin[0] + 0.7151522 * lin[1] + 0.0721750 * lin[2];
                double fx = cie_f(x / 0.9504700), fy = cie_f(y);
                double a_ref = 500.0 * (fx - fy);
                float xf = (float)(0.4124564 * flin[0] + 0.3575761 * flin[1] + 0.1804375 * flin[2]);
                float yf = (float)(0.2126729 * flin[0] + 0.7151522 * flin[1] + 0.0721750 * flin[2]);
                float a = 500.0f * (sd_lab_f(xf / 0.9504700f) - sd_lab_f(yf));
                double e = fabs(a - a_ref);
                if (e > worst)
                    worst = e;
            }
    print_message("worst a* error of the float path: %.5f\n", worst);
    assert_true(worst < 0.01);
}

/* Dark colours below eps take the linear segment, and it is continuous. */
static void test_dark_segment(void **state)
{
    (void)state;
    const double eps = 216.0 / 24389.0;
    double lo = sd_lab_f((float)(eps * 0.999999)), hi = sd_lab_f((float)(eps * 1.000001));
    assert_true(fabs(lo - hi) < 1e-5);
    for (int v = 0; v <= 10; v++) {
        double srgb[3] = {v / 255.0, v / 255.0, v / 255.0}, lab[3];
        sd_srgb_to_lab_ref(srgb, lab);
        double y = srgb_decode(v / 255.0);
        double l = y > eps ? 116.0 * cbrt(y) - 16.0 : 24389.0 / 27.0 * y;
        assert_true(fabs(lab[0] - l) < 1e-4); /* the Y row sums to 1.0000001 */
        assert_true(fabs(lab[1]) < 1e-4 && fabs(lab[2]) < 1e-4);
    }
}

static void test_lambda(void **state)
{
    (void)state;
    uint16_t px[3 * 4] = {0, 0, 0, 65535, 65535, 65535, 32768, 16384, 8192, 257, 0, 65535};
    float out[4];
    sd_row_lambda(px, 4, out);
    for (int i = 0; i < 4; i++) {
        double lin[3];
        for (int c = 0; c < 3; c++)
            lin[c] = srgb_decode(px[3 * i + c] / 65535.0);
        double y = 0.2126729 * lin[0] + 0.7151522 * lin[1] + 0.0721750 * lin[2];
        assert_true(fabs(out[i] - log(y + 1.0 / 4096.0)) < 1e-5);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_values),
        cmocka_unit_test(test_lut_and_f_against_cie),
        cmocka_unit_test(test_dark_segment),
        cmocka_unit_test(test_lambda),
    };
    return cmocka_run_group_tests_name("color", tests, NULL, NULL);
}

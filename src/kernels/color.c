#include <math.h>
#include <pthread.h>

#include "kernels/kernels_internal.h"

#define LAB_EPS (216.0 / 24389.0)
#define LAB_KAPPA (24389.0 / 27.0)

double sd_srgb_eotf_ref(double v)
{
    return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
}

static double lab_f_ref(double t)
{
    return t > LAB_EPS ? cbrt(t) : (LAB_KAPPA * t + 16.0) / 116.0;
}

void sd_linear_to_lab_ref(const double rgb[3], double lab[3])
{
    const double xn = SD_XYZ_XR + SD_XYZ_XG + SD_XYZ_XB;
    const double zn = SD_XYZ_ZR + SD_XYZ_ZG + SD_XYZ_ZB;
    double x = SD_XYZ_XR * rgb[0] + SD_XYZ_XG * rgb[1] + SD_XYZ_XB * rgb[2];
    double y = SD_XYZ_YR * rgb[0] + SD_XYZ_YG * rgb[1] + SD_XYZ_YB * rgb[2];
    double z = SD_XYZ_ZR * rgb[0] + SD_XYZ_ZG * rgb[1] + SD_XYZ_ZB * rgb[2];
    double fx = lab_f_ref(x / xn), fy = lab_f_ref(y), fz = lab_f_ref(z / zn);
    lab[0] = 116.0 * fy - 16.0;
    lab[1] = 500.0 * (fx - fy);
    lab[2] = 200.0 * (fy - fz);
}

void sd_srgb_to_lab_ref(const double srgb[3], double lab[3])
{
    double lin[3];
    for (int c = 0; c < 3; c++)
        lin[c] = sd_srgb_eotf_ref(srgb[c]);
    sd_linear_to_lab_ref(lin, lab);
}

static float lut16[65536], lut8[256];
static pthread_once_t lut16_once = PTHREAD_ONCE_INIT;

static void lut16_build(void)
{
    for (int i = 0; i < 65536; i++)
        lut16[i] = (float)sd_srgb_eotf_ref(i / 65535.0);
    for (int v = 0; v < 256; v++)
        lut8[v] = lut16[257 * v];
}

const float *sd_srgb16_lut(void)
{
    pthread_once(&lut16_once, lut16_build);
    return lut16;
}

const float *sd_srgb8_lut(void)
{
    pthread_once(&lut16_once, lut16_build);
    return lut8;
}

float sd_lab_f(float t)
{
    if (t <= (float)LAB_EPS)
        return (float)LAB_KAPPA / 116.0f * t + 16.0f / 116.0f;
    return cbrtf(t);
}

void sd_row_lambda_scalar(const uint16_t *rgb, int n, float *out)
{
    const float *lut = sd_srgb16_lut();
    for (int i = 0; i < n; i++) {
        const uint16_t *p = rgb + 3 * (size_t)i;
        float y = (float)SD_XYZ_YR * lut[p[0]] + (float)SD_XYZ_YG * lut[p[1]] +
                  (float)SD_XYZ_YB * lut[p[2]];
        out[i] = logf(y + (float)SD_LAMBDA_EPS);
    }
}

void sd_row_lambda_with_log(const uint16_t *rgb, int n, float *out, sd_row_log_fn row_log)
{
    enum { BLOCK = 256 };
    const float *lut = sd_srgb16_lut();
    float t[BLOCK];
    for (int x0 = 0; x0 < n; x0 += BLOCK) {
        int m = n - x0 < BLOCK ? n - x0 : BLOCK;
        const uint16_t *p = rgb + 3 * (size_t)x0;
        for (int i = 0; i < m; i++, p += 3)
            t[i] = (float)SD_XYZ_YR * lut[p[0]] + (float)SD_XYZ_YG * lut[p[1]] +
                   (float)SD_XYZ_YB * lut[p[2]] + (float)SD_LAMBDA_EPS;
        row_log(t, m, out + x0);
    }
}

void sd_row_log_scalar(const float *in, int n, float *out)
{
    for (int i = 0; i < n; i++)
        out[i] = logf(in[i]);
}

void sd_row_lambda(const uint16_t *rgb, int n, float *out)
{
    sd_dsp_active()->row_lambda(rgb, n, out);
}

/* AVX2 Lambda: LUT gathers, the luminance in the scalar reference's order
 * (mul, add; bit-identical Y), then the vector ln of kernels_internal.h. */
#include <string.h>

#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

/* ln of 8 positive normal floats (same arithmetic as log16 in color_avx512.c) */
static inline __m256 log8(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256i xi = _mm256_castps_si256(x);
    /* x = m 2^e with m in [0.5, 1) */
    __m256i ei = _mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(126));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
    __m256 e = _mm256_cvtepi32_ps(ei);
    /* m < sqrt(1/2): use 2m and e - 1, so m - 1 lies in [-0.29, 0.41) */
    __m256 lo = _mm256_cmp_ps(m, _mm256_set1_ps(SD_LN_SQRTHF), _CMP_LT_OQ);
    e = _mm256_sub_ps(e, _mm256_and_ps(lo, one));
    m = _mm256_sub_ps(_mm256_add_ps(m, _mm256_and_ps(lo, m)), one);
    __m256 z = _mm256_mul_ps(m, m);
    __m256 y = _mm256_set1_ps(SD_LN_P0);
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(SD_LN_P1));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(SD_LN_P2));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(SD_LN_P3));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(SD_LN_P4));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(SD_LN_P5));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(SD_LN_P6));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(SD_LN_P7));
    y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(SD_LN_P8));
    y = _mm256_mul_ps(_mm256_mul_ps(y, m), z);
    y = _mm256_fmadd_ps(e, _mm256_set1_ps(SD_LN2_LO), y);
    y = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, y);
    __m256 res = _mm256_add_ps(m, y);
    return _mm256_fmadd_ps(e, _mm256_set1_ps(SD_LN2_HI), res);
}

void sd_row_log_avx2(const float *in, int n, float *out)
{
    int x = 0;
    for (; x + 8 <= n; x += 8)
        _mm256_storeu_ps(out + x, log8(_mm256_loadu_ps(in + x)));
    if (x < n) {
        float bi[8], bo[8];
        for (int i = 0; i < 8; i++)
            bi[i] = x + i < n ? in[x + i] : 1.0f;
        _mm256_storeu_ps(bo, log8(_mm256_loadu_ps(bi)));
        memcpy(out + x, bo, (size_t)(n - x) * sizeof(float));
    }
}

/* Lambda of the 8 pixels at p; reads one 16-bit word past the 8th pixel. */
static inline __m256 lambda8(const uint16_t *p, const float *lut)
{
    const __m256i m16 = _mm256_set1_epi32(0xffff);
    const __m256i ir = _mm256_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21);
    const __m256i one = _mm256_set1_epi32(1);
    const int *b = (const int *)(const void *)p;
    __m256i vr = _mm256_and_si256(_mm256_i32gather_epi32(b, ir, 2), m16);
    __m256i vg = _mm256_and_si256(_mm256_i32gather_epi32(b, _mm256_add_epi32(ir, one), 2), m16);
    __m256i vb = _mm256_and_si256(
        _mm256_i32gather_epi32(b, _mm256_add_epi32(ir, _mm256_add_epi32(one, one)), 2), m16);
    __m256 y = _mm256_mul_ps(_mm256_set1_ps((float)SD_XYZ_YR), _mm256_i32gather_ps(lut, vr, 4));
    y = _mm256_add_ps(y, _mm256_mul_ps(_mm256_set1_ps((float)SD_XYZ_YG),
                                       _mm256_i32gather_ps(lut, vg, 4)));
    y = _mm256_add_ps(y, _mm256_mul_ps(_mm256_set1_ps((float)SD_XYZ_YB),
                                       _mm256_i32gather_ps(lut, vb, 4)));
    return log8(_mm256_add_ps(y, _mm256_set1_ps((float)SD_LAMBDA_EPS)));
}

void sd_row_lambda_avx2(const uint16_t *rgb, int n, float *out)
{
    const float *lut = sd_srgb16_lut();
    int x = 0;
    /* the gathers read one word past the 8th pixel: keep a 9th in the row */
    for (; x + 9 <= n; x += 8)
        _mm256_storeu_ps(out + x, lambda8(rgb + 3 * (size_t)x, lut));
    while (x < n) {
        uint16_t bi[8 * 3 + 2] = {0};
        float bo[8];
        int m = n - x < 8 ? n - x : 8;
        memcpy(bi, rgb + 3 * (size_t)x, (size_t)m * 3 * sizeof(uint16_t));
        _mm256_storeu_ps(bo, lambda8(bi, lut));
        memcpy(out + x, bo, (size_t)m * sizeof(float));
        x += m;
    }
}
#endif

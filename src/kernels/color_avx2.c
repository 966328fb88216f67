/* AVX2 natural logarithm (8 lanes, FMA) and the Lambda built on it. The
 * ln is the Cephes-style one of kernels_internal.h: |error| < 1e-6 against
 * log() on [2^-12, 1 + 2^-12] (tested). */
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

/* Lambda: the luminance in the scalar reference's arithmetic (scalar LUT
 * reads: on this generation of CPUs, gathers from the 256 KiB LUT measured
 * slower, see docs/kernels.md), then the vector ln. */
void sd_row_lambda_avx2(const uint16_t *rgb, int n, float *out)
{
    sd_row_lambda_with_log(rgb, n, out, sd_row_log_avx2);
}
#endif

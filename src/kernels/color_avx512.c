/* AVX-512 natural logarithm and Lambda: as color_avx2.c on 16 lanes (the
 * same operations in the same order, so the two agree bit for bit). */
#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

static inline __m512 log16(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512i xi = _mm512_castps_si512(x);
    __m512i ei = _mm512_sub_epi32(_mm512_srli_epi32(xi, 23), _mm512_set1_epi32(126));
    __m512 m = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_and_si512(xi, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f000000)));
    __m512 e = _mm512_cvtepi32_ps(ei);
    __mmask16 lo = _mm512_cmp_ps_mask(m, _mm512_set1_ps(SD_LN_SQRTHF), _CMP_LT_OQ);
    e = _mm512_mask_sub_ps(e, lo, e, one);
    m = _mm512_sub_ps(_mm512_mask_add_ps(m, lo, m, m), one);
    __m512 z = _mm512_mul_ps(m, m);
    __m512 y = _mm512_set1_ps(SD_LN_P0);
    y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(SD_LN_P1));
    y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(SD_LN_P2));
    y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(SD_LN_P3));
    y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(SD_LN_P4));
    y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(SD_LN_P5));
    y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(SD_LN_P6));
    y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(SD_LN_P7));
    y = _mm512_fmadd_ps(y, m, _mm512_set1_ps(SD_LN_P8));
    y = _mm512_mul_ps(_mm512_mul_ps(y, m), z);
    y = _mm512_fmadd_ps(e, _mm512_set1_ps(SD_LN2_LO), y);
    y = _mm512_fnmadd_ps(_mm512_set1_ps(0.5f), z, y);
    __m512 res = _mm512_add_ps(m, y);
    return _mm512_fmadd_ps(e, _mm512_set1_ps(SD_LN2_HI), res);
}

void sd_row_log_avx512(const float *in, int n, float *out)
{
    int x = 0;
    for (; x + 16 <= n; x += 16)
        _mm512_storeu_ps(out + x, log16(_mm512_loadu_ps(in + x)));
    if (x < n) {
        const __mmask16 m = (__mmask16)((1u << (n - x)) - 1);
        __m512 v = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, in + x);
        _mm512_mask_storeu_ps(out + x, m, log16(v));
    }
}

/* Lambda: the luminance in the scalar reference's arithmetic (scalar LUT
 * reads: on this generation of CPUs, gathers from the 256 KiB LUT measured
 * slower, see docs/kernels.md), then the vector ln. */
void sd_row_lambda_avx512(const uint16_t *rgb, int n, float *out)
{
    sd_row_lambda_with_log(rgb, n, out, sd_row_log_avx512);
}
#endif

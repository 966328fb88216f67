/* AVX-512 Lambda: as color_avx2.c on 16 lanes (the same arithmetic, so the
 * two agree bit for bit). */
#include <string.h>

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

/* Lambda of the 16 pixels at p; reads one 16-bit word past the 16th pixel. */
static inline __m512 lambda16(const uint16_t *p, const float *lut)
{
    const __m512i m16 = _mm512_set1_epi32(0xffff);
    const __m512i ir =
        _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45);
    const __m512i one = _mm512_set1_epi32(1);
    const void *b = p;
    __m512i vr = _mm512_and_si512(_mm512_i32gather_epi32(ir, b, 2), m16);
    __m512i vg = _mm512_and_si512(_mm512_i32gather_epi32(_mm512_add_epi32(ir, one), b, 2), m16);
    __m512i vb = _mm512_and_si512(
        _mm512_i32gather_epi32(_mm512_add_epi32(ir, _mm512_add_epi32(one, one)), b, 2), m16);
    __m512 y = _mm512_mul_ps(_mm512_set1_ps((float)SD_XYZ_YR), _mm512_i32gather_ps(vr, lut, 4));
    y = _mm512_add_ps(y, _mm512_mul_ps(_mm512_set1_ps((float)SD_XYZ_YG),
                                       _mm512_i32gather_ps(vg, lut, 4)));
    y = _mm512_add_ps(y, _mm512_mul_ps(_mm512_set1_ps((float)SD_XYZ_YB),
                                       _mm512_i32gather_ps(vb, lut, 4)));
    return log16(_mm512_add_ps(y, _mm512_set1_ps((float)SD_LAMBDA_EPS)));
}

void sd_row_lambda_avx512(const uint16_t *rgb, int n, float *out)
{
    const float *lut = sd_srgb16_lut();
    int x = 0;
    /* the gathers read one word past the 16th pixel: keep a 17th in the row */
    for (; x + 17 <= n; x += 16)
        _mm512_storeu_ps(out + x, lambda16(rgb + 3 * (size_t)x, lut));
    while (x < n) {
        uint16_t bi[16 * 3 + 2] = {0};
        float bo[16];
        int m = n - x < 16 ? n - x : 16;
        memcpy(bi, rgb + 3 * (size_t)x, (size_t)m * 3 * sizeof(uint16_t));
        _mm512_storeu_ps(bo, lambda16(bi, lut));
        memcpy(out + x, bo, (size_t)m * sizeof(float));
        x += m;
    }
}
#endif

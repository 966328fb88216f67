/* AVX-512 blur_taps: 16 lanes, fused multiply-add, masked tail (same
 * arithmetic in every lane; bit-identical to AVX2). */
#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

void sd_blur_taps_avx512(const float *const *in, const float *k, int r, float *out, int n)
{
    const float *c = in[r];
    const __m512 k0 = _mm512_set1_ps(k[0]);
    int x = 0;
    for (; x + 64 <= n; x += 64) {
        __m512 a0 = _mm512_mul_ps(k0, _mm512_loadu_ps(c + x));
        __m512 a1 = _mm512_mul_ps(k0, _mm512_loadu_ps(c + x + 16));
        __m512 a2 = _mm512_mul_ps(k0, _mm512_loadu_ps(c + x + 32));
        __m512 a3 = _mm512_mul_ps(k0, _mm512_loadu_ps(c + x + 48));
        for (int i = 1; i <= r; i++) {
            const __m512 ki = _mm512_set1_ps(k[i]);
            const float *p = in[r - i] + x, *q = in[r + i] + x;
            a0 = _mm512_fmadd_ps(ki, _mm512_add_ps(_mm512_loadu_ps(p), _mm512_loadu_ps(q)), a0);
            a1 = _mm512_fmadd_ps(ki, _mm512_add_ps(_mm512_loadu_ps(p + 16), _mm512_loadu_ps(q + 16)), a1);
            a2 = _mm512_fmadd_ps(ki, _mm512_add_ps(_mm512_loadu_ps(p + 32), _mm512_loadu_ps(q + 32)), a2);
            a3 = _mm512_fmadd_ps(ki, _mm512_add_ps(_mm512_loadu_ps(p + 48), _mm512_loadu_ps(q + 48)), a3);
        }
        _mm512_storeu_ps(out + x, a0);
        _mm512_storeu_ps(out + x + 16, a1);
        _mm512_storeu_ps(out + x + 32, a2);
        _mm512_storeu_ps(out + x + 48, a3);
    }
    for (; x < n; x += 16) {
        /* full vectors, then one masked vector for the last 1..15 */
        const __mmask16 m = n - x >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - x)) - 1);
        __m512 a = _mm512_mul_ps(k0, _mm512_maskz_loadu_ps(m, c + x));
        for (int i = 1; i <= r; i++)
            a = _mm512_fmadd_ps(_mm512_set1_ps(k[i]),
                                _mm512_add_ps(_mm512_maskz_loadu_ps(m, in[r - i] + x),
                                              _mm512_maskz_loadu_ps(m, in[r + i] + x)),
                                a);
        _mm512_mask_storeu_ps(out + x, m, a);
    }
}
#endif

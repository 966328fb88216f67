/* AVX2 blur_taps: 8 lanes, fused multiply-add (fmaf in the tail, so every
 * lane and the tail compute the same arithmetic; bit-identical to AVX-512). */
#include <math.h>

#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

void sd_blur_taps_avx2(const float *const *in, const float *k, int r, float *out, int n)
{
    const float *c = in[r];
    const __m256 k0 = _mm256_set1_ps(k[0]);
    int x = 0;
    for (; x + 32 <= n; x += 32) {
        __m256 a0 = _mm256_mul_ps(k0, _mm256_loadu_ps(c + x));
        __m256 a1 = _mm256_mul_ps(k0, _mm256_loadu_ps(c + x + 8));
        __m256 a2 = _mm256_mul_ps(k0, _mm256_loadu_ps(c + x + 16));
        __m256 a3 = _mm256_mul_ps(k0, _mm256_loadu_ps(c + x + 24));
        for (int i = 1; i <= r; i++) {
            const __m256 ki = _mm256_set1_ps(k[i]);
            const float *p = in[r - i] + x, *q = in[r + i] + x;
            a0 = _mm256_fmadd_ps(ki, _mm256_add_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(q)), a0);
            a1 = _mm256_fmadd_ps(ki, _mm256_add_ps(_mm256_loadu_ps(p + 8), _mm256_loadu_ps(q + 8)), a1);
            a2 = _mm256_fmadd_ps(ki, _mm256_add_ps(_mm256_loadu_ps(p + 16), _mm256_loadu_ps(q + 16)), a2);
            a3 = _mm256_fmadd_ps(ki, _mm256_add_ps(_mm256_loadu_ps(p + 24), _mm256_loadu_ps(q + 24)), a3);
        }
        _mm256_storeu_ps(out + x, a0);
        _mm256_storeu_ps(out + x + 8, a1);
        _mm256_storeu_ps(out + x + 16, a2);
        _mm256_storeu_ps(out + x + 24, a3);
    }
    for (; x + 8 <= n; x += 8) {
        __m256 a = _mm256_mul_ps(k0, _mm256_loadu_ps(c + x));
        for (int i = 1; i <= r; i++)
            a = _mm256_fmadd_ps(_mm256_set1_ps(k[i]),
                                _mm256_add_ps(_mm256_loadu_ps(in[r - i] + x),
                                              _mm256_loadu_ps(in[r + i] + x)),
                                a);
        _mm256_storeu_ps(out + x, a);
    }
    for (; x < n; x++) {
        float acc = k[0] * c[x];
        for (int i = 1; i <= r; i++)
            acc = fmaf(k[i], in[r - i][x] + in[r + i][x], acc);
        out[x] = acc;
    }
}
#endif

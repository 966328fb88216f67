/* SSE2 blur_taps: 4 lanes, mul then add as in the scalar reference, so the
 * result is bit-identical to it. */
#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <emmintrin.h>

void sd_blur_taps_sse2(const float *const *in, const float *k, int r, float *out, int n)
{
    const float *c = in[r];
    const __m128 k0 = _mm_set1_ps(k[0]);
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        __m128 a0 = _mm_mul_ps(k0, _mm_loadu_ps(c + x));
        __m128 a1 = _mm_mul_ps(k0, _mm_loadu_ps(c + x + 4));
        __m128 a2 = _mm_mul_ps(k0, _mm_loadu_ps(c + x + 8));
        __m128 a3 = _mm_mul_ps(k0, _mm_loadu_ps(c + x + 12));
        for (int i = 1; i <= r; i++) {
            const __m128 ki = _mm_set1_ps(k[i]);
            const float *p = in[r - i] + x, *q = in[r + i] + x;
            a0 = _mm_add_ps(a0, _mm_mul_ps(ki, _mm_add_ps(_mm_loadu_ps(p), _mm_loadu_ps(q))));
            a1 = _mm_add_ps(a1, _mm_mul_ps(ki, _mm_add_ps(_mm_loadu_ps(p + 4), _mm_loadu_ps(q + 4))));
            a2 = _mm_add_ps(a2, _mm_mul_ps(ki, _mm_add_ps(_mm_loadu_ps(p + 8), _mm_loadu_ps(q + 8))));
            a3 = _mm_add_ps(a3, _mm_mul_ps(ki, _mm_add_ps(_mm_loadu_ps(p + 12), _mm_loadu_ps(q + 12))));
        }
        _mm_storeu_ps(out + x, a0);
        _mm_storeu_ps(out + x + 4, a1);
        _mm_storeu_ps(out + x + 8, a2);
        _mm_storeu_ps(out + x + 12, a3);
    }
    for (; x + 4 <= n; x += 4) {
        __m128 a = _mm_mul_ps(k0, _mm_loadu_ps(c + x));
        for (int i = 1; i <= r; i++)
            a = _mm_add_ps(a, _mm_mul_ps(_mm_set1_ps(k[i]),
                                         _mm_add_ps(_mm_loadu_ps(in[r - i] + x),
                                                    _mm_loadu_ps(in[r + i] + x))));
        _mm_storeu_ps(out + x, a);
    }
    for (; x < n; x++) {
        float acc = k[0] * c[x];
        for (int i = 1; i <= r; i++)
            acc = acc + k[i] * (in[r - i][x] + in[r + i][x]);
        out[x] = acc;
    }
}
#endif

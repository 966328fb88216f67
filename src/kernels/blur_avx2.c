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
/* Four output rows (kernels_internal.h), the registers sliding as in
 * blur_avx512.c; the tail columns as blur_taps' tail (fmaf). */
void sd_blur_taps4_avx2(const float *const *in, const float *k, int r, float *const *out, int n)
{
    const __m256 k0 = _mm256_set1_ps(k[0]);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
#define LD(row) _mm256_loadu_ps(in[row] + x)
        const __m256 c0 = LD(r), c1 = LD(r + 1), c2 = LD(r + 2), c3 = LD(r + 3);
        __m256 a0 = _mm256_mul_ps(k0, c0), a1 = _mm256_mul_ps(k0, c1);
        __m256 a2 = _mm256_mul_ps(k0, c2), a3 = _mm256_mul_ps(k0, c3);
        __m256 lo0 = LD(r - 1), lo1 = c0, lo2 = c1, lo3 = c2;
        __m256 hi0 = c1, hi1 = c2, hi2 = c3, hi3 = LD(r + 4);
        for (int i = 1;; i++) {
            const __m256 ki = _mm256_set1_ps(k[i]);
            a0 = _mm256_fmadd_ps(ki, _mm256_add_ps(lo0, hi0), a0);
            a1 = _mm256_fmadd_ps(ki, _mm256_add_ps(lo1, hi1), a1);
            a2 = _mm256_fmadd_ps(ki, _mm256_add_ps(lo2, hi2), a2);
            a3 = _mm256_fmadd_ps(ki, _mm256_add_ps(lo3, hi3), a3);
            if (i == r)
                break;
            lo3 = lo2;
            lo2 = lo1;
            lo1 = lo0;
            lo0 = LD(r - i - 1);
            hi0 = hi1;
            hi1 = hi2;
            hi2 = hi3;
            hi3 = LD(r + i + 4);
        }
#undef LD
        _mm256_storeu_ps(out[0] + x, a0);
        _mm256_storeu_ps(out[1] + x, a1);
        _mm256_storeu_ps(out[2] + x, a2);
        _mm256_storeu_ps(out[3] + x, a3);
    }
    for (; x < n; x++)
        for (int j = 0; j < 4; j++) {
            float acc = k[0] * in[r + j][x];
            for (int i = 1; i <= r; i++)
                acc = fmaf(k[i], in[r + j - i][x] + in[r + j + i][x], acc);
            out[j][x] = acc;
        }
}

/* One contiguous row, one or two kernels (kernels_internal.h): blur_taps'
 * arithmetic per output (the same bits), the two kernels sharing each sum
 * c[x - i] + c[x + i]; the tail columns as blur_taps' tail (fmaf). */
void sd_blur_row2_avx2(const float *c, const float *k1, int r1, float *o1, const float *k2,
                       int r2, float *o2, int n)
{
    const int rb = o2 ? r2 : 0;
    const __m256 ka0 = _mm256_set1_ps(k1[0]), kb0 = _mm256_set1_ps(o2 ? k2[0] : 0.0f);
    int x = 0;
    for (; x + 16 <= n; x += 16) {
        const float *q = c + x;
        const __m256 v0 = _mm256_loadu_ps(q), v1 = _mm256_loadu_ps(q + 8);
        __m256 a0 = _mm256_mul_ps(ka0, v0), a1 = _mm256_mul_ps(ka0, v1);
        __m256 b0 = _mm256_mul_ps(kb0, v0), b1 = _mm256_mul_ps(kb0, v1);
        for (int i = 1; i <= r1; i++) {
            const __m256 s0 = _mm256_add_ps(_mm256_loadu_ps(q - i), _mm256_loadu_ps(q + i));
            const __m256 s1 =
                _mm256_add_ps(_mm256_loadu_ps(q + 8 - i), _mm256_loadu_ps(q + 8 + i));
            const __m256 ka = _mm256_set1_ps(k1[i]);
            a0 = _mm256_fmadd_ps(ka, s0, a0);
            a1 = _mm256_fmadd_ps(ka, s1, a1);
            if (rb >= i) {
                const __m256 kb = _mm256_set1_ps(k2[i]);
                b0 = _mm256_fmadd_ps(kb, s0, b0);
                b1 = _mm256_fmadd_ps(kb, s1, b1);
            }
        }
        _mm256_storeu_ps(o1 + x, a0);
        _mm256_storeu_ps(o1 + x + 8, a1);
        if (o2) {
            _mm256_storeu_ps(o2 + x, b0);
            _mm256_storeu_ps(o2 + x + 8, b1);
        }
    }
    for (; x + 8 <= n; x += 8) {
        const float *q = c + x;
        const __m256 v = _mm256_loadu_ps(q);
        __m256 a = _mm256_mul_ps(ka0, v), b = _mm256_mul_ps(kb0, v);
        for (int i = 1; i <= r1; i++) {
            const __m256 s = _mm256_add_ps(_mm256_loadu_ps(q - i), _mm256_loadu_ps(q + i));
            a = _mm256_fmadd_ps(_mm256_set1_ps(k1[i]), s, a);
            if (rb >= i)
                b = _mm256_fmadd_ps(_mm256_set1_ps(k2[i]), s, b);
        }
        _mm256_storeu_ps(o1 + x, a);
        if (o2)
            _mm256_storeu_ps(o2 + x, b);
    }
    for (; x < n; x++) {
        float a = k1[0] * c[x], b = o2 ? k2[0] * c[x] : 0.0f;
        for (int i = 1; i <= r1; i++) {
            const float s = c[x - i] + c[x + i];
            a = fmaf(k1[i], s, a);
            if (rb >= i)
                b = fmaf(k2[i], s, b);
        }
        o1[x] = a;
        if (o2)
            o2[x] = b;
    }
}
#endif

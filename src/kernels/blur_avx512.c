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
/* Four output rows (kernels_internal.h): per vector of columns, output j
 * at tap i needs lo_j = in[r + j - i] and hi_j = in[r + j + i]; from one
 * tap to the next the lo window slides up a row and the hi window down,
 * so each step loads two rows instead of eight. */
void sd_blur_taps4_avx512(const float *const *in, const float *k, int r, float *const *out, int n)
{
    const __m512 k0 = _mm512_set1_ps(k[0]);
    for (int x = 0; x < n; x += 16) {
        const __mmask16 m = n - x >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - x)) - 1);
#define LD(row) _mm512_maskz_loadu_ps(m, in[row] + x)
        const __m512 c0 = LD(r), c1 = LD(r + 1), c2 = LD(r + 2), c3 = LD(r + 3);
        __m512 a0 = _mm512_mul_ps(k0, c0), a1 = _mm512_mul_ps(k0, c1);
        __m512 a2 = _mm512_mul_ps(k0, c2), a3 = _mm512_mul_ps(k0, c3);
        __m512 lo0 = LD(r - 1), lo1 = c0, lo2 = c1, lo3 = c2;
        __m512 hi0 = c1, hi1 = c2, hi2 = c3, hi3 = LD(r + 4);
        for (int i = 1;; i++) {
            const __m512 ki = _mm512_set1_ps(k[i]);
            a0 = _mm512_fmadd_ps(ki, _mm512_add_ps(lo0, hi0), a0);
            a1 = _mm512_fmadd_ps(ki, _mm512_add_ps(lo1, hi1), a1);
            a2 = _mm512_fmadd_ps(ki, _mm512_add_ps(lo2, hi2), a2);
            a3 = _mm512_fmadd_ps(ki, _mm512_add_ps(lo3, hi3), a3);
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
        _mm512_mask_storeu_ps(out[0] + x, m, a0);
        _mm512_mask_storeu_ps(out[1] + x, m, a1);
        _mm512_mask_storeu_ps(out[2] + x, m, a2);
        _mm512_mask_storeu_ps(out[3] + x, m, a3);
    }
}

/* One contiguous row, one or two kernels (kernels_internal.h): the same
 * arithmetic per output as blur_taps (so the same bits), but the two
 * kernels share each sum c[x - i] + c[x + i], and the right-hand vector
 * c[x + i .. x + i + 15] (i < 16) is built from the two vectors at x and
 * x + 16 by a lane shift (valignd) instead of an unaligned load, which
 * crosses a cache line for 15 offsets in 16: the horizontal taps were
 * bound by those split loads. */
#define SHR(hi, lo, i)                                                                         \
    _mm512_castsi512_ps(                                                                       \
        _mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), (i)))
void sd_blur_row2_avx512(const float *c, const float *k1, int r1, float *o1, const float *k2,
                         int r2, float *o2, int n)
{
    const int rb = o2 ? r2 : 0;
    const __m512 ka0 = _mm512_set1_ps(k1[0]), kb0 = _mm512_set1_ps(o2 ? k2[0] : 0.0f);
    int x = 0;
    /* v2 reads c[x + 32 .. x + 47]: inside the row while x + 48 <= n + r1 */
    for (; x + 32 <= n && x + 48 <= n + r1; x += 32) {
        const float *q = c + x;
        const __m512 v0 = _mm512_loadu_ps(q), v1 = _mm512_loadu_ps(q + 16);
        const __m512 v2 = _mm512_loadu_ps(q + 32);
        __m512 a0 = _mm512_mul_ps(ka0, v0), a1 = _mm512_mul_ps(ka0, v1);
        __m512 b0 = _mm512_mul_ps(kb0, v0), b1 = _mm512_mul_ps(kb0, v1);
#define TAP(i)                                                                                 \
    if (r1 >= (i)) {                                                                           \
        const __m512 s0 = _mm512_add_ps(_mm512_loadu_ps(q - (i)), SHR(v1, v0, i));             \
        const __m512 s1 = _mm512_add_ps(_mm512_loadu_ps(q + 16 - (i)), SHR(v2, v1, i));        \
        const __m512 ka = _mm512_set1_ps(k1[i]);                                               \
        a0 = _mm512_fmadd_ps(ka, s0, a0);                                                      \
        a1 = _mm512_fmadd_ps(ka, s1, a1);                                                      \
        if (rb >= (i)) {                                                                       \
            const __m512 kb = _mm512_set1_ps(k2[i]);                                           \
            b0 = _mm512_fmadd_ps(kb, s0, b0);                                                  \
            b1 = _mm512_fmadd_ps(kb, s1, b1);                                                  \
        }                                                                                      \
    }
        TAP(1) TAP(2) TAP(3) TAP(4) TAP(5) TAP(6) TAP(7) TAP(8)
        TAP(9) TAP(10) TAP(11) TAP(12) TAP(13) TAP(14) TAP(15)
#undef TAP
        for (int i = 16; i <= r1; i++) {
            const __m512 s0 = _mm512_add_ps(_mm512_loadu_ps(q - i), _mm512_loadu_ps(q + i));
            const __m512 s1 =
                _mm512_add_ps(_mm512_loadu_ps(q + 16 - i), _mm512_loadu_ps(q + 16 + i));
            const __m512 ka = _mm512_set1_ps(k1[i]);
            a0 = _mm512_fmadd_ps(ka, s0, a0);
            a1 = _mm512_fmadd_ps(ka, s1, a1);
            if (rb >= i) {
                const __m512 kb = _mm512_set1_ps(k2[i]);
                b0 = _mm512_fmadd_ps(kb, s0, b0);
                b1 = _mm512_fmadd_ps(kb, s1, b1);
            }
        }
        _mm512_storeu_ps(o1 + x, a0);
        _mm512_storeu_ps(o1 + x + 16, a1);
        if (o2) {
            _mm512_storeu_ps(o2 + x, b0);
            _mm512_storeu_ps(o2 + x + 16, b1);
        }
    }
    for (; x < n; x += 16) {
        const __mmask16 m = n - x >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - x)) - 1);
        const float *q = c + x;
        const __m512 v = _mm512_maskz_loadu_ps(m, q);
        __m512 a = _mm512_mul_ps(ka0, v), b = _mm512_mul_ps(kb0, v);
        for (int i = 1; i <= r1; i++) {
            const __m512 s =
                _mm512_add_ps(_mm512_maskz_loadu_ps(m, q - i), _mm512_maskz_loadu_ps(m, q + i));
            a = _mm512_fmadd_ps(_mm512_set1_ps(k1[i]), s, a);
            if (rb >= i)
                b = _mm512_fmadd_ps(_mm512_set1_ps(k2[i]), s, b);
        }
        _mm512_mask_storeu_ps(o1 + x, m, a);
        if (o2)
            _mm512_mask_storeu_ps(o2 + x, m, b);
    }
}
#undef SHR
#endif

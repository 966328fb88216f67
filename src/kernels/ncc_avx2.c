/* row_ncc_sums in AVX2: lane j of each of the six accumulators is the
 * scalar reference's acc[k][j] (the last n mod 8 values come in by masked
 * loads, whose zeros leave the other lanes' sums as they are: a lane that
 * starts at +0 never holds -0, and +0 + -0 is +0), then an 8 x 8 transpose
 * puts lane j of all six sums in one vector, and seven vector additions in
 * lane order give out[k] with the reference's order of additions. The
 * AVX-512 table uses this version too. */
#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

/* one step of the six sums: v, t v, w, t2 v, w w, t w */
static inline void ncc_step(__m256 a[6], __m256 tv, __m256 qv, __m256 wv, __m256 vv)
{
    a[0] = _mm256_add_ps(a[0], vv);
    a[1] = _mm256_add_ps(a[1], _mm256_mul_ps(tv, vv));
    a[2] = _mm256_add_ps(a[2], wv);
    a[3] = _mm256_add_ps(a[3], _mm256_mul_ps(qv, vv));
    a[4] = _mm256_add_ps(a[4], _mm256_mul_ps(wv, wv));
    a[5] = _mm256_add_ps(a[5], _mm256_mul_ps(tv, wv));
}

void sd_row_ncc_sums_avx2(const float *t, const float *t2, const float *w, const float *v,
                          int n, float out[6])
{
    __m256 a[6];
    for (int k = 0; k < 6; k++)
        a[k] = _mm256_setzero_ps();
    int x = 0;
    for (; x + 8 <= n; x += 8)
        ncc_step(a, _mm256_loadu_ps(t + x), _mm256_loadu_ps(t2 + x), _mm256_loadu_ps(w + x),
                 _mm256_loadu_ps(v + x));
    if (x < n) {
        const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - x),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        ncc_step(a, _mm256_maskload_ps(t + x, m), _mm256_maskload_ps(t2 + x, m),
                 _mm256_maskload_ps(w + x, m), _mm256_maskload_ps(v + x, m));
    }
    const __m256 a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5];
    /* transpose rows a0..a5, 0, 0: c_j holds lane j of every row */
    const __m256 z = _mm256_setzero_ps();
    const __m256 u0 = _mm256_unpacklo_ps(a0, a1), u1 = _mm256_unpackhi_ps(a0, a1);
    const __m256 u2 = _mm256_unpacklo_ps(a2, a3), u3 = _mm256_unpackhi_ps(a2, a3);
    const __m256 u4 = _mm256_unpacklo_ps(a4, a5), u5 = _mm256_unpackhi_ps(a4, a5);
    const __m256 s0 = _mm256_shuffle_ps(u0, u2, 0x44), s1 = _mm256_shuffle_ps(u0, u2, 0xee);
    const __m256 s2 = _mm256_shuffle_ps(u1, u3, 0x44), s3 = _mm256_shuffle_ps(u1, u3, 0xee);
    const __m256 s4 = _mm256_shuffle_ps(u4, z, 0x44), s5 = _mm256_shuffle_ps(u4, z, 0xee);
    const __m256 s6 = _mm256_shuffle_ps(u5, z, 0x44), s7 = _mm256_shuffle_ps(u5, z, 0xee);
    /* lanes 0-3 of c_j from the low halves (j < 4), 4-7 from the high ones */
    const __m256 c0 = _mm256_permute2f128_ps(s0, s4, 0x20), c4 = _mm256_permute2f128_ps(s0, s4, 0x31);
    const __m256 c1 = _mm256_permute2f128_ps(s1, s5, 0x20), c5 = _mm256_permute2f128_ps(s1, s5, 0x31);
    const __m256 c2 = _mm256_permute2f128_ps(s2, s6, 0x20), c6 = _mm256_permute2f128_ps(s2, s6, 0x31);
    const __m256 c3 = _mm256_permute2f128_ps(s3, s7, 0x20), c7 = _mm256_permute2f128_ps(s3, s7, 0x31);
    __m256 f = _mm256_add_ps(z, c0);
    f = _mm256_add_ps(f, c1);
    f = _mm256_add_ps(f, c2);
    f = _mm256_add_ps(f, c3);
    f = _mm256_add_ps(f, c4);
    f = _mm256_add_ps(f, c5);
    f = _mm256_add_ps(f, c6);
    f = _mm256_add_ps(f, c7);
    float r[8];
    _mm256_storeu_ps(r, f);
    for (int k = 0; k < 6; k++)
        out[k] = r[k];
}
#endif

/* row_ratio in AVX-512: 16 samples per step, the scalar reference's
 * arithmetic operation for operation in every lane (the map and the level
 * coordinates in two halves of 8 doubles, the clamps as compares and
 * blends, so that -0 and the edges come out as the reference's), AFTER's
 * four taps by gathers, the ratio by a true division in double, and the
 * used samples written in order by a compressing store. Sample spacings
 * other than 4 (the ROI bytes are read 4 apart) and levels too large for
 * 32-bit offsets go to the scalar kernel. */
#include "kernels/kernels_internal.h"

#include <stdint.h>

#if SD_HAVE_X86
#include <immintrin.h>

/* level coordinate of 8 samples: ((p - o) - c) inv clamped into [0, hi] */
static inline __m512d level_coord(__m512d p, double o, double c, double inv, double hi)
{
    __m512d q = _mm512_mul_pd(
        _mm512_sub_pd(_mm512_sub_pd(p, _mm512_set1_pd(o)), _mm512_set1_pd(c)),
        _mm512_set1_pd(inv));
    const __m512d z = _mm512_setzero_pd(), h = _mm512_set1_pd(hi);
    q = _mm512_mask_mov_pd(q, _mm512_cmp_pd_mask(q, z, _CMP_LT_OQ), z);
    return _mm512_mask_mov_pd(q, _mm512_cmp_pd_mask(q, h, _CMP_GT_OQ), h);
}

int sd_row_ratio_avx512(const sd_ratio_row *r, float *out)
{
    const sd_plane *pl = r->a;
    if (r->step != 4 || (uint64_t)pl->h * pl->stride > INT32_MAX)
        return sd_row_ratio_scalar(r, out);
    const double *m = r->m;
    const double y = r->y;
    /* the reference's (m0 x + m1 y) + m2: m1 y is one product per row */
    const __m512d m0 = _mm512_set1_pd(m[0]), m3 = _mm512_set1_pd(m[3]);
    const __m512d ry = _mm512_set1_pd(m[1] * y), rv = _mm512_set1_pd(m[4] * y);
    const __m512d m2 = _mm512_set1_pd(m[2]), m5 = _mm512_set1_pd(m[5]);
    const double wmax = pl->w - 1, hmax = pl->h - 1;
    const __m256i w1 = _mm256_set1_epi32(pl->w), h1 = _mm256_set1_epi32(pl->h);
    const __m256i one = _mm256_set1_epi32(1), stride = _mm256_set1_epi32((int)pl->stride);
    const __m512d dark = _mm512_set1_pd(r->dark);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i want = _mm512_set1_epi32(r->in_val);
    int k = 0;
    for (int i = 0; i < r->n; i += 16) {
        const int left = r->n - i;
        const __mmask16 live = left >= 16 ? 0xffff : (__mmask16)((1u << left) - 1);
        /* the ROI byte of each sample (bytes 4 apart; only those read) */
        uint64_t bytes = 0x1111111111111111ull;
        if (left < 16)
            bytes &= (1ull << (4 * left)) - 1;
        const __m512i in = _mm512_maskz_loadu_epi8(bytes, r->in + 4 * (size_t)i);
        __mmask16 use = _mm512_mask_cmpeq_epi32_mask(live, in, want);
        if (!use)
            continue;
        /* x = x0 + 4 (i + lane), exact in double */
        const __m512i xi = _mm512_add_epi32(_mm512_set1_epi32(r->x0 + 4 * i),
                                            _mm512_slli_epi32(lane, 2));
        __m256 q[2];
        for (int hf = 0; hf < 2; hf++) {
            const __m512d x = _mm512_cvtepi32_pd(hf ? _mm512_extracti64x4_epi64(xi, 1)
                                                    : _mm512_castsi512_si256(xi));
            const __m512d u = _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(m0, x), ry), m2);
            const __m512d v = _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(m3, x), rv), m5);
            /* sd_plane_bilinear */
            const __m512d lx = level_coord(u, r->ox, r->c, r->inv, wmax);
            const __m512d ly = level_coord(v, r->oy, r->c, r->inv, hmax);
            const __m256i x0 = _mm512_cvttpd_epi32(lx), y0 = _mm512_cvttpd_epi32(ly);
            const __m256i x1 = _mm256_mask_add_epi32(x0, _mm256_cmplt_epi32_mask(
                                                             _mm256_add_epi32(x0, one), w1),
                                                     x0, one);
            const __m256i y1 = _mm256_mask_add_epi32(y0, _mm256_cmplt_epi32_mask(
                                                             _mm256_add_epi32(y0, one), h1),
                                                     y0, one);
            const __m256 fx = _mm512_cvtpd_ps(_mm512_sub_pd(lx, _mm512_cvtepi32_pd(x0)));
            const __m256 fy = _mm512_cvtpd_ps(_mm512_sub_pd(ly, _mm512_cvtepi32_pd(y0)));
            const __m256i o0 = _mm256_mullo_epi32(y0, stride), o1 = _mm256_mullo_epi32(y1, stride);
            const __mmask8 g = (__mmask8)(use >> (8 * hf));
            const __m256 z = _mm256_setzero_ps();
            const __m256 p00 = _mm256_mmask_i32gather_ps(z, g, _mm256_add_epi32(o0, x0), pl->p, 4);
            const __m256 p01 = _mm256_mmask_i32gather_ps(z, g, _mm256_add_epi32(o0, x1), pl->p, 4);
            const __m256 p10 = _mm256_mmask_i32gather_ps(z, g, _mm256_add_epi32(o1, x0), pl->p, 4);
            const __m256 p11 = _mm256_mmask_i32gather_ps(z, g, _mm256_add_epi32(o1, x1), pl->p, 4);
            const __m256 top = _mm256_add_ps(p00, _mm256_mul_ps(fx, _mm256_sub_ps(p01, p00)));
            const __m256 bot = _mm256_add_ps(p10, _mm256_mul_ps(fx, _mm256_sub_ps(p11, p10)));
            const __m512d av =
                _mm512_cvtps_pd(_mm256_add_ps(top, _mm256_mul_ps(fy, _mm256_sub_ps(bot, top))));
            const __m512d bv = _mm512_cvtps_pd(
                _mm256_maskz_loadu_ps((__mmask8)(live >> (8 * hf)), r->b + i + 8 * hf));
            /* the reference's b < dark || a < dark, in double */
            const __mmask8 keep = _mm512_cmp_pd_mask(bv, dark, _CMP_NLT_UQ) &
                                  _mm512_cmp_pd_mask(av, dark, _CMP_NLT_UQ);
            use &= (__mmask16)~((unsigned)(__mmask8)~keep << (8 * hf));
            q[hf] = _mm512_cvtpd_ps(_mm512_div_pd(bv, av));
        }
        const __m512 qq = _mm512_insertf32x8(_mm512_castps256_ps512(q[0]), q[1], 1);
        _mm512_mask_compressstoreu_ps(out + k, use, qq);
        k += __builtin_popcount(use);
    }
    return k;
}
#endif

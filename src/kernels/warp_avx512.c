/* AVX-512 bilinear warp row kernel: 8 pixels per step in 8 double lanes,
 * the scalar reference's arithmetic operation for operation (bit-identical).
 *
 * Fetch: for each pixel, one 16-byte load per source row at its left
 * neighbour gives R0 G0 B0 R1 G1 B1 (and two spare samples): the left and
 * right neighbours at once. A point on the last column (clamped to w - 1,
 * so ax = 0) is taken as column w - 2 with ax = 1: p00 + 1 (p01 - p00) is
 * p01 exactly (integers), the value the reference computes. The eight loads
 * of a row are transposed into planes R0, G0, ... by two 16-bit permutes.
 * A step whose loads could pass the end of the image (the last row's last
 * pixels) and sources one pixel wide go to the scalar kernel, which gives
 * the same bits by definition. Gathers were not used: slow on this machine
 * (docs/kernels.md "Gathers"). The 24 output samples are interleaved by one
 * 16-bit permute and written with one masked store, tails included. */
#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

/* the 8 samples s of one 8-pixel plane, in double */
static inline __m512d plane(__m512i z, int s)
{
    __m128i w;
    switch (s) {
    case 0: w = _mm512_castsi512_si128(z); break;
    case 1: w = _mm512_extracti32x4_epi32(z, 1); break;
    case 2: w = _mm512_extracti32x4_epi32(z, 2); break;
    default: w = _mm512_extracti32x4_epi32(z, 3); break;
    }
    return _mm512_cvtepi32_pd(_mm256_cvtepu16_epi32(w));
}

void sd_row_warp_avx512(const sd_image *src, const sd_xform *xf, int y, int x0, int n,
                        uint16_t *out)
{
    const int sw = src->width, sh = src->height;
    const size_t stride = src->stride;
    const size_t end = (size_t)(sh - 1) * stride + 3 * (size_t)sw; /* samples in the image */
    if (sw < 2 || end < 8 || stride > UINT32_MAX) {
        sd_row_warp_scalar(src, xf, y, x0, n, out);
        return;
    }
    const uint16_t *px = src->px;
    const double *m = xf->m;
    /* fx = (m0 x + m1 y) + m2, as sd_xform_apply, with m1 y once per row */
    const __m512d m0 = _mm512_set1_pd(m[0]), m3 = _mm512_set1_pd(m[3]);
    const __m512d ty0 = _mm512_set1_pd(m[1] * (double)y), ty1 = _mm512_set1_pd(m[4] * (double)y);
    const __m512d m2 = _mm512_set1_pd(m[2]), m5 = _mm512_set1_pd(m[5]);
    const __m512d lo = _mm512_set1_pd(-0.5), hix = _mm512_set1_pd(sw - 0.5),
                  hiy = _mm512_set1_pd(sh - 0.5), zero = _mm512_setzero_pd(),
                  one = _mm512_set1_pd(1.0), maxx = _mm512_set1_pd((double)(sw - 1)),
                  maxy = _mm512_set1_pd((double)(sh - 1));
    const __m512d lane = _mm512_set_pd(7, 6, 5, 4, 3, 2, 1, 0);
    const __m256i lastx = _mm256_set1_epi32(sw - 1), lasty = _mm256_set1_epi32(sh - 1),
                  ione = _mm256_set1_epi32(1);
    /* a 16-byte load at offset o reads samples o .. o + 7 */
    const __m512i vstride = _mm512_set1_epi64((long long)stride),
                  vlast = _mm512_set1_epi64((long long)(end - 8));
    /* pixel j's load is words 8j .. 8j + 7 of the pair (A, B); plane s
     * (R0 G0 B0 R1 | G1 B1) holds word s of every pixel: word 8j + s */
    const __m512i tr0 = _mm512_set_epi16(59, 51, 43, 35, 27, 19, 11, 3, 58, 50, 42, 34, 26, 18, 10,
                                         2, 57, 49, 41, 33, 25, 17, 9, 1, 56, 48, 40, 32, 24, 16,
                                         8, 0);
    const __m512i tr1 = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 61, 53,
                                         45, 37, 29, 21, 13, 5, 60, 52, 44, 36, 28, 20, 12, 4);
    /* word k of the output (pixel k / 3, channel k % 3) is word
     * 8 (k % 3) + k / 3 of R | G | B */
    const __m512i perm = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 23, 15, 7, 22, 14, 6, 21, 13, 5,
                                          20, 12, 4, 19, 11, 3, 18, 10, 2, 17, 9, 1, 16, 8, 0);
    _Alignas(64) uint64_t op[8], oq[8];
    const uintptr_t pf = sd_warp_prefetch_base(src, xf);
    const int pstep = sd_warp_prefetch_step(xf);
    for (int i = 0; i < n; i += 8) {
        const int cnt = n - i < 8 ? n - i : 8;
        const __m512d xd = _mm512_add_pd(_mm512_set1_pd((double)(x0 + i)), lane);
        __m512d fx = _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(m0, xd), ty0), m2);
        __m512d fy = _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(m3, xd), ty1), m5);
        const __mmask8 in = _mm512_cmp_pd_mask(fx, lo, _CMP_GE_OQ) &
                            _mm512_cmp_pd_mask(fx, hix, _CMP_LE_OQ) &
                            _mm512_cmp_pd_mask(fy, lo, _CMP_GE_OQ) &
                            _mm512_cmp_pd_mask(fy, hiy, _CMP_LE_OQ);
        /* clamp (NaN and far-outside lanes too, so every lane reads inside
         * the image; their results are dropped) */
        fx = _mm512_min_pd(_mm512_max_pd(fx, zero), maxx);
        fy = _mm512_min_pd(_mm512_max_pd(fy, zero), maxy);
        __m256i vx = _mm512_cvttpd_epi32(fx);
        const __m256i vy = _mm512_cvttpd_epi32(fy);
        __m512d ax = _mm512_sub_pd(fx, _mm512_cvtepi32_pd(vx));
        const __m512d ay = _mm512_sub_pd(fy, _mm512_cvtepi32_pd(vy));
        const __mmask8 edge = _mm256_cmpeq_epi32_mask(vx, lastx);
        vx = _mm256_mask_sub_epi32(vx, edge, vx, ione);
        ax = _mm512_mask_mov_pd(ax, edge, one);
        /* sample offsets of the two source rows, in 64-bit lanes */
        const __m512i ix64 = _mm512_cvtepi32_epi64(vx), iy64 = _mm512_cvtepi32_epi64(vy);
        const __m512i opv = _mm512_add_epi64(_mm512_mul_epu32(iy64, vstride),
                                             _mm512_add_epi64(ix64, _mm512_add_epi64(ix64, ix64)));
        const __m512i oqv = _mm512_mask_add_epi64(opv, _mm256_cmplt_epi32_mask(vy, lasty), opv,
                                                  vstride);
        if (_mm512_cmpgt_epu64_mask(oqv, vlast)) { /* a load could pass the end */
            sd_row_warp_scalar(src, xf, y, x0 + i, cnt, out + 3 * (size_t)i);
            continue;
        }
        _mm512_store_si512(op, opv);
        _mm512_store_si512(oq, oqv);
        _mm_prefetch((const char *)(pf + 2 * op[0]), _MM_HINT_T0);
        for (int l = 0; l < 8; l += pstep)
            _mm_prefetch((const char *)(pf + 2 * oq[l]), _MM_HINT_T0);
        _mm_prefetch((const char *)(pf + 2 * oq[7]), _MM_HINT_T0);
        __m512i a0 = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(px + op[0])));
        __m512i b0 = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(px + op[4])));
        __m512i a1 = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(px + oq[0])));
        __m512i b1 = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(px + oq[4])));
        a0 = _mm512_inserti32x4(a0, _mm_loadu_si128((const __m128i *)(px + op[1])), 1);
        b0 = _mm512_inserti32x4(b0, _mm_loadu_si128((const __m128i *)(px + op[5])), 1);
        a1 = _mm512_inserti32x4(a1, _mm_loadu_si128((const __m128i *)(px + oq[1])), 1);
        b1 = _mm512_inserti32x4(b1, _mm_loadu_si128((const __m128i *)(px + oq[5])), 1);
        a0 = _mm512_inserti32x4(a0, _mm_loadu_si128((const __m128i *)(px + op[2])), 2);
        b0 = _mm512_inserti32x4(b0, _mm_loadu_si128((const __m128i *)(px + op[6])), 2);
        a1 = _mm512_inserti32x4(a1, _mm_loadu_si128((const __m128i *)(px + oq[2])), 2);
        b1 = _mm512_inserti32x4(b1, _mm_loadu_si128((const __m128i *)(px + oq[6])), 2);
        a0 = _mm512_inserti32x4(a0, _mm_loadu_si128((const __m128i *)(px + op[3])), 3);
        b0 = _mm512_inserti32x4(b0, _mm_loadu_si128((const __m128i *)(px + op[7])), 3);
        a1 = _mm512_inserti32x4(a1, _mm_loadu_si128((const __m128i *)(px + oq[3])), 3);
        b1 = _mm512_inserti32x4(b1, _mm_loadu_si128((const __m128i *)(px + oq[7])), 3);
        /* top row: R0 G0 B0 R1 | G1 B1; bottom row the same */
        const __m512i t0 = _mm512_permutex2var_epi16(a0, tr0, b0);
        const __m512i t1 = _mm512_permutex2var_epi16(a0, tr1, b0);
        const __m512i u0 = _mm512_permutex2var_epi16(a1, tr0, b1);
        const __m512i u1 = _mm512_permutex2var_epi16(a1, tr1, b1);
        __m128i ch[3];
        for (int c = 0; c < 3; c++) {
            const __m512d p00 = plane(t0, c), p10 = plane(u0, c);
            const __m512d p01 = c == 0 ? plane(t0, 3) : plane(t1, c - 1);
            const __m512d p11 = c == 0 ? plane(u0, 3) : plane(u1, c - 1);
            const __m512d top = _mm512_add_pd(p00, _mm512_mul_pd(ax, _mm512_sub_pd(p01, p00)));
            const __m512d bot = _mm512_add_pd(p10, _mm512_mul_pd(ax, _mm512_sub_pd(p11, p10)));
            const __m512d v = _mm512_add_pd(top, _mm512_mul_pd(ay, _mm512_sub_pd(bot, top)));
            /* round to nearest even (the MXCSR mode, as lrint); v is in
             * [0, 65535] (each blend lies between its two operands, which
             * rounding keeps), so the reference's clamp changes nothing */
            ch[c] = _mm256_cvtepi32_epi16(_mm512_cvtpd_epi32(_mm512_maskz_mov_pd(in, v)));
        }
        __m512i rgb = _mm512_castsi128_si512(ch[0]);
        rgb = _mm512_inserti32x4(rgb, ch[1], 1);
        rgb = _mm512_inserti32x4(rgb, ch[2], 2);
        _mm512_mask_storeu_epi16(out + 3 * (size_t)i, (__mmask32)((1u << (3 * cnt)) - 1),
                                 _mm512_permutexvar_epi16(perm, rgb));
    }
}
#endif

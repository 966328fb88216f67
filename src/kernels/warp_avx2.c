/* AVX2 bilinear warp row kernel: 4 pixels per step in 4 double lanes, the
 * scalar reference's arithmetic operation for operation (bit-identical).
 * The fetch is warp_avx512.c's: one 16-byte load per pixel and source row
 * (left and right neighbours at once; the last column taken as w - 2 with
 * ax = 1), transposed into planes by 16- and 32-bit unpacks; steps whose
 * loads could pass the end of the image, and one-pixel-wide sources, go to
 * the scalar kernel; prefetch of the rows further down as there. */
#include <string.h>

#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

/* words 0..3 (hi = 0) or 4..7 (hi = 1) of q, in double */
static inline __m256d half(__m128i q, int hi)
{
    return _mm256_cvtepi32_pd(_mm_cvtepu16_epi32(hi ? _mm_unpackhi_epi64(q, q) : q));
}

void sd_row_warp_avx2(const sd_image *src, const sd_xform *xf, int y, int x0, int n,
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
    const __m256d m0 = _mm256_set1_pd(m[0]), m3 = _mm256_set1_pd(m[3]);
    const __m256d ty0 = _mm256_set1_pd(m[1] * (double)y), ty1 = _mm256_set1_pd(m[4] * (double)y);
    const __m256d m2 = _mm256_set1_pd(m[2]), m5 = _mm256_set1_pd(m[5]);
    const __m256d lo = _mm256_set1_pd(-0.5), hix = _mm256_set1_pd(sw - 0.5),
                  hiy = _mm256_set1_pd(sh - 0.5), zero = _mm256_setzero_pd(),
                  one = _mm256_set1_pd(1.0),
                  maxx = _mm256_set1_pd((double)(sw - 1)), maxy = _mm256_set1_pd((double)(sh - 1));
    const __m256d lane = _mm256_set_pd(3, 2, 1, 0);
    const __m128i lastx = _mm_set1_epi32(sw - 1), lasty = _mm_set1_epi32(sh - 1);
    /* a 16-byte load at offset o reads samples o .. o + 7 */
    const __m256i vstride = _mm256_set1_epi64x((long long)stride),
                  vlast = _mm256_set1_epi64x((long long)(end - 8));
    /* interleave rg = R0..R3 G0..G3 and bb = B0..B3 B0..B3 (16-bit) into
     * R0 G0 B0 R1 G1 B1 R2 G2 | B2 R3 G3 B3 (-1: zero, filled by the other) */
    const __m128i s_rg0 = _mm_setr_epi8(0, 1, 8, 9, -1, -1, 2, 3, 10, 11, -1, -1, 4, 5, 12, 13);
    const __m128i s_bb0 = _mm_setr_epi8(-1, -1, -1, -1, 0, 1, -1, -1, -1, -1, 2, 3, -1, -1, -1, -1);
    const __m128i s_rg1 = _mm_setr_epi8(-1, -1, 6, 7, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i s_bb1 = _mm_setr_epi8(4, 5, -1, -1, -1, -1, 6, 7, -1, -1, -1, -1, -1, -1, -1, -1);
    _Alignas(32) uint64_t op[4], oq[4];
    const uintptr_t pf = sd_warp_prefetch_base(src, xf);
    const int pstep = sd_warp_prefetch_step(xf);
    for (int i = 0; i < n; i += 4) {
        const int cnt = n - i < 4 ? n - i : 4;
        const __m256d xd = _mm256_add_pd(_mm256_set1_pd((double)(x0 + i)), lane);
        __m256d fx = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(m0, xd), ty0), m2);
        __m256d fy = _mm256_add_pd(_mm256_add_pd(_mm256_mul_pd(m3, xd), ty1), m5);
        const __m256d in = _mm256_and_pd(
            _mm256_and_pd(_mm256_cmp_pd(fx, lo, _CMP_GE_OQ), _mm256_cmp_pd(fx, hix, _CMP_LE_OQ)),
            _mm256_and_pd(_mm256_cmp_pd(fy, lo, _CMP_GE_OQ), _mm256_cmp_pd(fy, hiy, _CMP_LE_OQ)));
        /* clamp (NaN and far-outside lanes too, so every lane reads inside
         * the image; their results are dropped) */
        fx = _mm256_min_pd(_mm256_max_pd(fx, zero), maxx);
        fy = _mm256_min_pd(_mm256_max_pd(fy, zero), maxy);
        __m128i vx = _mm256_cvttpd_epi32(fx);
        const __m128i vy = _mm256_cvttpd_epi32(fy);
        __m256d ax = _mm256_sub_pd(fx, _mm256_cvtepi32_pd(vx));
        const __m256d ay = _mm256_sub_pd(fy, _mm256_cvtepi32_pd(vy));
        /* the last column as w - 2 with ax = 1 (see warp_avx512.c) */
        const __m128i edge = _mm_cmpeq_epi32(vx, lastx);
        vx = _mm_add_epi32(vx, edge);
        ax = _mm256_blendv_pd(ax, one, _mm256_castsi256_pd(_mm256_cvtepi32_epi64(edge)));
        /* sample offsets of the two source rows, in 64-bit lanes */
        const __m256i ix64 = _mm256_cvtepi32_epi64(vx);
        const __m256i opv = _mm256_add_epi64(_mm256_mul_epu32(_mm256_cvtepi32_epi64(vy), vstride),
                                             _mm256_add_epi64(ix64, _mm256_add_epi64(ix64, ix64)));
        const __m256i oqv = _mm256_add_epi64(
            opv, _mm256_and_si256(vstride, _mm256_cvtepi32_epi64(_mm_cmplt_epi32(vy, lasty))));
        if (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpgt_epi64(oqv, vlast)))) {
            sd_row_warp_scalar(src, xf, y, x0 + i, cnt, out + 3 * (size_t)i);
            continue;
        }
        _mm256_store_si256((__m256i *)op, opv);
        _mm256_store_si256((__m256i *)oq, oqv);
        _mm_prefetch((const char *)(pf + 2 * op[0]), _MM_HINT_T0);
        for (int l = 0; l < 4; l += pstep)
            _mm_prefetch((const char *)(pf + 2 * oq[l]), _MM_HINT_T0);
        _mm_prefetch((const char *)(pf + 2 * oq[3]), _MM_HINT_T0);
        /* per pixel R0 G0 B0 R1 G1 B1 . . -> planes, four pixels a..d:
         * q0 = R0 | G0, q1 = B0 | R1, q2 = G1 | B1 (4 words each) */
        __m128i q[2][3];
        for (int r = 0; r < 2; r++) {
            const uint64_t *o = r ? oq : op;
            const __m128i a = _mm_loadu_si128((const __m128i *)(px + o[0]));
            const __m128i b = _mm_loadu_si128((const __m128i *)(px + o[1]));
            const __m128i c = _mm_loadu_si128((const __m128i *)(px + o[2]));
            const __m128i d = _mm_loadu_si128((const __m128i *)(px + o[3]));
            const __m128i l01 = _mm_unpacklo_epi16(a, b), h01 = _mm_unpackhi_epi16(a, b);
            const __m128i l23 = _mm_unpacklo_epi16(c, d), h23 = _mm_unpackhi_epi16(c, d);
            q[r][0] = _mm_unpacklo_epi32(l01, l23);
            q[r][1] = _mm_unpackhi_epi32(l01, l23);
            q[r][2] = _mm_unpacklo_epi32(h01, h23);
        }
        __m128i ch[3];
        for (int c = 0; c < 3; c++) {
            /* sample s of the row's six is half s % 2 of q[s / 2] */
            const __m256d p00 = half(q[0][c / 2], c % 2), p10 = half(q[1][c / 2], c % 2);
            const __m256d p01 = half(q[0][(c + 3) / 2], (c + 3) % 2);
            const __m256d p11 = half(q[1][(c + 3) / 2], (c + 3) % 2);
            const __m256d top = _mm256_add_pd(p00, _mm256_mul_pd(ax, _mm256_sub_pd(p01, p00)));
            const __m256d bot = _mm256_add_pd(p10, _mm256_mul_pd(ax, _mm256_sub_pd(p11, p10)));
            const __m256d v = _mm256_add_pd(top, _mm256_mul_pd(ay, _mm256_sub_pd(bot, top)));
            /* round to nearest even (the MXCSR mode, as lrint); v is in
             * [0, 65535] (see warp_avx512.c), the packs below keep it */
            ch[c] = _mm256_cvtpd_epi32(_mm256_and_pd(v, in));
        }
        const __m128i rg = _mm_packus_epi32(ch[0], ch[1]), bb = _mm_packus_epi32(ch[2], ch[2]);
        const __m128i o0 = _mm_or_si128(_mm_shuffle_epi8(rg, s_rg0), _mm_shuffle_epi8(bb, s_bb0));
        const __m128i o1 = _mm_or_si128(_mm_shuffle_epi8(rg, s_rg1), _mm_shuffle_epi8(bb, s_bb1));
        uint16_t *d = out + 3 * (size_t)i;
        if (cnt == 4) {
            _mm_storeu_si128((__m128i *)d, o0);
            _mm_storel_epi64((__m128i *)(d + 8), o1);
        } else {
            _Alignas(16) uint16_t tmp[12];
            _mm_store_si128((__m128i *)tmp, o0);
            _mm_storel_epi64((__m128i *)(tmp + 8), o1);
            memcpy(d, tmp, sizeof(uint16_t) * 3 * (size_t)cnt);
        }
    }
}
#endif

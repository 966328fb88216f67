/* AVX-512 colour and accumulation row kernels (16 float / 8 double lanes).
 * Colour: the operations of pixel_avx2.c in the same order on 16 lanes, so
 * the two agree bit for bit; luminance: the LUT read by gathers;
 * accumulations: masked adds, one reduction per call. */
#include <string.h>

#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

/* cube root of 16 positive normal floats without a division: see cbrt8 in
 * pixel_avx2.c (the same operations in the same order) */
static inline __m512 cbrt16(__m512 t)
{
    const __m512 third = _mm512_set1_ps(1.0f / 3.0f), four = _mm512_set1_ps(4.0f);
    const __m512 fi = _mm512_cvtepi32_ps(_mm512_castps_si512(t));
    __m512 r = _mm512_castsi512_ps(_mm512_sub_epi32(_mm512_set1_epi32(SD_RCBRT_MAGIC),
                                                    _mm512_cvttps_epi32(_mm512_mul_ps(fi, third))));
    for (int k = 0; k < 2; k++) {
        const __m512 r3 = _mm512_mul_ps(_mm512_mul_ps(r, r), r);
        r = _mm512_mul_ps(_mm512_mul_ps(r, _mm512_sub_ps(four, _mm512_mul_ps(t, r3))), third);
    }
    const __m512 r2 = _mm512_mul_ps(r, r);
    const __m512 c = _mm512_mul_ps(t, r2);
    const __m512 c3 = _mm512_mul_ps(_mm512_mul_ps(c, c), c);
    return _mm512_sub_ps(c, _mm512_mul_ps(_mm512_sub_ps(c3, t), _mm512_mul_ps(r2, third)));
}

static inline __m512 labf16(__m512 t)
{
    const __m512 eps = _mm512_set1_ps(SD_LAB_EPS_F);
    __m512 lin = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(SD_LAB_KAPPA_F / 116.0f), t),
                               _mm512_set1_ps(16.0f / 116.0f));
    __m512 c = cbrt16(_mm512_max_ps(t, eps));
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(t, eps, _CMP_GT_OQ), lin, c);
}

/* The linear R, G, B (gains applied, g * lut[s], as the scalar reference)
 * of the m <= 16 interleaved pixels at p; lanes past m read lut[0] = 0.
 * The 3 m samples come in by two masked loads, are split into the three
 * channels as 32-bit indices by a word permute that zeroes the odd words,
 * then gathered from the LUT. */
static inline void linear16(const uint16_t *p, int m, const float *lut, const __m512 gain[3],
                            __m512 out[3])
{
    static const uint16_t idx[3][32] = {
        {0, 0, 3, 0, 6, 0, 9, 0, 12, 0, 15, 0, 18, 0, 21, 0,
         24, 0, 27, 0, 30, 0, 33, 0, 36, 0, 39, 0, 42, 0, 45, 0},
        {1, 0, 4, 0, 7, 0, 10, 0, 13, 0, 16, 0, 19, 0, 22, 0,
         25, 0, 28, 0, 31, 0, 34, 0, 37, 0, 40, 0, 43, 0, 46, 0},
        {2, 0, 5, 0, 8, 0, 11, 0, 14, 0, 17, 0, 20, 0, 23, 0,
         26, 0, 29, 0, 32, 0, 35, 0, 38, 0, 41, 0, 44, 0, 47, 0}};
    const int nw = 3 * m;
    const __mmask32 k0 = nw >= 32 ? 0xffffffffu : (__mmask32)((1u << nw) - 1);
    const __mmask32 k1 = nw > 32 ? (__mmask32)((1u << (nw - 32)) - 1) : 0;
    const __m512i lo = _mm512_maskz_loadu_epi16(k0, p), hi = _mm512_maskz_loadu_epi16(k1, p + 32);
    _mm_prefetch((const char *)(p + 3 * SD_RGB_PREFETCH), _MM_HINT_T0);
    _mm_prefetch((const char *)(p + 3 * SD_RGB_PREFETCH + 32), _MM_HINT_T0);
    for (int c = 0; c < 3; c++) {
        const __m512i s = _mm512_maskz_permutex2var_epi16(
            0x55555555u, lo, _mm512_loadu_si512((const void *)idx[c]), hi);
        out[c] = _mm512_mul_ps(gain[c], _mm512_i32gather_ps(s, lut, 4));
    }
}

static inline __mmask16 tail16(int left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static inline __mmask8 tail8(int left)
{
    return left >= 8 ? 0xff : left <= 0 ? 0 : (__mmask8)((1u << left) - 1);
}

/* Y = (YR R + YG G) + YB B, mul then add (the scalar order) */
static inline __m512 luma16(const __m512 c[3])
{
    return _mm512_add_ps(
        _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps((float)SD_XYZ_YR), c[0]),
                      _mm512_mul_ps(_mm512_set1_ps((float)SD_XYZ_YG), c[1])),
        _mm512_mul_ps(_mm512_set1_ps((float)SD_XYZ_YB), c[2]));
}

void sd_row_luminance_avx512(const uint16_t *rgb, int n, const float g[3], float *y)
{
    const float *lut = sd_srgb16_lut();
    const __m512 gain[3] = {_mm512_set1_ps(g[0]), _mm512_set1_ps(g[1]), _mm512_set1_ps(g[2])};
    for (int x = 0; x < n; x += 16) {
        __m512 c[3];
        linear16(rgb + 3 * (size_t)x, n - x < 16 ? n - x : 16, lut, gain, c);
        _mm512_mask_storeu_ps(y + x, tail16(n - x), luma16(c));
    }
}

/* X / Xn without a division, bit for bit the quotient (SD_LAB_XN_INV) */
static inline __m512 div_xn16(__m512 x)
{
    const __m512 xn = _mm512_set1_ps(SD_LAB_XN), inv = _mm512_set1_ps(SD_LAB_XN_INV);
    const __m512 q = _mm512_mul_ps(x, inv);
    return _mm512_fmadd_ps(_mm512_fnmadd_ps(q, xn, x), inv, q);
}

/* The colour of m <= SD_COLOUR_BLOCK pixels from their linear values
 * r, gc, b (arrays of SD_COLOUR_BLOCK, padded past m): the outputs at lam,
 * a, e, y [0, m). Shared by the 16-bit and the byte kernels. */
static void colour_block(float *r, float *gc, float *b, int m, float *lam, float *a, float *e,
                         float *y)
{
    enum { B = SD_COLOUR_BLOCK };
    float t[B], lr[B];
    const __m512 yr = _mm512_set1_ps((float)SD_XYZ_YR), yg = _mm512_set1_ps((float)SD_XYZ_YG),
                 yb = _mm512_set1_ps((float)SD_XYZ_YB), xr = _mm512_set1_ps((float)SD_XYZ_XR),
                 xg = _mm512_set1_ps((float)SD_XYZ_XG), xb = _mm512_set1_ps((float)SD_XYZ_XB),
                 leps = _mm512_set1_ps((float)SD_LAMBDA_EPS),
                 reps = _mm512_set1_ps(SD_ERY_EPS), c500 = _mm512_set1_ps(500.0f);
    const int mv = (m + 15) & ~15;
    for (int i = m; i < mv; i++)
        r[i] = gc[i] = b[i] = 0.5f;
    for (int i = 0; i < mv; i += 16) {
        __m512 R = _mm512_loadu_ps(r + i), G = _mm512_loadu_ps(gc + i),
               Bl = _mm512_loadu_ps(b + i);
        __m512 Y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(yr, R), _mm512_mul_ps(yg, G)),
                                 _mm512_mul_ps(yb, Bl));
        __m512 X = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(xr, R), _mm512_mul_ps(xg, G)),
                                 _mm512_mul_ps(xb, Bl));
        __m512 A = _mm512_mul_ps(c500, _mm512_sub_ps(labf16(div_xn16(X)), labf16(Y)));
        _mm512_storeu_ps(t + i, _mm512_add_ps(Y, leps));
        if (e) /* the ratio of the clamped R and G, rounded as scalar's */
            _mm512_storeu_ps(lr + i, _mm512_div_ps(_mm512_max_ps(R, reps), _mm512_max_ps(G, reps)));
        const __mmask16 k = tail16(m - i);
        _mm512_mask_storeu_ps(a + i, k, A);
        _mm512_mask_storeu_ps(y + i, k, Y);
    }
    if (lam)
        sd_row_log_avx512(t, m, lam);
    if (e) {
        sd_row_log_avx512(lr, mv, lr);
        const __m512 c = _mm512_set1_ps((float)(100.0 / 2.302585092994045684));
        for (int i = 0; i < mv; i += 16) {
            const __mmask16 k = tail16(m - i);
            _mm512_mask_storeu_ps(e + i, k, _mm512_mul_ps(c, _mm512_loadu_ps(lr + i)));
        }
    }
}

void sd_row_luminance8_avx512(const uint8_t *rgb, int n, const float g[3], float *y)
{
    sd_row_luminance8_widened(rgb, n, g, y, sd_row_luminance_avx512);
}

void sd_row_colour_avx512(const uint16_t *rgb, int n, const float g[3], float *lam, float *a,
                          float *e, float *y)
{
    sd_row_colour_blocks(rgb, n, g, lam, a, e, y, colour_block);
}

/* The same from bytes: the linear values by scalar reads of the L1 tables */
void sd_row_colour8_avx512(const uint8_t *rgb, int n, const float g[3], float *lam, float *a,
                           float *e, float *y)
{
    sd_row_colour8_blocks(rgb, n, g, lam, a, e, y, colour_block);
}

static inline __mmask8 flag_mask8(const uint8_t *f, __mmask16 lanes, unsigned bit)
{
    __m128i v = _mm_maskz_loadu_epi8(lanes, f);
    return (__mmask8)_mm_test_epi8_mask(v, _mm_set1_epi8((char)bit));
}

void sd_row_acc_avx512(const float *a, const float *b, const uint8_t *f, unsigned bit, int n,
                       double acc[3])
{
    const __m512d sign = _mm512_set1_pd(-0.0);
    __m512d s = _mm512_setzero_pd(), sa = s, s2 = s;
    for (int x = 0; x < n; x += 8) {
        const __mmask8 lanes = tail8(n - x);
        __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, a + x));
        if (b)
            v = _mm512_sub_pd(v, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, b + x)));
        const __mmask8 k = flag_mask8(f + x, lanes, bit);
        s = _mm512_mask_add_pd(s, k, s, v);
        sa = _mm512_mask_add_pd(sa, k, sa, _mm512_andnot_pd(sign, v));
        s2 = _mm512_mask_add_pd(s2, k, s2, _mm512_mul_pd(v, v));
    }
    acc[0] += _mm512_reduce_add_pd(s);
    acc[1] += _mm512_reduce_add_pd(sa);
    acc[2] += _mm512_reduce_add_pd(s2);
}

void sd_row_sum_avx512(const float *a, const uint8_t *f, unsigned bit, int n, double *sum)
{
    __m512d s = _mm512_setzero_pd();
    for (int x = 0; x < n; x += 8) {
        const __mmask8 lanes = tail8(n - x);
        const __m512d v = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, a + x));
        s = _mm512_mask_add_pd(s, flag_mask8(f + x, lanes, bit), s, v);
    }
    *sum += _mm512_reduce_add_pd(s);
}

/* The Laplacian of the eight (lanes) pixels at row[0 ..] in double, in the
 * scalar order: ((up + dn) + left) + right - 4 centre. */
static inline __m512d lap8(const float *up, const float *row, const float *dn, __mmask8 lanes)
{
    __m512d l = _mm512_add_pd(_mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, up)),
                              _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, dn)));
    l = _mm512_add_pd(l, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, row - 1)));
    l = _mm512_add_pd(l, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, row + 1)));
    return _mm512_sub_pd(
        l, _mm512_mul_pd(_mm512_set1_pd(4.0), _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, row))));
}

void sd_row_lap_acc_avx512(const float *up, const float *row, const float *dn,
                           const uint8_t *f, unsigned bit, int n, double acc[2])
{
    __m512d s = _mm512_setzero_pd(), s2 = s;
    for (int x = 0; x < n; x += 8) {
        const __mmask8 lanes = tail8(n - x);
        const __m512d l = lap8(up + x, row + x, dn + x, lanes);
        const __mmask8 k = flag_mask8(f + x, lanes, bit);
        s = _mm512_mask_add_pd(s, k, s, l);
        s2 = _mm512_mask_add_pd(s2, k, s2, _mm512_mul_pd(l, l));
    }
    acc[0] += _mm512_reduce_add_pd(s);
    acc[1] += _mm512_reduce_add_pd(s2);
}
/* one row_acc step (sums s, sa, s2 of the lanes in k) */
#define ACC8(s, sa, s2, k, v)                                                  \
    do {                                                                       \
        s = _mm512_mask_add_pd(s, k, s, v);                                    \
        sa = _mm512_mask_add_pd(sa, k, sa, _mm512_andnot_pd(sign, v));         \
        s2 = _mm512_mask_add_pd(s2, k, s2, _mm512_mul_pd(v, v));               \
    } while (0)

void sd_row_acc3_avx512(const float *lam, const float *gt, const float *up, const float *gs,
                        const float *dn, const uint8_t *f, unsigned bit, int n, double tex[3],
                        double fine[3], double lap[2])
{
    /* the loop bodies of row_acc (twice) and row_lap_acc (its columns x + 1
     * .. x + 8 in the same lanes as x .. x + 7 here); masked adds leave the
     * lanes outside a sum's own flags and tail as they are, so each sum is
     * its separate kernel's */
    const __m512d sign = _mm512_set1_pd(-0.0), four = _mm512_set1_pd(4.0);
    const __m128i vbit = _mm_set1_epi8((char)bit);
    __m512d t = _mm512_setzero_pd(), ta = t, t2 = t, s = t, sa = t, s2 = t, l1 = t, l2 = t;
    const int nl = n - 2;
    int x = 0;
    /* whole vectors of all three: G_s of x .. x + 7 carried from the step
     * before, its columns x + 1 and x + 2 on by lane shifts */
    __m512d g = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(tail8(n), gs));
    for (; x + 8 <= nl; x += 8) {
        const __m256 gn8 = x + 16 <= n ? _mm256_loadu_ps(gs + x + 8)
                                       : _mm256_maskz_loadu_ps(tail8(n - x - 8),
                                                               gs + x + 8);
        const __m512d gn = _mm512_cvtps_pd(gn8);
        const __mmask8 k = (__mmask8)_mm_test_epi8_mask(_mm_loadl_epi64((const __m128i *)(const void *)(f + x)), vbit);
        const __mmask8 kl = (__mmask8)_mm_test_epi8_mask(_mm_loadl_epi64((const __m128i *)(const void *)(f + x + 1)), vbit);
        const __m512d c = _mm512_cvtps_pd(_mm256_loadu_ps(lam + x));
        const __m512d v = _mm512_sub_pd(c, _mm512_cvtps_pd(_mm256_loadu_ps(gt + x)));
        const __m512d u = _mm512_sub_pd(c, g);
        ACC8(t, ta, t2, k, v);
        ACC8(s, sa, s2, k, u);
        const __m512d g1 = _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(gn), _mm512_castpd_si512(g), 1));
        const __m512d g2 = _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(gn), _mm512_castpd_si512(g), 2));
        __m512d l = _mm512_add_pd(_mm512_cvtps_pd(_mm256_loadu_ps(up + x + 1)),
                                  _mm512_cvtps_pd(_mm256_loadu_ps(dn + x + 1)));
        l = _mm512_add_pd(l, g);
        l = _mm512_add_pd(l, g2);
        l = _mm512_sub_pd(l, _mm512_mul_pd(four, g1));
        l1 = _mm512_mask_add_pd(l1, kl, l1, l);
        l2 = _mm512_mask_add_pd(l2, kl, l2, _mm512_mul_pd(l, l));
        g = gn;
    }
    /* the rest with tail masks (each sum its own) */
    for (; x < n; x += 8) {
        const __mmask8 lanes = tail8(n - x);
        const __mmask8 k = flag_mask8(f + x, lanes, bit);
        const __m512d c = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, lam + x));
        const __m512d v = _mm512_sub_pd(c, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, gt + x)));
        const __m512d u = _mm512_sub_pd(c, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, gs + x)));
        ACC8(t, ta, t2, k, v);
        ACC8(s, sa, s2, k, u);
        if (x < nl) {
            const __mmask8 ll = tail8(nl - x);
            const int xl = x + 1;
            const __m512d l = lap8(up + xl, gs + xl, dn + xl, ll);
            const __mmask8 kl = flag_mask8(f + xl, ll, bit);
            l1 = _mm512_mask_add_pd(l1, kl, l1, l);
            l2 = _mm512_mask_add_pd(l2, kl, l2, _mm512_mul_pd(l, l));
        }
    }
    tex[0] += _mm512_reduce_add_pd(t);
    tex[1] += _mm512_reduce_add_pd(ta);
    tex[2] += _mm512_reduce_add_pd(t2);
    fine[0] += _mm512_reduce_add_pd(s);
    fine[1] += _mm512_reduce_add_pd(sa);
    fine[2] += _mm512_reduce_add_pd(s2);
    if (nl > 0) {
        lap[0] += _mm512_reduce_add_pd(l1);
        lap[1] += _mm512_reduce_add_pd(l2);
    }
}
#undef ACC8

void sd_row_sum4_avx512(const float *a, const float *e, const float *lam, const uint8_t *f,
                        unsigned bit, int n, int xs, double *sa, double *se, double *sl,
                        double *sr, const float *t, size_t *above)
{
    /* row_sum's loop for a, e and the left half of lam in the same lanes
     * (the left half's flags are a's, cut at xs), the right half in its
     * own (from column xs) in the same steps; the count in 64-bit lanes */
    const __m512d tv = _mm512_set1_pd(t ? (double)*t : 0.0);
    const __m512i one = _mm512_set1_epi64(1);
    __m512d va = _mm512_setzero_pd(), ve = va, vl = va, vr = va;
    __m512i cnt = _mm512_setzero_si512();
    const int nr = n - xs;
    for (int x = 0; x < n; x += 8) {
        const __mmask8 lanes = tail8(n - x), k = flag_mask8(f + x, lanes, bit);
        const __m512d av = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, a + x));
        va = _mm512_mask_add_pd(va, k, va, av);
        cnt = _mm512_mask_add_epi64(cnt, _mm512_mask_cmp_pd_mask(k, av, tv, _CMP_GT_OQ), cnt, one);
        ve = _mm512_mask_add_pd(ve, k, ve, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lanes, e + x)));
        if (x < xs) {
            const __mmask8 ll = tail8(xs - x);
            vl = _mm512_mask_add_pd(vl, k & ll, vl,
                                    _mm512_cvtps_pd(_mm256_maskz_loadu_ps(ll, lam + x)));
        }
        if (x < nr) {
            const __mmask8 lr = tail8(nr - x);
            vr = _mm512_mask_add_pd(vr, flag_mask8(f + xs + x, lr, bit), vr,
                                    _mm512_cvtps_pd(_mm256_maskz_loadu_ps(lr, lam + xs + x)));
        }
    }
    *sa += _mm512_reduce_add_pd(va);
    *se += _mm512_reduce_add_pd(ve);
    *sl += _mm512_reduce_add_pd(vl);
    *sr += _mm512_reduce_add_pd(vr);
    if (t)
        *above += (size_t)_mm512_reduce_add_epi64(cnt);
}
/* ---- histogram and selection (exact: integer keys, and |v - c| in double
 * rounded to float as the scalar reference) ---- */

static inline __m512 absdev16(__m512 v, __m512d c)
{
    const __m512d sign = _mm512_set1_pd(-0.0);
    __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
    __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    lo = _mm512_andnot_pd(sign, _mm512_sub_pd(lo, c));
    hi = _mm512_andnot_pd(sign, _mm512_sub_pd(hi, c));
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

/* sd_fbin of 16 floats */
static inline __m512i bins16(__m512 v)
{
    const __m512i u = _mm512_castps_si512(v);
    const __m512i flip = _mm512_or_si512(_mm512_srai_epi32(u, 31), _mm512_set1_epi32(INT32_MIN));
    return _mm512_srli_epi32(_mm512_xor_si512(u, flip), 16);
}

/* The flagged lanes of the 16 values from x, and in *w those values (or
 * |v - c|): the common front of row_hist and row_select. */
static inline __mmask16 flagged16(const float *v, const uint8_t *f, __m128i vbit, int x, int n,
                                  const double *c, __m512d cv, __m512 *w)
{
    const __mmask16 lanes = tail16(n - x);
    const __mmask16 m =
        _mm_mask_test_epi8_mask(lanes, _mm_maskz_loadu_epi8(lanes, f + x), vbit);
    if (m) {
        *w = _mm512_maskz_loadu_ps(m, v + x);
        if (c)
            *w = absdev16(*w, cv);
    }
    return m;
}

void sd_row_hist_avx512(const float *v, const uint8_t *f, unsigned bit, int n, const double *c,
                        uint32_t *hist)
{
    const __m128i vbit = _mm_set1_epi8((char)bit);
    const __m512d cv = _mm512_set1_pd(c ? *c : 0.0);
    uint32_t b[16];
    for (int x = 0; x < n; x += 16) {
        __m512 w;
        const __mmask16 m = flagged16(v, f, vbit, x, n, c, cv, &w);
        if (!m)
            continue;
        _mm512_storeu_si512(b, bins16(w));
        for (unsigned mm = m; mm; mm &= mm - 1)
            hist[b[__builtin_ctz(mm)]]++;
    }
}

size_t sd_row_select_avx512(const float *v, const uint8_t *f, unsigned bit, int n,
                            const double *c, unsigned b_lo, unsigned b_hi, float *out)
{
    const __m128i vbit = _mm_set1_epi8((char)bit);
    const __m512d cv = _mm512_set1_pd(c ? *c : 0.0);
    const __m512i lo = _mm512_set1_epi32((int)b_lo), span = _mm512_set1_epi32((int)(b_hi - b_lo));
    size_t k = 0;
    for (int x = 0; x < n; x += 16) {
        __m512 w;
        __mmask16 m = flagged16(v, f, vbit, x, n, c, cv, &w);
        if (!m)
            continue;
        m = _mm512_mask_cmple_epu32_mask(m, _mm512_sub_epi32(bins16(w), lo), span);
        if (m) {
            _mm512_mask_compressstoreu_ps(out + k, m, w);
            k += (size_t)__builtin_popcount(m);
        }
    }
    return k;
}

size_t sd_row_hist_select_avx512(const float *v, const uint8_t *f, unsigned bit, int n,
                                 uint32_t *hist, const unsigned (*r)[2], int nr, size_t *below,
                                 float *out)
{
    const __m128i vbit = _mm_set1_epi8((char)bit);
    /* three ranges always, the ones not given empty (b - lo <= span,
     * unsigned, fails for every b when lo = 2^32 - 1 and span = 0) */
    __m512i lo[SD_SELECT_RANGES], span[SD_SELECT_RANGES];
    for (int i = 0; i < SD_SELECT_RANGES; i++) {
        lo[i] = _mm512_set1_epi32(i < nr ? (int)r[i][0] : -1);
        span[i] = _mm512_set1_epi32(i < nr ? (int)(r[i][1] - r[i][0]) : 0);
    }
    uint32_t b[16];
    size_t k = 0;
    /* the counts below each range, in lanes (at most n per lane) */
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0;
    const __m512i one = _mm512_set1_epi32(1);
    for (int x = 0; x < n; x += 16) {
        __m512 w;
        const __mmask16 m = flagged16(v, f, vbit, x, n, NULL, _mm512_setzero_pd(), &w);
        if (!m)
            continue;
        const __m512i bins = bins16(w);
        if (hist) {
            _mm512_storeu_si512(b, bins);
            for (unsigned mm = m; mm; mm &= mm - 1)
                hist[b[__builtin_ctz(mm)]]++;
        }
        if (below) {
            c0 = _mm512_mask_add_epi32(c0, _mm512_mask_cmplt_epu32_mask(m, bins, lo[0]), c0, one);
            c1 = _mm512_mask_add_epi32(c1, _mm512_mask_cmplt_epu32_mask(m, bins, lo[1]), c1, one);
            c2 = _mm512_mask_add_epi32(c2, _mm512_mask_cmplt_epu32_mask(m, bins, lo[2]), c2, one);
        }
        const __mmask16 s =
            _mm512_mask_cmple_epu32_mask(m, _mm512_sub_epi32(bins, lo[0]), span[0]) |
            _mm512_mask_cmple_epu32_mask(m, _mm512_sub_epi32(bins, lo[1]), span[1]) |
            _mm512_mask_cmple_epu32_mask(m, _mm512_sub_epi32(bins, lo[2]), span[2]);
        if (s) {
            /* compressed in a register, then a store of that many lanes
             * (vcompressps to memory is slow) */
            const int c = __builtin_popcount(s);
            _mm512_mask_storeu_ps(out + k, tail16(c), _mm512_maskz_compress_ps(s, w));
            k += (size_t)c;
        }
    }
    const __m512i cs[SD_SELECT_RANGES] = {c0, c1, c2};
    for (int i = 0; below && i < nr; i++)
        below[i] += (size_t)(uint32_t)_mm512_reduce_add_epi32(cs[i]);
    return k;
}
/* ---- band-pass and threshold (exact) ---- */

void sd_row_sub_avx512(const float *a, const float *b, float *out, int n)
{
    for (int x = 0; x < n; x += 16) {
        const __mmask16 m = tail16(n - x);
        _mm512_mask_storeu_ps(out + x, m, _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + x),
                                                        _mm512_maskz_loadu_ps(m, b + x)));
    }
}

void sd_row_flag_above_avx512(const float *a, const float *b, float t, uint8_t *f, uint8_t bit,
                              int n)
{
    const __m512 tv = _mm512_set1_ps(t);
    const __m128i bv = _mm_set1_epi8((char)bit);
    for (int x = 0; x < n; x += 16) {
        const __mmask16 m = tail16(n - x);
        __m512 v = _mm512_maskz_loadu_ps(m, a + x);
        if (b)
            v = _mm512_sub_ps(v, _mm512_maskz_loadu_ps(m, b + x));
        const __mmask16 k = _mm512_mask_cmp_ps_mask(m, v, tv, _CMP_GT_OQ);
        /* the flags loaded whatever k (in sequence, so they stream in;
         * loaded only when needed each load's latency was exposed) */
        const __m128i fv = _mm_maskz_loadu_epi8(m, f + x);
        _mm_mask_storeu_epi8(f + x, k, _mm_or_si128(fv, bv));
    }
}

/* ---- byte input with AVX-512 VBMI (the "avx512+vbmi" table only) ----
 *
 * 64 pixels a step. The 192 bytes come in as three masked loads; per
 * channel a two-source byte permute (vpermi2b) and a masked one (vpermb)
 * pick its 64 samples. A 256-entry float table is held as four byte
 * planes (byte k of every entry), 256 bytes each: a plane is looked up
 * for 64 indices by two vpermi2b (entries 0..127 and 128..255) and a blend
 * on the index's top bit, and two rounds of unpacks put each entry's four
 * bytes back together. The unpacks work within 128-bit lanes, so the
 * channel's samples are picked in the order that makes their result come
 * out in pixel order: byte p = 16 L + 4 q + i takes pixel 16 q + 4 L + i. */
#define SD_VBMI __attribute__((target("avx512vbmi")))

/* source byte of channel c at index byte p (bit 7 set: in the third vector) */
#define DI_S(p, c) (3 * (16 * (((p) >> 2) & 3) + 4 * ((p) >> 4) + ((p) & 3)) + (c))
#define DI_4(p, c) DI_S(p, c), DI_S((p) + 1, c), DI_S((p) + 2, c), DI_S((p) + 3, c)
#define DI_16(p, c) DI_4(p, c), DI_4((p) + 4, c), DI_4((p) + 8, c), DI_4((p) + 12, c)
#define DI_64(c) {DI_16(0, c), DI_16(16, c), DI_16(32, c), DI_16(48, c)}
static const uint8_t di_src[3][64] __attribute__((aligned(64))) = {DI_64(0), DI_64(1),
                                                                    DI_64(2)};

/* The byte planes of the gained tables: pl[c][k][v] = byte k of g[c] lut8[v]. */
static void planes_build(const float g[3], uint8_t pl[3][4][256])
{
    const float *lut = sd_srgb8_lut();
    for (int c = 0; c < 3; c++) {
        const __m512 gc = _mm512_set1_ps(g[c]);
        for (int q = 0; q < 16; q++) {
            const __m512i v = _mm512_castps_si512(_mm512_mul_ps(gc, _mm512_loadu_ps(lut + 16 * q)));
            for (int k = 0; k < 4; k++)
                _mm_store_si128((__m128i *)(void *)(pl[c][k] + 16 * q),
                                _mm512_cvtepi32_epi8(_mm512_srli_epi32(v, 8 * k)));
        }
    }
}

/* The planes of the last two gain triples a thread used (keyed by their
 * bits): the metric stage converts every row of an image with the same
 * gains, and BEFORE's and AFTER's rows may alternate on one thread; the
 * decoder's level always has gains 1. Building them cost about 1 % of a
 * 12 MP compare when done per call. */
typedef struct planes_slot {
    uint8_t pl[3][4][256] __attribute__((aligned(64))); /* vector loads */
    float g[3];
    int used;
} planes_slot;
static _Thread_local planes_slot planes_cache[2];
static _Thread_local int planes_next;

static const uint8_t (*planes_for(const float g[3]))[4][256]
{
    for (int k = 0; k < 2; k++)
        if (planes_cache[k].used && memcmp(planes_cache[k].g, g, sizeof planes_cache[k].g) == 0)
            return (const uint8_t(*)[4][256])planes_cache[k].pl;
    planes_slot *sl = &planes_cache[planes_next];
    planes_next ^= 1;
    planes_build(g, sl->pl);
    memcpy(sl->g, g, sizeof sl->g);
    sl->used = 1;
    return (const uint8_t(*)[4][256])sl->pl;
}

/* The gained linear R, G, B of the m <= 64 pixels at p, out[c][q] = pixels
 * 16 q .. 16 q + 15 (those past m read sample 0, linear 0). */
static inline SD_VBMI void lookup64(const uint8_t *p, int m, const uint8_t pl[3][4][256],
                                    __m512 out[3][4])
{
    const int nb = 3 * m;
    __m512i s[3];
#pragma GCC unroll 3
    for (int k = 0; k < 3; k++) {
        const int left = nb - 64 * k;
        const __mmask64 km = left >= 64 ? ~(__mmask64)0
                             : left <= 0 ? 0
                                         : ((__mmask64)1 << left) - 1;
        s[k] = _mm512_maskz_loadu_epi8(km, p + 64 * k);
    }
#pragma GCC unroll 3
    for (int c = 0; c < 3; c++) {
        const __m512i ix = _mm512_load_si512((const void *)di_src[c]);
        __m512i v = _mm512_permutex2var_epi8(s[0], ix, s[1]);
        v = _mm512_mask_permutexvar_epi8(v, _mm512_movepi8_mask(ix), ix, s[2]);
        const __mmask64 top = _mm512_movepi8_mask(v);
        __m512i b[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const uint8_t *t = pl[c][k];
            const __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512((const void *)t), v,
                                                        _mm512_load_si512((const void *)(t + 64)));
            const __m512i hi = _mm512_permutex2var_epi8(
                _mm512_load_si512((const void *)(t + 128)), v,
                _mm512_load_si512((const void *)(t + 192)));
            b[k] = _mm512_mask_blend_epi8(top, lo, hi);
        }
        const __m512i w0 = _mm512_unpacklo_epi8(b[0], b[1]), w1 = _mm512_unpackhi_epi8(b[0], b[1]);
        const __m512i w2 = _mm512_unpacklo_epi8(b[2], b[3]), w3 = _mm512_unpackhi_epi8(b[2], b[3]);
        out[c][0] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(w0, w2));
        out[c][1] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(w0, w2));
        out[c][2] = _mm512_castsi512_ps(_mm512_unpacklo_epi16(w1, w3));
        out[c][3] = _mm512_castsi512_ps(_mm512_unpackhi_epi16(w1, w3));
    }
}

void SD_VBMI sd_row_luminance8_vbmi(const uint8_t *rgb, int n, const float g[3], float *y)
{
    const uint8_t(*pl)[4][256] = planes_for(g);
    for (int x = 0; x < n; x += 64) {
        const int m = n - x < 64 ? n - x : 64;
        __m512 o[3][4];
        lookup64(rgb + 3 * (size_t)x, m, pl, o);
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
            const __m512 c[3] = {o[0][q], o[1][q], o[2][q]};
            if (16 * q < m)
                _mm512_mask_storeu_ps(y + x + 16 * q, tail16(m - 16 * q), luma16(c));
        }
    }
}

void SD_VBMI sd_row_colour8_vbmi(const uint8_t *rgb, int n, const float g[3], float *lam,
                                 float *a, float *e, float *y)
{
    enum { B = SD_COLOUR_BLOCK };
    const uint8_t(*pl)[4][256] = planes_for(g);
    float lin[3][B] __attribute__((aligned(64)));
    for (int x0 = 0; x0 < n; x0 += B) {
        const int m = n - x0 < B ? n - x0 : B;
        for (int i = 0; i < m; i += 64) {
            __m512 o[3][4];
            lookup64(rgb + 3 * (size_t)(x0 + i), m - i < 64 ? m - i : 64, pl, o);
#pragma GCC unroll 3
            for (int c = 0; c < 3; c++)
#pragma GCC unroll 4
                for (int q = 0; q < 4; q++)
                    _mm512_store_ps(lin[c] + i + 16 * q, o[c][q]);
        }
        colour_block(lin[0], lin[1], lin[2], m, lam ? lam + x0 : NULL, a + x0,
                     e ? e + x0 : NULL, y + x0);
    }
}
#endif

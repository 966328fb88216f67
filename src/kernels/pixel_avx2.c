/* AVX2 colour and accumulation row kernels (8 float / 4 double lanes).
 * Colour: linear RGB and the luminance in the scalar reference's arithmetic
 * (bit-identical Y), then the vector ln of color_avx2.c and a vector cube
 * root (bit hack + 3 Newton steps); the same operations in the same order
 * as pixel_avx512.c, so the two agree bit for bit. Luminance: the LUT read
 * by gathers (bit-identical Y as well). */
#include <string.h>

#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

/* cube root of 8 positive normal floats without a division (divisions
 * were most of the colour kernel's time): r = t^(-1/3) from a bit-level
 * first guess (K - bits(t)/3, about 3.4 % off), two Newton steps
 * r <- r (4 - t r^3) / 3 (about 1e-5 off), then c = t r^2 and one Newton
 * step on c itself with 1/(3 c^2) taken as r^2/3. Within 1 ulp of cbrtf,
 * 9.5e-8 relative, no bias (measured over [eps, 1.5]; docs/kernels.md). */
static inline __m256 cbrt8(__m256 t)
{
    const __m256 third = _mm256_set1_ps(1.0f / 3.0f), four = _mm256_set1_ps(4.0f);
    const __m256 fi = _mm256_cvtepi32_ps(_mm256_castps_si256(t));
    __m256 r = _mm256_castsi256_ps(_mm256_sub_epi32(_mm256_set1_epi32(SD_RCBRT_MAGIC),
                                                    _mm256_cvttps_epi32(_mm256_mul_ps(fi, third))));
    for (int k = 0; k < 2; k++) {
        const __m256 r3 = _mm256_mul_ps(_mm256_mul_ps(r, r), r);
        r = _mm256_mul_ps(_mm256_mul_ps(r, _mm256_sub_ps(four, _mm256_mul_ps(t, r3))), third);
    }
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 c = _mm256_mul_ps(t, r2);
    const __m256 c3 = _mm256_mul_ps(_mm256_mul_ps(c, c), c);
    return _mm256_sub_ps(c, _mm256_mul_ps(_mm256_sub_ps(c3, t), _mm256_mul_ps(r2, third)));
}

/* CIELAB f(t): cube root above eps, the kappa line below (as sd_lab_f) */
static inline __m256 labf8(__m256 t)
{
    const __m256 eps = _mm256_set1_ps(SD_LAB_EPS_F);
    __m256 lin = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(SD_LAB_KAPPA_F / 116.0f), t),
                               _mm256_set1_ps(16.0f / 116.0f));
    __m256 c = cbrt8(_mm256_max_ps(t, eps));
    return _mm256_blendv_ps(lin, c, _mm256_cmp_ps(t, eps, _CMP_GT_OQ));
}

/* The linear R, G, B (gains applied, g * lut[s], as the scalar reference)
 * of the m <= 8 interleaved pixels at p; lanes past m read lut[0] = 0.
 * The 24 samples (a zero-padded copy at the tail) come in as three 128-bit
 * loads; per channel three byte shuffles put its words in order, which
 * widen to 32-bit indices for the gather from the LUT. */
static inline void linear8(const uint16_t *p, int m, const float *lut, const __m256 gain[3],
                           __m256 out[3])
{
    /* [channel][source vector]: words 3 j + channel to word j, the rest 0 */
    static const int8_t shuf[9][16] = {
        {0, 1, 6, 7, 12, 13, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
        {-128, -128, -128, -128, -128, -128, 2, 3, 8, 9, 14, 15, -128, -128, -128, -128},
        {-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, 4, 5, 10, 11},
        {2, 3, 8, 9, 14, 15, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
        {-128, -128, -128, -128, -128, -128, 4, 5, 10, 11, -128, -128, -128, -128, -128, -128},
        {-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, 0, 1, 6, 7, 12, 13},
        {4, 5, 10, 11, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128, -128},
        {-128, -128, -128, -128, 0, 1, 6, 7, 12, 13, -128, -128, -128, -128, -128, -128},
        {-128, -128, -128, -128, -128, -128, -128, -128, -128, -128, 2, 3, 8, 9, 14, 15}};
    uint16_t pad[24];
    _mm_prefetch((const char *)(p + 3 * SD_RGB_PREFETCH), _MM_HINT_T0);
    if (m < 8) {
        memset(pad, 0, sizeof pad);
        memcpy(pad, p, 3 * (size_t)m * sizeof *p);
        p = pad;
    }
    const __m128i v[3] = {_mm_loadu_si128((const __m128i *)(const void *)p),
                          _mm_loadu_si128((const __m128i *)(const void *)(p + 8)),
                          _mm_loadu_si128((const __m128i *)(const void *)(p + 16))};
    for (int c = 0; c < 3; c++) {
        __m128i s = _mm_setzero_si128();
        for (int k = 0; k < 3; k++)
            s = _mm_or_si128(s, _mm_shuffle_epi8(v[k], _mm_loadu_si128((const __m128i *)(const void *)shuf[3 * c + k])));
        out[c] = _mm256_mul_ps(gain[c], _mm256_i32gather_ps(lut, _mm256_cvtepu16_epi32(s), 4));
    }
}

/* Y = (YR R + YG G) + YB B, mul then add (the scalar order) */
static inline __m256 luma8(const __m256 c[3])
{
    return _mm256_add_ps(
        _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps((float)SD_XYZ_YR), c[0]),
                      _mm256_mul_ps(_mm256_set1_ps((float)SD_XYZ_YG), c[1])),
        _mm256_mul_ps(_mm256_set1_ps((float)SD_XYZ_YB), c[2]));
}

/* all-ones in the first m (0..8) 32-bit lanes */
static inline __m256i lanes8(int m)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

void sd_row_luminance_avx2(const uint16_t *rgb, int n, const float g[3], float *y)
{
    const float *lut = sd_srgb16_lut();
    const __m256 gain[3] = {_mm256_set1_ps(g[0]), _mm256_set1_ps(g[1]), _mm256_set1_ps(g[2])};
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 c[3];
        linear8(rgb + 3 * (size_t)x, 8, lut, gain, c);
        _mm256_storeu_ps(y + x, luma8(c));
    }
    if (x < n) {
        __m256 c[3];
        linear8(rgb + 3 * (size_t)x, n - x, lut, gain, c);
        _mm256_maskstore_ps(y + x, lanes8(n - x), luma8(c));
    }
}

/* X / Xn without a division, bit for bit the quotient (SD_LAB_XN_INV) */
static inline __m256 div_xn8(__m256 x)
{
    const __m256 xn = _mm256_set1_ps(SD_LAB_XN), inv = _mm256_set1_ps(SD_LAB_XN_INV);
    const __m256 q = _mm256_mul_ps(x, inv);
    return _mm256_fmadd_ps(_mm256_fnmadd_ps(q, xn, x), inv, q);
}

/* The colour of m <= SD_COLOUR_BLOCK pixels from their linear values
 * r, gc, b (arrays of SD_COLOUR_BLOCK, padded past m): the outputs at lam,
 * a, e, y [0, m). Shared by the 16-bit and the byte kernels. */
static void colour_block(float *r, float *gc, float *b, int m, float *lam, float *a, float *e,
                         float *y)
{
    enum { B = SD_COLOUR_BLOCK };
    float t[B], lr[B];
    const __m256 yr = _mm256_set1_ps((float)SD_XYZ_YR), yg = _mm256_set1_ps((float)SD_XYZ_YG),
                 yb = _mm256_set1_ps((float)SD_XYZ_YB), xr = _mm256_set1_ps((float)SD_XYZ_XR),
                 xg = _mm256_set1_ps((float)SD_XYZ_XG), xb = _mm256_set1_ps((float)SD_XYZ_XB),
                 leps = _mm256_set1_ps((float)SD_LAMBDA_EPS),
                 reps = _mm256_set1_ps(SD_ERY_EPS), c500 = _mm256_set1_ps(500.0f);
    const int mv = (m + 7) & ~7;
    for (int i = m; i < mv; i++)
        r[i] = gc[i] = b[i] = 0.5f;
    for (int i = 0; i < mv; i += 8) {
        __m256 R = _mm256_loadu_ps(r + i), G = _mm256_loadu_ps(gc + i),
               Bl = _mm256_loadu_ps(b + i);
        __m256 Y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(yr, R), _mm256_mul_ps(yg, G)),
                                 _mm256_mul_ps(yb, Bl));
        __m256 X = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(xr, R), _mm256_mul_ps(xg, G)),
                                 _mm256_mul_ps(xb, Bl));
        __m256 A = _mm256_mul_ps(c500, _mm256_sub_ps(labf8(div_xn8(X)), labf8(Y)));
        _mm256_storeu_ps(t + i, _mm256_add_ps(Y, leps));
        if (e) /* the ratio of the clamped R and G, rounded as scalar's */
            _mm256_storeu_ps(lr + i, _mm256_div_ps(_mm256_max_ps(R, reps), _mm256_max_ps(G, reps)));
        const __m256i k = lanes8(m - i);
        _mm256_maskstore_ps(a + i, k, A);
        _mm256_maskstore_ps(y + i, k, Y);
    }
    if (lam)
        sd_row_log_avx2(t, m, lam);
    if (e) {
        sd_row_log_avx2(lr, mv, lr);
        const __m256 c = _mm256_set1_ps((float)(100.0 / 2.302585092994045684));
        for (int i = 0; i < mv; i += 8) {
            const __m256i k = lanes8(m - i);
            _mm256_maskstore_ps(e + i, k, _mm256_mul_ps(c, _mm256_loadu_ps(lr + i)));
        }
    }
}

void sd_row_luminance8_avx2(const uint8_t *rgb, int n, const float g[3], float *y)
{
    sd_row_luminance8_widened(rgb, n, g, y, sd_row_luminance_avx2);
}

void sd_row_colour_avx2(const uint16_t *rgb, int n, const float g[3], float *lam, float *a,
                        float *e, float *y)
{
    sd_row_colour_blocks(rgb, n, g, lam, a, e, y, colour_block);
}

/* The same from bytes: the linear values by scalar reads of the L1 tables */
void sd_row_colour8_avx2(const uint8_t *rgb, int n, const float g[3], float *lam, float *a,
                         float *e, float *y)
{
    sd_row_colour8_blocks(rgb, n, g, lam, a, e, y, colour_block);
}

static inline double hsum4(__m256d v)
{
    double l[4];
    _mm256_storeu_pd(l, v);
    return (l[0] + l[1]) + (l[2] + l[3]);
}

/* 4 flag bytes -> all-ones 64-bit lanes where f & bit */
static inline __m256d flag_mask4(const uint8_t *f, __m256i bit)
{
    uint32_t w;
    memcpy(&w, f, 4);
    __m256i v = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128((int)w));
    __m256i off = _mm256_cmpeq_epi64(_mm256_and_si256(v, bit), _mm256_setzero_si256());
    return _mm256_castsi256_pd(_mm256_xor_si256(off, _mm256_set1_epi64x(-1)));
}

void sd_row_acc_avx2(const float *a, const float *b, const uint8_t *f, unsigned bit, int n,
                     double acc[3])
{
    const __m256i vbit = _mm256_set1_epi64x((long long)bit);
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d s = _mm256_setzero_pd(), sa = s, s2 = s;
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(a + x));
        if (b)
            v = _mm256_sub_pd(v, _mm256_cvtps_pd(_mm_loadu_ps(b + x)));
        v = _mm256_and_pd(v, flag_mask4(f + x, vbit));
        s = _mm256_add_pd(s, v);
        sa = _mm256_add_pd(sa, _mm256_andnot_pd(sign, v));
        s2 = _mm256_add_pd(s2, _mm256_mul_pd(v, v));
    }
    double t[3] = {hsum4(s), hsum4(sa), hsum4(s2)};
    sd_row_acc_scalar(a + x, b ? b + x : NULL, f + x, bit, n - x, t);
    acc[0] += t[0];
    acc[1] += t[1];
    acc[2] += t[2];
}

void sd_row_sum_avx2(const float *a, const uint8_t *f, unsigned bit, int n, double *sum)
{
    const __m256i vbit = _mm256_set1_epi64x((long long)bit);
    __m256d s = _mm256_setzero_pd();
    int x = 0;
    for (; x + 4 <= n; x += 4)
        s = _mm256_add_pd(s, _mm256_and_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + x)),
                                           flag_mask4(f + x, vbit)));
    double t = hsum4(s);
    sd_row_sum_scalar(a + x, f + x, bit, n - x, &t);
    *sum += t;
}

void sd_row_lap_acc_avx2(const float *up, const float *row, const float *dn, const uint8_t *f,
                         unsigned bit, int n, double acc[2])
{
    const __m256i vbit = _mm256_set1_epi64x((long long)bit);
    const __m256d four = _mm256_set1_pd(4.0);
    __m256d s = _mm256_setzero_pd(), s2 = s;
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        __m256d l = _mm256_add_pd(_mm256_cvtps_pd(_mm_loadu_ps(up + x)),
                                  _mm256_cvtps_pd(_mm_loadu_ps(dn + x)));
        l = _mm256_add_pd(l, _mm256_cvtps_pd(_mm_loadu_ps(row + x - 1)));
        l = _mm256_add_pd(l, _mm256_cvtps_pd(_mm_loadu_ps(row + x + 1)));
        l = _mm256_sub_pd(l, _mm256_mul_pd(four, _mm256_cvtps_pd(_mm_loadu_ps(row + x))));
        l = _mm256_and_pd(l, flag_mask4(f + x, vbit));
        s = _mm256_add_pd(s, l);
        s2 = _mm256_add_pd(s2, _mm256_mul_pd(l, l));
    }
    double t[2] = {hsum4(s), hsum4(s2)};
    sd_row_lap_acc_scalar(up + x, row + x, dn + x, f + x, bit, n - x, t);
    acc[0] += t[0];
    acc[1] += t[1];
}
/* the three sums of row_acc3 (tex, fine: x = i .. i + 3; lap: x = i + 1 ..
 * i + 4), each the loop body of its separate kernel */
static inline void acc_step(__m256d v, __m256d m, __m256d *s, __m256d *sa, __m256d *s2)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    v = _mm256_and_pd(v, m);
    *s = _mm256_add_pd(*s, v);
    *sa = _mm256_add_pd(*sa, _mm256_andnot_pd(sign, v));
    *s2 = _mm256_add_pd(*s2, _mm256_mul_pd(v, v));
}

void sd_row_acc3_avx2(const float *lam, const float *gt, const float *up, const float *gs,
                      const float *dn, const uint8_t *f, unsigned bit, int n, double tex[3],
                      double fine[3], double lap[2])
{
    const __m256i vbit = _mm256_set1_epi64x((long long)bit);
    const __m256d four = _mm256_set1_pd(4.0);
    __m256d t = _mm256_setzero_pd(), ta = t, t2 = t, s = t, sa = t, s2 = t, l1 = t, l2 = t;
    const int nl = n - 2; /* the Laplacian's columns 1 .. n - 2 */
    int x = 0;
    /* whole vectors of all three: G_s of x .. x + 3 carried from the step
     * before, its columns x + 1 and x + 2 on by lane moves */
    __m256d g = _mm256_setzero_pd();
    if (nl >= 4)
        g = _mm256_cvtps_pd(_mm_loadu_ps(gs));
    for (; x + 4 <= nl; x += 4) {
        __m128 gn4;
        if (x + 8 <= n) {
            gn4 = _mm_loadu_ps(gs + x + 4);
        } else { /* x + 6 <= n: two or three columns left */
            float q[4] = {0, 0, 0, 0};
            memcpy(q, gs + x + 4, sizeof(float) * (size_t)(n - x - 4));
            gn4 = _mm_loadu_ps(q);
        }
        const __m256d gn = _mm256_cvtps_pd(gn4);
        const __m256d m = flag_mask4(f + x, vbit), c = _mm256_cvtps_pd(_mm_loadu_ps(lam + x));
        acc_step(_mm256_sub_pd(c, _mm256_cvtps_pd(_mm_loadu_ps(gt + x))), m, &t, &ta, &t2);
        acc_step(_mm256_sub_pd(c, g), m, &s, &sa, &s2);
        const __m256d g2 = _mm256_permute2f128_pd(g, gn, 0x21);
        const __m256d g1 = _mm256_permute4x64_pd(_mm256_blend_pd(g, gn, 1), 0x39);
        __m256d l = _mm256_add_pd(_mm256_cvtps_pd(_mm_loadu_ps(up + x + 1)),
                                  _mm256_cvtps_pd(_mm_loadu_ps(dn + x + 1)));
        l = _mm256_add_pd(l, g);
        l = _mm256_add_pd(l, g2);
        l = _mm256_sub_pd(l, _mm256_mul_pd(four, g1));
        l = _mm256_and_pd(l, flag_mask4(f + x + 1, vbit));
        l1 = _mm256_add_pd(l1, l);
        l2 = _mm256_add_pd(l2, _mm256_mul_pd(l, l));
        g = gn;
    }
    if (nl > 0) {
        double r[2] = {hsum4(l1), hsum4(l2)};
        sd_row_lap_acc_scalar(up + x + 1, gs + x + 1, dn + x + 1, f + x + 1, bit, nl - x, r);
        lap[0] += r[0];
        lap[1] += r[1];
    }
    for (; x + 4 <= n; x += 4) {
        const __m256d m = flag_mask4(f + x, vbit), c = _mm256_cvtps_pd(_mm_loadu_ps(lam + x));
        acc_step(_mm256_sub_pd(c, _mm256_cvtps_pd(_mm_loadu_ps(gt + x))), m, &t, &ta, &t2);
        acc_step(_mm256_sub_pd(c, _mm256_cvtps_pd(_mm_loadu_ps(gs + x))), m, &s, &sa, &s2);
    }
    double rt[3] = {hsum4(t), hsum4(ta), hsum4(t2)}, rs[3] = {hsum4(s), hsum4(sa), hsum4(s2)};
    sd_row_acc_scalar(lam + x, gt + x, f + x, bit, n - x, rt);
    sd_row_acc_scalar(lam + x, gs + x, f + x, bit, n - x, rs);
    for (int k = 0; k < 3; k++) {
        tex[k] += rt[k];
        fine[k] += rs[k];
    }
}
void sd_row_sum4_avx2(const float *a, const float *e, const float *lam, const uint8_t *f,
                      unsigned bit, int n, int xs, double *sa, double *se, double *sl, double *sr,
                      const float *t, size_t *above)
{
    /* row_sum's loop for a, e and the left half of lam in the same lanes,
     * the right half in its own (from column xs) in the same steps; the
     * count in 64-bit lanes (a > t compared in double: the same order) */
    const __m256i vbit = _mm256_set1_epi64x((long long)bit);
    const __m256d tv = _mm256_set1_pd(t ? (double)*t : 0.0);
    __m256d va = _mm256_setzero_pd(), ve = va, vl = va, vr = va;
    __m256i cnt = _mm256_setzero_si256();
    const int nr = n - xs, xl = xs & ~3, xr = nr & ~3;
    int x = 0;
    for (; x + 4 <= n; x += 4) {
        const __m256d m = flag_mask4(f + x, vbit), av = _mm256_cvtps_pd(_mm_loadu_ps(a + x));
        va = _mm256_add_pd(va, _mm256_and_pd(av, m));
        cnt = _mm256_sub_epi64(cnt, _mm256_castpd_si256(
                                        _mm256_and_pd(_mm256_cmp_pd(av, tv, _CMP_GT_OQ), m)));
        ve = _mm256_add_pd(ve, _mm256_and_pd(_mm256_cvtps_pd(_mm_loadu_ps(e + x)), m));
        if (x < xl)
            vl = _mm256_add_pd(vl, _mm256_and_pd(_mm256_cvtps_pd(_mm_loadu_ps(lam + x)), m));
        if (x < xr)
            vr = _mm256_add_pd(vr, _mm256_and_pd(_mm256_cvtps_pd(_mm_loadu_ps(lam + xs + x)),
                                                 flag_mask4(f + xs + x, vbit)));
    }
    double s[4] = {hsum4(va), hsum4(ve), hsum4(vl), hsum4(vr)};
    sd_row_sum_scalar(a + x, f + x, bit, n - x, &s[0]);
    sd_row_sum_scalar(e + x, f + x, bit, n - x, &s[1]);
    sd_row_sum_scalar(lam + xl, f + xl, bit, xs - xl, &s[2]);
    sd_row_sum_scalar(lam + xs + xr, f + xs + xr, bit, nr - xr, &s[3]);
    *sa += s[0];
    *se += s[1];
    *sl += s[2];
    *sr += s[3];
    if (t) {
        uint64_t c[4];
        _mm256_storeu_si256((__m256i *)(void *)c, cnt);
        size_t k = (size_t)(c[0] + c[1] + c[2] + c[3]);
        for (; x < n; x++)
            k += (f[x] & bit) && a[x] > *t;
        *above += k;
    }
}
/* ---- histogram and selection (exact, as the scalar reference) ---- */

static inline __m256 absdev8(__m256 v, __m256d c)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    lo = _mm256_andnot_pd(sign, _mm256_sub_pd(lo, c));
    hi = _mm256_andnot_pd(sign, _mm256_sub_pd(hi, c));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}

/* sd_fbin of 8 floats */
static inline __m256i bins8(__m256 v)
{
    const __m256i u = _mm256_castps_si256(v);
    const __m256i flip = _mm256_or_si256(_mm256_srai_epi32(u, 31), _mm256_set1_epi32(INT32_MIN));
    return _mm256_srli_epi32(_mm256_xor_si256(u, flip), 16);
}

/* 8 flag bytes (fewer at the tail, the rest zero) -> bit mask of f & bit */
static inline unsigned flag_bits8(const uint8_t *f, int left, unsigned bit)
{
    uint64_t w = 0;
    memcpy(&w, f, left >= 8 ? 8 : (size_t)left);
    __m128i t = _mm_and_si128(_mm_cvtsi64_si128((long long)w), _mm_set1_epi8((char)bit));
    return ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(t, _mm_setzero_si128())) & 0xffu &
           (left >= 8 ? 0xffu : (1u << left) - 1);
}

/* 8 floats of v (the tail's missing lanes read as 0) */
static inline __m256 load8(const float *v, int left)
{
    if (left >= 8)
        return _mm256_loadu_ps(v);
    float t[8] = {0};
    memcpy(t, v, (size_t)left * sizeof(float));
    return _mm256_loadu_ps(t);
}

/* The flagged lanes of the 8 values from x, and in *w those values (or
 * |v - c|): the common front of row_hist and row_select. */
static inline unsigned flagged8(const float *v, const uint8_t *f, unsigned bit, int x, int n,
                                const double *c, __m256d cv, __m256 *w)
{
    const unsigned m = flag_bits8(f + x, n - x, bit);
    if (m) {
        *w = load8(v + x, n - x);
        if (c)
            *w = absdev8(*w, cv);
    }
    return m;
}

void sd_row_hist_avx2(const float *v, const uint8_t *f, unsigned bit, int n, const double *c,
                      uint32_t *hist)
{
    const __m256d cv = _mm256_set1_pd(c ? *c : 0.0);
    uint32_t b[8];
    for (int x = 0; x < n; x += 8) {
        __m256 w;
        unsigned m = flagged8(v, f, bit, x, n, c, cv, &w);
        if (!m)
            continue;
        _mm256_storeu_si256((__m256i *)b, bins8(w));
        for (; m; m &= m - 1)
            hist[b[__builtin_ctz(m)]]++;
    }
}

void sd_row_sub_hist_avx2(const float *a, const float *b, float *out, const uint8_t *f,
                          unsigned bit, int n, uint32_t *hist)
{
    uint32_t bins[8];
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + x), _mm256_loadu_ps(b + x));
        _mm256_storeu_ps(out + x, d);
        unsigned m = flag_bits8(f + x, 8, bit);
        if (!m)
            continue;
        const __m256i bv = bins8(d);
        if (m == 0xffu) {
            const __m128i lo = _mm256_castsi256_si128(bv), hi = _mm256_extracti128_si256(bv, 1);
            const uint64_t q0 = (uint64_t)_mm_cvtsi128_si64(lo), q1 = (uint64_t)_mm_extract_epi64(lo, 1);
            const uint64_t q2 = (uint64_t)_mm_cvtsi128_si64(hi), q3 = (uint64_t)_mm_extract_epi64(hi, 1);
            hist[(uint32_t)q0]++;
            hist[q0 >> 32]++;
            hist[(uint32_t)q1]++;
            hist[q1 >> 32]++;
            hist[(uint32_t)q2]++;
            hist[q2 >> 32]++;
            hist[(uint32_t)q3]++;
            hist[q3 >> 32]++;
            continue;
        }
        _mm256_storeu_si256((__m256i *)(void *)bins, bv);
        for (; m; m &= m - 1)
            hist[bins[__builtin_ctz(m)]]++;
    }
    for (; x < n; x++) {
        out[x] = a[x] - b[x];
        if (f[x] & bit)
            hist[sd_fbin(out[x])]++;
    }
}

size_t sd_row_select_avx2(const float *v, const uint8_t *f, unsigned bit, int n, const double *c,
                          unsigned b_lo, unsigned b_hi, float *out)
{
    const __m256d cv = _mm256_set1_pd(c ? *c : 0.0);
    /* unsigned b - b_lo <= span, as a signed compare after flipping the sign bits */
    const __m256i lo = _mm256_set1_epi32((int)b_lo);
    const __m256i lim = _mm256_set1_epi32((int)((b_hi - b_lo) ^ 0x80000000u));
    const __m256i sg = _mm256_set1_epi32(INT32_MIN);
    float w8[8];
    size_t k = 0;
    for (int x = 0; x < n; x += 8) {
        __m256 w;
        unsigned m = flagged8(v, f, bit, x, n, c, cv, &w);
        if (!m)
            continue;
        __m256i d = _mm256_xor_si256(_mm256_sub_epi32(bins8(w), lo), sg);
        m &= ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(d, lim)));
        if (!m)
            continue;
        _mm256_storeu_ps(w8, w);
        for (; m; m &= m - 1)
            out[k++] = w8[__builtin_ctz(m)];
    }
    return k;
}

size_t sd_row_hist_select_avx2(const float *v, const uint8_t *f, unsigned bit, int n,
                               uint32_t *hist, const unsigned (*r)[2], int nr, size_t *below,
                               float *out)
{
    /* a range test as in row_select: b - lo <= span, unsigned */
    __m256i lo[SD_SELECT_RANGES], lim[SD_SELECT_RANGES];
    const __m256i sg = _mm256_set1_epi32(INT32_MIN);
    for (int i = 0; i < nr; i++) {
        lo[i] = _mm256_set1_epi32((int)r[i][0]);
        lim[i] = _mm256_set1_epi32((int)((r[i][1] - r[i][0]) ^ 0x80000000u));
    }
    uint32_t b[8];
    float w8[8];
    size_t k = 0;
    for (int x = 0; x < n; x += 8) {
        __m256 w;
        const unsigned m = flagged8(v, f, bit, x, n, NULL, _mm256_setzero_pd(), &w);
        if (!m)
            continue;
        const __m256i bins = bins8(w);
        if (hist) {
            _mm256_storeu_si256((__m256i *)(void *)b, bins);
            for (unsigned mm = m; mm; mm &= mm - 1)
                hist[b[__builtin_ctz(mm)]]++;
        }
        unsigned s = 0;
        for (int i = 0; i < nr; i++) {
            const __m256i d = _mm256_xor_si256(_mm256_sub_epi32(bins, lo[i]), sg);
            s |= ~(unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(d, lim[i])));
            /* b < lo as signed: both are below 2^16 */
            if (below)
                below[i] += (size_t)__builtin_popcount(
                    m & (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(lo[i], bins))));
        }
        s &= m;
        if (!s)
            continue;
        _mm256_storeu_ps(w8, w);
        for (; s; s &= s - 1)
            out[k++] = w8[__builtin_ctz(s)];
    }
    return k;
}
/* ---- band-pass and threshold (exact) ---- */

void sd_row_sub_avx2(const float *a, const float *b, float *out, int n)
{
    int x = 0;
    for (; x + 8 <= n; x += 8)
        _mm256_storeu_ps(out + x, _mm256_sub_ps(_mm256_loadu_ps(a + x), _mm256_loadu_ps(b + x)));
    for (; x < n; x++)
        out[x] = a[x] - b[x];
}

void sd_row_flag_above_avx2(const float *a, const float *b, float t, uint8_t *f, uint8_t bit,
                            int n)
{
    const __m256 tv = _mm256_set1_ps(t);
    int x = 0;
    for (; x + 8 <= n; x += 8) {
        __m256 v = _mm256_loadu_ps(a + x);
        if (b)
            v = _mm256_sub_ps(v, _mm256_loadu_ps(b + x));
        for (unsigned k = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(v, tv, _CMP_GT_OQ)); k;
             k &= k - 1)
            f[x + __builtin_ctz(k)] |= bit;
    }
    for (; x < n; x++)
        if ((b ? a[x] - b[x] : a[x]) > t)
            f[x] |= bit;
}
#endif

/* ecc_row in AVX-512: 8 samples a step in 8 double lanes, the scalar
 * reference's arithmetic operation for operation in every lane (the map,
 * the range test, the taps' weights and the bilinear sums in double, the
 * gradients' differences in float, no FMA). The taps: for each sample one
 * 16-byte load per plane row at its left neighbour (x0 - 1 .. x0 + 2, rows
 * y0 - 1 .. y0 + 2), turned into columns by two permutes per row. The
 * samples' values are then transposed into one record per sample (t, i,
 * G), and the used samples are added to the sums, kept in registers, in
 * sample order: every sum takes the reference's additions in its order. A
 * step with a used sample on the plane's border (one-sided gradients, or
 * taps that would leave the plane) goes to the scalar kernel, as do planes
 * under 4 x 4 pixels. */
#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <immintrin.h>

/* 8 x 8 transpose: c[l] = lane l of r[0 .. 7] */
static inline void transpose8(const __m512d r[8], __m512d c[8])
{
    __m512d a[8], b[8];
    for (int k = 0; k < 8; k += 2) {
        a[k] = _mm512_unpacklo_pd(r[k], r[k + 1]);     /* r_k0 r_k+1,0 r_k2 r_k+1,2 ... */
        a[k + 1] = _mm512_unpackhi_pd(r[k], r[k + 1]); /* lanes 1, 3, 5, 7 */
    }
    /* 128-bit blocks: b[0] = blocks 0, 2 of a[0] then 0, 2 of a[2] ... */
    b[0] = _mm512_shuffle_f64x2(a[0], a[2], 0x88);
    b[1] = _mm512_shuffle_f64x2(a[1], a[3], 0x88);
    b[2] = _mm512_shuffle_f64x2(a[0], a[2], 0xdd);
    b[3] = _mm512_shuffle_f64x2(a[1], a[3], 0xdd);
    b[4] = _mm512_shuffle_f64x2(a[4], a[6], 0x88);
    b[5] = _mm512_shuffle_f64x2(a[5], a[7], 0x88);
    b[6] = _mm512_shuffle_f64x2(a[4], a[6], 0xdd);
    b[7] = _mm512_shuffle_f64x2(a[5], a[7], 0xdd);
    c[0] = _mm512_shuffle_f64x2(b[0], b[4], 0x88);
    c[1] = _mm512_shuffle_f64x2(b[1], b[5], 0x88);
    c[2] = _mm512_shuffle_f64x2(b[2], b[6], 0x88);
    c[3] = _mm512_shuffle_f64x2(b[3], b[7], 0x88);
    c[4] = _mm512_shuffle_f64x2(b[0], b[4], 0xdd);
    c[5] = _mm512_shuffle_f64x2(b[1], b[5], 0xdd);
    c[6] = _mm512_shuffle_f64x2(b[2], b[6], 0xdd);
    c[7] = _mm512_shuffle_f64x2(b[3], b[7], 0xdd);
}

/* the four columns (x0 - 1 .. x0 + 2) of one plane row at the 8 samples:
 * lo = columns 0, 1 (8 floats each), hi = columns 2, 3 */
static inline void taps_row(const float *const *p, ptrdiff_t off, __m512 *lo, __m512 *hi)
{
    __m512 a = _mm512_castps128_ps512(_mm_loadu_ps(p[0] + off));
    a = _mm512_insertf32x4(a, _mm_loadu_ps(p[1] + off), 1);
    a = _mm512_insertf32x4(a, _mm_loadu_ps(p[2] + off), 2);
    a = _mm512_insertf32x4(a, _mm_loadu_ps(p[3] + off), 3);
    __m512 b = _mm512_castps128_ps512(_mm_loadu_ps(p[4] + off));
    b = _mm512_insertf32x4(b, _mm_loadu_ps(p[5] + off), 1);
    b = _mm512_insertf32x4(b, _mm_loadu_ps(p[6] + off), 2);
    b = _mm512_insertf32x4(b, _mm_loadu_ps(p[7] + off), 3);
    const __m512i i01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i i23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    *lo = _mm512_permutex2var_ps(a, i01, b);
    *hi = _mm512_permutex2var_ps(a, i23, b);
}

static inline __m512d lo8(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline __m256 lo8f(__m512 v) { return _mm512_castps512_ps256(v); }
static inline __m256 hi8f(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}
static inline __m512d hi8(__m512 v) { return _mm512_cvtps_pd(hi8f(v)); }

/* (a - b) * 0.5f in float, then double */
static inline __m512d half_diff(__m256 a, __m256 b)
{
    return _mm512_cvtps_pd(_mm256_mul_ps(_mm256_sub_ps(a, b), _mm256_set1_ps(0.5f)));
}

/* w00 a + w01 b + w10 c + w11 d, left to right */
static inline __m512d bilin(__m512d w00, __m512d w01, __m512d w10, __m512d w11, __m512d a,
                            __m512d b, __m512d c, __m512d d)
{
    return _mm512_add_pd(
        _mm512_add_pd(_mm512_add_pd(_mm512_mul_pd(w00, a), _mm512_mul_pd(w01, b)),
                      _mm512_mul_pd(w10, c)),
        _mm512_mul_pd(w11, d));
}

typedef struct ecc_acc {
    __m512d a, sg, sgt, sgi, q[6];
} ecc_acc;

static inline void acc_load(ecc_acc *s, const double *acc, int P)
{
    s->a = _mm512_loadu_pd(acc);
    s->sg = _mm512_loadu_pd(acc + SD_ECC_SG);
    s->sgt = _mm512_loadu_pd(acc + SD_ECC_SGT);
    s->sgi = _mm512_loadu_pd(acc + SD_ECC_SGI);
#pragma GCC unroll 6
    for (int k = 0; k < P; k++)
        s->q[k] = _mm512_loadu_pd(acc + SD_ECC_SGG + 8 * k);
}

static inline void acc_store(const ecc_acc *s, double *acc, int P)
{
    _mm512_storeu_pd(acc, s->a);
    _mm512_storeu_pd(acc + SD_ECC_SG, s->sg);
    _mm512_storeu_pd(acc + SD_ECC_SGT, s->sgt);
    _mm512_storeu_pd(acc + SD_ECC_SGI, s->sgi);
#pragma GCC unroll 6
    for (int k = 0; k < P; k++)
        _mm512_storeu_pd(acc + SD_ECC_SGG + 8 * k, s->q[k]);
}

/* one sample's record (t, i, G_0 .. G_5) into the sums */
static inline __attribute__((always_inline)) void acc_add(ecc_acc *s, __m512d rec, const int P)
{
    const __m512d one = _mm512_set1_pd(1.0);
    const __m512d t = _mm512_permutexvar_pd(_mm512_set1_epi64(0), rec);
    const __m512d i = _mm512_permutexvar_pd(_mm512_set1_epi64(1), rec);
    /* (1, t, i, t, i, t) x (1, 1, 1, t, i, i): 1, t, i, t t, i i, t i */
    const __m512d l = _mm512_mask_mov_pd(_mm512_mask_mov_pd(one, 0x2a, t), 0x14, i);
    const __m512d r = _mm512_mask_mov_pd(_mm512_mask_mov_pd(one, 0x08, t), 0x30, i);
    s->a = _mm512_mask_add_pd(s->a, 0x3f, s->a, _mm512_mul_pd(l, r));
    if (P == 0)
        return;
    const __mmask8 mp = (__mmask8)((1u << P) - 1);
    const __m512d g = _mm512_maskz_permutexvar_pd(
        mp, _mm512_setr_epi64(2, 3, 4, 5, 6, 7, 0, 1), rec);
    s->sg = _mm512_mask_add_pd(s->sg, mp, s->sg, g);
    s->sgt = _mm512_mask_add_pd(s->sgt, mp, s->sgt, _mm512_mul_pd(g, t));
    s->sgi = _mm512_mask_add_pd(s->sgi, mp, s->sgi, _mm512_mul_pd(g, i));
#pragma GCC unroll 6
    for (int k = 0; k < P; k++)
        s->q[k] = _mm512_mask_add_pd(
            s->q[k], mp, s->q[k],
            _mm512_mul_pd(g, _mm512_permutexvar_pd(_mm512_set1_epi64(2 + k), rec)));
}

static inline __attribute__((always_inline)) void ecc_row_p(const sd_ecc_row *r, const int P,
                                                             int s0, int s1, double *acc)
{
    const sd_plane *ib = r->I;
    const int w = ib->w, h = ib->h;
    const ptrdiff_t st = (ptrdiff_t)ib->stride;
    const __m512d m0 = _mm512_set1_pd(r->m0), m3 = _mm512_set1_pd(r->m3);
    const __m512d rx = _mm512_set1_pd(r->rx), ry = _mm512_set1_pd(r->ry);
    const __m512d xmax = _mm512_set1_pd(w - 1), ymax = _mm512_set1_pd(h - 1);
    const __m512d z = _mm512_setzero_pd(), one = _mm512_set1_pd(1.0);
    const __m256i one_i = _mm256_set1_epi32(1), wi = _mm256_set1_epi32(w), hi_ = _mm256_set1_epi32(h);
    const __m256i wm1 = _mm256_set1_epi32(w - 1), hm1 = _mm256_set1_epi32(h - 1);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512d cx = _mm512_set1_pd(r->cx), invR = _mm512_set1_pd(r->invR),
                  v = _mm512_set1_pd(r->v);
    ecc_acc S;
    acc_load(&S, acc, P);
    for (int g0 = s0; g0 < s1; g0 += 8) {
        const int left = s1 - g0;
        const __mmask8 live = left >= 8 ? 0xff : (__mmask8)((1u << left) - 1);
        const __m256i xi = _mm256_mullo_epi32(_mm256_add_epi32(_mm256_set1_epi32(g0), lane),
                                              _mm256_set1_epi32(r->step));
        /* prefetch: the rows r->ahead samples past this step's first */
        {
            const double px = r->m0 * (r->step * (g0 + r->ahead)) + r->rx,
                         py = r->m3 * (r->step * (g0 + r->ahead)) + r->ry;
            if (px >= 0 && px <= w - 1 && py >= 1 && py < h - 2) {
                const float *k = ib->p + (size_t)(int)py * ib->stride + (size_t)(int)px;
                __builtin_prefetch(k);
                __builtin_prefetch(k + st);
                if (P) {
                    __builtin_prefetch(k - st);
                    __builtin_prefetch(k + 2 * st);
                }
            }
        }
        const __m512d xd = _mm512_cvtepi32_pd(xi);
        const __m512d fx = _mm512_add_pd(_mm512_mul_pd(m0, xd), rx);
        const __m512d fy = _mm512_add_pd(_mm512_mul_pd(m3, xd), ry);
        const __mmask8 used = live & _mm512_cmp_pd_mask(fx, z, _CMP_GE_OQ) &
                              _mm512_cmp_pd_mask(fx, xmax, _CMP_LE_OQ) &
                              _mm512_cmp_pd_mask(fy, z, _CMP_GE_OQ) &
                              _mm512_cmp_pd_mask(fy, ymax, _CMP_LE_OQ);
        if (!used)
            continue;
        /* x0 = (int)fx, one back on the last column; likewise y0 (lanes not
         * used read the plane's corner instead) */
        __m256i x0 = _mm256_mask_mov_epi32(one_i, used, _mm512_cvttpd_epi32(fx));
        __m256i y0 = _mm256_mask_mov_epi32(one_i, used, _mm512_cvttpd_epi32(fy));
        x0 = _mm256_mask_sub_epi32(x0, _mm256_cmpeq_epi32_mask(x0, wm1) &
                                           _mm256_cmpgt_epi32_mask(x0, _mm256_setzero_si256()),
                                   x0, one_i);
        y0 = _mm256_mask_sub_epi32(y0, _mm256_cmpeq_epi32_mask(y0, hm1) &
                                           _mm256_cmpgt_epi32_mask(y0, _mm256_setzero_si256()),
                                   y0, one_i);
        /* the taps x0 - 1 .. x0 + 2, y0 - 1 .. y0 + 2 all inside (so x1 =
         * x0 + 1, y1 = y0 + 1 and the gradients are central) for every
         * used sample, else this step is the scalar kernel's */
        const __mmask8 inner = _mm256_cmpgt_epi32_mask(x0, _mm256_setzero_si256()) &
                               _mm256_cmplt_epi32_mask(_mm256_add_epi32(x0, _mm256_set1_epi32(2)), wi) &
                               _mm256_cmpgt_epi32_mask(y0, _mm256_setzero_si256()) &
                               _mm256_cmplt_epi32_mask(_mm256_add_epi32(y0, _mm256_set1_epi32(2)), hi_);
        if ((used & inner) != used) {
            acc_store(&S, acc, P);
            sd_ecc_row_scalar(r, g0, g0 + (left >= 8 ? 8 : left), acc);
            acc_load(&S, acc, P);
            continue;
        }
        int xs[8], ys[8];
        _mm256_storeu_si256((__m256i *)(void *)xs, x0);
        _mm256_storeu_si256((__m256i *)(void *)ys, y0);
        const float *p[8];
        for (int l = 0; l < 8; l++)
            p[l] = ib->p + (ptrdiff_t)ys[l] * st + xs[l] - 1;
        const __m512d ax = _mm512_sub_pd(fx, _mm512_cvtepi32_pd(x0));
        const __m512d ay = _mm512_sub_pd(fy, _mm512_cvtepi32_pd(y0));
        const __m512d bx = _mm512_sub_pd(one, ax), by = _mm512_sub_pd(one, ay);
        const __m512d w00 = _mm512_mul_pd(bx, by), w01 = _mm512_mul_pd(ax, by),
                      w10 = _mm512_mul_pd(bx, ay), w11 = _mm512_mul_pd(ax, ay);
        __m512 l1, h1, l2, h2; /* rows y0, y1: columns (x0-1, x0), (x1, x0+2) */
        taps_row(p, 0, &l1, &h1);
        taps_row(p, st, &l2, &h2);
        const __m512d i = bilin(w00, w01, w10, w11, hi8(l1), lo8(h1), hi8(l2), lo8(h2));
        /* t at the 8 samples */
        const __m256 tf = _mm256_mmask_i32gather_ps(_mm256_setzero_ps(), live, xi, r->t, 4);
        __m512d rows[8];
        rows[0] = _mm512_cvtps_pd(tf);
        rows[1] = i;
        if (P) {
            __m512 l0, h0, l3, h3; /* rows y0 - 1, y1 + 1 */
            taps_row(p, -st, &l0, &h0);
            taps_row(p, 2 * st, &l3, &h3);
            /* gx at (x0, y0), (x1, y0), (x0, y1), (x1, y1): row r's
             * (x0 + 1) - (x0 - 1) and (x0 + 2) - x0 */
            const __m512d gx = bilin(w00, w01, w10, w11, half_diff(lo8f(h1), lo8f(l1)),
                                     half_diff(hi8f(h1), hi8f(l1)), half_diff(lo8f(h2), lo8f(l2)),
                                     half_diff(hi8f(h2), hi8f(l2)));
            /* gy: row y1 - row y0 - 1 at x0, x1; row y1 + 1 - row y0 */
            const __m512d gy = bilin(w00, w01, w10, w11, half_diff(hi8f(l2), hi8f(l0)),
                                     half_diff(lo8f(h2), lo8f(h0)), half_diff(hi8f(l3), hi8f(l1)),
                                     half_diff(lo8f(h3), lo8f(h1)));
            const __m512d u = _mm512_mul_pd(_mm512_sub_pd(xd, cx), invR);
            if (P == 4) {
                rows[2] = _mm512_add_pd(_mm512_mul_pd(gx, u), _mm512_mul_pd(gy, v));
                rows[3] = _mm512_add_pd(_mm512_mul_pd(_mm512_xor_pd(gx, _mm512_set1_pd(-0.0)), v),
                                        _mm512_mul_pd(gy, u));
                rows[4] = gx;
                rows[5] = gy;
                rows[6] = rows[7] = z;
            } else {
                rows[2] = _mm512_mul_pd(gx, u);
                rows[3] = _mm512_mul_pd(gx, v);
                rows[4] = _mm512_mul_pd(gy, u);
                rows[5] = _mm512_mul_pd(gy, v);
                rows[6] = gx;
                rows[7] = gy;
            }
        } else {
            for (int k = 2; k < 8; k++)
                rows[k] = z;
        }
        __m512d rec[8];
        transpose8(rows, rec);
        for (unsigned m = used; m; m &= m - 1)
            acc_add(&S, rec[__builtin_ctz(m)], P);
    }
    acc_store(&S, acc, P);
}

void sd_ecc_row_avx512(const sd_ecc_row *r, int s0, int s1, double *acc)
{
    if (r->I->w < 4 || r->I->h < 4) {
        sd_ecc_row_scalar(r, s0, s1, acc);
        return;
    }
    switch (r->P) {
    case 0: ecc_row_p(r, 0, s0, s1, acc); break;
    case 4: ecc_row_p(r, 4, s0, s1, acc); break;
    default: ecc_row_p(r, 6, s0, s1, acc); break;
    }
}
#endif

#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "kernels/kernels_internal.h"
#include "metrics/metrics_internal.h"

static void swapf(float *a, float *b)
{
    float t = *a;
    *a = *b;
    *b = t;
}

/* Hoare-style quickselect with median-of-three pivots: expected O(n). */
float sd_select_kth(float *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < v[lo])
            swapf(&v[mid], &v[lo]);
        if (v[hi] < v[lo])
            swapf(&v[hi], &v[lo]);
        if (v[hi] < v[mid])
            swapf(&v[hi], &v[mid]);
        float pivot = v[mid];
        size_t i = lo, j = hi;
        for (;;) {
            while (v[i] < pivot)
                i++;
            while (pivot < v[j])
                j--;
            if (i >= j)
                break;
            swapf(&v[i], &v[j]);
            i++;
            j--;
        }
        /* v[lo..j] <= pivot <= v[j+1..hi] */
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
    return v[k];
}

double sd_select_middle(float *v, size_t n, size_t k, int pair)
{
    double upper = sd_select_kth(v, n, k);
    if (!pair)
        return upper;
    /* the k-1-th is the largest of v[0..k-1], all <= v[k] after selection */
    float lower = v[0];
    for (size_t i = 1; i < k; i++)
        if (v[i] > lower)
            lower = v[i];
    return 0.5 * ((double)lower + upper);
}

double sd_select_median(float *v, size_t n) { return sd_select_middle(v, n, n / 2, n % 2 == 0); }


/* ---- ranks in a 65536-bin key histogram (sd_fbin) ---- */

void sd_rank_bins(const uint32_t *hist, size_t k_lo, size_t k_hi, unsigned *b_lo, unsigned *b_hi,
                  size_t *below)
{
    size_t c = 0;
    unsigned b = 0;
    for (; b < SD_FBINS && c + hist[b] <= k_lo; b++)
        c += hist[b];
    *b_lo = b;
    *below = c;
    for (; b < SD_FBINS && c + hist[b] <= k_hi; b++)
        c += hist[b];
    *b_hi = b;
}

/* ---- the exact median and MAD from a histogram and one collecting pass ----
 *
 * The median lies in [L, U] (the lowest value of its lower bin, the
 * highest of its upper bin). For any centre in [L, U] the distance
 * w = sd_hist_value(v, &centre) of a value v of bin b lies between two
 * bounds lo_w(b) <= w <= hi_w(b) computed the same way at the bin's and
 * the interval's edges: the double subtraction, fabs and the rounding to
 * float are each monotone, so w is non-decreasing in |v - centre| as a real
 * number, and the extremes of that real distance over the box are at its
 * corners. The k-th smallest distance then lies in [A, B], A the k_lo-th
 * smallest lo_w and B the k_hi-th smallest hi_w over all values (each w is
 * at least its lo_w and at most its hi_w, and order statistics keep that).
 * A bin whose [lo_w, hi_w] misses [A, B] holds only values below A (counted)
 * or above B (ignored): the middle ranks are among the other bins' values. */

/* The edges of bin b. */
static void bin_edges(unsigned b, double *lo, double *hi)
{
    *lo = sd_key_float((uint32_t)b << 16);
    *hi = sd_key_float(((uint32_t)b << 16) | 0xffffu);
}

/* lo_w (upper == 0) or hi_w (upper == 1) of bin b outside the median's
 * bins, which lie in [L, U]. */
static float dist_bound(const sd_mad_plan *p, unsigned b, int upper)
{
    double lo, hi;
    bin_edges(b, &lo, &hi);
    if (b > p->m_hi) /* lo >= U */
        return upper ? sd_hist_value((float)hi, &p->L) : sd_hist_value((float)lo, &p->U);
    return upper ? sd_hist_value((float)lo, &p->U) : sd_hist_value((float)hi, &p->L);
}

/* The k-th smallest bound (lo_w or hi_w) over all n values: the bins below
 * and above the median's have bounds growing away from it, so it is a merge
 * of the two sides and the median's bins (bound 0, or `mid`). */
static float kth_bound(const uint32_t *hist, const sd_mad_plan *p, size_t k, int upper, float mid)
{
    long i = (long)p->m_lo - 1;
    unsigned j = p->m_hi + 1;
    size_t c = 0;
    int mid_done = 0;
    for (;;) {
        while (i >= 0 && hist[i] == 0)
            i--;
        while (j < SD_FBINS && hist[j] == 0)
            j++;
        const float vl = i >= 0 ? dist_bound(p, (unsigned)i, upper) : INFINITY;
        const float vr = j < SD_FBINS ? dist_bound(p, j, upper) : INFINITY;
        if (!mid_done && mid <= vl && mid <= vr) {
            c += p->n_mid;
            mid_done = 1;
            if (c > k)
                return mid;
        } else if (i >= 0 && (j >= SD_FBINS || vl <= vr)) {
            c += hist[i--];
            if (c > k)
                return vl;
        } else {
            if (j >= SD_FBINS) /* only when the counts sum to less than k + 1 */
                return INFINITY;
            c += hist[j++];
            if (c > k)
                return vr;
        }
    }
}

/* Add bins [lo, hi] to the plan's ranges (ascending, merged when they
 * touch). */
static void add_range(sd_mad_plan *p, unsigned lo, unsigned hi)
{
    if (p->nr > 0 && lo <= p->r[p->nr - 1][1] + 1) {
        p->r[p->nr - 1][1] = hi;
        return;
    }
    p->r[p->nr][0] = lo;
    p->r[p->nr][1] = hi;
    p->nr++;
}

/* One side of the median's bins, walking away from it from bin `from` in
 * steps of `step`: the bins are first all below A (their values counted
 * into p->below), then meet [A, B], then are all above B (the bounds grow
 * away from the median). The middle run into [*near, *far] (*near < 0:
 * none), reaching back to `from` over empty bins when none is below A. */
static void side_run(const uint32_t *hist, sd_mad_plan *p, long from, int step, long *near,
                     long *far)
{
    size_t below = 0;
    *near = *far = -1;
    for (long b = from; b >= 0 && b < (long)SD_FBINS; b += step) {
        if (!hist[b])
            continue;
        if (dist_bound(p, (unsigned)b, 0) > p->B)
            break;
        if (*near < 0 && dist_bound(p, (unsigned)b, 1) < p->A) {
            below += hist[b];
            continue;
        }
        if (*near < 0)
            *near = below ? b : from;
        *far = b;
    }
    p->below += below;
}

void sd_mad_plan_init(sd_mad_plan *p, const uint32_t *hist, size_t n)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    sd_rank_bins(hist, (n - 1) / 2, n / 2, &p->m_lo, &p->m_hi, &p->m_below);
    double lo, hi;
    bin_edges(p->m_lo, &p->L, &hi);
    bin_edges(p->m_hi, &lo, &p->U);
    /* the median's bins (at most two hold values): lo_w 0, hi_w the largest */
    float mid_hi = 0;
    for (unsigned b = p->m_lo; b <= p->m_hi; b++) {
        p->n_mid += hist[b];
        bin_edges(b, &lo, &hi);
        const float u = fmaxf(sd_hist_value((float)hi, &p->L), sd_hist_value((float)lo, &p->U));
        if (hist[b] && u > mid_hi)
            mid_hi = u;
    }
    p->A = kth_bound(hist, p, (n - 1) / 2, 0, 0.0f);
    p->B = kth_bound(hist, p, n / 2, 1, mid_hi);
    long ln, lf, rn, rf;
    side_run(hist, p, (long)p->m_lo - 1, -1, &ln, &lf);
    side_run(hist, p, (long)p->m_hi + 1, 1, &rn, &rf);
    if (ln >= 0)
        add_range(p, (unsigned)lf, (unsigned)ln);
    add_range(p, p->m_lo, p->m_hi);
    if (rn >= 0)
        add_range(p, (unsigned)rn, (unsigned)rf);
    for (int r = 0; r < p->nr; r++)
        for (unsigned b = p->r[r][0]; b <= p->r[r][1]; b++)
            p->cap += hist[b];
}

double sd_mad_finish(const sd_mad_plan *p, float *v, double *med)
{
    /* the values of the median's bins first: its exact value */
    size_t nm = 0;
    for (size_t i = 0; i < p->cap; i++) {
        const unsigned b = sd_fbin(v[i]);
        if (b >= p->m_lo && b <= p->m_hi) {
            swapf(&v[i], &v[nm]);
            nm++;
        }
    }
    const int pair = p->n % 2 == 0;
    *med = sd_select_middle(v, nm, p->n / 2 - p->m_below, pair);
    /* then every collected distance, as the selection over all would see it */
    for (size_t i = 0; i < p->cap; i++)
        v[i] = sd_hist_value(v[i], med);
    return sd_select_middle(v, p->cap, p->n / 2 - p->below, pair);
}

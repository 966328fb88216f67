#include <math.h>

#include "core/internal.h"
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


/* The pore components (sd_pore_components; docs/metrics.md "Pores") held
 * to a textbook flood fill written here: from every measured candidate
 * pixel in raster order not yet reached, a breadth-first fill through the
 * eight neighbours that are candidates and not clipped; the component's
 * area, its integer moments about that seed pixel, the elongation of the
 * union of unit pixel squares and its centroid's nearest pixel decide, in
 * the formulas of the definition. On random flag planes (blobs, lines,
 * diagonal chains that only 8-connectivity joins, clipped pixels cutting
 * them, candidates outside the measured pixels, frames of 1 x 1 to
 * 211 x 157) and area / elongation limits that keep and drop some: the
 * count and the area sum must be the same numbers, and the flags untouched. */
#include "sd_test.h"

#include <math.h>

#include "metrics/measure_internal.h"
#include "skindelta/core.h"

static uint32_t rs = 2463534242u;
static uint32_t rng(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 17;
    rs ^= rs << 5;
    return rs;
}

/* The reference: count and area sum of the accepted components. */
static void reference(const uint8_t *flags, int w, int h, double amin, double amax,
                      double max_elong, size_t *count, double *area_sum)
{
    const size_t np = (size_t)w * (size_t)h;
    uint8_t *seen = calloc(np, 1);
    int *qx = malloc(np * sizeof *qx), *qy = malloc(np * sizeof *qy);
    assert_true(seen && qx && qy);
    *count = 0;
    *area_sum = 0;
    for (int y0 = 0; y0 < h; y0++)
        for (int x0 = 0; x0 < w; x0++) {
            const size_t i0 = (size_t)y0 * (size_t)w + (size_t)x0;
            if (seen[i0] || !(flags[i0] & SD_PF_CAND) || !(flags[i0] & SD_PF_MEASURED) ||
                (flags[i0] & SD_PF_CLIPPED))
                continue;
            size_t head = 0, tail = 0;
            seen[i0] = 1;
            qx[tail] = x0;
            qy[tail++] = y0;
            int64_t sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            while (head < tail) {
                const int x = qx[head], y = qy[head++];
                const int64_t dx = x - x0, dy = y - y0;
                sx += dx;
                sy += dy;
                sxx += dx * dx;
                syy += dy * dy;
                sxy += dx * dy;
                for (int ny = y - 1; ny <= y + 1; ny++)
                    for (int nx = x - 1; nx <= x + 1; nx++) {
                        if (nx < 0 || ny < 0 || nx >= w || ny >= h)
                            continue;
                        const size_t j = (size_t)ny * (size_t)w + (size_t)nx;
                        if (seen[j] || !(flags[j] & SD_PF_CAND) || (flags[j] & SD_PF_CLIPPED))
                            continue;
                        seen[j] = 1;
                        qx[tail] = nx;
                        qy[tail++] = ny;
                    }
            }
            const double area = (double)tail;
            if (area < amin || area > amax)
                continue;
            const double mx = (double)sx / area, my = (double)sy / area;
            const double vxx = (double)sxx / area - mx * mx + 1.0 / 12.0;
            const double vyy = (double)syy / area - my * my + 1.0 / 12.0;
            const double vxy = (double)sxy / area - mx * my;
            const double tr = 0.5 * (vxx + vyy);
            const double disc = sqrt(0.25 * (vxx - vyy) * (vxx - vyy) + vxy * vxy);
            const double l1 = tr + disc, l2 = tr - disc;
            if (!(l2 > 0) || sqrt(l1 / l2) > max_elong)
                continue;
            const long cx = (long)floor(x0 + mx + 0.5), cy = (long)floor(y0 + my + 0.5);
            if (cx < 0 || cy < 0 || cx >= w || cy >= h ||
                !(flags[(size_t)cy * (size_t)w + (size_t)cx] & SD_PF_MASK))
                continue;
            (*count)++;
            *area_sum += area;
        }
    free(seen);
    free(qx);
    free(qy);
}

/* A random plane: mask and measured pixels in a disc-like region (so
 * components cross its edge), candidates as blobs, lines and diagonal
 * chains, some clipped pixels. */
static void random_plane(uint8_t *f, int w, int h, int kind)
{
    const double cx = w * 0.5, cy = h * 0.5, r = 0.4 * (w > h ? w : h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t v = 0;
            const double d = hypot(x - cx, y - cy);
            if (d < r)
                v |= SD_PF_MASK;
            if (d < r && rng() % 16 != 0)
                v |= SD_PF_MEASURED;
            if (rng() % 97 == 0) {
                v |= SD_PF_CLIPPED;
                v &= (uint8_t)~SD_PF_MEASURED;
            }
            /* sparse noise candidates: density by kind */
            if (rng() % (kind == 0 ? 3u : kind == 1 ? 9u : 40u) == 0)
                v |= SD_PF_CAND;
            f[(size_t)y * (size_t)w + (size_t)x] = v;
        }
    const int shapes = 1 + (w * h) / 150;
    for (int s = 0; s < shapes; s++) {
        const int x0 = (int)(rng() % (uint32_t)w), y0 = (int)(rng() % (uint32_t)h);
        const int t = (int)(rng() % 4), len = 1 + (int)(rng() % 12);
        for (int k = 0; k < len; k++) {
            int x = x0, y = y0;
            if (t == 0) { /* diagonal chain, joined only by 8-connectivity */
                x += k;
                y += k;
            } else if (t == 1) { /* anti-diagonal */
                x -= k;
                y += k;
            } else if (t == 2) { /* horizontal line */
                x += k;
            } else { /* blob */
                x += (int)(rng() % 5) - 2;
                y += (int)(rng() % 5) - 2;
            }
            if (x >= 0 && y >= 0 && x < w && y < h)
                f[(size_t)y * (size_t)w + (size_t)x] |= SD_PF_CAND;
        }
    }
}

static void test_components_match_flood_fill(void **state)
{
    (void)state;
    sd_ctx *ctx = sd_ctx_new();
    assert_non_null(ctx);
    static const int sizes[][2] = {{1, 1}, {1, 9}, {9, 1}, {2, 2}, {7, 5}, {16, 16}, {17, 3},
                                   {64, 48}, {211, 157}, {100, 100}};
    static const double lim[][3] = {{0, 1e9, 1e9}, {4, 400, 3}, {2, 30, 1.5}, {1, 3, 10}};
    int nonzero = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (int kind = 0; kind < 3; kind++) {
            const int w = sizes[si][0], h = sizes[si][1];
            const size_t np = (size_t)w * (size_t)h;
            uint8_t *f = malloc(np), *copy = malloc(np);
            assert_true(f && copy);
            random_plane(f, w, h, kind);
            memcpy(copy, f, np);
            for (size_t li = 0; li < sizeof lim / sizeof lim[0]; li++) {
                size_t cr, cg;
                double ar, ag;
                reference(f, w, h, lim[li][0], lim[li][1], lim[li][2], &cr, &ar);
                assert_int_equal(sd_pore_components(ctx, f, w, h, lim[li][0], lim[li][1],
                                                    lim[li][2], &cg, &ag),
                                 SD_OK);
                if (cg != cr || ag != ar)
                    fail_msg("%dx%d kind %d limits %zu: %zu pores, area %.0f; want %zu, %.0f", w,
                             h, kind, li, cg, ag, cr, ar);
                assert_memory_equal(f, copy, np);
                nonzero += cr > 0;
            }
            free(f);
            free(copy);
        }
    /* the planes are not all empty */
    assert_true(nonzero > 40);
    sd_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_components_match_flood_fill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The synthetic skin generator against its own ground truth and against
 * textbook colour formulas: determinism, pores where the truth says (with
 * the stated depth), red patches raising a* by the stated amount (measured
 * with sd_srgb_to_lab_ref), the base tone, the transform (integer shifts and
 * a quarter turn land pixel on pixel), exposure (+1 EV doubles linear
 * luminance), texture amplitude, the session changes, the truth helpers and
 * JSON, and the committed sample pair regenerating byte for byte. */
#include "sd_test.h"

#include <cJSON.h>
#include <math.h>
#include <unistd.h>

#include "skindelta/io.h"
#include "skindelta/kernels.h"
#include "skindelta/synth.h"

static sd_image *render(const sd_synth_skin *s, const sd_synth_session *ses,
                        const sd_synth_capture *c)
{
    sd_ctx *ctx = sd_ctx_new();
    sd_image *img = NULL;
    sd_status st = sd_synth_render(ctx, s, ses, c, &img);
    if (st != SD_OK)
        fail_msg("render: %s", sd_ctx_message(ctx));
    sd_ctx_free(ctx);
    return img;
}

static int same_pixels(const sd_image *a, const sd_image *b)
{
    if (a->width != b->width || a->height != b->height)
        return 0;
    for (int y = 0; y < a->height; y++)
        if (memcmp(a->px + (size_t)y * a->stride, b->px + (size_t)y * b->stride,
                   6 * (size_t)a->width) != 0)
            return 0;
    return 1;
}

static const uint16_t *pix(const sd_image *img, int x, int y)
{
    return img->px + (size_t)y * img->stride + 3 * (size_t)x;
}

static double lambda_at(const sd_image *img, int x, int y)
{
    float l;
    sd_row_lambda(pix(img, x, y), 1, &l);
    return l;
}

static double luminance_at(const sd_image *img, int x, int y)
{
    const float *lut = sd_srgb16_lut();
    const uint16_t *p = pix(img, x, y);
    return SD_XYZ_YR * lut[p[0]] + SD_XYZ_YG * lut[p[1]] + SD_XYZ_YB * lut[p[2]];
}

static void lab_at(const sd_image *img, int x, int y, double lab[3])
{
    const uint16_t *p = pix(img, x, y);
    double srgb[3] = {p[0] / 65535.0, p[1] / 65535.0, p[2] / 65535.0};
    sd_srgb_to_lab_ref(srgb, lab);
}

/* ---- determinism ---- */

static void test_determinism(void **state)
{
    (void)state;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 42, 160, 120);
    sd_synth_capture c;
    sd_synth_capture_defaults(&c, 160, 120);
    c.noise = 0.01;
    c.noise_seed = 5;
    c.xf = sd_synth_similarity(5, 1.1, 3, 2, 80, 60);
    sd_image *a = render(&s, NULL, &c), *b = render(&s, NULL, &c);
    assert_true(same_pixels(a, b));
    /* thread count does not matter */
    sd_ctx *ctx = sd_ctx_new();
    sd_ctx_set_threads(ctx, 3);
    sd_image *t = NULL;
    assert_int_equal(sd_synth_render(ctx, &s, NULL, &c, &t), SD_OK);
    assert_true(same_pixels(a, t));
    sd_ctx_free(ctx);
    /* another skin seed, another noise seed: different images */
    sd_synth_skin s2 = s;
    s2.seed = 43;
    sd_image *d = render(&s2, NULL, &c);
    assert_false(same_pixels(a, d));
    sd_synth_capture c2 = c;
    c2.noise_seed = 6;
    sd_image *e = render(&s, NULL, &c2);
    assert_false(same_pixels(a, e));
    /* JPEG bytes are identical too */
    ctx = sd_ctx_new();
    uint8_t *j1, *j2;
    size_t n1, n2;
    assert_int_equal(sd_image_encode_jpeg(ctx, a, 90, &j1, &n1), SD_OK);
    assert_int_equal(sd_image_encode_jpeg(ctx, b, 90, &j2, &n2), SD_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(j1, j2, n1);
    free(j1);
    free(j2);
    sd_ctx_free(ctx);
    sd_image_free(a);
    sd_image_free(b);
    sd_image_free(t);
    sd_image_free(d);
    sd_image_free(e);
}

/* ---- pores ---- */

/* Base ln Y of the tone L* (CIE: Y = ((L + 16) / 116)^3 above the knee). */
static double base_lambda(double L)
{
    double f = (L + 16.0) / 116.0;
    return log(f * f * f + SD_LAMBDA_EPS);
}

static void test_pores_match_truth(void **state)
{
    (void)state;
    int W = 320, H = 240;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 3, W, H);
    s.components = SD_SYNTH_PORES;
    s.pore_spacing = 40;
    s.pore_jitter = 0.5;
    sd_synth_capture c;
    sd_synth_capture_defaults(&c, W, H);
    sd_ctx *ctx = sd_ctx_new();
    sd_synth_truth *t = NULL;
    assert_int_equal(sd_synth_truth_new(ctx, &s, NULL, &c, &c, &t), SD_OK);
    sd_image *img = render(&s, NULL, &c);
    double base = base_lambda(s.base_lab[0]);
    /* far from every pore the image is the base tone */
    assert_true(fabs(lambda_at(img, 0, 0) - base) < 2e-3 || t->n_pores > 0);
    int checked = 0;
    double worst = 0;
    for (size_t k = 0; k < t->n_pores; k++) {
        const sd_synth_pore *p = &t->pores[k];
        int cx = (int)lround(p->x), cy = (int)lround(p->y);
        int r = (int)ceil(5 * p->sigma);
        if (cx < r || cy < r || cx >= W - r || cy >= H - r)
            continue;
        /* ring between 3.5 and 4.5 sigma: the median, robust to neighbours */
        double ring[512];
        int n = 0;
        for (int y = cy - r; y <= cy + r; y++)
            for (int x = cx - r; x <= cx + r; x++) {
                double d = hypot(x - p->x, y - p->y);
                if (d >= 3.5 * p->sigma && d <= 4.5 * p->sigma && n < 512)
                    ring[n++] = lambda_at(img, x, y);
            }
        for (int i = 1; i < n; i++) /* insertion sort */
            for (int j = i; j > 0 && ring[j] < ring[j - 1]; j--) {
                double tmp = ring[j];
                ring[j] = ring[j - 1];
                ring[j - 1] = tmp;
            }
        double drop = ring[n / 2] - lambda_at(img, cx, cy);
        /* the nearest pixel centre is within 0.71 px of the pore centre and
         * averages 2x2 sub-samples: expect 0.85..1.0 of the depth */
        double ratio = drop / p->depth;
        if (ratio < 0.8 || ratio > 1.03)
            fail_msg("pore %zu at (%.2f, %.2f) sigma %.2f depth %.3f: measured drop %.4f",
                     k, p->x, p->y, p->sigma, p->depth, drop);
        worst = fmax(worst, fabs(1 - ratio));
        checked++;
    }
    /* and every dark blob is a true pore: local minima below base - 0.1 */
    int minima = 0, matched = 0;
    for (int y = 1; y < H - 1; y++)
        for (int x = 1; x < W - 1; x++) {
            double l = lambda_at(img, x, y);
            if (l > base - 0.1)
                continue;
            int is_min = 1;
            for (int dy = -1; dy <= 1 && is_min; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    if ((dx || dy) && lambda_at(img, x + dx, y + dy) < l)
                        is_min = 0;
            if (!is_min)
                continue;
            minima++;
            for (size_t k = 0; k < t->n_pores; k++)
                if (hypot(t->pores[k].x - x, t->pores[k].y - y) < 1.0) {
                    matched++;
                    break;
                }
        }
    print_message("  %d pores checked (worst |1 - drop/depth| %.3f); %d minima, %d at true "
                  "pores, truth has %zu\n",
                  checked, worst, minima, matched, t->n_pores);
    assert_true(checked >= 20);
    assert_int_equal(matched, minima);
    assert_true((size_t)minima >= t->n_pores - t->n_pores / 10);
    sd_image_free(img);
    sd_synth_truth_free(t);
    sd_ctx_free(ctx);
}

/* ---- colour: base tone and red patches against the textbook ---- */

static void test_tone_and_red_patches(void **state)
{
    (void)state;
    int W = 400, H = 300;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 11, W, H);
    s.components = SD_SYNTH_REDNESS;
    s.red_count = 3;
    s.red_radius = 20;
    sd_synth_capture c;
    sd_synth_capture_defaults(&c, W, H);
    sd_ctx *ctx = sd_ctx_new();
    sd_synth_truth *t = NULL;
    assert_int_equal(sd_synth_truth_new(ctx, &s, NULL, &c, &c, &t), SD_OK);
    assert_int_equal(t->n_patches, 3);
    sd_image *img = render(&s, NULL, &c);
    /* a pixel far from every patch: the base tone, to 16-bit precision */
    int fx = -1, fy = -1;
    for (int y = 0; y < H && fx < 0; y += 7)
        for (int x = 0; x < W; x += 7) {
            int far = 1;
            for (size_t k = 0; k < t->n_patches; k++)
                far &= hypot(x - t->patches[k].x, y - t->patches[k].y) > 6 * t->patches[k].sigma;
            if (far) {
                fx = x;
                fy = y;
                break;
            }
        }
    assert_true(fx >= 0);
    double lab[3];
    lab_at(img, fx, fy, lab);
    print_message("  base tone measured %.3f %.3f %.3f (asked 66 13 17)\n", lab[0], lab[1],
                  lab[2]);
    for (int k = 0; k < 3; k++)
        assert_true(fabs(lab[k] - s.base_lab[k]) < 0.02);
    /* at each patch centre a* is up by the patch's amount; L* unchanged */
    for (size_t k = 0; k < t->n_patches; k++) {
        const sd_synth_patch *p = &t->patches[k];
        lab_at(img, (int)lround(p->x), (int)lround(p->y), lab);
        double d = hypot(lround(p->x) - p->x, lround(p->y) - p->y);
        double expect = p->amount * exp(-d * d / (2 * p->sigma * p->sigma));
        print_message("  patch %zu: a* +%.3f, truth +%.3f\n", k, lab[1] - s.base_lab[1],
                      p->amount);
        assert_true(fabs(lab[1] - s.base_lab[1] - expect) < 0.05);
        assert_true(fabs(lab[0] - s.base_lab[0]) < 0.02);
        assert_true(fabs(lab[2] - s.base_lab[2]) < 0.05);
    }
    /* a session halves the redness */
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    ses.redness_scale = 0.5;
    sd_image *a = render(&s, &ses, &c);
    const sd_synth_patch *p = &t->patches[0];
    lab_at(a, (int)lround(p->x), (int)lround(p->y), lab);
    assert_true(fabs(lab[1] - s.base_lab[1] - 0.5 * p->amount) < 0.1);
    sd_image_free(a);
    sd_image_free(img);
    sd_synth_truth_free(t);
    sd_ctx_free(ctx);
}

/* ---- the transform ---- */

static void test_integer_shift(void **state)
{
    (void)state;
    int W = 200, H = 150, dx = 7, dy = -5;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 9, W, H);
    sd_synth_capture c;
    sd_synth_capture_defaults(&c, W, H);
    sd_image *b = render(&s, NULL, &c);
    sd_synth_capture ca = c;
    ca.xf.m[2] = dx;
    ca.xf.m[5] = dy;
    sd_image *a = render(&s, NULL, &ca);
    int n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int xa = x + dx, ya = y + dy;
            if (xa < 0 || ya < 0 || xa >= W || ya >= H)
                continue;
            for (int k = 0; k < 3; k++)
                if (pix(a, xa, ya)[k] != pix(b, x, y)[k])
                    fail_msg("AFTER(%d,%d) != BEFORE(%d,%d)", xa, ya, x, y);
            n++;
        }
    assert_true(n > W * H / 2);
    /* and the content really moved: unshifted comparison differs */
    assert_false(same_pixels(a, b));
    sd_image_free(a);
    sd_image_free(b);
}

/* A quarter turn about the image centre maps pixel centres onto pixel
 * centres: AFTER(x', y') = BEFORE(x, y) with x' = c - (y - c), y' = c + (x - c)
 * up to float rounding. This pins the direction of rotation. */
static void test_quarter_turn(void **state)
{
    (void)state;
    int N = 96;
    double cc = (N - 1) / 2.0;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 5, N, N);
    sd_synth_capture c;
    sd_synth_capture_defaults(&c, N, N);
    sd_image *b = render(&s, NULL, &c);
    sd_synth_capture ca = c;
    ca.xf = sd_synth_similarity(90, 1, 0, 0, cc, cc);
    sd_image *a = render(&s, NULL, &ca);
    int worst = 0;
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) {
            int xa = (int)lround(cc - (y - cc)), ya = (int)lround(cc + (x - cc));
            for (int k = 0; k < 3; k++)
                { int d = abs(pix(a, xa, ya)[k] - pix(b, x, y)[k]); if (d > worst) worst = d; }
        }
    print_message("  quarter turn: worst difference %d / 65535\n", worst);
    assert_true(worst <= 8);
    sd_image_free(a);
    sd_image_free(b);
}

/* ---- exposure ---- */

static void test_exposure(void **state)
{
    (void)state;
    int W = 160, H = 120;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 21, W, H);
    s.base_lab[0] = 50; /* dark enough that doubling rarely clips */
    sd_synth_capture c;
    sd_synth_capture_defaults(&c, W, H);
    sd_image *b = render(&s, NULL, &c);
    c.ev = 1.0;
    sd_image *a = render(&s, NULL, &c);
    double worst = 0;
    int n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double yb = luminance_at(b, x, y), ya = luminance_at(a, x, y);
            int clipped = 0;
            for (int k = 0; k < 3; k++)
                clipped |= pix(a, x, y)[k] == 65535;
            if (clipped || yb < 0.02)
                continue;
            worst = fmax(worst, fabs(ya / yb - 2.0));
            n++;
        }
    print_message("  +1 EV: %d pixels, worst |Y ratio - 2| = %.5f\n", n, worst);
    assert_true(n > W * H / 2);
    assert_true(worst < 2e-3);
    sd_image_free(a);
    sd_image_free(b);
}

/* ---- texture ---- */

static double lambda_std(const sd_image *img)
{
    double s = 0, s2 = 0;
    int n = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            double l = lambda_at(img, x, y);
            s += l;
            s2 += l * l;
            n++;
        }
    double m = s / n;
    return sqrt(fmax(s2 / n - m * m, 0));
}

static void test_texture_amplitude(void **state)
{
    (void)state;
    int W = 480, H = 480;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 77, W, H);
    s.components = SD_SYNTH_TEXTURE;
    s.texture = 0.08;
    s.texture_scale = 6; /* coarse enough that point sampling sees the field */
    sd_synth_capture c;
    sd_synth_capture_defaults(&c, W, H);
    c.supersample = 1;
    sd_image *img = render(&s, NULL, &c);
    double sd1 = lambda_std(img);
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    ses.texture_scale = 0.5;
    sd_image *half = render(&s, &ses, &c);
    double sd2 = lambda_std(half);
    print_message("  texture std of ln Y: %.4f (stated %.4f); x0.5 session: %.4f\n", sd1,
                  s.texture, sd2);
    assert_true(fabs(sd1 / s.texture - 1) < 0.1);
    assert_true(fabs(sd2 / sd1 - 0.5) < 0.01);
    sd_image_free(img);
    sd_image_free(half);
}

/* ---- session: fewer pores ---- */

static void test_pores_fewer(void **state)
{
    (void)state;
    int W = 640, H = 480;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 8, W, H);
    s.components = SD_SYNTH_PORES;
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    ses.pores_gone = 0.5;
    sd_synth_capture c;
    sd_synth_capture_defaults(&c, W, H);
    sd_ctx *ctx = sd_ctx_new();
    sd_synth_truth *t = NULL, *t2 = NULL;
    assert_int_equal(sd_synth_truth_new(ctx, &s, &ses, &c, &c, &t), SD_OK);
    assert_int_equal(sd_synth_truth_new(ctx, &s, &ses, &c, &c, &t2), SD_OK);
    sd_rect all = {0, 0, W, H};
    size_t nb = sd_synth_truth_count_pores(t, all, 0), na = sd_synth_truth_count_pores(t, all, 1);
    print_message("  %zu pores, %zu survive pores-fewer 0.5 (%.3f)\n", nb, na, (double)na / nb);
    assert_int_equal(nb, t->n_pores);
    assert_true(nb > 400);
    assert_true(fabs((double)na / nb - 0.5) < 0.06);
    /* deterministic: the same pores go */
    assert_int_equal(t->n_pores, t2->n_pores);
    for (size_t k = 0; k < t->n_pores; k++)
        assert_int_equal(t->pores[k].survives, t2->pores[k].survives);
    /* more gone with a larger fraction, and those gone at 0.5 stay gone */
    sd_synth_session ses7 = ses;
    ses7.pores_gone = 0.7;
    sd_synth_truth *t7 = NULL;
    assert_int_equal(sd_synth_truth_new(ctx, &s, &ses7, &c, &c, &t7), SD_OK);
    for (size_t k = 0; k < t->n_pores; k++)
        assert_true(t7->pores[k].survives <= t->pores[k].survives);
    /* the render agrees: dips at survivors, none where pores went */
    sd_image *a = render(&s, &ses, &c);
    double base = base_lambda(s.base_lab[0]);
    int bad = 0;
    for (size_t k = 0; k < t->n_pores; k++) {
        const sd_synth_pore *p = &t->pores[k];
        double drop = base - lambda_at(a, (int)lround(p->x), (int)lround(p->y));
        if (p->survives ? drop < 0.6 * p->depth : drop > 0.05)
            bad++;
    }
    assert_int_equal(bad, 0);
    sd_image_free(a);
    sd_synth_truth_free(t);
    sd_synth_truth_free(t2);
    sd_synth_truth_free(t7);
    sd_ctx_free(ctx);
}

/* ---- truth helpers and JSON ---- */

static void test_truth_count_and_json(void **state)
{
    (void)state;
    int W = 300, H = 200;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 4, W, H);
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    ses.pores_gone = 0.3;
    ses.pore_radius_scale = 0.8;
    sd_synth_capture b, a;
    sd_synth_capture_defaults(&b, W, H);
    a = b;
    a.xf = sd_synth_similarity(3, 1.04, 12, -8, (W - 1) / 2.0, (H - 1) / 2.0);
    a.ev = -0.3;
    sd_ctx *ctx = sd_ctx_new();
    sd_synth_truth *t = NULL;
    assert_int_equal(sd_synth_truth_new(ctx, &s, &ses, &b, &a, &t), SD_OK);
    /* quadrants partition the frame */
    sd_rect q[4] = {{0, 0, 150, 100}, {150, 0, 150, 100}, {0, 100, 150, 100}, {150, 100, 150, 100}};
    size_t sum = 0, sum_a = 0;
    for (int k = 0; k < 4; k++) {
        sum += sd_synth_truth_count_pores(t, q[k], 0);
        sum_a += sd_synth_truth_count_pores(t, q[k], 1);
    }
    sd_rect all = {0, 0, W, H};
    assert_int_equal(sum, sd_synth_truth_count_pores(t, all, 0));
    assert_int_equal(sum_a, sd_synth_truth_count_pores(t, all, 1));
    /* against a direct count */
    size_t direct = 0;
    for (size_t k = 0; k < t->n_pores; k++)
        direct += t->pores[k].x >= 49.5 && t->pores[k].x < 149.5 && t->pores[k].y >= 19.5 &&
                  t->pores[k].y < 99.5;
    sd_rect r = {50, 20, 100, 80};
    assert_int_equal(sd_synth_truth_count_pores(t, r, 0), direct);
    /* AFTER positions follow the transform; sizes follow scale and session */
    for (size_t k = 0; k < t->n_pores; k++) {
        const sd_synth_pore *p = &t->pores[k];
        double ex = a.xf.m[0] * p->x + a.xf.m[1] * p->y + a.xf.m[2];
        assert_true(fabs(p->after_x - ex) < 1e-9);
        if (p->survives)
            assert_true(fabs(p->after_sigma - p->sigma * 0.8 * 1.04) < 1e-9);
    }
    char *js = NULL;
    assert_int_equal(sd_synth_truth_json(ctx, t, &js), SD_OK);
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "schema")->valuestring,
                        "skindelta/synth-truth/1");
    cJSON *tr = cJSON_GetObjectItem(root, "transform");
    assert_true(fabs(cJSON_GetObjectItem(tr, "rotation_deg")->valuedouble - 3) < 1e-9);
    assert_true(fabs(cJSON_GetObjectItem(tr, "scale")->valuedouble - 1.04) < 1e-9);
    cJSON *m = cJSON_GetObjectItem(tr, "matrix");
    for (int k = 0; k < 6; k++)
        assert_true(fabs(cJSON_GetArrayItem(m, k)->valuedouble - a.xf.m[k]) < 1e-12);
    assert_true(fabs(cJSON_GetObjectItem(root, "exposure_ev")->valuedouble + 0.3) < 1e-12);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "pores")), (int)t->n_pores);
    cJSON *pc = cJSON_GetObjectItem(root, "pore_counts");
    assert_int_equal((size_t)cJSON_GetObjectItem(pc, "before")->valuedouble, t->n_pores);
    assert_int_equal((size_t)cJSON_GetObjectItem(pc, "surviving")->valuedouble, sum_a);
    cJSON_Delete(root);
    free(js);
    sd_synth_truth_free(t);
    sd_ctx_free(ctx);
}

/* ---- camera: defocus, JPEG, errors ---- */

static double laplacian_var(const sd_image *img)
{
    double s = 0, s2 = 0;
    int n = 0;
    for (int y = 1; y < img->height - 1; y++)
        for (int x = 1; x < img->width - 1; x++) {
            double v = lambda_at(img, x - 1, y) + lambda_at(img, x + 1, y) +
                       lambda_at(img, x, y - 1) + lambda_at(img, x, y + 1) -
                       4 * lambda_at(img, x, y);
            s += v;
            s2 += v * v;
            n++;
        }
    return s2 / n - (s / n) * (s / n);
}

static void test_camera_and_errors(void **state)
{
    (void)state;
    int W = 160, H = 120;
    sd_synth_skin s;
    sd_synth_skin_defaults(&s, 2, W, H);
    sd_synth_capture c;
    sd_synth_capture_defaults(&c, W, H);
    sd_image *sharp = render(&s, NULL, &c);
    c.defocus = 1.5;
    sd_image *soft = render(&s, NULL, &c);
    double f1 = laplacian_var(sharp), f2 = laplacian_var(soft);
    print_message("  focus (var of Laplacian of ln Y): sharp %.3g, defocus 1.5 px %.3g\n", f1,
                  f2);
    assert_true(f2 < 0.2 * f1);
    c.defocus = 0;
    c.jpeg_quality = 90;
    sd_image *jp = render(&s, NULL, &c);
    assert_int_equal(jp->bits, 8);
    assert_int_equal(sharp->bits, 16);
    double err = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            err += fabs(lambda_at(jp, x, y) - lambda_at(sharp, x, y));
    err /= W * H;
    print_message("  JPEG q90 round trip: mean |d ln Y| = %.4f\n", err);
    assert_true(err > 0 && err < 0.02);
    sd_image_free(sharp);
    sd_image_free(soft);
    sd_image_free(jp);

    sd_ctx *ctx = sd_ctx_new();
    sd_image *img = NULL;
    sd_synth_capture_defaults(&c, W, H);
    c.xf.m[0] = 0;
    c.xf.m[4] = 0;
    assert_int_equal(sd_synth_render(ctx, &s, NULL, &c, &img), SD_ERR_ARG);
    assert_null(img);
    sd_synth_capture_defaults(&c, W, H);
    c.supersample = 5;
    assert_int_equal(sd_synth_render(ctx, &s, NULL, &c, &img), SD_ERR_ARG);
    sd_synth_capture_defaults(&c, 200000, 200000);
    assert_int_equal(sd_synth_render(ctx, &s, NULL, &c, &img), SD_ERR_TOO_LARGE);
    sd_synth_capture_defaults(&c, W, H);
    sd_synth_skin bad = s;
    bad.pore_spacing = NAN;
    assert_int_equal(sd_synth_render(ctx, &bad, NULL, &c, &img), SD_ERR_ARG);
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    ses.pores_gone = 1.5;
    assert_int_equal(sd_synth_render(ctx, &s, &ses, &c, &img), SD_ERR_ARG);
    print_message("  %s\n", sd_ctx_message(ctx));
    sd_ctx_free(ctx);
}

/* ---- the committed samples regenerate byte for byte ---- */

static int files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int ca = fgetc(fa), cb = fgetc(fb);
        eq = ca == cb;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return eq;
}

static void test_samples_regenerate(void **state)
{
    (void)state;
    const char *build = getenv("BUILD");
    char bin[512], cmd[2600], dir[] = "/tmp/sd_samples_XXXXXX";
    snprintf(bin, sizeof bin, "%s/skindelta-synth", build && *build ? build : "build");
    FILE *f = fopen("samples/README.md", "r");
    if (access(bin, X_OK) != 0 || !f) {
        if (f)
            fclose(f);
        print_message("skipping: %s or samples/README.md not found\n", bin);
        skip();
    }
    /* the command is the README's line that starts with "skindelta-synth " */
    char line[2048], args[2048] = "";
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "    skindelta-synth ", 20) == 0) {
            snprintf(args, sizeof args, "%s", line + 20);
            break;
        }
    fclose(f);
    assert_true(args[0]);
    args[strcspn(args, "\n")] = '\0';
    assert_non_null(mkdtemp(dir));
    /* the README writes to samples/; write to the temporary folder instead */
    char fixed[2048] = "";
    for (char *tok = strtok(args, " "); tok; tok = strtok(NULL, " ")) {
        char piece[600];
        if (strncmp(tok, "samples/", 8) == 0)
            snprintf(piece, sizeof piece, "%s/%s ", dir, tok + 8);
        else
            snprintf(piece, sizeof piece, "%s ", tok);
        strncat(fixed, piece, sizeof fixed - strlen(fixed) - 1);
    }
    snprintf(cmd, sizeof cmd, "%s %s", bin, fixed);
    assert_int_equal(system(cmd), 0);
    static const char *names[] = {"before.jpg", "after.jpg", "truth.json"};
    for (int k = 0; k < 3; k++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s", dir, names[k]);
        snprintf(b, sizeof b, "samples/%s", names[k]);
        if (!files_equal(a, b))
            fail_msg("regenerated %s differs from the committed one", names[k]);
        unlink(a);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_pores_match_truth),
        cmocka_unit_test(test_tone_and_red_patches),
        cmocka_unit_test(test_integer_shift),
        cmocka_unit_test(test_quarter_turn),
        cmocka_unit_test(test_exposure),
        cmocka_unit_test(test_texture_amplitude),
        cmocka_unit_test(test_pores_fewer),
        cmocka_unit_test(test_truth_count_and_json),
        cmocka_unit_test(test_camera_and_errors),
        cmocka_unit_test(test_samples_regenerate),
    };
    return cmocka_run_group_tests_name("synth", tests, NULL, NULL);
}

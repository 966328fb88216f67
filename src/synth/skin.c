/*
 * The procedural skin: parameters and their defaults, value-noise fields,
 * the pores of the jittered grid, the red patches, and parameter checks.
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "synth/synth_internal.h"

void sd_synth_skin_defaults(sd_synth_skin *s, uint64_t seed, int w, int h)
{
    memset(s, 0, sizeof *s);
    s->seed = seed;
    s->components = SD_SYNTH_ALL;
    s->base_lab[0] = 66.0;
    s->base_lab[1] = 13.0;
    s->base_lab[2] = 17.0;
    s->shading = 0.10;
    s->shading_scale = 320.0;
    s->blotch_l = 0.03;
    s->blotch_a = 1.5;
    s->blotch_b = 1.2;
    s->blotch_scale = 48.0;
    s->texture = 0.05;
    s->texture_scale = 3.0;
    s->pore_spacing = 22.0;
    s->pore_fill = 0.8;
    s->pore_jitter = 0.6;
    s->pore_radius = 2.2;
    s->pore_depth = 0.35;
    s->pore_variation = 0.2;
    s->red_count = 4;
    s->red_radius = 36.0;
    s->red_amount = 8.0;
    s->red_variation = 0.25;
    s->extent_w = w;
    s->extent_h = h;
}

void sd_synth_session_defaults(sd_synth_session *s)
{
    s->pores_gone = 0.0;
    s->pore_radius_scale = 1.0;
    s->pore_depth_scale = 1.0;
    s->texture_scale = 1.0;
    s->redness_scale = 1.0;
}

void sd_synth_capture_defaults(sd_synth_capture *c, int w, int h)
{
    memset(c, 0, sizeof *c);
    c->width = w;
    c->height = h;
    c->xf.m[0] = 1.0;
    c->xf.m[4] = 1.0;
    c->supersample = 2;
}

sd_xform sd_synth_similarity(double rotation_deg, double scale, double tx, double ty, double cx,
                             double cy)
{
    const double pi = 3.14159265358979323846;
    double t = rotation_deg * pi / 180.0;
    double c = scale * cos(t), s = scale * sin(t);
    sd_xform xf = {{c, -s, 0, s, c, 0}};
    /* p' = A (p - c) + c + t */
    xf.m[2] = cx + tx - (c * cx - s * cy);
    xf.m[5] = cy + ty - (s * cx + c * cy);
    return xf;
}

/* ---- value noise ---- */

/* Spatial mean of sum_k w_k(t)^2 over one lattice cell, per axis: the
 * variance factor of a quintic-interpolated lattice of unit-variance
 * independent values is c^2 with c = integral_0^1 h(t)^2 + (1 - h(t))^2 dt. */
static double quintic_var_factor(void)
{
    /* Simpson's rule on a degree-10 polynomial: 64 intervals are exact to
     * rounding */
    int n = 64;
    double sum = 0;
    for (int k = 0; k <= n; k++) {
        double t = (double)k / n;
        double h = t * t * t * (t * (t * 6 - 15) + 10);
        double f = h * h + (1 - h) * (1 - h);
        sum += f * (k == 0 || k == n ? 1 : (k % 2 ? 4 : 2));
    }
    double c = sum / (3.0 * n);
    return c * c;
}

static void vnoise_init(sd_vnoise *o, uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < SD_VN_SIZE; i++)
        o->perm[i] = (uint16_t)i;
    for (int i = SD_VN_SIZE - 1; i > 0; i--) { /* Fisher-Yates */
        st = sd_synth_mix64(st);
        int j = (int)(sd_synth_unit(st) * (i + 1));
        uint16_t t = o->perm[i];
        o->perm[i] = o->perm[j];
        o->perm[j] = t;
    }
    double mean = 0, var = 0, v[SD_VN_SIZE];
    for (int i = 0; i < SD_VN_SIZE; i++) {
        st = sd_synth_mix64(st);
        v[i] = sd_synth_unit(st) - 0.5;
        mean += v[i];
    }
    mean /= SD_VN_SIZE;
    for (int i = 0; i < SD_VN_SIZE; i++)
        var += (v[i] - mean) * (v[i] - mean);
    double inv = 1.0 / sqrt(var / SD_VN_SIZE);
    for (int i = 0; i < SD_VN_SIZE; i++)
        o->val[i] = (float)((v[i] - mean) * inv);
}

void sd_synth_field_init(sd_field *f, uint64_t seed, int stream, int n, double scale, double amp)
{
    assert(n == 1 || n == 2);
    static const double w[2] = {1.0, 0.5};
    double wsum2 = 0;
    for (int k = 0; k < n; k++)
        wsum2 += w[k] * w[k];
    double norm = amp / sqrt(quintic_var_factor() * wsum2);
    f->n = n;
    for (int k = 0; k < n; k++) {
        vnoise_init(&f->oct[k], sd_synth_mix64(seed ^ sd_synth_mix64((uint64_t)stream * 16 + k)));
        f->oct[k].inv_scale = (float)(1.0 / (scale * w[k]));
        f->oct[k].weight = (float)(w[k] * norm);
    }
}

/* ---- pores ---- */

void sd_synth_pore_cell(const sd_synth_skin *s, int64_t i, int64_t j, sd_synth_pore_raw *p)
{
    uint64_t h = sd_synth_mix64(s->seed ^ sd_synth_mix64(SD_STREAM_PORES));
    h = sd_synth_mix64(h ^ (uint64_t)i);
    h = sd_synth_mix64(h ^ ((uint64_t)j * 0x9e3779b97f4a7c15ull));
    double u[6];
    for (int k = 0; k < 6; k++)
        u[k] = sd_synth_unit(sd_synth_mix64(h + (uint64_t)k));
    double S = s->pore_spacing, J = s->pore_jitter, V = s->pore_variation;
    p->present = u[0] < s->pore_fill;
    p->x = ((double)i + 0.5 + J * (u[1] - 0.5)) * S;
    p->y = ((double)j + 0.5 + J * (u[2] - 0.5)) * S;
    p->sigma = s->pore_radius * (1.0 + V * (2.0 * u[3] - 1.0));
    p->depth = s->pore_depth * (1.0 + V * (2.0 * u[4] - 1.0));
    p->u_gone = u[5];
}

/* ---- red patches ---- */

void sd_synth_patches(const sd_synth_skin *s, sd_synth_patch *out)
{
    uint64_t st = sd_synth_mix64(s->seed ^ sd_synth_mix64(SD_STREAM_PATCHES));
    double W = s->extent_w, H = s->extent_h, V = s->red_variation;
    for (int k = 0; k < s->red_count; k++) {
        double sig, amt, x = 0, y = 0;
        st = sd_synth_mix64(st);
        sig = s->red_radius * (1.0 + V * (2.0 * sd_synth_unit(st) - 1.0));
        st = sd_synth_mix64(st);
        amt = s->red_amount * (1.0 + V * (2.0 * sd_synth_unit(st) - 1.0));
        /* inside the extent, one sigma from its edges where it fits, and
         * apart from the earlier patches (2.5 sigma) when possible */
        double mx = SD_MIN(sig, W / 4), my = SD_MIN(sig, H / 4);
        for (int attempt = 0; attempt < 64; attempt++) {
            st = sd_synth_mix64(st);
            x = mx + sd_synth_unit(st) * (W - 2 * mx) - 0.5;
            st = sd_synth_mix64(st);
            y = my + sd_synth_unit(st) * (H - 2 * my) - 0.5;
            int ok = 1;
            for (int q = 0; q < k && ok; q++) {
                double d = hypot(out[q].x - x, out[q].y - y);
                ok = d > 2.5 * SD_MAX(sig, out[q].sigma);
            }
            if (ok)
                break;
        }
        out[k].x = x;
        out[k].y = y;
        out[k].sigma = sig;
        out[k].amount = amt;
        out[k].after_amount = amt;
    }
}

/* ---- checks ---- */

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            return sd_fail(ctx, SD_ERR_ARG, __VA_ARGS__);                                  \
    } while (0)

static int finite_all(const double *v, int n)
{
    for (int k = 0; k < n; k++)
        if (!isfinite(v[k]))
            return 0;
    return 1;
}

sd_status sd_synth_check(sd_ctx *ctx, const sd_synth_skin *s, const sd_synth_session *ses)
{
    CHECK(s, "synth: no skin parameters");
    const double v[] = {s->base_lab[0], s->base_lab[1], s->base_lab[2], s->shading,
                        s->shading_scale, s->blotch_l, s->blotch_a, s->blotch_b,
                        s->blotch_scale, s->texture, s->texture_scale, s->pore_spacing,
                        s->pore_fill, s->pore_jitter, s->pore_radius, s->pore_depth,
                        s->pore_variation, s->red_radius, s->red_amount, s->red_variation};
    CHECK(finite_all(v, (int)(sizeof v / sizeof v[0])), "synth: a skin parameter is not finite");
    CHECK(s->base_lab[0] > 0 && s->base_lab[0] <= 100, "synth: base L* %g outside (0, 100]",
          s->base_lab[0]);
    CHECK(s->shading >= 0 && s->shading <= 2, "synth: shading %g outside [0, 2]", s->shading);
    CHECK(s->shading_scale >= 1, "synth: shading scale %g below 1 px", s->shading_scale);
    CHECK(s->blotch_l >= 0 && s->blotch_a >= 0 && s->blotch_b >= 0,
          "synth: negative blotch amplitude");
    CHECK(s->blotch_scale >= 2, "synth: blotch scale %g below 2 px", s->blotch_scale);
    CHECK(s->texture >= 0 && s->texture <= 2, "synth: texture %g outside [0, 2]", s->texture);
    CHECK(s->texture_scale >= 1, "synth: texture scale %g below 1 px", s->texture_scale);
    CHECK(s->pore_spacing >= 4 && s->pore_spacing <= 10000,
          "synth: pore spacing %g outside [4, 10000] px", s->pore_spacing);
    CHECK(s->pore_fill >= 0 && s->pore_fill <= 1, "synth: pore fill %g outside [0, 1]",
          s->pore_fill);
    CHECK(s->pore_jitter >= 0 && s->pore_jitter <= 1, "synth: pore jitter %g outside [0, 1]",
          s->pore_jitter);
    CHECK(s->pore_radius > 0 && s->pore_radius <= s->pore_spacing,
          "synth: pore radius %g outside (0, spacing]", s->pore_radius);
    CHECK(s->pore_depth >= 0 && s->pore_depth <= 5, "synth: pore depth %g outside [0, 5]",
          s->pore_depth);
    CHECK(s->pore_variation >= 0 && s->pore_variation < 1,
          "synth: pore variation %g outside [0, 1)", s->pore_variation);
    CHECK(s->red_count >= 0 && s->red_count <= 1000, "synth: red patch count %d outside 0..1000",
          s->red_count);
    CHECK(s->red_radius > 0 && s->red_radius <= 1e5, "synth: red radius %g outside (0, 1e5]",
          s->red_radius);
    CHECK(s->red_amount >= -100 && s->red_amount <= 100, "synth: red amount %g outside +-100",
          s->red_amount);
    CHECK(s->red_variation >= 0 && s->red_variation < 1,
          "synth: red variation %g outside [0, 1)", s->red_variation);
    CHECK(s->red_count == 0 || (s->extent_w > 0 && s->extent_h > 0),
          "synth: red patches need a skin extent");
    if (ses) {
        const double q[] = {ses->pores_gone, ses->pore_radius_scale, ses->pore_depth_scale,
                            ses->texture_scale, ses->redness_scale};
        CHECK(finite_all(q, 5), "synth: a session parameter is not finite");
        CHECK(ses->pores_gone >= 0 && ses->pores_gone <= 1,
              "synth: pores-gone fraction %g outside [0, 1]", ses->pores_gone);
        CHECK(ses->pore_radius_scale > 0 && ses->pore_radius_scale <= 4,
              "synth: pore radius scale %g outside (0, 4]", ses->pore_radius_scale);
        CHECK(ses->pore_depth_scale >= 0 && ses->pore_depth_scale <= 4,
              "synth: pore depth scale %g outside [0, 4]", ses->pore_depth_scale);
        CHECK(ses->texture_scale >= 0 && ses->texture_scale <= 10,
              "synth: texture scale %g outside [0, 10]", ses->texture_scale);
        CHECK(ses->redness_scale >= 0 && ses->redness_scale <= 10,
              "synth: redness scale %g outside [0, 10]", ses->redness_scale);
    }
    return SD_OK;
}

sd_status sd_synth_check_capture(sd_ctx *ctx, const sd_synth_capture *c, const char *what)
{
    CHECK(c, "synth: no %s capture", what);
    sd_status st = sd_image_check_size(ctx, what, (uint64_t)SD_MAX(c->width, 0),
                                       (uint64_t)SD_MAX(c->height, 0), SD_DEFAULT_MAX_PIXELS);
    if (st != SD_OK)
        return st == SD_ERR_CORRUPT ? sd_fail(ctx, SD_ERR_ARG, "%s: size %dx%d is empty", what,
                                              c->width, c->height)
                                    : st;
    CHECK(finite_all(c->xf.m, 6), "%s: transform is not finite", what);
    double sc = sd_xform_scale(&c->xf);
    CHECK(sc > 1e-3 && sc < 1e3, "%s: transform scale %g outside (0.001, 1000)", what, sc);
    CHECK(isfinite(c->ev) && fabs(c->ev) <= 16, "%s: exposure %g EV outside +-16", what, c->ev);
    CHECK(isfinite(c->noise) && c->noise >= 0 && c->noise <= 1,
          "%s: noise %g outside [0, 1]", what, c->noise);
    CHECK(isfinite(c->defocus) && c->defocus >= 0 && c->defocus <= 100,
          "%s: defocus %g outside [0, 100] px", what, c->defocus);
    CHECK(c->supersample >= 1 && c->supersample <= 4, "%s: supersample %d outside 1..4", what,
          c->supersample);
    CHECK(c->jpeg_quality >= 0 && c->jpeg_quality <= 100, "%s: JPEG quality %d outside 0..100",
          what, c->jpeg_quality);
    return SD_OK;
}

/* ---- affine helpers ---- */

sd_xform sd_synth_xf_compose(const sd_xform *a, const sd_xform *b)
{
    const double *p = a->m, *q = b->m;
    sd_xform r = {{p[0] * q[0] + p[1] * q[3], p[0] * q[1] + p[1] * q[4],
                   p[0] * q[2] + p[1] * q[5] + p[2], p[3] * q[0] + p[4] * q[3],
                   p[3] * q[1] + p[4] * q[4], p[3] * q[2] + p[4] * q[5] + p[5]}};
    return r;
}

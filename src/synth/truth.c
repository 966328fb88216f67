/*
 * Ground truth of a synthetic pair: the pores and red patches in BEFORE
 * coordinates (and their state and place in AFTER), the transform and the
 * exposure change; its JSON form; and the whole-pair convenience call.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "synth/synth_internal.h"

static int in_frame(double x, double y, int w, int h)
{
    return x >= -0.5 && x < w - 0.5 && y >= -0.5 && y < h - 0.5;
}

sd_status sd_synth_truth_new(sd_ctx *ctx, const sd_synth_skin *skin,
                             const sd_synth_session *session, const sd_synth_capture *before,
                             const sd_synth_capture *after, sd_synth_truth **out)
{
    if (!out)
        return sd_fail(ctx, SD_ERR_ARG, "synth: no output");
    *out = NULL;
    sd_status st = sd_synth_check(ctx, skin, session);
    if (st == SD_OK)
        st = sd_synth_check_capture(ctx, before, "before");
    if (st == SD_OK)
        st = sd_synth_check_capture(ctx, after, "after");
    if (st != SD_OK)
        return st;
    sd_xform binv;
    if (!sd_xform_invert(&before->xf, &binv))
        return sd_fail(ctx, SD_ERR_ARG, "synth: the BEFORE transform is singular");

    sd_synth_truth *t = calloc(1, sizeof *t);
    if (!t)
        return sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory");
    t->skin = *skin;
    sd_synth_session_defaults(&t->session);
    if (session)
        t->session = *session;
    t->before = *before;
    t->after = *after;
    t->xf = sd_synth_xf_compose(&after->xf, &binv);
    t->exposure_ev = after->ev - before->ev;
    const sd_synth_session *ses = &t->session;
    double bscale = sd_xform_scale(&before->xf), ascale = sd_xform_scale(&after->xf);

    /* pores: the grid cells under the BEFORE frame */
    if ((skin->components & SD_SYNTH_PORES) && skin->pore_fill > 0 && skin->pore_depth > 0) {
        double u[2] = {INFINITY, -INFINITY}, v[2] = {INFINITY, -INFINITY};
        for (int k = 0; k < 4; k++) {
            double pu, pv;
            sd_xform_apply(&binv, k & 1 ? before->width - 0.5 : -0.5,
                              k & 2 ? before->height - 0.5 : -0.5, &pu, &pv);
            u[0] = fmin(u[0], pu);
            u[1] = fmax(u[1], pu);
            v[0] = fmin(v[0], pv);
            v[1] = fmax(v[1], pv);
        }
        double S = skin->pore_spacing;
        int64_t i0 = (int64_t)floor(u[0] / S) - 1, i1 = (int64_t)floor(u[1] / S) + 1;
        int64_t j0 = (int64_t)floor(v[0] / S) - 1, j1 = (int64_t)floor(v[1] / S) + 1;
        size_t cap = (size_t)((i1 - i0 + 1) * (j1 - j0 + 1));
        t->pores = sd_alloc_array(cap, sizeof *t->pores);
        if (!t->pores) {
            sd_synth_truth_free(t);
            return sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory for the pore list");
        }
        /* row-major in skin cells: a stable order */
        for (int64_t j = j0; j <= j1; j++)
            for (int64_t i = i0; i <= i1; i++) {
                sd_synth_pore_raw p;
                sd_synth_pore_cell(skin, i, j, &p);
                if (!p.present)
                    continue;
                double bx, by;
                sd_xform_apply(&before->xf, p.x, p.y, &bx, &by);
                if (!in_frame(bx, by, before->width, before->height))
                    continue;
                sd_synth_pore *q = &t->pores[t->n_pores++];
                q->x = bx;
                q->y = by;
                q->sigma = p.sigma * bscale;
                q->depth = p.depth;
                q->survives = !(p.u_gone < ses->pores_gone);
                sd_xform_apply(&after->xf, p.x, p.y, &q->after_x, &q->after_y);
                q->after_sigma = q->survives ? p.sigma * ses->pore_radius_scale * ascale : 0;
                q->after_depth = q->survives ? p.depth * ses->pore_depth_scale : 0;
            }
    }
    if ((skin->components & SD_SYNTH_REDNESS) && skin->red_count > 0) {
        t->patches = sd_alloc_array((size_t)skin->red_count, sizeof *t->patches);
        if (!t->patches) {
            sd_synth_truth_free(t);
            return sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory");
        }
        sd_synth_patches(skin, t->patches);
        t->n_patches = (size_t)skin->red_count;
        for (size_t k = 0; k < t->n_patches; k++) {
            sd_synth_patch *p = &t->patches[k];
            double bx, by;
            sd_xform_apply(&before->xf, p->x, p->y, &bx, &by);
            p->x = bx;
            p->y = by;
            p->sigma *= bscale;
            p->after_amount = p->amount * ses->redness_scale;
        }
    }
    *out = t;
    return SD_OK;
}

void sd_synth_truth_free(sd_synth_truth *t)
{
    if (!t)
        return;
    free(t->pores);
    free(t->patches);
    free(t);
}

size_t sd_synth_truth_count_pores(const sd_synth_truth *t, sd_rect r, int after)
{
    size_t n = 0;
    for (size_t k = 0; k < t->n_pores; k++) {
        const sd_synth_pore *p = &t->pores[k];
        if (after && !p->survives)
            continue;
        if (p->x >= r.x - 0.5 && p->x < r.x + r.w - 0.5 && p->y >= r.y - 0.5 &&
            p->y < r.y + r.h - 0.5)
            n++;
    }
    return n;
}

/* ---- JSON ---- */

static cJSON *capture_json(const sd_synth_capture *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "width", c->width);
    cJSON_AddNumberToObject(o, "height", c->height);
    cJSON_AddItemToObject(o, "skin_to_pixel", cJSON_CreateDoubleArray(c->xf.m, 6));
    cJSON_AddNumberToObject(o, "ev", c->ev);
    cJSON_AddNumberToObject(o, "noise", c->noise);
    cJSON_AddNumberToObject(o, "noise_seed", (double)c->noise_seed);
    cJSON_AddNumberToObject(o, "defocus_sigma_px", c->defocus);
    cJSON_AddNumberToObject(o, "supersample", c->supersample);
    if (c->jpeg_quality > 0)
        cJSON_AddNumberToObject(o, "jpeg_quality", c->jpeg_quality);
    else
        cJSON_AddNullToObject(o, "jpeg_quality");
    return o;
}

static cJSON *skin_json(const sd_synth_skin *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "seed", (double)s->seed);
    cJSON *comp = cJSON_AddArrayToObject(o, "components");
    static const char *names[] = {"shading", "blotch", "texture", "pores", "redness"};
    for (int k = 0; k < 5; k++)
        if (s->components & (1u << k))
            cJSON_AddItemToArray(comp, cJSON_CreateString(names[k]));
    cJSON_AddItemToObject(o, "base_lab", cJSON_CreateDoubleArray(s->base_lab, 3));
    cJSON *sh = cJSON_AddObjectToObject(o, "shading");
    cJSON_AddNumberToObject(sh, "std_ln_y", s->shading);
    cJSON_AddNumberToObject(sh, "scale_px", s->shading_scale);
    cJSON *bl = cJSON_AddObjectToObject(o, "blotch");
    cJSON_AddNumberToObject(bl, "std_ln_y", s->blotch_l);
    cJSON_AddNumberToObject(bl, "std_a", s->blotch_a);
    cJSON_AddNumberToObject(bl, "std_b", s->blotch_b);
    cJSON_AddNumberToObject(bl, "scale_px", s->blotch_scale);
    cJSON *tx = cJSON_AddObjectToObject(o, "texture");
    cJSON_AddNumberToObject(tx, "std_ln_y", s->texture);
    cJSON_AddNumberToObject(tx, "scale_px", s->texture_scale);
    cJSON *po = cJSON_AddObjectToObject(o, "pores");
    cJSON_AddNumberToObject(po, "spacing_px", s->pore_spacing);
    cJSON_AddNumberToObject(po, "fill", s->pore_fill);
    cJSON_AddNumberToObject(po, "jitter", s->pore_jitter);
    cJSON_AddNumberToObject(po, "sigma_px", s->pore_radius);
    cJSON_AddNumberToObject(po, "depth_ln_y", s->pore_depth);
    cJSON_AddNumberToObject(po, "variation", s->pore_variation);
    cJSON *re = cJSON_AddObjectToObject(o, "red_patches");
    cJSON_AddNumberToObject(re, "count", s->red_count);
    cJSON_AddNumberToObject(re, "sigma_px", s->red_radius);
    cJSON_AddNumberToObject(re, "amount_a", s->red_amount);
    cJSON_AddNumberToObject(re, "variation", s->red_variation);
    int ext[2] = {s->extent_w, s->extent_h};
    cJSON_AddItemToObject(o, "extent", cJSON_CreateIntArray(ext, 2));
    return o;
}

/* Round to 1e-4 for the pore and patch lists: far below any measurement,
 * and it keeps the file small. */
static double r4(double v)
{
    return round(v * 1e4) / 1e4;
}

sd_status sd_synth_truth_json(sd_ctx *ctx, const sd_synth_truth *t, char **out)
{
    if (!t || !out)
        return sd_fail(ctx, SD_ERR_ARG, "synth: no truth");
    *out = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory");
    cJSON_AddStringToObject(root, "schema", "skindelta/synth-truth/1");
    cJSON *tool = cJSON_AddObjectToObject(root, "tool");
    cJSON_AddStringToObject(tool, "name", "skindelta-synth");
    cJSON_AddStringToObject(tool, "version", SD_VERSION);
    cJSON_AddItemToObject(root, "before", capture_json(&t->before));
    cJSON_AddItemToObject(root, "after", capture_json(&t->after));

    cJSON *tr = cJSON_AddObjectToObject(root, "transform");
    cJSON_AddItemToObject(tr, "matrix", cJSON_CreateDoubleArray(t->xf.m, 6));
    double sc = sd_xform_scale(&t->xf);
    double rot = atan2(t->xf.m[3] - t->xf.m[1], t->xf.m[0] + t->xf.m[4]) * 180.0 /
                 3.14159265358979323846;
    cJSON_AddNumberToObject(tr, "rotation_deg", rot);
    cJSON_AddNumberToObject(tr, "scale", sc);
    double tt[2] = {t->xf.m[2], t->xf.m[5]};
    cJSON_AddItemToObject(tr, "translation_px", cJSON_CreateDoubleArray(tt, 2));
    cJSON_AddNumberToObject(root, "exposure_ev", t->exposure_ev);

    cJSON_AddItemToObject(root, "skin", skin_json(&t->skin));
    cJSON *se = cJSON_AddObjectToObject(root, "session");
    cJSON_AddNumberToObject(se, "pores_gone", t->session.pores_gone);
    cJSON_AddNumberToObject(se, "pore_radius_scale", t->session.pore_radius_scale);
    cJSON_AddNumberToObject(se, "pore_depth_scale", t->session.pore_depth_scale);
    cJSON_AddNumberToObject(se, "texture_scale", t->session.texture_scale);
    cJSON_AddNumberToObject(se, "redness_scale", t->session.redness_scale);

    /* summary counts over the whole BEFORE frame and the part of it that
     * AFTER also shows */
    size_t surv = 0, in_after = 0, in_after_surv = 0;
    for (size_t k = 0; k < t->n_pores; k++) {
        const sd_synth_pore *p = &t->pores[k];
        int ia = in_frame(p->after_x, p->after_y, t->after.width, t->after.height);
        surv += p->survives != 0;
        in_after += ia;
        in_after_surv += ia && p->survives;
    }
    cJSON *pc = cJSON_AddObjectToObject(root, "pore_counts");
    cJSON_AddNumberToObject(pc, "before", (double)t->n_pores);
    cJSON_AddNumberToObject(pc, "surviving", (double)surv);
    cJSON_AddNumberToObject(pc, "before_in_after_frame", (double)in_after);
    cJSON_AddNumberToObject(pc, "after_in_after_frame", (double)in_after_surv);

    cJSON *pl = cJSON_AddArrayToObject(root, "pores");
    for (size_t k = 0; k < t->n_pores; k++) {
        const sd_synth_pore *p = &t->pores[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(pl, o);
        cJSON_AddNumberToObject(o, "x", r4(p->x));
        cJSON_AddNumberToObject(o, "y", r4(p->y));
        cJSON_AddNumberToObject(o, "sigma", r4(p->sigma));
        cJSON_AddNumberToObject(o, "depth", r4(p->depth));
        cJSON_AddBoolToObject(o, "survives", p->survives);
        cJSON_AddNumberToObject(o, "after_x", r4(p->after_x));
        cJSON_AddNumberToObject(o, "after_y", r4(p->after_y));
        cJSON_AddNumberToObject(o, "after_sigma", r4(p->after_sigma));
        cJSON_AddNumberToObject(o, "after_depth", r4(p->after_depth));
    }
    cJSON *rl = cJSON_AddArrayToObject(root, "red_patches");
    for (size_t k = 0; k < t->n_patches; k++) {
        const sd_synth_patch *p = &t->patches[k];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(rl, o);
        cJSON_AddNumberToObject(o, "x", r4(p->x));
        cJSON_AddNumberToObject(o, "y", r4(p->y));
        cJSON_AddNumberToObject(o, "sigma", r4(p->sigma));
        cJSON_AddNumberToObject(o, "amount_a", r4(p->amount));
        cJSON_AddNumberToObject(o, "after_amount_a", r4(p->after_amount));
    }
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt)
        return sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory for the truth JSON");
    /* cJSON_Print allocates with malloc by default; hand back a plain copy
     * so the caller frees with free() whatever hooks cJSON uses */
    size_t n = strlen(txt);
    char *res = malloc(n + 2);
    if (res) {
        memcpy(res, txt, n);
        res[n] = '\n';
        res[n + 1] = '\0';
    }
    cJSON_free(txt);
    if (!res)
        return sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory for the truth JSON");
    *out = res;
    return SD_OK;
}

/* ---- a whole pair ---- */

sd_status sd_synth_pair_render(sd_ctx *ctx, const sd_synth_skin *skin,
                               const sd_synth_session *session, const sd_synth_capture *before,
                               const sd_synth_capture *after, sd_synth_pair *out)
{
    if (!out)
        return sd_fail(ctx, SD_ERR_ARG, "synth: no output");
    memset(out, 0, sizeof *out);
    sd_status st = sd_synth_truth_new(ctx, skin, session, before, after, &out->truth);
    if (st == SD_OK)
        st = sd_synth_render(ctx, skin, NULL, before, &out->before);
    if (st == SD_OK)
        st = sd_synth_render(ctx, skin, session, after, &out->after);
    if (st != SD_OK)
        sd_synth_pair_release(out);
    return st;
}

void sd_synth_pair_release(sd_synth_pair *p)
{
    if (!p)
        return;
    sd_image_free(p->before);
    sd_image_free(p->after);
    sd_synth_truth_free(p->truth);
    memset(p, 0, sizeof *p);
}

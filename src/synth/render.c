/*
 * Rendering one capture of the procedural skin: every pixel evaluates the
 * skin at the points its area sees (supersampled, averaged in linear light),
 * then the camera applies exposure, defocus, noise, sRGB encoding and
 * optionally JPEG.
 *
 * Per pixel, the slowly varying parts (tone, shading, blotches, red
 * patches: features of tens of pixels) are evaluated once at the pixel
 * centre; the fine parts of ln Y (texture, pores) at every sub-sample.
 * Every pixel depends only on its coordinates and the seeds, so the image
 * does not depend on the number of threads.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "skindelta/io.h"
#include "skindelta/kernels.h"
#include "synth/synth_internal.h"

/* A pore ready for evaluation; depth 0: empty cell. */
typedef struct pore_cell {
    float x, y;
    float a;     /* 1 / (2 sigma^2) */
    float r2;    /* (4 sigma)^2: beyond it the pore is left out (< 3.4e-4 depth) */
    float depth;
} pore_cell;

typedef struct model {
    unsigned comp;
    sd_field shading, blotch_l, blotch_a, blotch_b, texture;
    double base_a, base_b, fy; /* CIELAB f(Y) of the base tone */
    double m_inv[9];           /* XYZ -> linear RGB */
    double xn, zn;
    /* red patches (amounts for this session) */
    int np;
    sd_synth_patch *patches;
    /* pores: grid cells [gi0, gi0 + gw) x [gj0, gj0 + gh) */
    int64_t gi0, gj0;
    int64_t gw, gh;
    pore_cell *cells;
    float inv_s, reach;
    /* capture */
    int w, h;
    sd_xform inv;   /* pixel -> skin */
    int ns;         /* sub-samples per pixel */
    double off_u[16], off_v[16]; /* their skin offsets from the pixel centre's */
    float gain;     /* 2^ev */
    float noise;
    uint64_t noise_key;
} model;

/* ---- sRGB encoding table: linear [0,1] -> encoded 0..65535 ---- */

#define ENC_N 65536
static float enc_lut[ENC_N + 1];
static pthread_once_t enc_once = PTHREAD_ONCE_INIT;

static void enc_build(void)
{
    for (int i = 0; i <= ENC_N; i++) {
        double v = (double)i / ENC_N;
        double e = v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1.0 / 2.4) - 0.055;
        enc_lut[i] = (float)(e * 65535.0);
    }
}

static inline uint16_t encode16(float v)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return 65535;
    float f = v * (float)ENC_N;
    int i = (int)f;
    float t = f - (float)i;
    float e = enc_lut[i] + t * (enc_lut[i + 1] - enc_lut[i]);
    return (uint16_t)(e + 0.5f);
}

/* ---- the model ---- */

static double lab_finv(double t)
{
    const double d = 6.0 / 29.0;
    return t > d ? t * t * t : 3.0 * d * d * (t - 4.0 / 29.0);
}

static void invert3(const double m[9], double r[9])
{
    double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) +
                 m[2] * (m[3] * m[7] - m[4] * m[6]);
    r[0] = (m[4] * m[8] - m[5] * m[7]) / det;
    r[1] = (m[2] * m[7] - m[1] * m[8]) / det;
    r[2] = (m[1] * m[5] - m[2] * m[4]) / det;
    r[3] = (m[5] * m[6] - m[3] * m[8]) / det;
    r[4] = (m[0] * m[8] - m[2] * m[6]) / det;
    r[5] = (m[2] * m[3] - m[0] * m[5]) / det;
    r[6] = (m[3] * m[7] - m[4] * m[6]) / det;
    r[7] = (m[1] * m[6] - m[0] * m[7]) / det;
    r[8] = (m[0] * m[4] - m[1] * m[3]) / det;
}

static void model_free(model *m)
{
    if (!m)
        return;
    free(m->patches);
    free(m->cells);
    free(m);
}

/* Bounding box in skin coordinates of the capture's pixel area. */
static void skin_bbox(const sd_xform *inv, int w, int h, double *u0, double *v0, double *u1,
                      double *v1)
{
    const double cx[4] = {-0.5, w - 0.5, -0.5, w - 0.5};
    const double cy[4] = {-0.5, -0.5, h - 0.5, h - 0.5};
    *u0 = *v0 = INFINITY;
    *u1 = *v1 = -INFINITY;
    for (int k = 0; k < 4; k++) {
        double u, v;
        sd_xform_apply(inv, cx[k], cy[k], &u, &v);
        *u0 = fmin(*u0, u);
        *u1 = fmax(*u1, u);
        *v0 = fmin(*v0, v);
        *v1 = fmax(*v1, v);
    }
}

static sd_status model_new(sd_ctx *ctx, const sd_synth_skin *s, const sd_synth_session *ses_in,
                           const sd_synth_capture *cap, model **out)
{
    *out = NULL;
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    if (ses_in)
        ses = *ses_in;
    model *m = calloc(1, sizeof *m);
    if (!m)
        return sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory");
    m->comp = s->components;
    if (!sd_xform_invert(&cap->xf, &m->inv)) {
        model_free(m);
        return sd_fail(ctx, SD_ERR_ARG, "synth: the capture's transform is singular");
    }
    m->w = cap->width;
    m->h = cap->height;

    /* tone */
    m->fy = (s->base_lab[0] + 16.0) / 116.0;
    m->base_a = s->base_lab[1];
    m->base_b = s->base_lab[2];
    const double mf[9] = {SD_XYZ_XR, SD_XYZ_XG, SD_XYZ_XB, SD_XYZ_YR, SD_XYZ_YG,
                          SD_XYZ_YB, SD_XYZ_ZR, SD_XYZ_ZG, SD_XYZ_ZB};
    invert3(mf, m->m_inv);
    m->xn = SD_XYZ_XR + SD_XYZ_XG + SD_XYZ_XB;
    m->zn = SD_XYZ_ZR + SD_XYZ_ZG + SD_XYZ_ZB;

    /* fields */
    if (m->comp & SD_SYNTH_SHADING)
        sd_synth_field_init(&m->shading, s->seed, SD_STREAM_SHADING, 1, s->shading_scale,
                            s->shading);
    if (m->comp & SD_SYNTH_BLOTCH) {
        sd_synth_field_init(&m->blotch_l, s->seed, SD_STREAM_BLOTCH_L, 2, s->blotch_scale,
                            s->blotch_l);
        sd_synth_field_init(&m->blotch_a, s->seed, SD_STREAM_BLOTCH_A, 2, s->blotch_scale,
                            s->blotch_a);
        sd_synth_field_init(&m->blotch_b, s->seed, SD_STREAM_BLOTCH_B, 2, s->blotch_scale,
                            s->blotch_b);
    }
    if (m->comp & SD_SYNTH_TEXTURE)
        sd_synth_field_init(&m->texture, s->seed, SD_STREAM_TEXTURE, 2, s->texture_scale,
                            s->texture * ses.texture_scale);

    /* red patches */
    if ((m->comp & SD_SYNTH_REDNESS) && s->red_count > 0) {
        m->patches = sd_alloc_array((size_t)s->red_count, sizeof *m->patches);
        if (!m->patches) {
            model_free(m);
            return sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory");
        }
        sd_synth_patches(s, m->patches);
        m->np = s->red_count;
        for (int k = 0; k < m->np; k++)
            m->patches[k].after_amount = m->patches[k].amount * ses.redness_scale;
    }

    /* sub-samples: an n x n grid over the pixel, offsets mapped to skin */
    int n = cap->supersample;
    m->ns = n * n;
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) {
            double ox = (i + 0.5) / n - 0.5, oy = (j + 0.5) / n - 0.5;
            m->off_u[j * n + i] = m->inv.m[0] * ox + m->inv.m[1] * oy;
            m->off_v[j * n + i] = m->inv.m[3] * ox + m->inv.m[4] * oy;
        }
    m->gain = (float)exp2(cap->ev);
    m->noise = (float)cap->noise;
    m->noise_key = sd_synth_mix64(cap->noise_seed ^ 0x6e6f697365ull);

    /* pores: the grid cells that can reach the capture's skin area */
    if ((m->comp & SD_SYNTH_PORES) && s->pore_fill > 0 && s->pore_depth > 0) {
        double smax = s->pore_radius * (1.0 + s->pore_variation) * ses.pore_radius_scale;
        double reach = 4.0 * smax, S = s->pore_spacing;
        double u0, v0, u1, v1;
        skin_bbox(&m->inv, m->w, m->h, &u0, &v0, &u1, &v1);
        double gi0 = floor((u0 - reach) / S), gi1 = floor((u1 + reach) / S);
        double gj0 = floor((v0 - reach) / S), gj1 = floor((v1 + reach) / S);
        double cells = (gi1 - gi0 + 1) * (gj1 - gj0 + 1);
        if (!(cells <= 1e8)) {
            model_free(m);
            return sd_fail(ctx, SD_ERR_ARG,
                           "synth: the capture covers %.3g pore cells; too many (zoomed out "
                           "too far or pores too dense)",
                           cells);
        }
        m->gi0 = (int64_t)gi0;
        m->gj0 = (int64_t)gj0;
        m->gw = (int64_t)(gi1 - gi0 + 1);
        m->gh = (int64_t)(gj1 - gj0 + 1);
        m->cells = sd_calloc_array((size_t)(m->gw * m->gh), sizeof *m->cells);
        if (!m->cells) {
            model_free(m);
            return sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory for the pore grid");
        }
        m->inv_s = (float)(1.0 / S);
        m->reach = (float)reach;
        for (int64_t j = 0; j < m->gh; j++)
            for (int64_t i = 0; i < m->gw; i++) {
                sd_synth_pore_raw p;
                sd_synth_pore_cell(s, m->gi0 + i, m->gj0 + j, &p);
                if (!p.present || p.u_gone < ses.pores_gone)
                    continue;
                double sig = p.sigma * ses.pore_radius_scale;
                pore_cell *c = &m->cells[j * m->gw + i];
                c->x = (float)p.x;
                c->y = (float)p.y;
                c->a = (float)(1.0 / (2.0 * sig * sig));
                c->r2 = (float)(16.0 * sig * sig);
                c->depth = (float)(p.depth * ses.pore_depth_scale);
            }
    }
    *out = m;
    return SD_OK;
}

/* Sum of the pores' ln Y drops at skin point (u, v). */
static inline float pores_at(const model *m, float u, float v)
{
    int64_t i0 = (int64_t)floorf((u - m->reach) * m->inv_s) - m->gi0;
    int64_t i1 = (int64_t)floorf((u + m->reach) * m->inv_s) - m->gi0;
    int64_t j0 = (int64_t)floorf((v - m->reach) * m->inv_s) - m->gj0;
    int64_t j1 = (int64_t)floorf((v + m->reach) * m->inv_s) - m->gj0;
    i0 = SD_MAX(i0, 0);
    j0 = SD_MAX(j0, 0);
    i1 = SD_MIN(i1, m->gw - 1);
    j1 = SD_MIN(j1, m->gh - 1);
    float s = 0.0f;
    for (int64_t j = j0; j <= j1; j++)
        for (int64_t i = i0; i <= i1; i++) {
            const pore_cell *c = &m->cells[j * m->gw + i];
            float dx = u - c->x, dy = v - c->y, d2 = dx * dx + dy * dy;
            if (c->depth > 0.0f && d2 < c->r2)
                s += c->depth * expf(-d2 * c->a);
        }
    return s;
}

/* Indices of the red patches that can reach pixel row y. */
static int row_patches(const model *m, int y, int *list)
{
    double u0, v0, u1, v1, ua, va, ub, vb;
    sd_xform_apply(&m->inv, -0.5, y, &ua, &va);
    sd_xform_apply(&m->inv, m->w - 0.5, y, &ub, &vb);
    double pad = sd_xform_scale(&m->inv); /* half a pixel each way, generously */
    u0 = fmin(ua, ub) - pad;
    u1 = fmax(ua, ub) + pad;
    v0 = fmin(va, vb) - pad;
    v1 = fmax(va, vb) + pad;
    int n = 0;
    for (int k = 0; k < m->np; k++) {
        const sd_synth_patch *p = &m->patches[k];
        double r = 4.0 * p->sigma;
        if (p->after_amount != 0 && p->x + r >= u0 && p->x - r <= u1 && p->y + r >= v0 &&
            p->y - r <= v1)
            list[n++] = k;
    }
    return n;
}

/* Linear RGB (after exposure, before noise) of pixel row y into out[3w]. */
static void render_row(const model *m, int y, float *out, int *plist)
{
    int np = row_patches(m, y, plist);
    int fine = (m->comp & SD_SYNTH_TEXTURE) || m->cells;
    const double *mi = m->m_inv;
    for (int x = 0; x < m->w; x++) {
        double pu, pv;
        sd_xform_apply(&m->inv, x, y, &pu, &pv);
        float fu = (float)pu, fv = (float)pv;
        double lslow = 0.0, a = m->base_a, b = m->base_b;
        if (m->comp & SD_SYNTH_SHADING)
            lslow += sd_synth_field(&m->shading, fu, fv);
        if (m->comp & SD_SYNTH_BLOTCH) {
            lslow += sd_synth_field(&m->blotch_l, fu, fv);
            a += sd_synth_field(&m->blotch_a, fu, fv);
            b += sd_synth_field(&m->blotch_b, fu, fv);
        }
        for (int k = 0; k < np; k++) {
            const sd_synth_patch *p = &m->patches[plist[k]];
            double dx = pu - p->x, dy = pv - p->y, d2 = dx * dx + dy * dy;
            if (d2 < 16.0 * p->sigma * p->sigma)
                a += p->after_amount * exp(-d2 / (2.0 * p->sigma * p->sigma));
        }
        /* CIELAB -> XYZ -> linear RGB */
        double X = m->xn * lab_finv(m->fy + a / 500.0), Y = lab_finv(m->fy);
        double Z = m->zn * lab_finv(m->fy - b / 200.0);
        double rgb[3];
        for (int c = 0; c < 3; c++) {
            rgb[c] = mi[3 * c] * X + mi[3 * c + 1] * Y + mi[3 * c + 2] * Z;
            if (rgb[c] < 0)
                rgb[c] = 0;
        }
        float fine_gain = 1.0f;
        if (fine) {
            float acc = 0.0f;
            for (int s = 0; s < m->ns; s++) {
                float qu = (float)(pu + m->off_u[s]), qv = (float)(pv + m->off_v[s]);
                float l = 0.0f;
                if (m->comp & SD_SYNTH_TEXTURE)
                    l += sd_synth_field(&m->texture, qu, qv);
                if (m->cells)
                    l -= pores_at(m, qu, qv);
                acc += expf(l);
            }
            fine_gain = acc / (float)m->ns;
        }
        float k = (float)exp(lslow) * fine_gain * m->gain;
        for (int c = 0; c < 3; c++)
            out[3 * x + c] = (float)rgb[c] * k;
    }
}

/* Sensor noise and sRGB encoding of one row of linear RGB. */
static void finish_row(const model *m, int y, const float *lin, uint16_t *dst)
{
    for (int x = 0; x < m->w; x++) {
        uint64_t h = 0;
        for (int c = 0; c < 3; c++) {
            float v = lin[3 * x + c];
            if (m->noise > 0.0f) {
                /* Irwin-Hall(4) deviate: 4 x 16 bits of a counter-based hash */
                h = sd_synth_mix64(m->noise_key ^ (((uint64_t)y * (uint64_t)m->w + (uint64_t)x) * 4u + (uint64_t)c));
                float g = (float)((h & 0xffff) + ((h >> 16) & 0xffff) + ((h >> 32) & 0xffff) +
                                  (h >> 48)) *
                              (1.0f / 65536.0f) -
                          2.0f;
                float sigma = m->noise * sqrtf((fmaxf(v, 0.0f) + 0.01f) / 0.19f);
                v += sigma * g * 1.7320508f;
            }
            dst[3 * x + c] = encode16(v);
        }
    }
}

/* ---- rows on threads ---- */

typedef struct job {
    const model *m;
    sd_image *img;       /* finish here when planes == NULL */
    sd_plane *planes;    /* else render into these three planes */
    int y0, y1;
    float *row;
    int *plist;
} job;

static void *job_run(void *arg)
{
    job *j = arg;
    const model *m = j->m;
    for (int y = j->y0; y < j->y1; y++) {
        render_row(m, y, j->row, j->plist);
        if (j->planes) {
            for (int c = 0; c < 3; c++) {
                float *p = sd_plane_row(&j->planes[c], y);
                for (int x = 0; x < m->w; x++)
                    p[x] = j->row[3 * x + c];
            }
        } else {
            finish_row(m, y, j->row, j->img->px + (size_t)y * j->img->stride);
        }
    }
    return NULL;
}

static sd_status run_rows(sd_ctx *ctx, const model *m, sd_image *img, sd_plane *planes)
{
    int nt = sd_ctx_threads(ctx);
    nt = SD_MAX(1, SD_MIN(nt, 64));
    nt = SD_MIN(nt, SD_MAX(1, m->h / 16));
    job jobs[64];
    pthread_t tid[64];
    sd_status st = SD_OK;
    int made = 0;
    for (int t = 0; t < nt; t++) {
        jobs[t].m = m;
        jobs[t].img = img;
        jobs[t].planes = planes;
        jobs[t].y0 = (int)((int64_t)m->h * t / nt);
        jobs[t].y1 = (int)((int64_t)m->h * (t + 1) / nt);
        jobs[t].row = sd_alloc_array((size_t)m->w, 3 * sizeof(float));
        jobs[t].plist = sd_alloc_array((size_t)SD_MAX(m->np, 1), sizeof(int));
        made = t + 1;
        if (!jobs[t].row || !jobs[t].plist) {
            st = sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory");
            break;
        }
    }
    if (st == SD_OK) {
        int started = 1; /* job 0 runs on this thread */
        for (int t = 1; t < nt; t++) {
            if (pthread_create(&tid[t], NULL, job_run, &jobs[t]) != 0)
                break;
            started++;
        }
        job_run(&jobs[0]);
        for (int t = 1; t < started; t++)
            pthread_join(tid[t], NULL);
        for (int t = started; t < nt; t++) /* threads that could not start */
            job_run(&jobs[t]);
    }
    for (int t = 0; t < made; t++) {
        free(jobs[t].row);
        free(jobs[t].plist);
    }
    return st;
}


/* ---- public ---- */

sd_status sd_synth_render(sd_ctx *ctx, const sd_synth_skin *skin,
                          const sd_synth_session *session, const sd_synth_capture *cap,
                          sd_image **out)
{
    if (!out)
        return sd_fail(ctx, SD_ERR_ARG, "synth: no output");
    *out = NULL;
    sd_status st = sd_synth_check(ctx, skin, session);
    if (st == SD_OK)
        st = sd_synth_check_capture(ctx, cap, "synth capture");
    if (st != SD_OK)
        return st;
    pthread_once(&enc_once, enc_build);
    model *m = NULL;
    sd_image *img = NULL;
    sd_plane planes[4];
    memset(planes, 0, sizeof planes);
    st = model_new(ctx, skin, session, cap, &m);
    if (st == SD_OK)
        st = sd_image_new(ctx, cap->width, cap->height, 0, &img);
    if (st == SD_OK && cap->defocus > 0) {
        for (int c = 0; c < 4 && st == SD_OK; c++)
            st = sd_plane_init(ctx, &planes[c], cap->width, cap->height);
        if (st == SD_OK)
            st = run_rows(ctx, m, img, planes);
        for (int c = 0; c < 3 && st == SD_OK; c++) {
            st = sd_gauss_blur(ctx, &planes[c], &planes[3], cap->defocus);
            sd_plane t = planes[c];
            planes[c] = planes[3];
            planes[3] = t;
        }
        float *row = st == SD_OK ? sd_alloc_array((size_t)cap->width, 3 * sizeof(float)) : NULL;
        if (st == SD_OK && !row)
            st = sd_fail(ctx, SD_ERR_NOMEM, "synth: out of memory");
        for (int y = 0; y < cap->height && st == SD_OK; y++) {
            for (int c = 0; c < 3; c++) {
                const float *p = sd_plane_row(&planes[c], y);
                for (int x = 0; x < cap->width; x++)
                    row[3 * x + c] = p[x];
            }
            finish_row(m, y, row, img->px + (size_t)y * img->stride);
        }
        free(row);
    } else if (st == SD_OK) {
        st = run_rows(ctx, m, img, NULL);
    }
    for (int c = 0; c < 4; c++)
        sd_plane_release(&planes[c]);
    model_free(m);
    if (img)
        img->bits = 16;
    if (st == SD_OK && cap->jpeg_quality > 0) {
        uint8_t *buf = NULL;
        size_t len = 0;
        sd_image *dec = NULL;
        st = sd_image_encode_jpeg(ctx, img, cap->jpeg_quality, &buf, &len);
        if (st == SD_OK)
            st = sd_image_load_mem(ctx, buf, len, "synth capture", NULL, &dec);
        free(buf);
        if (st == SD_OK) { /* the decoded photograph replaces the rendered pixels */
            sd_image_free(img);
            img = dec;
            img->format[0] = '\0';
            img->sha256[0] = '\0';
        }
    }
    if (st != SD_OK) {
        sd_image_free(img);
        return st;
    }
    *out = img;
    return SD_OK;
}

/*
 * Alignment of AFTER onto BEFORE: log-luminance pyramids, an exhaustive
 * global search over rotation, scale and shift at the coarsest level, then
 * ECC (enhanced correlation coefficient, Evangelidis & Psarakis 2008)
 * refinement level by level down to the base level. docs/align.md gives the
 * parameters and the measurements behind the thresholds.
 *
 * Coordinates: level l of a pyramid holds pixel x at full-resolution
 * position X = s_l * x + o, with s_l = f0 * 2^l and o = (f0 - 1) / 2 (the
 * base is an f0 x f0 box average, each further level keeps the even pixels
 * of the blurred level below). Both pyramids share s_l and o, so a
 * full-resolution map X' = A X + t reads x' = A x + (A o + t - o) / s_l at
 * level l: the linear part is the same at every level.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "align/align_internal.h"
#include "core/internal.h"
#include "kernels/kernels_internal.h"
#include "skindelta/align.h"
#include "skindelta/kernels.h"

typedef struct al_level {
    sd_plane lam; /* Lambda at this level (box/Gaussian decimated) */
    sd_plane bp;  /* band-pass: G_1(lam) - expand(lam three levels up) */
    double s;     /* full-resolution pixels per level pixel */
} al_level;

typedef struct al_pyr {
    int n;          /* levels built */
    int f0;         /* full-resolution pixels per base pixel */
    double ox, oy;  /* full-resolution position of level pixel (0, 0) */
    al_level lv[AL_MAX_LEVELS];
} al_pyr;

static void pyr_release(al_pyr *p)
{
    for (int i = 0; i < AL_MAX_LEVELS; i++) {
        sd_plane_release(&p->lv[i].lam);
        sd_plane_release(&p->lv[i].bp);
    }
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------------ */
/* threads                                                              */

enum { AL_MAX_THREADS = 64 };

/* Number of threads for `units` independent pieces of work. */
static int threads_for(const sd_ctx *ctx, int units)
{
    return SD_MAX(1, SD_MIN(sd_ctx_threads(ctx), SD_MIN(units, (int)AL_MAX_THREADS)));
}

/* ------------------------------------------------------------------ */
/* pyramids                                                             */

/* Base level: Lambda of the linear luminance averaged over f0 x f0 boxes
 * of the input, ln(mean Y + 1/4096) (the remainder columns and rows are
 * dropped). Box averaging belongs in linear light, where the sensor
 * integrates, and it takes one log per box instead of one per pixel. Y
 * comes from the sd_row_luminance kernel, so f0 = 1 gives sd_row_lambda's
 * values. The input is the full image, or a JPEG decode scaled by 1/d, in
 * which case f0 here is the full-resolution factor divided by d. This is
 * the only pass over the input's pixels; block rows are shared among
 * threads. */
typedef struct al_base_job {
    const sd_image *img;
    int f0, by0, by1; /* block rows [by0, by1) */
    sd_plane *out;
    int nomem; /* set when the row buffer could not be allocated */
} al_base_job;

static void *base_job_run(void *arg)
{
    al_base_job *J = arg;
    const sd_image *img = J->img;
    const int f0 = J->f0, bw = J->out->w;
    static const float unit[3] = {1.0f, 1.0f, 1.0f};
    const float inv = 1.0f / (float)(f0 * f0), eps = (float)SD_LAMBDA_EPS;
    float *yrow = sd_alloc_array((size_t)bw * (size_t)f0, sizeof *yrow);
    for (int by = J->by0; yrow && by < J->by1; by++) {
        float *o = sd_plane_row(J->out, by); /* sums of Y, then Lambda */
        for (int bx = 0; bx < bw; bx++)
            o[bx] = 0;
        for (int k = 0; k < f0; k++) {
            sd_image_luminance(img, 0, by * f0 + k, bw * f0, unit, yrow);
            const float *y = yrow;
            for (int bx = 0; bx < bw; bx++, y += f0) {
                float acc = 0;
                for (int j = 0; j < f0; j++)
                    acc += y[j];
                o[bx] += acc;
            }
        }
        for (int bx = 0; bx < bw; bx++)
            o[bx] = logf(o[bx] * inv + eps);
    }
    J->nomem = yrow == NULL;
    free(yrow);
    return NULL;
}

static sd_status base_level(sd_ctx *ctx, const sd_image *img, int f0, sd_plane *out)
{
    int bw = img->width / f0, bh = img->height / f0;
    sd_status st = sd_plane_alloc(ctx, out, bw, bh);
    if (st != SD_OK)
        return st;
    /* threads only where there is enough work to pay for them */
    int nt = threads_for(ctx, (int)SD_MIN((int64_t)bh, (int64_t)img->width * img->height / 250000));
    al_base_job jobs[AL_MAX_THREADS];
    for (int t = 0; t < nt; t++) {
        jobs[t].img = img;
        jobs[t].f0 = f0;
        jobs[t].by0 = (int)((int64_t)bh * t / nt);
        jobs[t].by1 = (int)((int64_t)bh * (t + 1) / nt);
        jobs[t].out = out;
        jobs[t].nomem = 0;
    }
    sd_run_jobs(nt, base_job_run, jobs, sizeof jobs[0]);
    for (int t = 0; t < nt; t++)
        if (jobs[t].nomem) {
            sd_plane_release(out);
            return sd_fail(ctx, SD_ERR_NOMEM, "align: out of memory for a row of %d pixels",
                           img->width);
        }
    return SD_OK;
}

/* What a pyramid is built from: img is the full image (denom 1) or a JPEG
 * decode of it scaled by 1/denom; (ox, oy) is the full-resolution position
 * of base pixel (0, 0). */
typedef struct al_src {
    const sd_image *img;
    int denom;
    double ox, oy;
} al_src;

/* Build `nlev` levels with f0 full-resolution pixels per base pixel. */
static sd_status pyr_build(sd_ctx *ctx, const al_src *src, int f0, int nlev, al_pyr *p)
{
    memset(p, 0, sizeof *p);
    p->f0 = f0;
    p->ox = src->ox;
    p->oy = src->oy;
    sd_status st = base_level(ctx, src->img, f0 / src->denom, &p->lv[0].lam);
    if (st != SD_OK)
        goto fail;
    for (int l = 0; l < nlev; l++) {
        al_level *L = &p->lv[l];
        L->s = (double)f0 * (double)(1u << l);
        int w = L->lam.w, h = L->lam.h;
        if ((st = sd_plane_alloc(ctx, &L->bp, w, h)) != SD_OK)
            goto fail;
        /* bp holds G_1(lam) for now; the next level keeps its even pixels */
        if ((st = sd_gauss_blur(ctx, &L->lam, &L->bp, AL_SMOOTH_SIGMA)) != SD_OK)
            goto fail;
        if (l + 1 < nlev) {
            int nw = SD_MAX(1, w / 2), nh = SD_MAX(1, h / 2);
            if ((st = sd_plane_alloc(ctx, &p->lv[l + 1].lam, nw, nh)) != SD_OK)
                goto fail;
            /* 2 (nw - 1) < w and 2 (nh - 1) < h: every kept pixel exists */
            for (int y = 0; y < nh; y++) {
                const float *row = sd_plane_row(&L->bp, 2 * y);
                float *dst = sd_plane_row(&p->lv[l + 1].lam, y);
                for (int x = 0; x < nw; x++)
                    dst[x] = row[2 * x];
            }
        }
    }
    p->n = nlev;
    /* band-pass: subtract the coarse shading AL_SUPPORT_LEVELS levels up,
     * expanded bilinearly (sd_plane_bilinear's weights, applied down the
     * column first, then along the row) */
    for (int l = 0; l < nlev; l++) {
        al_level *L = &p->lv[l];
        int up = SD_MIN(l + AL_SUPPORT_LEVELS, nlev - 1);
        double k = 1.0 / (double)(1u << (up - l));
        const sd_plane *C = &p->lv[up].lam;
        const int w = L->bp.w;
        float *col = sd_alloc_array((size_t)C->w, sizeof(float));
        float *wx = sd_alloc_array((size_t)w, sizeof(float));
        int *x0 = sd_alloc_array((size_t)w, sizeof(int));
        if (!col || !wx || !x0) {
            free(col);
            free(wx);
            free(x0);
            st = sd_fail(ctx, SD_ERR_NOMEM, "align: out of memory");
            goto fail;
        }
        for (int x = 0; x < w; x++) {
            double fx = SD_MIN(x * k, (double)(C->w - 1));
            x0[x] = SD_MIN((int)fx, C->w - 2 >= 0 ? C->w - 2 : 0);
            wx[x] = C->w > 1 ? (float)(fx - x0[x]) : 0.0f;
        }
        for (int y = 0; y < L->bp.h; y++) {
            double fy = SD_MIN(y * k, (double)(C->h - 1));
            int y0 = (int)fy, y1 = y0 + 1 < C->h ? y0 + 1 : y0;
            float wy = (float)(fy - y0);
            const float *r0 = sd_plane_row(C, y0), *r1 = sd_plane_row(C, y1);
            for (int x = 0; x < C->w; x++)
                col[x] = r0[x] + wy * (r1[x] - r0[x]);
            float *b = sd_plane_row(&L->bp, y);
            const int x1off = C->w > 1 ? 1 : 0;
            for (int x = 0; x < w; x++) {
                const float *c = col + x0[x];
                b[x] -= c[0] + wx[x] * (c[x1off] - c[0]);
            }
        }
        free(col);
        free(wx);
        free(x0);
    }
    return SD_OK;
fail:
    pyr_release(p);
    return st;
}

/* ------------------------------------------------------------------ */
/* level <-> full-resolution transforms                                 */

/* Level pixel x of pyramid P sits at full-resolution s x + (P->ox, P->oy),
 * so X' = A X + t reads x' = A x + (A o_b + t - o_a) / s at the level. */
static sd_xform xf_to_level(const sd_xform *full, double s, const al_pyr *pb, const al_pyr *pa)
{
    sd_xform r = *full;
    r.m[2] = (full->m[0] * pb->ox + full->m[1] * pb->oy + full->m[2] - pa->ox) / s;
    r.m[5] = (full->m[3] * pb->ox + full->m[4] * pb->oy + full->m[5] - pa->oy) / s;
    return r;
}

static sd_xform xf_to_full(const sd_xform *lev, double s, const al_pyr *pb, const al_pyr *pa)
{
    sd_xform r = *lev;
    r.m[2] = s * lev->m[2] + pa->ox - (lev->m[0] * pb->ox + lev->m[1] * pb->oy);
    r.m[5] = s * lev->m[5] + pa->oy - (lev->m[3] * pb->ox + lev->m[4] * pb->oy);
    return r;
}

/* ------------------------------------------------------------------ */
/* the one accumulation pass: NCC of T against I warped by xf, and the    */
/* sums ECC needs                                                       */

typedef struct al_sums {
    double n, st, si, stt, sii, sti;
    double sg[AL_MAX_P], sgg[AL_MAX_P][AL_MAX_P], sgt[AL_MAX_P], sgi[AL_MAX_P];
} al_sums;

/* Warp parameters in centred, normalized coordinates u = (x - cx) / R,
 * v = (y - cy) / R of the template level:
 *   similarity p = (a, b, c, d):  x' = a u - b v + c,  y' = b u + a v + d
 *   affine p = (a, b, e, f, c, d): x' = a u + b v + c, y' = e u + f v + d
 * so every parameter is in level pixels. */
typedef struct al_frame {
    double cx, cy, R;
} al_frame;

static void params_from_xf(const sd_xform *xf, const al_frame *fr, int P, double *p)
{
    const double *m = xf->m;
    double c = m[0] * fr->cx + m[1] * fr->cy + m[2];
    double d = m[3] * fr->cx + m[4] * fr->cy + m[5];
    if (P == 4) {
        p[0] = 0.5 * (m[0] + m[4]) * fr->R;
        p[1] = 0.5 * (m[3] - m[1]) * fr->R;
        p[2] = c;
        p[3] = d;
    } else {
        p[0] = m[0] * fr->R;
        p[1] = m[1] * fr->R;
        p[2] = m[3] * fr->R;
        p[3] = m[4] * fr->R;
        p[4] = c;
        p[5] = d;
    }
}

static sd_xform xf_from_params(const double *p, const al_frame *fr, int P)
{
    sd_xform x;
    double a, b, e, f, c, d;
    if (P == 4) {
        a = p[0] / fr->R;
        b = -p[1] / fr->R;
        e = p[1] / fr->R;
        f = p[0] / fr->R;
        c = p[2];
        d = p[3];
    } else {
        a = p[0] / fr->R;
        b = p[1] / fr->R;
        e = p[2] / fr->R;
        f = p[3] / fr->R;
        c = p[4];
        d = p[5];
    }
    x.m[0] = a;
    x.m[1] = b;
    x.m[2] = c - a * fr->cx - b * fr->cy;
    x.m[3] = e;
    x.m[4] = f;
    x.m[5] = d - e * fr->cx - f * fr->cy;
    return x;
}

static al_frame frame_of(const sd_plane *T)
{
    al_frame fr;
    fr.cx = (T->w - 1) / 2.0;
    fr.cy = (T->h - 1) / 2.0;
    fr.R = SD_MAX(1.0, sqrt(fr.cx * fr.cx + fr.cy * fr.cy));
    return fr;
}

/* Largest distance between the images of the corners of a w x h frame
 * under two maps. */
static double xf_distance(const sd_xform *a, const sd_xform *b, int w, int h)
{
    double d = 0;
    for (int c = 0; c < 4; c++) {
        double x = (c & 1) ? w - 1 : 0, y = (c & 2) ? h - 1 : 0, ax, ay, bx, by;
        sd_xform_apply(a, x, y, &ax, &ay);
        sd_xform_apply(b, x, y, &bx, &by);
        d = fmax(d, hypot(ax - bx, ay - by));
    }
    return d;
}

/* What one pass of accumulate reads: T's rows 0, step, 2 step, ...
 * (every `step`-th pixel of each), I warped by xf. */
typedef struct al_pass {
    const al_level *T, *I;
    const sd_xform *xf;
    const al_frame *fr;
    int P, step;
} al_pass;

/* The sums of T's sampled rows [row0, row1) (row0 a multiple of step) into
 * *out, row by row through the ecc_row kernel (whose definition is the
 * pass's arithmetic: kernels_internal.h). */
static void accumulate_rows(const al_pass *A, int row0, int row1, al_sums *out)
{
    const int P = A->P, step = A->step;
    const sd_plane *tb = &A->T->bp;
    const double *m = A->xf->m;
    const double invR = 1.0 / A->fr->R;
    const sd_ecc_row_fn row = sd_dsp_active()->ecc_row;
    double acc[SD_ECC_SUMS] = {0};
    sd_ecc_row r = {.step = step, .P = P, .ahead = AL_ECC_AHEAD, .m0 = m[0], .m3 = m[3],
                    .cx = A->fr->cx, .invR = invR, .I = &A->I->bp};
    const int n = (tb->w + step - 1) / step;
    for (int y = row0; y < row1; y += step) {
        r.t = sd_plane_row(tb, y);
        r.rx = m[1] * y + m[2];
        r.ry = m[4] * y + m[5];
        r.v = (y - A->fr->cy) * invR;
        row(&r, 0, n, acc);
    }
    al_sums S = {0};
    S.n = acc[0];
    S.st = acc[1];
    S.si = acc[2];
    S.stt = acc[3];
    S.sii = acc[4];
    S.sti = acc[5];
    for (int k = 0; k < P; k++) {
        S.sg[k] = acc[SD_ECC_SG + k];
        S.sgt[k] = acc[SD_ECC_SGT + k];
        S.sgi[k] = acc[SD_ECC_SGI + k];
        for (int j = k; j < P; j++)
            S.sgg[k][j] = acc[SD_ECC_SGG + 8 * k + j];
    }
    *out = S;
}

/* S += B (the sums a pass of P parameters fills). */
static void sums_add(al_sums *S, const al_sums *B, int P)
{
    S->n += B->n;
    S->st += B->st;
    S->si += B->si;
    S->stt += B->stt;
    S->sii += B->sii;
    S->sti += B->sti;
    for (int k = 0; k < P; k++) {
        S->sg[k] += B->sg[k];
        S->sgt[k] += B->sgt[k];
        S->sgi[k] += B->sgi[k];
        for (int j = k; j < P; j++)
            S->sgg[k][j] += B->sgg[k][j];
    }
}

/* A thread's share of the bands of one pass. */
typedef struct al_band_job {
    const al_pass *A;
    int b0, b1;     /* bands [b0, b1) */
    int rows;       /* sampled rows per band */
    al_sums *bands; /* one slot per band */
} al_band_job;

static void *band_job_run(void *arg)
{
    const al_band_job *j = arg;
    const int h = j->A->T->bp.h, step = j->A->step, span = j->rows * step;
    for (int b = j->b0; b < j->b1; b++)
        accumulate_rows(j->A, b * span, SD_MIN(h, (b + 1) * span), &j->bands[b]);
    return NULL;
}

/* P = 0: NCC sums only; 4 or 6: also the ECC Jacobian sums. Samples every
 * `step`-th pixel of T in both directions, over the overlap only. The
 * sampled rows fall into bands of at least AL_ECC_BAND rows (at most
 * AL_ECC_BANDS bands), each summed on its own, and the bands are added up
 * in order: the split depends on T's size and the step only, so the sums
 * are the same whether the bands run on one thread or on nt (up to
 * nt threads; one below AL_ECC_THREAD_MIN samples). */
static void accumulate(const al_level *T, const al_level *I, const sd_xform *xf, int P,
                       const al_frame *fr, int step, int nt, al_sums *S)
{
    const al_pass A = {.T = T, .I = I, .xf = xf, .fr = fr, .P = P, .step = step};
    const int nrows = (T->bp.h + step - 1) / step;
    const int rows = SD_MAX(AL_ECC_BAND, (nrows + AL_ECC_BANDS - 1) / AL_ECC_BANDS);
    const int nb = (nrows + rows - 1) / rows;
    const double samples = (double)nrows * ((T->bp.w + step - 1) / step);
    nt = samples < AL_ECC_THREAD_MIN ? 1 : SD_CLAMP(nt, 1, SD_MIN(nb, SD_MAX_JOBS));
    al_sums bands[AL_ECC_BANDS];
    al_band_job jobs[SD_MAX_JOBS];
    for (int t = 0; t < nt; t++)
        jobs[t] = (al_band_job){.A = &A, .b0 = nb * t / nt, .b1 = nb * (t + 1) / nt,
                                .rows = rows, .bands = bands};
    sd_run_jobs(nt, band_job_run, jobs, sizeof jobs[0]);
    *S = bands[0];
    for (int b = 1; b < nb; b++)
        sums_add(S, &bands[b], P);
}

/* NCC from the sums; 0 when either side is flat or the overlap is empty. */
static double sums_ncc(const al_sums *S)
{
    if (S->n < 16)
        return 0;
    double tt = S->stt - S->st * S->st / S->n;
    double ii = S->sii - S->si * S->si / S->n;
    double ti = S->sti - S->st * S->si / S->n;
    if (!(tt > 1e-12 * S->n) || !(ii > 1e-12 * S->n))
        return 0;
    return ti / sqrt(tt * ii);
}

/* Solve A x = b for symmetric positive definite A (P x P) by Cholesky;
 * returns 0 when A is not positive definite. */
static int chol_solve(double A[AL_MAX_P][AL_MAX_P], int P, const double *b, double *x)
{
    double L[AL_MAX_P][AL_MAX_P] = {{0}};
    for (int i = 0; i < P; i++) {
        for (int j = 0; j <= i; j++) {
            double s = A[j][i]; /* upper triangle holds the data */
            for (int k = 0; k < j; k++)
                s -= L[i][k] * L[j][k];
            if (i == j) {
                if (!(s > 1e-12 * (fabs(A[i][i]) + 1e-300)))
                    return 0;
                L[i][i] = sqrt(s);
            } else {
                L[i][j] = s / L[j][j];
            }
        }
    }
    double y[AL_MAX_P];
    for (int i = 0; i < P; i++) {
        double s = b[i];
        for (int k = 0; k < i; k++)
            s -= L[i][k] * y[k];
        y[i] = s / L[i][i];
    }
    for (int i = P - 1; i >= 0; i--) {
        double s = y[i];
        for (int k = i + 1; k < P; k++)
            s -= L[k][i] * x[k];
        x[i] = s / L[i][i];
    }
    return 1;
}

static int sample_step(const sd_plane *T)
{
    double n = (double)T->w * (double)T->h;
    int step = (int)ceil(sqrt(n / AL_ECC_SAMPLES));
    return SD_MAX(1, step);
}

/* ECC refinement at one level (level coordinates). Returns 1 when it ran
 * to a usable transform (ncc set to the correlation at the last
 * iterate), 0 when it broke down (no overlap, flat, negative correlation,
 * degenerate warp). */
static int ecc_refine(const al_level *T, const al_level *I, int P, int max_iter, int nt,
                      sd_xform *xf, double *ncc)
{
    al_frame fr = frame_of(&T->bp);
    int step = sample_step(&T->bp);
    double p[AL_MAX_P];
    params_from_xf(xf, &fr, P, p);
    sd_xform cur = xf_from_params(p, &fr, P);
    al_sums S;
    *ncc = 0;
    for (int it = 0; it < max_iter; it++) {
        accumulate(T, I, &cur, P, &fr, step, nt, &S);
        /* the overlap must keep at least a fifth of the sampled template */
        double total = ceil(T->bp.w / (double)step) * ceil(T->bp.h / (double)step);
        if (S.n < 0.2 * total || S.n < 8 * P)
            return 0;
        double n = S.n;
        double H[AL_MAX_P][AL_MAX_P], Gt[AL_MAX_P], Gi[AL_MAX_P], hi[AL_MAX_P], d[AL_MAX_P];
        for (int k = 0; k < P; k++) {
            Gt[k] = S.sgt[k] - S.sg[k] * S.st / n;
            Gi[k] = S.sgi[k] - S.sg[k] * S.si / n;
            for (int j = k; j < P; j++)
                H[k][j] = S.sgg[k][j] - S.sg[k] * S.sg[j] / n;
        }
        double ii = S.sii - S.si * S.si / n;
        double ti = S.sti - S.st * S.si / n;
        *ncc = sums_ncc(&S);
        if (!chol_solve(H, P, Gi, hi))
            return 0;
        double lam_n = ii, lam_d = ti;
        for (int k = 0; k < P; k++) {
            lam_n -= Gi[k] * hi[k];
            lam_d -= Gt[k] * hi[k];
        }
        if (!(lam_d > 0) || !(lam_n > 0))
            return 0; /* correlation would be driven down: not this basin */
        double lam = lam_n / lam_d, e[AL_MAX_P];
        for (int k = 0; k < P; k++)
            e[k] = lam * Gt[k] - Gi[k];
        if (!chol_solve(H, P, e, d))
            return 0;
        double moved = 0;
        for (int k = 0; k < P; k++) {
            p[k] += d[k];
            moved += fabs(d[k]);
        }
        cur = xf_from_params(p, &fr, P);
        double det = cur.m[0] * cur.m[4] - cur.m[1] * cur.m[3];
        if (!isfinite(det) || det < 0.25 || det > 4.0)
            return 0;
        if (moved < AL_ECC_EPS)
            break;
    }
    *xf = cur;
    return 1;
}

/* ------------------------------------------------------------------ */
/* global search at the coarsest level                                  */

typedef struct al_cand {
    sd_xform xf; /* level coordinates */
    double ncc;
} al_cand;

static void cand_insert(al_cand *c, int *nc, int cap, const sd_xform *xf, double ncc)
{
    if (*nc == cap && ncc <= c[cap - 1].ncc)
        return;
    int i = *nc < cap ? (*nc)++ : cap - 1;
    while (i > 0 && c[i - 1].ncc < ncc) {
        c[i] = c[i - 1];
        i--;
    }
    c[i].xf = *xf;
    c[i].ncc = ncc;
}

/* Similarity ECC on candidates idx[0 .. n) of cand at one level, side by
 * side over the context's threads (each refinement on one thread, so each
 * result is the one a lone call gives): ok[i] and ncc[i] as ecc_refine's. */
typedef struct al_ecc_job {
    const al_level *T, *I;
    int max_iter, first, stride, n;
    const int *idx;
    al_cand *cand;
    double *ncc;
    int *ok;
} al_ecc_job;

static void *ecc_job_run(void *arg)
{
    const al_ecc_job *j = arg;
    for (int k = j->first; k < j->n; k += j->stride) {
        const int i = j->idx[k];
        j->ok[i] = ecc_refine(j->T, j->I, 4, j->max_iter, 1, &j->cand[i].xf, &j->ncc[i]);
    }
    return NULL;
}

static void ecc_batch(const sd_ctx *ctx, const al_level *T, const al_level *I, int max_iter,
                      const int *idx, int n, al_cand *cand, double *ncc, int *ok)
{
    const int nt = SD_MIN(threads_for(ctx, n), SD_MAX_JOBS);
    al_ecc_job jobs[SD_MAX_JOBS];
    for (int t = 0; t < nt; t++)
        jobs[t] = (al_ecc_job){.T = T, .I = I, .max_iter = max_iter, .first = t, .stride = nt,
                               .n = n, .idx = idx, .cand = cand, .ncc = ncc, .ok = ok};
    sd_run_jobs(nt, ecc_job_run, jobs, sizeof jobs[0]);
}

/* The global search, coarse to fine over two levels. For every rotation and
 * scale of the grid, AFTER is resampled into the BEFORE frame on a
 * margin-extended grid and the NCC is evaluated for integer shifts:
 *   1. at the level above the search level, every shift within the margin;
 *      each grid point keeps its AL_SEARCH_PEAKS best shifts;
 *   2. the AL_SEARCH_KEEP grid points whose best coarse NCC is highest are
 *      resampled at the search level, where only the shifts within
 *      AL_SEARCH_REFINE of each of their peaks (mapped to the finer grid)
 *      are scored; the best shift of each is a candidate, and the
 *      AL_CANDIDATES best candidates are returned.
 * When the level above is too small (short side below AL_SEARCH_MIN_SIDE)
 * step 2 alone runs, exhaustively, over every grid point and shift. Grid
 * points are independent and are shared out among up to sd_ctx_threads()
 * threads; each writes only its own result slot, and the slots are merged
 * in grid order on the calling thread (ties: the earlier grid point, the
 * first shift in scan order), so the result does not depend on the thread
 * count. */
typedef struct al_search {
    const sd_plane *tb, *ib;
    float *T2;     /* tb squared, packed tw x th */
    int M, ew, eh; /* shift margin; extended grid size */
    int min_n;     /* fewest overlapping pixels a shift may have */
    sd_row_ncc_sums_fn ncc_sums; /* the active level's row sums */
} al_search;

enum { AL_GRID = AL_SEARCH_NROT * AL_SEARCH_NSCALE };

/* Linear part of grid point k (rotation k / AL_SEARCH_NSCALE, scale
 * k % AL_SEARCH_NSCALE): x' = [a b; c d] x. */
static void grid_linear(int k, double A[4])
{
    const int ri = k / AL_SEARCH_NSCALE, si = k % AL_SEARCH_NSCALE;
    double th_deg = -AL_SEARCH_ROT + ri * (2.0 * AL_SEARCH_ROT / (AL_SEARCH_NROT - 1));
    double cs = cos(th_deg * M_PI / 180.0), sn = sin(th_deg * M_PI / 180.0);
    double sc = AL_SEARCH_SMIN + si * ((AL_SEARCH_SMAX - AL_SEARCH_SMIN) / (AL_SEARCH_NSCALE - 1));
    A[0] = sc * cs;
    A[1] = -sc * sn;
    A[2] = sc * sn;
    A[3] = sc * cs;
}

/* W: AFTER resampled through A about the centres, 0 outside; V: 1 inside, 0
 * outside (branch-free sums that the compiler vectorizes). */
static void search_warp(const al_search *S, const double A[4], float *W, float *V)
{
    const sd_plane *tb = S->tb, *ib = S->ib;
    const int M = S->M, ew = S->ew, eh = S->eh;
    const double cbx = (tb->w - 1) / 2.0, cby = (tb->h - 1) / 2.0;
    const double cax = (ib->w - 1) / 2.0, cay = (ib->h - 1) / 2.0;
    for (int ey = 0; ey < eh; ey++) {
        double py = ey - M - cby;
        for (int ex = 0; ex < ew; ex++) {
            double px = ex - M - cbx;
            double fx = A[0] * px + A[1] * py + cax, fy = A[2] * px + A[3] * py + cay;
            int in = fx >= 0 && fx <= ib->w - 1 && fy >= 0 && fy <= ib->h - 1;
            W[(size_t)ey * ew + ex] = in ? sd_plane_bilinear(ib, fx, fy) : 0.0f;
            V[(size_t)ey * ew + ex] = in ? 1.0f : 0.0f;
        }
    }
}

/* NCC of the template against W at shift (dx, dy); -2 when the overlap is
 * too small or either side is flat. */
static double search_score(const al_search *S, const float *W, const float *V, int dx, int dy)
{
    const sd_plane *tb = S->tb;
    const int tw = tb->w, th = tb->h, M = S->M, ew = S->ew;
    double n = 0, st = 0, sw = 0, stt = 0, sww = 0, stw = 0;
    for (int y = 0; y < th; y++) {
        const float *t = sd_plane_row(tb, y);
        const float *t2 = S->T2 + (size_t)y * tw;
        const float *wr = W + (size_t)(y + dy + M) * ew + (dx + M);
        const float *vr = V + (size_t)(y + dy + M) * ew + (dx + M);
        float f[6];
        S->ncc_sums(t, t2, wr, vr, tw, f);
        n += f[0];
        st += f[1];
        sw += f[2];
        stt += f[3];
        sww += f[4];
        stw += f[5];
    }
    if (n < S->min_n || n < 16)
        return -2;
    double vt = stt - st * st / n, vw = sww - sw * sw / n;
    if (!(vt > 1e-12 * n) || !(vw > 1e-12 * n))
        return -2;
    return (stw - st * sw / n) / sqrt(vt * vw);
}

/* Best shifts of one grid point, best first (ncc -2: none). */
typedef struct al_peaks {
    double ncc[AL_SEARCH_PEAKS];
    int dx[AL_SEARCH_PEAKS], dy[AL_SEARCH_PEAKS];
} al_peaks;

static void peaks_insert(al_peaks *p, double r, int dx, int dy)
{
    int i = AL_SEARCH_PEAKS;
    while (i > 0 && r > p->ncc[i - 1]) /* ties: the earlier shift stays ahead */
        i--;
    if (i == AL_SEARCH_PEAKS)
        return;
    for (int j = AL_SEARCH_PEAKS - 1; j > i; j--) {
        p->ncc[j] = p->ncc[j - 1];
        p->dx[j] = p->dx[j - 1];
        p->dy[j] = p->dy[j - 1];
    }
    p->ncc[i] = r;
    p->dx[i] = dx;
    p->dy[i] = dy;
}

/* Shift (dx, dy) at the search level as a map: x' = A (x + e - cb) + ca. */
static sd_xform search_xf(const al_search *S, const double A[4], int dx, int dy)
{
    const double cbx = (S->tb->w - 1) / 2.0, cby = (S->tb->h - 1) / 2.0;
    const double cax = (S->ib->w - 1) / 2.0, cay = (S->ib->h - 1) / 2.0;
    sd_xform x;
    x.m[0] = A[0];
    x.m[1] = A[1];
    x.m[3] = A[2];
    x.m[4] = A[3];
    x.m[2] = cax + A[0] * (dx - cbx) + A[1] * (dy - cby);
    x.m[5] = cay + A[2] * (dx - cbx) + A[3] * (dy - cby);
    return x;
}

/* The fine level's shift nearest to coarse shift (dx, dy) of the level
 * above (fine coordinates are twice the coarse ones). */
static void fine_shift(const al_search *C, const al_search *F, const double A[4], int dx, int dy,
                       int *fx, int *fy)
{
    const double c_cbx = (C->tb->w - 1) / 2.0, c_cby = (C->tb->h - 1) / 2.0;
    const double c_cax = (C->ib->w - 1) / 2.0, c_cay = (C->ib->h - 1) / 2.0;
    const double f_cbx = (F->tb->w - 1) / 2.0, f_cby = (F->tb->h - 1) / 2.0;
    const double f_cax = (F->ib->w - 1) / 2.0, f_cay = (F->ib->h - 1) / 2.0;
    /* e_f = 2 e_c - 2 cb_c + cb_f + A^-1 (2 ca_c - ca_f) */
    double det = A[0] * A[3] - A[1] * A[2];
    double ux = 2 * c_cax - f_cax, uy = 2 * c_cay - f_cay;
    double ix = (A[3] * ux - A[1] * uy) / det, iy = (-A[2] * ux + A[0] * uy) / det;
    *fx = (int)lround(2 * dx - 2 * c_cbx + f_cbx + ix);
    *fy = (int)lround(2 * dy - 2 * c_cby + f_cby + iy);
}

typedef struct al_search_job {
    const al_search *C, *F; /* coarse (NULL: none) and search level */
    int first, stride;      /* work items first, first + stride, ... */
    float *W, *V;           /* scratch, search level sized */
    unsigned char *seen;    /* (2 M_F + 1)^2 shifts of the search level */
    al_peaks *peaks;        /* step 1: one slot per grid point */
    const int *keep;        /* step 2: the grid points, nkeep of them */
    int nkeep;
    al_peaks *best;         /* step 2: one slot per kept grid point (ncc[0], dx[0], dy[0]) */
} al_search_job;

static void *coarse_job_run(void *arg)
{
    al_search_job *j = arg;
    const al_search *C = j->C;
    for (int k = j->first; k < AL_GRID; k += j->stride) {
        double A[4];
        grid_linear(k, A);
        search_warp(C, A, j->W, j->V);
        al_peaks *p = &j->peaks[k];
        for (int i = 0; i < AL_SEARCH_PEAKS; i++) {
            p->ncc[i] = -2;
            p->dx[i] = p->dy[i] = 0;
        }
        for (int dy = -C->M; dy <= C->M; dy++)
            for (int dx = -C->M; dx <= C->M; dx++) {
                double r = search_score(C, j->W, j->V, dx, dy);
                if (r > -2)
                    peaks_insert(p, r, dx, dy);
            }
    }
    return NULL;
}

static void *fine_job_run(void *arg)
{
    al_search_job *j = arg;
    const al_search *C = j->C, *F = j->F;
    const int M = F->M, side = 2 * M + 1;
    for (int i = j->first; i < j->nkeep; i += j->stride) {
        const int k = j->keep[i];
        double A[4];
        grid_linear(k, A);
        search_warp(F, A, j->W, j->V);
        memset(j->seen, 0, (size_t)side * (size_t)side);
        al_peaks *b = &j->best[i];
        b->ncc[0] = -2;
        b->dx[0] = b->dy[0] = 0;
        int np = C ? AL_SEARCH_PEAKS : 1;
        for (int q = 0; q < np; q++) {
            int cx = 0, cy = 0, R = M;
            if (C) {
                if (j->peaks[k].ncc[q] <= -2)
                    break;
                fine_shift(C, F, A, j->peaks[k].dx[q], j->peaks[k].dy[q], &cx, &cy);
                R = AL_SEARCH_REFINE;
            }
            for (int dy = SD_MAX(-M, cy - R); dy <= SD_MIN(M, cy + R); dy++)
                for (int dx = SD_MAX(-M, cx - R); dx <= SD_MIN(M, cx + R); dx++) {
                    unsigned char *s = &j->seen[(size_t)(dy + M) * side + (size_t)(dx + M)];
                    if (*s)
                        continue;
                    *s = 1;
                    double r = search_score(F, j->W, j->V, dx, dy);
                    if (r > b->ncc[0]) { /* ties: the first scored */
                        b->ncc[0] = r;
                        b->dx[0] = dx;
                        b->dy[0] = dy;
                    }
                }
        }
    }
    return NULL;
}

static void search_setup(const al_level *T, const al_level *I, al_search *S)
{
    S->tb = &T->bp;
    S->ib = &I->bp;
    const int tw = S->tb->w, th = S->tb->h;
    S->M = (int)ceil(AL_SEARCH_SHIFT * SD_MAX(tw, th));
    S->ew = tw + 2 * S->M;
    S->eh = th + 2 * S->M;
    S->min_n = (int)(AL_SEARCH_MIN_OVERLAP * tw * th);
    S->ncc_sums = sd_dsp_active()->row_ncc_sums;
    S->T2 = sd_alloc_array((size_t)tw * (size_t)th, sizeof(float));
    if (S->T2)
        for (int y = 0; y < th; y++) {
            const float *t = sd_plane_row(S->tb, y);
            for (int x = 0; x < tw; x++)
                S->T2[(size_t)y * tw + x] = t[x] * t[x];
        }
}

/* Tc, Ic: the level above the search level, or NULL for an exhaustive
 * search at T, I. */
static sd_status coarse_search(sd_ctx *ctx, const al_level *Tc, const al_level *Ic,
                               const al_level *T, const al_level *I, al_cand *out, int *nout)
{
    al_search Cs = {0}, F = {0};
    const al_search *C = Tc ? &Cs : NULL;
    search_setup(T, I, &F);
    if (C)
        search_setup(Tc, Ic, &Cs);
    const size_t ne = (size_t)F.ew * (size_t)F.eh, side = 2 * (size_t)F.M + 1;
    al_peaks peaks[AL_GRID], best[AL_GRID];
    int keep[AL_GRID], nkeep = 0;
    al_search_job jobs[AL_MAX_THREADS];
    const int nt = threads_for(ctx, AL_GRID);
    int made = 0;
    sd_status st = F.T2 && (!C || Cs.T2) ? SD_OK : SD_ERR_NOMEM;
    for (int t = 0; t < nt && st == SD_OK; t++) {
        al_search_job *j = &jobs[t];
        memset(j, 0, sizeof *j);
        j->C = C;
        j->F = &F;
        j->first = t;
        j->stride = nt;
        j->peaks = peaks;
        j->keep = keep;
        j->best = best;
        j->W = sd_alloc_array(ne, sizeof(float));
        j->V = sd_alloc_array(ne, sizeof(float));
        j->seen = sd_alloc_array(side, side);
        made = t + 1;
        if (!j->W || !j->V || !j->seen)
            st = SD_ERR_NOMEM;
    }
    if (st == SD_OK) {
        if (C) {
            sd_run_jobs(nt, coarse_job_run, jobs, sizeof jobs[0]);
            /* the AL_SEARCH_KEEP best grid points, in grid order among equals */
            al_cand order[AL_SEARCH_KEEP];
            int no = 0;
            for (int k = 0; k < AL_GRID; k++)
                if (peaks[k].ncc[0] > -2) {
                    sd_xform tag = {{(double)k, 0, 0, 0, 0, 0}};
                    cand_insert(order, &no, AL_SEARCH_KEEP, &tag, peaks[k].ncc[0]);
                }
            for (int i = 0; i < no; i++)
                keep[nkeep++] = (int)order[i].xf.m[0];
        } else {
            for (int k = 0; k < AL_GRID; k++)
                keep[nkeep++] = k;
        }
        int nt2 = threads_for(ctx, SD_MAX(1, nkeep));
        for (int t = 0; t < nt2; t++) {
            jobs[t].stride = nt2;
            jobs[t].nkeep = nkeep;
        }
        sd_run_jobs(nt2, fine_job_run, jobs, sizeof jobs[0]);
        /* merge in grid order */
        *nout = 0;
        int idx[AL_GRID];
        for (int i = 0; i < nkeep; i++)
            idx[i] = i;
        /* kept points in grid order, so that ties go to the earlier grid point */
        for (int i = 1; i < nkeep; i++)
            for (int m = i; m > 0 && keep[idx[m - 1]] > keep[idx[m]]; m--) {
                int t = idx[m];
                idx[m] = idx[m - 1];
                idx[m - 1] = t;
            }
        for (int m = 0; m < nkeep; m++) {
            int i = idx[m];
            if (best[i].ncc[0] <= -2)
                continue;
            double A[4];
            grid_linear(keep[i], A);
            sd_xform xf = search_xf(&F, A, best[i].dx[0], best[i].dy[0]);
            cand_insert(out, nout, AL_CANDIDATES, &xf, best[i].ncc[0]);
        }
    }
    for (int t = 0; t < made; t++) {
        free(jobs[t].W);
        free(jobs[t].V);
        free(jobs[t].seen);
    }
    free(F.T2);
    free(Cs.T2);
    if (st != SD_OK)
        return sd_fail(ctx, st, "align: out of memory");
    return SD_OK;
}

/* ------------------------------------------------------------------ */
/* verdict                                                              */

/* Share of BEFORE pixels (bw x bh) whose centre maps inside AFTER
 * (aw x ah, pixel edges at -0.5 and w - 0.5): per row an interval. */
static double overlap_fraction(const sd_xform *xf, int bw, int bh, int aw, int ah)
{
    const double *m = xf->m;
    double count = 0;
    for (int y = 0; y < bh; y++) {
        double lo = 0, hi = bw - 1;
        /* -0.5 <= m0 x + (m1 y + m2) <= aw - 0.5, likewise for y' */
        const double k[2] = {m[0], m[3]};
        const double c[2] = {m[1] * y + m[2], m[4] * y + m[5]};
        const double lim[2] = {aw - 0.5, ah - 0.5};
        for (int j = 0; j < 2; j++) {
            if (fabs(k[j]) < 1e-15) {
                if (c[j] < -0.5 || c[j] > lim[j])
                    hi = -1;
                continue;
            }
            double x1 = (-0.5 - c[j]) / k[j], x2 = (lim[j] - c[j]) / k[j];
            if (x1 > x2) {
                double t = x1;
                x1 = x2;
                x2 = t;
            }
            lo = fmax(lo, x1);
            hi = fmin(hi, x2);
        }
        if (hi >= lo) {
            double n = floor(hi) - ceil(lo) + 1;
            if (n > 0)
                count += n;
        }
    }
    return count / ((double)bw * (double)bh);
}

static int in_range(const sd_xform *full, sd_align_model model, int bw, int bh, int aw, int ah)
{
    const double *m = full->m;
    for (int i = 0; i < 6; i++)
        if (!isfinite(m[i]))
            return 0;
    double rot, scale;
    sd_xform_decompose(full, &rot, &scale);
    double det = m[0] * m[4] - m[1] * m[3];
    if (!(det > 0) || fabs(rot) > AL_RANGE_ROT || scale < AL_RANGE_SMIN || scale > AL_RANGE_SMAX)
        return 0;
    if (model == SD_ALIGN_AFFINE) {
        /* singular values of the linear part: anisotropy and shear bounded */
        double e = 0.5 * (m[0] + m[4]), f = 0.5 * (m[0] - m[4]);
        double g = 0.5 * (m[3] + m[1]), h = 0.5 * (m[3] - m[1]);
        double q = sqrt(e * e + h * h), r = sqrt(f * f + g * g);
        if (!(q - r > 0) || (q + r) / (q - r) > AL_RANGE_ANISO)
            return 0;
    }
    /* the centre of BEFORE must land near the centre of AFTER */
    double cx, cy;
    sd_xform_apply(full, (bw - 1) / 2.0, (bh - 1) / 2.0, &cx, &cy);
    double dx = cx - (aw - 1) / 2.0, dy = cy - (ah - 1) / 2.0;
    double lim = AL_RANGE_SHIFT * SD_MAX(bw, bh);
    return fabs(dx) <= lim && fabs(dy) <= lim;
}

/* ------------------------------------------------------------------ */
/* driver                                                               */

static int base_factor(int w, int h)
{
    int f0 = 1;
    while (SD_MAX(w, h) / f0 > AL_BASE_MAX_SIDE)
        f0 *= 2;
    return f0;
}

int sd_align_scale_denom(int before_w, int before_h)
{
    return SD_MIN(8, base_factor(before_w, before_h));
}

/* EXIF orientations whose upright x (y) runs against the stored order. */
static int flips_x(int o) { return o == 2 || o == 3 || o == 6 || o == 7; }
static int flips_y(int o) { return o == 3 || o == 4 || o == 7 || o == 8; }

/* Check an input, recognise its scale from the sizes and place its base
 * grid. libjpeg's 1/d decode has ceil(W / d) columns, column j the block
 * of stored columns [d j, d j + d) (the last one partial), centred at
 * d j + (d - 1) / 2; where the orientation turns the stored order round, the
 * partial block comes first and every centre moves by -(d ceil(W / d) - W). */
static sd_status src_of(sd_ctx *ctx, const sd_align_input *in, const char *name, int f0,
                        al_src *src, int *w, int *h)
{
    const sd_image *img = in ? in->img : NULL;
    if (!sd_image_has_pixels(img))
        return sd_fail(ctx, SD_ERR_ARG, "align: missing %s image", name);
    *w = in->width > 0 ? in->width : img->width;
    *h = in->height > 0 ? in->height : img->height;
    src->img = img;
    src->denom = 0;
    for (int d = 1; d <= 8 && !src->denom; d *= 2)
        if (img->width == (*w + d - 1) / d && img->height == (*h + d - 1) / d)
            src->denom = d;
    if (!src->denom)
        return sd_fail(ctx, SD_ERR_ARG,
                       "align: %s image is %dx%d, not a 1/2, 1/4 or 1/8 decode of %dx%d", name,
                       img->width, img->height, *w, *h);
    const int d = src->denom;
    if (d > f0)
        return sd_fail(ctx, SD_ERR_ARG,
                       "align: %s image is a 1/%d decode, coarser than the 1/%d the alignment "
                       "needs (sd_align_scale_denom)", name, d, f0);
    src->ox = (f0 - 1) / 2.0;
    src->oy = (f0 - 1) / 2.0;
    if (d > 1 && flips_x(img->orientation))
        src->ox -= (double)d * img->width - *w;
    if (d > 1 && flips_y(img->orientation))
        src->oy -= (double)d * img->height - *h;
    return SD_OK;
}

/* The two pyramids, at the same time when there are threads for both (each
 * on its own context with half of them; the result does not depend on the
 * split). BEFORE's error wins. */
typedef struct al_pyr_job {
    sd_ctx *ctx;
    const al_src *src;
    int f0, nlev;
    al_pyr *p;
    sd_status st;
} al_pyr_job;

static void *pyr_job_run(void *arg)
{
    al_pyr_job *j = arg;
    j->st = pyr_build(j->ctx, j->src, j->f0, j->nlev, j->p);
    return NULL;
}

static sd_status pyr_build_both(sd_ctx *ctx, const al_src *sb, const al_src *sa, int f0,
                                int nlev, al_pyr *pb, al_pyr *pa)
{
    const int nt = sd_ctx_threads(ctx);
    al_pyr_job jobs[2] = {{ctx, sb, f0, nlev, pb, SD_OK}, {ctx, sa, f0, nlev, pa, SD_OK}};
    sd_ctx *own[2] = {NULL, NULL};
    if (nt > 1 && (own[0] = sd_ctx_new()) != NULL && (own[1] = sd_ctx_new()) != NULL) {
        sd_ctx_set_threads(own[0], nt - nt / 2);
        sd_ctx_set_threads(own[1], nt / 2);
        jobs[0].ctx = own[0];
        jobs[1].ctx = own[1];
        sd_run_jobs(2, pyr_job_run, jobs, sizeof jobs[0]);
    } else {
        pyr_job_run(&jobs[0]);
        if (jobs[0].st == SD_OK)
            pyr_job_run(&jobs[1]);
    }
    sd_status st = jobs[0].st != SD_OK ? jobs[0].st : jobs[1].st;
    if (st != SD_OK && own[0] && own[1])
        sd_fail(ctx, st, "%s", sd_ctx_message(jobs[0].st != SD_OK ? own[0] : own[1]));
    sd_ctx_free(own[0]);
    sd_ctx_free(own[1]);
    if (st != SD_OK) {
        pyr_release(pb);
        pyr_release(pa);
    }
    return st;
}

sd_status sd_pair_align(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                        const sd_align_opts *opts, sd_align_result *out)
{
    sd_align_input b = {before, 0, 0}, a = {after, 0, 0};
    return sd_pair_align_inputs(ctx, &b, &a, opts, out);
}

sd_status sd_pair_align_inputs(sd_ctx *ctx, const sd_align_input *before,
                               const sd_align_input *after, const sd_align_opts *opts,
                               sd_align_result *out)
{
    memset(out, 0, sizeof *out);
    sd_align_model model = opts ? opts->model : SD_ALIGN_SIMILARITY;
    out->model = model;
    out->status = SD_ALIGN_FAILED;
    out->xf = sd_xform_identity;
    out->scale = 1;
    if (model != SD_ALIGN_SIMILARITY && model != SD_ALIGN_AFFINE && model != SD_ALIGN_NONE)
        return sd_fail(ctx, SD_ERR_ARG, "align: unknown model %d", (int)model);
    if (!before || !after || !sd_image_has_pixels(before->img) || !sd_image_has_pixels(after->img))
        return sd_fail(ctx, SD_ERR_ARG, "align: missing image");
    const sd_align_input *ins[2] = {before, after};
    const char *names[2] = {"before", "after"};
    int W[2], H[2];
    for (int i = 0; i < 2; i++) {
        W[i] = ins[i]->width > 0 ? ins[i]->width : ins[i]->img->width;
        H[i] = ins[i]->height > 0 ? ins[i]->height : ins[i]->img->height;
        if (W[i] < AL_MIN_SIDE || H[i] < AL_MIN_SIDE)
            return sd_fail(ctx, SD_ERR_TOO_SMALL,
                           "align: %s image is %dx%d, alignment needs at least %dx%d pixels",
                           names[i], W[i], H[i], AL_MIN_SIDE, AL_MIN_SIDE);
    }
    const int bw = W[0], bh = H[0], aw = W[1], ah = H[1];
    const int f0 = base_factor(bw, bh);
    al_src src[2];
    for (int i = 0; i < 2; i++) {
        sd_status st = src_of(ctx, ins[i], names[i], f0, &src[i], &W[i], &H[i]);
        if (st != SD_OK)
            return st;
    }
    const int bw0 = bw / f0, bh0 = bh / f0;
    /* search level: the first whose short side is below AL_SEARCH_SIDE */
    int search = 0;
    while (SD_MIN(bw0, bh0) >> search >= AL_SEARCH_SIDE && search + 1 < AL_MAX_LEVELS - AL_SUPPORT_LEVELS)
        search++;
    if (search > 0 && (SD_MIN(bw0, bh0) >> search) < AL_MIN_SIDE / 2)
        search--;
    /* the level above the search level serves its first step when it is
     * large enough; one more level keeps its band-pass complete */
    const int coarse = (SD_MIN(bw0, bh0) >> (search + 1)) >= AL_SEARCH_MIN_SIDE;
    const int nlev = search + AL_SUPPORT_LEVELS + 1 + coarse;
    if (SD_MIN(aw / f0, ah / f0) >> search < 8)
        return sd_fail(ctx, SD_ERR_TOO_SMALL,
                       "align: after image is %dx%d, too small next to the %dx%d before image",
                       aw, ah, bw, bh);

    al_pyr pb, pa;
    sd_status st = pyr_build_both(ctx, &src[0], &src[1], f0, nlev, &pb, &pa);
    if (st != SD_OK)
        return st;

    sd_xform full = sd_xform_identity;
    int found = 1;
    const int nt = sd_ctx_threads(ctx);
    if (model != SD_ALIGN_NONE) {
        al_cand cand[AL_CANDIDATES];
        int nc = 0;
        st = coarse_search(ctx, coarse ? &pb.lv[search + 1] : NULL,
                           coarse ? &pa.lv[search + 1] : NULL, &pb.lv[search], &pa.lv[search],
                           cand, &nc);
        if (st != SD_OK)
            goto done;
        /* refine every candidate at the search level and the one below,
         * then keep the best (by NCC at the lower of the two); a candidate
         * that converges onto an earlier one at the search level goes no
         * further. The refinements of one level run side by side (each on
         * one thread; ecc_batch), the choices between them in order. */
        int best = -1;
        double best_ncc = -2;
        int second = search > 0 ? search - 1 : search;
        sd_xform top[AL_CANDIDATES];
        int ntop = 0, idx[AL_CANDIDATES], ok[AL_CANDIDATES], nnext = 0, next[AL_CANDIDATES];
        double cncc[AL_CANDIDATES];
        const sd_plane *tb = &pb.lv[search].bp;
        for (int i = 0; i < nc; i++)
            idx[i] = i;
        ecc_batch(ctx, &pb.lv[search], &pa.lv[search], AL_ECC_ITER_TOP, idx, nc, cand, cncc, ok);
        for (int i = 0; i < nc; i++) {
            if (!ok[i])
                continue;
            int dup = 0;
            for (int j = 0; j < ntop && !dup; j++)
                dup = xf_distance(&top[j], &cand[i].xf, tb->w, tb->h) < AL_ECC_SAME;
            if (dup) {
                ok[i] = 0;
                continue;
            }
            top[ntop++] = cand[i].xf;
            if (second != search) {
                sd_xform f = xf_to_full(&cand[i].xf, pb.lv[search].s, &pb, &pa);
                cand[i].xf = xf_to_level(&f, pb.lv[second].s, &pb, &pa);
                next[nnext++] = i;
            }
        }
        if (second != search)
            ecc_batch(ctx, &pb.lv[second], &pa.lv[second], AL_ECC_ITER, next, nnext, cand, cncc,
                      ok);
        for (int i = 0; i < nc; i++) {
            if (!ok[i])
                continue;
            cand[i].ncc = cncc[i];
            if (cncc[i] > best_ncc) {
                best_ncc = cncc[i];
                best = i;
            }
        }
        if (best < 0) {
            found = 0;
        } else {
            sd_xform lev = cand[best].xf;
            int P = model == SD_ALIGN_AFFINE ? 6 : 4;
            /* down AL_ECC_LEVEL_STEP levels at a time, the base level last */
            for (int from = second, l = second - AL_ECC_LEVEL_STEP; from > 0 && found;
                 from = l, l -= AL_ECC_LEVEL_STEP) {
                l = SD_MAX(l, 0);
                sd_xform f = xf_to_full(&lev, pb.lv[from].s, &pb, &pa);
                lev = xf_to_level(&f, pb.lv[l].s, &pb, &pa);
                double ncc;
                found = ecc_refine(&pb.lv[l], &pa.lv[l], P, AL_ECC_ITER, nt, &lev, &ncc);
            }
            /* affine on a pyramid this short: one more pass at the base */
            if (found && P == 6 && second == 0) {
                double ncc;
                found = ecc_refine(&pb.lv[0], &pa.lv[0], P, AL_ECC_ITER, nt, &lev, &ncc);
            }
            if (found)
                full = xf_to_full(&lev, pb.lv[0].s, &pb, &pa);
        }
    }

    out->xf = full;
    sd_xform_decompose(&full, &out->rotation_deg, &out->scale);
    out->tx = full.m[2];
    out->ty = full.m[5];
    out->overlap_fraction = overlap_fraction(&full, bw, bh, aw, ah);
    {
        sd_xform lev = xf_to_level(&full, pb.lv[0].s, &pb, &pa);
        al_frame fr = frame_of(&pb.lv[0].bp);
        al_sums S;
        double n = (double)pb.lv[0].bp.w * pb.lv[0].bp.h;
        int step = SD_MAX(1, (int)ceil(sqrt(n / AL_VERDICT_SAMPLES)));
        accumulate(&pb.lv[0], &pa.lv[0], &lev, 0, &fr, step, sd_ctx_threads(ctx), &S);
        out->ncc = sums_ncc(&S);
    }
    if (!found || (model != SD_ALIGN_NONE && !in_range(&full, model, bw, bh, aw, ah)))
        out->status = SD_ALIGN_FAILED;
    else if (out->overlap_fraction < AL_OVERLAP_FAIL || out->ncc < AL_NCC_FAIL)
        out->status = SD_ALIGN_FAILED;
    else if (out->overlap_fraction < AL_OVERLAP_OK || out->ncc < AL_NCC_OK)
        out->status = SD_ALIGN_POOR;
    else
        out->status = SD_ALIGN_OK;
    st = SD_OK;
done:
    pyr_release(&pb);
    pyr_release(&pa);
    return st;
}

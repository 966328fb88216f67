/*
 * repeatability: the noise floor of every metric, measured (issue 6).
 *
 * The same skin is photographed many times (independent sensor noise, a
 * random similarity transform up to +-5 deg, +-5 % scale and +-5 % shifts,
 * exposure within +-0.5 EV, JPEG quality 85-95, mild defocus), every
 * capture is written as a JPEG file and compared with the first through the
 * real pipeline (sd_pair_compare), and per metric the 95th percentile of
 * |change_pct| is its noise floor. Two kinds of skin:
 *
 *   synthetic  the project's generator (docs/synth.md): every capture is a
 *              new rendering of the continuous skin through its camera;
 *   real       photos from ../shared/data/faces playing the skin: each
 *              capture integrates the photo over its pixel footprint (3x3
 *              bicubic samples in linear light, the photo oversampled at
 *              least 1.3x) through the capture's transform, then the same
 *              camera (exposure, defocus, noise, JPEG).
 *
 * Every pair is also measured the naive way (AFTER resampled bilinearly
 * into BEFORE's frame with sd_image_warp, then measured at scale 1 over the
 * BEFORE ROI), and a null pair with the camera turned +4 and -4 deg is
 * reported both ways: the resampling bias the own-grid pipeline avoids.
 *
 *   repeatability [--quick] [--pairs] [--json FILE] [--shared DIR]
 *
 * Human-readable tables (including the README's markdown table) go to
 * stdout; --json writes the same figures as JSON. Deterministic: the
 * figures depend only on the seeds below. tests/test_repeatability.c
 * includes this file (REPEATABILITY_NO_MAIN) and reruns the study with the
 * same settings, so the README's table is checked against a real run.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

#include "skindelta/align.h"
#include "skindelta/compare.h"
#include "skindelta/io.h"
#include "skindelta/kernels.h"
#include "skindelta/metrics.h"
#include "skindelta/report.h"
#include "skindelta/synth.h"

#define RP_MAX_METRICS 16
#define RP_MAX_PHOTOS 4
#define RP_MAX_SKINS 8
#define RP_MAX_PAIRS 256

/* ---- settings ---- */

typedef struct rp_settings {
    uint64_t seed;       /* skin seed and base of every capture's parameters */
    int syn_skins;       /* generated skins (seeds seed, seed+1, ...) */
    int syn_captures;    /* captures per skin (the first is the reference) */
    int syn_w, syn_h;    /* synthetic capture size */
    int photo_captures;  /* captures per photo */
    int photo_w, photo_h;/* real capture size */
    double noise;        /* sensor noise (generator units: linear std at 0.18) */
    double px_per_mm;    /* nominal scale, so the mm metrics are measured too */
    int n_photos;
    const char *photos[RP_MAX_PHOTOS]; /* relative to the shared folder */
} rp_settings;

/* The settings of `make repeatability`, the README and the test. */
static void rp_settings_default(rp_settings *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 20260601;
    s->syn_skins = 4;
    s->syn_captures = 12;
    s->syn_w = 400;
    s->syn_h = 300;
    s->photo_captures = 16;
    s->photo_w = 300;
    s->photo_h = 240;
    s->noise = 0.004;
    s->px_per_mm = 20.0;
    s->n_photos = 3;
    s->photos[0] = "data/faces/face_recognition/biden2.jpg";
    s->photos[1] = "data/faces/thumbor/giunchedi_2015_01.jpg";
    s->photos[2] = "data/faces/skimage/astronaut.png";
}

/* ---- deterministic random numbers (splitmix64) ---- */

static uint64_t rp_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

typedef struct rp_rng {
    uint64_t s;
} rp_rng;

static double rp_uniform(rp_rng *r, double lo, double hi)
{
    r->s = rp_mix(r->s);
    return lo + (hi - lo) * ((double)(r->s >> 11) / 9007199254740992.0);
}

/* ---- one capture's camera ---- */

typedef struct rp_shot {
    double rot, scale, tx, ty; /* similarity about the frame centre, skin -> capture pixels */
    double ev, defocus;
    int quality;
    uint64_t noise_seed;
} rp_shot;

/* Capture k of series `series`: k = 0 is the reference (camera straight,
 * exposure 0, quality 90, defocus 0.3); the others are random within the
 * issue's ranges. Depends only on (seed, series, k). */
static rp_shot rp_shot_random(uint64_t seed, int series, int k, int w, int h)
{
    rp_rng r = {rp_mix(seed ^ rp_mix(((uint64_t)series << 32) | (uint64_t)k))};
    rp_shot s = {0, 1, 0, 0, 0, 0.3, 90, rp_mix(r.s + 17)};
    if (k == 0)
        return s;
    s.rot = rp_uniform(&r, -5, 5);
    s.scale = rp_uniform(&r, 0.95, 1.05);
    s.tx = rp_uniform(&r, -0.05, 0.05) * w;
    s.ty = rp_uniform(&r, -0.05, 0.05) * h;
    s.ev = rp_uniform(&r, -0.5, 0.5);
    s.defocus = rp_uniform(&r, 0.0, 0.6);
    s.quality = 85 + (int)floor(rp_uniform(&r, 0, 11));
    if (s.quality > 95)
        s.quality = 95;
    return s;
}

static sd_xform rp_shot_xform(const rp_shot *s, int w, int h)
{
    return sd_synth_similarity(s->rot, s->scale, s->tx, s->ty, (w - 1) / 2.0, (h - 1) / 2.0);
}

/* ---- sources of skin ---- */

typedef struct rp_source {
    const char *name;
    int w, h;             /* capture size */
    /* synthetic */
    sd_synth_skin skin;
    const sd_synth_session *session; /* NULL: unchanged skin */
    /* photo: linear RGB planes, capture-0 pixel u sees photo point o + f u */
    int is_photo;
    sd_plane lin[3];
    double f, ox, oy;
    double noise;
} rp_source;

static void rp_source_release(rp_source *s)
{
    for (int c = 0; c < 3; c++)
        sd_plane_release(&s->lin[c]);
}

static sd_status rp_source_synthetic(rp_source *s, uint64_t seed, int w, int h, double noise)
{
    memset(s, 0, sizeof *s);
    s->name = "synthetic";
    s->w = w;
    s->h = h;
    s->noise = noise;
    sd_synth_skin_defaults(&s->skin, seed, w, h);
    return SD_OK;
}

/* A photo as skin: the capture-0 frame (w x h) is centred in the photo at
 * f photo pixels per capture pixel, the largest f that leaves 30 % of
 * margin for the other captures' transforms. */
static sd_status rp_source_photo(sd_ctx *ctx, rp_source *s, const char *path, int w, int h,
                                 double noise)
{
    memset(s, 0, sizeof *s);
    s->name = path;
    s->w = w;
    s->h = h;
    s->noise = noise;
    s->is_photo = 1;
    sd_image *img = NULL;
    sd_status st = sd_image_load(ctx, path, NULL, &img);
    if (st != SD_OK)
        return st;
    s->f = fmin(img->width / (1.3 * w), img->height / (1.3 * h));
    if (s->f < 1.0) {
        sd_image_free(img);
        fprintf(stderr, "repeatability: %s: too small for %dx%d captures\n", path, w, h);
        return SD_ERR_TOO_SMALL;
    }
    s->ox = ((img->width - 1) - s->f * (w - 1)) / 2;
    s->oy = ((img->height - 1) - s->f * (h - 1)) / 2;
    const float *lut = sd_srgb16_lut();
    for (int c = 0; c < 3 && st == SD_OK; c++)
        st = sd_plane_init(ctx, &s->lin[c], img->width, img->height);
    for (int y = 0; y < img->height && st == SD_OK; y++) {
        const uint16_t *row = img->px + (size_t)y * img->stride;
        for (int c = 0; c < 3; c++) {
            float *d = sd_plane_row(&s->lin[c], y);
            for (int x = 0; x < img->width; x++)
                d[x] = lut[row[3 * x + c]];
        }
    }
    sd_image_free(img);
    if (st != SD_OK)
        rp_source_release(s);
    return st;
}

/* Keys cubic (a = -0.5) weights for offset t in [0, 1). */
static void rp_cubic_weights(double t, double w[4])
{
    const double a = -0.5;
    double x;
    x = 1 + t;
    w[0] = a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
    x = t;
    w[1] = (a + 2) * x * x * x - (a + 3) * x * x + 1;
    x = 1 - t;
    w[2] = (a + 2) * x * x * x - (a + 3) * x * x + 1;
    x = 2 - t;
    w[3] = a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
}

static double rp_bicubic(const sd_plane *p, double x, double y)
{
    double fx = floor(x), fy = floor(y), wx[4], wy[4];
    rp_cubic_weights(x - fx, wx);
    rp_cubic_weights(y - fy, wy);
    int x0 = (int)fx - 1, y0 = (int)fy - 1;
    double sum = 0;
    for (int j = 0; j < 4; j++) {
        int yy = y0 + j < 0 ? 0 : y0 + j >= p->h ? p->h - 1 : y0 + j;
        const float *row = sd_plane_row(p, yy);
        double rs = 0;
        for (int i = 0; i < 4; i++) {
            int xx = x0 + i < 0 ? 0 : x0 + i >= p->w ? p->w - 1 : x0 + i;
            rs += wx[i] * row[xx];
        }
        sum += wy[j] * rs;
    }
    return sum < 0 ? 0 : sum;
}

static double rp_gauss(rp_rng *r)
{
    /* Irwin-Hall(4): mean 2, variance 1/3 */
    double s = 0;
    for (int i = 0; i < 4; i++)
        s += rp_uniform(r, 0, 1);
    return (s - 2) * sqrt(3.0);
}

static uint16_t rp_encode(double lin)
{
    lin = lin < 0 ? 0 : lin > 1 ? 1 : lin;
    double e = lin <= 0.0031308 ? 12.92 * lin : 1.055 * pow(lin, 1 / 2.4) - 0.055;
    return (uint16_t)lrint(e * 65535.0);
}

/* A capture of a photo: 3x3 bicubic samples of linear light per pixel
 * through the inverse transform, x 2^ev, defocus, noise (the generator's
 * model: sigma(v) = noise * sqrt((v + 0.01) / 0.19)), sRGB 16-bit. */
static sd_status rp_render_photo(sd_ctx *ctx, const rp_source *s, const rp_shot *shot,
                                 sd_image **out)
{
    sd_xform xf = rp_shot_xform(shot, s->w, s->h), inv;
    if (!sd_xform_invert(&xf, &inv))
        return SD_ERR_ARG;
    sd_plane pl[3] = {{0}}, tmp = {0};
    sd_status st = SD_OK;
    for (int c = 0; c < 3 && st == SD_OK; c++)
        st = sd_plane_init(ctx, &pl[c], s->w, s->h);
    if (st == SD_OK)
        st = sd_plane_init(ctx, &tmp, s->w, s->h);
    double gain = pow(2.0, shot->ev);
    for (int y = 0; y < s->h && st == SD_OK; y++)
        for (int x = 0; x < s->w; x++) {
            double acc[3] = {0, 0, 0};
            for (int j = 0; j < 3; j++)
                for (int i = 0; i < 3; i++) {
                    double u, v;
                    sd_xform_apply(&inv, x + (i - 1) / 3.0, y + (j - 1) / 3.0, &u, &v);
                    for (int c = 0; c < 3; c++)
                        acc[c] += rp_bicubic(&s->lin[c], s->ox + s->f * u, s->oy + s->f * v);
                }
            for (int c = 0; c < 3; c++)
                sd_plane_row(&pl[c], y)[x] = (float)(acc[c] / 9 * gain);
        }
    for (int c = 0; c < 3 && st == SD_OK && shot->defocus > 0; c++) {
        st = sd_gauss_blur(ctx, &pl[c], &tmp, shot->defocus);
        sd_plane t = pl[c];
        pl[c] = tmp;
        tmp = t;
    }
    sd_image *img = NULL;
    if (st == SD_OK)
        st = sd_image_new(ctx, s->w, s->h, 0, &img);
    rp_rng r = {shot->noise_seed};
    for (int y = 0; y < s->h && st == SD_OK; y++) {
        uint16_t *row = img->px + (size_t)y * img->stride;
        for (int x = 0; x < s->w; x++)
            for (int c = 0; c < 3; c++) {
                double v = sd_plane_row(&pl[c], y)[x];
                v += s->noise * sqrt((fmax(v, 0) + 0.01) / 0.19) * rp_gauss(&r);
                row[3 * x + c] = rp_encode(v);
            }
    }
    for (int c = 0; c < 3; c++)
        sd_plane_release(&pl[c]);
    sd_plane_release(&tmp);
    if (st != SD_OK) {
        sd_image_free(img);
        return st;
    }
    img->bits = 16;
    *out = img;
    return SD_OK;
}

/* Render one capture (16-bit; JPEG is applied when it is written). */
static sd_status rp_render(sd_ctx *ctx, const rp_source *s, const sd_synth_session *session,
                           const rp_shot *shot, sd_image **out)
{
    if (s->is_photo)
        return rp_render_photo(ctx, s, shot, out);
    sd_synth_capture cap;
    sd_synth_capture_defaults(&cap, s->w, s->h);
    cap.xf = rp_shot_xform(shot, s->w, s->h);
    cap.ev = shot->ev;
    cap.noise = s->noise;
    cap.noise_seed = shot->noise_seed;
    cap.defocus = shot->defocus;
    return sd_synth_render(ctx, &s->skin, session, &cap, out);
}

/* Render and write one capture as a JPEG file at the shot's quality. */
static sd_status rp_capture_file(sd_ctx *ctx, const rp_source *s, const sd_synth_session *ses,
                                 const rp_shot *shot, const char *path)
{
    sd_image *img = NULL;
    sd_status st = rp_render(ctx, s, ses, shot, &img);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (st == SD_OK)
        st = sd_image_encode_jpeg(ctx, img, shot->quality, &buf, &len);
    if (st == SD_OK)
        st = sd_file_write_atomic(ctx, path, buf, len);
    free(buf);
    sd_image_free(img);
    return st;
}

/* ---- one pair, measured both ways ---- */

typedef struct rp_pair {
    int ok;                      /* compared (alignment not failed) */
    double ncc, rot, scale, ev;  /* from the pipeline */
    double focus_ratio;          /* quality: sharpness after / before */
    int warnings;                /* quality warnings raised */
    rp_shot shot;                /* the AFTER capture's camera */
    sd_metrics before, after;    /* own grid (sd_pair_compare) */
    sd_metrics naive_before, naive_after; /* AFTER warped into BEFORE's frame */
    const char *summary[3];      /* group verdicts of the own-grid pipeline */
} rp_pair;

static void rp_compare_params(sd_compare_params *p, double px_per_mm)
{
    sd_compare_params_default(p);
    /* nominal scale: keeps the pixel filters, adds the mm figures */
    p->metric.px_per_mm = px_per_mm;
    p->threads = 1;
}

static sd_status rp_measure_pair(sd_ctx *ctx, const char *before_path, const char *after_path,
                                 const sd_compare_params *p, rp_pair *out)
{
    memset(out, 0, sizeof *out);
    sd_compare_result r;
    sd_status st = sd_pair_compare(ctx, before_path, after_path, p, &r);
    if (st == SD_ERR_ALIGN)
        return SD_OK; /* out->ok = 0: counted as a failure */
    if (st != SD_OK)
        return st;
    out->ok = 1;
    out->ncc = r.alignment.ncc;
    out->rot = r.alignment.rotation_deg;
    out->scale = r.alignment.scale;
    out->ev = r.normalization.exposure_ev;
    out->focus_ratio = r.quality.focus_ratio;
    out->warnings = r.quality.n_warnings;
    out->before = r.m_before;
    out->after = r.m_after;
    static const char *const groups[3] = {"texture", "redness", "pores"};
    for (int g = 0; g < 3; g++)
        out->summary[g] = sd_group_verdict(groups[g], p->metric.px_per_mm > 0, &r.m_before,
                                           &r.m_after);

    /* The naive way: AFTER resampled (bilinear) into BEFORE's frame, then
     * measured at scale 1 over the same BEFORE ROI with the same gains. */
    sd_image *b = NULL, *a = NULL, *warped = NULL;
    sd_roi roi = {0};
    st = sd_image_load(ctx, before_path, NULL, &b);
    if (st == SD_OK)
        st = sd_image_load(ctx, after_path, NULL, &a);
    sd_roi_opts ro = {.border = sd_metric_border(&p->metric)};
    if (st == SD_OK)
        st = sd_roi_build(ctx, b, a, &r.alignment.xf, &ro, &roi);
    if (st == SD_OK)
        st = sd_image_warp(ctx, a, &r.alignment.xf, b->width, b->height, &warped);
    sd_thresholds thr = {0};
    if (st == SD_OK)
        st = sd_image_measure(ctx, b, roi.before, 1.0, r.normalization.before_gains, &p->metric,
                              &thr, &out->naive_before);
    if (st == SD_OK)
        st = sd_image_measure(ctx, warped, roi.before, 1.0, r.normalization.gains, &p->metric,
                              &thr, &out->naive_after);
    sd_roi_release(&roi);
    sd_image_free(warped);
    sd_image_free(a);
    sd_image_free(b);
    return st;
}

/* change_pct as the report computes it (NAN when before is 0). */
static double rp_change(const sd_metrics *b, const sd_metrics *a, const sd_metric_desc *d)
{
    double x = sd_metric_value(b, d), y = sd_metric_value(a, d);
    return x != 0 && isfinite(x) && isfinite(y) ? 100.0 * (y - x) / x : NAN;
}

/* ---- the study ---- */

typedef struct rp_series {
    const char *name;
    int pairs, failed;
    rp_pair pair[RP_MAX_PAIRS];
} rp_series;

typedef struct rp_bias {
    const char *name;
    double rot;
    rp_pair pair;
} rp_bias;

typedef struct rp_study {
    rp_settings set;
    size_t n_metrics;
    const sd_metric_desc *metrics;
    int n_syn;
    rp_series syn[RP_MAX_SKINS];
    int n_real;
    rp_series real[RP_MAX_PHOTOS];
    /* per metric: P95 of |change_pct| (own grid) synthetic, real, the floor
     * used; the naive way's P95 and mean change for comparison */
    double p95_syn[RP_MAX_METRICS], p95_real[RP_MAX_METRICS], floor[RP_MAX_METRICS];
    double mean_syn[RP_MAX_METRICS], mean_real[RP_MAX_METRICS];
    double naive_p95_syn[RP_MAX_METRICS], naive_mean_syn[RP_MAX_METRICS];
    double naive_p95_real[RP_MAX_METRICS], naive_mean_real[RP_MAX_METRICS];
    int n_syn_pairs, n_real_pairs, n_failed;
    int n_bias;
    rp_bias bias[2 * (1 + RP_MAX_PHOTOS)];
} rp_study;

static int rp_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank 95th percentile of |v| over the finite values (NAN if none). */
static double rp_p95(const double *v, int n)
{
    double *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i]))
            t[m++] = fabs(v[i]);
    double r = NAN;
    if (m > 0) {
        qsort(t, (size_t)m, sizeof *t, rp_cmp);
        int k = (int)ceil(0.95 * m) - 1;
        r = t[k < 0 ? 0 : k];
    }
    free(t);
    return r;
}

static double rp_mean(const double *v, int n)
{
    double s = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            s += v[i];
            m++;
        }
    return m ? s / m : NAN;
}

/* The floor the report uses: the larger of the synthetic and the real
 * P95, rounded up to the next 0.5 %. */
static double rp_floor_used(double syn, double real)
{
    double x = isfinite(real) && real > syn ? real : syn;
    return ceil(x * 2 - 1e-9) / 2;
}

/* Captures 1..n-1 of a source compared with capture 0 (files in dir). */
static sd_status rp_run_series(sd_ctx *ctx, const rp_settings *set, const rp_source *src,
                               int series, int n, const char *dir, rp_series *out)
{
    sd_compare_params p;
    rp_compare_params(&p, set->px_per_mm);
    char ref[1024], cur[1024];
    snprintf(ref, sizeof ref, "%s/s%d-0.jpg", dir, series);
    rp_shot s0 = rp_shot_random(set->seed, series, 0, src->w, src->h);
    sd_status st = rp_capture_file(ctx, src, NULL, &s0, ref);
    out->name = src->name;
    out->pairs = out->failed = 0;
    for (int k = 1; k < n && st == SD_OK && out->pairs < RP_MAX_PAIRS; k++) {
        snprintf(cur, sizeof cur, "%s/s%d-%d.jpg", dir, series, k);
        rp_shot sk = rp_shot_random(set->seed, series, k, src->w, src->h);
        st = rp_capture_file(ctx, src, NULL, &sk, cur);
        if (st == SD_OK)
            st = rp_measure_pair(ctx, ref, cur, &p, &out->pair[out->pairs]);
        out->pair[out->pairs].shot = sk;
        if (st == SD_OK) {
            if (out->pair[out->pairs].ok)
                out->pairs++;
            else
                out->failed++;
        }
        unlink(cur);
    }
    unlink(ref);
    return st;
}

/* The +-4 deg null pair: reference capture vs the camera turned, nothing
 * else changed (new noise only). */
static sd_status rp_run_bias(sd_ctx *ctx, const rp_settings *set, const rp_source *src,
                             int series, double rot, const char *dir, rp_bias *out)
{
    sd_compare_params p;
    rp_compare_params(&p, set->px_per_mm);
    char ref[1024], cur[1024];
    snprintf(ref, sizeof ref, "%s/b%d-0.jpg", dir, series);
    snprintf(cur, sizeof cur, "%s/b%d-1.jpg", dir, series);
    rp_shot s0 = rp_shot_random(set->seed, series, 0, src->w, src->h), s1 = s0;
    s1.rot = rot;
    s1.noise_seed = rp_mix(s0.noise_seed ^ 0x4444);
    out->name = src->name;
    out->rot = rot;
    sd_status st = rp_capture_file(ctx, src, NULL, &s0, ref);
    if (st == SD_OK)
        st = rp_capture_file(ctx, src, NULL, &s1, cur);
    if (st == SD_OK)
        st = rp_measure_pair(ctx, ref, cur, &p, &out->pair);
    unlink(ref);
    unlink(cur);
    return st;
}

static void rp_stats(rp_study *s)
{
    size_t nm = s->n_metrics;
    int cap = RP_MAX_PAIRS * (RP_MAX_SKINS + RP_MAX_PHOTOS);
    double *v = malloc((size_t)cap * sizeof *v), *w = malloc((size_t)cap * sizeof *w);
    for (size_t m = 0; m < nm; m++) {
        const sd_metric_desc *d = &s->metrics[m];
        int n = 0;
        for (int k = 0; k < s->n_syn; k++)
            for (int i = 0; i < s->syn[k].pairs; i++) {
                const rp_pair *q = &s->syn[k].pair[i];
                v[n] = rp_change(&q->before, &q->after, d);
                w[n++] = rp_change(&q->naive_before, &q->naive_after, d);
            }
        s->p95_syn[m] = rp_p95(v, n);
        s->mean_syn[m] = rp_mean(v, n);
        s->naive_p95_syn[m] = rp_p95(w, n);
        s->naive_mean_syn[m] = rp_mean(w, n);
        n = 0;
        for (int k = 0; k < s->n_real; k++)
            for (int i = 0; i < s->real[k].pairs; i++) {
                const rp_pair *q = &s->real[k].pair[i];
                v[n] = rp_change(&q->before, &q->after, d);
                w[n++] = rp_change(&q->naive_before, &q->naive_after, d);
            }
        s->p95_real[m] = rp_p95(v, n);
        s->mean_real[m] = rp_mean(v, n);
        s->naive_p95_real[m] = rp_p95(w, n);
        s->naive_mean_real[m] = rp_mean(w, n);
        s->floor[m] = rp_floor_used(s->p95_syn[m], s->p95_real[m]);
    }
    free(v);
    free(w);
}

/* Run the whole study. `shared` is the folder holding data/faces; photos
 * that are absent are reported and left out (n_real counts those used). */
static sd_status rp_study_run(sd_ctx *ctx, const rp_settings *set, const char *shared,
                              rp_study *out)
{
    memset(out, 0, sizeof *out);
    out->set = *set;
    out->metrics = sd_metric_table(&out->n_metrics);
    if (out->n_metrics > RP_MAX_METRICS)
        return SD_ERR_ARG;
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/skindelta-repeat-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return SD_ERR_WRITE;

    rp_source src;
    sd_status st = SD_OK;
    for (int j = 0; j < set->syn_skins && j < RP_MAX_SKINS && st == SD_OK; j++) {
        st = rp_source_synthetic(&src, set->seed + (uint64_t)j, set->syn_w, set->syn_h,
                                 set->noise);
        if (st == SD_OK)
            st = rp_run_series(ctx, set, &src, 10 + j, set->syn_captures, dir,
                               &out->syn[out->n_syn++]);
        for (int b = 0; b < 2 && st == SD_OK && j == 0; b++)
            st = rp_run_bias(ctx, set, &src, 10, b ? -4.0 : 4.0, dir, &out->bias[out->n_bias++]);
        rp_source_release(&src);
    }

    for (int k = 0; k < set->n_photos && st == SD_OK; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", shared, set->photos[k]);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "repeatability: %s: absent, left out\n", path);
            continue;
        }
        st = rp_source_photo(ctx, &src, path, set->photo_w, set->photo_h, set->noise);
        if (st != SD_OK)
            break;
        src.name = set->photos[k];
        rp_series *ser = &out->real[out->n_real++];
        st = rp_run_series(ctx, set, &src, 1 + k, set->photo_captures, dir, ser);
        for (int b = 0; b < 2 && st == SD_OK; b++)
            st = rp_run_bias(ctx, set, &src, 1 + k, b ? -4.0 : 4.0, dir,
                             &out->bias[out->n_bias++]);
        rp_source_release(&src);
    }
    rmdir(dir);
    if (st != SD_OK)
        return st;
    for (int k = 0; k < out->n_syn; k++) {
        out->n_syn_pairs += out->syn[k].pairs;
        out->n_failed += out->syn[k].failed;
    }
    for (int k = 0; k < out->n_real; k++) {
        out->n_real_pairs += out->real[k].pairs;
        out->n_failed += out->real[k].failed;
    }
    rp_stats(out);
    return SD_OK;
}

/* ---- output ---- */

static void rp_metric_name(const sd_metric_desc *d, char *buf, size_t n)
{
    snprintf(buf, n, "%s.%s", d->group, d->name);
}

/* The README's table (markdown), exactly as the README holds it. */
static size_t rp_table_markdown(const rp_study *s, char *buf, size_t n)
{
    size_t k = 0;
#define RP_PUT(...)                                                                        \
    do {                                                                                   \
        int w_ = snprintf(buf + (k < n ? k : n), k < n ? n - k : 0, __VA_ARGS__);          \
        if (w_ > 0)                                                                        \
            k += (size_t)w_;                                                               \
    } while (0)
    RP_PUT("| metric | synthetic P95 | real P95 | floor used |\n|---|---|---|---|\n");
    for (size_t m = 0; m < s->n_metrics; m++) {
        char name[64];
        rp_metric_name(&s->metrics[m], name, sizeof name);
        RP_PUT("| `%s` | %.2f %% | %.2f %% | %.1f %% |\n", name, s->p95_syn[m], s->p95_real[m],
               s->floor[m]);
    }
#undef RP_PUT
    return k;
}

static void rp_print(const rp_study *s, FILE *f)
{
    const rp_settings *set = &s->set;
    fprintf(f, "repeatability study: seed %llu; synthetic %d skins x %d captures %dx%d; real %d "
               "photos x %d captures %dx%d; noise %.4f\n",
            (unsigned long long)set->seed, s->n_syn, set->syn_captures, set->syn_w, set->syn_h,
            s->n_real,
            set->photo_captures, set->photo_w, set->photo_h, set->noise);
    fprintf(f, "pairs compared: %d synthetic, %d real; alignment failed: %d\n\n", s->n_syn_pairs,
            s->n_real_pairs, s->n_failed);
    fprintf(f, "noise floors: 95th percentile of |change_pct| over null pairs (own grid)\n");
    char table[8192];
    rp_table_markdown(s, table, sizeof table);
    fputs(table, f);
    fprintf(f, "\nmean change_pct (bias) own grid vs naive (AFTER resampled bilinearly):\n");
    fprintf(f, "%-28s %10s %10s %10s %10s | %10s %10s\n", "metric", "syn own", "syn naive",
            "real own", "real naive", "P95 naive", "(syn/real)");
    for (size_t m = 0; m < s->n_metrics; m++) {
        char name[64];
        rp_metric_name(&s->metrics[m], name, sizeof name);
        fprintf(f, "%-28s %+9.2f%% %+9.2f%% %+9.2f%% %+9.2f%% | %9.2f%% %9.2f%%\n", name,
                s->mean_syn[m], s->naive_mean_syn[m], s->mean_real[m], s->naive_mean_real[m],
                s->naive_p95_syn[m], s->naive_p95_real[m]);
    }
    fprintf(f, "\nnull pair, camera turned +-4 deg (nothing else changed): change_pct own grid "
               "-> naive\n");
    for (int b = 0; b < s->n_bias; b++) {
        const rp_bias *q = &s->bias[b];
        fprintf(f, "%-42s %+4.0f deg:", q->name, q->rot);
        for (size_t m = 0; m < s->n_metrics; m++) {
            const sd_metric_desc *d = &s->metrics[m];
            if (d->need_mm || strcmp(d->group, "redness") == 0)
                continue;
            fprintf(f, "  %s %+.2f -> %+.2f", d->name, rp_change(&q->pair.before, &q->pair.after, d),
                    rp_change(&q->pair.naive_before, &q->pair.naive_after, d));
        }
        fprintf(f, "\n");
    }
}

#ifndef REPEATABILITY_NO_MAIN
/* Every pair: the pipeline's transform and exposure, and a few metrics. */
static void rp_print_pairs(const rp_study *s, FILE *f)
{
    const rp_series *all[RP_MAX_SKINS + RP_MAX_PHOTOS];
    int n = 0;
    for (int k = 0; k < s->n_syn; k++)
        all[n++] = &s->syn[k];
    for (int k = 0; k < s->n_real; k++)
        all[n++] = &s->real[k];
    fprintf(f, "\nevery pair (own grid): rot scale ev ncc defocus quality focus-ratio warnings | "
               "ra%% rq%% mean_a%% EI%% red_area%% count%% area_frac%% mean_area%% (pores "
               "before->after)\n");
    for (int k = 0; k < n; k++)
        for (int i = 0; i < all[k]->pairs; i++) {
            const rp_pair *q = &all[k]->pair[i];
            fprintf(f, "%-40s %3d %+5.2f %.3f %+5.2f %.2f %.2f %d %.2f %d |", all[k]->name,
                    i + 1, q->rot, q->scale, q->ev, q->ncc, q->shot.defocus, q->shot.quality,
                    q->focus_ratio, q->warnings);
            for (size_t m = 0; m < 8 && m < s->n_metrics; m++)
                fprintf(f, " %+6.2f", rp_change(&q->before, &q->after, &s->metrics[m]));
            fprintf(f, " (%.0f->%.0f)\n", q->before.pore_count, q->after.pore_count);
        }
}
#endif

static cJSON *rp_json(const rp_study *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "schema", "skindelta/repeatability/1");
    cJSON *set = cJSON_AddObjectToObject(o, "settings");
    cJSON_AddNumberToObject(set, "seed", (double)s->set.seed);
    cJSON_AddNumberToObject(set, "synthetic_skins", s->n_syn);
    cJSON_AddNumberToObject(set, "synthetic_captures_per_skin", s->set.syn_captures);
    cJSON_AddNumberToObject(set, "photo_captures", s->set.photo_captures);
    cJSON_AddNumberToObject(set, "noise", s->set.noise);
    cJSON *ph = cJSON_AddArrayToObject(set, "photos");
    for (int k = 0; k < s->n_real; k++)
        cJSON_AddItemToArray(ph, cJSON_CreateString(s->real[k].name));
    cJSON_AddNumberToObject(o, "synthetic_pairs", s->n_syn_pairs);
    cJSON_AddNumberToObject(o, "real_pairs", s->n_real_pairs);
    cJSON_AddNumberToObject(o, "alignment_failed", s->n_failed);
    cJSON *fl = cJSON_AddObjectToObject(o, "floors");
    for (size_t m = 0; m < s->n_metrics; m++) {
        char name[64];
        rp_metric_name(&s->metrics[m], name, sizeof name);
        cJSON *e = cJSON_AddObjectToObject(fl, name);
        double v[] = {s->p95_syn[m], s->p95_real[m], s->floor[m], s->mean_syn[m],
                      s->mean_real[m], s->naive_p95_syn[m], s->naive_mean_syn[m],
                      s->naive_p95_real[m], s->naive_mean_real[m]};
        const char *k[] = {"synthetic_p95_pct", "real_p95_pct", "floor_pct",
                           "synthetic_mean_pct", "real_mean_pct", "naive_synthetic_p95_pct",
                           "naive_synthetic_mean_pct", "naive_real_p95_pct",
                           "naive_real_mean_pct"};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            cJSON_AddItemToObject(e, k[i], isfinite(v[i]) ? cJSON_CreateNumber(v[i])
                                                          : cJSON_CreateNull());
    }
    cJSON *bi = cJSON_AddArrayToObject(o, "bias_null_pair_4deg");
    for (int b = 0; b < s->n_bias; b++) {
        const rp_bias *q = &s->bias[b];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "source", q->name);
        cJSON_AddNumberToObject(e, "rotation_deg", q->rot);
        cJSON *own = cJSON_AddObjectToObject(e, "own_grid_change_pct");
        cJSON *nai = cJSON_AddObjectToObject(e, "naive_change_pct");
        for (size_t m = 0; m < s->n_metrics; m++) {
            char name[64];
            rp_metric_name(&s->metrics[m], name, sizeof name);
            double a = rp_change(&q->pair.before, &q->pair.after, &s->metrics[m]);
            double n = rp_change(&q->pair.naive_before, &q->pair.naive_after, &s->metrics[m]);
            cJSON_AddItemToObject(own, name, isfinite(a) ? cJSON_CreateNumber(a) : cJSON_CreateNull());
            cJSON_AddItemToObject(nai, name, isfinite(n) ? cJSON_CreateNumber(n) : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(bi, e);
    }
    return o;
}

#ifndef REPEATABILITY_NO_MAIN
int main(int argc, char **argv)
{
    const char *json_path = NULL, *shared = getenv("SKINDELTA_SHARED");
    int pairs = 0;
    rp_settings set;
    rp_settings_default(&set);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json_path = argv[++i];
        else if (strcmp(argv[i], "--shared") == 0 && i + 1 < argc)
            shared = argv[++i];
        else if (strcmp(argv[i], "--pairs") == 0)
            pairs = 1;
        else if (strcmp(argv[i], "--quick") == 0) {
            set.syn_skins = 2;
            set.syn_captures = 4;
            set.photo_captures = 4;
        } else {
            fprintf(stderr, "usage: repeatability [--quick] [--pairs] [--json FILE] [--shared DIR]\n");
            return 1;
        }
    }
    if (!shared || !*shared)
        shared = "../shared";
    sd_ctx *ctx = sd_ctx_new();
    static rp_study study;
    if (!ctx)
        return 2;
    sd_status st = rp_study_run(ctx, &set, shared, &study);
    if (st != SD_OK) {
        fprintf(stderr, "repeatability: %s\n",
                *sd_ctx_message(ctx) ? sd_ctx_message(ctx) : sd_strerror(st));
        sd_ctx_free(ctx);
        return 2;
    }
    rp_print(&study, stdout);
    if (pairs)
        rp_print_pairs(&study, stdout);
    int rc = 0;
    if (json_path) {
        cJSON *j = rp_json(&study);
        char *text = cJSON_Print(j);
        size_t len = strlen(text);
        text[len] = '\0';
        FILE *f = strcmp(json_path, "-") == 0 ? stdout : fopen(json_path, "w");
        if (!f || fprintf(f, "%s\n", text) < 0 || (f != stdout && fclose(f) != 0)) {
            fprintf(stderr, "repeatability: %s: %s\n", json_path, strerror(errno));
            rc = 4;
        }
        free(text);
        cJSON_Delete(j);
    }
    sd_ctx_free(ctx);
    return rc;
}
#endif

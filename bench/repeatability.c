/*
 * repeatability: the noise floor of every metric, measured (issue 6).
 *
 * The same skin is photographed many times (independent sensor noise, a
 * random similarity transform up to +-5 deg, +-5 % scale and +-5 % shifts,
 * exposure within +-0.5 EV, JPEG quality 85-95, mild defocus), every
 * capture is written as a JPEG file and compared with the first through the
 * real pipeline (sd_pair_compare), and per metric the 95th percentile of
 * |change_pct| over the pairs that raise no quality warning is its noise
 * floor (the warned pairs are counted by code and reported); the pore
 * metrics get floor(N) = max(base, 100 c / sqrt(N)) for a BEFORE with N
 * pores. A focus sweep (only the defocus changed) derives the focus
 * warning's threshold. Two kinds of skin:
 *
 *   synthetic  the project's generator (docs/synth.md): every capture is a
 *              new rendering of the continuous skin through its camera;
 *   real       photos from ../shared/data/faces playing the skin (whole
 *              portraits, and close-ups of one face's skin): each
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
#define RP_MAX_PHOTOS 16
#define RP_MAX_SKINS 12
#define RP_MAX_PAIRS 256

/* ---- settings ---- */

typedef struct rp_settings {
    uint64_t seed;       /* skin seed and base of every capture's parameters */
    int syn_skins;       /* generated skins (seeds seed, seed+1, ...), default pores */
    int syn_sparse;      /* then skins with fewer pores (seeds seed+100, ...): */
    double sparse_fill[RP_MAX_SKINS]; /* their pore_fill (the default skin's is 0.8) */
    int syn_captures;    /* captures per skin (the first is the reference) */
    int syn_w, syn_h;    /* synthetic capture size */
    int photo_captures;  /* captures per photo */
    int photo_w, photo_h;/* real capture size */
    double noise;        /* sensor noise (generator units: linear std at 0.18) */
    double px_per_mm;    /* nominal scale, so the mm metrics are measured too */
    int n_photos;
    const char *photos[RP_MAX_PHOTOS]; /* relative to the shared folder */
    /* The capture-0 frame in each photo: centred at (cx, cy) (fractions of
     * the photo's width and height) at f photo pixels per capture pixel;
     * f = 0 frames the whole photo (centred, the largest f leaving 30 %
     * margin). w x h: the capture size (0: photo_w x photo_h). `label`
     * names the series in the output. */
    struct rp_frame {
        const char *label;
        double cx, cy, f;
        int w, h;
    } frame[RP_MAX_PHOTOS];
    double defocus_max;  /* the captures' defocus sigma is drawn in 0..this */
    int focus_sweep;     /* run the focus sweeps (synthetic skin 0, first close-up) */
} rp_settings;

/* The settings of `make repeatability`, the README and the test. */
static void rp_settings_default(rp_settings *s)
{
    memset(s, 0, sizeof *s);
    s->seed = 20260601;
    s->syn_skins = 4;
    /* skins with 4 to 60 pores in the ROI: the low end of the pore floors */
    s->syn_sparse = 4;
    s->sparse_fill[0] = 0.03;
    s->sparse_fill[1] = 0.08;
    s->sparse_fill[2] = 0.15;
    s->sparse_fill[3] = 0.3;
    s->syn_captures = 12;
    s->syn_w = 400;
    s->syn_h = 300;
    s->photo_captures = 16;
    s->photo_w = 300;
    s->photo_h = 240;
    s->noise = 0.004;
    s->px_per_mm = 20.0;
    s->defocus_max = 0.6;
    s->focus_sweep = 1;
    /* The three portraits framed whole (face, hair, clothes, background:
     * they raise clipping, shadows and lighting warnings on every pair, so
     * they are reported but set no floor), then close-ups of face skin:
     * every frame of the photos in data/faces whose face is large enough
     * (biden2, obama; obama2, giunchedi and astronaut's faces hold no
     * frame lit evenly enough) where the reference raises no lighting or
     * clipping warning (docs/repeatability.md, "Real photos"). */
    s->n_photos = 10;
    s->photos[0] = "data/faces/face_recognition/biden2.jpg";
    s->photos[1] = "data/faces/thumbor/giunchedi_2015_01.jpg";
    s->photos[2] = "data/faces/skimage/astronaut.png";
    s->photos[3] = "data/faces/face_recognition/biden2.jpg";
    s->photos[4] = "data/faces/face_recognition/biden2.jpg";
    s->frame[0] = (struct rp_frame){"biden2.jpg (portrait)", 0, 0, 0, 0, 0};
    s->frame[1] = (struct rp_frame){"giunchedi_2015_01.jpg (portrait)", 0, 0, 0, 0, 0};
    s->frame[2] = (struct rp_frame){"astronaut.png (portrait)", 0, 0, 0, 0, 0};
    s->frame[3] = (struct rp_frame){"biden2.jpg (forehead close-up)", 0.60, 0.27, 0.9, 0, 0};
    s->frame[4] = (struct rp_frame){"biden2.jpg (cheek close-up)", 0.64, 0.47, 0.8, 0, 0};
    s->frame[5] = (struct rp_frame){"biden2.jpg (left cheek)", 0.42, 0.47, 0.8, 0, 0};
    s->frame[6] = (struct rp_frame){"biden2.jpg (left temple)", 0.40, 0.30, 0.7, 200, 160};
    s->frame[7] = (struct rp_frame){"biden2.jpg (right temple)", 0.70, 0.35, 0.7, 200, 160};
    s->frame[8] = (struct rp_frame){"biden2.jpg (cheek, wider)", 0.64, 0.47, 0.6, 200, 160};
    s->frame[9] = (struct rp_frame){"obama.jpg (forehead)", 0.54, 0.10, 0.42, 240, 160};
    for (int k = 5; k < 9; k++)
        s->photos[k] = "data/faces/face_recognition/biden2.jpg";
    s->photos[9] = "data/faces/face_recognition/obama.jpg";
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
static rp_shot rp_shot_random(uint64_t seed, int series, int k, int w, int h, double defocus_max)
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
    s.defocus = rp_uniform(&r, 0.0, 1.0) * defocus_max;
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
static sd_status rp_source_photo(sd_ctx *ctx, rp_source *s, const char *path,
                                 const struct rp_frame *fr, int w, int h, double noise)
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
    if (fr && fr->f > 0) {
        s->f = fr->f;
        s->ox = fr->cx * (img->width - 1) - s->f * (w - 1) / 2;
        s->oy = fr->cy * (img->height - 1) - s->f * (h - 1) / 2;
    }
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
    double focus_ratio;          /* quality: focus measure after / before */
    int warnings;                /* quality warnings raised */
    unsigned warn_codes;         /* bit i: a warning with code rp_warn_code[i] */
    rp_shot shot;                /* the AFTER capture's camera */
    sd_metrics before, after;    /* own grid (sd_pair_compare) */
    sd_metrics naive_before, naive_after; /* AFTER warped into BEFORE's frame */
    const char *summary[3];      /* group verdicts of the own-grid pipeline */
} rp_pair;

/* The quality warnings' codes (the text before the colon; README,
 * "Quality verdict"). A code not in this list counts as the last. */
static const char *const rp_warn_code[] = {"alignment", "overlap", "exposure", "focus", "clipping",
                                           "shadows",   "lighting", "roi",     "pores", "other"};
#define RP_PORES_BIT (1u << 8)
#define RP_N_CODES (sizeof rp_warn_code / sizeof rp_warn_code[0])

static unsigned rp_codes_of(const sd_quality *q)
{
    unsigned mask = 0;
    for (int i = 0; i < q->n_warnings; i++) {
        size_t c = 0;
        while (c + 1 < RP_N_CODES) {
            size_t len = strlen(rp_warn_code[c]);
            if (strncmp(q->warnings[i], rp_warn_code[c], len) == 0 && q->warnings[i][len] == ':')
                break;
            c++;
        }
        mask |= 1u << c;
    }
    return mask;
}

static void rp_codes_text(unsigned mask, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < RP_N_CODES; c++)
        if (mask & (1u << c)) {
            int w = snprintf(buf + k, n - k, "%s%s", k ? "," : "", rp_warn_code[c]);
            if (w < 0 || (size_t)w >= n - k)
                break;
            k += (size_t)w;
        }
    if (!k)
        snprintf(buf, n, "-");
}

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
    out->warn_codes = rp_codes_of(&r.quality);
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

/* Focus sweep: the reference capture against the same camera with only
 * the defocus changed (new noise). */
#define RP_SWEEP_N 12
typedef struct rp_sweep {
    const char *name;
    int n;
    double defocus[RP_SWEEP_N], ratio[RP_SWEEP_N], ra[RP_SWEEP_N], rq[RP_SWEEP_N];
} rp_sweep;

/* A genuine skin change photographed with the reference's focus (camera
 * moved, exposure and JPEG changed): the focus measure must not read it as
 * defocus. */
#define RP_N_CHANGES 6
typedef struct rp_change_case {
    const char *what;
    int strong;            /* beyond what the focus threshold is held to */
    double focus_ratio, ra;
    unsigned warn_codes;
} rp_change_case;

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
    double plain_syn[RP_MAX_METRICS], plain_real[RP_MAX_METRICS]; /* the P95 itself */
    double naive_p95_syn[RP_MAX_METRICS], naive_mean_syn[RP_MAX_METRICS];
    double naive_p95_real[RP_MAX_METRICS], naive_mean_real[RP_MAX_METRICS];
    /* count-dependent floors (metrics with a BEFORE pore count N): base and
     * c of floor(N) = max(base, 100 c / sqrt(N)); 0 for the other metrics */
    double base[RP_MAX_METRICS], c[RP_MAX_METRICS];
    /* the pairs that raised a quality warning: left out of every figure
     * above, reported here (P95 and largest |change_pct|) */
    double warned_p95[RP_MAX_METRICS], warned_max[RP_MAX_METRICS];
    int n_syn_pairs, n_real_pairs, n_failed;
    int n_syn_clean, n_real_clean;          /* pairs without a quality warning */
    int warned_by_code[2][RP_N_CODES];      /* [synthetic, real][code]: pairs raising it */
    int n_bias;
    rp_bias bias[2 * (1 + RP_MAX_PHOTOS)];
    int n_sweep;
    rp_sweep sweep[2];                      /* [0] synthetic, [1] a real close-up */
    /* genuine skin changes with the focus unchanged (rp_run_changes) */
    int n_change;
    rp_change_case change[2 * RP_N_CHANGES];
    double focus_threshold;                 /* derived from the changes */
    double focus_warn_sigma[2];             /* defocus from which each sweep warns */
    /* pores: the minimum BEFORE count from which the floor model holds;
     * per octave of N [lo, 2 lo): clean pairs and P95 of |change| sqrt(N) */
    double min_pores;
    int n_oct;
    double oct_lo[16], oct_z[16][RP_MAX_METRICS];
    int oct_n[16];
    char syn_label[RP_MAX_SKINS][48];
} rp_study;

static int rp_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The finite |v| in ascending order into a new array (*t, freed by the
 * caller; at least one element allocated); returns how many. */
static int rp_sorted_abs(const double *v, int n, double **t)
{
    *t = malloc((size_t)(n > 0 ? n : 1) * sizeof **t);
    int m = 0;
    for (int i = 0; *t && i < n; i++)
        if (isfinite(v[i]))
            (*t)[m++] = fabs(v[i]);
    if (m > 0)
        qsort(*t, (size_t)m, sizeof **t, rp_cmp);
    return m;
}

/* Nearest-rank 95th percentile of |v| over the finite values (NAN if none). */
static double rp_p95(const double *v, int n)
{
    double *t;
    const int m = rp_sorted_abs(v, n, &t);
    const int k = (int)ceil(0.95 * m) - 1;
    const double r = m > 0 ? t[k < 0 ? 0 : k] : NAN;
    free(t);
    return r;
}

/* The floor's percentile: the distribution-free upper 95 % confidence bound
 * of the 95th percentile of |v| (finite values; NAN if none): the k-th
 * smallest, k the least rank with P(Binomial(m, 0.95) < k) >= 0.95, at
 * most m. A floor is a bound that fresh pairs must keep, not an estimate
 * that 5 % of the very pairs it was fitted on exceed; at the study's sample
 * sizes (60-100 pairs) it is the largest or second-largest value. */
static double rp_p95_bound(const double *v, int n)
{
    double *t;
    const int m = rp_sorted_abs(v, n, &t);
    double r = NAN;
    if (m > 0) {
        /* cdf(k - 1) = P(Bin(m, 0.95) <= k - 1), summed in log space */
        double cdf = 0;
        int k = 0;
        while (k < m) {
            double lp = lgamma(m + 1.0) - lgamma(k + 1.0) - lgamma(m - k + 1.0) +
                        k * log(0.95) + (m - k) * log(0.05);
            cdf += exp(lp);
            k++;
            if (cdf >= 0.95)
                break;
        }
        r = t[k - 1];
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
    rp_shot s0 = rp_shot_random(set->seed, series, 0, src->w, src->h, set->defocus_max);
    sd_status st = rp_capture_file(ctx, src, NULL, &s0, ref);
    out->name = src->name;
    out->pairs = out->failed = 0;
    for (int k = 1; k < n && st == SD_OK && out->pairs < RP_MAX_PAIRS; k++) {
        snprintf(cur, sizeof cur, "%s/s%d-%d.jpg", dir, series, k);
        rp_shot sk = rp_shot_random(set->seed, series, k, src->w, src->h, set->defocus_max);
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
    rp_shot s0 = rp_shot_random(set->seed, series, 0, src->w, src->h, set->defocus_max), s1 = s0;
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

/* Pore metrics get a floor that depends on BEFORE's pore count N. */
static int rp_count_metric(const sd_metric_desc *d)
{
    return strcmp(d->group, "pores") == 0;
}

/* The fit of a count-dependent floor over the pairs without a warning of
 * both sets pooled, N = BEFORE's pore count: c is the P95 of
 * |change_pct| / 100 * sqrt(N) (relative counting noise falls like
 * 1 / sqrt(N)) over the pairs with N >= min_pores, rounded up to 0.01;
 * base is the P95 of |change_pct| over the pairs with N >=
 * RP_BASE_MIN_COUNT (where counting noise is smallest, so what remains is
 * the part that does not scale with N: focus, JPEG and noise on the pore
 * areas), rounded up to 0.5 %.
 *
 * min_pores: at a few pores the model fails (one blob split, merged or lost
 * moves the area by tens of percent), so below some count pore changes
 * cannot be judged at all. It is the smallest of rp_min_pores_try whose
 * lowest octave [n, 2n) holds at least RP_OCTAVE_MIN clean pairs and whose
 * P95 of |change_pct| / 100 * sqrt(N) there, for every pore metric, is
 * within the c fitted over all pairs with N >= n: the floor holds at its
 * low end as well as on average. */
#define RP_BASE_MIN_COUNT 100
#define RP_OCTAVE_MIN 8
static const double rp_min_pores_try[] = {5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80};

/* Clean: no quality warning. The pores warning (too few pores to judge)
 * concerns only the pore metrics, which such pairs leave out anyway. */
static int rp_clean(const rp_pair *q) { return (q->warn_codes & ~RP_PORES_BIT) == 0; }

/* Whether a clean pair's reading of metric d counts: pore metrics only
 * from min_pores pores. */
static int rp_judged(const rp_pair *q, const sd_metric_desc *d, double min_pores)
{
    return !rp_count_metric(d) || q->before.pore_count >= min_pores;
}

/* z = |change_pct| / 100 * sqrt(N) of every clean pair (both sets) with
 * N >= lo (and < hi) for metric d; returns how many. */
static int rp_zs(const rp_study *s, const sd_metric_desc *d, double lo, double hi, double *z)
{
    int n = 0;
    for (int set = 0; set < 2; set++) {
        const rp_series *ser = set ? s->real : s->syn;
        int nser = set ? s->n_real : s->n_syn;
        for (int k = 0; k < nser; k++)
            for (int i = 0; i < ser[k].pairs; i++) {
                const rp_pair *q = &ser[k].pair[i];
                double cnt = q->before.pore_count, c = rp_change(&q->before, &q->after, d);
                if (rp_clean(q) && cnt >= lo && cnt < hi && cnt > 0 && isfinite(c))
                    z[n++] = fabs(c) / 100 * sqrt(cnt);
            }
    }
    return n;
}

static void rp_stats(rp_study *s)
{
    size_t nm = s->n_metrics;
    int cap = RP_MAX_PAIRS * (RP_MAX_SKINS + RP_MAX_PHOTOS);
    double *v = malloc((size_t)cap * sizeof *v), *w = malloc((size_t)cap * sizeof *w);
    double *x = malloc((size_t)cap * sizeof *x), *y = malloc((size_t)cap * sizeof *y);
    double *z = malloc((size_t)cap * sizeof *z);

    /* the minimum pore count, and the octave table */
    s->min_pores = NAN;
    for (size_t t = 0; t < sizeof rp_min_pores_try / sizeof rp_min_pores_try[0]; t++) {
        double n0 = rp_min_pores_try[t];
        int ok = 1;
        for (size_t m = 0; m < nm && ok; m++) {
            if (!rp_count_metric(&s->metrics[m]))
                continue;
            int nl = rp_zs(s, &s->metrics[m], n0, 2 * n0, z);
            int na = rp_zs(s, &s->metrics[m], n0, INFINITY, x);
            ok = nl >= RP_OCTAVE_MIN && rp_p95(z, nl) <= ceil(rp_p95(x, na) * 100 - 1e-9) / 100;
        }
        if (ok) {
            s->min_pores = n0;
            break;
        }
    }
    s->n_oct = 0;
    for (double lo = 2; lo < 512 && s->n_oct < 16; lo *= 2) {
        int k = s->n_oct++;
        s->oct_lo[k] = lo;
        for (size_t m = 0; m < nm; m++) {
            s->oct_z[k][m] = NAN;
            if (!rp_count_metric(&s->metrics[m]))
                continue;
            int n = rp_zs(s, &s->metrics[m], lo, 2 * lo, z);
            s->oct_n[k] = n;
            s->oct_z[k][m] = rp_p95(z, n);
        }
    }

    for (size_t m = 0; m < nm; m++) {
        const sd_metric_desc *d = &s->metrics[m];
        int ny = 0, nz = 0; /* y: N >= RP_BASE_MIN_COUNT, z: warned */
        for (int set = 0; set < 2; set++) {
            const rp_series *ser = set ? s->real : s->syn;
            int nser = set ? s->n_real : s->n_syn;
            int nv = 0, nc = 0;
            for (int k = 0; k < nser; k++)
                for (int i = 0; i < ser[k].pairs; i++) {
                    const rp_pair *q = &ser[k].pair[i];
                    double c = rp_change(&q->before, &q->after, d);
                    /* the bias: means over every pair, both ways */
                    v[nv] = c;
                    w[nv++] = rp_change(&q->naive_before, &q->naive_after, d);
                    if (!rp_clean(q)) {
                        z[nz++] = c;
                        continue;
                    }
                    if (!rp_judged(q, d, s->min_pores))
                        continue;
                    x[nc++] = c;
                    if (q->before.pore_count >= RP_BASE_MIN_COUNT)
                        y[ny++] = c;
                }
            double p95 = rp_p95_bound(x, nc);
            *(set ? &s->plain_real[m] : &s->plain_syn[m]) = rp_p95(x, nc);
            if (set) {
                s->p95_real[m] = p95;
                s->mean_real[m] = rp_mean(v, nv);
                s->naive_p95_real[m] = rp_p95(w, nv);
                s->naive_mean_real[m] = rp_mean(w, nv);
            } else {
                s->p95_syn[m] = p95;
                s->mean_syn[m] = rp_mean(v, nv);
                s->naive_p95_syn[m] = rp_p95(w, nv);
                s->naive_mean_syn[m] = rp_mean(w, nv);
            }
        }
        s->floor[m] = rp_floor_used(s->p95_syn[m], s->p95_real[m]);
        s->warned_p95[m] = rp_p95(z, nz);
        s->warned_max[m] = NAN;
        for (int i = 0; i < nz; i++)
            if (isfinite(z[i]) && !(fabs(z[i]) <= s->warned_max[m]))
                s->warned_max[m] = fabs(z[i]);
        s->base[m] = s->c[m] = 0;
        if (rp_count_metric(d)) {
            int nx = rp_zs(s, d, s->min_pores, INFINITY, x);
            double c = rp_p95_bound(x, nx);
            s->c[m] = isfinite(c) ? ceil(c * 100 - 1e-9) / 100 : 0;
            double b = rp_p95_bound(y, ny);
            s->base[m] = isfinite(b) ? ceil(b * 2 - 1e-9) / 2 : 0;
            s->floor[m] = s->base[m];
        }
    }
    for (int set = 0; set < 2; set++) {
        const rp_series *ser = set ? s->real : s->syn;
        int nser = set ? s->n_real : s->n_syn;
        for (int k = 0; k < nser; k++)
            for (int i = 0; i < ser[k].pairs; i++) {
                unsigned mask = ser[k].pair[i].warn_codes;
                *(set ? &s->n_real_clean : &s->n_syn_clean) += rp_clean(&ser[k].pair[i]);
                for (size_t c = 0; c < RP_N_CODES; c++)
                    s->warned_by_code[set][c] += (mask >> c) & 1u;
            }
    }
    free(v);
    free(w);
    free(x);
    free(y);
    free(z);
}

/* The focus sweep of one source: the reference shot (defocus 0.3 px)
 * against the same shot with defocus sigma d (new noise, nothing else
 * changed). */
static sd_status rp_run_sweep(sd_ctx *ctx, const rp_settings *set, const rp_source *src,
                              int series, const char *dir, rp_sweep *out)
{
    static const double sig[RP_SWEEP_N] = {0.0,  0.15, 0.3, 0.35, 0.4, 0.45,
                                           0.5,  0.55, 0.6, 0.7,  0.8, 1.1};
    sd_compare_params p;
    rp_compare_params(&p, set->px_per_mm);
    char ref[1024], cur[1024];
    snprintf(ref, sizeof ref, "%s/f%d-0.jpg", dir, series);
    snprintf(cur, sizeof cur, "%s/f%d-1.jpg", dir, series);
    rp_shot s0 = rp_shot_random(set->seed, series, 0, src->w, src->h, set->defocus_max);
    out->name = src->name;
    out->n = 0;
    sd_status st = rp_capture_file(ctx, src, NULL, &s0, ref);
    const sd_metric_desc *t;
    size_t nt;
    t = sd_metric_table(&nt);
    for (int i = 0; i < RP_SWEEP_N && st == SD_OK; i++) {
        rp_shot s1 = s0;
        s1.defocus = sig[i];
        s1.noise_seed = rp_mix(s0.noise_seed ^ (0x5555 + (uint64_t)i));
        rp_pair q;
        st = rp_capture_file(ctx, src, NULL, &s1, cur);
        if (st == SD_OK)
            st = rp_measure_pair(ctx, ref, cur, &p, &q);
        if (st != SD_OK || !q.ok)
            continue;
        int k = out->n++;
        out->defocus[k] = sig[i];
        out->ratio[k] = q.focus_ratio;
        for (size_t m = 0; m < nt; m++) {
            if (strcmp(t[m].group, "texture") != 0)
                continue;
            double c = rp_change(&q.before, &q.after, &t[m]);
            if (strcmp(t[m].name, "ra") == 0)
                out->ra[k] = c;
            else if (strcmp(t[m].name, "rq") == 0)
                out->rq[k] = c;
        }
    }
    unlink(ref);
    unlink(cur);
    return st;
}

/* Genuine skin changes, each photographed once with the reference's focus
 * (camera moved, exposure and JPEG changed as in the series): the focus
 * measure's reading of them (it should read no defocus). */
static sd_status rp_run_changes(sd_ctx *ctx, const rp_settings *set, const rp_source *src,
                                int series, const char *dir, rp_study *out)
{
    sd_synth_session ses[RP_N_CHANGES];
    static const char *const what[RP_N_CHANGES] = {
        "none (camera moved)", "texture x0.85", "texture x0.7", "30 % of pores gone",
        "texture x0.7, 50 % of pores gone", "texture x0.85, pores 30 % gone and x0.85"};
    /* texture x0.7 lowers the fine band's share about as much as a 0.2 px
     * defocus: the threshold is held to the moderate changes only, so
     * that a strong smoothing may warn (its numbers are still reported) */
    static const int strong[RP_N_CHANGES] = {0, 0, 1, 0, 1, 0};
    for (int i = 0; i < RP_N_CHANGES; i++)
        sd_synth_session_defaults(&ses[i]);
    ses[1].texture_scale = 0.85;
    ses[2].texture_scale = 0.7;
    ses[3].pores_gone = 0.3;
    ses[4].texture_scale = 0.7;
    ses[4].pores_gone = 0.5;
    ses[5].texture_scale = 0.85; /* the bundled sample pair's changes (samples/README.md) */
    ses[5].pores_gone = 0.3;
    ses[5].pore_radius_scale = 0.85;
    ses[5].redness_scale = 0.6;
    sd_compare_params p;
    rp_compare_params(&p, set->px_per_mm);
    char ref[1024], cur[1024];
    snprintf(ref, sizeof ref, "%s/g%d-0.jpg", dir, series);
    snprintf(cur, sizeof cur, "%s/g%d-1.jpg", dir, series);
    rp_shot s0 = rp_shot_random(set->seed, series, 0, src->w, src->h, set->defocus_max);
    sd_status st = rp_capture_file(ctx, src, NULL, &s0, ref);
    const sd_metric_desc *ra = &out->metrics[0];
    for (int i = 0; i < RP_N_CHANGES && st == SD_OK; i++) {
        rp_shot sk = rp_shot_random(set->seed ^ 0x6767, series, 1 + i, src->w, src->h,
                                    set->defocus_max);
        sk.defocus = s0.defocus;
        rp_pair q;
        st = rp_capture_file(ctx, src, &ses[i], &sk, cur);
        if (st == SD_OK)
            st = rp_measure_pair(ctx, ref, cur, &p, &q);
        if (st != SD_OK || !q.ok)
            continue;
        rp_change_case *c = &out->change[out->n_change++];
        c->what = what[i];
        c->strong = strong[i];
        c->focus_ratio = q.focus_ratio;
        c->ra = rp_change(&q.before, &q.after, ra);
        c->warn_codes = q.warn_codes;
    }
    unlink(ref);
    unlink(cur);
    return st;
}

/* The focus warning's threshold: the tightest that no genuine change of
 * rp_run_changes crosses, either way round (a change read backwards, AFTER
 * as BEFORE, gives the inverse ratio, so the lower threshold t serves both
 * sides: warn below t or above 1/t): t = min over the changes of
 * min(r, 1/r), rounded down to 0.01, less a margin of 0.01. NAN without
 * changes. */
#define RP_FOCUS_MARGIN 0.01

static double rp_focus_threshold(const rp_study *s)
{
    double lo = INFINITY;
    for (int i = 0; i < s->n_change; i++) {
        double r = s->change[i].focus_ratio;
        if (isfinite(r) && r > 0 && !s->change[i].strong)
            lo = fmin(lo, fmin(r, 1 / r));
    }
    if (!isfinite(lo))
        return NAN;
    return floor(lo * 100 + 1e-9) / 100 - RP_FOCUS_MARGIN;
}

/* The defocus (sigma, px) from which a sweep reads a focus ratio below t:
 * linear between the two sweep points around it; NAN if it never does. */
static double rp_focus_warn_sigma(const rp_sweep *sw, double t)
{
    for (int i = 1; i < sw->n; i++)
        if (sw->defocus[i] > 0.3 && sw->ratio[i] < t) {
            double r0 = sw->ratio[i - 1], r1 = sw->ratio[i];
            double d0 = sw->defocus[i - 1], d1 = sw->defocus[i];
            return r0 > r1 ? d0 + (d1 - d0) * (r0 - t) / (r0 - r1) : d1;
        }
    return NAN;
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
        if (st == SD_OK && j == 0 && set->focus_sweep)
            st = rp_run_sweep(ctx, set, &src, 10, dir, &out->sweep[out->n_sweep++]);
        if (st == SD_OK && j < 2 && set->focus_sweep)
            st = rp_run_changes(ctx, set, &src, 10 + j, dir, out);
        rp_source_release(&src);
    }
    for (int j = 0; j < set->syn_sparse && out->n_syn < RP_MAX_SKINS && st == SD_OK; j++) {
        st = rp_source_synthetic(&src, set->seed + 100 + (uint64_t)j, set->syn_w, set->syn_h,
                                 set->noise);
        src.skin.pore_fill = set->sparse_fill[j];
        snprintf(out->syn_label[j], sizeof out->syn_label[j], "synthetic (pore fill %.2f)",
                 set->sparse_fill[j]);
        src.name = out->syn_label[j];
        if (st == SD_OK)
            st = rp_run_series(ctx, set, &src, 30 + j, set->syn_captures, dir,
                               &out->syn[out->n_syn++]);
        rp_source_release(&src);
    }

    for (int k = 0; k < set->n_photos && st == SD_OK; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", shared, set->photos[k]);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "repeatability: %s: absent, left out\n", path);
            continue;
        }
        const struct rp_frame *fr = &set->frame[k];
        st = rp_source_photo(ctx, &src, path, fr, fr->w ? fr->w : set->photo_w,
                             fr->h ? fr->h : set->photo_h, set->noise);
        if (st != SD_OK)
            break;
        src.name = fr->label ? fr->label : set->photos[k];
        rp_series *ser = &out->real[out->n_real++];
        st = rp_run_series(ctx, set, &src, 1 + k, set->photo_captures, dir, ser);
        /* the resampling bias on the whole portraits (docs' table) */
        for (int b = 0; b < 2 && st == SD_OK && !(fr->f > 0); b++)
            st = rp_run_bias(ctx, set, &src, 1 + k, b ? -4.0 : 4.0, dir,
                             &out->bias[out->n_bias++]);
        /* the focus sweep on the first close-up */
        if (st == SD_OK && fr->f > 0 && out->n_sweep == 1 && set->focus_sweep)
            st = rp_run_sweep(ctx, set, &src, 1 + k, dir, &out->sweep[out->n_sweep++]);
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
    out->focus_threshold = rp_focus_threshold(out);
    for (int k = 0; k < out->n_sweep && k < 2; k++)
        out->focus_warn_sigma[k] = rp_focus_warn_sigma(&out->sweep[k], out->focus_threshold);
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
    RP_PUT("| metric | synthetic P95 bound | real P95 bound | floor used (base) | c |\n"
           "|---|---|---|---|---|\n");
    for (size_t m = 0; m < s->n_metrics; m++) {
        char name[64];
        rp_metric_name(&s->metrics[m], name, sizeof name);
        RP_PUT("| `%s` | %.2f %% |", name, s->p95_syn[m]);
        if (isfinite(s->p95_real[m]))
            RP_PUT(" %.2f %% |", s->p95_real[m]);
        else
            RP_PUT(" — |");
        RP_PUT(" %.1f %% |", s->floor[m]);
        if (s->c[m] > 0)
            RP_PUT(" %.2f |\n", s->c[m]);
        else
            RP_PUT(" — |\n");
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
    fprintf(f, "pairs compared: %d synthetic, %d real; alignment failed: %d\n", s->n_syn_pairs,
            s->n_real_pairs, s->n_failed);
    fprintf(f, "pairs without a quality warning: %d synthetic, %d real (the floors' sample)\n",
            s->n_syn_clean, s->n_real_clean);
    for (int g = 0; g < 2; g++) {
        fprintf(f, "  %s pairs warned, by code:", g ? "real" : "synthetic");
        int any = 0;
        for (size_t c = 0; c < RP_N_CODES; c++)
            if (s->warned_by_code[g][c]) {
                fprintf(f, " %s %d", rp_warn_code[c], s->warned_by_code[g][c]);
                any = 1;
            }
        fprintf(f, "%s\n", any ? "" : " none");
    }
    for (int k = 0; k < s->n_real; k++) {
        int clean = 0;
        for (int i = 0; i < s->real[k].pairs; i++)
            clean += rp_clean(&s->real[k].pair[i]);
        fprintf(f, "  %-36s %2d of %2d pairs without a warning\n", s->real[k].name, clean,
                s->real[k].pairs);
    }
    if (s->n_sweep) {
        fprintf(f, "\nfocus sweep (reference defocus 0.3 px; only the defocus changed): sigma "
                   "-> focus ratio, texture ra %%, rq %%\n");
        for (int k = 0; k < s->n_sweep; k++) {
            const rp_sweep *w = &s->sweep[k];
            fprintf(f, "  %s:\n", w->name);
            for (int i = 0; i < w->n; i++)
                fprintf(f, "    sigma %.2f  ratio %.3f  ra %+6.2f  rq %+6.2f\n", w->defocus[i],
                        w->ratio[i], w->ra[i], w->rq[i]);
        }
    }
    if (s->n_change) {
        fprintf(f, "\ngenuine skin changes with the reference's focus (camera moved): focus "
                   "ratio, texture ra %%, warnings\n");
        for (int i = 0; i < s->n_change; i++) {
            char codes[128];
            rp_codes_text(s->change[i].warn_codes, codes, sizeof codes);
            fprintf(f, "  %-44s ratio %.3f  ra %+6.2f  %s\n", s->change[i].what,
                    s->change[i].focus_ratio, s->change[i].ra, codes);
        }
        fprintf(f, "focus warning threshold (tightest no genuine change crosses either way, less "
                   "%.2f): ratio < %.2f or > 1/%.2f = %.3f\n",
                RP_FOCUS_MARGIN, s->focus_threshold, s->focus_threshold, 1 / s->focus_threshold);
        for (int k = 0; k < s->n_sweep && k < 2; k++)
            fprintf(f, "  %s: warns from defocus sigma %.2f px (reference 0.30)\n",
                    s->sweep[k].name, s->focus_warn_sigma[k]);
    }
    fprintf(f, "\npores, per octave of BEFORE's count N (clean pairs, both sets): P95 of "
               "|change_pct|/100*sqrt(N)\n");
    for (int k = 0; k < s->n_oct; k++) {
        fprintf(f, "  N %3.0f-%3.0f: %3d pairs", s->oct_lo[k], 2 * s->oct_lo[k] - 1, s->oct_n[k]);
        for (size_t m = 0; m < s->n_metrics; m++)
            if (rp_count_metric(&s->metrics[m]) && !s->metrics[m].need_mm)
                fprintf(f, "  %s %.2f", s->metrics[m].name, s->oct_z[k][m]);
        fprintf(f, "\n");
    }
    fprintf(f, "minimum pore count (floor model holds in its lowest octave): %.0f\n",
            s->min_pores);
    fprintf(f, "\nnoise floors: upper 95 %% confidence bound of the 95th percentile of |change_pct| over the null pairs without a "
               "quality warning (own grid);\npores: floor(N) = max(base, 100 c / sqrt(N)), N = "
               "BEFORE's pore count\n");
    char table[8192];
    rp_table_markdown(s, table, sizeof table);
    fputs(table, f);
    fprintf(f, "\nthe 95th percentiles themselves (synthetic / real), for comparison:\n");
    for (size_t m = 0; m < s->n_metrics; m++) {
        char name[64];
        rp_metric_name(&s->metrics[m], name, sizeof name);
        fprintf(f, "  %-28s %7.2f %% %7.2f %%\n", name, s->plain_syn[m], s->plain_real[m]);
    }
    fprintf(f, "\npairs with a quality warning (left out of the floors): |change_pct| P95 and "
               "largest\n");
    for (size_t m = 0; m < s->n_metrics; m++) {
        char name[64];
        rp_metric_name(&s->metrics[m], name, sizeof name);
        fprintf(f, "  %-28s %8.2f %% %8.2f %%\n", name, s->warned_p95[m], s->warned_max[m]);
    }
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
            char codes[128];
            rp_codes_text(q->warn_codes, codes, sizeof codes);
            fprintf(f, "%-40s %3d %+5.2f %.3f %+5.2f %.2f %.2f %d %.2f %-16s |", all[k]->name,
                    i + 1, q->rot, q->scale, q->ev, q->ncc, q->shot.defocus, q->shot.quality,
                    q->focus_ratio, codes);
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
    cJSON_AddNumberToObject(o, "synthetic_pairs_without_warning", s->n_syn_clean);
    cJSON_AddNumberToObject(o, "real_pairs_without_warning", s->n_real_clean);
    cJSON *wc = cJSON_AddObjectToObject(o, "warned_pairs_by_code");
    for (int g = 0; g < 2; g++) {
        cJSON *e = cJSON_AddObjectToObject(wc, g ? "real" : "synthetic");
        for (size_t c = 0; c < RP_N_CODES; c++)
            cJSON_AddNumberToObject(e, rp_warn_code[c], s->warned_by_code[g][c]);
    }
    cJSON_AddItemToObject(o, "min_pores", isfinite(s->min_pores) ? cJSON_CreateNumber(s->min_pores)
                                                                 : cJSON_CreateNull());
    cJSON *gc = cJSON_AddArrayToObject(o, "focus_genuine_changes");
    for (int i = 0; i < s->n_change; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "change", s->change[i].what);
        cJSON_AddNumberToObject(e, "focus_ratio", s->change[i].focus_ratio);
        cJSON_AddNumberToObject(e, "ra_change_pct", s->change[i].ra);
        cJSON_AddItemToArray(gc, e);
    }
    cJSON_AddItemToObject(o, "focus_threshold", isfinite(s->focus_threshold)
                                                    ? cJSON_CreateNumber(s->focus_threshold)
                                                    : cJSON_CreateNull());
    cJSON *sw = cJSON_AddArrayToObject(o, "focus_sweep");
    for (int k = 0; k < s->n_sweep; k++) {
        const rp_sweep *w = &s->sweep[k];
        for (int i = 0; i < w->n; i++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "source", w->name);
            cJSON_AddNumberToObject(e, "defocus", w->defocus[i]);
            cJSON_AddNumberToObject(e, "focus_ratio", w->ratio[i]);
            cJSON_AddNumberToObject(e, "ra_change_pct", w->ra[i]);
            cJSON_AddNumberToObject(e, "rq_change_pct", w->rq[i]);
            cJSON_AddItemToArray(sw, e);
        }
    }
    cJSON *fl = cJSON_AddObjectToObject(o, "floors");
    for (size_t m = 0; m < s->n_metrics; m++) {
        char name[64];
        rp_metric_name(&s->metrics[m], name, sizeof name);
        cJSON *e = cJSON_AddObjectToObject(fl, name);
        double v[] = {s->p95_syn[m], s->p95_real[m], s->floor[m], s->c[m], s->mean_syn[m],
                      s->mean_real[m], s->naive_p95_syn[m], s->naive_mean_syn[m],
                      s->naive_p95_real[m], s->naive_mean_real[m], s->warned_p95[m],
                      s->warned_max[m]};
        const char *k[] = {"synthetic_p95_pct", "real_p95_pct", "floor_pct", "count_c",
                           "synthetic_mean_pct", "real_mean_pct", "naive_synthetic_p95_pct",
                           "naive_synthetic_mean_pct", "naive_real_p95_pct",
                           "naive_real_mean_pct", "warned_p95_pct", "warned_max_pct"};
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

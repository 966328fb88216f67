#include <math.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "metrics/measure_internal.h"
#include "metrics/metrics_internal.h"
#include "skindelta/compare.h"
#include "skindelta/io.h"

void sd_compare_params_default(sd_compare_params *p)
{
    memset(p, 0, sizeof *p);
    p->max_pixels = SD_DEFAULT_MAX_PIXELS;
    p->align = SD_ALIGN_SIMILARITY;
    p->normalize = SD_NORM_EXPOSURE;
    sd_metric_params_default(&p->metric);
    p->threads = 1;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void info_from(sd_image_info *info, const char *path, const sd_image *img)
{
    info->path = path;
    info->width = img->width;
    info->height = img->height;
    info->orientation = img->orientation;
    info->bits = img->bits;
    memcpy(info->format, img->format, sizeof info->format);
    memcpy(info->sha256, img->sha256, sizeof info->sha256);
}

static sd_status load(sd_ctx *ctx, const char *path, const sd_compare_params *p, sd_image **out)
{
    sd_load_opts lo = {.max_pixels = p->max_pixels, .scale_denom = 1, .compact = 1};
    return sd_image_load(ctx, path, &lo, out);
}

/* The head of a job that run_pair runs for BEFORE and for AFTER. */
typedef struct pair_job {
    sd_ctx *ctx;
    sd_status status;
} pair_job;

/* Run fn on BEFORE's job here and on AFTER's on a second thread with a
 * context of its own when ctx allows threads (else after BEFORE's, when
 * that succeeded). The pair's status: BEFORE's error wins; AFTER's message
 * is copied into ctx. */
static sd_status run_pair(sd_ctx *ctx, void *(*fn)(void *), pair_job *jb, pair_job *ja)
{
    sd_ctx *own = sd_ctx_threads(ctx) > 1 ? sd_ctx_new() : NULL;
    jb->ctx = ctx;
    ja->ctx = own ? own : ctx;
    pthread_t th;
    const int threaded = own && pthread_create(&th, NULL, fn, ja) == 0;
    fn(jb);
    if (threaded)
        pthread_join(th, NULL);
    else if (jb->status == SD_OK)
        fn(ja);
    sd_status s = jb->status != SD_OK ? jb->status : ja->status;
    if (jb->status == SD_OK && ja->status != SD_OK && ja->ctx != ctx)
        sd_fail(ctx, ja->status, "%s", sd_ctx_message(ja->ctx));
    sd_ctx_free(own);
    return s;
}

/* One image of a pair: the full decode, and for a JPEG larger than the
 * aligner's base level, the box-mean copy the decoder makes on the way
 * (sd_image_load_mem_box at SD_ALIGN_BASE_SIDE: d x d boxes, d the
 * aligner's base factor for this image's own size), which the aligner
 * takes in place of a decode scaled in the DCT domain (the boxes cost
 * about a sixth of that decode; docs/align.md, "Speed"); and what the
 * ROI and the exposure gain would otherwise read the whole image for, made
 * by the loader's row_fn while each row is in cache: the row marks, and
 * (exposure method) the level of block luminances. Either is NULL when it
 * could not be allocated: the stage then makes it. */
typedef struct load_job {
    pair_job pj; /* first: run_pair's view */
    const char *path;
    const sd_compare_params *p;
    sd_image *img, *coarse;
    uint8_t *marks;
    sd_norm_level *level;
} load_job;

static void load_row(void *arg, const sd_image *img, int y)
{
    load_job *j = arg;
    if (y == 0) {
        free(j->marks);
        sd_norm_level_free(j->level);
        j->marks = sd_alloc_array((size_t)img->height, 1);
        j->level = j->p->normalize == SD_NORM_EXPOSURE
                       ? sd_norm_level_new(img->width, img->height)
                       : NULL;
    }
    /* both from the row's own samples: a compact row's bytes as they are */
    if (j->marks)
        j->marks[y] = (uint8_t)sd_image_row_marks(img, y);
    sd_norm_level_add_row(j->level, img, y);
}

static void load_job_release(load_job *j)
{
    sd_image_free(j->img);
    sd_image_free(j->coarse);
    free(j->marks);
    sd_norm_level_free(j->level);
    memset(j, 0, sizeof *j);
}

static void *load_job_run(void *arg)
{
    load_job *j = arg;
    uint8_t *data = NULL;
    size_t len = 0;
    sd_status s = sd_file_read(j->pj.ctx, j->path, 0, &data, &len);
    sd_load_opts lo = {.max_pixels = j->p->max_pixels, .scale_denom = 1, .row_fn = load_row,
                       .row_arg = j, .compact = 1};
    if (s == SD_OK)
        s = sd_image_load_mem_box(j->pj.ctx, data, len, j->path, &lo, SD_ALIGN_BASE_SIDE,
                                  &j->img, &j->coarse);
    j->pj.status = s;
    free(data);
    return NULL;
}

/* Decode both images, on two threads when the context allows. BEFORE's
 * error wins when both fail, whatever the thread count. */
static sd_status load_pair(sd_ctx *ctx, const char *bp, const char *ap,
                           const sd_compare_params *p, load_job *jb, load_job *ja)
{
    *jb = (load_job){.pj = {NULL, SD_OK}, .path = bp, .p = p};
    *ja = (load_job){.pj = {NULL, SD_OK}, .path = ap, .p = p};
    const sd_status s = run_pair(ctx, load_job_run, &jb->pj, &ja->pj);
    if (s != SD_OK) {
        load_job_release(jb);
        load_job_release(ja);
    }
    return s;
}

/* The user's mask: an image of BEFORE's size, white (>= 50 % grey) = measured. */
sd_status sd_mask_load(sd_ctx *ctx, const char *path, uint64_t max_pixels, int w, int h,
                       uint8_t **out)
{
    *out = NULL;
    sd_image *m = NULL;
    sd_load_opts lo = {.max_pixels = max_pixels, .scale_denom = 1};
    sd_status s = sd_image_load(ctx, path, &lo, &m);
    if (s != SD_OK)
        return s;
    if (m->width != w || m->height != h) {
        s = sd_fail(ctx, SD_ERR_ARG, "%s: mask is %dx%d but the image is %dx%d", path, m->width,
                    m->height, w, h);
        sd_image_free(m);
        return s;
    }
    uint8_t *mask = sd_alloc_array((size_t)m->width, (size_t)m->height);
    if (!mask) {
        sd_image_free(m);
        return sd_fail(ctx, SD_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int y = 0; y < m->height; y++) {
        const uint16_t *row = m->px + (size_t)y * m->stride;
        for (int x = 0; x < m->width; x++)
            mask[(size_t)y * m->width + x] = row[3 * x + 1] >= 32768;
    }
    sd_image_free(m);
    *out = mask;
    return SD_OK;
}

static sd_status load_mask(sd_ctx *ctx, const sd_compare_params *p, const sd_image *before,
                           uint8_t **out)
{
    *out = NULL;
    if (!p->mask_path)
        return SD_OK;
    return sd_mask_load(ctx, p->mask_path, p->max_pixels, before->width, before->height, out);
}

/* One image's pores on a thread of its own. */
typedef struct finish_job {
    pair_job pj; /* first: run_pair's view */
    sd_measure *m;
    const sd_thresholds *thr;
    sd_metrics *out;
} finish_job;

static void *finish_run(void *arg)
{
    finish_job *j = arg;
    j->pj.status = sd_measure_finish(j->pj.ctx, j->m, j->thr, j->out);
    return NULL;
}

/* The metric stage of a pair: BEFORE's per-pixel pass on all the threads,
 * its thresholds, then AFTER's pass with those thresholds fixed (it counts
 * the red pixels and marks the pore candidates on the way, so it keeps no
 * D plane and needs no second colour pass), then the pores of both images
 * at the same time. The numbers do not depend on the thread count. */
static sd_status measure_pair(sd_ctx *ctx, const sd_image *before, const sd_image *after,
                              const sd_roi *roi, double scale, const sd_norm_result *norm,
                              const sd_metric_params *p, sd_thresholds *thr, sd_metrics *mb,
                              sd_metrics *ma)
{
    sd_measure *b = NULL, *a = NULL;
    thr->set = 0;
    sd_status s = sd_measure_begin(ctx, before, roi->before, roi->rows_before, 1.0,
                                   norm->before_gains, p, NULL, &b);
    if (s == SD_OK)
        s = sd_measure_thresholds(ctx, b, thr);
    if (s == SD_OK)
        s = sd_measure_begin(ctx, after, roi->after, roi->rows_after, scale, norm->gains, p, thr,
                             &a);
    if (s != SD_OK)
        goto done;
    finish_job jb = {{NULL, SD_OK}, b, thr, mb}, ja = {{NULL, SD_OK}, a, thr, ma};
    s = run_pair(ctx, finish_run, &jb.pj, &ja.pj);
done:
    sd_measure_free(b);
    sd_measure_free(a);
    return s;
}

/* bm, am: the images' row marks, or NULL (see sd_roi_opts). */
static sd_status build_roi(sd_ctx *ctx, const sd_compare_params *p, const char *before_path,
                           const sd_image *before, const sd_image *after, const sd_xform *xf,
                           const uint8_t *bm, const uint8_t *am, sd_roi *roi)
{
    uint8_t *mask = NULL;
    sd_status s = load_mask(ctx, p, before, &mask);
    if (s != SD_OK)
        return s;
    sd_roi_opts ro = {
        .rect = p->has_roi ? &p->roi : NULL,
        .mask = mask,
        .mask_w = before->width,
        .mask_h = before->height,
        .border = sd_metric_border(&p->metric),
        .marks_before = bm,
        .marks_after = am,
    };
    s = sd_roi_build(ctx, before, after, xf, &ro, roi);
    sd_free(mask);
    if (s != SD_OK && s != SD_ERR_NOMEM) {
        /* name the image the ROI could not be made for */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", sd_ctx_message(ctx));
        s = sd_fail(ctx, s, "%s: %s", before_path, msg);
    }
    return s;
}

sd_status sd_pair_compare(sd_ctx *ctx, const char *before_path, const char *after_path,
                          const sd_compare_params *p, sd_compare_result *out)
{
    memset(out, 0, sizeof *out);
    double t0 = now_ms();
    /* jb and ja own the images and what the loader made on the way */
    load_job jb, ja;
    sd_roi roi = {0};
    sd_status s = load_pair(ctx, before_path, after_path, p, &jb, &ja);
    if (s != SD_OK)
        return s;
    const sd_image *before = jb.img, *after = ja.img;
    info_from(&out->before, before_path, before);
    info_from(&out->after, after_path, after);
    double t1 = now_ms();
    out->timing.decode_ms = t1 - t0;

    sd_align_opts ao = {.model = p->align};
    /* AFTER's scaled decode was chosen from its own size: it serves only
     * when BEFORE's size allows that scale too */
    const int dmax = sd_align_scale_denom(before->width, before->height);
    if (ja.coarse && ja.coarse->width < (after->width + dmax - 1) / dmax) {
        sd_image_free(ja.coarse);
        ja.coarse = NULL;
    }
    sd_align_input ib = {jb.coarse ? jb.coarse : before, before->width, before->height};
    sd_align_input ia = {ja.coarse ? ja.coarse : after, after->width, after->height};
    s = sd_pair_align_inputs(ctx, &ib, &ia, &ao, &out->alignment);
    sd_image_free(jb.coarse);
    sd_image_free(ja.coarse);
    jb.coarse = ja.coarse = NULL;
    if (s != SD_OK)
        goto done;
    if (out->alignment.status == SD_ALIGN_FAILED && !p->allow_unaligned) {
        s = sd_fail(ctx, SD_ERR_ALIGN,
                    "%s: cannot be aligned to %s (ncc %.2f, overlap %.0f %%): not comparable",
                    after_path, before_path, out->alignment.ncc,
                    100 * out->alignment.overlap_fraction);
        goto done;
    }
    double t2 = now_ms();
    out->timing.align_ms = t2 - t1;

    const sd_xform *xf = &out->alignment.xf;
    s = build_roi(ctx, p, before_path, before, after, xf, jb.marks, ja.marks, &roi);
    free(jb.marks);
    free(ja.marks);
    jb.marks = ja.marks = NULL;
    if (s != SD_OK)
        goto done;
    out->roi_source = roi.source;
    out->roi_pixels = roi.pixels;
    out->roi_bbox = roi.bbox;
    double t2r = now_ms();
    out->timing.roi_ms = t2r - t2;
    s = sd_pair_normalize_levels(ctx, before, after, xf, &roi, p->normalize,
                                 p->has_ref ? &p->ref : NULL, jb.level, ja.level,
                                 &out->normalization);
    sd_norm_level_free(jb.level);
    sd_norm_level_free(ja.level);
    jb.level = ja.level = NULL;
    if (s != SD_OK)
        goto done;
    double t3 = now_ms();
    out->timing.normalize_ms = t3 - t2r;

    /* Each image on its own grid; thresholds come from BEFORE. */
    s = measure_pair(ctx, before, after, &roi, out->alignment.scale, &out->normalization,
                     &p->metric, &out->thresholds, &out->m_before, &out->m_after);
    if (s != SD_OK)
        goto done;
    double t4 = now_ms();
    out->timing.metrics_ms = t4 - t3;

    sd_quality_pair(&out->alignment, &out->normalization, out->roi_pixels, &out->m_before,
                    &out->m_after, &out->quality);
    out->timing.total_ms = now_ms() - t0;
done:
    sd_roi_release(&roi);
    load_job_release(&jb);
    load_job_release(&ja);
    return s;
}

sd_status sd_image_analyze(sd_ctx *ctx, const char *path, const sd_compare_params *p,
                           sd_analyze_result *out)
{
    memset(out, 0, sizeof *out);
    double t0 = now_ms();
    sd_image *img = NULL;
    sd_roi roi = {0};
    sd_status s = load(ctx, path, p, &img);
    if (s != SD_OK)
        goto done;
    info_from(&out->image, path, img);
    double t1 = now_ms();
    out->timing.decode_ms = t1 - t0;
    s = build_roi(ctx, p, path, img, NULL, NULL, NULL, NULL, &roi);
    if (s != SD_OK)
        goto done;
    out->roi_source = roi.source;
    out->roi_pixels = roi.pixels;
    out->roi_bbox = roi.bbox;
    double t1r = now_ms();
    out->timing.roi_ms = t1r - t1;
    out->thresholds.set = 0;
    s = sd_image_measure(ctx, img, roi.before, 1.0, NULL, &p->metric, &out->thresholds,
                         &out->metrics);
    if (s != SD_OK)
        goto done;
    double t2 = now_ms();
    out->timing.metrics_ms = t2 - t1r;
    sd_quality_image(out->roi_pixels, &out->metrics, &out->quality);
    out->timing.total_ms = now_ms() - t0;
done:
    sd_roi_release(&roi);
    sd_image_free(img);
    return s;
}

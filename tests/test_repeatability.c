/* Trust (issue 6): the repeatability study and the noise floors.
 *
 * - The study (bench/repeatability.c, included here so there is one copy of
 *   it) is rerun at the settings of `make repeatability`; the markdown table
 *   it prints must appear verbatim in README.md and docs/repeatability.md,
 *   and its "floor used" column must equal the report's metric table.
 * - No resampling bias: a null pair with the camera turned +4 and -4 deg
 *   reads unchanged through the pipeline (own grid), while AFTER resampled
 *   bilinearly into BEFORE's frame reads smoother texture and smaller pore
 *   area (the fake improvement a regression to resampling would bring back).
 * - The focus measure: no genuine skin change of the study (texture
 *   x0.7..0.85, pores fewer, the sample pair's changes) warns, defocus of
 *   sigma 0.8 px (reference 0.3) warns, and the sample pair reads no focus
 *   warning.
 * - Fresh null pairs (new skins, new shots; generated and real photos
 *   re-captured): every reading of every pair without a quality warning is
 *   within its floor and every group reads "unchanged"; pore readings below
 *   SD_Q_MIN_PORES are not judged (and the pores warning says so). Pairs
 *   with a warning are printed, not held.
 * - Real changes of about twice the floor read improved / worsened in the
 *   right direction.
 *
 * Under AddressSanitizer the study runs at --quick size (the numbers of the
 * README need the full run, which `make test` does at -O2).
 */
#define REPEATABILITY_NO_MAIN
#include "../bench/repeatability.c"

#include "sd_test.h"

#if defined(__SANITIZE_ADDRESS__)
#define RP_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RP_SANITIZED 1
#endif
#endif
#ifndef RP_SANITIZED
#define RP_SANITIZED 0
#endif

static sd_ctx *ctx;
static rp_study study;
static int study_done;

static int setup(void **state)
{
    (void)state;
    ctx = sd_ctx_new();
    return ctx ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    sd_ctx_free(ctx);
    return 0;
}

static const char *shared_dir(void)
{
    return sd_test_shared();
}

/* The real photos are required (skip, or fail in CI, when absent). */
static void require_photos(const rp_settings *set)
{
    char buf[1024];
    for (int k = 0; k < set->n_photos; k++)
        SD_REQUIRE_DATA(buf, set->photos[k]);
}

static const rp_study *get_study(void)
{
    if (!study_done) {
        rp_settings set;
        rp_settings_default(&set);
        require_photos(&set);
        if (RP_SANITIZED) {
            set.syn_skins = 2;
            set.syn_sparse = 1;
            set.syn_captures = 3;
            set.photo_captures = 3;
            set.focus_sweep = 0;
        }
        if (rp_study_run(ctx, &set, shared_dir(), &study) != SD_OK)
            fail_msg("study: %s", sd_ctx_message(ctx));
        rp_print(&study, stdout);
        study_done = 1;
    }
    return &study;
}

static char *read_text(const char *path)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    if (sd_file_read(ctx, path, 0, &buf, &len) != SD_OK)
        fail_msg("%s", sd_ctx_message(ctx));
    char *t = realloc(buf, len + 1);
    assert_non_null(t);
    t[len] = '\0';
    return t;
}

static const sd_metric_desc *table_floor(size_t m)
{
    size_t n;
    const sd_metric_desc *t = sd_metric_table(&n);
    assert_true(m < n);
    return &t[m];
}

/* ---- the study, the README and the report's table ---- */

static void test_study_matches_readme(void **state)
{
    (void)state;
    const rp_study *s = get_study();
    rp_settings def;
    rp_settings_default(&def);
    assert_int_equal(s->n_failed, 0);
    assert_int_equal(s->n_real, def.n_photos);
    assert_int_equal(s->n_syn, s->set.syn_skins + s->set.syn_sparse);
    assert_int_equal(s->n_syn_pairs, s->n_syn * (s->set.syn_captures - 1));
    assert_int_equal(s->n_real_pairs, def.n_photos * (s->set.photo_captures - 1));
    assert_true(s->n_syn_clean > 0);
    for (size_t m = 0; m < s->n_metrics; m++) {
        if (rp_count_metric(&s->metrics[m])) {
            /* count-dependent: c fitted over the clean pairs (the quick
             * size may hold too few to find the minimum count) */
            assert_true(s->base[m] == s->floor[m]);
            assert_true(s->c[m] > 0 || (RP_SANITIZED && !isfinite(s->min_pores)));
            continue;
        }
        /* the rule: larger of the two (over the pairs without a warning),
         * rounded up to 0.5 % */
        double hi = isfinite(s->p95_real[m]) ? fmax(s->p95_syn[m], s->p95_real[m]) : s->p95_syn[m];
        assert_true(s->floor[m] >= hi && s->floor[m] < hi + 0.5);
    }
    if (RP_SANITIZED) {
        print_message("sanitizer build: study at --quick size; README comparison is done by "
                      "`make test`\n");
        return;
    }
    assert_true(s->set.syn_skins * s->set.syn_captures >= 40);
    /* the focus warning's threshold is the one the study derives */
    if (fabs(s->focus_threshold - SD_Q_MIN_FOCUS_RATIO) > 1e-9)
        fail_msg("SD_Q_MIN_FOCUS_RATIO is %.2f, the study derives %.2f", SD_Q_MIN_FOCUS_RATIO,
                 s->focus_threshold);
    /* the minimum pore count is the one the study derives */
    if (s->min_pores != SD_Q_MIN_PORES)
        fail_msg("SD_Q_MIN_PORES is %d, the study derives %.0f", SD_Q_MIN_PORES, s->min_pores);
    assert_true(s->n_real_clean > 0);
    char table[8192];
    size_t len = rp_table_markdown(s, table, sizeof table);
    assert_true(len < sizeof table);
    static const char *const docs[] = {"README.md", "docs/repeatability.md"};
    for (size_t i = 0; i < 2; i++) {
        char *text = read_text(docs[i]);
        if (!strstr(text, table))
            fail_msg("%s does not hold the study's table:\n%s", docs[i], table);
        free(text);
    }
    /* the JSON form carries the same floors */
    cJSON *j = rp_json(s);
    cJSON *fl = cJSON_GetObjectItem(j, "floors");
    assert_non_null(fl);
    for (size_t m = 0; m < s->n_metrics; m++) {
        char name[64];
        rp_metric_name(&s->metrics[m], name, sizeof name);
        cJSON *e = cJSON_GetObjectItem(cJSON_GetObjectItem(fl, name), "floor_pct");
        assert_true(cJSON_IsNumber(e) && e->valuedouble == s->floor[m]);
    }
    cJSON_Delete(j);
    for (size_t m = 0; m < s->n_metrics; m++) {
        const sd_metric_desc *d = table_floor(m);
        assert_ptr_equal(d, &s->metrics[m]);
        if (fabs(d->noise_floor_pct - s->floor[m]) > 1e-9 || fabs(d->floor_count_c - s->c[m]) > 1e-9)
            fail_msg("report floor of %s.%s is %.2f (c %.2f), the study measures %.2f (c %.2f)",
                     d->group, d->name, d->noise_floor_pct, d->floor_count_c, s->floor[m], s->c[m]);
    }
}

/* ---- the focus measure: defocus warns, genuine smoothing does not ---- */

static int has_focus_warning(const sd_quality *q)
{
    for (int i = 0; i < q->n_warnings; i++)
        if (strncmp(q->warnings[i], "focus:", 6) == 0)
            return 1;
    return 0;
}

static void test_focus_measure(void **state)
{
    (void)state;
    const rp_study *s = get_study();
    if (RP_SANITIZED) {
        print_message("sanitizer build: no focus sweep; done by `make test`\n");
        return;
    }
    /* Moderate genuine changes photographed in focus (texture x0.85, pores
     * fewer, the sample pair's changes) raise no focus warning; a strong
     * smoothing (texture x0.7) may. */
    assert_true(s->n_change >= 10);
    for (int i = 0; i < s->n_change; i++) {
        const rp_change_case *c = &s->change[i];
        print_message("  genuine %-44s focus ratio %.3f, ra %+.1f %%%s\n", c->what, c->focus_ratio,
                      c->ra, c->strong ? " (strong: may warn)" : "");
        if (c->strong)
            continue;
        assert_false(c->warn_codes & (1u << 3)); /* "focus" */
        assert_true(c->focus_ratio >= SD_Q_MIN_FOCUS_RATIO &&
                    c->focus_ratio <= 1 / SD_Q_MIN_FOCUS_RATIO);
    }
    /* Real defocus: from sigma 0.8 px (reference 0.3) every sweep warns,
     * and at the reference's own focus none does. */
    assert_int_equal(s->n_sweep, 2);
    for (int k = 0; k < s->n_sweep; k++) {
        const rp_sweep *w = &s->sweep[k];
        int big = 0;
        for (int i = 0; i < w->n; i++) {
            if (w->defocus[i] >= 0.8) {
                assert_true(w->ratio[i] < SD_Q_MIN_FOCUS_RATIO);
                big++;
            }
            if (fabs(w->defocus[i] - 0.3) < 1e-9)
                assert_true(fabs(w->ratio[i] - 1) < 0.02);
        }
        assert_true(big >= 2);
        assert_true(s->focus_warn_sigma[k] > 0.3 && s->focus_warn_sigma[k] < 0.8);
    }
    /* The bundled sample pair (texture x0.85, 30 % of pores gone, the rest
     * smaller, same focus) reads no focus warning; its Laplacian sharpness
     * falls by a quarter, which the previous measure took for defocus. */
    sd_compare_params p;
    sd_compare_params_default(&p);
    sd_compare_result r;
    if (sd_pair_compare(ctx, "samples/before.jpg", "samples/after.jpg", &p, &r) != SD_OK)
        fail_msg("samples: %s", sd_ctx_message(ctx));
    print_message("  samples: focus ratio %.3f, Laplacian sharpness ratio %.3f\n",
                  r.quality.focus_ratio, r.quality.sharpness_after / r.quality.sharpness_before);
    assert_false(has_focus_warning(&r.quality));
    assert_true(r.quality.sharpness_after / r.quality.sharpness_before < 0.8);
}

/* ---- resampling bias ---- */

static double change_of(const rp_pair *q, size_t m, int naive)
{
    return naive ? rp_change(&q->naive_before, &q->naive_after, table_floor(m))
                 : rp_change(&q->before, &q->after, table_floor(m));
}

static size_t metric_index(const char *group, const char *name)
{
    size_t n;
    const sd_metric_desc *t = sd_metric_table(&n);
    for (size_t m = 0; m < n; m++)
        if (strcmp(t[m].group, group) == 0 && strcmp(t[m].name, name) == 0)
            return m;
    fail_msg("no metric %s.%s", group, name);
    return 0;
}

static void test_no_resampling_bias(void **state)
{
    (void)state;
    const rp_study *s = get_study();
    size_t ra = metric_index("texture", "ra"), rq = metric_index("texture", "rq");
    size_t af = metric_index("pores", "area_fraction");
    int checked = 0;
    for (int b = 0; b < s->n_bias; b++) {
        const rp_bias *q = &s->bias[b];
        double own_ra = change_of(&q->pair, ra, 0), naive_ra = change_of(&q->pair, ra, 1);
        double own_rq = change_of(&q->pair, rq, 0), naive_rq = change_of(&q->pair, rq, 1);
        double own_af = change_of(&q->pair, af, 0), naive_af = change_of(&q->pair, af, 1);
        print_message("%-42s %+3.0f deg: ra %+.2f -> %+.2f %%, rq %+.2f -> %+.2f %%, pore area "
                      "%+.2f -> %+.2f %% (own grid -> resampled)\n",
                      q->name, q->rot, own_ra, naive_ra, own_rq, naive_rq, own_af, naive_af);
        assert_true(q->pair.ok);
        /* Texture on every source: the own grid reads the same skin within
         * 2 %, resampling reads it at least 8 % smoother (DESIGN: ~10 %). */
        assert_true(fabs(own_ra) < 2.0 && fabs(own_rq) < 2.0);
        assert_true(naive_ra < -8.0 && naive_rq < -8.0);
        if (strcmp(q->name, "synthetic") != 0)
            continue;
        /* The generated skin (hundreds of pores): every metric unchanged
         * through the pipeline; resampling shrinks the pore area. */
        for (size_t m = 0; m < s->n_metrics; m++) {
            const sd_metric_desc *d = table_floor(m);
            const char *v = sd_metric_verdict(d, &q->pair.before, &q->pair.after);
            if (strcmp(v, "unchanged") != 0)
                fail_msg("%s.%s reads %s on the null pair", d->group, d->name, v);
        }
        for (int g = 0; g < 3; g++)
            assert_string_equal(q->pair.summary[g], "unchanged");
        assert_true(fabs(own_af) < 3.0);
        assert_true(naive_af < -3.0);
        checked++;
    }
    assert_int_equal(checked, 2);
    /* Over the whole study the mean texture change of the naive way is
     * biased low by several times the own grid's. */
    assert_true(s->naive_mean_syn[ra] < s->mean_syn[ra] - 5.0);
    assert_true(s->naive_mean_real[ra] < s->mean_real[ra] - 5.0);
}

/* ---- fresh null pairs ---- */

/* Readings of fresh null pairs: how many, how many beyond the floor, how
 * many not judged (pore metrics below SD_Q_MIN_PORES pores), and the
 * largest |change| / floor. */
typedef struct null_tally {
    int pairs, pairs_syn, readings, beyond, unjudged; /* pairs without a quality warning */
    int beyond_summary;                               /* their group verdicts not "unchanged" */
    int warned_pairs, warned_beyond;                  /* pairs with one: reported, not held */
    double worst;
} null_tally;

static void check_null_series(const rp_series *ser, int synthetic, null_tally *t)
{
    size_t nm;
    const sd_metric_desc *tab = sd_metric_table(&nm);
    for (int i = 0; i < ser->pairs; i++) {
        const rp_pair *q = &ser->pair[i];
        print_message("  null %-40s %2d rot %+5.2f scale %.3f ev %+5.2f q%d defocus %.2f:",
                      ser->name, i + 1, q->rot, q->scale, q->ev, q->shot.quality,
                      q->shot.defocus);
        for (size_t m = 0; m < nm; m++)
            print_message(" %+.1f", rp_change(&q->before, &q->after, &tab[m]));
        char codes[128];
        rp_codes_text(q->warn_codes, codes, sizeof codes);
        print_message("  %s %s %s; %.0f pores; warnings %s\n", q->summary[0], q->summary[1],
                      q->summary[2], q->before.pore_count, codes);
        /* the pores warning is raised exactly when pore changes are not judged */
        assert_int_equal(!!(q->warn_codes & RP_PORES_BIT), !sd_pores_judged(&q->before));
        int clean = rp_clean(q);
        for (size_t m = 0; m < nm; m++) {
            double c = rp_change(&q->before, &q->after, &tab[m]);
            double fl = sd_metric_floor(&tab[m], &q->before);
            const char *v = sd_metric_verdict(&tab[m], &q->before, &q->after);
            if (isnan(fl)) {
                /* not judged: too few pores; always "unchanged" */
                assert_string_equal(v, "unchanged");
                t->unjudged += clean;
                continue;
            }
            /* 0 -> 0 has no change_pct: within when it reads "unchanged" */
            int within = strcmp(v, "unchanged") == 0 && (isnan(c) || fabs(c) <= fl);
            if (!clean) {
                t->warned_beyond += !within;
                continue;
            }
            t->readings++;
            if (!within) {
                print_message("    beyond the floor: %s.%s %+.2f %% (floor %.1f %%)\n",
                              tab[m].group, tab[m].name, c, fl);
                t->beyond++;
            }
            if (isfinite(c))
                t->worst = fmax(t->worst, fabs(c) / fl);
        }
        for (int g = 0; g < 3 && clean; g++)
            if (strcmp(q->summary[g], "unchanged") != 0) {
                print_message("    summary %d reads %s\n", g, q->summary[g]);
                t->beyond_summary++;
            }
        t->pairs += clean;
        t->pairs_syn += clean && synthetic;
        t->warned_pairs += !clean;
    }
}

static void test_null_pairs_unchanged(void **state)
{
    (void)state;
    rp_settings set;
    rp_settings_default(&set);
    require_photos(&set);
    set.seed = 777001; /* new skins and new shots: not the study's pairs */
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/skindelta-null-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    static rp_series ser;
    null_tally t = {0};
    rp_source src;
    /* generated: 3 new default skins and one with few pores (about 30) */
    for (int j = 0; j < (RP_SANITIZED ? 1 : 4); j++) {
        assert_int_equal(
            rp_source_synthetic(&src, set.seed + (uint64_t)j, set.syn_w, set.syn_h, set.noise),
            SD_OK);
        if (j == 3)
            src.skin.pore_fill = 0.15;
        assert_int_equal(rp_run_series(ctx, &set, &src, 10 + j, RP_SANITIZED ? 3 : 6, dir, &ser),
                         SD_OK);
        assert_int_equal(ser.failed, 0);
        check_null_series(&ser, 1, &t);
        rp_source_release(&src);
    }
    /* real: every frame of the study, re-captured with new shots */
    for (int k = 0; k < set.n_photos; k++) {
        if (RP_SANITIZED && k >= 5)
            break;
        char path[1024];
        const struct rp_frame *fr = &set.frame[k];
        snprintf(path, sizeof path, "%s/%s", shared_dir(), set.photos[k]);
        assert_int_equal(rp_source_photo(ctx, &src, path, fr, fr->w ? fr->w : set.photo_w,
                                         fr->h ? fr->h : set.photo_h, set.noise),
                         SD_OK);
        src.name = fr->label;
        assert_int_equal(rp_run_series(ctx, &set, &src, 1 + k, RP_SANITIZED ? 2 : 4, dir, &ser),
                         SD_OK);
        assert_int_equal(ser.failed, 0);
        check_null_series(&ser, 0, &t);
        rp_source_release(&src);
    }
    rmdir(dir);
    print_message("%d fresh null pairs without a quality warning (%d generated, %d real), %d "
                  "readings: %d beyond the floor, largest |change| %.2f x the floor; %d pore "
                  "readings not judged (too few pores); %d pairs with a warning (%d readings "
                  "beyond, not held)\n",
                  t.pairs, t.pairs_syn, t.pairs - t.pairs_syn, t.readings, t.beyond, t.worst,
                  t.unjudged, t.warned_pairs, t.warned_beyond);
    if (!RP_SANITIZED) {
        assert_true(t.pairs >= 20);
        assert_true(t.pairs_syn >= 10 && t.pairs - t.pairs_syn >= 10);
    }
    /* Every reading of every pair without a warning is within its floor,
     * and every group reads "unchanged". */
    assert_int_equal(t.beyond, 0);
    assert_int_equal(t.beyond_summary, 0);
}

/* ---- real changes of about twice the floor ---- */

typedef struct change_case {
    const char *what;
    sd_synth_session ses;
    const char *group, *metric; /* the metric whose change is ~2 x its floor */
    const char *expect;
} change_case;

static void test_real_changes(void **state)
{
    (void)state;
    rp_settings set;
    rp_settings_default(&set);
    set.seed = 777002;
    change_case cases[6];
    for (int i = 0; i < 6; i++)
        sd_synth_session_defaults(&cases[i].ses);
    cases[0].what = "texture x0.6";
    cases[0].ses.texture_scale = 0.6;
    cases[0].group = "texture", cases[0].metric = "ra", cases[0].expect = "improved";
    cases[1].what = "texture x1.45";
    cases[1].ses.texture_scale = 1.45;
    cases[1].group = "texture", cases[1].metric = "ra", cases[1].expect = "worsened";
    cases[2].what = "redness x0.7";
    cases[2].ses.redness_scale = 0.7;
    cases[2].group = "redness", cases[2].metric = "mean_a", cases[2].expect = "improved";
    cases[3].what = "redness x1.25";
    cases[3].ses.redness_scale = 1.25;
    cases[3].group = "redness", cases[3].metric = "mean_a", cases[3].expect = "worsened";
    cases[4].what = "pores 13 % gone";
    cases[4].ses.pores_gone = 0.13;
    cases[4].group = "pores", cases[4].metric = "count", cases[4].expect = "improved";
    cases[5].what = "pores deeper x1.08";
    cases[5].ses.pore_depth_scale = 1.08;
    cases[5].group = "pores", cases[5].metric = "area_fraction", cases[5].expect = "worsened";

    const char *tmp = getenv("TMPDIR");
    char dir[512], ref[600], cur[600];
    snprintf(dir, sizeof dir, "%s/skindelta-change-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(ref, sizeof ref, "%s/ref.jpg", dir);
    snprintf(cur, sizeof cur, "%s/cur.jpg", dir);
    rp_source src;
    assert_int_equal(rp_source_synthetic(&src, set.seed, set.syn_w, set.syn_h, set.noise), SD_OK);
    rp_shot s0 = rp_shot_random(set.seed, 0, 0, src.w, src.h, set.defocus_max);
    assert_int_equal(rp_capture_file(ctx, &src, NULL, &s0, ref), SD_OK);
    sd_compare_params p;
    rp_compare_params(&p, set.px_per_mm);
    static const char *const groups[3] = {"texture", "redness", "pores"};
    int n_cases = RP_SANITIZED ? 2 : 6;
    for (int i = 0; i < n_cases; i++) {
        const change_case *c = &cases[i];
        /* camera moved, exposure and JPEG changed; focus as the reference,
         * so the measured change is the skin's, not the lens's */
        rp_shot sk = rp_shot_random(set.seed, 0, 1 + i, src.w, src.h, set.defocus_max);
        sk.defocus = s0.defocus;
        assert_int_equal(rp_capture_file(ctx, &src, &c->ses, &sk, cur), SD_OK);
        rp_pair q;
        if (rp_measure_pair(ctx, ref, cur, &p, &q) != SD_OK)
            fail_msg("%s: %s", c->what, sd_ctx_message(ctx));
        assert_true(q.ok);
        size_t m = metric_index(c->group, c->metric);
        const sd_metric_desc *d = table_floor(m);
        double ch = rp_change(&q.before, &q.after, d);
        double fl = sd_metric_floor(d, &q.before);
        print_message("  %-16s rot %+5.2f scale %.3f ev %+5.2f: %s.%s %+.1f %% (%.1f x its floor "
                      "%.1f %%); summary %s %s %s\n",
                      c->what, q.rot, q.scale, q.ev, c->group, c->metric, ch,
                      fabs(ch) / fl, fl, q.summary[0],
                      q.summary[1], q.summary[2]);
        /* about twice the floor, in the expected direction */
        assert_true(fabs(ch) >= 1.5 * fl && fabs(ch) <= 3.0 * fl);
        assert_true(strcmp(c->expect, "improved") == 0 ? ch < 0 : ch > 0);
        for (int g = 0; g < 3; g++)
            if (strcmp(groups[g], c->group) == 0)
                assert_string_equal(q.summary[g], c->expect);
    }
    unlink(cur);
    unlink(ref);
    rmdir(dir);
    rp_source_release(&src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_study_matches_readme),
        cmocka_unit_test(test_focus_measure),
        cmocka_unit_test(test_no_resampling_bias),
        cmocka_unit_test(test_null_pairs_unchanged),
        cmocka_unit_test(test_real_changes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

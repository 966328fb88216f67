/*
 * skindelta-synth: render a synthetic BEFORE/AFTER pair of skin photos and
 * its ground truth. A thin program: parse argv, call the library, write.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "skindelta/core.h"
#include "skindelta/io.h"
#include "skindelta/synth.h"

#define EXIT_USAGE 1
#define EXIT_OUTPUT 4

static const char usage_text[] =
    "usage: skindelta-synth [options] [--out-before FILE] [--out-after FILE] [--truth FILE]\n"
    "\n"
    "Render a synthetic skin photo (BEFORE), a later session of the same skin\n"
    "photographed again (AFTER), and the ground truth as JSON. Same options, same\n"
    "bytes. Files ending in .png are 16-bit PNG, anything else JPEG. '-' = stdout.\n"
    "\n"
    "Pair:\n"
    "  --seed N             skin and noise seed, 0..2^52 (default 1)\n"
    "  --size WxH           size of both images (default 800x600)\n"
    "  --rotate DEG         AFTER rotated by DEG about the image centre (default 0)\n"
    "  --scale S            AFTER magnified by S about the image centre (default 1)\n"
    "  --shift DX,DY        AFTER shifted by DX,DY pixels (default 0,0)\n"
    "  --ev EV              AFTER exposure change in stops (default 0)\n"
    "  --noise S            sensor noise std at linear 0.18, both images (default 0.004)\n"
    "  --defocus S          AFTER Gaussian blur sigma in px (default 0)\n"
    "  --defocus-before S   BEFORE Gaussian blur sigma in px (default 0)\n"
    "  --supersample N      samples per pixel per axis, 1..4 (default 2)\n"
    "  --quality Q          JPEG quality 1..100 (default 92)\n"
    "  --png-bits 8|16      PNG depth (default 16)\n"
    "Session changes (AFTER vs BEFORE):\n"
    "  --pores-fewer F      fraction of pores that disappear, 0..1 (default 0)\n"
    "  --pore-size S        sigma of the remaining pores x S (default 1)\n"
    "  --pore-depth S       depth of the remaining pores x S (default 1)\n"
    "  --texture S          fine texture amplitude x S (default 1)\n"
    "  --redness S          red patch a* amounts x S (default 1)\n"
    "Skin (defaults in docs/synth.md):\n"
    "  --tone L,A,B         base tone in CIELAB\n"
    "  --shading STD        low-frequency shading, std of ln Y\n"
    "  --blotch L,A,B       blotchiness: std of ln Y, a*, b*\n"
    "  --fine-texture STD   fine texture, std of ln Y\n"
    "  --texture-scale PX   lattice spacing of the fine texture\n"
    "  --pore-spacing PX    pore grid spacing\n"
    "  --pore-fill F        share of grid cells that hold a pore\n"
    "  --pore-sigma PX      pore Gaussian sigma\n"
    "  --pore-drop D        pore depth: drop of ln Y at the centre\n"
    "  --red-patches N      number of red patches\n"
    "  --red-sigma PX       red patch Gaussian sigma\n"
    "  --red-amount A       red patch a* increase at the centre\n"
    "  --no-shading, --no-blotch, --no-texture, --no-pores, --no-redness\n"
    "Other:\n"
    "  -j N                 threads (default 1; the output does not depend on it)\n"
    "  --help, --version\n";

static void die_usage(const char *what, const char *reason)
{
    fprintf(stderr, "skindelta-synth: %s: %s (try --help)\n", what, reason);
    exit(EXIT_USAGE);
}

static double parse_num(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        die_usage(opt, "not a number");
    return v;
}

/* "a,b" or "a,b,c" into v[n]. */
static void parse_list(const char *opt, const char *s, double *v, int n)
{
    const char *p = s;
    for (int k = 0; k < n; k++) {
        char *end;
        errno = 0;
        v[k] = strtod(p, &end);
        if (end == p || errno || !isfinite(v[k]) || (k < n - 1 ? *end != ',' : *end != '\0'))
            die_usage(opt, "expected comma-separated numbers");
        p = end + 1;
    }
}

static int parse_int(const char *opt, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        die_usage(opt, "not an integer in range");
    return (int)v;
}

static int ends_with_png(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcasecmp(path + n - 4, ".png") == 0;
}

static int fail(sd_ctx *ctx, sd_status st)
{
    fprintf(stderr, "skindelta-synth: %s\n", sd_ctx_message(ctx));
    return st == SD_ERR_WRITE ? EXIT_OUTPUT : st == SD_ERR_NOMEM ? 2 : EXIT_USAGE;
}

int main(int argc, char **argv)
{
    uint64_t seed = 1;
    int w = 800, h = 600, quality = 92, png_bits = 16, threads = 1, ss = 2;
    double rot = 0, scale = 1, shift[2] = {0, 0}, ev = 0, noise = 0.004, defocus = 0,
           defocus_b = 0;
    const char *out_b = NULL, *out_a = NULL, *out_t = NULL;
    sd_synth_session ses;
    sd_synth_session_defaults(&ses);
    /* skin options are applied after the defaults, which depend on the size */
    struct {
        int tone, shading, blotch, ftex, tscale, pspacing, pfill, psigma, pdrop, rn, rs, ra;
        double tone_v[3], shading_v, blotch_v[3], ftex_v, tscale_v, pspacing_v, pfill_v,
            psigma_v, pdrop_v, rs_v, ra_v;
        int rn_v;
        unsigned off;
    } sk;
    memset(&sk, 0, sizeof sk);

    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *arg = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDARG()                                                                          \
    do {                                                                                   \
        if (!arg)                                                                          \
            die_usage(o, "missing value");                                             \
        i++;                                                                               \
    } while (0)
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(o, "--version")) {
            printf("skindelta-synth %s\n", SD_VERSION);
            return 0;
        } else if (!strcmp(o, "--seed")) {
            NEEDARG();
            char *end;
            errno = 0;
            unsigned long long v = strtoull(arg, &end, 10);
            if (end == arg || *end || errno || arg[0] == '-' || v > (1ull << 52))
                die_usage(o, "expected an integer 0..2^52");
            seed = v;
        } else if (!strcmp(o, "--size")) {
            NEEDARG();
            if (sscanf(arg, "%dx%d", &w, &h) != 2 || w < 1 || h < 1 || w > SD_MAX_DIM ||
                h > SD_MAX_DIM)
                die_usage(o, "expected WxH");
        } else if (!strcmp(o, "--rotate")) {
            NEEDARG();
            rot = parse_num(o, arg);
        } else if (!strcmp(o, "--scale")) {
            NEEDARG();
            scale = parse_num(o, arg);
        } else if (!strcmp(o, "--shift")) {
            NEEDARG();
            parse_list(o, arg, shift, 2);
        } else if (!strcmp(o, "--ev")) {
            NEEDARG();
            ev = parse_num(o, arg);
        } else if (!strcmp(o, "--noise")) {
            NEEDARG();
            noise = parse_num(o, arg);
        } else if (!strcmp(o, "--defocus")) {
            NEEDARG();
            defocus = parse_num(o, arg);
        } else if (!strcmp(o, "--defocus-before")) {
            NEEDARG();
            defocus_b = parse_num(o, arg);
        } else if (!strcmp(o, "--supersample")) {
            NEEDARG();
            ss = parse_int(o, arg, 1, 4);
        } else if (!strcmp(o, "--quality")) {
            NEEDARG();
            quality = parse_int(o, arg, 1, 100);
        } else if (!strcmp(o, "--png-bits")) {
            NEEDARG();
            png_bits = parse_int(o, arg, 8, 16);
            if (png_bits != 8 && png_bits != 16)
                die_usage(o, "expected 8 or 16");
        } else if (!strcmp(o, "--pores-fewer")) {
            NEEDARG();
            ses.pores_gone = parse_num(o, arg);
        } else if (!strcmp(o, "--pore-size")) {
            NEEDARG();
            ses.pore_radius_scale = parse_num(o, arg);
        } else if (!strcmp(o, "--pore-depth")) {
            NEEDARG();
            ses.pore_depth_scale = parse_num(o, arg);
        } else if (!strcmp(o, "--texture")) {
            NEEDARG();
            ses.texture_scale = parse_num(o, arg);
        } else if (!strcmp(o, "--redness")) {
            NEEDARG();
            ses.redness_scale = parse_num(o, arg);
        } else if (!strcmp(o, "--tone")) {
            NEEDARG();
            parse_list(o, arg, sk.tone_v, 3);
            sk.tone = 1;
        } else if (!strcmp(o, "--shading")) {
            NEEDARG();
            sk.shading_v = parse_num(o, arg);
            sk.shading = 1;
        } else if (!strcmp(o, "--blotch")) {
            NEEDARG();
            parse_list(o, arg, sk.blotch_v, 3);
            sk.blotch = 1;
        } else if (!strcmp(o, "--fine-texture")) {
            NEEDARG();
            sk.ftex_v = parse_num(o, arg);
            sk.ftex = 1;
        } else if (!strcmp(o, "--texture-scale")) {
            NEEDARG();
            sk.tscale_v = parse_num(o, arg);
            sk.tscale = 1;
        } else if (!strcmp(o, "--pore-spacing")) {
            NEEDARG();
            sk.pspacing_v = parse_num(o, arg);
            sk.pspacing = 1;
        } else if (!strcmp(o, "--pore-fill")) {
            NEEDARG();
            sk.pfill_v = parse_num(o, arg);
            sk.pfill = 1;
        } else if (!strcmp(o, "--pore-sigma")) {
            NEEDARG();
            sk.psigma_v = parse_num(o, arg);
            sk.psigma = 1;
        } else if (!strcmp(o, "--pore-drop")) {
            NEEDARG();
            sk.pdrop_v = parse_num(o, arg);
            sk.pdrop = 1;
        } else if (!strcmp(o, "--red-patches")) {
            NEEDARG();
            sk.rn_v = parse_int(o, arg, 0, 1000);
            sk.rn = 1;
        } else if (!strcmp(o, "--red-sigma")) {
            NEEDARG();
            sk.rs_v = parse_num(o, arg);
            sk.rs = 1;
        } else if (!strcmp(o, "--red-amount")) {
            NEEDARG();
            sk.ra_v = parse_num(o, arg);
            sk.ra = 1;
        } else if (!strcmp(o, "--no-shading")) {
            sk.off |= SD_SYNTH_SHADING;
        } else if (!strcmp(o, "--no-blotch")) {
            sk.off |= SD_SYNTH_BLOTCH;
        } else if (!strcmp(o, "--no-texture")) {
            sk.off |= SD_SYNTH_TEXTURE;
        } else if (!strcmp(o, "--no-pores")) {
            sk.off |= SD_SYNTH_PORES;
        } else if (!strcmp(o, "--no-redness")) {
            sk.off |= SD_SYNTH_REDNESS;
        } else if (!strcmp(o, "--out-before")) {
            NEEDARG();
            out_b = arg;
        } else if (!strcmp(o, "--out-after")) {
            NEEDARG();
            out_a = arg;
        } else if (!strcmp(o, "--truth")) {
            NEEDARG();
            out_t = arg;
        } else if (!strcmp(o, "-j")) {
            NEEDARG();
            threads = parse_int(o, arg, 1, 64);
        } else {
            die_usage(o, "unknown option");
        }
#undef NEEDARG
    }
    if (!out_b && !out_a && !out_t)
        die_usage("nothing to do", "give --out-before, --out-after and/or --truth");

    sd_synth_skin skin;
    sd_synth_skin_defaults(&skin, seed, w, h);
    skin.components &= ~sk.off;
    if (sk.tone)
        memcpy(skin.base_lab, sk.tone_v, sizeof skin.base_lab);
    if (sk.shading)
        skin.shading = sk.shading_v;
    if (sk.blotch) {
        skin.blotch_l = sk.blotch_v[0];
        skin.blotch_a = sk.blotch_v[1];
        skin.blotch_b = sk.blotch_v[2];
    }
    if (sk.ftex)
        skin.texture = sk.ftex_v;
    if (sk.tscale)
        skin.texture_scale = sk.tscale_v;
    if (sk.pspacing)
        skin.pore_spacing = sk.pspacing_v;
    if (sk.pfill)
        skin.pore_fill = sk.pfill_v;
    if (sk.psigma)
        skin.pore_radius = sk.psigma_v;
    if (sk.pdrop)
        skin.pore_depth = sk.pdrop_v;
    if (sk.rn)
        skin.red_count = sk.rn_v;
    if (sk.rs)
        skin.red_radius = sk.rs_v;
    if (sk.ra)
        skin.red_amount = sk.ra_v;

    sd_synth_capture before, after;
    sd_synth_capture_defaults(&before, w, h);
    before.noise = noise;
    before.noise_seed = 2 * seed + 1;
    before.defocus = defocus_b;
    before.supersample = ss;
    after = before;
    after.noise_seed = 2 * seed + 2;
    after.defocus = defocus;
    after.ev = ev;
    after.xf = sd_synth_similarity(rot, scale, shift[0], shift[1], (w - 1) / 2.0, (h - 1) / 2.0);

    sd_ctx *ctx = sd_ctx_new();
    if (!ctx) {
        fprintf(stderr, "skindelta-synth: out of memory\n");
        return 2;
    }
    sd_ctx_set_threads(ctx, threads);
    int rc = 0;
    sd_synth_pair pair;
    sd_status st = sd_synth_pair_render(ctx, &skin, &ses, &before, &after, &pair);
    if (st != SD_OK) {
        rc = fail(ctx, st);
        sd_ctx_free(ctx);
        return rc;
    }
    const char *paths[2] = {out_b, out_a};
    const sd_image *imgs[2] = {pair.before, pair.after};
    for (int k = 0; k < 2 && st == SD_OK; k++) {
        if (!paths[k])
            continue;
        st = ends_with_png(paths[k]) ? sd_image_save_png(ctx, imgs[k], paths[k], png_bits)
                                     : sd_image_save_jpeg(ctx, imgs[k], paths[k], quality);
    }
    if (st == SD_OK && out_t) {
        char *json = NULL;
        st = sd_synth_truth_json(ctx, pair.truth, &json);
        if (st == SD_OK)
            st = sd_file_write_atomic(ctx, out_t, json, strlen(json));
        free(json);
    }
    if (st != SD_OK)
        rc = fail(ctx, st);
    sd_synth_pair_release(&pair);
    sd_ctx_free(ctx);
    return rc;
}

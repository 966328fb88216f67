/*
 * SIMD level detection and the dispatch tables.
 *
 * Compiled without ISA flags: nothing here executes an instruction the
 * baseline CPU lacks. CPUID says what the CPU has; XCR0 (xgetbv, only when
 * the OS has set OSXSAVE) says which register state the OS saves on a context
 * switch. AVX2 needs YMM state (XCR0 bits 1, 2), AVX-512 also opmask and ZMM
 * state (bits 5, 6, 7).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_internal.h"

#if SD_HAVE_X86
#include <cpuid.h>
#endif

/* CPUID bits */
#define L1_EDX_SSE2 (1u << 26)
#define L1_ECX_FMA (1u << 12)
#define L1_ECX_OSXSAVE (1u << 27)
#define L1_ECX_AVX (1u << 28)
#define L7_EBX_AVX2 (1u << 5)
#define L7_EBX_AVX512F (1u << 16)
#define L7_EBX_AVX512DQ (1u << 17)
#define L7_EBX_AVX512BW (1u << 30)
#define L7_EBX_AVX512VL (1u << 31)
#define L7_ECX_AVX512VBMI (1u << 1)
/* XCR0 bits */
#define XCR0_YMM 0x6u   /* SSE and AVX state */
#define XCR0_ZMM 0xe0u  /* opmask, ZMM_Hi256, Hi16_ZMM */

sd_simd_level sd_simd_detect_with(const sd_cpu_probe *probe)
{
    uint32_t r[4] = {0, 0, 0, 0};
    probe->cpuid(probe->user, 0, 0, r);
    uint32_t max_leaf = r[0];
    if (max_leaf < 1)
        return SD_SIMD_SCALAR;
    probe->cpuid(probe->user, 1, 0, r);
    uint32_t ecx1 = r[2], edx1 = r[3];
    if (!(edx1 & L1_EDX_SSE2))
        return SD_SIMD_SCALAR;
    if (max_leaf < 7 || !(ecx1 & L1_ECX_OSXSAVE))
        return SD_SIMD_SSE2;
    uint64_t xcr0 = probe->xgetbv(probe->user);
    probe->cpuid(probe->user, 7, 0, r);
    uint32_t ebx7 = r[1];
    if (!(ecx1 & L1_ECX_AVX) || !(ecx1 & L1_ECX_FMA) || !(ebx7 & L7_EBX_AVX2) ||
        (xcr0 & XCR0_YMM) != XCR0_YMM)
        return SD_SIMD_SSE2;
    const uint32_t f512 = L7_EBX_AVX512F | L7_EBX_AVX512DQ | L7_EBX_AVX512BW | L7_EBX_AVX512VL;
    if ((ebx7 & f512) != f512 || (xcr0 & XCR0_ZMM) != XCR0_ZMM)
        return SD_SIMD_AVX2;
    return SD_SIMD_AVX512;
}

#if SD_HAVE_X86
static void real_cpuid(void *user, uint32_t leaf, uint32_t subleaf, uint32_t r[4])
{
    (void)user;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(leaf, subleaf, &a, &b, &c, &d))
        a = b = c = d = 0;
    r[0] = a;
    r[1] = b;
    r[2] = c;
    r[3] = d;
}

static uint64_t real_xgetbv(void *user)
{
    (void)user;
    uint32_t lo, hi;
    /* xgetbv with ECX = 0 (XCR0); the caller checked OSXSAVE */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}
#endif

static const char *const level_names[] = {"scalar", "sse2", "avx2", "avx512"};

const char *sd_simd_name(sd_simd_level level)
{
    if ((int)level < 0 || (int)level > SD_SIMD_AVX512)
        return "unknown";
    return level_names[level];
}

int sd_simd_parse(const char *name, sd_simd_level *out)
{
    if (!name)
        return -1;
    for (int i = 0; i <= SD_SIMD_AVX512; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (sd_simd_level)i;
            return 0;
        }
    return -1;
}

/* ---- the tables: scalar everywhere, then what each level improves ---- */

/* NULL: the level has no kernel of its own for that slot (see sd_dsp). The
 * SSE2 level adds only blur_taps to the scalar kernels; the AVX-512 level
 * takes the AVX2 kernel where that measured faster (row_sub_hist,
 * row_ncc_sums: docs/kernels.md). The scalar kernels of every slot but
 * blur_taps: */
#define SD_SCALAR_KERNELS                                                                          \
    .row_lambda = sd_row_lambda_scalar, .row_log = sd_row_log_scalar,                              \
    .row_colour = sd_row_colour_scalar, .row_acc = sd_row_acc_scalar,                              \
    .row_sum = sd_row_sum_scalar, .row_lap_acc = sd_row_lap_acc_scalar,                            \
    .row_hist = sd_row_hist_scalar, .row_select = sd_row_select_scalar,                            \
    .row_sub = sd_row_sub_scalar, .row_flag_above = sd_row_flag_above_scalar,                      \
    .row_warp = sd_row_warp_scalar, .row_luminance = sd_row_luminance_scalar,                      \
    .row_acc3 = sd_row_acc3_scalar, .row_sum4 = sd_row_sum4_scalar,                                \
    .row_sub_hist = sd_row_sub_hist_scalar, .row_ncc_sums = sd_row_ncc_sums_scalar,                \
    .row_colour8 = sd_row_colour8_scalar, .row_luminance8 = sd_row_luminance8_scalar,              \
    .row_hist_select = sd_row_hist_select_scalar, .row_ratio = sd_row_ratio_scalar,                \
    .ecc_row = sd_ecc_row_scalar

/* The AVX-512 kernels (the two tables of the level differ in the byte
 * kernels only: with VBMI, byte permutes; docs/kernels.md "Byte input"). */
#define SD_AVX512_KERNELS                                                                          \
    .level = SD_SIMD_AVX512, .blur_taps = sd_blur_taps_avx512, .blur_taps4 = sd_blur_taps4_avx512, \
    .row_lambda = sd_row_lambda_avx512, .row_log = sd_row_log_avx512,                              \
    .row_colour = sd_row_colour_avx512, .row_acc = sd_row_acc_avx512,                              \
    .row_sum = sd_row_sum_avx512, .row_lap_acc = sd_row_lap_acc_avx512,                            \
    .row_hist = sd_row_hist_avx512, .row_select = sd_row_select_avx512,                            \
    .row_sub = sd_row_sub_avx512, .row_flag_above = sd_row_flag_above_avx512,                      \
    .row_warp = sd_row_warp_avx512, .row_luminance = sd_row_luminance_avx512,                      \
    .blur_row2 = sd_blur_row2_avx512, .row_acc3 = sd_row_acc3_avx512,                              \
    .row_sum4 = sd_row_sum4_avx512, .row_sub_hist = sd_row_sub_hist_avx2,                          \
    .row_ncc_sums = sd_row_ncc_sums_avx2, .row_hist_select = sd_row_hist_select_avx512,            \
    .row_ratio = sd_row_ratio_avx512, .ecc_row = sd_ecc_row_avx512

static const sd_dsp dsp_tables[] = {
    {.level = SD_SIMD_SCALAR, .blur_taps = sd_blur_taps_scalar, SD_SCALAR_KERNELS},
#if SD_HAVE_X86
    {.level = SD_SIMD_SSE2, .blur_taps = sd_blur_taps_sse2, SD_SCALAR_KERNELS},
    {
        .level = SD_SIMD_AVX2,
        .blur_taps = sd_blur_taps_avx2,
        .blur_taps4 = sd_blur_taps4_avx2,
        .row_lambda = sd_row_lambda_avx2,
        .row_log = sd_row_log_avx2,
        .row_colour = sd_row_colour_avx2,
        .row_acc = sd_row_acc_avx2,
        .row_sum = sd_row_sum_avx2,
        .row_lap_acc = sd_row_lap_acc_avx2,
        .row_hist = sd_row_hist_avx2,
        .row_select = sd_row_select_avx2,
        .row_sub = sd_row_sub_avx2,
        .row_flag_above = sd_row_flag_above_avx2,
        .row_warp = sd_row_warp_avx2,
        .row_luminance = sd_row_luminance_avx2,
        .blur_row2 = sd_blur_row2_avx2,
        .row_acc3 = sd_row_acc3_avx2,
        .row_sum4 = sd_row_sum4_avx2,
        .row_sub_hist = sd_row_sub_hist_avx2,
        .row_ncc_sums = sd_row_ncc_sums_avx2,
        .row_hist_select = sd_row_hist_select_avx2,
        .row_colour8 = sd_row_colour8_avx2,
        .row_luminance8 = sd_row_luminance8_avx2,
        .row_ratio = sd_row_ratio_scalar,
        .ecc_row = sd_ecc_row_scalar,
    },
    {SD_AVX512_KERNELS, .row_colour8 = sd_row_colour8_avx512,
     .row_luminance8 = sd_row_luminance8_avx512},
    /* SD_SIMD_AVX512 with VBMI: sd_dsp_level's choice where the CPU has it */
    {SD_AVX512_KERNELS, .row_colour8 = sd_row_colour8_vbmi,
     .row_luminance8 = sd_row_luminance8_vbmi},
#endif
};

static sd_simd_level detected = SD_SIMD_SCALAR;
#if SD_HAVE_X86
static int has_vbmi; /* AVX-512 VBMI (leaf 7 ECX 1), on top of the avx512 level */
#endif
static atomic_int active_level = SD_SIMD_SCALAR;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void simd_init(void)
{
#if SD_HAVE_X86
    const sd_cpu_probe probe = {real_cpuid, real_xgetbv, NULL};
    detected = sd_simd_detect_with(&probe);
    if (detected == SD_SIMD_AVX512) {
        uint32_t r[4];
        real_cpuid(NULL, 7, 0, r);
        has_vbmi = (r[2] & L7_ECX_AVX512VBMI) != 0;
    }
#else
    detected = SD_SIMD_SCALAR;
#endif
    sd_simd_level want = detected;
    const char *env = getenv("SKINDELTA_SIMD");
    if (env && *env && sd_simd_parse(env, &want) == 0 && want > detected)
        want = detected;
    atomic_store(&active_level, (int)want);
}

sd_simd_level sd_simd_detect(void)
{
    pthread_once(&init_once, simd_init);
    return detected;
}

sd_simd_level sd_simd_active(void)
{
    pthread_once(&init_once, simd_init);
    return (sd_simd_level)atomic_load(&active_level);
}

sd_simd_level sd_simd_set(sd_simd_level want)
{
    pthread_once(&init_once, simd_init);
    if ((int)want < 0)
        want = SD_SIMD_SCALAR;
    if (want > detected)
        want = detected;
    atomic_store(&active_level, (int)want);
    return want;
}

const sd_dsp *sd_dsp_level(sd_simd_level level)
{
    pthread_once(&init_once, simd_init);
    if ((int)level < 0)
        level = SD_SIMD_SCALAR;
    if (level > detected)
        level = detected;
#if SD_HAVE_X86
    if (level == SD_SIMD_AVX512 && has_vbmi)
        return &dsp_tables[SD_SIMD_AVX512 + 1];
#endif
    return &dsp_tables[level];
}

int sd_dsp_tables(const sd_dsp **out)
{
    pthread_once(&init_once, simd_init);
    int k = 0;
    for (int i = 0; i <= (int)detected; i++)
        out[k++] = &dsp_tables[i];
#if SD_HAVE_X86
    if (detected == SD_SIMD_AVX512 && has_vbmi)
        out[k++] = &dsp_tables[SD_SIMD_AVX512 + 1];
#endif
    return k;
}

const char *sd_dsp_name(const sd_dsp *d)
{
#if SD_HAVE_X86
    if (d == &dsp_tables[SD_SIMD_AVX512 + 1])
        return "avx512+vbmi";
#endif
    return sd_simd_name(d->level);
}

const sd_dsp *sd_dsp_active(void)
{
    return sd_dsp_level(sd_simd_active());
}

/*
 * Parameters of the alignment stage. docs/align.md says where each value
 * comes from; the verdict thresholds are measured (tests/test_align.c
 * prints the figures they rest on).
 */
#ifndef SD_ALIGN_INTERNAL_H
#define SD_ALIGN_INTERNAL_H

#include "skindelta/align.h"

/* Images with a side below this are SD_ERR_TOO_SMALL. */
#define AL_MIN_SIDE 32
/* The base level is an f0 x f0 box average, f0 the smallest power of two
 * that brings the long side of BEFORE to at most this. */
#define AL_BASE_MAX_SIDE SD_ALIGN_BASE_SIDE
/* The global search runs on the first level whose short side is below this. */
#define AL_SEARCH_SIDE 48
/* Levels above the search level kept for the band-pass: bp_l = G_1(lam_l)
 * minus lam_{l+3} expanded (a difference of Gaussians of sigma about 1 and
 * 5.6 level pixels). */
#define AL_SUPPORT_LEVELS 3
#define AL_SMOOTH_SIGMA 1.0
#define AL_MAX_LEVELS 28

/* Search grid: rotations, scales, shifts (fraction of the long side). */
#define AL_SEARCH_ROT 12.0
#define AL_SEARCH_NROT 13 /* 2 degree steps */
#define AL_SEARCH_SMIN 0.88
#define AL_SEARCH_SMAX 1.12
#define AL_SEARCH_NSCALE 7 /* 0.04 steps */
#define AL_SEARCH_SHIFT 0.15
#define AL_SEARCH_MIN_OVERLAP 0.5
#define AL_CANDIDATES 6
/* Coarse to fine: the level above the search level (when its short side is
 * at least AL_SEARCH_MIN_SIDE) scores every shift and keeps AL_SEARCH_PEAKS
 * per grid point; the AL_SEARCH_KEEP best grid points are scored again at
 * the search level within AL_SEARCH_REFINE px of each peak. */
#define AL_SEARCH_MIN_SIDE 12
#define AL_SEARCH_PEAKS 3
#define AL_SEARCH_KEEP 12
#define AL_SEARCH_REFINE 2

/* ECC: parameters at most 6, iterations, stop when the parameters (all in
 * level pixels) move less than this in sum, sampled pixels per pass. */
#define AL_MAX_P 6
#define AL_ECC_ITER_TOP 40
#define AL_ECC_ITER 25
#define AL_ECC_EPS 0.005
#define AL_ECC_SAMPLES 60000.0
/* accumulate's sums run over bands of at least AL_ECC_BAND sampled rows (at
 * most AL_ECC_BANDS bands), added up in band order whatever the thread
 * count; passes of fewer than AL_ECC_THREAD_MIN samples run on one thread. */
#define AL_ECC_BAND 8
#define AL_ECC_BANDS 64
#define AL_ECC_THREAD_MIN 16384
/* accumulate's prefetch distance, in samples */
#define AL_ECC_AHEAD 16
/* Candidates whose maps at the search level end within this many level
 * pixels of an earlier candidate's are the same solution. */
#define AL_ECC_SAME 0.25
/* Below the two candidate levels, ECC runs every AL_ECC_LEVEL_STEP-th level
 * and last on the base level. */
#define AL_ECC_LEVEL_STEP 2
#define AL_VERDICT_SAMPLES 250000.0

/* Recoverable range: a result outside it is failed. */
#define AL_RANGE_ROT 13.0
#define AL_RANGE_SMIN 0.86
#define AL_RANGE_SMAX 1.16
#define AL_RANGE_SHIFT 0.2
#define AL_RANGE_ANISO 1.2

/* Verdict thresholds (measured, docs/align.md). */
#define AL_NCC_OK 0.5
#define AL_NCC_FAIL 0.25
#define AL_OVERLAP_OK 0.5
#define AL_OVERLAP_FAIL 0.3

#endif

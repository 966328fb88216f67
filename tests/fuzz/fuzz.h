/*
 * Shared by the fuzz harnesses (tests/fuzz/fuzz_NAME.c): the libFuzzer entry
 * point every harness defines, and the check that turns a broken invariant
 * into a crash the fuzzer (or the replay program) reports.
 *
 * Each harness is one file. It is built twice: with -fsanitize=fuzzer
 * (`make fuzz`), and with tests/fuzz/replay.c as a plain program that runs
 * every file of tests/crashers/NAME/ through the entry point (`make test`).
 */
#ifndef SD_FUZZ_H
#define SD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: abort with the reason when broken. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif

/*
 * Fuzz harness: sd_exif_orientation on a TIFF-structured EXIF block (the
 * bytes after "Exif\0\0", or a PNG eXIf chunk), the parser that sees the
 * most attacker-chosen offsets.
 *
 * Invariants: the result is 1..8 for the block and for each of its last 64
 * prefixes (a block cut anywhere is still read only within its length),
 * and a NULL block reads as 1.
 */
#include <string.h>

#include "fuzz.h"
#include "skindelta/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int o = sd_exif_orientation(data, size);
    FUZZ_CHECK(o >= 1 && o <= 8);
    /* prefixes: every one is parsed within its own length (ASan checks the
     * reads, since the replay and the fuzzer hand over exact-size buffers) */
    for (size_t n = size > 64 ? size - 64 : 0; n < size; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        if (!cut)
            return 0;
        memcpy(cut, data, n);
        int oc = sd_exif_orientation(cut, n);
        FUZZ_CHECK(oc >= 1 && oc <= 8);
        free(cut);
    }
    FUZZ_CHECK(sd_exif_orientation(NULL, size) == 1);
    return 0;
}

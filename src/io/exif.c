/*
 * EXIF orientation: the Orientation tag (0x0112) of IFD0 in a TIFF-structured
 * block (JPEG APP1 after "Exif\0\0", or a PNG eXIf chunk). Parsed by hand,
 * every offset and count checked against len before it is used.
 */
#include <stdint.h>

#include "io/io_internal.h"

#define TAG_ORIENTATION 0x0112
#define TIFF_SHORT 3
#define TIFF_LONG 4

static uint32_t rd16(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 : (uint32_t)p[0] << 8 | (uint32_t)p[1];
}

static uint32_t rd32(const uint8_t *p, int le)
{
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                    (uint32_t)p[3] << 24
              : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
                    (uint32_t)p[3];
}

int sd_exif_orientation(const uint8_t *tiff, size_t len)
{
    if (!tiff || len < 8)
        return 1;
    int le;
    if (tiff[0] == 'I' && tiff[1] == 'I')
        le = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M')
        le = 0;
    else
        return 1;
    if (rd16(tiff + 2, le) != 42)
        return 1;
    uint32_t ifd = rd32(tiff + 4, le);
    /* the entry count (2 bytes) must lie inside the block */
    if (ifd > len || len - ifd < 2)
        return 1;
    uint32_t n = rd16(tiff + ifd, le);
    size_t first = (size_t)ifd + 2;
    /* entries that lie wholly inside the block; a count running past the
     * end is cut to them */
    size_t fit = (len - first) / 12;
    if (n > fit)
        n = (uint32_t)fit;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = tiff + first + (size_t)i * 12;
        if (rd16(e, le) != TAG_ORIENTATION)
            continue;
        uint32_t type = rd16(e + 2, le), count = rd32(e + 4, le);
        if (count < 1)
            return 1;
        uint32_t v;
        if (type == TIFF_SHORT) {
            /* up to two SHORTs sit in the value field itself; more are
             * stored at an offset, which must be inside the block */
            if (count <= 2) {
                v = rd16(e + 8, le);
            } else {
                uint32_t off = rd32(e + 8, le);
                if (off > len || len - off < 2)
                    return 1;
                v = rd16(tiff + off, le);
            }
        } else if (type == TIFF_LONG) {
            /* not what the standard says, but some writers do it */
            if (count == 1) {
                v = rd32(e + 8, le);
            } else {
                uint32_t off = rd32(e + 8, le);
                if (off > len || len - off < 4)
                    return 1;
                v = rd32(tiff + off, le);
            }
        } else {
            return 1;
        }
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

#!/usr/bin/env python3
"""Write the hand-made seed inputs of tests/crashers/ (load, exif, options).

Each file is small and aimed at one parsing decision: limits from the header,
EXIF offsets and counts, truncation, bad CRCs, every PNG colour type, option
values at the edges of their grammar. The base JPEG is a 32x24 image made by
our own generator:

    build/skindelta-synth --seed 1 --size 32x24 --quality 80 --out-before B.jpg
    python3 tests/fuzz/make_seeds.py B.jpg

Inputs found by the fuzzers are added next to these by hand (never removed).
"""
import os
import struct
import sys
import zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crashers")


def put(sub, name, data):
    d = os.path.join(root, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- EXIF (TIFF) blocks ----
def tiff(le, entries, ifd=8, count=None, tail=b""):
    e = "<" if le else ">"
    out = (b"II" if le else b"MM") + struct.pack(e + "HI", 42, ifd)
    out += b"\0" * (ifd - 8)
    out += struct.pack(e + "H", len(entries) if count is None else count)
    for tag, typ, cnt, val in entries:
        out += struct.pack(e + "HHI", tag, typ, cnt) + val
    return out + struct.pack(e + "I", 0) + tail


def short_val(le, v):
    return struct.pack("<HH" if le else ">HH", v, 0)


def long_val(le, v):
    return struct.pack("<I" if le else ">I", v)


for le in (0, 1):
    bo = "le" if le else "be"
    for o in (1, 6, 8):
        put("exif", f"{bo}_short_{o}.tif", tiff(le, [(0x0112, 3, 1, short_val(le, o))]))
    put("exif", f"{bo}_long_3.tif", tiff(le, [(0x0112, 4, 1, long_val(le, 3))]))
    # three SHORTs: the value sits at an offset (inside, and past the end)
    put("exif", f"{bo}_short3_offset.tif",
        tiff(le, [(0x0112, 3, 3, long_val(le, 26))], tail=struct.pack("<H" if le else ">H", 5)))
    put("exif", f"{bo}_short3_offset_past_end.tif", tiff(le, [(0x0112, 3, 3, long_val(le, 0xFFFFFFFF))]))
    put("exif", f"{bo}_long2_offset_past_end.tif", tiff(le, [(0x0112, 4, 2, long_val(le, 0xFFFFFFFE))]))
    put("exif", f"{bo}_ifd_past_end.tif", tiff(le, [], ifd=0xFFFFFFFF, count=0)[:8])
    put("exif", f"{bo}_count_65535.tif", tiff(le, [(0x010F, 2, 4, b"abc\0"), (0x0112, 3, 1, short_val(le, 6))], count=0xFFFF))
    put("exif", f"{bo}_value_9.tif", tiff(le, [(0x0112, 3, 1, short_val(le, 9))]))
    put("exif", f"{bo}_count_0.tif", tiff(le, [(0x0112, 3, 0, short_val(le, 6))]))
put("exif", "bad_magic.tif", b"II\x2b\x00\x08\x00\x00\x00")
put("exif", "seven_bytes.tif", b"MM\x00\x2a\x00\x00\x00")
put("exif", "empty.tif", b"")

# ---- option values: first byte picks the parser ----
opts = {
    "double_ok": "012.5", "double_exp": "01e-3", "double_hex": "00x1p3", "double_inf": "0inf",
    "double_nan": "0nan", "double_space": "0 12", "double_trailing": "012abc",
    "int_ok": "1-12", "int_plus": "1+7", "int_space": "1 7", "int_huge": "199999999999999999999",
    "count_ok": "2100M", "count_k": "23k", "count_neg": "2-5", "count_space_neg": "2 -18446744073709551615",
    "count_suffix_only": "2k", "count_overflow": "218446744073709551615G", "count_two_suffix": "25kk",
    "rect_ok": "31,2,3,4", "rect_three": "31,2,3", "rect_zero": "31,2,0,5", "rect_space": "31, 2,3,4",
    "rect_max": "31048576,1048576,1048576,1048576", "rect_over": "31048577,0,1,1", "rect_sign": "3+1,2,3,4",
    "choice_ok": "4affine", "choice_prefix": "4aff", "choice_empty": "4",
}
for name, v in opts.items():
    put("options", name + ".txt", v.encode())

# ---- PNG ----
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


SIG = b"\x89PNG\r\n\x1a\n"


def ihdr(w, h, depth, color, interlace=0):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace))


def png(w, h, depth, color, rows, extra=b"", interlace=0):
    raw = b"".join(b"\0" + r for r in rows)
    return SIG + ihdr(w, h, depth, color, interlace) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


put("load", "png_rgb8_2x2.png", png(2, 2, 8, 2, [bytes([255, 0, 0, 0, 255, 0]), bytes([0, 0, 255, 9, 9, 9])]))
put("load", "png_gray1_9x1.png", png(9, 1, 1, 0, [bytes([0b10110011, 0b10000000])]))
put("load", "png_rgba16_1x1.png", png(1, 1, 16, 6, [bytes([1, 2, 3, 4, 5, 6, 7, 8])]))
put("load", "png_palette_2x1.png",
    png(2, 1, 8, 3, [bytes([0, 1])], extra=chunk(b"PLTE", bytes([10, 20, 30, 40, 50, 60])) + chunk(b"tRNS", b"\x80")))
put("load", "png_palette_index_past_plte.png",
    png(2, 1, 8, 3, [bytes([0, 7])], extra=chunk(b"PLTE", bytes([10, 20, 30]))))
put("load", "png_palette_no_plte.png", png(1, 1, 8, 3, [b"\0"]))
# Adam7, 3x3 grey: pass 1 holds (0,0), pass 4 (2,0)... every pass's rows
adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
raw = b""
for x0, y0, dx, dy in adam7:
    xs = range(x0, 3, dx)
    for y in range(y0, 3, dy):
        if len(xs):
            raw += b"\0" + bytes([(x * 40 + y * 90) & 255 for x in xs])
put("load", "png_adam7_gray_3x3.png",
    SIG + ihdr(3, 3, 8, 0, 1) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
exif6 = tiff(0, [(0x0112, 3, 1, short_val(0, 6))])
put("load", "png_exif6_3x2.png", png(3, 2, 8, 2, [bytes(range(9)), bytes(range(9, 18))], extra=chunk(b"eXIf", exif6)))
put("load", "png_exif_bad_offsets.png",
    png(3, 2, 8, 2, [bytes(9), bytes(9)], extra=chunk(b"eXIf", tiff(1, [(0x0112, 3, 3, long_val(1, 0xFFFFFFF0))], count=300))))
# size limits from the header: nothing after IHDR, and a real (short) IDAT
put("load", "png_ihdr_60000x60000.png", SIG + ihdr(60000, 60000, 8, 2))
put("load", "png_ihdr_2e31.png", SIG + ihdr(0x7FFFFFFF, 1, 8, 2))
put("load", "png_ihdr_zero.png", SIG + ihdr(0, 5, 8, 2) + chunk(b"IEND", b""))
z = zlib.compressobj(9)
head = z.compress(bytes(3 * 12000 + 1) * 64) + z.flush(zlib.Z_SYNC_FLUSH)
put("load", "png_bomb_12000x9000_cut.png", SIG + ihdr(12000, 9000, 8, 2) + chunk(b"IDAT", head))
good = png(2, 2, 8, 2, [bytes(6), bytes(6)])
bad_crc = bytearray(good)
bad_crc[-20] ^= 1  # inside IDAT's data: CRC no longer matches
put("load", "png_idat_bad_crc.png", bytes(bad_crc))
put("load", "png_truncated.png", good[: len(good) - 20])
put("load", "png_no_idat.png", SIG + ihdr(2, 2, 8, 2) + chunk(b"IEND", b""))
put("load", "png_sig_text_mode.png", b"\x89PNG\r\r\n\x1a\n" + good[8:])
put("load", "png_bad_depth.png", SIG + ihdr(2, 2, 7, 2) + good[33:])
put("load", "png_exif_len_2e31.png",
    good[:33] + struct.pack(">I", 0x7FFFFFF0) + b"eXIf" + b"MM\0\x2a" + good[33:])
put("load", "png_idat_too_short.png", png(4, 4, 16, 2, [bytes(24)] * 2))
put("load", "empty", b"")
put("load", "text.txt", b"hello, this is text\n")

# ---- JPEG, from the generator's 32x24 image ----
if len(sys.argv) > 1:
    base = open(sys.argv[1], "rb").read()
    assert base[:2] == b"\xff\xd8"

    def app1(body):
        return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body

    def with_app1(body):
        return base[:2] + app1(body) + base[2:]

    def sof_at(d):
        i = 2
        while i + 4 <= len(d):
            m, n = d[i + 1], struct.unpack(">H", d[i + 2:i + 4])[0]
            if m in (0xC0, 0xC1, 0xC2):
                return i
            i += 2 + n
        raise SystemExit("no SOF")

    def with_size(w, h):
        d = bytearray(base)
        i = sof_at(d)
        d[i + 5:i + 9] = struct.pack(">HH", h, w)
        return bytes(d)

    put("load", "jpeg_32x24.jpg", base)
    for o in (3, 6, 7):
        put("load", f"jpeg_exif{o}.jpg", with_app1(b"Exif\0\0" + tiff(o % 2, [(0x0112, 3, 1, short_val(o % 2, o))])))
    put("load", "jpeg_exif_ifd_past_end.jpg", with_app1(b"Exif\0\0" + tiff(1, [], ifd=0xFFFFFFF8, count=0)[:8]))
    put("load", "jpeg_exif_count_65535.jpg", with_app1(b"Exif\0\0" + tiff(0, [(0x0112, 3, 1, short_val(0, 8))], count=0xFFFF)))
    put("load", "jpeg_exif_header_only.jpg", with_app1(b"Exif\0\0"))
    put("load", "jpeg_sof_60000x60000.jpg", with_size(60000, 60000))
    put("load", "jpeg_sof_65535x1.jpg", with_size(65535, 1))
    put("load", "jpeg_sof_zero_width.jpg", with_size(0, 24))
    put("load", "jpeg_truncated_half.jpg", base[: len(base) // 2])
    put("load", "jpeg_soi_only.jpg", base[:2])
    put("load", "jpeg_no_eoi.jpg", base[:-2])
    flipped = bytearray(base)
    flipped[len(base) - 40] ^= 0x55  # entropy-coded data
    put("load", "jpeg_flipped_byte.jpg", bytes(flipped))

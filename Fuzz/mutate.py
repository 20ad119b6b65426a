"""Deterministic, structure-aware mutators for fuzzing `mhs inspect`.

Every mutator takes a `random.Random` passed in (no global randomness), so the same
generator state gives the same mutant. The entry point is `mutate(target, rng)`, where
`target` is a `Target` (the seed's bytes plus its parsed structure, parsed once and
cached); it returns `(mutated_bytes, label)`. The label starts with the mutation family
(`tiff.entry`, `dicom.length`, `zip.name`, `generic.flip`, ...), then a colon and what
was done.

Formats understood: classic TIFF and BigTIFF in either byte order (every IFD walked,
12- and 20-byte entries), DICOM Part 10 (explicit VR little endian; sequences, items and
encapsulated pixel data fragments walked), and zip archives (local headers, central
directory, end record). `convert_tiff` rewrites a classic TIFF as BigTIFF and/or in the
other byte order, a valid file that still decodes (that is how BigTIFF seeds are made).

Standard library only (Python 3.11).
"""

from __future__ import annotations

import random
import struct
import zlib

# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------

B32 = [0, 1, 2, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF]
B64 = [2**32, 2**32 + 1, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 2, 2**64 - 1, 2**40]


def boundaries(width: int, size: int, rng: random.Random, current: int | None = None) -> int:
    """A boundary value for a field of `width` bytes in a file of `size` bytes."""
    choices = B32 + [size, size - 1, size + 1, max(size - 8, 0), rng.getrandbits(32), rng.randrange(max(size, 1))]
    if width >= 8:
        choices += B64 * 2 + [rng.getrandbits(64), 2**63 + rng.getrandbits(62)]
    if current is not None:
        choices += [current + 1, max(current - 1, 0), current * 2, current * 65536]
    mask = (1 << (8 * width)) - 1
    return max(0, rng.choice(choices)) & mask


def hexv(v: int) -> str:
    return f"{v:#x}" if v > 9 else str(v)


def clamp_pos(rng: random.Random, n: int) -> int:
    return rng.randrange(n) if n > 0 else 0


JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_segments(b: bytes | bytearray, start: int, end: int) -> list[tuple[int, int, int]]:
    """(marker, position of FF, segment length field) for the markers before SOS."""
    out = []
    i = start
    if i + 2 <= end and b[i] == 0xFF and b[i + 1] == 0xD8:
        i += 2
    while i + 4 <= end and b[i] == 0xFF:
        m = b[i + 1]
        if m == 0xFF:
            i += 1
            continue
        if m in (0xD8, 0xD9) or 0xD0 <= m <= 0xD7:
            out.append((m, i, 0))
            i += 2
            continue
        ln = b[i + 2] << 8 | b[i + 3]
        out.append((m, i, ln))
        if m == 0xDA:
            break
        i += 2 + ln
    return out


def jpeg_mangle(buf: bytearray, start: int, end: int, rng: random.Random) -> str:
    """Mangles a JPEG stream (or abbreviated tables stream) in place, without changing its
    length. Returns what was done."""
    end = min(end, len(buf))
    if end - start < 4:
        return "jpeg too short, left alone"
    segs = jpeg_segments(buf, start, end)
    sofs = [s for s in segs if s[0] in JPEG_SOF]
    tables = [s for s in segs if s[0] in (0xDB, 0xC4, 0xDD)]
    r = rng.random()
    if sofs and r < 0.3:
        m, p, ln = rng.choice(sofs)
        what = rng.choice(["height", "width", "ncomp", "sampling", "precision", "marker"])
        if what in ("height", "width") and p + 9 <= end:
            v = rng.choice([0, 1, 2, 7, 8, 9, 255, 256, 257, 4096, 0x7FFF, 0xFFFF])
            at = p + (5 if what == "height" else 7)
            struct.pack_into(">H", buf, at, v)
            return f"SOF{m - 0xC0} {what} -> {v}"
        if what == "ncomp" and p + 10 <= end:
            v = rng.choice([0, 1, 2, 4, 5, 255])
            buf[p + 9] = v
            return f"SOF{m - 0xC0} components -> {v}"
        if what == "sampling" and p + 12 <= end:
            v = rng.choice([0x00, 0x11, 0x12, 0x21, 0x22, 0x44, 0x41, 0x14, 0x88, 0xFF])
            buf[p + 11] = v
            return f"SOF{m - 0xC0} component 0 sampling -> {v:#04x}"
        if what == "precision" and p + 5 <= end:
            v = rng.choice([0, 1, 12, 16, 255])
            buf[p + 4] = v
            return f"SOF{m - 0xC0} precision -> {v}"
        v = rng.choice([0xC1, 0xC2, 0xC3, 0xC9, 0xCB, 0xCF, 0xC8])
        buf[p + 1] = v
        return f"SOF{m - 0xC0} marker -> FF{v:02X}"
    if tables and r < 0.55:
        m, p, ln = rng.choice(tables)
        what = rng.choice(["length", "length", "class", "counts", "body"])
        if what == "length":
            v = rng.choice([0, 1, 2, 3, ln - 1, ln + 1, ln + 64, 0x7FFF, 0xFFFF])
            struct.pack_into(">H", buf, p + 2, v & 0xFFFF)
            return f"marker FF{m:02X} length {ln} -> {v & 0xFFFF}"
        if what == "class" and p + 5 <= end:
            v = rng.choice([0x00, 0x01, 0x10, 0x11, 0x04, 0x14, 0x24, 0xFF])
            buf[p + 4] = v
            return f"marker FF{m:02X} table class/id -> {v:#04x}"
        if what == "counts" and p + 21 <= end:
            v = rng.choice([0x00, 0xFF, 0x10])
            for k in range(p + 5, p + 21):
                buf[k] = v
            return f"marker FF{m:02X} first 16 table bytes -> {v:#04x}"
        s = p + 4
        e = min(p + 2 + ln, end)
        if e > s:
            k = rng.randint(1, 8)
            for _ in range(k):
                buf[rng.randrange(s, e)] = rng.getrandbits(8)
            return f"marker FF{m:02X} {k} random body bytes"
    if segs and r < 0.7:
        m, p, ln = rng.choice(segs)
        v = rng.choice([0x00, 0xD8, 0xD9, 0xDA, 0xFF, 0xDD, 0xC0, 0xE0, 0xEE, 0x01])
        buf[p + 1] = v
        return f"marker FF{m:02X} at +{p - start} -> FF{v:02X}"
    what = rng.choice(["flip", "zero-tail", "ff-run", "eoi"])
    if what == "flip":
        k = rng.randint(1, 32)
        for _ in range(k):
            buf[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
        return f"{k} bit flips in the stream"
    if what == "zero-tail":
        cut = rng.randrange(start, end)
        for k in range(cut, end):
            buf[k] = 0
        return f"zeroed from +{cut - start} of {end - start}"
    if what == "ff-run":
        p = rng.randrange(start, end)
        ln = min(rng.randint(1, 256), end - p)
        buf[p:p + ln] = b"\xff" * ln
        return f"{ln} bytes 0xFF at +{p - start}"
    buf[end - 2:end] = rng.choice([b"\xff\xd8", b"\x00\x00", b"\xff\xff", b"\xff\xda"])
    return "EOI replaced"


# --------------------------------------------------------------------------------------
# Generic mutations
# --------------------------------------------------------------------------------------

def generic(data: bytes | bytearray, rng: random.Random, hot: list[tuple[int, int]] | None = None) -> tuple[bytes, str]:
    buf = bytearray(data)
    n = len(buf)
    if n == 0:
        k = rng.randint(1, 64)
        return bytes(rng.getrandbits(8) for _ in range(k)), f"generic.grow: {k} random bytes into an empty file"

    def pos() -> int:
        r = rng.random()
        if hot and r < 0.45:
            s, e = rng.choice(hot)
            s = max(0, min(s, n - 1))
            e = max(s + 1, min(e, n))
            return rng.randrange(s, e)
        if r < 0.7:
            return rng.randrange(min(n, 65536))
        return rng.randrange(n)

    r = rng.random()
    if r < 0.25:
        k = rng.randint(1, 16)
        where = []
        for _ in range(k):
            p = pos()
            buf[p] ^= 1 << rng.randrange(8)
            where.append(p)
        return bytes(buf), f"generic.flip: {k} bit flips (first at {min(where)})"
    if r < 0.45:
        k = rng.randint(1, 16)
        first = None
        for _ in range(k):
            p = pos()
            first = p if first is None else min(first, p)
            buf[p] = rng.choice([0x00, 0xFF, 0x7F, 0x80, 0x01, rng.getrandbits(8)])
        return bytes(buf), f"generic.bytes: {k} bytes set (first at {first})"
    if r < 0.6:
        p = pos()
        ln = min(rng.choice([1, 2, 4, 8, 16, 64, 256, 4096, rng.randint(1, 65536)]), n - p)
        v = rng.choice([0x00, 0xFF])
        buf[p:p + ln] = bytes([v]) * ln
        return bytes(buf), f"generic.run: {ln} bytes of {v:#04x} at {p}"
    if r < 0.78:
        if rng.random() < 0.4:
            cut = max(0, n - rng.randint(1, min(n, 4096)))
        elif hot and rng.random() < 0.5:
            cut = pos()
        else:
            cut = rng.randrange(n)
        return bytes(buf[:cut]), f"generic.truncate: at {cut} of {n}"
    if r < 0.9:
        p = pos()
        ln = min(rng.choice([1, 4, 12, 20, 64, 512, rng.randint(1, 65536)]), n - p)
        at = rng.randrange(n + 1) if rng.random() < 0.5 else p + ln
        chunk = bytes(buf[p:p + ln])
        buf[at:at] = chunk
        return bytes(buf), f"generic.duplicate: {ln} bytes from {p} inserted at {at}"
    p = pos()
    ln = min(rng.choice([1, 2, 4, 8, 12, 20, 64, 512, rng.randint(1, 65536)]), n - p)
    del buf[p:p + ln]
    return bytes(buf), f"generic.delete: {ln} bytes at {p}"


# --------------------------------------------------------------------------------------
# TIFF / BigTIFF
# --------------------------------------------------------------------------------------

TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
UNIT_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 1, 7: 1, 8: 2, 9: 4, 10: 4, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
TAG_NAMES = {
    254: "NewSubfileType", 256: "ImageWidth", 257: "ImageLength", 258: "BitsPerSample", 259: "Compression",
    262: "Photometric", 270: "ImageDescription", 273: "StripOffsets", 274: "Orientation", 277: "SamplesPerPixel",
    278: "RowsPerStrip", 279: "StripByteCounts", 282: "XResolution", 283: "YResolution", 284: "PlanarConfig",
    296: "ResolutionUnit", 317: "Predictor", 322: "TileWidth", 323: "TileLength", 324: "TileOffsets",
    325: "TileByteCounts", 339: "SampleFormat", 347: "JPEGTables", 513: "JPEGInterchangeFormat", 530: "YCbCrSubSampling",
    32997: "ImageDepth", 34675: "ICCProfile",
}
OFFSET_TAGS = {273, 324, 513, 288}
ARRAY_TAGS = {273, 279, 324, 325}
INTERESTING_TAGS = [322, 323, 256, 257, 324, 325, 347, 270, 259, 262, 277, 258, 284, 273, 279]


def tag_name(tag: int) -> str:
    return f"{TAG_NAMES.get(tag, 'Tag')}({tag})"


class TEntry:
    __slots__ = ("ifd", "index", "pos", "tag", "type", "count", "vpos", "inline", "data_pos", "nbytes")


class TIFD:
    __slots__ = ("index", "pos", "n", "nsize", "entries", "next_pos", "next", "ptr_pos")


class TiffInfo:
    def __init__(self, data: bytes):
        self.size = len(data)
        self.le = data[:2] == b"II"
        self.e = "<" if self.le else ">"
        self.big = self._u(data, 2, 2) == 43
        self.osize = 8 if self.big else 4     # offset / count field size
        self.nsize = 8 if self.big else 2     # IFD entry-count field size
        self.esize = 20 if self.big else 12   # entry size
        self.first_pos = 8 if self.big else 4  # where the header keeps IFD 0's offset
        self.ifds: list[TIFD] = []
        self.entries: list[TEntry] = []
        self._walk(data)

    def _u(self, data, pos, size) -> int:
        return int.from_bytes(data[pos:pos + size], "little" if self.le else "big")

    def _walk(self, data: bytes) -> None:
        if self.size < (16 if self.big else 8):
            return
        ptr_pos = self.first_pos
        off = self._u(data, ptr_pos, self.osize)
        seen = set()
        while off and off not in seen and len(self.ifds) < 256 and off + self.nsize <= self.size:
            seen.add(off)
            d = TIFD()
            d.index, d.pos, d.nsize, d.ptr_pos = len(self.ifds), off, self.nsize, ptr_pos
            d.n = self._u(data, off, self.nsize)
            d.entries = []
            first = off + self.nsize
            room = max(0, (self.size - first) // self.esize)
            for k in range(min(d.n, room, 4096)):
                p = first + k * self.esize
                t = TEntry()
                t.ifd, t.index, t.pos = d.index, k, p
                t.tag = self._u(data, p, 2)
                t.type = self._u(data, p + 2, 2)
                t.count = self._u(data, p + 4, self.osize)
                t.vpos = p + 4 + self.osize
                t.nbytes = TYPE_SIZE.get(t.type, 1) * t.count
                t.inline = t.nbytes <= self.osize
                t.data_pos = t.vpos if t.inline else self._u(data, t.vpos, self.osize)
                d.entries.append(t)
                self.entries.append(t)
            np_ = first + d.n * self.esize
            if d.n <= room and np_ + self.osize <= self.size:
                d.next_pos = np_
                d.next = self._u(data, np_, self.osize)
            else:
                d.next_pos, d.next = None, 0
            self.ifds.append(d)
            ptr_pos = d.next_pos
            off = d.next
            if ptr_pos is None:
                break

    def fmt(self) -> str:
        return ("bigtiff" if self.big else "tiff") + ("" if self.le else "-be")

    def find(self, tag: int, ifd: int | None = None) -> list[TEntry]:
        return [t for t in self.entries if t.tag == tag and (ifd is None or t.ifd == ifd)]

    def values(self, data: bytes, t: TEntry, limit: int = 1 << 20) -> list[int] | None:
        """Integer values of an entry (None when the type is not integral or out of range)."""
        if t.type not in (1, 3, 4, 6, 8, 9, 13, 16, 17, 18):
            return None
        us = TYPE_SIZE[t.type]
        n = min(t.count, limit)
        if t.data_pos + n * us > self.size:
            return None
        bo = "little" if self.le else "big"
        return [int.from_bytes(data[t.data_pos + k * us:t.data_pos + (k + 1) * us], bo) for k in range(n)]

    def put(self, buf: bytearray, pos: int, size: int, value: int) -> None:
        if pos < 0 or pos + size > len(buf):
            return
        buf[pos:pos + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little" if self.le else "big")


def t_entry_field(info: TiffInfo, data: bytes, buf: bytearray, rng: random.Random) -> str | None:
    if not info.entries:
        return None
    pool = [t for t in info.entries if t.tag in INTERESTING_TAGS]
    t = rng.choice(pool) if pool and rng.random() < 0.7 else rng.choice(info.entries)
    field = rng.choice(["count", "count", "value", "value", "type"])
    if field == "type":
        v = rng.choice([0, 1, 2, 3, 4, 5, 7, 12, 13, 16, 17, 18, 19, 0xFFFF, rng.randrange(1, 19)])
        info.put(buf, t.pos + 2, 2, v)
        return f"{info.fmt()}.entry: IFD{t.ifd} entry {tag_name(t.tag)} type {t.type} -> {v}"
    if field == "count":
        v = boundaries(info.osize, info.size, rng, t.count)
        info.put(buf, t.pos + 4, info.osize, v)
        return f"{info.fmt()}.entry: IFD{t.ifd} entry {tag_name(t.tag)} count {hexv(t.count)} -> {hexv(v)}"
    old = int.from_bytes(data[t.vpos:t.vpos + info.osize], "little" if info.le else "big")
    v = boundaries(info.osize, info.size, rng, old)
    info.put(buf, t.vpos, info.osize, v)
    return f"{info.fmt()}.entry: IFD{t.ifd} entry {tag_name(t.tag)} value/offset {hexv(old)} -> {hexv(v)}"


def t_ifd(info: TiffInfo, data: bytes, buf: bytearray, rng: random.Random) -> str | None:
    if not info.ifds:
        return None
    d = rng.choice(info.ifds)
    if rng.random() < 0.4:
        v = rng.choice([0, 1, 2, d.n - 1, d.n + 1, d.n * 2, 0x7FFF, 0x8000, 0xFFFF]
                       + ([2**32, 2**63, 2**64 - 1, 2**60, 2**31] if info.big else []))
        info.put(buf, d.pos, info.nsize, max(v, 0))
        return f"{info.fmt()}.ifd: IFD{d.index} entry count {d.n} -> {hexv(max(v, 0) & ((1 << (8 * info.nsize)) - 1))}"
    # next-IFD offset (or the header's first-IFD offset)
    if rng.random() < 0.2:
        ptr, name = info.first_pos, "header first-IFD offset"
    else:
        if d.next_pos is None:
            return None
        ptr, name = d.next_pos, f"IFD{d.index} next-IFD offset"
    earlier = [x.pos for x in info.ifds if x.pos <= d.pos]
    kind = rng.choice(["self", "earlier", "boundary", "boundary", "into-entries", "odd"])
    if kind == "self":
        v = d.pos
    elif kind == "earlier":
        v = rng.choice(earlier)
    elif kind == "into-entries":
        v = d.pos + info.nsize + rng.randrange(max(1, d.n * info.esize))
    elif kind == "odd":
        v = d.pos + 1
    else:
        v = boundaries(info.osize, info.size, rng)
    info.put(buf, ptr, info.osize, v)
    return f"{info.fmt()}.ifd: {name} -> {hexv(v)} ({kind})"


def _entry_bytes(info: TiffInfo, tag: int, typ: int, count: int, value: int | bytes) -> bytes:
    bo = "little" if info.le else "big"
    out = tag.to_bytes(2, bo) + typ.to_bytes(2, bo) + (count & ((1 << (8 * info.osize)) - 1)).to_bytes(info.osize, bo)
    if isinstance(value, bytes):
        field = value[:info.osize].ljust(info.osize, b"\0")
    else:
        us = TYPE_SIZE.get(typ, 4)
        if count * us <= info.osize and us < info.osize:
            field = (value & ((1 << (8 * us)) - 1)).to_bytes(us, bo).ljust(info.osize, b"\0")
        else:
            field = (value & ((1 << (8 * info.osize)) - 1)).to_bytes(info.osize, bo)
    return out + field


def _relocate_ifd(info: TiffInfo, data: bytes, buf: bytearray, d: TIFD, entries: list[bytes]) -> None:
    """Writes a new IFD holding `entries` at the end of `buf` and points d's pointer at it."""
    if len(buf) % 2:
        buf.append(0)
    at = len(buf)
    bo = "little" if info.le else "big"
    buf += len(entries).to_bytes(info.nsize, bo)
    for e in entries:
        buf += e
    buf += d.next.to_bytes(info.osize, bo)
    info.put(buf, d.ptr_pos, info.osize, at)


def t_rebuild_ifd(info: TiffInfo, data: bytes, buf: bytearray, rng: random.Random) -> str | None:
    """Duplicates, drops or reorders entries of one IFD (written anew at the end of the file)."""
    ifds = [d for d in info.ifds if d.entries and d.ptr_pos is not None and len(d.entries) == d.n]
    if not ifds:
        return None
    d = rng.choice(ifds)
    raw = [bytes(data[t.pos:t.pos + info.esize]) for t in d.entries]
    what = rng.random()
    if what < 0.65:
        cands = [t for t in d.entries if t.tag in (322, 323, 256, 257, 324, 325, 347, 270)]
        t = rng.choice(cands) if cands and rng.random() < 0.85 else rng.choice(d.entries)
        v = rng.choice([0, 1, 16, 0x7FFFFFFF, 0xFFFF, 240, 256])
        if t.tag in (270, 347):
            if rng.random() < 0.5:
                # the duplicate points at a fresh value at the end of the file
                payload = (b"Aperio Image Library v10.0.0\n16x16 [0,0 16x16] (64x64) JPEG/RGB Q=30|AppMag = 40|MPP = 0.25\0"
                           if t.tag == 270 else b"\xff\xd8\xff\xdb\x00\x43\x00" + bytes(64) + b"\xff\xd9")
                if len(buf) % 2:
                    buf.append(0)
                off = len(buf)
                buf += payload
                typ = 2 if t.tag == 270 else 7
                new = _entry_bytes(info, t.tag, typ, len(payload), off)
                desc = f"{len(payload)}-byte value"
            else:
                new = _entry_bytes(info, t.tag, 7 if t.tag == 347 else 2, v, rng.getrandbits(32))
                desc = f"count {hexv(v)}"
        elif t.tag in (324, 325):
            new = _entry_bytes(info, t.tag, 4, 1, v)
            desc = f"count 1 value {hexv(v)}"
        else:
            typ = 3 if v <= 0xFFFF and rng.random() < 0.5 else 4
            new = _entry_bytes(info, t.tag, typ, 1, v)
            desc = f"value {hexv(v)}"
        mode = rng.choice(["before", "after", "first", "last", "random"])
        i = t.index
        at = {"before": i, "after": i + 1, "first": 0, "last": len(raw)}.get(mode, rng.randrange(len(raw) + 1))
        raw.insert(at, new)
        sorted_ = "sorted" if mode in ("before", "after") else "unsorted"
        _relocate_ifd(info, data, buf, d, raw)
        return f"{info.fmt()}.dup: IFD{d.index} duplicate {tag_name(t.tag)} {desc} ({mode}, {sorted_})"
    if what < 0.85:
        cands = [t for t in d.entries if t.tag in INTERESTING_TAGS]
        t = rng.choice(cands) if cands else rng.choice(d.entries)
        del raw[t.index]
        _relocate_ifd(info, data, buf, d, raw)
        return f"{info.fmt()}.drop: IFD{d.index} without {tag_name(t.tag)}"
    if rng.random() < 0.5:
        raw.reverse()
        how = "reversed"
    else:
        rng.shuffle(raw)
        how = "shuffled"
    _relocate_ifd(info, data, buf, d, raw)
    return f"{info.fmt()}.order: IFD{d.index} entries {how}"


VALUE_CHOICES = {
    256: [0, 1, 2, 15, 16, 17, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF],
    257: [0, 1, 2, 15, 16, 17, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF],
    322: [0, 1, 8, 15, 16, 17, 240, 256, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF],
    323: [0, 1, 8, 15, 16, 17, 240, 256, 0x7FFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0xFFFFFFFF],
    259: [0, 1, 2, 5, 6, 7, 8, 32773, 32946, 33003, 33005, 34712, 34887, 50000, 65535],
    262: [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 32844, 32845, 65535],
    277: [0, 1, 2, 3, 4, 5, 255, 65535],
    258: [0, 1, 4, 7, 8, 12, 16, 32, 64, 255, 65535],
    284: [0, 1, 2, 3, 65535],
}


def t_set_value(info: TiffInfo, data: bytes, buf: bytearray, rng: random.Random) -> str | None:
    cands = [t for t in info.entries if t.tag in VALUE_CHOICES and t.type in (3, 4, 16) and t.count >= 1]
    if not cands:
        return None
    t = rng.choice(cands)
    cur = info.values(data, t, 8)
    if not cur:
        return None
    v = rng.choice(VALUE_CHOICES[t.tag] + [cur[0] + 1, max(cur[0] - 1, 0), cur[0] * 2, cur[0] // 2, rng.getrandbits(16)])
    us = TYPE_SIZE[t.type]
    typ = t.type
    note = ""
    if v >= 1 << (8 * us) and t.count == 1 and rng.random() < 0.6:
        typ = 4 if not info.big or rng.random() < 0.5 else 16
        info.put(buf, t.pos + 2, 2, typ)
        us = TYPE_SIZE[typ]
        note = f", type -> {typ}"
        info.put(buf, t.vpos, info.osize, 0)
        info.put(buf, t.vpos, us, v)
        return f"{info.fmt()}.value: IFD{t.ifd} {tag_name(t.tag)} {cur[0]} -> {hexv(v)}{note}"
    which = range(min(t.count, 8)) if rng.random() < 0.5 else [rng.randrange(min(t.count, 8))]
    for k in which:
        info.put(buf, t.data_pos + k * us, us, v)
    sel = "all" if len(which) > 1 else f"[{which[0]}]"
    return f"{info.fmt()}.value: IFD{t.ifd} {tag_name(t.tag)}{sel if t.count > 1 else ''} {cur[0]} -> {hexv(v & ((1 << (8 * us)) - 1))}"


def t_arrays(info: TiffInfo, data: bytes, buf: bytearray, rng: random.Random) -> str | None:
    cands = [t for t in info.entries if t.tag in ARRAY_TAGS and t.type in (3, 4, 16)
             and t.count >= 1 and t.data_pos + t.nbytes <= info.size]
    if not cands:
        return None
    t = rng.choice(cands)
    us = TYPE_SIZE[t.type]
    vals = info.values(data, t, 1 << 16) or [0]
    n = len(vals)
    mode = rng.random()
    if mode < 0.6:
        idx = [rng.randrange(n)]
    elif mode < 0.85:
        s = rng.randrange(n)
        idx = list(range(s, min(n, s + rng.randint(1, 16))))
    else:
        idx = list(range(n))
    kind = rng.choice(["eof", "eof-1", "eof+1", "zero", "max32", "huge", "alias", "delta", "boundary"])
    size = info.size
    for k in idx:
        if kind == "eof":
            v = size
        elif kind == "eof-1":
            v = size - 1
        elif kind == "eof+1":
            v = size + 1
        elif kind == "zero":
            v = 0
        elif kind == "max32":
            v = 0xFFFFFFFF
        elif kind == "huge":
            v = rng.choice([0x10000000, 0x7FFFFFFF, 2**63, 2**64 - 1, 2**63 - 1, 2**40])
        elif kind == "alias":
            v = vals[rng.randrange(n)]
        elif kind == "delta":
            v = max(0, vals[k] + rng.choice([-4096, -2, -1, 1, 2, 4096]))
        else:
            v = boundaries(us, size, rng, vals[k])
        info.put(buf, t.data_pos + k * us, us, v)
    what = f"[{idx[0]}]" if len(idx) == 1 else (f"[all {n}]" if len(idx) == n else f"[{idx[0]}..{idx[-1]}]")
    return f"{info.fmt()}.array: IFD{t.ifd} {tag_name(t.tag)}{what} -> {kind} (type {t.type})"


def t_jpegtables(info: TiffInfo, data: bytes, buf: bytearray, rng: random.Random) -> str | None:
    cands = [t for t in info.entries if t.tag == 347 and t.data_pos + t.nbytes <= info.size and t.nbytes >= 4]
    if not cands:
        return None
    t = rng.choice(cands)
    r = rng.random()
    if r < 0.2:
        v = rng.choice([0, 1, 2, 3, 4, t.count - 2, t.count // 2, t.count + 1, t.count + 1000, 0xFFFFFFFF])
        info.put(buf, t.pos + 4, info.osize, v)
        return f"{info.fmt()}.jpegtables: IFD{t.ifd} JPEGTables count {t.count} -> {hexv(v)}"
    what = jpeg_mangle(buf, t.data_pos, t.data_pos + t.nbytes, rng)
    return f"{info.fmt()}.jpegtables: IFD{t.ifd} JPEGTables {what}"


def t_tile_data(info: TiffInfo, data: bytes, buf: bytearray, rng: random.Random) -> str | None:
    pairs = []
    for off_tag, cnt_tag in ((324, 325), (273, 279)):
        for o in info.find(off_tag):
            c = [x for x in info.find(cnt_tag, o.ifd)]
            if c:
                pairs.append((o, c[0]))
    if not pairs:
        return None
    o, c = rng.choice(pairs)
    offs = info.values(data, o, 1 << 16)
    cnts = info.values(data, c, 1 << 16)
    if not offs or not cnts:
        return None
    k = rng.randrange(min(len(offs), len(cnts)))
    s, n = offs[k], cnts[k]
    if s >= info.size or n < 4:
        return None
    e = min(info.size, s + n)
    what = jpeg_mangle(buf, s, e, rng) if rng.random() < 0.8 else "zeroed"
    if what == "zeroed":
        buf[s:e] = bytes(e - s)
    return f"{info.fmt()}.tile: IFD{o.ifd} {TAG_NAMES[o.tag]}[{k}] data {what}"


MPP_VALUES = ["1e300", "0", "-1", "1000", "nan", "NaN", "inf", "-inf", "1e-300", "4.9e-324", "1e308", "1.8e308", "1e999", "-1e999",
              "", " ", "abc", "0x10", "-0", "99999999999999999999999", "0.25 0.25", "1,5", "0.5e", "+0.25"]


def t_description(info: TiffInfo, data: bytes, buf: bytearray, rng: random.Random) -> str | None:
    cands = [t for t in info.entries if t.tag == 270 and t.data_pos + t.nbytes <= info.size]
    if not cands:
        return None
    t = cands[0] if rng.random() < 0.6 else rng.choice(cands)
    text = bytes(data[t.data_pos:t.data_pos + t.nbytes])
    r = rng.random()
    if r < 0.5:
        v = rng.choice(MPP_VALUES)
        key = rng.choice([b"MPP", b"MPP", b"AppMag", b"MPP"])
        import re
        pat = re.compile(rb"(\|\s*" + key + rb"\s*=\s*)([^|\0]*)")
        if pat.search(text):
            new = pat.sub(lambda m: m.group(1) + v.encode(), text, count=1)
        else:
            new = text.rstrip(b"\0") + b"|" + key + b" = " + v.encode() + b"\0"
        what = f"{key.decode()} = {v!r}"
    elif r < 0.62:
        n = rng.choice([70000, 300000, 1 << 20])
        if rng.random() < 0.5:
            new = text.rstrip(b"\0") + b"|MPP = " + b"9" * n + b"\0"
            what = f"MPP with {n} digits"
        else:
            new = text.rstrip(b"\0") + b"".join(b"|K%d = %d" % (k, k) for k in range(n // 12)) + b"\0"
            what = f"{n // 12} extra key=value pairs"
    elif r < 0.72:
        new = text.replace(b"Aperio", rng.choice([b"aperio", b"Apeiro", b"", b"Aperio\0"]), 1)
        what = "vendor prefix changed"
    elif r < 0.8:
        new = text.rstrip(b"\0")
        what = "no NUL terminator"
    elif r < 0.88:
        p = rng.randrange(max(1, len(text)))
        new = text[:p] + rng.choice([b"\xff\xfe", b"\0", b"\xc3", b"||||", b"\n\n", b"|=|", b"= ="]) + text[p:]
        what = f"odd bytes inserted at {p}"
    else:
        new = text.replace(b"|", b"|MPP = 0.5|MPP = ", 1)
        what = "duplicate MPP keys"
    # write the new value: inline when it fits, else at the end of the file
    if len(new) <= info.osize:
        info.put(buf, t.vpos, info.osize, 0)
        buf[t.vpos:t.vpos + len(new)] = new
    else:
        if len(buf) % 2:
            buf.append(0)
        off = len(buf)
        buf += new
        info.put(buf, t.vpos, info.osize, off)
    info.put(buf, t.pos + 4, info.osize, len(new))
    return f"{info.fmt()}.description: IFD{t.ifd} ImageDescription {what}"


def t_geometry(info: TiffInfo, data: bytes, buf: bytearray, rng: random.Random) -> str | None:
    """Image and tile sizes of one IFD changed together (tile bigger than the image, one
    pixel tiles, sizes whose tile counts overflow 32 or 64 bits, ...)."""
    tiled = [d for d in info.ifds if any(t.tag == 322 for t in d.entries)]
    if not tiled:
        return None
    d = rng.choice(tiled)
    combos = [
        {322: 0, 323: 0}, {322: 1, 323: 1}, {322: 16, 323: 16}, {256: 0xFFFFFFFF, 257: 0xFFFFFFFF, 322: 16, 323: 16},
        {256: 0xFFFFFFFF, 257: 0xFFFFFFFF}, {256: 1, 257: 1}, {256: 0x10000, 257: 0x10000, 322: 1, 323: 1},
        {322: 0xFFFF, 323: 0xFFFF}, {322: 0x7FFFFFFF, 323: 0x7FFFFFFF}, {256: 0x7FFFFFFF, 257: 0x7FFFFFFF, 322: 1, 323: 1},
        {256: 0, 257: 0}, {322: 256, 323: 0}, {256: 65535, 257: 65535, 322: 65535, 323: 1},
    ]
    combo = rng.choice(combos)
    done = []
    for t in d.entries:
        if t.tag in combo and t.inline and t.type in (3, 4, 16):
            v = combo[t.tag]
            us = TYPE_SIZE[t.type]
            if v >= 1 << (8 * us):
                info.put(buf, t.pos + 2, 2, 4)
                info.put(buf, t.vpos, info.osize, 0)
                us = 4
            info.put(buf, t.vpos, us, v)
            done.append(f"{TAG_NAMES[t.tag]}={hexv(v)}")
    if not done:
        return None
    return f"{info.fmt()}.geometry: IFD{d.index} " + ", ".join(done)


TIFF_MUTATORS = [
    (t_entry_field, 0.22), (t_ifd, 0.10), (t_rebuild_ifd, 0.14), (t_set_value, 0.16), (t_arrays, 0.14),
    (t_jpegtables, 0.07), (t_description, 0.10), (t_tile_data, 0.07), (t_geometry, 0.07),
]


def convert_tiff(data: bytes, big: bool = True, le: bool = True, promote: bool = True) -> bytes:
    """Rewrites a classic (or Big) TIFF as BigTIFF (`big`) or classic, little (`le`) or big
    endian. Pixel data are copied unchanged (shifted 8 bytes); every IFD and every entry
    value is written anew at the end, in the new byte order; offsets are moved. With
    `promote`, BigTIFF strip/tile offsets and byte counts become LONG8. Only valid for
    8-bit samples when the byte order changes."""
    src = TiffInfo(data)
    if not src.ifds:
        raise ValueError("no IFD")
    shift = 8  # new file: 16-byte header, then data[8:]
    bo = "little" if le else "big"
    sbo = "little" if src.le else "big"
    osize = 8 if big else 4
    out = bytearray(16)
    out[0:2] = b"II" if le else b"MM"
    out[2:4] = (43 if big else 42).to_bytes(2, bo)
    if big:
        out[4:6] = (8).to_bytes(2, bo)
    out += data[8:]
    ptr = 8 if big else 4  # where to patch the offset of the next IFD written
    for d in src.ifds:
        entries = []
        for t in d.entries:
            if t.tag in (330, 34665, 34853, 40965):
                continue  # sub-IFD pointers: not converted
            us = UNIT_SIZE.get(t.type)
            if us is None or t.data_pos + t.nbytes > src.size:
                raise ValueError(f"entry {t.tag} cannot be converted")
            raw = data[t.data_pos:t.data_pos + t.nbytes]
            typ = t.type
            if us > 1 and (t.tag in OFFSET_TAGS or sbo != bo or (big and promote and t.tag in ARRAY_TAGS)):
                vals = [int.from_bytes(raw[k:k + us], sbo) for k in range(0, len(raw), us)]
                if t.tag in OFFSET_TAGS:
                    vals = [v + shift for v in vals]
                if big and promote and t.tag in ARRAY_TAGS:
                    typ, us = 16, 8
                elif typ == 3 and any(v > 0xFFFF for v in vals):
                    typ, us = 4, 4
                raw = b"".join(v.to_bytes(us, bo) for v in vals)
            entries.append((t.tag, typ, t.count, raw))
        # out-of-line values first, then the IFD
        fields = []
        for tag, typ, count, raw in entries:
            if len(raw) <= osize:
                fields.append(raw.ljust(osize, b"\0"))
            else:
                while len(out) % (8 if big else 2):
                    out.append(0)
                fields.append(len(out).to_bytes(osize, bo))
                out += raw
        while len(out) % (8 if big else 2):
            out.append(0)
        at = len(out)
        out[ptr:ptr + osize] = at.to_bytes(osize, bo)
        out += len(entries).to_bytes(8 if big else 2, bo)
        for (tag, typ, count, raw), field in zip(entries, fields):
            out += tag.to_bytes(2, bo) + typ.to_bytes(2, bo) + count.to_bytes(osize, bo) + field
        ptr = len(out)
        out += bytes(osize)
    if not big and not le:
        # OpenSlide 4 reads a classic header's IFD offset as 64 bits (its NDPI check) and
        # keeps the low 32 bits, which in big endian are bytes 8..12: repeat the offset there
        out[8:12] = out[4:8]
    return bytes(out)


# --------------------------------------------------------------------------------------
# DICOM
# --------------------------------------------------------------------------------------

LONG_VRS = {b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"OD", b"OL", b"OV", b"UC", b"UR", b"SV", b"UV"}
TEXT_VRS = {b"AE", b"AS", b"CS", b"DA", b"DS", b"DT", b"IS", b"LO", b"LT", b"PN", b"SH", b"ST", b"TM", b"UC", b"UR", b"UT"}
UNDEF = 0xFFFFFFFF


class DNode:
    __slots__ = ("kind", "pos", "group", "elem", "vr", "hlen", "len_pos", "len_size", "length", "vpos", "end",
                 "parent", "depth")

    def tag(self) -> str:
        return f"({self.group:04X},{self.elem:04X})"


DICOM_NAMES = {
    (0x0002, 0x0000): "FileMetaGroupLength", (0x0002, 0x0010): "TransferSyntaxUID", (0x0008, 0x0008): "ImageType",
    (0x0008, 0x0016): "SOPClassUID", (0x0020, 0x000E): "SeriesInstanceUID", (0x0020, 0x9311): "DimensionOrganizationType",
    (0x0028, 0x0002): "SamplesPerPixel", (0x0028, 0x0004): "PhotometricInterpretation", (0x0028, 0x0006): "PlanarConfiguration",
    (0x0028, 0x0008): "NumberOfFrames", (0x0028, 0x0010): "Rows", (0x0028, 0x0011): "Columns",
    (0x0028, 0x0030): "PixelSpacing", (0x0028, 0x0100): "BitsAllocated", (0x0028, 0x0101): "BitsStored",
    (0x0028, 0x0102): "HighBit", (0x0048, 0x0006): "TotalPixelMatrixColumns", (0x0048, 0x0007): "TotalPixelMatrixRows",
    (0x0048, 0x0001): "ImagedVolumeWidth", (0x0048, 0x0002): "ImagedVolumeHeight", (0x0048, 0x0303): "TotalPixelMatrixFocalPlanes",
    (0x0048, 0x0302): "NumberOfOpticalPaths", (0x7FE0, 0x0010): "PixelData", (0x5200, 0x9229): "SharedFunctionalGroups",
    (0x5200, 0x9230): "PerFrameFunctionalGroups", (0x0020, 0x9228): "ConcatenationFrameOffsetNumber",
    (0x0048, 0x021A): "PlanePositionSlideSequence", (0x0048, 0x021E): "ColumnPositionInTotalImagePixelMatrix",
    (0x0048, 0x021F): "RowPositionInTotalImagePixelMatrix", (0x0020, 0x000D): "StudyInstanceUID",
    (0x0008, 0x0018): "SOPInstanceUID", (0x0028, 0x9110): "PixelMeasuresSequence",
}


def dname(g: int, e: int) -> str:
    return f"{DICOM_NAMES.get((g, e), 'Element')}({g:04X},{e:04X})"


class DicomInfo:
    def __init__(self, data: bytes):
        self.size = len(data)
        self.nodes: list[DNode] = []
        self.by_tag: dict[tuple[int, int], list[int]] = {}
        self.explicit = True
        self.ok = self.size >= 132 and data[128:132] == b"DICM"
        if self.ok:
            try:
                self._dataset(data, 132, None, None, 0)
            except (IndexError, struct.error, RecursionError):
                pass
        for i, n in enumerate(self.nodes):
            if n.kind == "elem":
                self.by_tag.setdefault((n.group, n.elem), []).append(i)

    def _node(self, **kw) -> int:
        n = DNode()
        for k, v in kw.items():
            setattr(n, k, v)
        self.nodes.append(n)
        return len(self.nodes) - 1

    def _dataset(self, b: bytes, pos: int, end: int | None, parent: int | None, depth: int) -> int:
        size = self.size
        limit = size if end is None else min(end, size)
        while pos + 8 <= limit and len(self.nodes) < 200000:
            g, e = struct.unpack_from("<HH", b, pos)
            if g == 0xFFFE:
                ln = struct.unpack_from("<I", b, pos + 4)[0]
                kind = "item-delim" if e == 0xE00D else ("seq-delim" if e == 0xE0DD else "stray")
                self._node(kind=kind, pos=pos, group=g, elem=e, vr=b"", hlen=8, len_pos=pos + 4, len_size=4,
                           length=ln, vpos=pos + 8, end=pos + 8, parent=parent, depth=depth)
                return pos + 8
            if g != 2 and not self.explicit:
                vr = b"UN"
                ln = struct.unpack_from("<I", b, pos + 4)[0]
                hlen, len_pos, len_size = 8, pos + 4, 4
            else:
                vr = bytes(b[pos + 4:pos + 6])
                if vr in LONG_VRS:
                    if pos + 12 > size:
                        return pos
                    ln = struct.unpack_from("<I", b, pos + 8)[0]
                    hlen, len_pos, len_size = 12, pos + 8, 4
                else:
                    ln = struct.unpack_from("<H", b, pos + 6)[0]
                    hlen, len_pos, len_size = 8, pos + 6, 2
            vpos = pos + hlen
            idx = self._node(kind="elem", pos=pos, group=g, elem=e, vr=vr, hlen=hlen, len_pos=len_pos,
                             len_size=len_size, length=ln, vpos=vpos, end=vpos if ln == UNDEF else vpos + ln,
                             parent=parent, depth=depth)
            if g == 2 and e == 0x10 and ln != UNDEF:
                ts = bytes(b[vpos:vpos + ln]).rstrip(b"\0 ")
                self.explicit = ts != b"1.2.840.10008.1.2"
            if (g, e) == (0x7FE0, 0x0010) and ln == UNDEF:
                pos = self._items(b, vpos, None, idx, depth + 1, fragments=True)
                self.nodes[idx].end = pos
                continue
            if vr == b"SQ" or ln == UNDEF:
                if depth >= 24:
                    return pos
                stop = self._items(b, vpos, None if ln == UNDEF else vpos + ln, idx, depth + 1, fragments=False)
                if ln == UNDEF:
                    self.nodes[idx].end = stop
                    pos = stop
                else:
                    pos = vpos + ln
                continue
            pos = vpos + ln
        return pos

    def _items(self, b: bytes, pos: int, end: int | None, parent: int, depth: int, fragments: bool) -> int:
        size = self.size
        while pos + 8 <= size and (end is None or pos < end) and len(self.nodes) < 200000:
            g, e, ln = struct.unpack_from("<HHI", b, pos)
            if (g, e) == (0xFFFE, 0xE0DD):
                self._node(kind="seq-delim", pos=pos, group=g, elem=e, vr=b"", hlen=8, len_pos=pos + 4, len_size=4,
                           length=ln, vpos=pos + 8, end=pos + 8, parent=parent, depth=depth)
                return pos + 8
            if (g, e) != (0xFFFE, 0xE000):
                return pos
            kind = "fragment" if fragments else "item"
            idx = self._node(kind=kind, pos=pos, group=g, elem=e, vr=b"", hlen=8, len_pos=pos + 4, len_size=4,
                             length=ln, vpos=pos + 8, end=pos + 8 + (0 if ln == UNDEF else ln), parent=parent, depth=depth)
            if fragments:
                if ln == UNDEF:
                    return pos + 8
                pos = pos + 8 + ln
            elif ln == UNDEF:
                pos = self._dataset(b, pos + 8, None, idx, depth + 1)
                self.nodes[idx].end = pos
            else:
                self._dataset(b, pos + 8, pos + 8 + ln, idx, depth + 1)
                pos = pos + 8 + ln
        return pos

    def elems(self, g: int, e: int) -> list[DNode]:
        return [self.nodes[i] for i in self.by_tag.get((g, e), [])]

    def pixel(self) -> DNode | None:
        p = self.elems(0x7FE0, 0x0010)
        return p[-1] if p else None

    def fragments(self) -> list[DNode]:
        return [n for n in self.nodes if n.kind == "fragment"]

    def hot(self) -> list[tuple[int, int]]:
        p = self.pixel()
        end = p.vpos + 64 if p else min(self.size, 8192)
        return [(0, min(end, self.size))]


def d_fix_lengths(info: DicomInfo, buf: bytearray, node: DNode, delta: int) -> None:
    """After `delta` bytes were added inside `node`'s parent chain, fix every enclosing
    defined length, and the file meta group length when the change is in group 0002."""
    p = node.parent
    while p is not None:
        a = info.nodes[p]
        if a.length != UNDEF and a.len_pos + a.len_size <= len(buf):
            cur = int.from_bytes(buf[a.len_pos:a.len_pos + a.len_size], "little")
            buf[a.len_pos:a.len_pos + a.len_size] = ((cur + delta) & ((1 << (8 * a.len_size)) - 1)).to_bytes(a.len_size, "little")
        p = a.parent
    if node.group == 2 and node.kind == "elem":
        for gl in info.elems(2, 0):
            if gl.length == 4 and gl.vpos + 4 <= len(buf):
                cur = struct.unpack_from("<I", buf, gl.vpos)[0]
                struct.pack_into("<I", buf, gl.vpos, (cur + delta) & 0xFFFFFFFF)


def d_replace(info: DicomInfo, data: bytes, node: DNode, value: bytes, pad: bool = True) -> bytearray:
    """A copy of data with node's value replaced (lengths fixed up). Only for nodes later
    than any already-applied edit (callers use one edit per call)."""
    if pad and len(value) % 2:
        value += b" " if node.vr in TEXT_VRS else b"\0"
    if node.len_size == 2 and len(value) > 0xFFFF:
        value = value[:0xFFFE]
    buf = bytearray(data)
    old = 0 if node.length == UNDEF else node.length
    buf[node.vpos:node.vpos + old] = value
    buf[node.len_pos:node.len_pos + node.len_size] = len(value).to_bytes(node.len_size, "little")
    d_fix_lengths(info, buf, node, len(value) - old)
    return buf


STRING_CHOICES = {
    (0x0028, 0x0008): [b"0", b"1", b"2", b"-1", b"2147483647", b"2147483648", b"4294967296", b"99999999999999999999",
                       b"", b"abc", b"1e3", b" 3", b"1\\2", b"+5", b"0x10", b"9223372036854775807", b"9223372036854775808"],
    (0x0020, 0x9311): [b"TILED_SPARSE", b"TILED_FULL", b"3D", b"", b"TILED_SPARSE\\TILED_FULL", b"tiled_full", b"\0\0",
                       b"X" * 300],
    (0x0002, 0x0010): [b"1.2.840.10008.1.2", b"1.2.840.10008.1.2.1", b"1.2.840.10008.1.2.2", b"1.2.840.10008.1.2.4.50",
                       b"1.2.840.10008.1.2.4.51", b"1.2.840.10008.1.2.4.57", b"1.2.840.10008.1.2.4.70",
                       b"1.2.840.10008.1.2.4.80", b"1.2.840.10008.1.2.4.90", b"1.2.840.10008.1.2.4.91",
                       b"1.2.840.10008.1.2.4.201", b"1.2.840.10008.1.2.5", b"1.2.840.10008.1.2.1.99", b"", b"garbage",
                       b"1.2.840.10008.1.2.4.50\0\0\0"],
    (0x0008, 0x0008): [b"ORIGINAL\\PRIMARY\\VOLUME\\NONE", b"DERIVED\\PRIMARY\\VOLUME\\RESAMPLED", b"ORIGINAL\\PRIMARY\\LABEL\\NONE",
                       b"ORIGINAL\\PRIMARY\\OVERVIEW\\NONE", b"ORIGINAL\\PRIMARY\\THUMBNAIL\\NONE", b"", b"\\\\\\",
                       b"VOLUME", b"ORIGINAL\\PRIMARY", b"ORIGINAL\\PRIMARY\\VOLUME", b"A\\B\\VOLUME\\RESAMPLED\\X\\Y",
                       b"\\" * 2000],
    (0x0028, 0x0004): [b"RGB", b"YBR_FULL_422", b"YBR_FULL", b"MONOCHROME2", b"MONOCHROME1", b"PALETTE COLOR",
                       b"YBR_ICT", b"YBR_RCT", b"YBR_PARTIAL_420", b"", b"garbage", b"RGB\\RGB"],
    (0x0028, 0x0030): [b"0\\0", b"1e300\\1e300", b"-1\\-1", b"nan\\nan", b"", b"0.0005", b"0.00025\\", b"inf\\inf",
                       b"1e-320\\1e-320", b"abc\\def", b"0.0005\\0.0005\\0.0005"],
    (0x0020, 0x000E): [b"", b"1.2.3", b"1.2.3.4.5.6.7.8.9", b"\0", b"X" * 64],
    (0x0008, 0x0016): [b"1.2.840.10008.5.1.4.1.1.77.1.6", b"1.2.840.10008.5.1.4.1.1.7", b"", b"1.2.3"],
}
NUMERIC_TAGS = {
    (0x0028, 0x0010): 2, (0x0028, 0x0011): 2, (0x0028, 0x0002): 2, (0x0028, 0x0100): 2, (0x0028, 0x0101): 2,
    (0x0028, 0x0102): 2, (0x0028, 0x0006): 2, (0x0048, 0x0006): 4, (0x0048, 0x0007): 4, (0x0048, 0x0303): 4,
    (0x0048, 0x0302): 4, (0x0020, 0x9228): 4,
}


def d_value(info: DicomInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    present = [k for k in list(NUMERIC_TAGS) + list(STRING_CHOICES) if k in info.by_tag]
    if not present:
        return None
    key = rng.choice(present)
    nodes = info.elems(*key)
    top = [n for n in nodes if n.depth == 0]
    node = rng.choice(top) if top and rng.random() < 0.8 else rng.choice(nodes)
    if node.length == UNDEF or node.vpos + node.length > info.size:
        return None
    if key in NUMERIC_TAGS:
        w = NUMERIC_TAGS[key]
        if node.length < w:
            return None
        cur = int.from_bytes(data[node.vpos:node.vpos + w], "little")
        if w == 2:
            choices = [0, 1, 2, 3, 7, 8, 16, 0x7FFF, 0x8000, 0xFFFF, cur + 1, max(cur - 1, 0), cur * 2, rng.getrandbits(16)]
        else:
            choices = [0, 1, 2, 0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000, 0x10000, cur + 1, max(cur - 1, 0),
                       cur * 2, cur * 1000, rng.getrandbits(32)]
        v = rng.choice(choices) & ((1 << (8 * w)) - 1)
        buf = bytearray(data)
        buf[node.vpos:node.vpos + w] = v.to_bytes(w, "little")
        return bytes(buf), f"dicom.value: {dname(*key)} {cur} -> {hexv(v)}"
    old = bytes(data[node.vpos:node.vpos + node.length]).rstrip(b"\0 ")
    new = rng.choice(STRING_CHOICES[key])
    pad = rng.random() < 0.9
    buf = d_replace(info, data, node, new, pad=pad)
    return bytes(buf), f"dicom.value: {dname(*key)} {old[:40]!r} -> {new[:40]!r}{'' if pad else ' (unpadded)'}"


def d_insert(info: DicomInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    """Inserts (or duplicates) a top-level element in tag order."""
    top = [n for n in info.nodes if n.kind == "elem" and n.depth == 0 and n.group != 2]
    if not top:
        return None
    choices = [
        ((0x0020, 0x9311), b"CS", b"TILED_SPARSE"), ((0x0020, 0x9311), b"CS", b"TILED_FULL"),
        ((0x0048, 0x0006), b"UL", struct.pack("<I", rng.choice([0, 1, 0xFFFFFFFF, 0xFFFFFFFE, 2220]))),
        ((0x0048, 0x0007), b"UL", struct.pack("<I", rng.choice([0, 1, 0xFFFFFFFF, 0xFFFFFFFE, 2967]))),
        ((0x0028, 0x0008), b"IS", rng.choice([b"0", b"1", b"999999", b"-1"])),
        ((0x0028, 0x0010), b"US", struct.pack("<H", rng.choice([0, 1, 0xFFFF, 256]))),
        ((0x0028, 0x0011), b"US", struct.pack("<H", rng.choice([0, 1, 0xFFFF, 256]))),
        ((0x0008, 0x0008), b"CS", b"ORIGINAL\\PRIMARY\\VOLUME\\NONE"),
        ((0x0020, 0x000E), b"UI", b"1.2.3.4"),
    ]
    (g, e), vr, value = rng.choice(choices)
    if len(value) % 2:
        value += b" " if vr in TEXT_VRS else b"\0"
    elem = struct.pack("<HH", g, e) + vr + struct.pack("<H", len(value)) + value
    after = [n for n in top if (n.group, n.elem) >= (g, e)]
    at = after[0].pos if after and rng.random() < 0.85 else rng.choice(top).pos
    buf = bytearray(data)
    buf[at:at] = elem
    dup = " (duplicate)" if (g, e) in info.by_tag else ""
    return bytes(buf), f"dicom.insert: {dname(g, e)} = {value[:24]!r} at {at}{dup}"


def d_length(info: DicomInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    elems = [n for n in info.nodes if n.kind == "elem"]
    if not elems:
        return None
    important = [n for n in elems if (n.group, n.elem) in DICOM_NAMES or n.vr == b"SQ"]
    n = rng.choice(important) if important and rng.random() < 0.6 else rng.choice(elems)
    mask = (1 << (8 * n.len_size)) - 1
    cur = n.length
    v = rng.choice([0, 1, 2, cur + 1, max(cur - 1, 0), cur + 2, max(cur - 2, 0), cur ^ 1, cur * 2, UNDEF, 0xFFFFFFFE,
                    0x7FFFFFFF, 0x7FFFFFF0, info.size - n.vpos + rng.randint(1, 100), info.size - n.vpos]) & mask
    buf = bytearray(data)
    buf[n.len_pos:n.len_pos + n.len_size] = v.to_bytes(n.len_size, "little")
    return bytes(buf), f"dicom.length: {dname(n.group, n.elem)} {n.vr.decode('latin-1')} length {hexv(cur)} -> {hexv(v)}"


def d_item(info: DicomInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    items = [n for n in info.nodes if n.kind in ("item", "fragment")]
    if not items:
        return None
    frags = [n for n in items if n.kind == "fragment"]
    n = rng.choice(frags) if frags and rng.random() < 0.6 else rng.choice(items)
    idx = frags.index(n) if n in frags else -1
    what = f"{n.kind} {idx if idx >= 0 else ''} at {n.pos}".replace("  ", " ")
    buf = bytearray(data)
    if rng.random() < 0.75:
        cur = n.length
        v = rng.choice([0, 1, 2, 3, cur + 1, max(cur - 1, 0), cur ^ 1, cur * 2, UNDEF, 0xFFFFFFFE, 0x7FFFFFFF,
                        info.size - n.vpos + rng.randint(1, 100), info.size - n.vpos, 0xFFFFFFF8]) & 0xFFFFFFFF
        struct.pack_into("<I", buf, n.len_pos, v)
        return bytes(buf), f"dicom.item: {what} length {hexv(cur)} -> {hexv(v)}"
    t = rng.choice([(0xFFFE, 0xE00D), (0xFFFE, 0xE0DD), (0xFFFE, 0x0000), (0xFEFF, 0x00E0), (0x7FE0, 0x0010), (0, 0)])
    struct.pack_into("<HH", buf, n.pos, *t)
    return bytes(buf), f"dicom.item: {what} tag -> ({t[0]:04X},{t[1]:04X})"


def d_delim(info: DicomInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    delims = [n for n in info.nodes if n.kind in ("seq-delim", "item-delim")]
    if not delims:
        return None
    p = info.pixel()
    pix = [n for n in delims if p is not None and n.parent is not None and info.nodes[n.parent] is p]
    n = rng.choice(pix) if pix and rng.random() < 0.4 else rng.choice(delims)
    buf = bytearray(data)
    del buf[n.pos:n.pos + 8]
    d_fix_lengths(info, buf, n, -8)
    owner = info.nodes[n.parent] if n.parent is not None else None
    where = dname(owner.group, owner.elem) if owner is not None and owner.kind == "elem" else (owner.kind if owner else "top")
    return bytes(buf), f"dicom.delimiter: removed {n.kind} {n.tag()} of {where} at {n.pos}"


def d_pixels(info: DicomInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    p = info.pixel()
    if p is None:
        return None
    frags = info.fragments()
    r = rng.random()
    if r < 0.35 or not frags:
        end = min(info.size, p.end if p.end > p.vpos else info.size)
        kind = rng.random()
        if frags and kind < 0.3:
            f = rng.choice(frags)
            cut = f.pos + rng.choice([0, 1, 4, 7, 8, 9])
        elif kind < 0.4:
            cut = max(p.vpos, end - rng.randint(1, 16))
        else:
            cut = rng.randrange(p.pos, max(p.pos + 1, end))
        return bytes(data[:cut]), f"dicom.truncate: inside PixelData at {cut} of {info.size}"
    buf = bytearray(data)
    if r < 0.65:
        real = frags[1:] if len(frags) > 1 else frags
        f = rng.choice(real)
        if f.vpos + f.length > info.size or f.length < 4:
            return None
        what = jpeg_mangle(buf, f.vpos, f.vpos + f.length, rng)
        return bytes(buf), f"dicom.fragment: fragment {frags.index(f)} {what}"
    if r < 0.75:
        bot = frags[0]
        if bot.length >= 4 and bot.vpos + bot.length <= info.size:
            k = rng.randrange(bot.length // 4)
            v = rng.choice([0, 1, 0xFFFFFFFF, 0x7FFFFFFF, info.size, rng.getrandbits(32)])
            struct.pack_into("<I", buf, bot.vpos + 4 * k, v)
            return bytes(buf), f"dicom.fragment: basic offset table[{k}] -> {hexv(v)}"
        # empty BOT: give it garbage entries
        extra = struct.pack("<II", 0, rng.choice([0xFFFFFFFF, 8, info.size]))
        buf[bot.vpos:bot.vpos] = extra
        struct.pack_into("<I", buf, bot.len_pos, len(extra))
        return bytes(buf), "dicom.fragment: basic offset table filled with 2 garbage entries"
    if r < 0.88 and len(frags) > 1:
        f = rng.choice(frags[1:])
        if f.vpos + f.length > info.size:
            return None
        del buf[f.pos:f.vpos + f.length]
        return bytes(buf), f"dicom.fragment: removed fragment {frags.index(f)}"
    f = rng.choice(frags)
    if f.vpos + f.length > info.size:
        return None
    chunk = bytes(data[f.pos:f.vpos + f.length])
    times = rng.choice([1, 1, 2, 100])
    buf[f.vpos + f.length:f.vpos + f.length] = chunk * times
    return bytes(buf), f"dicom.fragment: fragment {frags.index(f)} duplicated x{times}"


def d_vr(info: DicomInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    elems = [n for n in info.nodes if n.kind == "elem" and n.hlen in (8, 12) and n.vr != b"UN"]
    if not elems:
        return None
    important = [n for n in elems if (n.group, n.elem) in DICOM_NAMES]
    n = rng.choice(important) if important and rng.random() < 0.6 else rng.choice(elems)
    v = rng.choice([b"OB", b"SQ", b"UN", b"US", b"UL", b"UT", b"\0\0", b"xx", b"ob", b"CS", b"FD"])
    buf = bytearray(data)
    buf[n.pos + 4:n.pos + 6] = v
    return bytes(buf), f"dicom.vr: {dname(n.group, n.elem)} VR {n.vr.decode('latin-1')} -> {v.decode('latin-1')}"


def d_geometry(info: DicomInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    """Rows, Columns, TotalPixelMatrixColumns/Rows and NumberOfFrames changed together."""
    combos = [
        {(0x28, 0x10): 1, (0x28, 0x11): 1, (0x48, 0x6): 0xFFFFFFFF, (0x48, 0x7): 0xFFFFFFFF},
        {(0x28, 0x10): 0, (0x28, 0x11): 0}, {(0x28, 0x10): 0}, {(0x28, 0x11): 0},
        {(0x48, 0x6): 0, (0x48, 0x7): 0}, {(0x48, 0x6): 0xFFFFFFFF, (0x48, 0x7): 0xFFFFFFFF},
        {(0x28, 0x10): 1, (0x28, 0x11): 1}, {(0x28, 0x10): 0xFFFF, (0x28, 0x11): 0xFFFF},
        {(0x48, 0x6): 0x80000000, (0x48, 0x7): 0x80000000, (0x28, 0x10): 1, (0x28, 0x11): 1},
        {(0x48, 0x6): 1, (0x48, 0x7): 1}, {(0x28, 0x8): b"1", (0x48, 0x6): 0xFFFFFFFF},
        {(0x28, 0x8): b"0"}, {(0x28, 0x8): b"4294967297"}, {(0x28, 0x10): 1, (0x28, 0x11): 1, (0x28, 0x8): b"1"},
    ]
    combo = rng.choice(combos)
    buf = bytearray(data)
    done = []
    frames = None
    for key, v in combo.items():
        nodes = [n for n in info.elems(*key) if n.depth == 0]
        if not nodes:
            continue
        n = nodes[0]
        if isinstance(v, bytes):
            frames = (n, v)
            continue
        w = 2 if key[0] == 0x28 else 4
        if n.length < w or n.vpos + w > len(buf):
            continue
        buf[n.vpos:n.vpos + w] = v.to_bytes(w, "little")
        done.append(f"{DICOM_NAMES[key]}={hexv(v)}")
    if frames is not None:
        n, v = frames
        buf = d_replace(info, bytes(buf), n, v)
        done.append(f"NumberOfFrames={v.decode()}")
    if not done:
        return None
    return bytes(buf), "dicom.geometry: " + ", ".join(done)


DICOM_MUTATORS = [(d_value, 0.26), (d_geometry, 0.08), (d_insert, 0.06), (d_length, 0.16), (d_item, 0.12), (d_delim, 0.08),
                  (d_pixels, 0.20), (d_vr, 0.08)]


def mutate_dicom(info: DicomInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    for _ in range(6):
        f = weighted(DICOM_MUTATORS, rng)
        res = f(info, data, rng)
        if res is not None:
            return res
    return None


# --------------------------------------------------------------------------------------
# zip
# --------------------------------------------------------------------------------------

class ZEntry:
    __slots__ = ("cd_pos", "lh_pos", "name", "cextra", "lextra", "comment", "method", "flags", "crc", "csize", "usize",
                 "data_pos", "vmade", "vneed", "time", "date", "iattr", "eattr", "lname", "lmethod", "lflags")


class ZipInfo:
    def __init__(self, data: bytes):
        self.size = len(data)
        self.entries: list[ZEntry] = []
        self.eocd = -1
        self.comment = b""
        self.cd_offset = self.cd_size = self.count = 0
        self._parse(data)

    def _parse(self, b: bytes) -> None:
        start = max(0, self.size - 65557)
        self.eocd = b.rfind(b"PK\x05\x06", start)
        if self.eocd >= 0 and self.eocd + 22 <= self.size:
            (_, _, _, _, self.count, self.cd_size, self.cd_offset, clen) = struct.unpack_from("<IHHHHIIH", b, self.eocd)
            self.comment = bytes(b[self.eocd + 22:self.eocd + 22 + clen])
            p = self.cd_offset
            while p + 46 <= self.size and b[p:p + 4] == b"PK\x01\x02" and len(self.entries) < 65536:
                f = struct.unpack_from("<IHHHHHHIIIHHHHHII", b, p)
                z = ZEntry()
                z.cd_pos = p
                (_, z.vmade, z.vneed, z.flags, z.method, z.time, z.date, z.crc, z.csize, z.usize, nlen, xlen, clen,
                 _, z.iattr, z.eattr, z.lh_pos) = f
                z.name = bytes(b[p + 46:p + 46 + nlen])
                z.cextra = bytes(b[p + 46 + nlen:p + 46 + nlen + xlen])
                z.comment = bytes(b[p + 46 + nlen + xlen:p + 46 + nlen + xlen + clen])
                self._local(b, z)
                self.entries.append(z)
                p += 46 + nlen + xlen + clen
        if not self.entries:
            # no usable central directory (a truncated zip): scan the local headers
            p = 0
            while p + 30 <= self.size and b[p:p + 4] == b"PK\x03\x04" and len(self.entries) < 65536:
                z = ZEntry()
                z.cd_pos = -1
                z.lh_pos = p
                (_, z.vneed, z.flags, z.method, z.time, z.date, z.crc, z.csize, z.usize, nlen, xlen) = \
                    struct.unpack_from("<IHHHHHIIIHH", b, p)
                z.vmade, z.iattr, z.eattr, z.cextra, z.comment = 20, 0, 0, b"", b""
                z.name = bytes(b[p + 30:p + 30 + nlen])
                self._local(b, z)
                self.entries.append(z)
                p = z.data_pos + z.csize

    def _local(self, b: bytes, z: ZEntry) -> None:
        p = z.lh_pos
        if p + 30 <= self.size and b[p:p + 4] == b"PK\x03\x04":
            (_, _, z.lflags, z.lmethod, _, _, _, _, _, nlen, xlen) = struct.unpack_from("<IHHHHHIIIHH", b, p)
            z.lname = bytes(b[p + 30:p + 30 + nlen])
            z.lextra = bytes(b[p + 30 + nlen:p + 30 + nlen + xlen])
            z.data_pos = p + 30 + nlen + xlen
        else:
            z.lname, z.lextra, z.data_pos, z.lflags, z.lmethod = z.name, b"", -1, z.flags, z.method

    def valid(self) -> list[ZEntry]:
        return [z for z in self.entries if z.data_pos >= 0 and z.data_pos + z.csize <= self.size]

    def hot(self) -> list[tuple[int, int]]:
        if self.eocd >= 0:
            return [(min(self.cd_offset, self.eocd), self.size)]
        return [(0, min(self.size, 4096))]


class ZItem:
    """One entry of a zip being rebuilt."""

    def __init__(self, name: bytes, data: bytes, method: int, crc: int, usize: int, flags: int = 0, eattr: int = 0,
                 lextra: bytes = b"", cextra: bytes = b"", lname: bytes | None = None, time: int = 0, date: int = 0x21,
                 vmade: int = 20, csize: int | None = None, lusize: int | None = None, lcsize: int | None = None):
        self.name, self.data, self.method, self.crc, self.usize = name, data, method, crc, usize
        self.flags, self.eattr, self.lextra, self.cextra = flags, eattr, lextra, cextra
        self.lname = name if lname is None else lname
        self.time, self.date, self.vmade = time, date, vmade
        self.csize = len(data) if csize is None else csize
        self.lusize = usize if lusize is None else lusize
        self.lcsize = self.csize if lcsize is None else lcsize
        self.extra_cd = 0  # extra central records pointing at this local header


def items_from(info: ZipInfo, data: bytes) -> list[ZItem]:
    out = []
    for z in info.valid():
        out.append(ZItem(z.name, bytes(data[z.data_pos:z.data_pos + z.csize]), z.method, z.crc, z.usize, z.flags,
                         z.eattr, z.lextra, z.cextra, z.lname, z.time, z.date, z.vmade))
    return out


def build_zip(items: list[ZItem], comment: bytes = b"", count_delta: int = 0) -> bytes:
    out = bytearray()
    cd = bytearray()
    n = 0
    for it in items:
        lh = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, it.flags & 0xFFFF, it.method & 0xFFFF, it.time, it.date,
                           it.crc & 0xFFFFFFFF, it.lcsize & 0xFFFFFFFF, it.lusize & 0xFFFFFFFF, len(it.lname) & 0xFFFF,
                           len(it.lextra))
        out += it.lname + it.lextra + it.data
        for _ in range(1 + it.extra_cd):
            cd += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, it.vmade, 20, it.flags & 0xFFFF, it.method & 0xFFFF,
                              it.time, it.date, it.crc & 0xFFFFFFFF, it.csize & 0xFFFFFFFF, it.usize & 0xFFFFFFFF,
                              len(it.name) & 0xFFFF, len(it.cextra), 0, 0, 0, it.eattr & 0xFFFFFFFF, lh)
            cd += it.name + it.cextra
            n += 1
    cdo = len(out)
    out += cd
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, (n + count_delta) & 0xFFFF, (n + count_delta) & 0xFFFF,
                       len(cd), cdo, len(comment))
    out += comment
    return bytes(out)


def raw_deflate(data: bytes, level: int = 1) -> bytes:
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def z_field(info: ZipInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    """Sizes, method or CRC of one entry, in the local header, the central one, or both."""
    ents = [z for z in info.entries]
    if not ents:
        return None
    z = rng.choice(ents)
    field = rng.choice(["csize", "usize", "usize", "method", "crc", "flags"])
    where = rng.choice(["local", "central", "both", "both"]) if z.cd_pos >= 0 else "local"
    lofs = {"flags": (6, 2), "method": (8, 2), "crc": (14, 4), "csize": (18, 4), "usize": (22, 4)}[field]
    cofs = {"flags": (8, 2), "method": (10, 2), "crc": (16, 4), "csize": (20, 4), "usize": (24, 4)}[field]
    cur = getattr(z, field)
    if field in ("csize", "usize"):
        v = rng.choice([0, 1, cur - 1, cur + 1, cur * 2, 0xFFFFFFFF, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000,
                        z.csize * 200, z.csize * 200 + 1, z.csize * 201, rng.getrandbits(32), 1 << 20, (1 << 20) + 1])
    elif field == "method":
        v = rng.choice([0, 1, 6, 8, 9, 12, 14, 93, 95, 98, 99, 0xFFFF, rng.getrandbits(16)])
    elif field == "crc":
        v = rng.choice([0, cur ^ 1, 0xFFFFFFFF, rng.getrandbits(32)])
    else:
        v = rng.choice([1, 8, 1 << 11, 0x41, 0xFFFF, 1 << 6, 1 << 13])
    size = lofs[1]
    v &= (1 << (8 * size)) - 1
    buf = bytearray(data)
    if where in ("local", "both") and z.lh_pos + 30 <= len(buf):
        buf[z.lh_pos + lofs[0]:z.lh_pos + lofs[0] + size] = v.to_bytes(size, "little")
    if where in ("central", "both") and z.cd_pos >= 0:
        buf[z.cd_pos + cofs[0]:z.cd_pos + cofs[0] + size] = v.to_bytes(size, "little")
    return bytes(buf), f"zip.{field}: {z.name[:60]!r} {field} {hexv(cur)} -> {hexv(v)} ({where})"


NAME_CHOICES = [b"../{n}", b"/{n}", b"/tmp/{b}", b"../../../../../../tmp/{b}", b"a/../../{b}", b"C:\\{b}", b"..\\{b}",
                b"C:{b}", b"x" * 4000 + b".dcm", b"y" * 65000, b"", b"dir/", b"{n}\0hidden", b"./{n}", b"._{b}",
                b"__MACOSX/{b}", b".", b"..", b"\xc3\xa9{b}", b"\xff\xfe{b}", b"{n}/", b"//{b}", b"a\\..\\..\\{b}",
                b"...", b"\\\\server\\{b}", b"{n} ", b"\n{b}"]


def z_name(info: ZipInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    items = items_from(info, data)
    if not items:
        return None
    it = rng.choice(items)
    base = it.name.rsplit(b"/", 1)[-1]
    if rng.random() < 0.15 and len(items) > 1:
        other = rng.choice([x for x in items if x is not it])
        new = other.name if rng.random() < 0.5 else b"other/" + other.name.rsplit(b"/", 1)[-1]
        how = "collides with another entry"
    else:
        new = rng.choice(NAME_CHOICES).replace(b"{n}", it.name).replace(b"{b}", base)
        how = ""
    where = rng.choice(["both", "both", "central", "local"])
    old = it.name
    if where in ("both", "central"):
        it.name = new
    if where in ("both", "local"):
        it.lname = new
    return build_zip(items, info.comment), f"zip.name: {old[:60]!r} -> {new[:60]!r}{' (' + how + ')' if how else ''} ({where})"


def z_data(info: ZipInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    ents = [z for z in info.valid() if z.csize > 0]
    if not ents:
        return None
    z = rng.choice(ents)
    buf = bytearray(data)
    s, e = z.data_pos, z.data_pos + z.csize
    kind = rng.choice(["zero", "zero", "ff", "random", "empty-stored-blocks", "flip", "other-entry"])
    if kind == "zero":
        buf[s:e] = bytes(e - s)
    elif kind == "ff":
        buf[s:e] = b"\xff" * (e - s)
    elif kind == "random":
        buf[s:e] = rng.randbytes(e - s)
    elif kind == "empty-stored-blocks":
        pat = b"\x00\x00\x00\xff\xff"
        buf[s:e] = (pat * ((e - s) // 5 + 1))[:e - s]
    elif kind == "flip":
        for _ in range(rng.randint(1, 16)):
            buf[rng.randrange(s, e)] ^= 1 << rng.randrange(8)
    else:
        o = rng.choice(ents)
        chunk = bytes(data[o.data_pos:o.data_pos + o.csize])
        buf[s:e] = (chunk * ((e - s) // max(len(chunk), 1) + 1))[:e - s]
    return bytes(buf), f"zip.data: {z.name[:60]!r} data -> {kind} ({z.csize} bytes, sizes kept)"


def z_truncate(info: ZipInfo, data: bytes, rng: random.Random) -> tuple[bytes, str]:
    n = info.size
    k = rng.random()
    if info.eocd >= 0 and k < 0.25:
        cut = info.eocd + rng.randrange(22)
        where = "inside the end record"
    elif info.eocd >= 0 and k < 0.5 and info.cd_offset < n:
        cut = rng.randrange(min(info.cd_offset, n), max(min(info.eocd, n), min(info.cd_offset, n) + 1))
        where = "inside the central directory"
    elif k < 0.6 and info.entries:
        z = rng.choice(info.entries)
        cut = min(n, z.lh_pos + rng.choice([0, 4, 29, 30, 31]))
        where = "at a local header"
    else:
        cut = rng.randrange(max(n, 1))
        where = "anywhere"
    return bytes(data[:cut]), f"zip.truncate: at {cut} of {n} ({where})"


def z_dup(info: ZipInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    items = items_from(info, data)
    if not items:
        return None
    it = rng.choice(items)
    k = rng.random()
    if k < 0.4:
        copy = ZItem(it.name, it.data, it.method, it.crc, it.usize, it.flags, it.eattr, it.lextra, it.cextra, it.lname)
        items.insert(rng.randrange(len(items) + 1), copy)
        return build_zip(items, info.comment), f"zip.dup: entry {it.name[:60]!r} twice"
    if k < 0.6:
        it.extra_cd = rng.choice([1, 2, 100])
        return build_zip(items, info.comment), f"zip.dup: {it.extra_cd} extra central records for {it.name[:60]!r}"
    if k < 0.8 and len(items) > 1:
        items.remove(it)
        return build_zip(items, info.comment), f"zip.drop: entry {it.name[:60]!r} removed"
    delta = rng.choice([-1, 1, 100, -len(items)])
    return build_zip(items, info.comment, count_delta=delta), f"zip.eocd: entry count off by {delta}"


def z_eocd(info: ZipInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    if info.eocd < 0 or info.eocd + 22 > info.size:
        return None
    field = rng.choice(["count", "total", "cd_size", "cd_offset", "comment", "disk"])
    ofs = {"disk": (4, 2), "count": (8, 2), "total": (10, 2), "cd_size": (12, 4), "cd_offset": (16, 4), "comment": (20, 2)}[field]
    size = ofs[1]
    cur = int.from_bytes(data[info.eocd + ofs[0]:info.eocd + ofs[0] + size], "little")
    v = rng.choice([0, 1, cur + 1, max(cur - 1, 0), 0xFFFF, 0xFFFFFFFF, info.size, info.size + 1, rng.getrandbits(8 * size)])
    v &= (1 << (8 * size)) - 1
    buf = bytearray(data)
    buf[info.eocd + ofs[0]:info.eocd + ofs[0] + size] = v.to_bytes(size, "little")
    return bytes(buf), f"zip.eocd: {field} {hexv(cur)} -> {hexv(v)}"


def z_zip64(info: ZipInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    """Gives one entry a zip64 extended-information extra field with 64-bit sizes."""
    items = items_from(info, data)
    if not items:
        return None
    it = rng.choice(items)
    us = rng.choice([it.usize, 2**32, 2**63, 2**64 - 1, 2**63 - 1, 2**40, 2**62, 2**36 + 1, (2**64 - 1) // 2 + 2])
    cs = rng.choice([len(it.data), len(it.data), 1, 0, 2**63, 2**64 - 1, 2**32])
    where = rng.choice(["central", "central", "both", "local"])
    extra = struct.pack("<HHQQ", 1, 16, us, cs)
    if where in ("central", "both"):
        it.usize, it.csize = 0xFFFFFFFF, 0xFFFFFFFF
        it.cextra = extra + it.cextra
    if where in ("local", "both"):
        it.lusize, it.lcsize = 0xFFFFFFFF, 0xFFFFFFFF
        it.lextra = extra + it.lextra
    if rng.random() < 0.3 and len(items) > 1:
        other = rng.choice([x for x in items if x is not it])
        other.usize, other.csize = 0xFFFFFFFF, 0xFFFFFFFF
        other.cextra = struct.pack("<HHQQ", 1, 16, us, len(other.data)) + other.cextra
        return build_zip(items, info.comment), f"zip.zip64: {it.name[:40]!r} and {other.name[:40]!r} usize {hexv(us)} csize {hexv(cs)} ({where})"
    return build_zip(items, info.comment), f"zip.zip64: {it.name[:60]!r} usize {hexv(us)} csize {hexv(cs)} ({where})"


def z_attrs(info: ZipInfo, data: bytes, rng: random.Random) -> tuple[bytes, str] | None:
    items = items_from(info, data)
    if not items:
        return None
    it = rng.choice(items)
    kind = rng.choice(["symlink", "symlink", "directory", "fifo", "extra-garbage", "encrypted", "descriptor"])
    if kind == "symlink":
        target = rng.choice([b"/etc/passwd", b"../../../../etc/passwd", b"/proc/self/mem", b"/dev/zero", b".", b"x" * 1000])
        it.eattr = (0o120777 << 16)
        it.vmade = 3 << 8 | 20
        it.data, it.method, it.crc, it.usize, it.csize = target, 0, zlib.crc32(target), len(target), len(target)
        it.lusize, it.lcsize = len(target), len(target)
        what = f"symlink to {target[:40]!r}"
    elif kind == "directory":
        it.eattr = (0o040755 << 16) | 0x10
        it.vmade = 3 << 8 | 20
        what = "directory attributes on a file"
    elif kind == "fifo":
        it.eattr = (0o010644 << 16)
        it.vmade = 3 << 8 | 20
        what = "FIFO mode"
    elif kind == "extra-garbage":
        g = rng.choice([struct.pack("<HH", 1, 0xFFFF), struct.pack("<HH", 0x5455, 1) + b"\x01",
                        rng.randbytes(rng.randint(1, 64)), struct.pack("<HH", 1, 4) + b"\xff\xff\xff\xff"])
        if rng.random() < 0.5:
            it.cextra = g
        else:
            it.lextra = g
        what = f"garbage extra field {g[:12].hex()}"
    elif kind == "encrypted":
        it.flags |= 1
        what = "encrypted flag"
    else:
        it.flags |= 8
        it.lusize = it.lcsize = 0
        it.crc = 0 if rng.random() < 0.5 else it.crc
        what = "data-descriptor flag, local sizes 0, no descriptor"
    return build_zip(items, info.comment), f"zip.attrs: {it.name[:60]!r} {what}"


class ZipCache:
    """Decompressed .dcm members of a zip seed, parsed once."""

    def __init__(self):
        self.members: dict[int, tuple[bytes, DicomInfo] | None] = {}


def z_dcm(info: ZipInfo, data: bytes, rng: random.Random, cache: ZipCache) -> tuple[bytes, str] | None:
    items = items_from(info, data)
    cands = [k for k, it in enumerate(items) if it.method in (0, 8)]
    if not cands:
        return None
    k = rng.choice(cands)
    if k not in cache.members:
        it = items[k]
        try:
            raw = zlib.decompress(it.data, -15) if it.method == 8 else it.data
            di = DicomInfo(raw)
            cache.members[k] = (raw, di) if di.ok else None
        except zlib.error:
            cache.members[k] = None
    got = cache.members[k]
    if got is None:
        return None
    raw, di = got
    res = mutate_dicom(di, raw, rng) if rng.random() < 0.8 else generic(raw, rng, di.hot())
    if res is None:
        return None
    new, what = res
    it = items[k]
    stored = rng.random() < 0.3
    it.data = new if stored else raw_deflate(new)
    it.method = 0 if stored else 8
    it.crc = zlib.crc32(new)
    it.usize = it.lusize = len(new)
    it.csize = it.lcsize = len(it.data)
    return build_zip(items, info.comment), f"zip.member: {it.name[:60]!r} ({'stored' if stored else 'deflated'}) {what}"


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------

def sniff(data: bytes) -> str:
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if data[:2] in (b"II", b"MM") and len(data) >= 4:
        m = int.from_bytes(data[2:4], "little" if data[:2] == b"II" else "big")
        if m == 42:
            return "tiff"
        if m == 43:
            return "bigtiff"
    return "raw"


def weighted(table, rng: random.Random):
    total = sum(w for _, w in table)
    x = rng.random() * total
    for f, w in table:
        x -= w
        if x <= 0:
            return f
    return table[-1][0]


class Target:
    """A seed file's bytes plus its parsed structure (parsed lazily, once)."""

    def __init__(self, data: bytes, kind: str | None = None):
        self.data = bytes(data)
        self.kind = kind or sniff(self.data)
        self._parsed = None
        self.zcache = ZipCache()

    @property
    def parsed(self):
        if self._parsed is None:
            try:
                if self.kind in ("tiff", "bigtiff"):
                    self._parsed = TiffInfo(self.data)
                elif self.kind == "dicom":
                    self._parsed = DicomInfo(self.data)
                elif self.kind == "zip":
                    self._parsed = ZipInfo(self.data)
                else:
                    self._parsed = False
            except (IndexError, struct.error, ValueError):
                self._parsed = False
        return self._parsed

    def hot(self) -> list[tuple[int, int]]:
        p = self.parsed
        if isinstance(p, TiffInfo):
            out = [(0, 16)]
            for d in p.ifds:
                out.append((d.pos, d.pos + p.nsize + len(d.entries) * p.esize + p.osize))
            return out
        if isinstance(p, (DicomInfo, ZipInfo)):
            return p.hot()
        return []


def mutate_once(target: Target, rng: random.Random) -> tuple[bytes, str]:
    p = target.parsed
    if rng.random() >= 0.2 and p:
        if isinstance(p, TiffInfo) and p.ifds:
            for _ in range(6):
                f = weighted(TIFF_MUTATORS, rng)
                buf = bytearray(target.data)
                label = f(p, target.data, buf, rng)
                if label:
                    return bytes(buf), label
        elif isinstance(p, DicomInfo) and p.ok:
            res = mutate_dicom(p, target.data, rng)
            if res:
                return res
        elif isinstance(p, ZipInfo) and p.entries:
            table = [(z_field, 0.18), (z_name, 0.12), (z_data, 0.10), (z_truncate, 0.07), (z_dup, 0.08),
                     (z_eocd, 0.07), (z_zip64, 0.10), (z_attrs, 0.08), (None, 0.20)]
            for _ in range(6):
                f = weighted(table, rng)
                res = z_dcm(p, target.data, rng, target.zcache) if f is None else f(p, target.data, rng)
                if res:
                    return res
    return generic(target.data, rng, target.hot())


def mutate(target: Target, rng: random.Random) -> tuple[bytes, str]:
    """One mutant of `target`: one mutation (70%), or two or three stacked."""
    data, label = mutate_once(target, rng)
    r = rng.random()
    extra = 0 if r < 0.7 else (1 if r < 0.9 else 2)
    for _ in range(extra):
        t = Target(data, None)
        data, more = mutate_once(t, rng)
        label += " + " + more
    return data, label


def mutate_bytes(data: bytes, kind: str | None, rng: random.Random) -> tuple[bytes, str]:
    """Convenience: mutate raw bytes (parses every call; the driver caches `Target`s)."""
    return mutate(Target(data, kind), rng)


if __name__ == "__main__":
    import sys
    # python3 mutate.py FILE SEED [N]: print N labels (a quick self-check)
    blob = open(sys.argv[1], "rb").read()
    tgt = Target(blob)
    for i in range(int(sys.argv[3]) if len(sys.argv) > 3 else 20):
        out, lab = mutate(tgt, random.Random(int(sys.argv[2]) * 1_000_003 + i))
        print(len(out), lab)

#!/usr/bin/env python3
"""Writes the regression files of the crash classes that need mutate.py's converter (the
Swift tests in Tests/MHSSlideTests/HostileSlideTests.swift make the others themselves):

    python3 Fuzz/regressions.py SLIDES_DIR OUT_DIR

* `be-header-mismatch.svs` (from CMU-1-Small-Region.svs): a big-endian classic TIFF whose header points libtiff (bytes
  4-8) at the last directory while OpenSlide, which reads the first offset as 64 bits and
  keeps the low 32 (bytes 8-12 in big endian), still sees the first: OpenSlide 4.0.1
  dereferences a null pointer opening it (SIGSEGV).
* `bigtiff-be-geometry.svs` (from tcga-cr-7395-01a-01-ts1.svs): a big-endian BigTIFF whose first directory says 65535 x 65535
  pixels in 65535 x 1 tiles: OpenSlide 4.0.1 divides by zero opening it (SIGFPE).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mutate as M  # noqa: E402


def main(slides: str, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    data = open(os.path.join(slides, "CMU-1-Small-Region.svs"), "rb").read()

    be = bytearray(M.convert_tiff(data, big=False, le=False, promote=False))
    info = M.TiffInfo(bytes(be))
    info.put(be, 4, 4, info.ifds[-1].pos)
    open(os.path.join(out, "be-header-mismatch.svs"), "wb").write(be)

    data = open(os.path.join(slides, "tcga-cr-7395-01a-01-ts1.svs"), "rb").read()
    big = bytearray(M.convert_tiff(data, big=True, le=False, promote=False))
    info = M.TiffInfo(bytes(big))
    values = {256: 0xFFFF, 257: 0xFFFF, 322: 0xFFFF, 323: 1}
    for t in info.ifds[0].entries:
        if t.tag in values and t.inline and t.type in (3, 4, 16):
            info.put(big, t.vpos, info.osize, 0)
            info.put(big, t.vpos, M.TYPE_SIZE[t.type], values[t.tag])
    open(os.path.join(out, "bigtiff-be-geometry.svs"), "wb").write(big)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

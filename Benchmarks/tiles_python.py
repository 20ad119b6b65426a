"""The openslide-python half of Benchmarks/tiles.sh: read_region of every level-0
256x256 patch (or of the cells listed in a file), in one process or a pool.

    python3 tiles_python.py SLIDE single|pool [CELLS_FILE]
"""
import multiprocessing
import resource
import sys
import time

import openslide


def cells_of(path, cells_file):
    if cells_file:
        with open(cells_file) as f:
            return [tuple(map(int, line.split())) for line in f if line.strip()]
    w, h = openslide.OpenSlide(path).dimensions
    return [(x, y) for y in range(0, h - 255, 256) for x in range(0, w - 255, 256)]


def read_all(args):
    path, cells = args
    slide = openslide.OpenSlide(path)
    checksum = 0
    for x, y in cells:
        region = slide.read_region((x, y), 0, (256, 256))
        checksum += region.getpixel((128, 128))[0]
    return checksum, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    path, mode = sys.argv[1], sys.argv[2]
    cells = cells_of(path, sys.argv[3] if len(sys.argv) > 3 else None)
    start = time.perf_counter()
    if mode == "single":
        _, rss = read_all((path, cells))
    else:
        with multiprocessing.Pool(2) as pool:
            parts = pool.map(read_all, [(path, cells[0::2]), (path, cells[1::2])])
        rss = max(p[1] for p in parts)
    seconds = time.perf_counter() - start
    rss = max(rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"op=openslide-{mode} patches={len(cells)} seconds={seconds} rate={len(cells) / seconds} peak_rss_mib={rss}")


if __name__ == "__main__":
    main()

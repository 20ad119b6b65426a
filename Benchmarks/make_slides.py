"""Builds large pyramidal JPEG slides from real tissue for Benchmarks/tiles.sh.

CMU-1-Small-Region (2220 x 2967, CC0) is tiled up to SIZE x SIZE with vips and saved as an
Aperio-like tiled TIFF (256x256 JPEG tiles, Q 85, pyramid, description with MPP 0.499):
  * ycbcr: YCbCr 4:2:0 tiles (what vips writes by default)
  * rgb:   RGB 4:4:4 tiles without colour transform, like real Aperio scanners write

    python3 make_slides.py OUTDIR SIZE [SIZE ...] [--mpp MPP] [--kinds ycbcr,rgb]

--mpp writes another MPP (and AppMag 10/MPP) into the description (the pixels are the same) and names the slides
bench-20k-ycbcr-mpp025.svs and so on (0.25 -> mpp025); without it, MPP 0.499 and the plain names.
--kinds builds only some of the two kinds.
"""
import argparse
import os
import subprocess

import pyvips

here = os.path.dirname(os.path.abspath(__file__))
source = os.path.join(here, "..", "..", "shared", "testdata", "slides", "CMU-1-Small-Region.svs")


def main():
    parser = argparse.ArgumentParser(description="Builds large pyramidal JPEG slides from real tissue.")
    parser.add_argument("out")
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--mpp", type=float, default=None, help="MPP written in the description (default 0.499)")
    parser.add_argument("--kinds", default="ycbcr,rgb", help="comma-separated: ycbcr, rgb (default both)")
    args = parser.parse_args()
    out, sizes = args.out, args.sizes
    kinds = [k for k in ("ycbcr", "rgb") if k in args.kinds.split(",")]
    mpp, magnification, suffix = "0.499", "20", ""
    if args.mpp is not None:
        mpp = f"{args.mpp:g}"
        magnification = f"{10 / args.mpp:g}"  # 0.25 µm/px is a 40x scan
        suffix = "-mpp" + mpp.replace(".", "")
    os.makedirs(out, exist_ok=True)
    png = os.path.join(out, "cmu-level0.png")
    if not os.path.exists(png):
        # Level 0 through OpenSlide 4, by mhs itself (vips's own OpenSlide may be the old one).
        mhs = os.environ.get("MHS", "mhs")
        subprocess.run([mhs, "inspect", source, "--region", "0,0,0,2220,2967", "--out", png], check=True, stdout=subprocess.DEVNULL)
    tissue = pyvips.Image.new_from_file(png)
    if tissue.hasalpha():  # an RGB PNG has nothing to flatten (and vips 8.14 refuses the 3-band background)
        tissue = tissue.flatten(background=[242, 240, 241])
    for size in sizes:
        across = -(-size // tissue.width)
        down = -(-size // tissue.height)
        image = tissue.replicate(across, down).crop(0, 0, size, size).copy()
        for kind in kinds:
            path = os.path.join(out, f"bench-{size // 1000}k-{kind}{suffix}.svs")
            if os.path.exists(path):
                print(f"{path} exists")
                continue
            described = image.copy()
            described.set_type(pyvips.GValue.gstr_type, "image-description",
                               f"Aperio Image Library v12.0.15 (mhs benchmark)\r\n{size}x{size} [0,0 {size}x{size}] (256x256) "
                               f"JPEG/{'RGB' if kind == 'rgb' else 'YCbCr'} Q=85|AppMag = {magnification}|MPP = {mpp}|Filename = bench")
            described.tiffsave(path, tile=True, tile_width=256, tile_height=256, pyramid=True, compression="jpeg", Q=85,
                               rgbjpeg=(kind == "rgb"), bigtiff=size > 30000, strip=False)
            print(f"{path}: {os.path.getsize(path) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Nuclei classifier throughput (ONNX Runtime, the example DoG model) in patches/s, with
# reading/packing overlapped with inference and without (read a batch, pack it, run it),
# measured side by side in one process, best of 3; plus the inference stage's utilisation
# (busy / wall) in each mode. Slides: CMU-1-Small-Region, the TCGA slide, the 20k YCbCr
# benchmark slide when Benchmarks/tiles.sh has built it, and a 12k synthetic H&E slide.
#
#   bash Benchmarks/nuclei.sh [--device auto|cpu|cuda] [--batch B]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product NucleiBenchmark >/dev/null 2>&1
bin=$(swift build -c release --show-bin-path)
slides=(../shared/testdata/slides/CMU-1-Small-Region.svs ../shared/testdata/slides/tcga-cr-7395-01a-01-ts1.svs)
[ -f .build/bench-slides/bench-20k-ycbcr.svs ] && slides+=(.build/bench-slides/bench-20k-ycbcr.svs)
"$bin/NucleiBenchmark" --repeat 3 --synthetic 12000 "$@" "${slides[@]}"

#!/usr/bin/env bash
# Tile pipeline benchmark: every level-0 256x256 patch of large pyramidal JPEG slides,
# without and with the tissue filter, mhs (PatchStream: direct JPEG tiles, libturbojpeg,
# one worker per core) against openslide-python in one process and in a 2-process pool,
# plus the decode limit (libjpeg-turbo on the same tiles' bytes, preloaded, every core).
# Slides (built once into .build/bench-slides by make_slides.py, from real tissue):
# 20k and 40k square, YCbCr 4:2:0 and RGB 4:4:4 (real-Aperio-like) tiles.
# Then DCT-scaled decoding: tissue patches of 224 px at 0.5, 1 and 2 µm/px read from level 0
# of a 0.25 µm/px slide (as one without those levels), decoded in full + area averaging and
# at 1/2, 1/4, 1/8 in the DCT domain, with the speed-up and the pixel error per channel.
# Prints the tables, then one final line of key=value pairs.
#
#   bash Benchmarks/tiles.sh [SIZES]       (default "20000 40000")
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${1:-"20000 40000"}
command -v vips >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq libvips-tools >/dev/null; }
python3 -c 'import pyvips, openslide, openslide_bin' 2>/dev/null || python3 -m pip install -q pyvips openslide-python openslide-bin
swift build -c release --product TileBenchmark >/dev/null 2>&1
swift build -c release --product mhs >/dev/null 2>&1
bin=$(swift build -c release --show-bin-path)
MHS=$bin/mhs python3 Benchmarks/make_slides.py .build/bench-slides $sizes >/dev/null

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }
summary=""
printf '%-22s %8s %10s %10s %10s %8s %8s %10s %9s %9s\n' slide filter "mhs p/s" "osp p/s" "osp×2 p/s" "vs osp" "vs ×2" "limit t/s" "of limit" "RSS MiB"
for size in $sizes; do
    for kind in ycbcr rgb; do
        slide=.build/bench-slides/bench-$((size / 1000))k-$kind.svs
        "$bin/TileBenchmark" verify "$slide" >/dev/null
        "$bin/TileBenchmark" cells "$slide" >.build/bench-slides/cells.txt
        for filter in all tissue; do
            if [ $filter = all ]; then limit=$(field rate "$("$bin/TileBenchmark" decode "$slide")"); else limit=$(field rate "$("$bin/TileBenchmark" decode "$slide" tissue)"); fi
            if [ $filter = all ]; then mhs=$("$bin/TileBenchmark" patches "$slide"); cells=""; else mhs=$("$bin/TileBenchmark" patches "$slide" tissue); cells=.build/bench-slides/cells.txt; fi
            one=$(python3 Benchmarks/tiles_python.py "$slide" single $cells)
            two=$(python3 Benchmarks/tiles_python.py "$slide" pool $cells)
            m=$(field rate "$mhs"); o=$(field rate "$one"); t=$(field rate "$two")
            r1=$(echo "$m / $o" | bc -l); r2=$(echo "$m / $t" | bc -l); rl=$(echo "$m / $limit" | bc -l)
            printf '%-22s %8s %10.0f %10.0f %10.0f %7.2fx %7.2fx %10.0f %8.0f%% %9.1f\n' "$(basename "$slide")" $filter "$m" "$o" "$t" "$r1" "$r2" "$limit" "$(echo "$rl * 100" | bc -l)" "$(field peak_rss_mib "$mhs")"
            tag=$((size / 1000))k_${kind}_$filter
            summary+="${tag}_vs_osp=$(printf %.2f "$r1") ${tag}_vs_pool=$(printf %.2f "$r2") ${tag}_of_limit=$(printf %.2f "$rl") ${tag}_limit=$(printf %.0f "$limit") ${tag}_rss_mib=$(printf %.1f "$(field peak_rss_mib "$mhs")") "
        done
    done
done
MHS=$bin/mhs python3 Benchmarks/make_slides.py .build/bench-slides 20000 --mpp 0.25 --kinds ycbcr >/dev/null
scaled_slide=.build/bench-slides/bench-20k-ycbcr-mpp025.svs
printf '\n%-10s %6s %12s %12s %9s %16s %14s\n' "µm/px" "1/k" "full p/s" "DCT p/s" speedup "mean |Δ| R/G/B" "max |Δ| R/G/B"
for target in 0.5 1.0 2.0; do
    line=$("$bin/TileBenchmark" scaled "$scaled_slide" $target 224 level0)
    printf '%-10s %6s %12.0f %12.0f %8.2fx %16s %14s\n' $target "1/$(field dct_scale "$line")" "$(field full_rate "$line")" "$(field dct_rate "$line")" \
        "$(field speedup "$line")" "$(field mean_abs_rgb "$line")" "$(field max_abs_rgb "$line")"
    summary+="scaled_${target}_speedup=$(printf %.2f "$(field speedup "$line")") scaled_${target}_mean_abs=$(field mean_abs_rgb "$line") "
done
echo "${summary% }"

#!/usr/bin/env bash
# Download benchmark: mhs (parallel ranged parts) against curl (one stream), measured side
# by side over loopback against `mhs emulator`, medians of several runs, plus peak RSS.
#   1. a 1 GiB file, no cap            (goal: mhs >= 0.9x curl)
#   2. 256 MiB with a 50 MB/s per-connection cap, as S3 gives  (goal: mhs >= 7x curl);
#      its ETag is a plain MD5, which mhs verifies (hashing overlaps the download)
#   3. 512 MiB with the same cap; over 256 MiB the emulator gives a multipart-style ETag,
#      as S3 does for large uploads, so there is nothing to verify
# Prints a table, then one final line of key=value pairs.
#
#   bash Benchmarks/download.sh [RUNS]        (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
swift build -c release --product mhs >/dev/null
mhs=$(swift build -c release --show-bin-path)/mhs
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

truncate -s 1G "$work/big.bin"
truncate -s 256M "$work/capped.bin"
truncate -s 512M "$work/capped-large.bin"

serve() {  # file [fault] -> prints SCAN_URL
    local log="$work/emulator-$RANDOM.log"
    "$mhs" emulator --slide "$1" ${2:+--fault "$2"} --url-ttl 3600 >"$log" 2>&1 &
    for _ in $(seq 100); do grep -q '^page:' "$log" && break; sleep 0.1; done
    sed -n "s/^export SCAN_URL='\(.*\)'$/\1/p" "$log" | head -1
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
peak_rss_mib() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1/1024}'; }

measure() {  # label url bytes
    local url=$2 bytes=$3 c m
    c=$(for _ in $(seq "$runs"); do rm -f "$work/out"; seconds curl -sf -o "$work/out" "$url"; done | median)
    m=$(for _ in $(seq "$runs"); do rm -f "$work/out"; seconds "$mhs" fetch "$url" --out "$work/out"; done | median)
    rm -f "$work/out"
    local rss; rss=$(peak_rss_mib "$mhs" fetch "$url" --out "$work/out")
    rm -f "$work/out"
    printf '%-34s curl %6.2f s (%7.1f MB/s)   mhs %6.2f s (%7.1f MB/s)   mhs/curl %5.2fx   mhs peak RSS %6.1f MiB\n' \
        "$1" "$c" "$(echo "$bytes / $c / 1000000" | bc -l)" "$m" "$(echo "$bytes / $m / 1000000" | bc -l)" "$(echo "$c / $m" | bc -l)" "$rss"
    echo "$c $m $rss" >"$work/last"
}

url=$(serve "$work/big.bin")
measure "1 GiB over loopback" "$url" $((1 << 30))
read -r c1 m1 r1 <"$work/last"
kill %1 2>/dev/null || true

url=$(serve "$work/capped.bin" "download:rate=50000000")
measure "256 MiB, 50 MB/s per connection" "$url" $((256 << 20))
read -r c2 m2 r2 <"$work/last"
kill %2 2>/dev/null || true

url=$(serve "$work/capped-large.bin" "download:rate=50000000")
measure "512 MiB, 50 MB/s, multipart ETag" "$url" $((512 << 20))
read -r c3 m3 r3 <"$work/last"

printf 'loopback_ratio=%.2f capped_md5_ratio=%.2f capped_ratio=%.2f loopback_curl_s=%.3f loopback_mhs_s=%.3f capped_md5_curl_s=%.3f capped_md5_mhs_s=%.3f capped_curl_s=%.3f capped_mhs_s=%.3f mhs_peak_rss_mib=%.1f,%.1f,%.1f runs=%d\n' \
    "$(echo "$c1 / $m1" | bc -l)" "$(echo "$c2 / $m2" | bc -l)" "$(echo "$c3 / $m3" | bc -l)" "$c1" "$m1" "$c2" "$m2" "$c3" "$m3" "$r1" "$r2" "$r3" "$runs"

#!/usr/bin/env bash
# The whole task, process start to exit: `mhs run` (release) on CMU-1-Small-Region.svs
# against `mhs emulator` on loopback, one task per run (so each posts once to its own task),
# median and spread of RUNS runs, with the stage timings of the median run. The task's own
# figure: download, probe child, open, classify (template) with the thumbnail beside it,
# validate, results.json, post with result.png beside it, run report.
#
#   bash Benchmarks/task.sh [RUNS] [SLIDE]      (default 11, ../shared/testdata/slides/CMU-1-Small-Region.svs)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-11}
slide=${2:-../shared/testdata/slides/CMU-1-Small-Region.svs}
echo "building mhs (release) ..."
swift build -c release --product mhs 2>&1 | grep -E "error|Build of product|Compiling" | tail -3
mhs=$(swift build -c release --show-bin-path)/mhs
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

args=()
for _ in $(seq "$runs"); do args+=(--slide "$slide"); done
"$mhs" emulator "${args[@]}" >"$work/emulator.log" 2>&1 &
for _ in $(seq 300); do grep -q '^page:' "$work/emulator.log" && break; sleep 0.1; done
grep -q '^page:' "$work/emulator.log" || { cat "$work/emulator.log"; exit 1; }

# One environment file per task, from the banner's export lines.
awk -v dir="$work" '/^# task /{n++} /^export /{print > (dir "/task-" n ".env")}' "$work/emulator.log"

for i in $(seq "$runs"); do
    out="$work/out-$i"
    mkdir -p "$out"
    (
        set -a
        # shellcheck disable=SC1090
        source "$work/task-$i.env"
        export MHS_OUTPUT_DIR="$out" MHS_WORK_DIR="$out/work"
        s=$(date +%s.%N)
        "$mhs" run >"$out/log" 2>&1 || { echo "run $i failed:"; tail -5 "$out/log"; exit 1; }
        e=$(date +%s.%N)
        echo "$e - $s" | bc -l >"$out/seconds"
    )
done

for i in $(seq "$runs"); do echo "$(cat "$work/out-$i/seconds") $i"; done | sort -n >"$work/sorted"
median_line=$(awk -v n="$runs" 'NR == int((n + 1) / 2)' "$work/sorted")
median=${median_line% *}
best=$(head -1 "$work/sorted" | cut -d' ' -f1)
worst=$(tail -1 "$work/sorted" | cut -d' ' -f1)
printf 'mhs run, %s, %d runs: median %.3f s (best %.3f, worst %.3f)\n' "$(basename "$slide")" "$runs" "$median" "$best" "$worst"
echo "stages of the median run: $(grep '^Stage timings' "$work/out-${median_line#* }/log" | sed 's/^Stage timings: //')"
evaluations=$(curl -sf "$(sed -n 's/^ready //p' "$work/emulator.log")/_emulator/state" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(len(s.get("evaluations", [])))')
echo "evaluations stored: $evaluations (one per run expected: $runs)"
printf 'task_median_s=%.3f task_best_s=%.3f runs=%d\n' "$median" "$best" "$runs"

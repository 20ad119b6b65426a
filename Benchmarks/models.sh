#!/usr/bin/env bash
# Model directories against WSInfer (issue 15): one ResNet-18 patch classifier (random weights,
# Benchmarks/make_resnet18.py: 350 px at 0.25 µm/px, Resize 224) on the 20k benchmark slide at
# 0.25 µm/px (bench-20k-ycbcr-mpp025.svs: 57 x 57 cells of 350 px), side by side:
#   * mhs: `mhs demo --model`, a whole task against the embedded emulator (download, tissue
#     mask, patches read and resized while ONNX Runtime's C API runs the batches, results
#     posted), after `mhs model check` on the same directory and slide;
#   * WSInfer 0.6.1: `wsinfer run` on the TorchScript export of the same weights (openslide
#     backend, PyTorch on the CPU), at each batch:workers setting given (DataLoader workers);
#   * ONNX Runtime from Python alone on the patches both scored, preloaded: inference only,
#     the compute limit of this model on this machine.
# Patches each scored and both scored (same minx, miny), the largest and mean probability
# difference where both scored (goal ≤ 1e-3) and what it comes from, patches/s of the inference
# stage and end to end, peak memory (GNU time's largest process; the process tree's PSS), and
# mhs ÷ WSInfer. Prints mhs model check's report, a table, then one final line of key=value pairs.
#
#   bash Benchmarks/models.sh [SETTINGS]      (default "32:0 32:1 32:2 64:2", batch:workers)
#
# WSInfer's Python: WSINFER_VENV (default .build/wsinfer-venv), made here with pip if it cannot
# import wsinfer (wsinfer==0.6.1, zarr<3: zarr 3 breaks 0.6.1's import; onnx, onnxruntime,
# openslide-bin). mhs runs with VIRTUAL_ENV set to it, so both load the same ONNX Runtime and
# OpenSlide. MHS=path/to/mhs uses that binary instead of building the release one.
#
# Offline WSInfer: `wsinfer run`'s --model option lists the model zoo, so importing its CLI calls
# wsinfer_zoo.client.load_registry(), which fetches wsinfer-zoo-registry.json from HuggingFace
# (hf_hub_download into ~/.wsinfer-zoo) and fails without a network; there is no variable for a
# local registry. hf_hub_download falls back to a file already in that folder when the Hub cannot
# be reached, and HF_HUB_OFFLINE=1 makes that immediate (no connection attempt, one warning). So
# WSInfer runs with HOME pointing at a folder of ours whose .wsinfer-zoo holds an empty registry
# ({"models": {}}: --model then has no choices; --config and --model-path need none), and the
# user's own ~/.wsinfer-zoo is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
settings=${1:-"32:0 32:1 32:2 64:2"}
venv=${WSINFER_VENV:-.build/wsinfer-venv}
work=.build/bench-models
slide=.build/bench-slides/bench-20k-ycbcr-mpp025.svs

command -v /usr/bin/time >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq time >/dev/null; }
command -v vips >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq libvips-tools >/dev/null; }
python3 -c 'import pyvips' 2>/dev/null || python3 -m pip install -q pyvips
if ! "$venv/bin/python" -c 'import wsinfer, onnx, onnxruntime, openslide, openslide_bin' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q wsinfer==0.6.1 'zarr<3' onnx onnxruntime openslide-python openslide-bin
fi
venv=$(cd "$venv" && pwd)
py=$venv/bin/python
if [ -n "${MHS:-}" ]; then
    mhs=$MHS
else
    swift build -c release --product mhs >/dev/null 2>&1
    mhs=$(swift build -c release --show-bin-path)/mhs
fi
MHS=$mhs python3 Benchmarks/make_slides.py .build/bench-slides 20000 --mpp 0.25 --kinds ycbcr >/dev/null
model=$work/resnet18
[ -f $model/model.onnx ] && [ -f $model/model.pt ] && [ -f $model/config.json ] || "$py" Benchmarks/make_resnet18.py $model >/dev/null
mkdir -p $work/wsinfer-home/.wsinfer-zoo $work/slides $work/runs
[ -f $work/wsinfer-home/.wsinfer-zoo/wsinfer-zoo-registry.json ] || echo '{"models": {}}' >$work/wsinfer-home/.wsinfer-zoo/wsinfer-zoo-registry.json
ln -sfn "$(pwd)/$slide" $work/slides/"$(basename $slide)"   # WSInfer's --wsi-dir: this slide alone

VIRTUAL_ENV=$venv "$mhs" model check $model --slide $slide
echo
rm -rf $work/runs/mhs && mkdir -p $work/runs/mhs
VIRTUAL_ENV=$venv "$py" Benchmarks/models_compare.py measure $work/runs/mhs/measure.json -- \
    "$mhs" demo --slide $slide --model $model --output $work/runs/mhs >$work/runs/mhs/log.txt 2>&1 ||
    { tail -n 30 $work/runs/mhs/log.txt; exit 1; }
runs=()
for setting in $settings; do
    batch=${setting%:*} workers=${setting#*:}
    run=$work/runs/wsinfer-b$batch-w$workers
    rm -rf $run && mkdir -p $run
    # Exit status 1 with --num-workers 0 is WSInfer 0.6.1 failing after its CSV (the GeoJSON
    # writer's pool of 0 processes); the CSV and the timings stand.
    HOME=$(pwd)/$work/wsinfer-home HF_HUB_OFFLINE=1 "$py" Benchmarks/models_compare.py measure $run/measure.json -- \
        "$venv/bin/wsinfer" --backend openslide run --wsi-dir $work/slides --results-dir $run/results \
        --model-path $model/model.pt --config $model/config.json --batch-size "$batch" --num-workers "$workers" \
        >$run/log.txt 2>&1 || [ -f $run/results/model-outputs-csv/*.csv ]
    runs+=(--wsinfer "b$batch-w$workers=$run")
done
"$py" Benchmarks/models_compare.py compare --slide $slide --model $model --mhs $work/runs/mhs "${runs[@]}"

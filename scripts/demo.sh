#!/usr/bin/env bash
# The demo: builds mhs and runs one whole task (`mhs demo`) against the embedded Techcyte
# emulator, on a synthetic H&E slide it generates. Extra arguments go to `mhs demo`
# (e.g. --serve to keep the emulator page open, --slide PATH for a real slide).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --product mhs 2>&1 | grep -E "error|warning: .*Sources/" || true
"$(swift build --show-bin-path)/mhs" demo --output demo-output "$@"

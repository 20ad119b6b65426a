#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), lints the Dockerfile,
# builds, runs a bounded fuzz campaign over the shared test slides (MHS_FUZZ_COUNT
# mutants, default 2000; 0 skips it), then every test. Works on a fresh Debian 12 machine
# with Swift 6.3, and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PATH:$HOME/.local/bin:/usr/local/bin"  # where pip may have put hadolint
hadolint Dockerfile
swift build --build-tests
count="${MHS_FUZZ_COUNT:-2000}"
if [ "$count" -gt 0 ]; then
    echo "fuzz: $count structure-aware mutants of the shared test slides through mhs inspect --read"
    python3 Fuzz/fuzz.py --mhs "$(swift build --show-bin-path)/mhs" --count "$count"
fi
swift test --skip-build --disable-xctest

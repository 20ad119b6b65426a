#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), lints the Dockerfile,
# builds, runs every test. Works on a fresh Debian 12 machine with Swift 6.3, and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PATH:$HOME/.local/bin:/usr/local/bin"  # where pip may have put hadolint
hadolint Dockerfile
swift build --build-tests
swift test --skip-build --disable-xctest

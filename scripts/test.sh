#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent), builds, runs every test.
# Works on a fresh Debian 12 machine with Swift 6.3 on PATH, and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build --disable-xctest

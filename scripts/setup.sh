#!/usr/bin/env bash
# Installs the system and Python packages that mhs's build, tests and demo use. Safe to
# run again: it installs only what is missing.
set -euo pipefail
command -v swift >/dev/null || { echo "setup: swift 6.3 is not on PATH" >&2; exit 1; }

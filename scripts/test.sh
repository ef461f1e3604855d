#!/usr/bin/env bash
# Installs, builds and runs the fast test suite (tests labelled `long` are skipped; run them with
# `ctest --test-dir build -L long`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ctest --test-dir build -LE long --output-on-failure -j "$(nproc)"

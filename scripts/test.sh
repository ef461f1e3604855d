#!/usr/bin/env bash
# Installs, builds and runs the fast test suite (tests labelled `long` are skipped; run them with
# `ctest --test-dir build -L long`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# ctest runs as many tests at a time as there are cores, each with one LibTorch thread (OMP_NUM_THREADS,
# which the tests and the l2w command follow unless told otherwise): small networks gain little from a
# second thread, and two 2-thread tests side by side took 67.5 s where two 1-thread ones took 40.7 s.
# A test that asks for more threads waits passively at OpenMP's barriers: spinning threads of two
# processes slow each other four-fold (126 s against 62 s for a pair).
jobs=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # the cores: nproc reports OMP_NUM_THREADS if set
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
ctest --test-dir build -LE long --output-on-failure -j "$jobs"

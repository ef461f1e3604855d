#!/usr/bin/env bash
# Runs one fuzz target for SECONDS from its seed corpus (made once) and the kept regressions, then prints
# libFuzzer's totals. A crash, hang or oversized allocation fails it; the input is left in
# BUILD_DIR/findings/TARGET/ to be added to test/data/fuzz/TARGET/ once fixed.
# Usage: run_fuzzer.sh FUZZER TARGET SECONDS BUILD_DIR SOURCE_DIR PYTHON
set -euo pipefail
fuzzer=$1 target=$2 seconds=$3 build=$4 source=$5 python=$6
corpus=$build/corpus/$target
findings=$build/findings/$target
kept=()
[[ -d $source/test/data/fuzz/$target ]] && kept=("$source/test/data/fuzz/$target")
mkdir -p "$corpus" "$findings"
[[ -n $(ls -A "$corpus") ]] || "$python" "$source/fuzz/make_seeds.py" "$target" "$corpus"
# LibTorch's zip reader leaks about 1 KB of miniz state when its constructor refuses a damaged archive: a
# LibTorch leak, not l2w's, so leak detection is off for that target only.
leaks=1
[[ $target == torch_save ]] && leaks=0
export ASAN_OPTIONS=detect_leaks=$leaks  # also the check at exit, not only libFuzzer's per input
# Inputs up to 64 KB; any single allocation over 64 MB is a length field trusted beyond the file.
"$fuzzer" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=64 \
  -detect_leaks=$leaks -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" "${kept[@]}"

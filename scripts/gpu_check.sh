#!/usr/bin/env bash
# The GPU check: builds l2w against the machine's Python torch, compares CUDA with the CPU, trains one
# Fashion-MNIST epoch on the GPU, benchmarks training and early-exit inference (fp32 and bf16), and prints one table.
#
#   bash scripts/gpu_check.sh --prepare   on a machine with Debian's packages (after scripts/setup.sh):
#                                         fills vendor/ with what a GPU machine without a package registry
#                                         lacks: CLI11's headers, GoogleTest's sources and the Fashion-MNIST
#                                         files (about 35 MB; vendor/ is git-ignored, so copy or carry it)
#   bash scripts/gpu_check.sh [OUT]       on the GPU machine (a Python torch with CUDA, CMake, a compiler):
#                                         writes the table and the logs to OUT (default build-gpu/report)
#
# Environment: L2W_PYTHON (the Python whose torch to build against; default python3), L2W_GPU_ARCH
# (CUDA architecture of the GPU, default: the one torch reports).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} == --prepare ]]; then
  rm -rf vendor && mkdir -p vendor/CLI11/include vendor/fashion-mnist
  cp -r /usr/include/CLI vendor/CLI11/include/
  cp -r /usr/src/googletest vendor/googletest
  cp /usr/share/datasets/fashion-mnist/*.gz vendor/fashion-mnist/
  echo "vendor/ filled: $(du -sh vendor | cut -f1)"
  exit 0
fi

python=${L2W_PYTHON:-python3}
out=$(mkdir -p "${1:-build-gpu/report}" && cd "${1:-build-gpu/report}" && pwd)
build=build-gpu
started=$SECONDS
stage() { printf '[%4ds] %s\n' $((SECONDS - started)) "$*"; }
fail() {
  echo "gpu_check: $1 failed; the last lines of $2:" >&2
  tail -n 30 "$2" >&2
  exit 1
}

stage "building against $($python -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda)')"
arch=${L2W_GPU_ARCH:-$($python -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DL2W_PYTHON="$(command -v "$python")" \
  -DTORCH_CUDA_ARCH_LIST="$arch" -DL2W_WITH_IMAGES=OFF >"$out/configure.log" 2>&1 || fail configure "$out/configure.log"
grep -E "^-- (LibTorch|l2w:)" "$out/configure.log" || true
cmake --build "$build" -j "$(nproc)" >"$out/build.log" 2>&1 || fail build "$out/build.log"
l2w=$build/src/cli/l2w
stage "built"

data=$(mktemp -d)
cp vendor/fashion-mnist/*.gz "$data"/ 2>/dev/null || cp /usr/share/datasets/fashion-mnist/*.gz "$data"/
gunzip -f "$data"/*.gz  # plain IDX files: no zlib needed on this machine

stage "CUDA against CPU"
"$build/test/l2w_tests" --gtest_filter='Cuda.*:CudaGraphs.*:MixedPrecision.*:HostSyncCounter.*' --gtest_brief=1 >"$out/tests.log" 2>&1 ||
  fail "the CUDA tests" "$out/tests.log"
cuda_tests=$(grep -E "^\[  PASSED  \]" "$out/tests.log" | head -1)

# Batch 256 and --meta_grad fd: at batch 64 an exact L2W step is bound by the host's kernel launches
# (an H100 trained the epoch at 220 images/s), which would take most of the 8 minutes.
stage "one epoch of L2W (fd, batch 256) on Fashion-MNIST"
arch_flags=(--data fashion-mnist --data_url "$data" --nBlocks 3 --nChannels 8 --growthRate 4 --stepmode lin_grow
            --step 1 --base 1 --grFactor 1-2-4 --bnFactor 1-2-4)
run=$out/fmnist
"$l2w" train --device cuda --method l2w --meta_grad fd "${arch_flags[@]}" --epochs 1 --batch-size 256 --lr 0.1 \
  --seed 0 --print-freq 50 --workers 4 --train_url "$run" >"$out/train.log" 2>&1 || fail training "$out/train.log"
epoch_line=$(grep -E "^Epoch \[1/1\]\[235/235\]" "$out/train.log" | tail -1)
last_top1=$(awk -F, 'END { print $2 }' "$run/anytime.csv")

stage "early-exit inference at half the MUL-ADDs"
full=$(awk -F, 'END { print $5 }' "$run/anytime.csv")
"$l2w" eval --device cuda --evalmode dynamic "${arch_flags[@]}" --evaluate_from "$run/save_models/model_best.pth.tar" \
  --train_url "$run" --budget "$((full / 2))" >"$out/budget.log" 2>&1 || fail "eval --budget" "$out/budget.log"
# In bf16 too: its thresholds fitted on the bf16 outputs, in a folder of their own.
"$l2w" eval --device cuda --evalmode dynamic "${arch_flags[@]}" --evaluate_from "$run/save_models/model_best.pth.tar" \
  --train_url "$out/bf16" --budget "$((full / 2))" --precision bf16 --thresholds "$run/thresholds_bf16.txt" \
  >"$out/budget_bf16.log" 2>&1 || fail "eval --budget --precision bf16" "$out/budget_bf16.log"
for precision in fp32 bf16; do
  thresholds=$run/thresholds.txt
  [[ $precision == bf16 ]] && thresholds=$run/thresholds_bf16.txt
  for batch in 1 256; do
    log=$out/infer_${precision}_b$batch.log
    "$l2w" infer --device cuda "${arch_flags[@]}" --evaluate_from "$run/save_models/model_best.pth.tar" \
      --thresholds "$thresholds" -b "$batch" --latency-images 300 --precision "$precision" >"$log" 2>&1 ||
      fail "infer -b $batch --precision $precision" "$log"
  done
done

# The speed test in each network form: the inference form (which times both layouts and keeps the faster),
# and the network as trained.
forms=("inference form:--memory-format auto --precision fp32" "inference form bf16:--memory-format auto --precision bf16"
       "as trained:--training-form --precision fp32")
for form in "${forms[@]}"; do
  stage "bench infer, ${form%%:*}"
  log=$out/bench_infer_$(echo "${form%%:*}" | tr -c 'a-z_\n' '_').log
  # shellcheck disable=SC2086  # the form's flags are words
  "$l2w" bench infer --device cuda "${arch_flags[@]}" --evaluate_from "$run/save_models/model_best.pth.tar" \
    --train_url "$out/bench_infer" --test-limit 2000 --latency-images 200 ${form#*:} >"$log" 2>&1 ||
    fail "bench infer" "$log"
done

# Training speed last: the early-exit figures above matter more if the time runs out.
bench() {  # name, flags...: one line of bench.txt (with fd, bench train also times exact in the same run)
  local name=$1
  shift
  "$l2w" bench train --device cuda "$@" >"$out/bench_$name.log" 2>&1 || fail "bench $name" "$out/bench_$name.log"
  local log=$out/bench_$name.log
  printf '%-26s %9s img/s %7s MB' "$name" "$(awk '/^images\/s/ { print $2 }' "$log")" \
    "$(awk '/^peak GPU memory MB/ { print $5 }' "$log")" >>"$out/bench.txt"
  if grep -q "^graphs images/s" "$log"; then
    printf '   graphs %9s img/s (%s eager, capture %s s) %7s MB' "$(awk '/^graphs images\/s/ { print $3 }' "$log")" \
      "$(grep -o '[0-9.]*x eager' "$log" | cut -dx -f1)x" "$(grep -o 'capture [0-9.]* s' "$log" | cut -d' ' -f2)" \
      "$(grep -o 'peak GPU memory MB [0-9]*)' "$log" | tr -dc 0-9)" >>"$out/bench.txt"
  fi
  if grep -q "^exact images/s" "$log"; then
    printf '   exact (same run) %9s img/s %7s MB' "$(awk '/^exact images\/s/ { print $3 }' "$log")" \
      "$(awk '/^exact peak MB/ { print $4 }' "$log")" >>"$out/bench.txt"
  fi
  echo >>"$out/bench.txt"
}
: >"$out/bench.txt"
cifar=(--data cifar100 --nBlocks 5 --stepmode lin_grow --step 1 --base 1 --nChannels 16 --iterations 10)
imagenet=(--data ImageNet --nBlocks 5 --stepmode even --step 4 --base 4 --nChannels 32 --growthRate 16
          --grFactor 1-2-4-4 --bnFactor 1-2-4-4 --iterations 5)
# Batch 1024 and ImageNet (step 4) add figures in docs/gpu.md; L2W_GPU_CHECK_FULL=1 runs them too.
demo=("${arch_flags[@]}" --iterations 20)
# Eager against CUDA graphs (bench train times both in one run): the CIFAR-100 network at batch 64 and
# 1024 for each method, the demo network's L2W fd at 64 and 256.
for batch in 64 1024; do
  stage "bench train, CIFAR-100 MSDNet, batch $batch"
  bench "cifar100 b$batch plain" "${cifar[@]}" -b "$batch" --method plain
  bench "cifar100 b$batch l2w fd" "${cifar[@]}" -b "$batch" --method l2w --meta_grad fd
  bench "cifar100 b$batch l2w exact" "${cifar[@]}" -b "$batch" --method l2w --meta_grad exact
done
for batch in 64 256; do
  stage "bench train, demo MSDNet (Fashion-MNIST), batch $batch"
  bench "demo b$batch l2w fd" "${demo[@]}" -b "$batch" --method l2w --meta_grad fd
done
if [[ ${L2W_GPU_CHECK_FULL:-0} == 1 ]]; then
  stage "bench train, ImageNet MSDNet (step 4), batch 64"
  bench "imagenet b64 plain" "${imagenet[@]}" -b 64 --method plain
  bench "imagenet b64 l2w fd" "${imagenet[@]}" -b 64 --method l2w --meta_grad fd
fi

if [[ ${L2W_GPU_CHECK_REPRODUCE:-0} == 1 ]]; then
  stage "the Fashion-MNIST reproduction: 3 seeds x 2 methods x 30 epochs, 6 jobs on the GPU"
  L2W=$l2w bash scripts/reproduce_fmnist.sh --device cuda --jobs 6 --out "$out/reproduce_fmnist" -- \
    --data_url "$data" --workers 4 >"$out/reproduce.log" 2>&1 || fail "the reproduction" "$out/reproduce.log"
  reproduce_line="the reproduction took $(grep -o 'finished in [0-9]* s' "$out/reproduce.log" | sort -k3 -n | tail -1)"
fi

{
  echo "l2w GPU check on $($python -c 'import torch; print(torch.cuda.get_device_name(0))'), torch $($python -c 'import torch; print(torch.__version__)'), $(nproc) cores"
  echo "CUDA vs CPU tests:     $cuda_tests (tolerances in test/cuda_test.cpp)"
  echo "Fashion-MNIST, 1 epoch of L2W (fd, batch 256) on cuda: ${epoch_line#*]  }"
  echo "  last exit test top-1 after the epoch: $last_top1 %"
  echo "bench train (synthetic input; 10 timed steps, ImageNet 5; peak GPU memory):"
  sed 's/^/  /' "$out/bench.txt"
  echo "early-exit inference at half the full network's MUL-ADDs ($(grep -m1 -o 'p_idx [0-9]*' "$out/infer_fp32_b1.log")):"
  for precision in fp32 bf16; do
    for batch in 1 256; do
      log=$out/infer_${precision}_b$batch.log
      echo "  $precision, batch $batch: $(grep -E 'throughput' "$log" | sed 's/^ *//'); $(grep -E 'top-1' "$log" | sed 's/^ *//')"
    done
    echo "  $precision, $(grep -E 'latency, batch 1' "$out/infer_${precision}_b1.log" | sed 's/^ *//')"
  done
  echo "bf16 against fp32: $(grep -E 'budgeted \(' "$out/budget_bf16.log" | sed 's/^ *//')"
  echo "bench infer (2000 test images, latency over 200), whole network and half the MUL-ADDs:"
  for log in "$out"/bench_infer_*.log; do
    echo "  $(grep -E '^network' "$log" | sed 's/^network *//'); precision $(grep -E '^precision' "$log" | sed 's/^precision *//')"
    grep -E '^ +all |^ +last |^At p_idx|^[0-9.]+x the|^Its|^The whole' "$log" | sed 's/^/    /'
  done
  [[ -z ${reproduce_line:-} ]] || { echo "$reproduce_line (longest job); summary: $out/reproduce_fmnist/summary.md"; }
  echo "total ${SECONDS}s"
} | tee "$out/table.txt"
rm -rf "$data"

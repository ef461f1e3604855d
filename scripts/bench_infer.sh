#!/usr/bin/env bash
# Early-exit inference on this machine (docs/inference.md), for the two networks of its targets:
# - the demo's Fashion-MNIST network (runs/demo/l2w from scripts/demo.sh; trained here if missing);
# - the seed's CIFAR-100 MSDNet (5 exits, nChannels 16). CIFAR-100 cannot be downloaded here, so it is
#   trained for one short epoch on synthetic images written in CIFAR-100's binary format: its accuracy
#   means nothing, its speed is the network's. Thresholds come from validation confidences as usual.
# Each network is measured in the inference form at batch 64 and 256 with stage-wise batching (the
# default), each budget's throughput timed between passes of the whole network, L2W_BENCH_ROUNDS times
# (default 3; medians kept). L2W_BENCH_FORMS="training-form inference-form" adds the network as trained;
# L2W_BENCH_BATCHING=per-batch measures the engine without stage-wise batching. Usage:
#   bash scripts/bench_infer.sh [OUT]   (default runs/bench_infer; about 30 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/bench_infer}
rounds=${L2W_BENCH_ROUNDS:-3}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bench_infer.sh: L2W_BENCH_ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2; }
forms=${L2W_BENCH_FORMS:-inference-form}
batches=${L2W_BENCH_BATCHES:-64 256}
batching=${L2W_BENCH_BATCHING:-stage-wise}
l2w=build/src/cli/l2w
[[ -x $l2w ]] || bash scripts/setup.sh
mkdir -p "$out"
[[ -f runs/demo/l2w/save_models/model_best.pth.tar ]] || bash scripts/demo.sh

cifar=$out/cifar100-data/cifar-100-binary
if [[ ! -f $cifar/test.bin ]]; then
  mkdir -p "$cifar"
  # Records of 1 coarse label, 1 fine label and 3072 pixel bytes (R, G, B planes of 32x32).
  python3 - "$cifar" <<'PY'
import os, random, sys
random.seed(0)
for name, count in (("train.bin", 2000), ("test.bin", 2000)):
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        for _ in range(count):
            fine = random.randrange(100)
            f.write(bytes([fine // 5, fine]) + os.urandom(3072))
PY
fi
cifar_net=(--data cifar100 --data_url "$out/cifar100-data" --nBlocks 5 --stepmode lin_grow --step 1 --base 1
           --nChannels 16)
if [[ ! -f $out/cifar100/save_models/model_best.pth.tar ]]; then
  "$l2w" train --method plain "${cifar_net[@]}" --epochs 1 --batch-size 64 --train-limit 1000 --test-limit 500 \
    --train_url "$out/cifar100" >"$out/cifar100_train.log" 2>&1
fi
demo_net=(--data fashion-mnist --nBlocks 3 --nChannels 8 --growthRate 4)

bench() {  # name, batch size, network flags...
  local name=$1 batch=$2
  shift 2
  "$l2w" bench infer "$@" -b "$batch" --latency-images 200 --rounds "$rounds" --batching "$batching" \
    --train_url "$out/$name" >"$out/$name.log" 2>&1
  echo "== $name"
  grep -E "^(network|threads|batching)|^ +(all|last) |^Early-exit|^Stage-wise|^At p_idx|^[0-9.]+x the|^Throughputs|^Its|^The whole" \
    "$out/$name.log"
}
for form in $forms; do
  flags=()
  [[ $form == training-form ]] && flags=(--training-form)
  for batch in $batches; do
    bench "demo_${form}_b${batch}_$batching" "$batch" "${demo_net[@]}" --evaluate_from runs/demo/l2w/save_models/model_best.pth.tar \
      --test-limit 2000 "${flags[@]}"
    bench "cifar100_${form}_b${batch}_$batching" "$batch" "${cifar_net[@]}" \
      --evaluate_from "$out/cifar100/save_models/model_best.pth.tar" "${flags[@]}"
  done
done

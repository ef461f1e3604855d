#!/usr/bin/env bash
# RANet end to end on Fashion-MNIST: a short L2W run (the reference's RANet defaults), then anytime and
# dynamic evaluation and early-exit inference through the same commands as MSDNet.
# Usage: ranet_l2w_check.sh L2W_BINARY WORK_DIR
set -euo pipefail
l2w=$1 run=$2/ranet_l2w
rm -rf "$run"
mkdir -p "$run"
arch=(--arch RANet --data fashion-mnist --train-limit 128 --test-limit 160 --threads 1)
"$l2w" train --method l2w "${arch[@]}" --epochs 1 --batch-size 64 --train_url "$run" --print-freq 0 >"$run/train.log"
grep -q "^l2w train: RANet nBlocks=2 block-step=2 nChannels=16 growthRate=6 grFactor=4-2-1 bnFactor=4-2-1 scale-list=1-2-3" "$run/train.log"
# One epoch of L2W: the meta loss column of scores.tsv is a number.
awk -F'\t' 'NR==1 { for (i = 1; i <= NF; ++i) if ($i == "meta_loss") c = i } NR==2 { if (!c || $c !~ /^[0-9.]+$/) exit 1 }' "$run/scores.tsv"
"$l2w" eval --evalmode both "${arch[@]}" --budget 2e7 --evaluate_from "$run/save_models/model_best.pth.tar" \
  --train_url "$run" >"$run/eval.log"
[ "$(grep -c '^ *[0-9][0-9]* ' "$run/eval.log")" -ge 45 ]  # 6 exits and 39 budgets
"$l2w" infer "${arch[@]}" --thresholds "$run/thresholds.txt" --evaluate_from "$run/save_models/model_best.pth.tar" \
  --latency-images 20 >"$run/infer.log"
grep -q "exits taken" "$run/infer.log"
# A RANet checkpoint is refused by an MSDNet.
if "$l2w" eval --data fashion-mnist --test-limit 10 --evaluate_from "$run/save_models/model_best.pth.tar" 2>"$run/err.txt"; then
  echo "an MSDNet accepted a RANet checkpoint"; exit 1
fi
grep -q "another architecture" "$run/err.txt"
echo "RANet check passed"

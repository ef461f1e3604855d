#!/usr/bin/env bash
# Divergence, for both methods: a run that trained one good epoch is resumed with --lr 1e5. It must stop in
# epoch 2 with one error line naming the epoch, the iteration and the quantity, exit non-zero, and leave the
# epoch-1 checkpoints as they were (latest.txt still naming them); --resume with a sane lr then finishes.
# Usage: divergence_check.sh L2W WORK_DIR
set -euo pipefail
l2w=$1
work=$2/divergence_check
rm -rf "$work"
mkdir -p "$work"
common=(train --data fashion-mnist --train-limit 256 --test-limit 128 --num_sample_valid 64 --nBlocks 2
        --nChannels 4 --growthRate 2 --grFactor 1-2-4 --bnFactor 1-2-4 --batch-size 64 --seed 0 --threads 1
        --print-freq 0)
for method in plain "l2w --meta_grad fd"; do
  name=${method%% *}
  run=$work/$name
  # shellcheck disable=SC2086
  "$l2w" "${common[@]}" --method $method --train_url "$run" --epochs 1 >"$run.good.log" 2>&1 ||
    { cat "$run.good.log"; exit 1; }
  before=$(md5sum "$run"/save_models/*)
  # shellcheck disable=SC2086
  if "$l2w" "${common[@]}" --method $method --train_url "$run" --epochs 2 --lr 1e5 >"$run.bad.log" 2>"$run.bad.err"; then
    echo "$name: a run at --lr 1e5 ended successfully"; exit 1
  fi
  cat "$run.bad.err"
  [[ $(wc -l <"$run.bad.err") == 1 ]] || { echo "$name: expected one error line"; exit 1; }
  grep -qE "^l2w: error: training diverged in epoch 2, iteration [0-9]+: the (training loss|meta loss|WPN loss weight|gradient norm) is (-?inf|nan)" \
    "$run.bad.err" || { echo "$name: the error line does not name epoch, iteration and quantity"; exit 1; }
  [[ $(md5sum "$run"/save_models/*) == "$before" ]] || { echo "$name: the run folder's checkpoints changed"; exit 1; }
  "$l2w" "${common[@]}" --method $method --train_url "$run" --epochs 2 >"$run.resumed.log" 2>&1 ||
    { cat "$run.resumed.log"; exit 1; }
  grep -q "resuming from .*checkpoint_001.pth.tar after epoch 1" "$run.resumed.log" ||
    { echo "$name: did not resume from the last good checkpoint"; exit 1; }
  grep -q checkpoint_002 "$run/save_models/latest.txt" || { echo "$name: the resumed run did not finish"; exit 1; }
done

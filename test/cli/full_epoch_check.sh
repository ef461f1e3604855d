#!/usr/bin/env bash
# A long check (label `long`, skipped by scripts/test.sh): one epoch of the demo's MSDNet over all 60000
# Fashion-MNIST training images, plain and L2W (first-order meta-gradient), then every exit of both must be far above chance (10 %)
# on the 10000 test images and the last exit above 80 %. Usage: full_epoch_check.sh L2W WORK_DIR
set -euo pipefail
l2w=$1
work=$2/full_epoch_check
rm -rf "$work"
mkdir -p "$work"
common=(train --data fashion-mnist --nBlocks 3 --nChannels 8 --growthRate 4 --grFactor 1-2-4 --bnFactor 1-2-4
        --epochs 1 --batch-size 64 --lr 0.1 --seed 0 --print-freq 200)
for method in plain "l2w --meta_grad fd"; do
  name=${method%% *}
  # shellcheck disable=SC2086
  "$l2w" "${common[@]}" --method $method --train_url "$work/$name" >"$work/$name.log" 2>&1 ||
    { tail "$work/$name.log"; exit 1; }
  echo "$name: $(awk -F, 'NR > 1 { printf "exit %s %.2f %%  ", $1, $2 }' "$work/$name/anytime.csv")"
  awk -F, 'NR > 1 && $2 < 50 { print "exit " $1 " at " $2 " %"; bad = 1 } END { if ($2 < 80) bad = 1; exit bad }' \
    "$work/$name/anytime.csv"
done

#!/usr/bin/env bash
# End to end on Fashion-MNIST: train a tiny MSDNet briefly, `l2w eval --evalmode both --save-probs --budget`,
# then SPEC §3 recomputed in Python from the saved probabilities must equal dynamic.txt and thresholds.txt,
# and `l2w plot` must draw two runs on one chart.
# Usage: budgeted_eval_check.sh L2W_BINARY SOURCE_DIR WORK_DIR
set -euo pipefail
l2w=$1 src=$2 run=$3/budgeted_eval
rm -rf "$run"
arch=(--data fashion-mnist --nBlocks 3 --nChannels 8 --growthRate 4 --grFactor 1-2-4 --bnFactor 1-2-4
      --train-limit 2000 --test-limit 1000 --use_valid --num_sample_valid 500 --threads 2)
"$l2w" train --method plain "${arch[@]}" --epochs 1 --batch-size 100 --train_url "$run" --print-freq 0 >/dev/null
"$l2w" eval --evalmode both "${arch[@]}" --save-probs --budget 5e6 \
  --evaluate_from "$run/save_models/model_best.pth.tar" --train_url "$run" >"$run/eval.log"
grep -q "^Budgeted batch classification (thresholds from 500 held-out images)" "$run/eval.log"
for f in probs_valid.npy probs_test.npy labels_valid.npy labels_test.npy thresholds.txt dynamic.txt \
         accuracy_budget.png accuracy_budget.svg; do
  test -s "$run/$f" || { echo "missing $run/$f"; exit 1; }
done
/usr/bin/python3 "$src/test/python/spec_dynamic_check.py" "$run" 5e6

"$l2w" plot "$run" "$run/" --output "$run/two" --title "two runs" >/dev/null
head -c 8 "$run/two.png" | od -An -c | grep -q "P   N   G"
grep -q "budgeted_eval (dynamic)" "$run/two.svg"
grep -q "MUL-ADDs per image (millions)" "$run/two.svg"
if "$l2w" plot "$run/nothing_here" 2>"$run/err.txt"; then echo "plot of an empty folder succeeded"; exit 1; fi
grep -q "no dynamic.txt or anytime.csv" "$run/err.txt"
echo "budgeted evaluation check passed"

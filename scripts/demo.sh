#!/usr/bin/env bash
# The main job on its embedded default: installs, builds, trains a small MSDNet on Fashion-MNIST,
# evaluates every exit (anytime) and under budgets (dynamic), prints both tables and draws the
# accuracy-against-MUL-ADDs plot. Run folder: runs/demo (plot: runs/demo/accuracy_budget.png and .svg).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
run=${1:-runs/demo}
arch=(--data fashion-mnist --arch msdnet --nBlocks 3 --nChannels 8 --growthRate 4 --stepmode lin_grow --step 1
      --base 1 --grFactor 1-2-4 --bnFactor 1-2-4)
./build/src/cli/l2w train --method plain "${arch[@]}" --epochs 3 --batch-size 64 --lr 0.1 --lr-type cosine \
  --seed 0 --print-freq 200 --train_url "$run"
./build/src/cli/l2w eval --evalmode both "${arch[@]}" --evaluate_from "$run/save_models/model_best.pth.tar" \
  --train_url "$run"

#!/usr/bin/env bash
# The main job on its embedded default: installs and builds l2w, then trains the same small MSDNet on
# the same Fashion-MNIST images twice, side by side, plainly and with L2W (learned per-sample weights,
# first-order meta-gradient), prints each one's per-exit test results, compares them at 40, 60, 80 and
# 100 % of the full network's MUL-ADDs, and draws both accuracy-against-MUL-ADDs curves in one plot.
# Run folder: runs/demo (plot: runs/demo/comparison.png and .svg; training logs: runs/demo/*.log).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh l2w  # the command only; scripts/test.sh builds the tests
run=${1:-runs/demo}
l2w=./build/src/cli/l2w
mkdir -p "$run"
# A subset, so that both methods train and evaluate within 3 minutes on 2 cores: the first 3000 training
# images (also the validation set that picks the exit thresholds) and the first 5000 test images; three
# epochs of a cosine schedule.
common=(train --data fashion-mnist --train-limit 3000 --test-limit 5000 --arch msdnet --nBlocks 3 --nChannels 8 --growthRate 4
        --stepmode lin_grow --step 1 --base 1 --grFactor 1-2-4 --bnFactor 1-2-4 --epochs 3 --batch-size 64
        --lr 0.1 --lr-type cosine --seed 0 --print-freq 0)
# L2W with the reference's CIFAR meta settings (l2w's defaults) and the first-order meta-gradient.
l2w_flags=(--method l2w --meta_grad fd --meta_interval 1 --meta_lr 1e-4 --meta_weight_decay 1e-4 --epsilon 0.8
           --constraint_dimension col --meta_net_input_type loss --meta_net_hidden_size 500 --target_p_index 15)
# Both trainings side by side, one LibTorch thread each: this small network gains little from a second
# thread, so the pair finishes sooner than one after the other (144 s against 171 s, measured).
declare -A pids started
# Background jobs of a script ignore Ctrl-C: stop the trainings with the demo, however it ends (a trapped
# signal also interrupts `wait`).
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
for method in plain l2w; do
  flags=(--method plain)
  [[ $method == l2w ]] && flags=("${l2w_flags[@]}")
  rm -rf "${run:?}/$method"
  started[$method]=$SECONDS
  "$l2w" "${common[@]}" "${flags[@]}" --threads 1 --train_url "$run/$method" >"$run/$method.log" 2>&1 &
  pids[$method]=$!
done
echo "demo: training plain and l2w side by side (logs: $run/plain.log, $run/l2w.log)"
for method in plain l2w; do
  wait "${pids[$method]}" || { tail -n 20 "$run/$method.log"; exit 1; }
  echo "demo: $method trained and evaluated in $((SECONDS - started[$method])) s; its test results per exit:"
  sed -n '/^Final test results/,/^$/p' "$run/$method.log" | tail -n +2
done
echo "demo: the two methods compared (test top-1 within budgets; plot: $run/comparison.png):"
"$l2w" compare "$run/plain" "$run/l2w" --labels plain,L2W --budgets 0.4,0.6,0.8,1 --output "$run/comparison" \
  --title "Fashion-MNIST, MSDNet, 3000 images x 3 epochs: plain against L2W"

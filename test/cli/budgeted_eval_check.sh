#!/usr/bin/env bash
# End to end on Fashion-MNIST: train a tiny MSDNet briefly, `l2w eval --evalmode both --save-probs --budget`,
# then budgeted evaluation recomputed in Python from the saved probabilities must equal dynamic.txt and thresholds.txt,
# `l2w infer` with the thresholds file must reproduce the test accuracy and cost that eval reported for them,
# `l2w bench infer` must write its table and plots, and `l2w plot` must draw two runs on one chart.
# Usage: budgeted_eval_check.sh L2W_BINARY SOURCE_DIR WORK_DIR
set -euo pipefail
l2w=$1 src=$2 run=$3/budgeted_eval
rm -rf "$run"
mkdir -p "$run"
net=(--data fashion-mnist --nBlocks 3 --nChannels 8 --growthRate 4 --grFactor 1-2-4 --bnFactor 1-2-4)
arch=("${net[@]}" --train-limit 1200 --test-limit 600 --use_valid --num_sample_valid 500)
"$l2w" train --method plain "${arch[@]}" --epochs 1 --batch-size 100 --train_url "$run" --print-freq 0 >/dev/null
"$l2w" eval --evalmode both "${arch[@]}" --save-probs --budget 5e6 \
  --evaluate_from "$run/save_models/model_best.pth.tar" --train_url "$run" >"$run/eval.log"
grep -q "^Budgeted batch classification (exit criterion max-prob, thresholds from 500 held-out images)" "$run/eval.log"
for f in probs_valid.npy probs_test.npy labels_valid.npy labels_test.npy thresholds.txt dynamic.txt \
         accuracy_budget.png accuracy_budget.svg; do
  test -s "$run/$f" || { echo "missing $run/$f"; exit 1; }
done
"${L2W_PYTHON:-python3}" "$src/test/python/spec_dynamic_check.py" "$run" 5e6

# Early-exit inference with the thresholds: the same accuracy and MUL-ADDs as dynamic evaluation's.
expected=$(sed -n 's/.*test: \([0-9.]*\)% at \([0-9.]*\) M.*/\1 \2/p' "$run/eval.log")
"$l2w" infer "${arch[@]}" --thresholds "$run/thresholds.txt" --evaluate_from "$run/save_models/model_best.pth.tar" \
  --batch-size 128 --latency-images 50 --precision fp32 >"$run/infer.log"
got="$(sed -n 's/^  top-1 accuracy *\([0-9.]*\) %.*/\1/p' "$run/infer.log") $(sed -n 's/^  mean MUL-ADDs *\([0-9.]*\) M.*/\1/p' "$run/infer.log")"
[ -n "$expected" ] && [ "$got" = "$expected" ] || { echo "infer gave '$got', eval '$expected'"; exit 1; }
grep -q "latency, batch 1     p50 .* ms, p90 .* ms, p99 .* ms (50 images)" "$run/infer.log"
grep -q "^  network  *inference form: [0-9]* BatchNorms folded into their convolutions" "$run/infer.log"
# A thresholds file of another network is refused.
sed 's/^exit 1 threshold \(.*\) muladds [0-9]*/exit 1 threshold \1 muladds 7/' "$run/thresholds.txt" >"$run/other.txt"
if "$l2w" infer "${arch[@]}" --thresholds "$run/other.txt" --evaluate_from "$run/save_models/model_best.pth.tar" \
  2>"$run/err.txt"; then echo "infer accepted another network's thresholds"; exit 1; fi
grep -q "chosen for another network" "$run/err.txt"
# In bf16: eval fits the thresholds on the deployed network's bf16 outputs, says how they differ from fp32's,
# and infer in bf16 reproduces what eval reported for them; fp32 thresholds deployed in bf16 get a note.
mkdir -p "$run/bf16" && cp "$run/valid_index.txt" "$run/bf16/"  # the same held-out images
"$l2w" eval --evalmode dynamic "${arch[@]}" --budget 5e6 --precision bf16 --thresholds "$run/bf16.txt" \
  --evaluate_from "$run/save_models/model_best.pth.tar" --train_url "$run/bf16" >"$run/eval_bf16.log"
grep -q "^Precision: bf16 (as asked" "$run/eval_bf16.log"
grep -q "^bf16 against fp32 (the trained network) on 600 test images:" "$run/eval_bf16.log"
grep -q "budgeted (39 budgets, each precision's own thresholds): largest accuracy difference [0-9.]* points, same exit for at least [0-9.]*% of test images" "$run/eval_bf16.log"
[ "$(wc -l <"$run/bf16/precision_comparison.tsv")" -eq 40 ]
grep -q "^precision bf16$" "$run/bf16.txt"
grep -q "^precision fp32$" "$run/thresholds.txt"
expected=$(sed -n 's/.*test: \([0-9.]*\)% at \([0-9.]*\) M.*/\1 \2/p' "$run/eval_bf16.log")
"$l2w" infer "${arch[@]}" --thresholds "$run/bf16.txt" --evaluate_from "$run/save_models/model_best.pth.tar" \
  --batch-size 128 --latency-images 5 --precision bf16 >"$run/infer_bf16.log"
got="$(sed -n 's/^  top-1 accuracy *\([0-9.]*\) %.*/\1/p' "$run/infer_bf16.log") $(sed -n 's/^  mean MUL-ADDs *\([0-9.]*\) M.*/\1/p' "$run/infer_bf16.log")"
# Within a point and 2 % of the cost, not equal: in bf16 a layer's rounding depends on the batch's size
# (oneDNN's kernel for it), and eval's batches are not infer's compacted ones.
echo "$got $expected" | awk '{ if ($1 - $3 > 1 || $3 - $1 > 1 || $2 > 1.02 * $4 || $4 > 1.02 * $2) exit 1 }' ||
  { echo "infer in bf16 gave '$got', eval '$expected'"; exit 1; }
grep -q "^  precision            bf16 (as asked" "$run/infer_bf16.log"
"$l2w" infer "${arch[@]}" --thresholds "$run/thresholds.txt" --evaluate_from "$run/save_models/model_best.pth.tar" \
  --batch-size 128 --latency-images 5 --precision bf16 >"$run/infer_mixed.log"
grep -q "^  note                 the thresholds were fitted on fp32 outputs: fit them in bf16" "$run/infer_mixed.log"
if "$l2w" infer "${arch[@]}" --thresholds "$run/bf16.txt" --evaluate_from "$run/save_models/model_best.pth.tar" \
  --precision fp16 2>"$run/err.txt"; then echo "infer accepted --precision fp16"; exit 1; fi
grep -q "precision" "$run/err.txt"
# Its speed rounds on a sixth of the test images: the table's rows, not its figures, are checked.
"$l2w" bench infer "${net[@]}" --train-limit 1200 --test-limit 100 --use_valid --num_sample_valid 500 --evaluate_from "$run/save_models/model_best.pth.tar" --train_url "$run" \
  --batch-size 100 --latency-images 10 >"$run/bench.log"
[ "$(grep -c '^ *[0-9][0-9]* ' "$run/bench.log")" -ge 39 ] || { cat "$run/bench.log"; exit 1; }
grep -q "^Early-exit efficiency between a quarter and the whole of the MUL-ADDs (stage-wise batching, batch 100): at least" "$run/bench.log"
for f in infer_bench.tsv accuracy_latency.png accuracy_latency.svg accuracy_throughput.png; do
  test -s "$run/$f" || { echo "missing $run/$f"; exit 1; }
done

"$l2w" plot "$run" "$run/" --output "$run/two" --title "two runs" >/dev/null
head -c 8 "$run/two.png" | od -An -c | grep -q "P   N   G"
grep -q "budgeted_eval (dynamic)" "$run/two.svg"
grep -q "MUL-ADDs per image (millions)" "$run/two.svg"
if "$l2w" plot "$run/nothing_here" 2>"$run/err.txt"; then echo "plot of an empty folder succeeded"; exit 1; fi
grep -q "no dynamic.txt or anytime.csv" "$run/err.txt"
echo "budgeted evaluation check passed"

# Sourced by the serving and export checks: the small network they serve, trained for one epoch on 384
# Fashion-MNIST images into $work/run. Needs $l2w and $work; sets `arch` (its flags) and `ckpt` (its best
# checkpoint), and defines infer_at_a_budget.
arch=(--data fashion-mnist --train-limit 384 --test-limit 64 --nBlocks 3 --nChannels 8 --growthRate 4 --stepmode lin_grow
      --step 1 --base 1 --grFactor 1-2-4 --bnFactor 1-2-4 --threads 1)
"$l2w" train "${arch[@]}" --method plain --epochs 1 --batch-size 64 --seed 0 --print-freq 0 --train_url "$work/run" \
  >"$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
ckpt=$work/run/save_models/model_best.pth.tar

# Thresholds for a budget of 1.3 times the first exit's cost (below the full network's, so that images
# leave early) into $work/run/thresholds.txt, and `l2w infer` with them into $work/infer.log; sets `budget`.
infer_at_a_budget() {
  budget=$(awk 'NR == 2 { print int($2 * 1.3) }' "$work/run/flops.tsv")
  "$l2w" eval "${arch[@]}" --evaluate_from "$ckpt" --train_url "$work/run" --evalmode dynamic --budget "$budget" \
    >"$work/eval.log" 2>&1 || { cat "$work/eval.log"; exit 1; }
  "$l2w" infer "${arch[@]}" --evaluate_from "$ckpt" --train_url "$work/run" --thresholds "$work/run/thresholds.txt" \
    --memory-format contiguous --latency-images 4 >"$work/infer.log" 2>&1 || { cat "$work/infer.log"; exit 1; }
}

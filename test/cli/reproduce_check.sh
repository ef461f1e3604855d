#!/usr/bin/env bash
# scripts/reproduce_fmnist.sh on a small subset (600 training images, 2 epochs, 2 seeds), two runs at a
# time (--jobs 2): stopped while the first L2W run is in its second epoch, then run again, it must skip the
# finished runs, resume the stopped one after its first epoch, finish the rest and write summary.md with
# mean ± standard deviation.
# Usage: reproduce_check.sh L2W SOURCE_DIR WORK_DIR
set -euo pipefail
export L2W=$1
source_dir=$2
out=$3/reproduce_check
rm -rf "$out"
args=(--epochs 2 --seeds "0 1" --jobs 2 --out "$out" -- --train-limit 384 --test-limit 200 --num_sample_valid 100
      --threads 1)
setsid bash "$source_dir/scripts/reproduce_fmnist.sh" "${args[@]}" >"$out.first.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  grep -qs checkpoint_001 "$out/l2w_seed0/save_models/latest.txt" && break
  kill -0 $pid 2>/dev/null || { cat "$out.first.log"; echo "the first run ended early"; exit 1; }
  sleep 0.5
done
kill -TERM -- -$pid
wait $pid || true
[[ ! -e $out/l2w_seed0/finished_epochs ]] || { echo "stopped too late"; exit 1; }
bash "$source_dir/scripts/reproduce_fmnist.sh" "${args[@]}" >"$out.second.log" 2>&1 || { cat "$out.second.log"; exit 1; }
cat "$out.second.log"
grep -q "plain_seed0: done" "$out.second.log" || { echo "a finished run was trained again"; exit 1; }
grep -qE "resuming from .*checkpoint_001(_[0-9]{6})?.pth.tar after epoch 1" "$out/l2w_seed0.log" ||
  { echo "the stopped run did not resume"; exit 1; }
for run in plain_seed0 plain_seed1 l2w_seed0 l2w_seed1; do
  [[ $(cat "$out/$run/finished_epochs") == 2 ]] || { echo "$run did not finish"; exit 1; }
done
grep -qE '^\| 50% \([0-9.]+ M\) \| [0-9.]+ ± [0-9.]+ \| [0-9.]+ ± [0-9.]+ \| [-+][0-9.]+ ± [0-9.]+ \|$' "$out/summary.md" ||
  { cat "$out/summary.md"; echo "summary.md lacks the 50 % row"; exit 1; }

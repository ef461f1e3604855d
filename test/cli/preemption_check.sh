#!/usr/bin/env bash
# Pre-emption: a one-epoch run is sent a stop signal at a random iteration. It must finish that
# iteration, write a checkpoint holding its place, say so in one line and exit with status 75; the same
# command then continues it, and its final checkpoint, scores.tsv and per-sample records are byte for byte
# those of a run never interrupted. Plain training with SIGTERM, L2W with SIGUSR1, and (with `launch`) a
# two-process L2W job whose launcher gets SIGINT and forwards it.
# Usage: preemption_check.sh L2W WORK_DIR [launch]
set -euo pipefail
l2w=$1
work=$2/preemption_check${3:+_$3}
rm -rf "$work"
mkdir -p "$work"
common=(train --data fashion-mnist --train-limit 512 --test-limit 128 --num_sample_valid 64 --nBlocks 2
        --nChannels 4 --growthRate 2 --grFactor 1-2-4 --bnFactor 1-2-4 --batch-size 64 --seed 0 --threads 1
        --print-freq 1 --epochs 1)
if [[ ${3:-} == launch ]]; then
  prefix=("$l2w" launch --nproc 2 --)
  cases=("l2w SIGINT")
else
  prefix=("$l2w")
  cases=("plain SIGTERM" "l2w SIGUSR1")
fi

for case in "${cases[@]}"; do
  read -r method signal <<<"$case"
  run=(--method "$method" --save-every 5)
  "${prefix[@]}" "${common[@]}" "${run[@]}" --train_url "$work/$method/whole" >"$work/$method.whole.log" 2>&1 ||
    { cat "$work/$method.whole.log"; exit 1; }

  stop_at=$((2 + RANDOM % 5))  # of 8 iterations: the stop must land before the epoch ends
  "${prefix[@]}" "${common[@]}" "${run[@]}" --train_url "$work/$method/cut" >"$work/$method.cut.log" 2>&1 &
  pid=$!
  until grep -q "^Epoch \[1/1\]\[$stop_at/8\]" "$work/$method.cut.log"; do
    kill -0 $pid 2>/dev/null || { cat "$work/$method.cut.log"; echo "$method: ended before the signal"; exit 1; }
    sleep 0.01
  done
  kill -"${signal#SIG}" $pid
  status=0
  wait $pid || status=$?
  [[ $status == 75 ]] || { cat "$work/$method.cut.log"; echo "$method: exit status $status, not 75"; exit 1; }
  line=$(grep -E "^l2w: stopped by $signal in epoch 1 after iteration [0-9]+ of 8: .*checkpoint_000_0000[0-9]{2}\.pth\.tar holds the run's place; the same command continues it$" \
    "$work/$method.cut.log") || { cat "$work/$method.cut.log"; echo "$method: no stop line"; exit 1; }
  echo "$method, $signal after iteration $stop_at printed: $line"
  [[ $(grep -c "^l2w: " "$work/$method.cut.log") == 1 ]] || { echo "$method: more than one l2w line"; exit 1; }
  stopped=$(sed -E 's/.*after iteration ([0-9]+) of.*/\1/' <<<"$line")

  "${prefix[@]}" "${common[@]}" "${run[@]}" --train_url "$work/$method/cut" >"$work/$method.resumed.log" 2>&1 ||
    { cat "$work/$method.resumed.log"; exit 1; }
  grep -q "resuming from .*checkpoint_000_0000[0-9][0-9].pth.tar after epoch 0, iteration $stopped$" \
    "$work/$method.resumed.log" || { cat "$work/$method.resumed.log"; echo "$method: did not resume inside the epoch"; exit 1; }
  for file in save_models/checkpoint_001.pth.tar save_models/model_best.pth.tar scores.tsv \
      per_sample/epoch_001_losses.tsv per_sample/epoch_001_confidences.tsv; do
    cmp "$work/$method/whole/$file" "$work/$method/cut/$file" || { echo "$method: $file differs"; exit 1; }
  done
  ! ls "$work/$method/cut/save_models" | grep -q "checkpoint_..._" ||
    { ls "$work/$method/cut/save_models"; echo "$method: a superseded checkpoint inside an epoch was left"; exit 1; }
done

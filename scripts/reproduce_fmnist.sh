#!/usr/bin/env bash
# The longer experiment: plain and L2W MSDNets on all 60000 Fashion-MNIST training images, three seeds
# each, thresholds from a held-out validation set (--use_valid, 5000 images). The jobs run one after
# another, or --jobs N at a time (each its own process, on the same --device); stop it at any moment
# (Ctrl-C, SIGTERM) and run it again: finished runs are skipped and interrupted ones continue from the
# iteration they stopped at. Writes OUT/summary.md (per budget: mean and standard deviation of each method
# and of their difference) and OUT/comparison.{png,svg} (a band of ±1 standard deviation per method).
#
# Usage: scripts/reproduce_fmnist.sh [--epochs N (30)] [--out DIR (runs/reproduce_fmnist)]
#                                    [--seeds "0 1 2"] [--device cpu|cuda[:i] (cpu)] [--jobs N (1)]
#                                    [-- more l2w train flags]
# L2W=path/to/l2w uses that binary and skips the setup (as the tests do).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=30
out=runs/reproduce_fmnist
seeds="0 1 2"
device=cpu
jobs=1
extra=()
while (($#)); do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "reproduce_fmnist: unknown argument '$1' (--epochs N, --out DIR, --seeds \"0 1 2\", --device D, --jobs N, -- flags)" >&2
       exit 2 ;;
  esac
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "reproduce_fmnist: --jobs '$jobs' is not a positive integer" >&2; exit 2; }
if [[ -z ${L2W:-} ]]; then
  bash scripts/setup.sh
  L2W=./build/src/cli/l2w
fi
mkdir -p "$out"
common=(train --data fashion-mnist --arch msdnet --nBlocks 3 --nChannels 8 --growthRate 4 --stepmode lin_grow
        --step 1 --base 1 --grFactor 1-2-4 --bnFactor 1-2-4 --epochs "$epochs" --batch-size 64 --lr 0.1
        --lr-type cosine --use_valid --print-freq 100)
declare -A method_flags=([plain]="--method plain" [l2w]="--method l2w --meta_grad fd")

# One run, in the background: its status is l2w's (75: stopped by a signal, its place checkpointed).
train_run() {
  local dir=$1 method=$2 seed=$3 start=$SECONDS status=0
  echo "reproduce_fmnist: $dir: training (log: $dir.log)"
  # shellcheck disable=SC2086
  "$L2W" "${common[@]}" ${method_flags[$method]} --seed "$seed" --device "$device" --train_url "$dir" \
    "${extra[@]}" >>"$dir.log" 2>&1 || status=$?
  if ((status == 0)); then
    echo "$epochs" >"$dir/finished_epochs"
    echo "reproduce_fmnist: $dir: finished in $((SECONDS - start)) s"
  elif ((status == 75)); then
    tail -n 1 "$dir.log"
  else
    tail -n 20 "$dir.log"
  fi
  return "$status"
}

# A stop signal reaches the runs (each checkpoints its place and exits 75); then this script exits 75.
running=()
stop() {
  trap '' TERM INT
  ((${#running[@]} == 0)) || kill -TERM "${running[@]}" 2>/dev/null || true
  wait || true
  exit 75
}
trap stop TERM INT
failed=0
# Waits for one run to end and frees its slot; a failed run stops the others.
reap() {
  local pid p status=0 rest=()
  wait -n -p pid "${running[@]}" || status=$?
  for p in "${running[@]}"; do [[ $p == "$pid" ]] || rest+=("$p"); done
  running=("${rest[@]}")
  if ((status == 75)); then stop; fi
  if ((status != 0)); then failed=1; fi
}

runs_of=()
for method in plain l2w; do
  list=()
  for seed in $seeds; do
    dir=$out/${method}_seed$seed
    list+=("$dir")
    if [[ $(cat "$dir/finished_epochs" 2>/dev/null) == "$epochs" ]]; then
      echo "reproduce_fmnist: $dir: done"
      continue
    fi
    while ((${#running[@]} >= jobs)) && ((failed == 0)); do reap; done
    ((failed == 0)) || break 2
    train_run "$dir" "$method" "$seed" &
    running+=($!)
  done
  runs_of+=("$(IFS=,; echo "${list[*]}")")
done
while ((${#running[@]} > 0)); do reap; done
((failed == 0)) || exit 1
{
  echo "# Fashion-MNIST: plain against L2W"
  echo
  echo "MSDNet (3 exits), $epochs epochs, seeds $seeds, thresholds from held-out training images (--use_valid);"
  echo "trained on $device, $jobs run(s) at a time."
  echo "test top-1 (%) within a budget, as mean ± standard deviation over seeds; differences paired by seed."
  ((${#extra[@]} == 0)) || echo "Further training flags: ${extra[*]}."
  echo
} >"$out/summary.md"
"$L2W" compare "${runs_of[@]}" --labels plain,L2W --markdown "$out/summary.table.md" --output "$out/comparison" \
  --title "Fashion-MNIST, MSDNet, $epochs epochs, seeds $seeds: plain against L2W"
cat "$out/summary.table.md" >>"$out/summary.md"
rm -f "$out/summary.table.md"
echo "reproduce_fmnist: $out/summary.md"

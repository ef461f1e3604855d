#!/usr/bin/env bash
# The longer experiment: plain and L2W MSDNets on all 60000 Fashion-MNIST training images, three seeds
# each, thresholds from a held-out validation set (--use_valid, 5000 images). The jobs run one after
# another; stop it at any moment (Ctrl-C, SIGTERM) and run it again: finished runs are skipped and the
# interrupted one continues from the iteration it stopped at. Writes OUT/summary.md (per budget: mean and standard deviation
# of each method and of their difference) and OUT/comparison.{png,svg} (a band of ±1 standard deviation
# per method).
#
# Usage: scripts/reproduce_fmnist.sh [--epochs N (30)] [--out DIR (runs/reproduce_fmnist)]
#                                    [--seeds "0 1 2"] [-- more l2w train flags]
# L2W=path/to/l2w uses that binary and skips the setup (as the tests do).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=30
out=runs/reproduce_fmnist
seeds="0 1 2"
extra=()
while (($#)); do
  case $1 in
    --epochs) epochs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "reproduce_fmnist: unknown argument '$1' (--epochs N, --out DIR, --seeds \"0 1 2\", -- flags)" >&2; exit 2 ;;
  esac
done
if [[ -z ${L2W:-} ]]; then
  bash scripts/setup.sh
  L2W=./build/src/cli/l2w
fi
mkdir -p "$out"
common=(train --data fashion-mnist --arch msdnet --nBlocks 3 --nChannels 8 --growthRate 4 --stepmode lin_grow
        --step 1 --base 1 --grFactor 1-2-4 --bnFactor 1-2-4 --epochs "$epochs" --batch-size 64 --lr 0.1
        --lr-type cosine --use_valid --print-freq 100)
declare -A method_flags=([plain]="--method plain" [l2w]="--method l2w --meta_grad fd")
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
    echo "reproduce_fmnist: $dir: training (log: $dir.log)"
    start=$SECONDS
    # shellcheck disable=SC2086
    status=0
    "$L2W" "${common[@]}" ${method_flags[$method]} --seed "$seed" --train_url "$dir" "${extra[@]}" >>"$dir.log" 2>&1 ||
      status=$?
    if ((status == 75)); then  # stopped by a signal, its place checkpointed
      tail -n 1 "$dir.log"
      exit 75
    fi
    ((status == 0)) || { tail -n 20 "$dir.log"; exit 1; }
    echo "$epochs" >"$dir/finished_epochs"
    echo "reproduce_fmnist: $dir: finished in $((SECONDS - start)) s"
  done
  runs_of+=("$(IFS=,; echo "${list[*]}")")
done
{
  echo "# Fashion-MNIST: plain against L2W"
  echo
  echo "MSDNet (3 exits), $epochs epochs, seeds $seeds, thresholds from held-out training images (--use_valid);"
  echo "test top-1 (%) within a budget, as mean ± standard deviation over seeds; differences paired by seed."
  ((${#extra[@]} == 0)) || echo "Further training flags: ${extra[*]}."
  echo
} >"$out/summary.md"
"$L2W" compare "${runs_of[@]}" --labels plain,L2W --markdown "$out/summary.table.md" --output "$out/comparison" \
  --title "Fashion-MNIST, MSDNet, $epochs epochs, seeds $seeds: plain against L2W"
cat "$out/summary.table.md" >>"$out/summary.md"
rm -f "$out/summary.table.md"
echo "reproduce_fmnist: $out/summary.md"

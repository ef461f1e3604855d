#!/usr/bin/env bash
# IMTA's techniques alone and with L2W on the demo's network (3000 Fashion-MNIST training images x 3
# epochs, tested on the first 5000 test images), for each seed:
#   plain; GE (gradient equilibrium); GE + ISC/KD (IMTA's second stage on GE's best checkpoint, 3 more
#   epochs), with the backbone's BatchNorm as IMTA's code runs it (batch statistics, running statistics
#   updated) and frozen (--imta-freeze-backbone-bn); L2W; L2W + GE; L2W + GE + ISC/KD (both BatchNorm modes).
# plain and the L2W first stages train on the demo's schedule (cosine from 0.1); IMTA's rows (GE and every
# second stage) on IMTA's (lr 0.1, tenfold decay at 50 % and 75 % of the epochs, momentum 0.9, weight
# decay 1e-4; T = 1, gamma = 0.1).
# Then `l2w compare` of the eight: test accuracy at 25/50/75/100 % of the full cost, mean ± std over
# seeds, written to OUT/summary.md. Finished runs are skipped when run again.
# Usage: scripts/compare_imta.sh [--seeds "0 1"] [--out DIR (runs/compare_imta)]
# L2W=path/to/l2w uses that binary and skips the setup.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds="0 1"
out=runs/compare_imta
while (($#)); do
  case $1 in
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "compare_imta: unknown argument '$1' (--seeds \"0 1\", --out DIR)" >&2; exit 2 ;;
  esac
done
if [[ -z ${L2W:-} ]]; then
  bash scripts/setup.sh l2w
  L2W=./build/src/cli/l2w
fi
mkdir -p "$out"
common=(train --data fashion-mnist --train-limit 3000 --test-limit 5000 --arch msdnet --nBlocks 3 --nChannels 8
        --growthRate 4 --stepmode lin_grow --step 1 --base 1 --grFactor 1-2-4 --bnFactor 1-2-4 --epochs 3
        --batch-size 64 --lr 0.1 --momentum 0.9 --weight-decay 1e-4 --print-freq 0)
cosine=(--lr-type cosine)
imta=(--lr-type multistep --decay-rate 0.1)
stage2=(--method plain --imta-stage2 "${imta[@]}" --kd-temperature 1 --kd-gamma 0.1)
l2w_flags=(--method l2w --meta_grad fd --meta_interval 1 --meta_lr 1e-4 --meta_weight_decay 1e-4 --epsilon 0.8
           --constraint_dimension col --meta_net_input_type loss --meta_net_hidden_size 500 --target_p_index 15)
train() {  # train NAME SEED FLAGS...
  local run=$out/$1_seed$2
  shift 2
  [[ -f $run/dynamic.txt ]] && return 0
  echo "compare_imta: $(basename "$run")"
  "$L2W" "${common[@]}" --seed "${run##*_seed}" --train_url "$run" "$@" >"$run.log" 2>&1 || { tail -5 "$run.log"; exit 1; }
}
for seed in $seeds; do
  train plain "$seed" --method plain "${cosine[@]}"
  train ge "$seed" --method plain --gradient-equilibrium "${imta[@]}"
  train ge_isc_kd "$seed" "${stage2[@]}" --imta-from "$out/ge_seed$seed/save_models/model_best.pth.tar"
  train ge_isc_kd_frozen_bn "$seed" "${stage2[@]}" --imta-freeze-backbone-bn \
    --imta-from "$out/ge_seed$seed/save_models/model_best.pth.tar"
  train l2w "$seed" "${l2w_flags[@]}" "${cosine[@]}"
  train l2w_ge "$seed" "${l2w_flags[@]}" "${cosine[@]}" --gradient-equilibrium
  train l2w_ge_isc_kd "$seed" "${stage2[@]}" --imta-from "$out/l2w_ge_seed$seed/save_models/model_best.pth.tar"
  train l2w_ge_isc_kd_frozen_bn "$seed" "${stage2[@]}" --imta-freeze-backbone-bn \
    --imta-from "$out/l2w_ge_seed$seed/save_models/model_best.pth.tar"
done
runs() { local list=""; for seed in $seeds; do list+="${list:+,}$out/$1_seed$seed"; done; echo "$list"; }
"$L2W" compare "$(runs plain)" "$(runs ge)" "$(runs ge_isc_kd)" "$(runs ge_isc_kd_frozen_bn)" "$(runs l2w)" \
  "$(runs l2w_ge)" "$(runs l2w_ge_isc_kd)" "$(runs l2w_ge_isc_kd_frozen_bn)" \
  --labels "plain,GE,GE + ISC/KD,GE + ISC/KD frozen BN,L2W,L2W + GE,L2W + GE + ISC/KD,L2W + GE + ISC/KD frozen BN" \
  --budgets 0.25,0.5,0.75,1 \
  --markdown "$out/summary.md" --output "$out/comparison" --title "Fashion-MNIST, MSDNet: IMTA's techniques and L2W"

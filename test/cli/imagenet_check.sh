#!/usr/bin/env bash
# ImageNet folders end to end: the seed's ImageNet MSDNet command with small sizes trains (L2W) and
# evaluates on a generated folder; a corrupt image stops the run with its path unless --skip-bad-images.
# Usage: imagenet_check.sh L2W_BINARY SOURCE_DIR WORK_DIR
set -euo pipefail
l2w=$1 src=$2 work=$3/imagenet
rm -rf "$work"
mkdir -p "$work"
"${L2W_PYTHON:-python3}" "$src/test/python/make_image_folder.py" "$work/data"
arch=(--data ImageNet --data_url "$work/data" --workers 2 --seed 0 --arch msdnet --nBlocks 2 --stepmode even
      --step 1 --base 1 --nChannels 4 --growthRate 4 --grFactor 1-2-4-4 --bnFactor 1-2-4-4)
meta=(--meta_net_hidden_size 16 --meta_net_num_layers 1 --meta_interval 1 --meta_lr 1e-4 --epsilon 0.3
      --target_p_index 15 --meta_net_input_type loss --constraint_dimension mat)
if "$l2w" train "${arch[@]}" "${meta[@]}" --epochs 1 --batch-size 8 --train_url "$work/strict" >"$work/strict.log" 2>&1; then
  echo "a corrupt image went through"; exit 1
fi
grep -q "corrupt.JPEG" "$work/strict.log"
"$l2w" train "${arch[@]}" "${meta[@]}" --epochs 1 --batch-size 8 --lr 0.05 --print-freq 1 --skip-bad-images \
  --train_url "$work/run" >"$work/train.log"
grep -q "skipped 1 training images" "$work/train.log"
grep -q "data ImageNet: 25 train / 12 test" "$work/train.log"
"$l2w" eval --evalmode both "${arch[@]}" --skip-bad-images --evaluate_from "$work/run/save_models/model_best.pth.tar" \
  --train_url "$work/run" >"$work/eval.log"
grep -q "Anytime evaluation of .* on 12 test images" "$work/eval.log"
echo "ImageNet folder check passed"

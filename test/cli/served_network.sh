# Sourced by the serving checks: the small network they serve, trained for one epoch on 384 Fashion-MNIST
# images into $work/run. Needs $l2w and $work; sets `arch` (its flags) and `ckpt` (its best checkpoint).
arch=(--data fashion-mnist --train-limit 384 --test-limit 64 --nBlocks 3 --nChannels 8 --growthRate 4 --stepmode lin_grow
      --step 1 --base 1 --grFactor 1-2-4 --bnFactor 1-2-4 --threads 1)
"$l2w" train "${arch[@]}" --method plain --epochs 1 --batch-size 64 --seed 0 --print-freq 0 --train_url "$work/run" \
  >"$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
ckpt=$work/run/save_models/model_best.pth.tar

#!/usr/bin/env bash
# Digests of short training runs, for refactorings that must not change a number: two epochs of plain,
# L2W exact (meta step every 2nd iteration) and L2W fd training of a small MSDNet on 512 Fashion-MNIST
# images, then the md5 of each run's last checkpoint and scores.tsv. Run it with the binaries before and
# after a change; the lines must be identical (same machine, same thread count).
# Usage: scripts/checkpoint_digests.sh L2W_BINARY WORK_DIR
set -euo pipefail
l2w=$1 out=$2
rm -rf "$out"
mkdir -p "$out"
common=(train --data fashion-mnist --train-limit 512 --test-limit 256 --num_sample_valid 64 --nBlocks 2
        --nChannels 4 --growthRate 2 --grFactor 1-2-4 --bnFactor 1-2-4 --batch-size 64 --epochs 2 --seed 0
        --threads 2 --print-freq 0 --lr 0.05)
"$l2w" "${common[@]}" --method plain --train_url "$out/plain" >"$out/plain.log" 2>&1
"$l2w" "${common[@]}" --method l2w --meta_grad exact --meta_interval 2 --train_url "$out/exact" >"$out/exact.log" 2>&1
"$l2w" "${common[@]}" --method l2w --meta_grad fd --train_url "$out/fd" >"$out/fd.log" 2>&1
for m in plain exact fd; do
  echo "$m $(md5sum <"$out/$m/save_models/checkpoint_002.pth.tar" | cut -c1-12) $(md5sum <"$out/$m/scores.tsv" | cut -c1-12)"
done

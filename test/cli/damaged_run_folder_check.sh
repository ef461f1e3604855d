#!/usr/bin/env bash
# A damaged run folder: auto-resume skips a truncated newest checkpoint, a garbage one, and a latest.txt that
# names a missing file, each with one warning line, and resumes from the newest checkpoint that reads. A
# checkpoint write that fails (a file-size limit standing in for a full disk) is one error line, a non-zero
# exit, and the previous checkpoint and latest.txt are as they were.
# Usage: damaged_run_folder_check.sh L2W WORK_DIR
set -euo pipefail
l2w=$1
work=$2/damaged_run_folder_check
rm -rf "$work"
mkdir -p "$work"
run=$work/run
models=$run/save_models
train() {  # train EPOCHS LOG
  "$l2w" train --data fashion-mnist --train-limit 128 --test-limit 64 --num_sample_valid 32 --nBlocks 2 \
    --nChannels 4 --growthRate 2 --grFactor 1-2-4 --bnFactor 1-2-4 --batch-size 64 --seed 0 \
    --print-freq 0 --method plain --train_url "$run" --epochs "$1" >"$work/$2.log" 2>&1
}
expect_resume() {  # expect_resume LOG BAD_FILE EPOCH
  cat "$work/$1.log"
  [[ $(grep -c "^l2w: warning: .*$2.*; trying an older checkpoint$" "$work/$1.log") == 1 ]] ||
    { echo "$1: expected one warning naming $2"; exit 1; }
  grep -q "resuming from .*checkpoint_00$3.pth.tar after epoch $3" "$work/$1.log" ||
    { echo "$1: did not resume after epoch $3"; exit 1; }
}
train 2 first || { cat "$work/first.log"; exit 1; }

truncate -s 1000 "$models/checkpoint_002.pth.tar"
train 3 truncated || { cat "$work/truncated.log"; exit 1; }
expect_resume truncated checkpoint_002.pth.tar 1

echo "not a checkpoint" >"$models/checkpoint_003.pth.tar"
train 4 garbage || { cat "$work/garbage.log"; exit 1; }
expect_resume garbage checkpoint_003.pth.tar 2

rm "$models/checkpoint_004.pth.tar"
train 4 missing || { cat "$work/missing.log"; exit 1; }
expect_resume missing "checkpoint_004.pth.tar: no such checkpoint file" 3

before=$(md5sum "$models/checkpoint_004.pth.tar" "$models/latest.txt")
if (ulimit -f 1000 && train 5 full_disk); then
  echo "a checkpoint larger than the file-size limit was written"; exit 1
fi
cat "$work/full_disk.log"
grep -qx "l2w: error: .*checkpoint_005.pth.tar: cannot write (File too large); the previous file, if any, is unchanged" \
  "$work/full_disk.log" || { echo "no error line naming the failed checkpoint"; exit 1; }
[[ $(grep -c "^l2w: " "$work/full_disk.log") == 1 ]] || { echo "expected one error line"; exit 1; }
[[ $(md5sum "$models/checkpoint_004.pth.tar" "$models/latest.txt") == "$before" ]] ||
  { echo "the previous checkpoint or latest.txt changed"; exit 1; }
[[ ! -e $models/checkpoint_005.pth.tar ]] && ! ls "$models" | grep -q tmp || { ls "$models"; echo "a partial file was left"; exit 1; }

#!/usr/bin/env bash
# Data-parallel training end to end on loopback Gloo: `l2w launch --nproc 2 -- train` trains and
# evaluates an L2W run (the trainer checks every epoch that both ranks' parameters are bit-identical);
# its final metrics equal one process's evaluation of the checkpoint; the run resumes with 1 process and
# again with 2; a killed rank makes its peer and the launcher exit with errors naming it; a hung rank
# is named by its peer after --dist_timeout, and so are peers that never arrive.
# Usage: distributed_check.sh L2W_BINARY WORK_DIR
set -euo pipefail
l2w=$1 work=$2/distributed
rm -rf "$work"
mkdir -p "$work"
cd "$work"
fail() { echo "FAIL: $*" >&2; for f in *.log; do echo "== $f" >&2; cat "$f" >&2; done; exit 1; }
data=(--data fashion-mnist --nBlocks 3 --nChannels 8 --growthRate 4 --stepmode lin_grow --step 1 --base 1
      --grFactor 1-2-4 --bnFactor 1-2-4 --test-limit 200)
train=(train "${data[@]}" --train-limit 256 --method l2w --batch-size 64 --print-freq 0 --seed 1 --train_url run)

"$l2w" launch --nproc 2 -- "${train[@]}" --epochs 1 >launch.log 2>&1 || fail "l2w launch --nproc 2"
grep -q "2 processes" launch.log || fail "the job did not run as 2 processes"
[ "$(grep -c '^l2w train' launch.log)" -eq 1 ] || fail "rank 1 printed too"
[ -f run/save_models/checkpoint_001.pth.tar ] || fail "no checkpoint"

# The run's final test metrics against a single-process evaluation of its checkpoint.
"$l2w" eval --evalmode anytime "${data[@]}" --train-limit 256 --evaluate_from run/save_models/checkpoint_001.pth.tar \
  --train_url single >eval.log 2>&1 || fail "eval"
! grep -q "warning" eval.log || fail "eval warned (an anytime-only plot must draw)"
[ -s single/accuracy_budget.png ] || fail "no anytime-only plot"
paste -d, run/anytime.csv single/anytime.csv | awk -F, 'NR > 1 {
    if ($2 != $8 || $3 != $9) { print "exit " $1 ": top-1/top-5 " $2 "/" $3 " vs " $8 "/" $9; bad = 1 }
    d = $4 - $10; if (d < 0) d = -d; if (d > 1e-4) { print "exit " $1 ": loss " $4 " vs " $10; bad = 1 } }
    END { exit bad }' >compare.log || fail "2-process evaluation differs from 1-process evaluation"

# Resume with another world size, then with 2 processes again.
"$l2w" "${train[@]}" --epochs 2 >resume1.log 2>&1 || fail "resume with 1 process"
grep -q "resuming from .*checkpoint_001.pth.tar after epoch 1" resume1.log || fail "1 process did not resume"
"$l2w" launch --nproc 2 -- "${train[@]}" --epochs 3 >resume2.log 2>&1 || fail "resume with 2 processes"
grep -q "after epoch 2" resume2.log || fail "2 processes did not resume"
[ "$(wc -l <run/scores.tsv)" -eq 4 ] || fail "scores.tsv should hold a header and 3 epochs"

# Kill rank 1 in the middle of training.
"$l2w" launch --nproc 2 -- train "${data[@]}" --train-limit 20000 --epochs 5 --print-freq 1 \
  --train_url killed >killed.log 2>&1 &
launcher=$!
rank1=""
for _ in $(seq 100); do
  for pid in $(pgrep -P "$launcher" || true); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "RANK=1" && rank1=$pid
  done
  [ -n "$rank1" ] && break
  sleep 0.1
done
[ -n "$rank1" ] || fail "rank 1 never started"
# Past the rendezvous, into training: rank 0 has printed its first iteration.
wait_for_line() {  # FILE REGEX: up to 30 s
  for _ in $(seq 300); do grep -q "$2" "$1" && return 0; sleep 0.1; done
  fail "no line '$2' in $1 within 30 s"
}
wait_for_line killed.log "^Epoch \[1/5\]\[1/"
kill -9 "$rank1"
status=0
timeout 60 tail --pid="$launcher" -f /dev/null || fail "the job did not end within 60 s of rank 1's death"
wait "$launcher" || status=$?
[ "$status" -ne 0 ] || fail "the launcher exited 0 after a rank was killed"
grep -q "^l2w launch: rank 1 was killed by signal 9" killed.log || fail "the launcher did not name rank 1"
grep -q "^l2w: distributed error (rank 0): rank 1 stopped responding without a word" killed.log ||
  fail "rank 0 did not name rank 1"

# A rank that hangs (stopped, heartbeat included): its peer's next collective times out and names it.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
hang=(train "${data[@]}" --train-limit 20000 --epochs 5 --print-freq 1 --train_url hung --threads 1
      --dist_url "tcp://127.0.0.1:$port" --world_size 2 --dist_timeout 3)
"$l2w" "${hang[@]}" --rank 0 >hung0.log 2>&1 &
rank0=$!
"$l2w" "${hang[@]}" --rank 1 >hung1.log 2>&1 &
rank1=$!
wait_for_line hung0.log "^Epoch \[1/5\]\[1/"
kill -STOP "$rank1"
status=0
timeout 60 tail --pid="$rank0" -f /dev/null || fail "rank 0 did not stop within 60 s of rank 1's hang"
wait "$rank0" || status=$?
kill -9 "$rank1"
[ "$status" -eq 1 ] || fail "rank 0 exited with $status beside a hung rank 1"
grep -q "^l2w: distributed error (rank 0): rank 1 stopped responding without a word (killed, crashed or hung)" \
  hung0.log || fail "rank 0 did not name the hung rank 1"

# A peer that never arrives.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
status=0
"$l2w" train "${data[@]}" --batch-size 48 --train_url lonely --dist_url "tcp://127.0.0.1:$port" --world_size 3 --rank 0 \
  --dist_timeout 2 >lonely.log 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "a lonely rank 0 exited with $status"
grep -q "^l2w: distributed error: ranks 1, 2 of 3 did not join the job at 127.0.0.1:$port within 2 s$" lonely.log ||
  fail "the missing ranks were not named"
[ "$(wc -l <lonely.log)" -eq 1 ] || fail "more than one line for a missing peer"
echo "distributed checks passed"

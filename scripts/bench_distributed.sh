#!/usr/bin/env bash
# Data-parallel throughput on this machine: training images/s of the reference's CIFAR-100 configuration (cifar100
# MSDNet, global batch 64, synthetic input) for 1 process of 1 thread, 2 processes of 1 thread each
# (l2w launch, Gloo on loopback) and, for reference, 1 process of 2 threads.
# Usage: scripts/bench_distributed.sh [plain|l2w ...]   (default: plain l2w)
set -euo pipefail
cd "$(dirname "$0")/.."
l2w=./build/src/cli/l2w
methods=("${@:-plain l2w}")
for method in ${methods[*]}; do
  iterations=20
  [ "$method" = l2w ] && iterations=8
  run() {  # label, launch processes, threads per process
    local rate
    rate=$("$l2w" launch --nproc "$2" -- bench train --data cifar100 --method "$method" --batch-size 64 --threads "$3" \
             --iterations "$iterations" | awk '/^images\/s/ { print $2 }')
    printf '%-6s %-28s %8s images/s\n' "$method" "$1" "$rate"
  }
  run "1 process x 1 thread" 1 1
  run "2 processes x 1 thread" 2 1
  run "1 process x 2 threads" 1 2
done

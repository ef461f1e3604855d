#!/usr/bin/env bash
# `l2w compare` on two hand-made run folders, against a table computed by hand: run a's dynamic curve
# passes (1 M, 50 %), (2 M, 70 %), (4 M, 80 %) and its full network costs 4 M MUL-ADDs; run b's passes
# (1.5 M, 60 %), (3 M, 84 %). At 50 % (2 M): a 70, b 60 + 24 · 0.5/1.5 = 68, b − a = −2; at 75 % (3 M):
# a 75, b 84, +9; at 25 % (1 M) b has no point: n/a. Usage: compare_check.sh L2W WORK_DIR
set -euo pipefail
l2w=$1
work=$2/compare_check
rm -rf "$work"
mkdir -p "$work/a" "$work/b"
printf '50 1000000\n70 2000000\n80 4000000\n' >"$work/a/dynamic.txt"
printf 'exit,top1,top5,loss,muladds,params\n1,48,90,1,1000000,10\n2,69,95,1,2000000,20\n3,81,97,1,4000000,30\n' \
  >"$work/a/anytime.csv"
printf '60 1500000\n84 3000000\n' >"$work/b/dynamic.txt"
printf 'exit,top1,top5,loss,muladds,params\n1,50,90,1,1000000,10\n2,72,95,1,2000000,20\n3,85,97,1,4000000,30\n' \
  >"$work/b/anytime.csv"
"$l2w" compare "$work/a" "$work/b" --budgets 0.25,0.5,0.75 --markdown "$work/table.md" --exits >"$work/out.txt" 2>&1 ||
  { cat "$work/out.txt"; exit 1; }
cat "$work/out.txt"
expect() { grep -qF -- "$1" "$2" || { echo "missing: '$1' in $2"; exit 1; }; }
expect "50% (2.000 M)   70.00   68.00   -2.00" "$work/out.txt"
expect "75% (3.000 M)   75.00   84.00   +9.00" "$work/out.txt"
expect "25% (1.000 M)   50.00   n/a     n/a" "$work/out.txt"
expect "| 75% (3.000 M) | 75.00 | 84.00 | +9.00 |" "$work/table.md"
expect "a 1.000 M (25%), b 1.500 M (38%)" "$work/out.txt"
expect "a 1.000 M (25%), b 1.500 M (38%)" "$work/table.md"
[[ -s $work/comparison.png || ! -x $(command -v gnuplot) ]] || { echo "no plot"; exit 1; }
# A method's seeds: two copies of b give b's values with no spread.
"$l2w" compare "$work/a,$work/a" "$work/b,$work/b" --budgets 0.5 --labels A,B >"$work/seeds.txt" 2>&1
expect "70.00 ± 0.00   68.00 ± 0.00   -2.00 ± 0.00" "$work/seeds.txt"
# A run evaluated with another exit policy (eval writes exit_policy.txt) is labelled with it.
printf 'entropy, calibrated\n' >"$work/b/exit_policy.txt"
"$l2w" compare "$work/a" "$work/b" --budgets 0.5 >"$work/policy.txt" 2>&1
expect "b (entropy, calibrated)" "$work/policy.txt"

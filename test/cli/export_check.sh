#!/usr/bin/env bash
# l2w export end to end: a small network trained for one epoch, its thresholds for a budget (eval --budget),
# exported with them; ONNX Runtime runs the stage graphs in sequence with the manifest's thresholds on the
# test images, and gets l2w infer's accuracy and exits taken. A checkpoint of another architecture, an
# existing output folder and a missing checkpoint are refused in one line each, nothing written.
# Usage: export_check.sh L2W WORK_DIR   (L2W_PYTHON: the Python with l2w, onnx and onnxruntime)
set -euo pipefail
l2w=$1
work=$2/export_check
rm -rf "$work"
mkdir -p "$work"
source "$(dirname "$0")/served_network.sh"
infer_at_a_budget  # $budget, $work/run/thresholds.txt and $work/infer.log
L2W_PYTHON=$L2W_PYTHON "$l2w" export "${arch[@]}" --evaluate_from "$ckpt" --thresholds "$work/run/thresholds.txt" \
  --output "$work/onnx" >"$work/export.log" 2>&1 || { cat "$work/export.log"; exit 1; }
cat "$work/export.log"

"$L2W_PYTHON" - "$work/onnx" "$work/infer.log" <<'PY'
import gzip, json, os, re, sys
import numpy as np
import onnxruntime as ort
folder, infer_log = sys.argv[1], sys.argv[2]
manifest = json.load(open(os.path.join(folder, "manifest.json")))
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 1, 28, 28)[:64].astype(np.float32) / 255
labels = np.frombuffer(gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)[:64]
mean, std = np.array(manifest["input"]["mean"], np.float32), np.array(manifest["input"]["std"], np.float32)
images = (images - mean[None, :, None, None]) / std[None, :, None, None]
values = [float(v) for v in manifest["thresholds"]["values"]]
assert manifest["thresholds"]["criterion"] == "max-prob"
classes, exits = np.full(len(images), -1), np.full(len(images), -1)
remaining, feeds = np.arange(len(images)), {"images": images}
for k, stage in enumerate(manifest["exits"]):
    outputs = ort.InferenceSession(os.path.join(folder, stage["graph"]), providers=["CPUExecutionProvider"]).run(None, feeds)
    logits = outputs[-1]
    p = np.exp(logits - logits.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
    leave = p.max(1) >= values[k] if k + 1 < len(values) else np.ones(len(logits), bool)
    classes[remaining[leave]], exits[remaining[leave]] = logits.argmax(1)[leave], k
    remaining = remaining[~leave]
    kept = {n: v[~leave] for n, v in zip(stage["outputs"][:-1], outputs[:-1])}
    if k + 1 < len(manifest["exits"]):
        feeds = {n: kept[n] for n in manifest["exits"][k + 1]["inputs"]}
accuracy = 100.0 * (classes == labels).mean()
got_exits = "/".join(str(int((exits == k).sum())) for k in range(len(manifest["exits"])))
log = open(infer_log).read()
want_accuracy = float(re.search(r"top-1 accuracy\s+([0-9.]+) %", log).group(1))
want_exits = re.search(r"exits taken\s+(\S+)", log).group(1)
print(f"ONNX stages: {accuracy:.2f} % exits {got_exits}; l2w infer: {want_accuracy:.2f} % exits {want_exits}")
assert f"{accuracy:.2f}" == f"{want_accuracy:.2f}" and got_exits == want_exits
PY

# Bad input: one line each, nothing written.
refused() {  # refused PATTERN ARGS...
  local pattern=$1; shift
  if L2W_PYTHON=$L2W_PYTHON "$l2w" export "$@" >"$work/refused.out" 2>"$work/refused.err"; then
    echo "accepted: $*"; exit 1
  fi
  [[ $(wc -l <"$work/refused.err") == 1 ]] && grep -q -- "$pattern" "$work/refused.err" ||
    { cat "$work/refused.err"; echo "not one line with '$pattern'"; exit 1; }
  cat "$work/refused.err"
}
other=()  # the same flags but two blocks: another architecture than the checkpoint's
for ((i = 0; i < ${#arch[@]}; i++)); do
  [[ ${arch[i]} == --nBlocks ]] && { other+=(--nBlocks 2); i=$((i + 1)); continue; }
  other+=("${arch[i]}")
done
refused "checkpoint" "${other[@]}" --evaluate_from "$ckpt" --output "$work/other"
refused "already exists" "${arch[@]}" --evaluate_from "$ckpt" --output "$work/onnx"
refused "no such checkpoint" "${arch[@]}" --evaluate_from "$work/missing.pth.tar" --output "$work/missing"
[[ ! -e $work/other && ! -e $work/missing ]]
echo "export_check: passed"

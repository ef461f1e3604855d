#!/usr/bin/env bash
# l2w serve end to end, on loopback only: a small network trained for one epoch is served on a free port;
# Fashion-MNIST test images sent as PNG get answers whose accuracy and exits equal `l2w infer`'s with the
# thresholds eval --budget chose for the same pinned budget; a menu of another network is refused in one
# line; SIGTERM with requests in flight answers them all and exits 0. Bounded: every wait has a timeout.
# Usage: serve_check.sh L2W WORK_DIR   (L2W_PYTHON: a Python with Pillow)
set -euo pipefail
l2w=$1
work=$2/serve_check
rm -rf "$work"
mkdir -p "$work"
source "$(dirname "$0")/served_network.sh"
# 1.3 times the first exit's cost: below the full network's, so that images leave early.
budget=$(awk 'NR == 2 { print int($2 * 1.3) }' "$work/run/flops.tsv")
"$l2w" eval "${arch[@]}" --evaluate_from "$ckpt" --train_url "$work/run" --evalmode dynamic --budget "$budget" \
  >"$work/eval.log" 2>&1 || { cat "$work/eval.log"; exit 1; }
"$l2w" infer "${arch[@]}" --evaluate_from "$ckpt" --train_url "$work/run" --thresholds "$work/run/thresholds.txt" \
  --memory-format contiguous --latency-images 4 >"$work/infer.log" 2>&1 || { cat "$work/infer.log"; exit 1; }

"$l2w" serve "${arch[@]}" --evaluate_from "$ckpt" --train_url "$work/run" --port 0 --budget "$budget" \
  --memory-format contiguous >"$work/serve.log" 2>&1 &
server=$!
trap 'kill -9 $server 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q "^listening on" "$work/serve.log" && break
  kill -0 $server 2>/dev/null || { cat "$work/serve.log"; echo "the server exited"; exit 1; }
  sleep 0.1
done
port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\) .*|\1|p' "$work/serve.log")
[[ -n $port ]] || { cat "$work/serve.log"; echo "no port"; exit 1; }

"$L2W_PYTHON" - "$port" "$server" "$work/infer.log" <<'PY'
import gzip, io, json, os, re, signal, sys, threading, urllib.request, urllib.error
import numpy as np
from PIL import Image
port, server, infer_log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
url = f"http://127.0.0.1:{port}"
root = "/usr/share/datasets/fashion-mnist"
def idx(name):
    path = os.path.join(root, name)
    raw = gzip.open(path + ".gz").read() if os.path.exists(path + ".gz") else open(path, "rb").read()
    return raw
images = np.frombuffer(idx("t10k-images-idx3-ubyte"), np.uint8, offset=16).reshape(-1, 28, 28)[:64]
labels = np.frombuffer(idx("t10k-labels-idx1-ubyte"), np.uint8, offset=8)[:64]
def png(a):
    out = io.BytesIO(); Image.fromarray(a, "L").save(out, "PNG"); return out.getvalue()
def post(body, timeout=30):
    req = urllib.request.Request(url + "/v1/classify", data=body, headers={"Content-Type": "image/png"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return -1, ""  # not connected: the server had stopped listening
answers = [json.loads(post(png(a))[1]) for a in images]
accuracy = 100.0 * sum(a["class"] == int(l) for a, l in zip(answers, labels)) / len(labels)
exits = [0, 0, 0]
for a in answers: exits[a["exit"] - 1] += 1
log = open(infer_log).read()
want_accuracy = float(re.search(r"top-1 accuracy\s+([0-9.]+) %", log).group(1))
want_exits = re.search(r"exits taken\s+(\S+)", log).group(1)
got_exits = "/".join(map(str, exits))
print(f"served: {accuracy:.2f} % exits {got_exits}; infer: {want_accuracy:.2f} % exits {want_exits}")
assert f"{accuracy:.2f}" == f"{want_accuracy:.2f}" and got_exits == want_exits, "the server disagrees with l2w infer"
code, body = post(b"not an image")
assert code == 400 and "neither a JPEG nor a PNG" in body, (code, body)
code, body = post(png(np.zeros((32, 32), np.uint8)))
assert code == 400 and "32x32 grey" in body, (code, body)
metrics = urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()
assert 'l2w_requests_total{outcome="bad_request",code="400"} 2' in metrics, metrics
# SIGTERM while requests are in flight: every one is answered.
results = []
def send(a): results.append(post(png(a))[0])
threads = [threading.Thread(target=send, args=(images[i],)) for i in range(8)]
for t in threads: t.start()
os.kill(server, signal.SIGTERM)
for t in threads: t.join(30)
print("answers during shutdown:", sorted(results))
assert len(results) == 8 and all(c in (200, 503, -1) for c in results), results
PY
for _ in $(seq 300); do kill -0 $server 2>/dev/null || break; sleep 0.1; done
if kill -0 $server 2>/dev/null; then echo "the server did not stop after SIGTERM"; exit 1; fi
wait $server || { status=$?; cat "$work/serve.log"; echo "the server exited with $status"; exit 1; }
grep -q "^l2w serve: SIGTERM: finishing the requests in flight" "$work/serve.log"
grep "^l2w serve: stopped after" "$work/serve.log"

# A menu made for another network is refused in one line.
printf 'l2w-budgets 1\ncriterion max-prob\nexit_muladds 1 2\nfull_muladds 2\nbudget 0 valid_accuracy 1 valid_expected_muladds 2 thresholds inf -inf\n' \
  >"$work/other.txt"
if "$l2w" serve "${arch[@]}" --evaluate_from "$ckpt" --budgets "$work/other.txt" --port 0 >"$work/other.log" 2>"$work/other.err"; then
  echo "a menu of another network was accepted"; exit 1
fi
cat "$work/other.err"
[[ $(wc -l <"$work/other.err") == 1 ]] && grep -q "made for another network" "$work/other.err"
echo "serve_check: passed"

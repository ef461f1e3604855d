#!/usr/bin/env bash
# The replica example of docs/serving.md, on loopback only: scripts/serve_replicas.sh puts HAProxy in
# front of two `l2w serve` processes of a small network; a burst of 256 Python clients, each opening a new
# connection per request (2048 requests), gets only 200 or 503 with Retry-After through the proxy, and
# both replicas serve. Bounded: every wait and request has a timeout.
# Usage: replicas_check.sh L2W SOURCE_DIR WORK_DIR   (L2W_PYTHON: a Python with Pillow and numpy)
set -euo pipefail
l2w=$1
source_dir=$2
work=$3/replicas_check
rm -rf "$work"
mkdir -p "$work"
source "$(dirname "$0")/served_network.sh"
port=$("$L2W_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
L2W=$l2w "$source_dir/scripts/serve_replicas.sh" --port "$port" --slo-ms 100 --dir "$work/replicas" -- "${arch[@]}" \
  --evaluate_from "$ckpt" --train_url "$work/run" --max-queue 64 \
  >"$work/replicas.log" 2>&1 &
replicas=$!
trap 'kill -TERM $replicas 2>/dev/null || true; wait $replicas 2>/dev/null || true' EXIT

"$L2W_PYTHON" - "$port" "$replicas" <<'PY'
import collections, gzip, io, os, sys, threading, time, urllib.error, urllib.request
import numpy as np
from PIL import Image
port, replicas = int(sys.argv[1]), int(sys.argv[2])
url = f"http://127.0.0.1:{port}"
deadline = time.time() + 120
while True:  # the proxy is up and has seen a ready replica
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
            if r.status == 200:
                break
    except (urllib.error.URLError, ConnectionError, OSError):
        pass
    os.kill(replicas, 0)  # still running
    assert time.time() < deadline, "the replicas did not become ready through the proxy"
    time.sleep(0.2)
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:64]
def png(a):
    out = io.BytesIO(); Image.fromarray(a, "L").save(out, "PNG"); return out.getvalue()
bodies = [png(a) for a in images]
outcomes = collections.Counter()
lock = threading.Lock()
def client(c):
    for i in range(8):
        req = urllib.request.Request(url + "/v1/classify", data=bodies[(c + i) % len(bodies)],
                                     headers={"Content-Type": "image/png"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                outcome = str(r.status)
        except urllib.error.HTTPError as e:
            outcome = f"{e.code}{'' if e.code != 503 or e.headers.get('Retry-After') else ' without Retry-After'}"
        except Exception as e:  # a reset, refusal or time-out
            outcome = type(e).__name__ + ": " + str(e)
        with lock:
            outcomes[outcome] += 1
threads = [threading.Thread(target=client, args=(c,)) for c in range(256)]
start = time.time()
for t in threads: t.start()
for t in threads: t.join(120)
print(f"2048 requests through HAProxy in {time.time() - start:.1f} s: {dict(outcomes)}")
assert sum(outcomes.values()) == 2048, outcomes
assert set(outcomes) <= {"200", "503"}, outcomes
assert outcomes["200"] > 0, outcomes
PY
served() { awk -F'\t' '$3 == "POST /v1/classify" && $4 == 200' "$work/replicas/access_$1.log" | wc -l; }
echo "replica 1 answered $(served 1), replica 2 $(served 2)"
(($(served 1) > 0 && $(served 2) > 0)) || { echo "a replica served nothing"; exit 1; }
echo "replicas_check: passed"

#!/usr/bin/env bash
# The replica example of docs/serving.md, on loopback only: scripts/serve_replicas.sh puts HAProxy or nginx
# in front of two `l2w serve` processes of a small network; a burst of 256 Python clients, each opening a
# new connection per request (2048 requests), gets only 200 or 503 with Retry-After through the proxy,
# both replicas serve. Behind nginx, replica 2 killed with SIGKILL a third of the way through the burst
# costs no request an error: nginx retries what it had in flight on replica 1 (HAProxy answers a few such
# requests 502: docs/serving.md). Bounded: every wait and request has a timeout.
# Usage: replicas_check.sh L2W SOURCE_DIR WORK_DIR [haproxy|nginx]   (L2W_PYTHON: a Python with Pillow and numpy)
set -euo pipefail
l2w=$1
source_dir=$2
proxy=${4:-haproxy}
work=$3/replicas_check_$proxy
rm -rf "$work"
mkdir -p "$work"
source "$(dirname "$0")/served_network.sh"
port=$("$L2W_PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
L2W=$l2w "$source_dir/scripts/serve_replicas.sh" --proxy "$proxy" --port "$port" --slo-ms 100 --dir "$work/replicas" -- "${arch[@]}" \
  --evaluate_from "$ckpt" --train_url "$work/run" --max-queue 64 \
  >"$work/replicas.log" 2>&1 &
replicas=$!
trap 'kill -TERM $replicas 2>/dev/null || true; wait $replicas 2>/dev/null || true' EXIT

"$L2W_PYTHON" - "$port" "$replicas" "$work/replicas/replica_2.pid" "$proxy" <<'PY'
import collections, gzip, io, os, signal, sys, threading, time, urllib.error, urllib.request
import numpy as np
from PIL import Image
port, replicas, victim, proxy = int(sys.argv[1]), int(sys.argv[2]), int(open(sys.argv[3]).read()), sys.argv[4]
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
            if proxy == "nginx" and sum(outcomes.values()) == 2048 // 3:
                os.kill(victim, signal.SIGKILL)  # mid-burst: it has requests in flight
threads = [threading.Thread(target=client, args=(c,)) for c in range(256)]
start = time.time()
for t in threads: t.start()
for t in threads: t.join(120)
killed = ", replica 2 killed after 682" if proxy == "nginx" else ""
print(f"2048 requests through {proxy} in {time.time() - start:.1f} s{killed}: {dict(outcomes)}")
assert sum(outcomes.values()) == 2048, outcomes
assert set(outcomes) <= {"200", "503"}, outcomes
assert outcomes["200"] > 0, outcomes
PY
served() { awk -F'\t' '$3 == "POST /v1/classify" && $4 == 200' "$work/replicas/access_$1.log" | wc -l; }
echo "replica 1 answered $(served 1), replica 2 $(served 2)"
(($(served 1) > 0 && $(served 2) > 0)) || { echo "a replica served nothing"; exit 1; }
echo "replicas_check: passed"

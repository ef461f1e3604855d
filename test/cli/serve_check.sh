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
infer_at_a_budget  # $budget, $work/run/thresholds.txt and $work/infer.log

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
assert 'l2w_requests_total{endpoint="classify",outcome="bad_request",code="400"} 2' in metrics, metrics
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

# Start-up: the port answers from the first line the server prints (/healthz 200, /readyz 503 with
# Retry-After while the budget menu is fitted and the engine warms up), and SIGTERM or SIGINT at any
# moment of start-up ends the process within 2 s with status 0. A signal that comes before l2w has
# blocked it (while the dynamic loader maps LibTorch) ends the process as the signal does: 143 or 130.
"$L2W_PYTHON" - "$l2w" "$work" "${arch[@]}" --evaluate_from "$ckpt" --train_url "$work/startup" <<'PY'
import random, re, signal, subprocess, sys, time, urllib.error, urllib.request
l2w, work, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
command = [l2w, "serve", *flags, "--port", "0"]
def start(log):
    return subprocess.Popen(command, stdout=open(log, "w"), stderr=subprocess.STDOUT)
def port_of(log, process, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline and process.poll() is None:
        found = re.search(r"^l2w serve: listening on http://127.0.0.1:(\d+), starting", open(log).read(), re.M)
        if found:
            return int(found.group(1))
        time.sleep(0.005)
    raise SystemExit(f"no listening line in {log}: {open(log).read()}")
def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.headers.get("Retry-After")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Retry-After")
# Probes during start-up, until ready; the start-up is timed for the signal moments below.
log = f"{work}/startup.log"
began = time.time()
server = start(log)
port = port_of(log, server)
states = set()
while True:
    health, ready = get(port, "/healthz"), get(port, "/readyz")
    assert health[0] == 200, health
    states.add(ready)
    if ready[0] == 200:
        break
    assert ready == (503, "1"), ready
    assert time.time() - began < 120, "not ready after 120 s"
startup = time.time() - began
print(f"start-up {startup:.2f} s; /readyz answers seen: {sorted(states)}")
assert (503, "1") in states, "/readyz never said 503 during start-up"
server.send_signal(signal.SIGTERM)
assert server.wait(30) == 0
# A signal at random moments of start-up.
random.seed(7)
for attempt in range(10):
    sig = random.choice([signal.SIGTERM, signal.SIGINT])
    moment = random.uniform(0, startup)
    server = start(log)
    time.sleep(moment)
    server.send_signal(sig)
    sent = time.time()
    try:
        status = server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        raise SystemExit(f"{sig.name} {moment:.2f} s into start-up: still running 10 s later")
    took = time.time() - sent
    printed = open(log).read()
    early = "l2w serve:" not in printed  # before l2w had blocked the signal
    print(f"{sig.name} at {moment:.2f} s: exit {status} after {took:.2f} s{' (before l2w started)' if early else ''}")
    assert took < 2, printed
    assert status == 0 or (early and status == -sig), printed
PY
echo "serve_check: passed"

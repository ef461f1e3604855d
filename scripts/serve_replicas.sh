#!/usr/bin/env bash
# Two `l2w serve` replicas on loopback behind HAProxy (Debian's haproxy), as docs/serving.md describes:
# the proxy sends each request to the replica with fewer in flight, only to replicas whose /readyz says
# 200, and retries a 503 (a full queue) or a failed connection once on the other replica. Its server
# time-out is a few times --slo-ms: a replica answers within the target or sheds at once.
# Usage: scripts/serve_replicas.sh [--port 8080] [--slo-ms 100] [--dir DIR] -- SERVE_FLAGS...
#   SERVE_FLAGS: what `l2w serve` takes (--evaluate_from, --train_url, architecture and data flags), no
#   --port. Runs until SIGTERM or Ctrl-C, which drains the replicas. L2W=path/to/l2w picks the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
port=8080
slo_ms=100
dir=""
while (($#)); do
  case $1 in
    --port) port=$2; shift 2 ;;
    --slo-ms) slo_ms=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "serve_replicas: unknown argument '$1' (--port, --slo-ms, --dir, -- SERVE_FLAGS)" >&2; exit 2 ;;
  esac
done
l2w=${L2W:-build/src/cli/l2w}
command -v haproxy >/dev/null || { echo "serve_replicas: haproxy is not installed (Debian: apt-get install haproxy)" >&2; exit 1; }
dir=${dir:-$(mktemp -d)}
mkdir -p "$dir"

pids=()
stop() {
  trap - EXIT INT TERM
  # SIGTERM drains each replica: requests in flight are answered.
  ((${#pids[@]})) && kill -TERM "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

# Each replica on a free port, which it prints once it is ready.
replica_ports=()
for r in 1 2; do
  "$l2w" serve "$@" --port 0 --slo-ms "$slo_ms" --access-log "$dir/access_$r.log" >"$dir/replica_$r.log" 2>&1 &
  pids+=($!)
done
for r in 1 2; do
  for _ in $(seq 1200); do
    grep -q "^listening on" "$dir/replica_$r.log" && break
    kill -0 "${pids[r - 1]}" 2>/dev/null || { cat "$dir/replica_$r.log" >&2; echo "serve_replicas: replica $r exited" >&2; exit 1; }
    sleep 0.1
  done
  p=$(sed -n 's|^listening on http://[^:]*:\([0-9]*\) .*|\1|p' "$dir/replica_$r.log")
  [[ -n $p ]] || { cat "$dir/replica_$r.log" >&2; echo "serve_replicas: replica $r did not start" >&2; exit 1; }
  replica_ports+=("$p")
done

server_timeout_ms=$((4 * ${slo_ms%.*} + 1000))
cat >"$dir/haproxy.cfg" <<EOF
global
    maxconn 4096

defaults
    mode http
    # A replica accepts at once or not at all; it answers within --slo-ms or sheds with 503.
    timeout connect 1s
    timeout client 30s
    timeout server ${server_timeout_ms}ms
    timeout http-request 10s
    # One retry on the other replica when a replica's queue is full (503) or it is not there.
    retries 1
    option redispatch 1
    retry-on conn-failure empty-response 503
    option http-buffer-request

frontend l2w
    bind 127.0.0.1:${port}
    default_backend replicas

backend replicas
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    server replica1 127.0.0.1:${replica_ports[0]} check inter 1s fall 2 rise 1 maxconn 256
    server replica2 127.0.0.1:${replica_ports[1]} check inter 1s fall 2 rise 1 maxconn 256
EOF
haproxy -c -q -f "$dir/haproxy.cfg"
echo "serve_replicas: replicas on 127.0.0.1:${replica_ports[0]} and :${replica_ports[1]}; HAProxy on http://127.0.0.1:${port} ($dir/haproxy.cfg)"
haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
pids+=($!)
wait "${pids[2]}"

#!/usr/bin/env bash
# Two `l2w serve` replicas on loopback behind a proxy, as docs/serving.md describes: HAProxy (Debian's
# haproxy, the default) or nginx (Debian's nginx-light). The proxy sends each request to the replica with
# fewer in flight and retries a failed connection or a replica that died mid-answer on the other replica
# (HAProxy a 503, a full queue, too): classifying an image is idempotent, so a POST may be retried.
# HAProxy sends only to replicas whose /readyz says 200; both take a replica out at its first failed
# connection (passive checks; nginx's open-source build has no active ones). The proxy's server time-out is a few times --slo-ms: a
# replica answers within the target or sheds at once.
# Usage: scripts/serve_replicas.sh [--proxy haproxy|nginx] [--port 8080] [--slo-ms 100] [--dir DIR] -- SERVE_FLAGS...
#   SERVE_FLAGS: what `l2w serve` takes (--evaluate_from, --train_url, architecture and data flags), no
#   --port. Runs until SIGTERM or Ctrl-C, which drains the replicas. L2W=path/to/l2w picks the binary.
#   DIR gets each replica's log, access log and pid (replica_N.pid) and the proxy's configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
proxy=haproxy
port=8080
slo_ms=100
dir=""
while (($#)); do
  case $1 in
    --proxy) proxy=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --slo-ms) slo_ms=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "serve_replicas: unknown argument '$1' (--proxy, --port, --slo-ms, --dir, -- SERVE_FLAGS)" >&2; exit 2 ;;
  esac
done
l2w=${L2W:-build/src/cli/l2w}
case $proxy in
  haproxy) command -v haproxy >/dev/null || { echo "serve_replicas: haproxy is not installed (Debian: apt-get install haproxy)" >&2; exit 1; } ;;
  nginx) command -v nginx >/dev/null || { echo "serve_replicas: nginx is not installed (Debian: apt-get install nginx-light)" >&2; exit 1; } ;;
  *) echo "serve_replicas: --proxy takes haproxy or nginx, not '$proxy'" >&2; exit 2 ;;
esac
dir=${dir:-$(mktemp -d)}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

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
  echo $! >"$dir/replica_$r.pid"
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
haproxy_config() {
  cat <<EOF
global
    maxconn 4096

defaults
    mode http
    # A replica accepts at once or not at all; it answers within --slo-ms or sheds with 503.
    timeout connect 1s
    timeout client 30s
    timeout server ${server_timeout_ms}ms
    timeout http-request 10s
    # Retries on the other replica when a replica's queue is full (503) or it is not there; a replica
    # that refuses a connection is marked down at once (passive check) rather than at the next probe,
    # since leastconn would keep choosing it: it has no connections.
    retries 2
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
    default-server check inter 1s fall 2 rise 1 maxconn 256 observe layer4 error-limit 1 on-error mark-down
    server replica1 127.0.0.1:${replica_ports[0]}
    server replica2 127.0.0.1:${replica_ports[1]}
EOF
}
nginx_config() {
  cat <<EOF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx_error.log;
events { worker_connections 4096; }
http {
    access_log $dir/nginx_access.log;
    client_body_temp_path $dir/nginx_temp/body;
    proxy_temp_path $dir/nginx_temp/proxy;
    fastcgi_temp_path $dir/nginx_temp/fastcgi;
    uwsgi_temp_path $dir/nginx_temp/uwsgi;
    scgi_temp_path $dir/nginx_temp/scgi;
    upstream replicas {
        least_conn;
        # Passive checks: a replica that cannot be reached, or dies mid-answer, rests for 2 s.
        server 127.0.0.1:${replica_ports[0]} max_fails=1 fail_timeout=2s;
        server 127.0.0.1:${replica_ports[1]} max_fails=1 fail_timeout=2s;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:${port};
        client_max_body_size 8m;        # the replicas' --max-body-bytes
        client_body_buffer_size 8m;     # bodies stay in memory
        location / {
            proxy_pass http://replicas;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
            proxy_read_timeout ${server_timeout_ms}ms;
            # nginx retries a POST only when told it may: classifying an image is idempotent. A 503 (a
            # full queue) goes back to the client with its Retry-After: nginx would count it as a failure
            # and, under load, take both busy replicas out ("no live upstreams": 502 for everyone).
            proxy_next_upstream error timeout non_idempotent;
            proxy_next_upstream_tries 2;
        }
    }
}
EOF
}
if [[ $proxy == haproxy ]]; then
  haproxy_config >"$dir/haproxy.cfg"
  haproxy -c -q -f "$dir/haproxy.cfg"
  run_proxy=(haproxy -db -f "$dir/haproxy.cfg")
else
  mkdir -p "$dir/nginx_temp"
  chmod a+x "$dir"  # nginx's workers run as another user when it starts as root: they reach their folders
  nginx_config >"$dir/nginx.conf"
  nginx -t -q -c "$dir/nginx.conf" -p "$dir" 2>"$dir/nginx_check.log" || { cat "$dir/nginx_check.log" >&2; exit 1; }
  run_proxy=(nginx -c "$dir/nginx.conf" -p "$dir")
fi
echo "serve_replicas: replicas on 127.0.0.1:${replica_ports[0]} and :${replica_ports[1]}; $proxy on http://127.0.0.1:${port} ($dir)"
"${run_proxy[@]}" >"$dir/$proxy.log" 2>&1 &
pids+=($!)
wait "${pids[2]}"

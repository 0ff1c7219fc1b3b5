# Sourced by scripts/bench-vs-etcd.sh and scripts/bench-sweep.sh (not run by itself): what
# both need to run oxcd-bench against fresh etcd and oxcd clusters side by side, servers
# pinned to CPU 0 and the load generator to CPU 1, with the same flags for both.
#
# Sets: CARGO_TARGET_DIR, OXCD, BENCH, WORK (a temp dir removed on exit), PIDS (every
# server started; killed by PID on exit), CLIENTS and CONNS (defaults), and builds the
# release binaries unless SKIP_BUILD=1.
# Functions: free_port, make_certs, start_cluster, run_bench, check_delivery, big_data.
# Servers are started in the calling shell (or their PIDs added to PIDS there).
# The caller has `set -euo pipefail` and its working directory at the repository root.

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oxcd-target}"
CLIENTS="${CLIENTS:-64}"
CONNS="${CONNS:-8}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  scripts/cargo.sh build --release -p oxcd-server --bin oxcd -p oxcd-bench --bin oxcd-bench >&2
fi
OXCD="$CARGO_TARGET_DIR/release/oxcd"
BENCH="$CARGO_TARGET_DIR/release/oxcd-bench"
command -v etcd >/dev/null || { echo "etcd not installed (apt-get install etcd-server)" >&2; exit 1; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

make_certs() { # dir -> ca.pem, server.pem/server-key.pem, client.pem/client-key.pem
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench-ca \
    -keyout "$d/ca-key.pem" -out "$d/ca.pem" 2>/dev/null
  for who in server client; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bench-$who" \
      -keyout "$d/$who-key.pem" -out "$d/$who.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > "$d/$who.ext"
    openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
      -days 2 -extfile "$d/$who.ext" -out "$d/$who.pem" 2>/dev/null
  done
}

TLS_DIR=""   # set: start_cluster serves the client URLs over mTLS with these certificates
SCHEME=http
curl_tls() { if [ -n "$TLS_DIR" ]; then echo "--cacert $TLS_DIR/ca.pem --cert $TLS_DIR/client.pem --key $TLS_DIR/client-key.pem"; fi; }
bench_tls() { curl_tls; }
BENCH_USER=""   # set: oxcd-bench authenticates as this name:password (auth variant)
bench_user() { if [ -n "$BENCH_USER" ]; then echo "--user $BENCH_USER"; fi; }

start_cluster() { # kind members -> prints "pid,pid,... port,port,..."
  local kind=$1 n=$2 bin i cluster="" token="bench-$RANDOM"
  local tls_args=()
  if [ -n "$TLS_DIR" ]; then
    tls_args=(--cert-file "$TLS_DIR/server.pem" --key-file "$TLS_DIR/server-key.pem"
      --trusted-ca-file "$TLS_DIR/ca.pem" --client-cert-auth)
  fi
  if [ "$kind" = etcd ]; then bin=etcd; else bin="$OXCD"; fi
  local cports=() pports=() pids=()
  for i in $(seq 0 $((n - 1))); do
    cports+=("$(free_port)"); pports+=("$(free_port)")
    cluster+="${cluster:+,}m$i=http://127.0.0.1:${pports[$i]}"
  done
  for i in $(seq 0 $((n - 1))); do
    local dir="$WORK/$kind-$token-m$i"
    taskset -c 0 "$bin" --name "m$i" --data-dir "$dir" \
      --listen-client-urls "$SCHEME://127.0.0.1:${cports[$i]}" --advertise-client-urls "$SCHEME://127.0.0.1:${cports[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${pports[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${pports[$i]}" \
      --initial-cluster "$cluster" --initial-cluster-token "$token" --quota-backend-bytes 8589934592 \
      "${tls_args[@]}" >"$dir.log" 2>&1 &
    pids+=("$!")
  done
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 1 150); do
      # shellcheck disable=SC2046
      curl -fs $(curl_tls) "$SCHEME://127.0.0.1:${cports[$i]}/health" 2>/dev/null | grep -q true && break
      sleep 0.1
    done
  done
  local IFS=,
  echo "${pids[*]} ${cports[*]}"
}

run_bench() { # pids ports label args... -> prints the JSON line; exit status of the bench
  local pids=$1 ports=$2 label=$3; shift 3
  local eps out rc=0
  eps=$(echo "$ports" | sed 's/\([0-9]*\)/127.0.0.1:\1/g')
  # shellcheck disable=SC2046
  out=$(taskset -c 1 "$BENCH" --endpoints "$eps" --conns "$CONNS" --clients "$CLIENTS" \
    --server-pid "$pids" --label "$label" $(bench_tls) $(bench_user) "$@") || rc=$?
  grep '^JSON ' <<<"$out" | sed 's/^JSON //' || true
  return "$rc"
}

check_delivery() { # what json -> fails loudly if a watch run lost, duplicated or reordered events
  python3 - "$1" "$2" <<'PY'
import json, sys
r = json.loads(sys.argv[2]) if sys.argv[2].strip() else {}
bad = {k: r[k] for k in ("lost", "duplicated", "out_of_order") if r.get(k)}
if bad:
  print(f"FAIL: {sys.argv[1]}: events not delivered exactly once in order: {bad}", file=sys.stderr)
  sys.exit(1)
PY
}

# Memory, disk and restart with `keys` keys of 256 B on one member: loaded with txn-put
# (BIG_TXN_OPS puts per txn, every key once), then BIG_PROBE (a function given the endpoint
# and the server PID, printing a JSON fragment `"name":value,...` or nothing) runs, RSS and
# data-dir bytes are measured, the member is stopped with SIGTERM and restarted; restart
# time = process start until /health answers true. Sets BIG_LINE to one JSON object (not
# printed: run in this shell, so that the EXIT trap knows the PIDs).
BIG_TXN_OPS="${BIG_TXN_OPS:-100}"
BIG_PROBE="${BIG_PROBE:-}"
big_data() { # kind keys
  local kind=$1 keys=$2 bin cport pport dir pid start_ns end_ns rss disk rss2 probe=""
  if [ "$kind" = etcd ]; then bin=etcd; else bin="$OXCD"; fi
  cport=$(free_port); pport=$(free_port); dir="$WORK/big-$kind-$RANDOM"
  local args=(--name big --data-dir "$dir"
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport"
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport"
    --initial-cluster "big=http://127.0.0.1:$pport" --quota-backend-bytes 8589934592)
  taskset -c 0 "$bin" "${args[@]}" >"$dir.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$cport/health" 2>/dev/null | grep -q true && break; sleep 0.1; done
  local ops=$(( keys < BIG_TXN_OPS ? keys : BIG_TXN_OPS ))
  taskset -c 1 "$BENCH" --endpoints "127.0.0.1:$cport" --conns "$CONNS" --clients "$CLIENTS" txn-put \
    --key-size 8 --val-size 256 --txn-ops "$ops" --total $(( (keys + ops - 1) / ops )) --key-space-size "$keys" >/dev/null
  sleep 2
  if [ -n "$BIG_PROBE" ]; then probe=$("$BIG_PROBE" "127.0.0.1:$cport" "$pid"); fi
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill -TERM "$pid"; for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  disk=$(du -sb "$dir" | cut -f1)
  start_ns=$(date +%s%N)
  taskset -c 0 "$bin" "${args[@]}" >>"$dir.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  for _ in $(seq 1 2400); do curl -fs "http://127.0.0.1:$cport/health" 2>/dev/null | grep -q true && break; sleep 0.05; done
  end_ns=$(date +%s%N)
  rss2=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill -9 "$pid" 2>/dev/null || true
  rm -rf "$dir"
  BIG_LINE="{\"kind\":\"$kind\",\"keys\":$keys,${probe:+$probe,}\"rss_kb\":$rss,\"rss_after_restart_kb\":$rss2,\"disk_bytes\":$disk,\"restart_ms\":$(( (end_ns - start_ns) / 1000000 ))}"
}

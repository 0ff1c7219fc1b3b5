#!/usr/bin/env bash
# Runs oxcd-bench against a fresh etcd and a fresh oxcd, side by side on this machine, with
# the same flags and the same durability (both fsync the raft log / WAL on commit), and
# prints oxcd/etcd ratios. Servers are pinned to CPU 0, the load generator to CPU 1.
#
#   scripts/bench-vs-etcd.sh            # default rounds and sizes
#   ROUNDS=1 TOTAL=5000 scripts/bench-vs-etcd.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oxcd-target}"
ROUNDS="${ROUNDS:-3}"
TOTAL="${TOTAL:-20000}"
CLIENTS="${CLIENTS:-64}"
CONNS="${CONNS:-8}"
OUT="${OUT:-bench-out}"

cargo build --release -p oxcd-server --bin oxcd -p oxcd-bench --bin oxcd-bench >&2
OXCD="$CARGO_TARGET_DIR/release/oxcd"
BENCH="$CARGO_TARGET_DIR/release/oxcd-bench"
command -v etcd >/dev/null || { echo "etcd not installed (apt-get install etcd-server)" >&2; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_cluster() { # kind members -> prints "pid,pid,... port,port,..."
  local kind=$1 n=$2 bin i cluster="" token="bench-$RANDOM"
  if [ "$kind" = etcd ]; then bin=etcd; else bin="$OXCD"; fi
  local cports=() pports=() pids=()
  for i in $(seq 0 $((n - 1))); do
    cports+=("$(free_port)"); pports+=("$(free_port)")
    cluster+="${cluster:+,}m$i=http://127.0.0.1:${pports[$i]}"
  done
  for i in $(seq 0 $((n - 1))); do
    local dir="$WORK/$kind-$token-m$i"
    taskset -c 0 "$bin" --name "m$i" --data-dir "$dir" \
      --listen-client-urls "http://127.0.0.1:${cports[$i]}" --advertise-client-urls "http://127.0.0.1:${cports[$i]}" \
      --listen-peer-urls "http://127.0.0.1:${pports[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${pports[$i]}" \
      --initial-cluster "$cluster" --initial-cluster-token "$token" --quota-backend-bytes 8589934592 \
      >"$dir.log" 2>&1 &
    pids+=("$!")
  done
  for i in $(seq 0 $((n - 1))); do
    for _ in $(seq 1 150); do
      curl -fs "http://127.0.0.1:${cports[$i]}/health" 2>/dev/null | grep -q true && break
      sleep 0.1
    done
  done
  local IFS=,
  echo "${pids[*]} ${cports[*]}"
}

run_bench() { # pids ports label args...
  local pids=$1 ports=$2 label=$3; shift 3
  local eps
  eps=$(echo "$ports" | sed 's/\([0-9]*\)/127.0.0.1:\1/g')
  taskset -c 1 "$BENCH" --endpoints "$eps" --conns "$CONNS" --clients "$CLIENTS" \
    --server-pid "$pids" --label "$label" "$@" | grep '^JSON ' | sed 's/^JSON //'
}

WORKLOADS=(
  "put put --key-size 8 --val-size 256 --total $TOTAL --key-space-size 100000 --sequential-keys"
  "range-l range k --total $TOTAL --consistency l"
  "range-s range k --total $TOTAL --consistency s"
)
SIZES="${SIZES:-1 3}"

: > "$OUT/results.jsonl"
for size in $SIZES; do
  for round in $(seq 1 "$ROUNDS"); do
    for kind in etcd oxcd; do
      read -r pids ports < <(start_cluster "$kind" "$size")
      IFS=, read -r -a pid_list <<<"$pids"
      PIDS+=("${pid_list[@]}")
      eps=$(echo "$ports" | sed 's/\([0-9]*\)/127.0.0.1:\1/g')
      "$BENCH" --endpoints "$eps" put --key-size 1 --val-size 256 --total 1 >/dev/null 2>&1 || true
      for w in "${WORKLOADS[@]}"; do
        name=${w%% *}; args=${w#* }
        # shellcheck disable=SC2086
        line=$(run_bench "$pids" "$ports" "$kind" $args)
        echo "{\"members\":$size,\"round\":$round,\"kind\":\"$kind\",\"name\":\"$name\",\"result\":$line}" >> "$OUT/results.jsonl"
      done
      rss=0
      for p in "${pid_list[@]}"; do rss=$((rss + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done
      echo "{\"members\":$size,\"round\":$round,\"kind\":\"$kind\",\"name\":\"rss_kb\",\"value\":$rss}" >> "$OUT/results.jsonl"
      for p in "${pid_list[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    done
  done
done

python3 - "$OUT/results.jsonl" <<'PY'
import json, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
names = sorted({r["name"] for r in rows if "result" in r})
for size in sorted({r.get("members", 1) for r in rows}):
  sub = [r for r in rows if r.get("members", 1) == size]
  def med(kind, name, field, sub=sub):
    vals = [r["result"][field] for r in sub if r["kind"] == kind and r["name"] == name and "result" in r and r["result"].get(field) is not None]
    return statistics.median(vals) if vals else None
  print(f"\n{size}-member cluster{'s' if size > 1 else ''} (oxcd/etcd)")
  print(f"{'workload':<10} {'etcd req/s':>12} {'oxcd req/s':>12} {'ratio':>7} {'etcd p99':>9} {'oxcd p99':>9} {'cpu/op e':>9} {'cpu/op o':>9} {'cpu ratio':>9}")
  for n in names:
    er, orr = med("etcd", n, "rate"), med("oxcd", n, "rate")
    ep, op = med("etcd", n, "p99_ms"), med("oxcd", n, "p99_ms")
    ec, oc = med("etcd", n, "server_cpu_us_per_op"), med("oxcd", n, "server_cpu_us_per_op")
    ratio = orr / er if er else float("nan")
    cr = oc / ec if ec and oc else float("nan")
    print(f"{n:<10} {er:>12.0f} {orr:>12.0f} {ratio:>7.2f} {ep:>8.2f}ms {op:>8.2f}ms {ec or 0:>8.1f}us {oc or 0:>8.1f}us {cr:>9.2f}")
PY

#!/usr/bin/env bash
# The server's memory for large LISTs, oxcd beside a fresh etcd (same flags, same data):
# KEYS values of VAL bytes are written, then the server's anonymous RSS is sampled (RssAnon
# from /proc/PID/status every 20 ms: the heap; etcd's mmapped bbolt pages, which a first
# read makes resident, are file-backed and not counted) while one client reads them all:
#   full       one unpaginated Range of every key;
#   paginated  a Kubernetes-style LIST: pages of PAGE keys, each after the first at the
#              first page's revision;
#   stream     one RangeStream (etcd 3.7; etcd 3.4 has none, so oxcd only).
# Printed per server and read: RSS before, the peak during the read, the growth, the time;
# then oxcd/etcd ratios of the growth.
#
#   scripts/range-memory.sh                      # 20,000 x 10 KiB (195 MiB)
#   KEYS=100000 scripts/range-memory.sh          # 1 GiB
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oxcd-target}"
KEYS="${KEYS:-20000}"
VAL="${VAL:-10240}"
PAGE="${PAGE:-500}"

"$(dirname "$0")/cargo.sh" build --release -p oxcd-server --bin oxcd -p oxcd-bench --bin oxcd-bench >&2
OXCD="$CARGO_TARGET_DIR/release/oxcd"
BENCH="$CARGO_TARGET_DIR/release/oxcd-bench"
command -v etcd >/dev/null || { echo "etcd not installed (apt-get install etcd-server)" >&2; exit 1; }
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }

# start KIND: starts a fresh single member, sets PID and EP.
start() {
  local kind=$1 cport pport bin
  cport=$(free_port); pport=$(free_port)
  bin=$([ "$kind" = oxcd ] && echo "$OXCD" || echo etcd)
  "$bin" --name m --data-dir "$WORK/$kind" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "m=http://127.0.0.1:$pport" --quota-backend-bytes=$((8 << 30)) \
    >"$WORK/$kind.log" 2>&1 &
  PID=$!; PIDS+=("$PID"); EP="127.0.0.1:$cport"
  for _ in $(seq 1 100); do
    ETCDCTL_API=3 etcdctl --endpoints="$EP" --dial-timeout=1s endpoint health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$kind did not start" >&2; cat "$WORK/$kind.log" >&2; exit 1
}

# measure KIND READ ARGS...: one read while RSS is sampled; prints a row, records the growth.
declare -A GROWTH
measure() {
  local kind=$1 read=$2; shift 2
  local before peak t0 t1 sampler
  sleep 1
  before=$(rss_kib "$PID")
  rm -f "$WORK/stop"
  ( peak=0; while [ ! -e "$WORK/stop" ]; do
      r=$(rss_kib "$PID" 2>/dev/null); r=${r:-0}
      if [ "$r" -gt "$peak" ]; then peak=$r; echo "$peak" >"$WORK/peak"; fi
      sleep 0.02; done ) &
  sampler=$!
  t0=$(date +%s.%N)
  "$BENCH" --endpoints "$EP" range --total 1 --consistency s --all "$@" >"$WORK/bench.out" 2>&1 \
    || { cat "$WORK/bench.out" >&2; exit 1; }
  t1=$(date +%s.%N)
  sleep 0.3; touch "$WORK/stop"; wait "$sampler" 2>/dev/null || true
  peak=$(cat "$WORK/peak")
  GROWTH[$kind.$read]=$(( (peak - before) / 1024 ))
  printf '%-5s %-10s before %6d MiB  peak %6d MiB  growth %6d MiB  %6.2f s\n' \
    "$kind" "$read" $((before / 1024)) $((peak / 1024)) "${GROWTH[$kind.$read]}" "$(echo "$t1 - $t0" | bc)"
}

echo "data: $KEYS keys x $VAL bytes = $(( KEYS * VAL >> 20 )) MiB; pages of $PAGE"
# Each read on a freshly started server over the same data, so that memory one read left
# to the allocator cannot hide the next one's growth.
for kind in etcd oxcd; do
  start "$kind"
  "$BENCH" --endpoints "$EP" --clients 16 --conns 4 put --total "$KEYS" --key-space-size "$KEYS" \
    --sequential-keys --key-size 16 --val-size "$VAL" >/dev/null
  reads=(paginated full); [ "$kind" = oxcd ] && reads+=(stream)
  for read in "${reads[@]}"; do
    kill -9 "$PID"; wait "$PID" 2>/dev/null || true
    start "$kind"
    echo 0 >"$WORK/peak"
    case $read in
      paginated) measure "$kind" paginated --limit "$PAGE" --paginate ;;
      full) measure "$kind" full ;;
      stream) measure "$kind" stream --stream ;;
    esac
  done
  kill -9 "$PID"; wait "$PID" 2>/dev/null || true
done
for read in full paginated; do
  e=${GROWTH[etcd.$read]}; o=${GROWTH[oxcd.$read]}
  echo "ratio $read growth oxcd/etcd: $(echo "scale=2; $o / ($e + 0.001)" | bc) ($o MiB / $e MiB)"
done
echo "oxcd stream growth / etcd full growth: $(echo "scale=2; ${GROWTH[oxcd.stream]} / (${GROWTH[etcd.full]} + 0.001)" | bc)"

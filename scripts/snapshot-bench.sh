#!/usr/bin/env bash
# An operation on a big database under a put load, oxcd vs etcd 3.4.23 side by side.
# OP=snapshot (issue 14, the default) or OP=defrag (issue 16). Each server (one member,
# the same flags: --quota-backend-bytes 8 GiB, default durability: both fsync the raft
# log / WAL on commit) is filled with SIZE_MB MiB of values (VAL_SIZE-byte values of
# random bytes, so that compression gains nothing, in txns of TXN_OPS puts, by oxcd-bench
# txn-put), then:
#   OP=snapshot: `etcdctl snapshot save` streams it
#     1. once with no load (snapshot time, idle);
#     2. puts alone at PUT_RATE/s for a while (the baseline latencies);
#     3. the same puts again, with a snapshot streaming meanwhile.
#   OP=defrag: DELETE_PERCENT % of the keys are deleted (the upper part of the key space,
#     in DELETE_CHUNKS DeleteRange requests through the /v3 gateway) and the revision
#     compacted (`etcdctl compact --physical`), so that a defrag has work; then
#     2. puts alone at PUT_RATE/s for PUT_SECONDS (the baseline latencies);
#     3. the same puts again, with ONE `etcdctl defrag` 3 s in.
# Measured: the operation's time (snapshot: and file size; defrag: dbSize before and
# after), the server's RSS (VmRSS and RssAnon from /proc/PID/status every 100 ms) before
# and at its peak during the operation, p50/p99/max of the puts that started while it ran
# against the baseline, and how many puts failed. The server runs on CPU 0, etcdctl and
# the load on CPU 1. Everything lives in a temporary directory under TMPDIR (default
# /tmp), deleted at the end; each server's data is deleted before the next starts. Prints
# a table with both servers' numbers and oxcd/etcd ratios.
#
#   scripts/snapshot-bench.sh                         # 2 GiB: 2,097,152 keys x 1 KiB
#   SIZE_MB=256 scripts/snapshot-bench.sh             # a quick run
#   KINDS=oxcd BUILD=0 scripts/snapshot-bench.sh      # one server, no cargo build
#   SNAP_DIR=same-disk scripts/snapshot-bench.sh      # the file on the servers' disk
#   OP=defrag scripts/snapshot-bench.sh               # defrag of 512 MiB, 75 % deleted
#
# The snapshot file goes to SNAP_DIR, by default tmpfs (/dev/shm): written to the servers'
# own disk, etcdctl's writeback and final fsync of the 0.7-2.7 GB file queue both servers'
# WAL fdatasyncs behind them for up to a second (perf trace: oxcd's raft-log and etcd's WAL
# and bbolt fdatasync took 0.6-1.0 s), and the put p99 then counts those client-made
# stalls, not the servers' work.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/oxcd-target}"
OP="${OP:-snapshot}"                 # snapshot | defrag
case "$OP" in snapshot | defrag) ;; *) echo "OP must be snapshot or defrag" >&2; exit 1 ;; esac
if [ "$OP" = defrag ]; then SIZE_MB="${SIZE_MB:-512}"; else SIZE_MB="${SIZE_MB:-2048}"; fi
DELETE_PERCENT="${DELETE_PERCENT:-75}"  # defrag: share of the keys deleted before it
DELETE_CHUNKS="${DELETE_CHUNKS:-16}"
PUT_SECONDS="${PUT_SECONDS:-60}"     # defrag: length of each put run
VAL_SIZE="${VAL_SIZE:-1024}"         # bytes per value
TXN_OPS="${TXN_OPS:-100}"            # puts per loading txn
LOAD_CLIENTS="${LOAD_CLIENTS:-16}"   # concurrent loading txns
PUT_RATE="${PUT_RATE:-200}"          # puts per second during the measured runs
PUT_CLIENTS="${PUT_CLIENTS:-8}"
PUT_VAL_SIZE="${PUT_VAL_SIZE:-256}"
KINDS="${KINDS:-etcd oxcd}"
SNAP_DIR="${SNAP_DIR:-/dev/shm}"
BUILD="${BUILD:-1}"
QUOTA=8589934592

if [ "$BUILD" = 1 ]; then
  "$(dirname "$0")/cargo.sh" build --release -p oxcd-server --bin oxcd -p oxcd-bench --bin oxcd-bench >&2
fi
OXCD="$CARGO_TARGET_DIR/release/oxcd"
BENCH="$CARGO_TARGET_DIR/release/oxcd-bench"
for b in "$OXCD" "$BENCH"; do [ -x "$b" ] || { echo "missing $b (run with BUILD=1)" >&2; exit 1; }; done
command -v etcd >/dev/null || { echo "etcd not installed (apt-get install etcd-server)" >&2; exit 1; }
command -v etcdctl >/dev/null || { echo "etcdctl not installed" >&2; exit 1; }
KEYS=$((SIZE_MB * 1024 * 1024 / VAL_SIZE))
KEYS=$(( (KEYS + TXN_OPS - 1) / TXN_OPS * TXN_OPS ))
[ "$KEYS" -ge "$TXN_OPS" ] || { echo "SIZE_MB too small" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/oxcd-$OP-bench.XXXXXX")
RESULTS="$WORK/results"
if [ "$SNAP_DIR" = same-disk ] || [ ! -d "$SNAP_DIR" ] || [ ! -w "$SNAP_DIR" ]; then
  SNAP_WORK="$WORK"
else
  SNAP_WORK=$(mktemp -d "$SNAP_DIR/oxcd-snapshot-bench.XXXXXX")
fi
: > "$RESULTS"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$WORK" "$SNAP_WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_us() { echo $(( $(date +%s%N) / 1000 )); }
note() { echo "[$(date +%T)] $*" >&2; }
record() { # kind name value
  [ -n "${3:-}" ] || { echo "FAIL: no value for $1 $2" >&2; exit 1; }
  echo "$1 $2 $3" >> "$RESULTS"
}

# Samples VmRSS and RssAnon (kB) of $1 every 100 ms into $2 ("<µs> <VmRSS> <RssAnon>")
# until $3 exists.
sample_rss() {
  local pid=$1 out=$2 stop=$3 k v rss anon
  while [ ! -e "$stop" ] && [ -r "/proc/$pid/status" ]; do
    rss=0; anon=0
    while read -r k v _; do
      case $k in VmRSS:) rss=$v ;; RssAnon:) anon=$v ;; esac
    done < "/proc/$pid/status"
    echo "$(now_us) $rss $anon" >> "$out"
    sleep 0.1
  done
}

db_size() { # endpoint -> dbSize from Status
  etcdctl --endpoints "$1" endpoint status -w json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"])'
}

# Runs the operation ($OP) on endpoint $2 (server PID $3) as "$1"; records its time, the
# RSS before and at the peak, and the file size (snapshot) or dbSize before/after (defrag).
timed_op() { # kind endpoint pid label
  local kind=$1 ep=$2 pid=$3 label=$4 file="$SNAP_WORK/$1-$4.db" samples="$WORK/$1-$4.rss" t0 t1
  : > "$samples"
  [ "$OP" = defrag ] && record "$kind" "${label}_db_before" "$(db_size "$ep")"
  sample_rss "$pid" "$samples" "$samples.stop" &
  local sampler=$!
  sleep 1   # RSS before the operation
  t0=$(now_us)
  if [ "$OP" = snapshot ]; then
    taskset -c 1 etcdctl --endpoints "$ep" --command-timeout=3600s snapshot save "$file" >"$WORK/$kind-$label.log" 2>&1 ||
      { cat "$WORK/$kind-$label.log" >&2; echo "FAIL: $kind snapshot save" >&2; exit 1; }
  else
    taskset -c 1 etcdctl --endpoints "$ep" --command-timeout=3600s defrag >"$WORK/$kind-$label.log" 2>&1 ||
      { cat "$WORK/$kind-$label.log" >&2; echo "FAIL: $kind defrag" >&2; exit 1; }
  fi
  t1=$(now_us)
  sleep 1
  touch "$samples.stop"; wait "$sampler"
  record "$kind" "${label}_seconds" "$(python3 -c "print(($t1 - $t0) / 1e6)")"
  record "$kind" "${label}_t0" "$t0"; record "$kind" "${label}_t1" "$t1"
  if [ "$OP" = snapshot ]; then
    record "$kind" "${label}_file_bytes" "$(stat -c %s "$file")"
    rm -f "$file"
  else
    record "$kind" "${label}_db_after" "$(db_size "$ep")"
  fi
  python3 - "$samples" "$t0" "$t1" "$kind" "$label" >> "$RESULTS" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 3]
t0, t1, kind, label = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
before = [r for r in rows if r[0] < t0]
during = [r for r in rows if t0 <= r[0] <= t1 + 200_000] or before[-1:]
base = before[-1] if before else rows[0]
print(kind, f"{label}_rss_before_kb", base[1])
print(kind, f"{label}_rss_peak_kb", max(r[1] for r in during))
print(kind, f"{label}_anon_before_kb", base[2])
print(kind, f"{label}_anon_peak_kb", max(r[2] for r in during))
print(kind, f"{label}_samples", len(during))
PY
}

# Defrag only: deletes DELETE_PERCENT % of the loaded keys (the upper part of the key space,
# in DELETE_CHUNKS DeleteRange requests) and compacts at the head revision.
make_garbage() { # kind endpoint
  local kind=$1 ep=$2 from=$((KEYS * (100 - DELETE_PERCENT) / 100)) deleted=0 n rev
  python3 - "$from" "$KEYS" "$DELETE_CHUNKS" > "$WORK/ranges" <<'PY'
import base64, struct, sys
lo, hi, chunks = map(int, sys.argv[1:])
key = lambda i: base64.b64encode(struct.pack(">Q", i)).decode()
step = max(1, (hi - lo + chunks - 1) // chunks)
for a in range(lo, hi, step):
  print(key(a), key(min(a + step, hi)))
PY
  while read -r a b; do
    n=$(curl -fsS --max-time 600 -X POST "http://$ep/v3/kv/deleterange" -d "{\"key\":\"$a\",\"range_end\":\"$b\"}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin).get("deleted", 0))') ||
      { echo "FAIL: $kind deleterange" >&2; exit 1; }
    deleted=$((deleted + n))
  done < "$WORK/ranges"
  record "$kind" deleted_keys "$deleted"
  rev=$(etcdctl --endpoints "$ep" endpoint status -w json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
  etcdctl --endpoints "$ep" --command-timeout=600s compact "$rev" --physical >/dev/null ||
    { echo "FAIL: $kind compact" >&2; exit 1; }
  record "$kind" compacted_db_bytes "$(db_size "$ep")"
}

run_puts() { # endpoint total log -> the JSON line of oxcd-bench put
  taskset -c 1 "$BENCH" --endpoints "$1" --conns 2 --clients "$PUT_CLIENTS" --latency-log "$3" \
    put --key-size 8 --val-size "$PUT_VAL_SIZE" --total "$2" --key-space-size 100000 --rate "$PUT_RATE" |
    grep '^JSON ' | sed 's/^JSON //'
}

# Latency percentiles of the puts in log $1 that started in [$2, $3] µs (the whole log when
# no window is given), recorded as <prefix>_p50_ms etc.
window_stats() { # log t0 t1 kind prefix
  python3 - "$@" >> "$RESULTS" <<'PY'
import sys
log, t0, t1, kind, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rows = [tuple(map(int, l.split())) for l in open(log) if l.strip()]
inside = [r for r in rows if t0 <= r[0] <= t1]
lat = sorted(r[1] for r in inside)
def pct(p):
  return lat[min(len(lat) - 1, round(p / 100 * (len(lat) - 1)))] / 1000 if lat else float("nan")
# The part of the window the puts covered, and their rate over it.
lo, hi = max(t0, rows[0][0]), min(t1, rows[-1][0])
span = max(hi - lo, 1) / 1e6
print(kind, f"{prefix}_puts", len(lat))
print(kind, f"{prefix}_rate", len(lat) / span)
if t1 < 10**16:
  print(kind, f"{prefix}_coverage", span / ((t1 - t0) / 1e6))
print(kind, f"{prefix}_p50_ms", pct(50))
print(kind, f"{prefix}_p99_ms", pct(99))
print(kind, f"{prefix}_max_ms", lat[-1] / 1000 if lat else float("nan"))
PY
}

bench_kind() { # kind
  local kind=$1 bin cport pport dir pid ep t_idle secs total
  if [ "$kind" = etcd ]; then bin=etcd; else bin="$OXCD"; fi
  cport=$(free_port); pport=$(free_port); dir="$WORK/$kind.data"
  taskset -c 0 "$bin" --name snap --data-dir "$dir" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "snap=http://127.0.0.1:$pport" --quota-backend-bytes "$QUOTA" >"$WORK/$kind.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  ep="127.0.0.1:$cport"
  for _ in $(seq 1 200); do curl -fs "http://$ep/health" 2>/dev/null | grep -q true && break; sleep 0.1; done
  curl -fs "http://$ep/health" | grep -q true || { tail -20 "$WORK/$kind.log" >&2; echo "FAIL: $kind did not start" >&2; exit 1; }

  note "$kind: loading $KEYS keys x $VAL_SIZE B"
  local load_start load_end
  load_start=$(now_us)
  taskset -c 1 "$BENCH" --endpoints "$ep" --conns 4 --clients "$LOAD_CLIENTS" txn-put --key-size 8 --random-values \
    --val-size "$VAL_SIZE" --txn-ops "$TXN_OPS" --total $((KEYS / TXN_OPS)) --key-space-size "$KEYS" \
    > "$WORK/$kind-load.out" || { tail -20 "$WORK/$kind-load.out" >&2; echo "FAIL: $kind load" >&2; exit 1; }
  load_end=$(now_us)
  grep -q '"errors":0' "$WORK/$kind-load.out" || { grep '^JSON' "$WORK/$kind-load.out" >&2; echo "FAIL: $kind load had errors" >&2; exit 1; }
  record "$kind" load_seconds "$(python3 -c "print(($load_end - $load_start) / 1e6)")"
  record "$kind" db_bytes "$(db_size "$ep")"
  # etcdctl 3.4 has no --count-only; a range's count is the total whatever the limit.
  record "$kind" keys "$(etcdctl --endpoints "$ep" get '' --from-key --keys-only --limit=1 -w json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')"
  record "$kind" data_dir_bytes "$(du -sb "$dir" | cut -f1)"
  sleep 5

  if [ "$OP" = snapshot ]; then
    note "$kind: snapshot, no load"
    timed_op "$kind" "$ep" "$pid" idle
    t_idle=$(awk -v k="$kind" '$1 == k && $2 == "idle_seconds" {print $3}' "$RESULTS")
    # Long enough to cover the snapshot under load too (etcd's took 3x its idle time here).
    secs=$(python3 -c "import math; print(max(20, math.ceil(4 * $t_idle) + 20))")
  else
    note "$kind: deleting $DELETE_PERCENT % of the keys, compacting"
    make_garbage "$kind" "$ep"
    record "$kind" data_dir_compacted_bytes "$(du -sb "$dir" | cut -f1)"
    sleep 5
    secs=$PUT_SECONDS
  fi
  total=$((secs * PUT_RATE))

  note "$kind: $total puts at $PUT_RATE/s, no $OP"
  local line
  line=$(run_puts "$ep" "$total" "$WORK/$kind-base.lat")
  grep -q '"errors":0' <<<"$line" || { echo "$line" >&2; echo "FAIL: $kind baseline puts had errors" >&2; exit 1; }
  window_stats "$WORK/$kind-base.lat" 0 99999999999999999 "$kind" base

  note "$kind: $total puts at $PUT_RATE/s, $OP after 3 s"
  run_puts "$ep" "$total" "$WORK/$kind-load.lat" > "$WORK/$kind-loaded.json" &
  local putter=$!
  sleep 3
  timed_op "$kind" "$ep" "$pid" loaded
  wait "$putter" || { echo "FAIL: $kind puts during the $OP" >&2; exit 1; }
  # Failed puts are counted, not fatal: etcd's defrag blocks writes, and a put may time out.
  record "$kind" failed_puts "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["errors"])' < "$WORK/$kind-loaded.json")"
  local t0 t1
  t0=$(awk -v k="$kind" '$1 == k && $2 == "loaded_t0" {print $3}' "$RESULTS")
  t1=$(awk -v k="$kind" '$1 == k && $2 == "loaded_t1" {print $3}' "$RESULTS")
  local last
  last=$(tail -1 "$WORK/$kind-load.lat" | cut -d' ' -f1)
  if [ "$last" -lt "$t1" ]; then
    echo "WARNING: $kind: the puts ended before the $OP did; only part of it is covered" >&2
  fi
  window_stats "$WORK/$kind-load.lat" "$t0" "$t1" "$kind" during
  record "$kind" data_dir_after_bytes "$(du -sb "$dir" | cut -f1)"

  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

for kind in $KINDS; do bench_kind "$kind"; done

python3 - "$RESULTS" "$KEYS" "$VAL_SIZE" "$PUT_RATE" "$SNAP_WORK" "$OP" "$DELETE_PERCENT" <<'PY'
import sys
vals = {}
for line in open(sys.argv[1]):
  kind, name, v = line.split()
  vals[(kind, name)] = float(v)
keys, val, rate, op = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[6]
MiB = 1 / 2**20
if op == "snapshot":
  print(f"\nSnapshot file written to {sys.argv[5]}")
  print(f"Snapshot of {keys} keys x {val} B ({keys * val / 2**30:.2f} GiB of values), one member each;"
        f" puts at {rate}/s during the measured runs")
else:
  print(f"\nDefrag of {keys} keys x {val} B ({keys * val / 2**30:.2f} GiB of values) after deleting"
        f" {sys.argv[7]} % of them and compacting, one member each; puts at {rate}/s during the measured runs")
defrag_rows = [
  ("keys loaded", "keys", 1, "", "{:.0f}"),
  ("keys deleted", "deleted_keys", 1, "", "{:.0f}"),
  ("load time", "load_seconds", 1, "s", "{:.1f}"),
  ("dbSize after the load", "db_bytes", MiB, "MiB", "{:.0f}"),
  ("dbSize before defrag", "loaded_db_before", MiB, "MiB", "{:.0f}"),
  ("dbSize after defrag", "loaded_db_after", MiB, "MiB", "{:.0f}"),
  ("data dir before defrag", "data_dir_compacted_bytes", MiB, "MiB", "{:.0f}"),
  ("data dir after defrag", "data_dir_after_bytes", MiB, "MiB", "{:.0f}"),
  ("defrag time, under puts", "loaded_seconds", 1, "s", "{:.1f}"),
  ("RSS before defrag", "loaded_rss_before_kb", 1 / 1024, "MiB", "{:.0f}"),
  ("  peak growth during defrag", "loaded_rss_growth", 1 / 1024, "MiB", "{:.0f}"),
  ("put p50, no defrag", "base_p50_ms", 1, "ms", "{:.2f}"),
  ("put p50, during defrag", "during_p50_ms", 1, "ms", "{:.2f}"),
  ("put p99, no defrag", "base_p99_ms", 1, "ms", "{:.2f}"),
  ("put p99, during defrag", "during_p99_ms", 1, "ms", "{:.2f}"),
  ("put max, no defrag", "base_max_ms", 1, "ms", "{:.2f}"),
  ("put max, during defrag", "during_max_ms", 1, "ms", "{:.2f}"),
  ("put rate, no defrag", "base_rate", 1, "/s", "{:.0f}"),
  ("put rate, during defrag", "during_rate", 1, "/s", "{:.0f}"),
  ("puts started during defrag", "during_puts", 1, "", "{:.0f}"),
  ("puts failed (whole run)", "failed_puts", 1, "", "{:.0f}"),
  ("defrag covered by the puts", "during_coverage", 100, "%", "{:.0f}"),
]
rows = [
  ("keys in the database", "keys", 1, "", "{:.0f}"),
  ("load time", "load_seconds", 1, "s", "{:.1f}"),
  ("database size (dbSize)", "db_bytes", MiB, "MiB", "{:.0f}"),
  ("data dir on disk", "data_dir_bytes", MiB, "MiB", "{:.0f}"),
  ("snapshot file", "idle_file_bytes", MiB, "MiB", "{:.0f}"),
  ("snapshot time, no load", "idle_seconds", 1, "s", "{:.1f}"),
  ("snapshot time, under puts", "loaded_seconds", 1, "s", "{:.1f}"),
  ("RSS before snapshot, no load", "idle_rss_before_kb", 1 / 1024, "MiB", "{:.0f}"),
  ("  peak growth while streaming", "idle_rss_growth", 1 / 1024, "MiB", "{:.0f}"),
  ("  of which anonymous (RssAnon)", "idle_anon_growth", 1 / 1024, "MiB", "{:.0f}"),
  ("RSS before snapshot, under puts", "loaded_rss_before_kb", 1 / 1024, "MiB", "{:.0f}"),
  ("  peak growth while streaming", "loaded_rss_growth", 1 / 1024, "MiB", "{:.0f}"),
  ("  of which anonymous (RssAnon)", "loaded_anon_growth", 1 / 1024, "MiB", "{:.0f}"),
  ("put p50, no snapshot", "base_p50_ms", 1, "ms", "{:.2f}"),
  ("put p50, during snapshot", "during_p50_ms", 1, "ms", "{:.2f}"),
  ("put p99, no snapshot", "base_p99_ms", 1, "ms", "{:.2f}"),
  ("put p99, during snapshot", "during_p99_ms", 1, "ms", "{:.2f}"),
  ("put max, no snapshot", "base_max_ms", 1, "ms", "{:.2f}"),
  ("put max, during snapshot", "during_max_ms", 1, "ms", "{:.2f}"),
  ("put rate, no snapshot", "base_rate", 1, "/s", "{:.0f}"),
  ("put rate, during snapshot", "during_rate", 1, "/s", "{:.0f}"),
  ("puts during snapshot", "during_puts", 1, "", "{:.0f}"),
  ("snapshot covered by the puts", "during_coverage", 100, "%", "{:.0f}"),
  ("puts failed (whole run)", "failed_puts", 1, "", "{:.0f}"),
]
if op == "defrag":
  rows = defrag_rows
for kind in ("etcd", "oxcd"):
  for label in ("idle", "loaded"):
    if (kind, f"{label}_rss_peak_kb") in vals:
      vals[(kind, f"{label}_rss_growth")] = vals[(kind, f"{label}_rss_peak_kb")] - vals[(kind, f"{label}_rss_before_kb")]
      vals[(kind, f"{label}_anon_growth")] = vals[(kind, f"{label}_anon_peak_kb")] - vals[(kind, f"{label}_anon_before_kb")]
def cell(kind, name, scale, unit, fmt):
  v = vals.get((kind, name))
  return "-" if v is None else (fmt.format(v * scale) + (" " + unit if unit else ""))
print(f"{'':<30} {'etcd 3.4.23':>14} {'oxcd':>14} {'oxcd/etcd':>10}")
for label, name, scale, unit, fmt in rows:
  e, o = vals.get(("etcd", name)), vals.get(("oxcd", name))
  ratio = f"{o / e:.2f}" if e and o is not None else "-"
  print(f"{label:<30} {cell('etcd', name, scale, unit, fmt):>14} {cell('oxcd', name, scale, unit, fmt):>14} {ratio:>10}")
print("RSS: VmRSS (file-backed pages count too: etcd's include its memory-mapped database)"
      " and RssAnon (heap); growth = peak during the operation - the value just before it.")
PY

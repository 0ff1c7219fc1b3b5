#!/usr/bin/env bash
# Sweeps: how cost grows with work, etcd 3.4.23 and oxcd side by side in the same run (the
# cluster helpers of scripts/bench-lib.sh: servers on CPU 0, load on CPU 1, same flags).
# Each point of each sweep runs on both servers; every point is one JSON line in
# $OUT/sweeps.jsonl ({"sweep","x","x_label","kind","values":{name: number}}), each sweep is
# printed as a table (etcd, oxcd, oxcd/etcd per point and quantity) and drawn by
# `oxcd-bench plot` as $OUT/sweep-<name>.svg.
#
#   clients  put req/s and p99 against concurrent clients (1 member, 256 B values)
#   valsize  put and range-s req/s against value size (range-s reads one such value)
#   keys     RSS, restart time and range-s p99 against keys held (256 B values, loaded
#            with txn-put of BIG_TXN_OPS puts per txn; big_data in bench-lib.sh)
#   watchers watch events/s and server CPU per event against watchers on one prefix
#   members  put and range-l req/s on 1, 3 and 5 members
#
#   scripts/bench-sweep.sh                         # every sweep, default points
#   SWEEPS="clients valsize" SWEEP_TOTAL=5000 scripts/bench-sweep.sh
#   SWEEP_KEYS="100000 1000000" SWEEP_WATCHERS="100 1000 10000" scripts/bench-sweep.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-bench-out/sweep}"
SWEEPS="${SWEEPS:-clients valsize keys watchers members}"
SWEEP_TOTAL="${SWEEP_TOTAL:-20000}"      # requests per point (put, range; scaled, see below)
SWEEP_CLIENTS="${SWEEP_CLIENTS:-1 8 64 256 1024}"
SWEEP_VALSIZES="${SWEEP_VALSIZES:-64 1024 16384 262144}"
SWEEP_KEYS="${SWEEP_KEYS:-100000 1000000 5000000}"
SWEEP_WATCHERS="${SWEEP_WATCHERS:-100 1000 10000 50000}"
SWEEP_MEMBERS="${SWEEP_MEMBERS:-1 3 5}"
WATCH_PUTS="${WATCH_PUTS:-500}"          # watchers sweep: puts, each seen by every watcher
STREAMS="${STREAMS:-100}"                # watchers sweep: watch streams (at most one per watcher)
PROBE_TOTAL="${PROBE_TOTAL:-5000}"       # keys sweep: range-s requests after loading
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
mkdir -p "$OUT"
: > "$OUT/sweeps.jsonl"

record() { # sweep x x_label kind result-json name=field... -> appends one sweep point
  python3 - "$OUT/sweeps.jsonl" "$@" <<'PY'
import json, sys
out, sweep, x, xl, kind, res = sys.argv[1:7]
r = json.loads(res)
vals = {}
for spec in sys.argv[7:]:
  name, field = spec.split("=", 1)
  scale = 1.0
  if "/" in field:
    field, div = field.split("/")
    scale = 1.0 / float(div)
  if r.get(field) is not None:
    vals[name] = r[field] * scale
with open(out, "a") as f:
  f.write(json.dumps({"sweep": sweep, "x": float(x), "x_label": xl, "kind": kind, "values": vals}) + "\n")
PY
}

bench_point() { # pids ports kind args... -> the JSON line; fails the sweep if the run failed
  local line rc=0
  line=$(run_bench "$@") || rc=$?
  if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
    echo "FAIL: $3 ${*:4}: oxcd-bench exited $rc" >&2
    exit 1
  fi
  check_delivery "$3 ${*:4}" "$line"
  echo "$line"
}

start() { # kind members: starts a cluster, sets CPIDS and CPORTS
  read -r CPIDS CPORTS < <(start_cluster "$1" "$2")
  local list
  IFS=, read -r -a list <<<"$CPIDS"
  PIDS+=("${list[@]}")
  "$BENCH" --endpoints "$(echo "$CPORTS" | sed 's/\([0-9]*\)/127.0.0.1:\1/g')" put --key-size 1 --val-size 8 --total 1 >/dev/null 2>&1 || true
}
stop() { local p; for p in ${CPIDS//,/ }; do kill -9 "$p" 2>/dev/null || true; done; }

sweep_clients() {
  local kind c line total
  for kind in etcd oxcd; do
    start "$kind" 1
    for c in $SWEEP_CLIENTS; do
      total=$(( c * 20 > SWEEP_TOTAL ? c * 20 : SWEEP_TOTAL ))
      line=$(CLIENTS=$c CONNS=$(( c < CONNS ? c : CONNS )) bench_point "$CPIDS" "$CPORTS" "$kind" \
        put --key-size 8 --val-size 256 --total "$total" --key-space-size 100000)
      record clients "$c" clients "$kind" "$line" "put req/s=rate" "put p99 ms=p99_ms"
    done
    stop
  done
}

sweep_valsize() {
  local kind v line total
  for kind in etcd oxcd; do
    start "$kind" 1
    for v in $SWEEP_VALSIZES; do
      # The same bytes per point at most, and at least 200 requests.
      total=$(( SWEEP_TOTAL * 256 / v )); total=$(( total < 200 ? 200 : total > SWEEP_TOTAL ? SWEEP_TOTAL : total ))
      line=$(bench_point "$CPIDS" "$CPORTS" "$kind" put --key-size 8 --val-size "$v" --total "$total" --key-space-size 100)
      record valsize "$v" "value bytes" "$kind" "$line" "put req/s=rate" "put p99 ms=p99_ms"
      line=$(bench_point "$CPIDS" "$CPORTS" "$kind" range --all --limit 1 --total "$total" --consistency s)
      record valsize "$v" "value bytes" "$kind" "$line" "range-s req/s=rate" "range-s p99 ms=p99_ms"
    done
    stop
  done
}

probe_range() { # endpoint pid -> "range_s_p99_ms":N (range-s of one key, as bench-vs-etcd.sh reads)
  local line
  line=$(CLIENTS=8 run_bench "$2" "${1#127.0.0.1:}" probe range k --total "$PROBE_TOTAL" --consistency s)
  python3 -c 'import json,sys; print("\"range_s_p99_ms\":%s" % json.loads(sys.argv[1])["p99_ms"])' "$line"
}

sweep_keys() {
  local kind n
  for n in $SWEEP_KEYS; do
    for kind in etcd oxcd; do
      BIG_PROBE=probe_range big_data "$kind" "$n"
      record keys "$n" keys "$kind" "$BIG_LINE" "RSS MiB=rss_kb/1024" "restart s=restart_ms/1000" \
        "range-s p99 ms=range_s_p99_ms"
    done
  done
}

sweep_watchers() {
  local kind w line
  for kind in etcd oxcd; do
    start "$kind" 1
    for w in $SWEEP_WATCHERS; do
      line=$(bench_point "$CPIDS" "$CPORTS" "$kind" watch --watchers "$w" --streams "$(( w < STREAMS ? w : STREAMS ))" \
        --put-total "$WATCH_PUTS" --put-rate 0 --val-size 64)
      record watchers "$w" watchers "$kind" "$line" "events/s=events_per_sec" "CPU us/event=server_cpu_us_per_op"
    done
    stop
  done
}

sweep_members() {
  local kind m line
  for m in $SWEEP_MEMBERS; do
    for kind in etcd oxcd; do
      start "$kind" "$m"
      line=$(bench_point "$CPIDS" "$CPORTS" "$kind" put --key-size 8 --val-size 256 --total "$SWEEP_TOTAL" --key-space-size 100000)
      record members "$m" members "$kind" "$line" "put req/s=rate" "put p99 ms=p99_ms"
      line=$(bench_point "$CPIDS" "$CPORTS" "$kind" range k --total "$SWEEP_TOTAL" --consistency l)
      record members "$m" members "$kind" "$line" "range-l req/s=rate" "range-l p99 ms=p99_ms"
      stop
    done
  done
}

for s in $SWEEPS; do
  start_s=$(date +%s)
  "sweep_$s"
  echo "sweep $s: $(( $(date +%s) - start_s )) s" >&2
done

python3 - "$OUT/sweeps.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for sweep in dict.fromkeys(r["sweep"] for r in rows):
  sub = [r for r in rows if r["sweep"] == sweep]
  names = list(dict.fromkeys(n for r in sub for n in r["values"]))
  val = {}
  for r in sub:
    for n, v in r["values"].items():
      val[(r["x"], r["kind"], n)] = v
  print(f"\nsweep {sweep} (oxcd/etcd)")
  print(f"{sub[0]['x_label']:>12} " + " ".join(f"{n + ' e':>16} {n + ' o':>16} {'ratio':>6}" for n in names))
  for x in sorted(dict.fromkeys(r["x"] for r in sub)):
    cells = []
    for n in names:
      e, o = val.get((x, "etcd", n)), val.get((x, "oxcd", n))
      ratio = f"{o / e:6.2f}" if e and o is not None else f"{'-':>6}"
      cells.append(f"{e if e is not None else float('nan'):16.2f} {o if o is not None else float('nan'):16.2f} {ratio}")
    print(f"{x:>12g} " + " ".join(cells))
PY
"$BENCH" plot --input "$OUT/sweeps.jsonl" --out-dir "$OUT"

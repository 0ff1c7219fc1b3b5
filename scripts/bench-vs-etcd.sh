#!/usr/bin/env bash
# Runs oxcd-bench against a fresh etcd and a fresh oxcd, side by side on this machine, with
# the same flags and the same durability (both fsync the raft log / WAL on commit), and
# prints oxcd/etcd ratios. Servers are pinned to CPU 0, the load generator to CPU 1.
# Workloads: put, put-1c (one client on one connection to the leader: latency, as etcd's
# benchmark --target-leader), range (linearizable and serializable), txn-put, lease-keepalive, watch
# (many watchers on one prefix; every watcher must get every event exactly once, in order)
# and watch-latency; kube (a kube-apiserver-like mix, reported per call type); plus mvcc-put,
# oxcd's storage engine in-process (no etcd counterpart), and disk-sync, the disk's floor
# under a one-client put (run with put-1c).
# The script fails (non-zero exit, FAIL message) if a watch run lost, duplicated or
# reordered an event.
#
#   scripts/bench-vs-etcd.sh            # default rounds and sizes
#   ROUNDS=1 TOTAL=5000 scripts/bench-vs-etcd.sh
#   WATCHERS=10000 STREAMS=100 WATCH_PUTS=500 SIZES=1 scripts/bench-vs-etcd.sh
#   ONLY="put watch" BIG_KEYS=0 SIZES=1 ROUNDS=1 scripts/bench-vs-etcd.sh   # a subset
#   ONLY=kube BIG_KEYS=0 TLS_WORKLOADS="" AUTH_WORKLOADS="" ROUNDS=1 scripts/bench-vs-etcd.sh
#   ONLY=kube SIZES=3 KUBE_NODES=5000 KUBE_OBJECTS=50000 KUBE_HEARTBEAT_MS=10000 \
#     KUBE_FULL_LIST_MS=5000 BIG_KEYS=0 TLS_WORKLOADS="" AUTH_WORKLOADS="" ROUNDS=1 \
#     scripts/bench-vs-etcd.sh     # a 5,000-node cluster: kubelet's 10 s lease renewals
#   TLS_WORKLOADS="" scripts/bench-vs-etcd.sh   # skip the client-mTLS runs (put-tls, range-s-tls)
#   AUTH_WORKLOADS="" scripts/bench-vs-etcd.sh  # skip the auth-on runs (put-auth, range-s-auth)
#
# Client mTLS: put and range-s run again against 1-member clusters whose client URL is
# https with --client-cert-auth, both servers given the same certificates (made here with
# the openssl command line: a CA, a server certificate for 127.0.0.1, a client certificate).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-3}"
TOTAL="${TOTAL:-20000}"
OUT="${OUT:-bench-out}"
TXN_OPS="${TXN_OPS:-4}"              # puts per txn-put txn
LEASES="${LEASES:-64}"               # leases renewed by lease-keepalive
WATCHERS="${WATCHERS:-10000}"        # watch: watchers, streams, puts, put rate (0 = max)
STREAMS="${STREAMS:-100}"
WATCH_PUTS="${WATCH_PUTS:-1000}"
WATCH_PUT_RATE="${WATCH_PUT_RATE:-0}"
WL_TOTAL="${WL_TOTAL:-500}"          # watch-latency: puts and put rate (--clients watchers)
WL_RATE="${WL_RATE:-100}"
KUBE_OBJECTS="${KUBE_OBJECTS:-2000}" # kube: pods (and as many configmaps), nodes, events/s,
KUBE_NODES="${KUBE_NODES:-200}"      # GuaranteedUpdates/s, seconds
KUBE_EVENT_RATE="${KUBE_EVENT_RATE:-100}"
KUBE_UPDATE_RATE="${KUBE_UPDATE_RATE:-300}"
KUBE_DURATION="${KUBE_DURATION:-30}"
KUBE_CONTROLLERS="${KUBE_CONTROLLERS:-8}"      # kube: concurrent controllers doing the updates
KUBE_HEARTBEAT_MS="${KUBE_HEARTBEAT_MS:-2000}"  # kube: node lease renewal period (kubelet: 10000)
KUBE_FULL_LIST_MS="${KUBE_FULL_LIST_MS:-0}"     # kube: unpaginated LIST of all pods every N ms (0: none)
ONE_CLIENT_TOTAL="${ONE_CLIENT_TOTAL:-2000}"  # put-1c: puts by one client on one connection, to the leader
MVCC_TOTAL="${MVCC_TOTAL:-100000}"   # mvcc-put: puts and puts per txn
MVCC_BATCH="${MVCC_BATCH:-1}"
DISK_SYNC_TOTAL="${DISK_SYNC_TOTAL:-2000}"  # disk-sync: synced writes per mode

# Loads the "big" run with one put per txn, as its numbers were always taken.
BIG_TXN_OPS="${BIG_TXN_OPS:-1}"
# shellcheck source=scripts/bench-lib.sh
source scripts/bench-lib.sh
mkdir -p "$OUT"

WORKLOADS=(
  "put put --key-size 8 --val-size 256 --total $TOTAL --key-space-size 100000 --sequential-keys"
  "put-1c put --clients 1 --conns 1 --target-leader --key-size 8 --val-size 256 --total $ONE_CLIENT_TOTAL --key-space-size 100000"
  "range-l range k --total $TOTAL --consistency l"
  "range-s range k --total $TOTAL --consistency s"
  "txn-put txn-put --key-size 8 --val-size 256 --txn-ops $TXN_OPS --total $TOTAL --key-space-size 100000"
  "lease-keepalive lease-keepalive --total $TOTAL --leases $LEASES --ttl 60"
  "watch watch --watchers $WATCHERS --streams $STREAMS --put-total $WATCH_PUTS --put-rate $WATCH_PUT_RATE --val-size 64"
  "watch-latency watch-latency --total $WL_TOTAL --put-rate $WL_RATE"
  "kube kube --objects $KUBE_OBJECTS --nodes $KUBE_NODES --event-rate $KUBE_EVENT_RATE --update-rate $KUBE_UPDATE_RATE --controllers $KUBE_CONTROLLERS --duration $KUBE_DURATION --heartbeat-ms $KUBE_HEARTBEAT_MS --full-list-interval-ms $KUBE_FULL_LIST_MS"
)
SIZES="${SIZES:-1 3}"
ONLY="${ONLY:-}"                     # space-separated workload names to run (empty = all)

: > "$OUT/results.jsonl"
for round in $(seq 1 "$ROUNDS"); do
  if [ -n "$ONLY" ] && [[ " $ONLY " != *" mvcc-put "* ]]; then break; fi
  line=$(taskset -c 1 "$BENCH" --label oxcd mvcc-put --total "$MVCC_TOTAL" --batch-size "$MVCC_BATCH" |
    grep '^JSON ' | sed 's/^JSON //') || { echo "FAIL: mvcc-put round $round" >&2; exit 1; }
  echo "{\"members\":0,\"round\":$round,\"kind\":\"oxcd\",\"name\":\"mvcc-put\",\"result\":$line}" >> "$OUT/results.jsonl"
done
# The disk alone, where the servers keep their data: synced small writes that extend a file
# (as a fresh file is written) and that overwrite synced bytes (as oxcd's primed and
# recycled raft log WAL is). Neither server can acknowledge a one-client put faster.
if [ -z "$ONLY" ] || [[ " $ONLY " == *" put-1c "* ]] || [[ " $ONLY " == *" disk-sync "* ]]; then
  for round in $(seq 1 "$ROUNDS"); do
    for mode in append overwrite; do
      line=$(taskset -c 0 "$BENCH" --label disk disk-sync --mode "$mode" --total "$DISK_SYNC_TOTAL" --dir "$WORK" |
        grep '^JSON ' | sed 's/^JSON //') || { echo "FAIL: disk-sync $mode round $round" >&2; exit 1; }
      echo "{\"members\":0,\"round\":$round,\"kind\":\"disk\",\"name\":\"disk-sync-$mode\",\"result\":$line}" >> "$OUT/results.jsonl"
    done
  done
fi
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
        if [ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
        rc=0
        # shellcheck disable=SC2086
        line=$(run_bench "$pids" "$ports" "$kind" $args) || rc=$?
        [ -n "$line" ] && echo "{\"members\":$size,\"round\":$round,\"kind\":\"$kind\",\"name\":\"$name\",\"result\":$line}" >> "$OUT/results.jsonl"
        check_delivery "$kind $size-member round $round $name" "$line"
        if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
          echo "FAIL: $kind $size-member round $round $name: oxcd-bench exited $rc" >&2
          exit 1
        fi
      done
      rss=0
      for p in "${pid_list[@]}"; do rss=$((rss + $(awk '/VmRSS/ {print $2}' "/proc/$p/status"))); done
      echo "{\"members\":$size,\"round\":$round,\"kind\":\"$kind\",\"name\":\"rss_kb\",\"value\":$rss}" >> "$OUT/results.jsonl"
      for p in "${pid_list[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    done
  done
done

# One-member variants: the same workloads again under another setting, for both kinds,
# recorded as "<name>-<suffix>". `prepare` (a function given the endpoint) runs first.
variant() { # suffix "workload names" prepare
  local suffix=$1 wanted=$2 prepare=$3 round kind pids ports eps w name args rc line
  for round in $(seq 1 "$ROUNDS"); do
    for kind in etcd oxcd; do
      read -r pids ports < <(start_cluster "$kind" 1)
      PIDS+=("$pids")
      eps="127.0.0.1:$ports"
      "$prepare" "$eps"
      # shellcheck disable=SC2046
      "$BENCH" --endpoints "$eps" $(bench_tls) $(bench_user) put --key-size 1 --val-size 256 --total 1 >/dev/null 2>&1 || true
      for w in "${WORKLOADS[@]}"; do
        name=${w%% *}; args=${w#* }
        [[ " $wanted " == *" $name "* ]] || continue
        rc=0
        # shellcheck disable=SC2086
        line=$(run_bench "$pids" "$ports" "$kind" $args) || rc=$?
        if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
          echo "FAIL: $kind $suffix round $round $name: oxcd-bench exited $rc" >&2
          exit 1
        fi
        echo "{\"members\":1,\"round\":$round,\"kind\":\"$kind\",\"name\":\"$name-$suffix\",\"result\":$line}" >> "$OUT/results.jsonl"
      done
      kill -9 "$pids" 2>/dev/null || true
    done
  done
}
nothing() { :; }

# Client mTLS, 1 member: the same put and range-s, named put-tls and range-s-tls.
TLS_WORKLOADS="${TLS_WORKLOADS-put range-s}"
if [ -n "$TLS_WORKLOADS" ]; then
  TLS_DIR="$WORK/certs"; SCHEME=https
  make_certs "$TLS_DIR"
  variant tls "$TLS_WORKLOADS" nothing
  TLS_DIR=""; SCHEME=http
fi

# Auth on, 1 member: put and range-s as a non-root user holding readwrite on every key, so
# every request is permission-checked, with simple tokens (one Authenticate per bench run,
# as one clientv3 client shares its token): put-auth and range-s-auth.
AUTH_WORKLOADS="${AUTH_WORKLOADS-put range-s}"
enable_auth() { # endpoint
  local E=(etcdctl --endpoints "$1")
  { "${E[@]}" user add root:rootpw && "${E[@]}" user grant-role root root &&
    "${E[@]}" role add bench && "${E[@]}" role grant-permission bench readwrite --from-key '' &&
    "${E[@]}" user add bench:benchpw && "${E[@]}" user grant-role bench bench &&
    "${E[@]}" auth enable; } >/dev/null || { echo "FAIL: enabling auth on $1" >&2; exit 1; }
}
if [ -n "$AUTH_WORKLOADS" ]; then
  BENCH_USER=bench:benchpw
  variant auth "$AUTH_WORKLOADS" enable_auth
  BENCH_USER=""
fi

# Memory, disk and restart with BIG_KEYS keys of 256 B (0 skips): big_data (bench-lib.sh).
BIG_KEYS="${BIG_KEYS:-1000000}"
if [ "$BIG_KEYS" -gt 0 ]; then
  for kind in etcd oxcd; do
    big_data "$kind" "$BIG_KEYS"
    echo "{\"members\":-1,\"name\":\"big\",${BIG_LINE#\{}" >> "$OUT/results.jsonl"
  done
fi

python3 - "$OUT/results.jsonl" <<'PY'
import json, os, sys, statistics
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(sub, kind, name, field):
  vals = [r["result"][field] for r in sub if r["kind"] == kind and r["name"] == name and "result" in r and r["result"].get(field) is not None]
  return statistics.median(vals) if vals else None
def f(v, fmt):
  return format(v, fmt) if v is not None else "-"
bad = [r for r in rows if any(r.get("result", {}).get(k) for k in ("lost", "duplicated", "out_of_order"))]
names = sorted({r["name"] for r in rows if "result" in r and r.get("members", 1) > 0})
for size in sorted({r.get("members", 1) for r in rows if r.get("members", 1) > 0}):
  sub = [r for r in rows if r.get("members", 1) == size]
  print(f"\n{size}-member cluster{'s' if size > 1 else ''} (oxcd/etcd)")
  print(f"{'workload':<16} {'etcd req/s*':>12} {'oxcd req/s*':>12} {'ratio':>7} {'etcd p50':>9} {'oxcd p50':>9} {'etcd p99':>9} {'oxcd p99':>9} {'cpu/op e':>9} {'cpu/op o':>9} {'cpu ratio':>9}")
  for n in names:
    rate = "events_per_sec" if n.startswith("watch") else "rate"
    er, orr = med(sub, "etcd", n, rate), med(sub, "oxcd", n, rate)
    e50, o50 = med(sub, "etcd", n, "p50_ms"), med(sub, "oxcd", n, "p50_ms")
    ep, op = med(sub, "etcd", n, "p99_ms"), med(sub, "oxcd", n, "p99_ms")
    ec, oc = med(sub, "etcd", n, "server_cpu_us_per_op"), med(sub, "oxcd", n, "server_cpu_us_per_op")
    ratio = orr / er if er and orr is not None else float("nan")
    cr = oc / ec if ec and oc else float("nan")
    print(f"{n:<16} {f(er, '12.0f'):>12} {f(orr, '12.0f'):>12} {ratio:>7.2f} {f(e50, '8.2f'):>8}ms {f(o50, '8.2f'):>8}ms {f(ep, '8.2f'):>8}ms {f(op, '8.2f'):>8}ms {f(ec, '8.1f'):>8}us {f(oc, '8.1f'):>8}us {cr:>9.2f}")
  print("* watch, watch-latency: events/s delivered (latency: put ack -> event, cpu per event);"
        " txn-put: txns/s; lease-keepalive: keepalives/s; kube: every call of the mix")
  if any(r["name"] == "kube" for r in sub if "result" in r):
    print(f"\nkube-like mix, {size} member{'s' if size > 1 else ''}, per call type")
    print(f"{'call':<22} {'etcd /s':>9} {'oxcd /s':>9} {'etcd p50':>9} {'oxcd p50':>9} {'etcd p99':>9} {'oxcd p99':>9}")
    for call in ("heartbeat", "heartbeat-in-full-list", "create-event", "lease-grant", "update", "list", "count", "full-list"):
      v = [med(sub, k, "kube", f"{call}_{m}") for m in ("rate", "p50_ms", "p99_ms") for k in ("etcd", "oxcd")]
      print(f"{call:<22} {f(v[0], '9.1f'):>9} {f(v[1], '9.1f'):>9} {f(v[2], '7.2f'):>7}ms {f(v[3], '7.2f'):>7}ms {f(v[4], '7.2f'):>7}ms {f(v[5], '7.2f'):>7}ms")
    c = [med(sub, k, "kube", "conflicts") for k in ("etcd", "oxcd")]
    e = [med(sub, k, "kube", "watch_events") for k in ("etcd", "oxcd")]
    print(f"{'conflicts':<22} {f(c[0], '9.0f'):>9} {f(c[1], '9.0f'):>9}   watch events: {f(e[0], '.0f')} / {f(e[1], '.0f')}")
mv = [r for r in rows if r.get("members") == 0 and r.get("name") == "mvcc-put"]
if mv:
  rate, p99 = med(mv, "oxcd", "mvcc-put", "rate"), med(mv, "oxcd", "mvcc-put", "p99_ms")
  cpu, batch = med(mv, "oxcd", "mvcc-put", "server_cpu_us_per_op"), med(mv, "oxcd", "mvcc-put", "batch_size")
  print(f"\nmvcc-put (oxcd storage in-process, no etcd counterpart): {f(rate, '.0f')} puts/s,"
        f" p99 {f(p99, '.3f')}ms per txn of {f(batch, '.0f')} put(s), {f(cpu, '.1f')}us CPU per put")
disk = [r for r in rows if r.get("kind") == "disk"]
if disk:
  a50, a99 = med(disk, "disk", "disk-sync-append", "p50_ms"), med(disk, "disk", "disk-sync-append", "p99_ms")
  w50, w99 = med(disk, "disk", "disk-sync-overwrite", "p50_ms"), med(disk, "disk", "disk-sync-overwrite", "p99_ms")
  print(f"\ndisk floor (no server; one small write + fdatasync): appending p50 {f(a50, '.3f')}ms p99 {f(a99, '.3f')}ms,"
        f" overwriting synced bytes p50 {f(w50, '.3f')}ms p99 {f(w99, '.3f')}ms")
  one = [r for r in rows if r.get("members") == 1 and r.get("name") == "put-1c"]
  e1, o1 = med(one, "etcd", "put-1c", "p50_ms"), med(one, "oxcd", "put-1c", "p50_ms")
  if e1 is not None and o1 is not None:
    print(f"put-1c p50 on 1 member: etcd {e1:.3f}ms, oxcd {o1:.3f}ms (oxcd's raft log WAL is primed"
          f" when it opens, so its synced writes overwrite)")
big = {r["kind"]: r for r in rows if r.get("name") == "big"}
if "etcd" in big and "oxcd" in big:
  e, o = big["etcd"], big["oxcd"]
  print(f"\nwith {os.environ.get('BIG_KEYS', '1000000')} keys of 256 B (1 member)   etcd          oxcd          ratio")
  for label, k, scale, unit in (("RSS after loading", "rss_kb", 1 / 1024, "MiB"),
                                ("RSS after restart", "rss_after_restart_kb", 1 / 1024, "MiB"),
                                ("disk (data dir)", "disk_bytes", 1 / 1048576, "MiB"),
                                ("restart to healthy", "restart_ms", 1 / 1000, "s")):
    ev, ov = e[k] * scale, o[k] * scale
    print(f"{label:<34} {ev:>8.1f} {unit:<4} {ov:>8.1f} {unit:<4} {ov / ev if ev else float('nan'):>6.2f}")
if bad:
  for r in bad:
    res = r["result"]
    print(f"FAIL: {r['kind']} {r['members']}-member round {r['round']} {r['name']}: lost={res.get('lost')} duplicated={res.get('duplicated')} out_of_order={res.get('out_of_order')}", file=sys.stderr)
  sys.exit(1)
PY

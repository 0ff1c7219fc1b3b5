#!/usr/bin/env bash
# Runs the cluster commands of docs/operations.md (backup, restore, rolling restart, member
# replace, defrag) against oxcd (OXCD=path/to/oxcd) on loopback ports 24001-24109, echoing each.
set -euo pipefail
OXCD=${OXCD:?}
W=$(mktemp -d /tmp/ops-rb.XXXX)
export ETCDCTL_API=3
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
run() { echo "+ $*"; "$@"; }
cp_() { echo "http://127.0.0.1:$((24000+$1))"; }
pp_() { echo "http://127.0.0.1:$((24100+$1))"; }
IC="m1=$(pp_ 1),m2=$(pp_ 2),m3=$(pp_ 3)"
start() { # name idx state cluster [datadir]
  local n=$1 i=$2 st=$3 ic=$4 dd=${5:-$W/$1}
  "$OXCD" --name "$n" --data-dir "$dd" --listen-client-urls "$(cp_ "$i")" --advertise-client-urls "$(cp_ "$i")" \
    --listen-peer-urls "$(pp_ "$i")" --initial-advertise-peer-urls "$(pp_ "$i")" \
    --initial-cluster "$ic" --initial-cluster-state "$st" --initial-cluster-token rb >"$W/$n-$i.log" 2>&1 &
  PIDS+=($!); eval "PID_$n=$!"
}
waith() { for _ in $(seq 100); do etcdctl --endpoints="$1" endpoint health >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "not healthy: $1"; exit 1; }
for i in 1 2 3; do start m$i $i new "$IC"; done
for i in 1 2 3; do waith "$(cp_ $i)"; done
EPS="$(cp_ 1),$(cp_ 2),$(cp_ 3)"
run etcdctl --endpoints="$EPS" put backup-key v1
echo "### backup"
run etcdctl --endpoints="$(cp_ 1)" snapshot save "$W/backup.db"
run "$OXCD" snapshot status "$W/backup.db" -w table
echo "### restore (a new single-member cluster from the backup)"
run "$OXCD" snapshot restore "$W/backup.db" --name r1 --data-dir "$W/r1" \
  --initial-cluster "r1=$(pp_ 9)" --initial-advertise-peer-urls "$(pp_ 9)" --initial-cluster-token restored
start r1 9 new "r1=$(pp_ 9)" "$W/r1"; waith "$(cp_ 9)"
run etcdctl --endpoints="$(cp_ 9)" get backup-key
echo "### rolling upgrade/restart of m3"
run kill -TERM "$PID_m3"; wait "$PID_m3" || true
start m3 3 new "$IC"; waith "$(cp_ 3)"
run etcdctl --endpoints="$EPS" endpoint status -w table
echo "### member replace: m3 -> m4"
ID3=$(etcdctl --endpoints="$(cp_ 1)" member list | awk -F', ' '$3=="m3"{print $1}')
run etcdctl --endpoints="$(cp_ 1)" member remove "$ID3"
sleep 0.5; kill -9 "$PID_m3" 2>/dev/null || true
run etcdctl --endpoints="$(cp_ 1)" member add m4 --peer-urls="$(pp_ 4)"
start m4 4 existing "m1=$(pp_ 1),m2=$(pp_ 2),m4=$(pp_ 4)"; waith "$(cp_ 4)"
run etcdctl --endpoints="$(cp_ 1)" member list -w table
run etcdctl --endpoints="$(cp_ 4)" get backup-key
echo "### defrag (online, one member at a time)"
run etcdctl --endpoints="$(cp_ 1)" defrag
run etcdctl --endpoints="$(cp_ 1),$(cp_ 2),$(cp_ 4)" endpoint status -w table
echo "### quota recovery: integration-tests/tests/quota.rs runs it (16 MiB quota)"
echo OK

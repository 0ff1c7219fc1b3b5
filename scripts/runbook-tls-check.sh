#!/usr/bin/env bash
# The TLS certificate rotation of docs/operations.md on a running oxcd (OXCD=path/to/oxcd):
# replace the key, then the certificate, in place; the next handshake serves the new one.
set -euo pipefail
OXCD=${OXCD:?}
W=$(mktemp -d /tmp/ops-tls.XXXX)
export ETCDCTL_API=3
trap 'kill -9 $PID 2>/dev/null || true; rm -rf "$W"' EXIT
run() { echo "+ $*"; "$@"; }
cd "$W"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null
mk() { # name serial
  openssl req -newkey rsa:2048 -nodes -keyout "$1-key.pem" -out "$1.csr" -subj /CN=oxcd 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' > ext.cnf
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -set_serial "$2" -days 1 -extfile ext.cnf -out "$1.pem" 2>/dev/null
}
mk old 1001; mk new 2002
cp old.pem server.pem; cp old-key.pem server-key.pem
"$OXCD" --name t --data-dir "$W/data" --listen-client-urls https://127.0.0.1:24201 --advertise-client-urls https://127.0.0.1:24201 \
  --listen-peer-urls http://127.0.0.1:24301 --initial-advertise-peer-urls http://127.0.0.1:24301 --initial-cluster t=http://127.0.0.1:24301 \
  --cert-file "$W/server.pem" --key-file "$W/server-key.pem" > "$W/log" 2>&1 &
PID=$!
for _ in $(seq 100); do etcdctl --cacert ca.pem --endpoints=https://127.0.0.1:24201 endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
serial() { openssl s_client -connect 127.0.0.1:24201 -CAfile ca.pem </dev/null 2>/dev/null | openssl x509 -noout -serial; }
echo "before: $(serial)"
run cp new-key.pem server-key.pem.tmp; run mv server-key.pem.tmp server-key.pem
run cp new.pem server.pem.tmp; run mv server.pem.tmp server.pem
sleep 1
echo "after: $(serial)"
run etcdctl --cacert ca.pem --endpoints=https://127.0.0.1:24201 put rotated yes

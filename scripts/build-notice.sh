#!/usr/bin/env bash
# Tells a first-time `make run` what the build is doing and how long it takes.
set -euo pipefail
target="${CARGO_TARGET_DIR:-$HOME/.cache/oxcd-target}"
if [ ! -x "$target/release/oxcd" ]; then
  cat >&2 <<'MSG'
make run: building oxcd for the first time on this machine.
  1. RocksDB's C++ library, once per machine (about 9 minutes on two cores; later builds
     of any profile reuse it from ~/.cache/oxcd-rocksdb);
  2. oxcd itself in release mode (about 6 minutes on two cores).
  Later runs start in seconds. Progress follows.
MSG
fi

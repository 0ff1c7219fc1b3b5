#!/usr/bin/env bash
# cargo, with RocksDB's C++ library prebuilt once per machine (scripts/rocksdb-lib.sh) and
# linked by every profile and command: check, clippy, build, test, release, bench.
# The Makefile runs every cargo command through this script.
#
# Set ROCKSDB_LIB_DIR yourself to use another build, or OXCD_BUNDLED_ROCKSDB=1 to let
# librocksdb-sys compile its bundled sources as a plain `cargo build` does. If the cache
# cannot be built, cargo falls back to the bundled sources.
set -euo pipefail
if [ -z "${ROCKSDB_LIB_DIR:-}" ] && [ "${OXCD_BUNDLED_ROCKSDB:-0}" != 1 ]; then
  if dir=$("$(dirname "$0")/rocksdb-lib.sh"); then
    export ROCKSDB_LIB_DIR="$dir" ROCKSDB_STATIC=1
  else
    echo "cargo.sh: no prebuilt RocksDB; cargo compiles the bundled sources" >&2
  fi
fi
exec cargo "$@"

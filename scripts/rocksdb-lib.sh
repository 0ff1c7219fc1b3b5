#!/usr/bin/env bash
# Prints the directory of a prebuilt static RocksDB (librocksdb.a) for this workspace,
# building it first if this machine has none yet.
#
# Why: cargo keeps a build script's output per profile and per target dir, so the release
# binary, clippy and the test build each compiled RocksDB's ~400 C++ files again (about
# 8 minutes each on two cores). librocksdb-sys links a prebuilt library instead when
# ROCKSDB_LIB_DIR is set, so the Makefile builds it here once per machine and exports
# ROCKSDB_LIB_DIR / ROCKSDB_STATIC for every cargo command (check, clippy, build, test,
# release, bench). A plain `cargo build` without the Makefile still compiles the bundled
# sources, as before.
#
# The cache lives outside the clone, keyed by everything that changes the object code:
# the librocksdb-sys version, its features, the C++ compiler and the target.
#
# Usage: scripts/rocksdb-lib.sh        prints the directory (progress goes to stderr)
# Env:   OXCD_ROCKSDB_CACHE            cache root (default: $HOME/.cache/oxcd-rocksdb)
set -euo pipefail
cd "$(dirname "$0")/.."

cache_root="${OXCD_ROCKSDB_CACHE:-$HOME/.cache/oxcd-rocksdb}"
version=$(awk '/^name = "librocksdb-sys"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[ -n "$version" ] || { echo "rocksdb-lib: librocksdb-sys not found in Cargo.lock" >&2; exit 1; }
# The features the workspace enables (see [workspace.dependencies] rocksdb in Cargo.toml).
features=$(grep -E '^rocksdb = ' Cargo.toml)
target=$(rustc -vV | awk '/^host:/ { print $2 }')
cxx=$(${CXX:-c++} --version | head -n 1)
# RocksDB picks its CRC32C code at compile time: without SSE4.2 and PCLMUL it checksums
# every WAL record and block in software (16% of a member's CPU on 256 KiB puts). The
# cache is per machine, so the library is built for this machine's CPU when it has both
# (as RocksDB's own build does, unless PORTABLE=1); OXCD_ROCKSDB_PORTABLE=1 opts out.
cpu_flags=""
if [ "${OXCD_ROCKSDB_PORTABLE:-0}" != 1 ] && [[ "$target" == x86_64-* ]] &&
  grep -qw sse4_2 /proc/cpuinfo 2>/dev/null && grep -qw pclmulqdq /proc/cpuinfo 2>/dev/null; then
  cpu_flags="-C target-feature=+sse4.2,+pclmulqdq"
fi
key=$(printf '%s\n' "$version" "$features" "$target" "$cxx" "$cpu_flags" | sha256sum | cut -c1-16)
dir="$cache_root/$version-$key"

if [ -f "$dir/librocksdb.a" ]; then
  echo "$dir"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  echo "rocksdb-lib: waiting for another build of the RocksDB cache to finish..." >&2
  flock 9
fi
if [ -f "$dir/librocksdb.a" ]; then
  echo "$dir"
  exit 0
fi

# The bundled build needs a C++ compiler and libclang (bindgen).
scripts/install-deps.sh >&2
scratch="$cache_root/build-$key"
echo "rocksdb-lib: compiling RocksDB $version once for this machine into $dir" >&2
echo "rocksdb-lib: this takes about 8-10 minutes on two cores; later builds reuse it" >&2
start=$(date +%s)
# The bundled build: no ROCKSDB_LIB_DIR, release opt-level, no debug info (every profile
# links this one copy; debug info would make it 1.3 GB instead of about 100 MB).
# librocksdb-sys passes -msse4.2/-mpclmul to the C++ compiler when rustc's target
# features include them.
env -u ROCKSDB_LIB_DIR -u ROCKSDB_STATIC CARGO_TARGET_DIR="$scratch" \
  CARGO_PROFILE_RELEASE_DEBUG=false RUSTFLAGS="$cpu_flags" \
  cargo build --release --locked -p librocksdb-sys --quiet >&2
lib=$(find "$scratch/release/build" -path '*librocksdb-sys-*/out/librocksdb.a' | head -n 1)
[ -n "$lib" ] || { echo "rocksdb-lib: the build produced no librocksdb.a" >&2; exit 1; }
mkdir -p "$dir.tmp"
cp "$lib" "$dir.tmp/librocksdb.a"
strip --strip-debug "$dir.tmp/librocksdb.a" 2>/dev/null || true
printf 'librocksdb-sys %s\nfeatures: %s\ntarget: %s\ncompiler: %s\nrustflags: %s\n' \
  "$version" "$features" "$target" "$cxx" "$cpu_flags" >"$dir.tmp/KEY"
rm -rf "$dir"
mv "$dir.tmp" "$dir"
rm -rf "$scratch"
echo "rocksdb-lib: done in $(( $(date +%s) - start )) s" >&2
echo "$dir"

# oxcd: an etcd-v3-compatible key-value store.
#   make run    start a single-member server on 127.0.0.1:2379 (data in ./default.etcd)
#   make test   format check, clippy, then every test (unit, conformance, differential vs etcd)
#   make bench  oxcd vs etcd side by side
#   make bench-quick  the headline table (put, range, txn-put, lease-keepalive, watch on 1 and
#               3 members, one round, smaller totals) in under 5 minutes, to check a change
#   make bench-sweep  curves, oxcd vs etcd in one run: put against clients, put/range-s against
#               value size, RSS/restart/range-s p99 against keys, watch against watchers, put/range-l
#               against members; tables, and SVG plots in bench-out/sweep (scripts/bench-sweep.sh;
#               SWEEPS=, SWEEP_* to shorten)
#   make snapshot-bench  a 2 GiB snapshot, oxcd vs etcd 3.4.23 side by side: snapshot time,
#               the server's peak RSS growth while it streams, put p50/p99/max during the
#               stream vs without (scripts/snapshot-bench.sh; SIZE_MB=256 for a quick run;
#               data in a temporary directory under /tmp, the snapshot file in /dev/shm,
#               both deleted afterwards)
#   make defrag-bench  online defrag under puts, oxcd vs etcd 3.4.23: 512 MiB loaded, 75 % of
#               it deleted and compacted, then put p50/p99/max while one defrag runs vs without,
#               defrag time, dbSize before/after, failed puts (OP=defrag scripts/snapshot-bench.sh;
#               SIZE_MB to change the size)
#   make fuzz   oxcd-fuzz (crates/fuzz): FUZZ_INPUTS inputs per fast target (gRPC, gateway JSON,
#               durable state) and FUZZ_FILE_INPUTS damaged data directories; failing
#               inputs are saved under $(CARGO_TARGET_DIR)/fuzz-crashes
#   make chaos  the robustness suite: CHAOS_SEEDS runs of CHAOS_DURATION s against a 3-member
#               cluster under faults, judged by the linearizability and watch checkers
#               (CHAOS_BIN=/usr/bin/etcd runs it against etcd)

export CARGO_TARGET_DIR ?= $(HOME)/.cache/oxcd-target
# Every cargo command links one RocksDB built once per machine (scripts/rocksdb-lib.sh).
CARGO ?= scripts/cargo.sh
OXCD_BIN := $(CARGO_TARGET_DIR)/release/oxcd
OXCD_DEBUG_BIN := $(CARGO_TARGET_DIR)/debug/oxcd
DATA_DIR ?= default.etcd

.PHONY: deps build release run test fmt fmt-check lint nextest bench bench-quick bench-sweep snapshot-bench defrag-bench fuzz chaos clean-data

deps:
	@scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace

release: deps
	@scripts/build-notice.sh
	$(CARGO) build --release -p oxcd-server --bin oxcd

run: release
	$(OXCD_BIN) --name default --data-dir $(DATA_DIR) \
	  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
	  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
	  --initial-cluster default=http://127.0.0.1:2380

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

# Tests and the robustness suite run a debug build with failpoints compiled in (inactive
# unless FAILPOINTS is set); the release binary has none.
TEST_FEATURES := --features oxcd-server/failpoints

lint:
	$(CARGO) clippy --workspace --all-targets $(TEST_FEATURES) -- -D warnings

nextest:
	$(CARGO) build --workspace --all-targets $(TEST_FEATURES)
	OXCD_BIN=$(OXCD_DEBUG_BIN) $(CARGO) nextest run --workspace $(TEST_FEATURES) --no-fail-fast

test: deps fmt-check lint nextest

bench: deps
	scripts/bench-vs-etcd.sh

bench-quick: deps
	ONLY="put put-1c range-l range-s txn-put lease-keepalive watch" ROUNDS=1 TOTAL=20000 \
	  WATCHERS=10000 STREAMS=100 WATCH_PUTS=500 BIG_KEYS=0 TLS_WORKLOADS="" AUTH_WORKLOADS="" \
	  OUT=bench-out/quick scripts/bench-vs-etcd.sh

bench-sweep: deps
	scripts/bench-sweep.sh

snapshot-bench: deps
	scripts/snapshot-bench.sh

defrag-bench: deps
	OP=defrag scripts/snapshot-bench.sh

# Release speed with overflow checks on, so arithmetic overflow panics as in a debug build.
FUZZ_INPUTS ?= 1000000
FUZZ_FILE_INPUTS ?= 300
FUZZ_SEED ?= 1
FUZZ_ARGS ?=
fuzz: deps
	$(CARGO) build --release --config profile.release.overflow-checks=true -p oxcd-fuzz --bin oxcd-fuzz
	$(CARGO_TARGET_DIR)/release/oxcd-fuzz all --inputs $(FUZZ_INPUTS) \
	  --file-inputs $(FUZZ_FILE_INPUTS) --seed $(FUZZ_SEED) $(FUZZ_ARGS)

CHAOS_SEEDS ?= 10
CHAOS_DURATION ?= 60
CHAOS_BIN ?= $(OXCD_DEBUG_BIN)
CHAOS_ARGS ?=
chaos: deps
	$(CARGO) build --workspace --bins $(TEST_FEATURES)
	$(CARGO) build --release -p oxcd-robustness --bin oxcd-chaos
	$(CARGO_TARGET_DIR)/release/oxcd-chaos --seeds $(CHAOS_SEEDS) --duration $(CHAOS_DURATION) \
	  --bin $(CHAOS_BIN) --dump-dir $(CARGO_TARGET_DIR)/chaos $(CHAOS_ARGS)

clean-data:
	rm -rf $(DATA_DIR)

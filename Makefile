# oxcd: an etcd-v3-compatible key-value store.
#   make run    start a single-member server on 127.0.0.1:2379 (data in ./default.etcd)
#   make test   format check, clippy, then every test (unit, conformance, differential vs etcd)
#   make bench  oxcd vs etcd side by side

export CARGO_TARGET_DIR ?= $(HOME)/.cache/oxcd-target
# Every cargo command links one RocksDB built once per machine (scripts/rocksdb-lib.sh).
CARGO ?= scripts/cargo.sh
OXCD_BIN := $(CARGO_TARGET_DIR)/release/oxcd
OXCD_DEBUG_BIN := $(CARGO_TARGET_DIR)/debug/oxcd
DATA_DIR ?= default.etcd

.PHONY: deps build release run test fmt fmt-check lint nextest bench clean-data

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

lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

nextest:
	$(CARGO) build --workspace --all-targets
	OXCD_BIN=$(OXCD_DEBUG_BIN) $(CARGO) nextest run --workspace --no-fail-fast

test: deps fmt-check lint nextest

bench: deps
	scripts/bench-vs-etcd.sh

clean-data:
	rm -rf $(DATA_DIR)

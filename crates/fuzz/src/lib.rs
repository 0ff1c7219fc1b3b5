//! oxcd-fuzz: fuzzing of oxcd on stable Rust, deterministic, from a saved corpus.
//!
//! The crate owns four fuzz targets, a small AFL-style driver that runs them (havoc
//! mutations of corpus entries, no coverage feedback), the generator of their seed
//! corpora (`crates/fuzz/corpus/<target>/`, checked in), and the in-memory serving
//! harness the request targets share. What it checks: bad input gets a clear error or a
//! clean recovery, never a panic, a hang, or a wrong answer.
//!
//! # Targets
//! - `grpc-decode`: protobuf request bytes (every KV, Lease, Watch, Cluster, Maintenance,
//!   Lock and Election request, the raft log's `InternalRequest`, peer and raft-rs
//!   messages) decoded, validated and served ([`targets::grpc_decode`]).
//! - `gateway-json`: `/v3` JSON bodies decoded by the gateway's own functions, then
//!   served ([`targets::gateway_json`]).
//! - `state-decode`: arbitrary durable records opened by the MVCC store, the lessor, the
//!   membership and alarm tables and the raft log store, then raft started on them
//!   ([`targets::state_decode`]).
//! - `raftlog-files`: a real data directory with one or more files damaged, restarted
//!   by a real member in a child process ([`targets::raftlog_files`]).
//!
//! # Running
//! `make fuzz` (1,000,000 inputs per fast target, `FUZZ_FILE_INPUTS` damaged data
//! directories), or `oxcd-fuzz <target>|all --inputs N --seed S [--corpus DIR]
//! [--crash-dir DIR]`; `--replay FILE...` reruns saved inputs, `--write-corpus`
//! regenerates the seeds. `tests/fast_targets.rs` runs 20,000 inputs per fast target.
//!
//! # Layout
//! - [`driver`]: input generation, `catch_unwind`, crash files, the hang watchdog,
//!   [`driver::Report`].
//! - [`mutate`]: the havoc [`mutate::Mutator`]; [`rng`]: the deterministic [`rng::Rng`].
//! - [`frames`]: the `[tag][len][payload]` framing of multi-step inputs.
//! - [`outcome`]: [`outcome::Outcomes`], what inputs led to, by label.
//! - [`corpus`]: loading a saved corpus; [`seeds`]: generating one.
//! - [`serve`]: [`serve::Harness`], a member's stores in memory serving requests
//!   through the server's validation and apply code, checked against a model.
//! - [`targets`]: the [`targets::Target`] registry and one module per target.
//! - `src/bin/oxcd-fuzz.rs`: the command line (`make fuzz` runs it).
//!
//! # Invariants
//! - A target never panics on any input; a panic, including a failed `oracle:` check
//!   (a served answer that disagrees with the model), is a failure.
//! - Input `i` of a run depends only on the seed, the target and the corpus.
//! - Every input is small (at most 64 KiB, at most 32 frames) and bounded in time: the
//!   driver exits with status 3 when one runs past its timeout.
//! - Process-killing failures (RocksDB aborts, stack overflows in recovery) can only
//!   come from `raftlog-files`, which runs each input in a child process.

pub mod corpus;
pub mod driver;
pub mod frames;
pub mod mutate;
pub mod outcome;
pub mod rng;
pub mod seeds;
pub mod serve;
pub mod targets;

//! `oxcd-bench`: load generator for etcd-compatible servers, after etcd's `tools/benchmark`.
//!
//! It speaks only the public gRPC API, so the same command measures etcd and oxcd. Two
//! workloads need no server: `mvcc-put` times oxcd's storage engine in-process and
//! `disk-sync` the disk's synced-write floor. Each run prints an etcd-benchmark-style
//! summary (rate, latency histogram, percentiles) followed by one `JSON {...}` line for
//! scripts, with at least `workload`, `label`, `requests`, `ops`,
//! `errors`, `seconds`, `rate`, `avg_ms`, `p50_ms`, `p90_ms`, `p99_ms`, `max_ms` and
//! `server_cpu_us_per_op`. `--latency-log` writes every request's start time and
//! latency, for scripts that look at a time window of a run.
//!
//! # Layout
//! - `main.rs`: global flags and the workload list.
//! - `conn`: gRPC connections. `keys`: keys and tagged values. `pace`: the `--rate`
//!   schedule. `cpu`: server CPU from /proc. `driver`: the closed-loop client driver.
//! - `report`: latency summary and the JSON line.
//! - `workload`: one module per workload (put, range, txn-put, txn-mixed, watch,
//!   watch-latency, lease-keepalive, kube, mvcc-put, disk-sync).
//! - `plot`: not a workload: `oxcd-bench plot` draws the SVG charts of
//!   `scripts/bench-sweep.sh`'s sweeps (plotters, SVG backend only).
//!
//! # Invariants
//! - `--total` operations run in all, whatever the number of clients; `--rate` (where a
//!   workload has it) caps operations per second across all clients.
//! - Watch workloads check delivery: a run with any LOST, DUPLICATED or OUT-OF-ORDER event
//!   still prints its report, then exits non-zero.

mod conn;
mod cpu;
mod driver;
mod keys;
mod pace;
mod plot;
mod report;
mod workload;

use clap::{Parser, Subcommand};

/// Global flags, as etcd's benchmark names them.
#[derive(Parser, Debug)]
// A flag given twice takes the last value: a script's workload line can override the
// `--clients` and `--conns` it passes to every workload.
#[command(
    name = "oxcd-bench",
    about = "benchmark an etcd-compatible server",
    args_override_self = true
)]
pub struct Cli {
    /// Comma-separated gRPC endpoints (host:port).
    #[arg(long, default_value = "127.0.0.1:2379", global = true)]
    endpoints: String,
    /// Connects only to the endpoint whose member is the leader (as etcd's benchmark does),
    /// so a cluster run measures the same path whichever member won the election.
    #[arg(long, global = true)]
    target_leader: bool,
    /// Number of gRPC connections.
    #[arg(long, default_value_t = 1, global = true)]
    conns: usize,
    /// Number of concurrent clients, spread over the connections.
    #[arg(long, default_value_t = 1, global = true)]
    clients: usize,
    /// Server PIDs (comma-separated, e.g. every member of a cluster) whose summed CPU
    /// time per operation is reported (from /proc).
    #[arg(long, global = true, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// TLS: the CA that signs the server certificate (connections use `https`).
    #[arg(long = "cacert", default_value = "", global = true)]
    tls_cacert: String,
    /// TLS: the client certificate (with `--key`), for servers that require one.
    #[arg(long = "cert", default_value = "", global = true)]
    tls_cert: String,
    /// TLS: the client certificate's key.
    // Not `key`: the range workload's positional argument has that name.
    #[arg(long = "key", default_value = "", global = true)]
    tls_key: String,
    /// Auth: `name:password`; the token from one Authenticate is sent with every request.
    #[arg(long, default_value = "", global = true)]
    user: String,
    /// Writes `<start µs since the Unix epoch> <latency µs>` per successful request to this
    /// file (request/response workloads: put, range, txn-put, txn-mixed).
    #[arg(long, global = true)]
    latency_log: Option<std::path::PathBuf>,
    /// Label printed in the JSON line (e.g. "oxcd" or "etcd").
    #[arg(long, default_value = "", global = true)]
    label: String,
    #[command(subcommand)]
    cmd: Command,
}

/// Workloads.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Puts keys.
    Put(workload::put::PutArgs),
    /// Ranges over a key or prefix.
    Range(workload::range::RangeArgs),
    /// Txns of `--txn-ops` puts each.
    TxnPut(workload::txn_put::TxnPutArgs),
    /// Txns that each hold one range or one put, mixed by `--rw-ratio`.
    TxnMixed(workload::txn_mixed::TxnMixedArgs),
    /// Many watchers on one prefix (or a few keys), puts from separate clients; checks that
    /// every watcher gets every event once and in order.
    Watch(workload::watch::WatchArgs),
    /// `--clients` watchers on one key, puts at a fixed rate; latency from put to event.
    WatchLatency(workload::watch_latency::WatchLatencyArgs),
    /// Keepalives over one LeaseKeepAlive stream per client.
    LeaseKeepalive(workload::lease_keepalive::LeaseKeepaliveArgs),
    /// A kube-apiserver-like mix for `--duration` seconds: node-lease heartbeats, events with
    /// leases, GuaranteedUpdates with conflicts, watchers per resource, paginated LISTs;
    /// throughput and latency per call type.
    Kube(workload::kube::KubeArgs),
    /// oxcd's mvcc store over RocksDB, in-process (no server, no network).
    MvccPut(workload::mvcc_put::MvccPutArgs),
    /// The disk alone: synced small writes to one file (no server), the floor under a
    /// one-client put.
    DiskSync(workload::disk_sync::DiskSyncArgs),
    /// Not a workload: draws one SVG per sweep from sweep JSON lines (scripts/bench-sweep.sh).
    Plot(plot::PlotArgs),
}

impl Command {
    /// The workload's name, as in the JSON line.
    fn name(&self) -> &'static str {
        match self {
            Command::Put(_) => "put",
            Command::Range(_) => "range",
            Command::TxnPut(_) => "txn-put",
            Command::TxnMixed(_) => "txn-mixed",
            Command::Watch(_) => "watch",
            Command::WatchLatency(_) => "watch-latency",
            Command::LeaseKeepalive(_) => "lease-keepalive",
            Command::Kube(_) => "kube",
            Command::MvccPut(_) => "mvcc-put",
            Command::DiskSync(_) => "disk-sync",
            Command::Plot(_) => "plot",
        }
    }

    /// Runs without any server (no connection, no authentication).
    fn is_local(&self) -> bool {
        matches!(
            self,
            Command::MvccPut(_) | Command::DiskSync(_) | Command::Plot(_)
        )
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = if let Command::Plot(args) = &cli.cmd {
        plot::run(args)
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(workload::run(cli)))
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

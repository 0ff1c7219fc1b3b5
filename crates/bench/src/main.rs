//! `oxcd-bench`: load generator for etcd-compatible servers, after etcd's `tools/benchmark`.
//!
//! It speaks only the public gRPC API, so the same command measures etcd and oxcd. Each run
//! prints an etcd-benchmark-style summary (rate, latency histogram, percentiles) followed by
//! one JSON line for scripts.
//!
//! # Layout
//! - `main.rs`: flags and workload dispatch.
//! - [`report`]: latency recording and the summary.
//! - [`workload`]: put and range.

mod report;
mod workload;

use clap::{Parser, Subcommand};

/// Global flags, as etcd's benchmark names them.
#[derive(Parser, Debug)]
#[command(name = "oxcd-bench", about = "benchmark an etcd-compatible server")]
pub struct Cli {
    /// Comma-separated gRPC endpoints (host:port).
    #[arg(long, default_value = "127.0.0.1:2379", global = true)]
    endpoints: String,
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
    Put(workload::PutArgs),
    /// Ranges over a key or prefix.
    Range(workload::RangeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(workload::run(cli))
}

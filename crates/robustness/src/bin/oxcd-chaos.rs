//! `oxcd-chaos`: the robustness suite's command line (`make chaos`).
//!
//! ```text
//! oxcd-chaos [--seeds 10] [--first-seed 1] [--duration 60] [--members 3]
//!            [--bin PATH] [--faults all|none|kill-leader,stop-random,...] ...
//! ```
//! Prints one line per run and closes with `N passed, M failed`; exits non-zero if any run
//! failed.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use oxcd_integration_tests::Kind;
use oxcd_robustness::faults::Fault;
use oxcd_robustness::run::{Network, RunConfig};
use oxcd_robustness::suite::run_suite;

/// The robustness suite: faults, recorded clients and watchers, checkers.
#[derive(Debug, Parser)]
#[command(name = "oxcd-chaos")]
struct Args {
    /// Number of runs (seeds first-seed, first-seed + 1, ...).
    #[arg(long, default_value_t = 10)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// Seconds the clients run in each run.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Cluster size.
    #[arg(long, default_value_t = 3)]
    members: usize,
    /// The server binary: an etcd binary (its file name is `etcd`) or oxcd. Default:
    /// `OXCD_BIN`, else the debug build under `CARGO_TARGET_DIR`.
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Comma-separated faults (kill-leader, kill-random, stop-leader, stop-random,
    /// restart-all, partition-leader, partition-random, replace-random), `all` or `none`. Partitions need
    /// namespaces or the peer proxy (see --network) and are left out on `loopback`.
    #[arg(long, default_value = "all")]
    faults: String,
    /// Average seconds between faults.
    #[arg(long, default_value_t = 4.0)]
    fault_interval: f64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Concurrent watchers.
    #[arg(long, default_value_t = 2)]
    watchers: usize,
    /// Watchers never request progress notifications (etcd 3.4.23 answers them out of
    /// order with queued events, etcd issue 15220; this skips that check).
    #[arg(long)]
    no_progress_requests: bool,
    /// Keys the clients share.
    #[arg(long, default_value_t = 10)]
    keys: usize,
    /// Milliseconds one operation may take before its outcome is unknown.
    #[arg(long, default_value_t = 3000)]
    op_timeout_ms: u64,
    /// Negative control: serve this fraction of linearizable gets from the client's cache
    /// (stale reads); the suite MUST fail.
    #[arg(long, default_value_t = 0.0)]
    inject_stale_reads: f64,
    /// `FAILPOINTS` for every member, e.g. `apply-after-write=1%return` (crash points) or
    /// `kv-range-skip-read-index=return` (a deliberate bug the suite MUST catch). Needs a
    /// server built with `--features oxcd-server/failpoints` (`make chaos` does).
    #[arg(long)]
    failpoints: Option<String>,
    /// `namespaces` (a network namespace per member, so partitions can be injected; needs
    /// root), `proxy` (a fault-injecting TCP proxy in the peer path; no root needed),
    /// `loopback` (no partitions), or `auto` (namespaces when possible, else the proxy).
    #[arg(long, default_value = "auto")]
    network: String,
    /// Where failed runs' histories are written.
    #[arg(long)]
    dump_dir: Option<PathBuf>,
}

fn parse_faults(s: &str) -> Result<Vec<Fault>, String> {
    match s {
        "all" => Ok(Fault::ALL.to_vec()),
        "none" | "" => Ok(Vec::new()),
        list => list
            .split(',')
            .map(|f| Fault::parse(f.trim()).ok_or_else(|| format!("unknown fault {f:?}")))
            .collect(),
    }
}

fn main() {
    let args = Args::parse();
    let faults = parse_faults(&args.faults).unwrap_or_else(|e| {
        eprintln!("oxcd-chaos: {e}");
        std::process::exit(2);
    });
    let Some(network) = Network::parse(&args.network) else {
        eprintln!(
            "oxcd-chaos: unknown --network {:?} (namespaces, proxy, loopback or auto)",
            args.network
        );
        std::process::exit(2);
    };
    let kind = match &args.bin {
        Some(bin) if bin.file_name().is_some_and(|n| n == "etcd") => {
            std::env::set_var("ETCD_BIN", bin);
            Kind::Etcd
        }
        Some(bin) => {
            std::env::set_var("OXCD_BIN", bin);
            Kind::Oxcd
        }
        None => Kind::Oxcd,
    };
    if !kind.binary().is_file() {
        eprintln!(
            "oxcd-chaos: server binary not found at {}",
            kind.binary().display()
        );
        std::process::exit(2);
    }
    let base = RunConfig {
        seed: 0,
        duration: Duration::from_secs(args.duration),
        members: args.members,
        kind,
        faults,
        fault_interval: Duration::from_secs_f64(args.fault_interval),
        clients: args.clients,
        watchers: args.watchers,
        request_progress: !args.no_progress_requests,
        keys: args.keys,
        op_timeout: Duration::from_millis(args.op_timeout_ms),
        stale_read_fraction: args.inject_stale_reads,
        extra_args: Vec::new(),
        network,
        failpoints: args.failpoints.clone(),
    };
    println!(
        "chaos: {} runs of {} s against {} {}-member clusters ({}), faults: {}, network: {}",
        args.seeds,
        args.duration,
        kind.label(),
        args.members,
        kind.binary().display(),
        args.faults,
        base.network.describe()
    );
    let seeds: Vec<u64> = (args.first_seed..args.first_seed + args.seeds).collect();
    let r = run_suite(&base, &seeds, args.dump_dir.as_ref());
    std::process::exit(if r.failed == 0 { 0 } else { 1 });
}

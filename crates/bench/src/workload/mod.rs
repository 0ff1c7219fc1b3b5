//! The workloads, one module each, and the dispatch that runs one and prints its report.
//!
//! Every workload returns a [`Report`](crate::report::Report); the watch workloads add `lost`, `duplicated` and
//! `out_of_order` fields, and [`run`] fails after printing if any of them is non-zero.

pub mod disk_sync;
pub mod kube;
pub mod lease_keepalive;
pub mod mvcc_put;
pub mod put;
pub mod range;
pub mod txn_mixed;
pub mod txn_put;
pub mod watch;
pub mod watch_latency;
mod watch_stream;
mod watch_tally;

use crate::conn::Conn;
use oxcd_proto::etcdserverpb::kv_client::KvClient;

use crate::cpu::CpuMeter;
use crate::driver::{drive, Op, Samples};
use crate::{Cli, Command};

/// The global flags every workload may use.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Comma-separated `host:port` list.
    pub endpoints: String,
    /// Connections to open.
    pub conns: usize,
    /// Concurrent clients (at least one).
    pub clients: usize,
    /// Server PIDs whose CPU time is measured.
    pub server_pid: Vec<u32>,
    /// TLS (`--cacert`, `--cert`, `--key`); `None` connects in plain text.
    pub tls: Option<oxcd_tls::ClientTls>,
    /// The auth token every request carries (`--user`).
    pub token: crate::conn::AuthToken,
    /// `--latency-log`: where [`Ctx::drive_measured`] writes one line per successful
    /// operation.
    pub latency_log: Option<std::path::PathBuf>,
}

impl Ctx {
    /// `n` new connections to the endpoints, with TLS and the auth token.
    pub async fn connect(&self, n: usize) -> anyhow::Result<Vec<Conn>> {
        crate::conn::connect(&self.endpoints, n, self.tls.as_ref(), &self.token).await
    }

    /// One KV client per `--clients`, spread round-robin over `--conns` new connections
    /// (no response size limit), each made into a workload op by `make`.
    pub async fn kv_clients<C>(
        &self,
        mut make: impl FnMut(KvClient<Conn>) -> C,
    ) -> anyhow::Result<Vec<C>> {
        let chans = self.connect(self.conns).await?;
        Ok((0..self.clients)
            .map(|c| {
                make(
                    KvClient::new(chans[c % chans.len()].clone())
                        .max_decoding_message_size(usize::MAX),
                )
            })
            .collect())
    }

    /// Drives `clients` through `total` operations at `rate`, measuring the servers' CPU
    /// time meanwhile; returns the samples and the CPU seconds (if readable).
    pub async fn drive_measured<C: Op>(
        &self,
        clients: Vec<C>,
        total: usize,
        rate: u64,
    ) -> anyhow::Result<(Samples, Option<f64>)> {
        let meter = CpuMeter::start(&self.server_pid);
        let samples = drive(clients, total, rate).await?;
        let cpu = meter.stop();
        if let Some(path) = &self.latency_log {
            write_latency_log(path, &samples)?;
        }
        Ok((samples, cpu))
    }
}

/// Writes `<start, µs since the Unix epoch> <latency µs>` for every successful operation of
/// `samples`, in start order (for scripts that look at a time window of a run).
fn write_latency_log(path: &std::path::Path, samples: &Samples) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::Write as _;
    let origin = samples
        .started
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .unwrap_or_default();
    let mut timeline = samples.timeline.clone();
    timeline.sort_unstable();
    let file = std::fs::File::create(path)
        .with_context(|| format!("create --latency-log {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    for (offset, latency) in timeline {
        writeln!(
            out,
            "{} {}",
            (origin + offset).as_micros(),
            latency.as_micros()
        )?;
    }
    out.flush()
        .with_context(|| format!("write --latency-log {}", path.display()))
}

/// The JSON fields that must be zero for a watch run to pass.
const INTEGRITY_FIELDS: [&str; 3] = ["lost", "duplicated", "out_of_order"];

/// Runs the chosen workload and prints its report; fails if delivery was not exact.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let tls = crate::conn::tls(&cli.tls_cacert, &cli.tls_cert, &cli.tls_key)?;
    let token = if cli.cmd.is_local() {
        crate::conn::AuthToken::default()
    } else {
        crate::conn::authenticate(&cli.endpoints, tls.as_ref(), &cli.user).await?
    };
    let endpoints = if cli.target_leader && !cli.cmd.is_local() {
        let leader = crate::conn::leader_endpoint(&cli.endpoints, tls.as_ref(), &token).await?;
        eprintln!("--target-leader: {leader}");
        leader
    } else {
        cli.endpoints.clone()
    };
    let ctx = Ctx {
        endpoints,
        conns: cli.conns.max(1),
        clients: cli.clients.max(1),
        server_pid: cli.server_pid.clone(),
        tls,
        token,
        latency_log: cli.latency_log.clone(),
    };
    let report = match &cli.cmd {
        Command::Put(a) => put::run(&ctx, a).await?,
        Command::Range(a) => range::run(&ctx, a).await?,
        Command::TxnPut(a) => txn_put::run(&ctx, a).await?,
        Command::TxnMixed(a) => txn_mixed::run(&ctx, a).await?,
        Command::Watch(a) => watch::run(&ctx, a).await?,
        Command::WatchLatency(a) => watch_latency::run(&ctx, a).await?,
        Command::LeaseKeepalive(a) => lease_keepalive::run(&ctx, a).await?,
        Command::Kube(a) => kube::run(&ctx, a).await?,
        Command::MvccPut(a) => mvcc_put::run(a).await?,
        Command::DiskSync(a) => disk_sync::run(a).await?,
        Command::Plot(a) => return crate::plot::run(a),
    };
    let broken: Vec<String> = INTEGRITY_FIELDS
        .iter()
        .filter_map(|f| {
            let n = report.fields.get(*f)?.as_u64()?;
            (n > 0).then(|| format!("{f}={n}"))
        })
        .collect();
    report.print(cli.cmd.name(), &cli.label);
    if !broken.is_empty() {
        anyhow::bail!(
            "{}: events not delivered exactly once in order: {}",
            cli.cmd.name(),
            broken.join(" ")
        );
    }
    Ok(())
}

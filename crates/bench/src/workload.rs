//! Workloads: put and range, driven by `--clients` tasks over `--conns` channels.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use oxcd_proto::etcdserverpb::{kv_client::KvClient, PutRequest, RangeRequest};
use tonic::transport::{Channel, Endpoint};

use crate::report::{process_cpu_seconds, Report};
use crate::{Cli, Command};

/// `put` flags.
#[derive(Args, Debug, Clone)]
pub struct PutArgs {
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 8)]
    val_size: usize,
    /// Total number of puts.
    #[arg(long, default_value_t = 10000)]
    total: usize,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 1)]
    key_space_size: usize,
    /// Use keys 0,1,2... instead of random ones.
    #[arg(long)]
    sequential_keys: bool,
}

/// `range` flags.
#[derive(Args, Debug, Clone)]
pub struct RangeArgs {
    /// The key (or prefix start) to read.
    key: String,
    /// Optional range end.
    end: Option<String>,
    /// Total number of ranges.
    #[arg(long, default_value_t = 10000)]
    total: usize,
    /// l (linearizable) or s (serializable).
    #[arg(long, default_value = "l")]
    consistency: String,
    /// Maximum keys per range.
    #[arg(long, default_value_t = 0)]
    limit: i64,
}

async fn channels(cli: &Cli) -> anyhow::Result<Vec<Channel>> {
    let eps: Vec<String> = cli
        .endpoints
        .split(',')
        .map(|e| format!("http://{}", e.trim()))
        .collect();
    let mut out = Vec::new();
    for i in 0..cli.conns.max(1) {
        let ep = Endpoint::from_shared(eps[i % eps.len()].clone())?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5));
        out.push(ep.connect().await?);
    }
    Ok(out)
}

fn key_bytes(i: usize, size: usize) -> Vec<u8> {
    let mut k = vec![0u8; size.max(8)];
    let n = (i as u64).to_be_bytes();
    let len = k.len();
    k[len - 8..].copy_from_slice(&n);
    k.truncate(size.max(1));
    k
}

/// Runs the chosen workload and prints its report.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let chans = channels(&cli).await?;
    let clients = cli.clients.max(1);
    let (total, name) = match &cli.cmd {
        Command::Put(a) => (a.total, "put"),
        Command::Range(a) => (a.total, "range"),
    };
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = servers_cpu_seconds(&cli.server_pid);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut kv =
            KvClient::new(chans[c % chans.len()].clone()).max_decoding_message_size(usize::MAX);
        let next = next.clone();
        let cmd = match &cli.cmd {
            Command::Put(a) => Command::Put(a.clone()),
            Command::Range(a) => Command::Range(a.clone()),
        };
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let value = match &cmd {
                Command::Put(a) => vec![b'x'; a.val_size],
                Command::Range(_) => Vec::new(),
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let t0 = Instant::now();
                let ok = match &cmd {
                    Command::Put(a) => {
                        let k = if a.sequential_keys {
                            i % a.key_space_size.max(1)
                        } else {
                            rand::random::<usize>() % a.key_space_size.max(1)
                        };
                        let req = PutRequest {
                            key: key_bytes(k, a.key_size),
                            value: value.clone(),
                            ..Default::default()
                        };
                        kv.put(req).await.is_ok()
                    }
                    Command::Range(a) => {
                        let req = RangeRequest {
                            key: a.key.clone().into_bytes(),
                            range_end: a.end.clone().unwrap_or_default().into_bytes(),
                            limit: a.limit,
                            serializable: a.consistency == "s",
                            ..Default::default()
                        };
                        kv.range(req).await.is_ok()
                    }
                };
                if ok {
                    lat.push(t0.elapsed());
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    let server_cpu = match (cpu_before, servers_cpu_seconds(&cli.server_pid)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Report {
        latencies,
        errors,
        elapsed,
        server_cpu,
    }
    .print(name, &cli.label);
    Ok(())
}

/// The summed CPU seconds of `pids`; `None` if there are none or one cannot be read.
fn servers_cpu_seconds(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| process_cpu_seconds(p)).sum()
}

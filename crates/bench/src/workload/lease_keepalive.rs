//! `lease-keepalive`: grants `--leases` leases, then sends `--total` keepalives over one
//! LeaseKeepAlive stream per client, each waiting for its answer (the round trip is the
//! latency). Operation `i` renews lease `i % leases`. The leases are revoked at the end.

use std::time::Duration;

use crate::conn::Conn;
use clap::Args;
use oxcd_proto::etcdserverpb::{
    lease_client::LeaseClient, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseRevokeRequest,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

use super::Ctx;
use crate::cpu::CpuMeter;
use crate::driver::{drive, Op};
use crate::report::Report;

/// How long one keepalive may take before it counts as failed.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// `lease-keepalive` flags.
#[derive(Args, Debug, Clone)]
pub struct LeaseKeepaliveArgs {
    /// Total number of keepalives.
    #[arg(long, default_value_t = 10000)]
    total: usize,
    /// Leases to grant and renew (0 = one per client).
    #[arg(long, default_value_t = 0)]
    leases: usize,
    /// TTL of the granted leases, in seconds.
    #[arg(long, default_value_t = 60)]
    ttl: i64,
    /// Maximum keepalives per second (0 = no limit).
    #[arg(long, default_value_t = 0)]
    rate: u64,
}

/// One client: one open keepalive stream.
struct KeepAliver {
    tx: mpsc::Sender<LeaseKeepAliveRequest>,
    rx: Streaming<LeaseKeepAliveResponse>,
    leases: std::sync::Arc<Vec<i64>>,
}

impl KeepAliver {
    /// Opens the stream with a first (unmeasured) keepalive of `lease`. The request is
    /// queued before the call, since a server may hold its response headers until it has
    /// something to send.
    async fn open(ch: Conn, lease: i64, leases: std::sync::Arc<Vec<i64>>) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::channel(1);
        tx.send(LeaseKeepAliveRequest { id: lease }).await?;
        let rx = LeaseClient::new(ch)
            .lease_keep_alive(ReceiverStream::new(rx))
            .await?
            .into_inner();
        let mut k = KeepAliver { tx, rx, leases };
        k.receive(lease).await?;
        Ok(k)
    }

    async fn receive(&mut self, lease: i64) -> anyhow::Result<()> {
        let resp = tokio::time::timeout(ROUND_TRIP_TIMEOUT, self.rx.message())
            .await
            .map_err(|_| anyhow::anyhow!("keepalive timed out"))??
            .ok_or_else(|| anyhow::anyhow!("keepalive stream closed"))?;
        anyhow::ensure!(
            resp.id == lease,
            "keepalive answered lease {} for {lease}",
            resp.id
        );
        anyhow::ensure!(resp.ttl > 0, "lease {lease} not found (TTL {})", resp.ttl);
        Ok(())
    }
}

impl Op for KeepAliver {
    async fn call(&mut self, i: usize) -> anyhow::Result<usize> {
        let lease = self.leases[i % self.leases.len()];
        self.tx.send(LeaseKeepAliveRequest { id: lease }).await?;
        self.receive(lease).await?;
        Ok(0)
    }
}

/// Runs `lease-keepalive`.
pub async fn run(ctx: &Ctx, args: &LeaseKeepaliveArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.ttl > 0, "expected positive --ttl");
    let chans = ctx.connect(ctx.conns).await?;
    let n = if args.leases == 0 {
        ctx.clients
    } else {
        args.leases
    };
    let mut lc = LeaseClient::new(chans[0].clone());
    let mut leases = Vec::with_capacity(n);
    for _ in 0..n {
        let resp = lc
            .lease_grant(LeaseGrantRequest {
                ttl: args.ttl,
                id: 0,
            })
            .await?
            .into_inner();
        anyhow::ensure!(resp.error.is_empty(), "lease grant: {}", resp.error);
        leases.push(resp.id);
    }
    let leases = std::sync::Arc::new(leases);
    let mut clients = Vec::with_capacity(ctx.clients);
    for c in 0..ctx.clients {
        let lease = leases[c % leases.len()];
        clients
            .push(KeepAliver::open(chans[c % chans.len()].clone(), lease, leases.clone()).await?);
    }
    let meter = CpuMeter::start(&ctx.server_pid);
    let samples = drive(clients, args.total, args.rate).await?;
    let cpu = meter.stop();
    for &id in leases.iter() {
        if let Err(e) = lc.lease_revoke(LeaseRevokeRequest { id }).await {
            eprintln!("revoking lease {id:x}: {e}");
        }
    }
    Ok(samples
        .report(cpu)
        .field("leases", n)
        .field("ttl", args.ttl))
}

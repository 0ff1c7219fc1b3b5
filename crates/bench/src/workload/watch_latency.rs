//! `watch-latency` (etcd's `benchmark watch-latency`): `--clients` watchers, one stream
//! each (over `--conns` connections), on one key; a separate connection puts that key
//! `--total` times at `--put-rate`, and waits after each put until every watcher has its
//! event. The latency of an event runs from the put's acknowledgement to its receipt
//! (zero if it came first). Lost, duplicated and out-of-order events are counted as in
//! `watch`.

use std::time::{Duration, Instant};

use crate::conn::Conn;
use clap::Args;
use oxcd_proto::etcdserverpb::{
    kv_client::KvClient, watch_client::WatchClient, watch_request::RequestUnion, PutRequest,
    WatchCreateRequest, WatchRequest,
};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;

use super::watch_tally::{Seen, Tally};
use super::Ctx;
use crate::cpu::CpuMeter;
use crate::keys::{prefixed_key, random_prefix, tagged_value, value_tag};
use crate::pace::Pacer;
use crate::report::{ms, percentile, Report};

/// `watch-latency` flags.
#[derive(Args, Debug, Clone)]
pub struct WatchLatencyArgs {
    /// Total number of puts.
    #[arg(long, default_value_t = 10000)]
    total: usize,
    /// Puts per second.
    #[arg(long, default_value_t = 100)]
    put_rate: u64,
    /// Key size in bytes (after a random prefix).
    #[arg(long, default_value_t = 32)]
    key_size: usize,
    /// Value size in bytes (at least 8: the value carries the put number).
    #[arg(long, default_value_t = 32)]
    val_size: usize,
    /// Seconds to wait for one put's events before moving on (the rest count as lost).
    #[arg(long, default_value_t = 10)]
    event_timeout: u64,
}

/// One received event: watcher, put number, mod_revision, receive time.
type Received = (usize, usize, i64, Instant);

/// Opens watcher `w`'s stream on `key` and forwards its events to `out` until `stop`.
async fn watcher(
    ch: Conn,
    key: Vec<u8>,
    w: usize,
    out: mpsc::UnboundedSender<anyhow::Result<Received>>,
    created: tokio::sync::oneshot::Sender<anyhow::Result<()>>,
    mut stop: watch::Receiver<bool>,
) {
    let (tx, rx) = mpsc::channel(1);
    let create = WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key,
            ..Default::default()
        })),
    };
    let _ = tx.send(create).await;
    let mut stream = match WatchClient::new(ch).watch(ReceiverStream::new(rx)).await {
        Ok(s) => s.into_inner(),
        Err(e) => {
            let _ = created.send(Err(anyhow::anyhow!("open watch stream: {e}")));
            return;
        }
    };
    let mut created = Some(created);
    loop {
        let msg = tokio::select! {
            _ = stop.changed() => return,
            msg = stream.message() => msg,
        };
        let resp = match msg {
            Ok(Some(r)) => r,
            Ok(None) => {
                let _ = out.send(Err(anyhow::anyhow!("watcher {w}: stream closed")));
                return;
            }
            Err(e) => {
                let _ = out.send(Err(anyhow::anyhow!("watcher {w}: {e}")));
                return;
            }
        };
        let now = Instant::now();
        if resp.canceled {
            let e = anyhow::anyhow!("watcher {w} canceled: {}", resp.cancel_reason);
            match created.take() {
                Some(c) => drop(c.send(Err(e))),
                None => drop(out.send(Err(e))),
            }
            return;
        }
        if resp.created {
            created.take().map(|c| c.send(Ok(())));
        }
        for ev in resp.events {
            let kv = ev.kv.unwrap_or_default();
            let item = value_tag(&kv.value)
                .map(|put| (w, put, kv.mod_revision, now))
                .ok_or_else(|| anyhow::anyhow!("watcher {w}: event without a put number"));
            let _ = out.send(item);
        }
    }
}

/// What the collector keeps across puts.
struct Collector {
    tallies: Vec<Tally>,
    acks: Vec<Option<Instant>>,
    latencies: Vec<Duration>,
    events: usize,
    errors: usize,
}

impl Collector {
    /// Records one received item; returns the put number when it is that put's first
    /// event for its watcher.
    fn take(&mut self, item: anyhow::Result<Received>) -> Option<usize> {
        let (w, put, rev, at) = match item {
            Ok(r) => r,
            Err(e) => {
                self.errors += 1;
                eprintln!("{e:#}");
                return None;
            }
        };
        self.events += 1;
        if let Some(Some(ack)) = self.acks.get(put) {
            self.latencies.push(at.saturating_duration_since(*ack));
        }
        match self.tallies[w].record(put, rev) {
            Seen::First => Some(put),
            Seen::Duplicate => None,
            Seen::Unknown => {
                self.errors += 1;
                None
            }
        }
    }
}

/// Runs `watch-latency`.
pub async fn run(ctx: &Ctx, args: &WatchLatencyArgs) -> anyhow::Result<Report> {
    let watchers = ctx.clients;
    let key = prefixed_key(&random_prefix("watch-latency"), 0, args.key_size);
    let chans = ctx.connect(ctx.conns).await?;
    let mut kv = KvClient::new(ctx.connect(1).await?.remove(0));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let mut created = Vec::with_capacity(watchers);
    for w in 0..watchers {
        let (tx, rx) = tokio::sync::oneshot::channel();
        created.push(rx);
        let ch = chans[w % chans.len()].clone();
        tokio::spawn(watcher(
            ch,
            key.clone(),
            w,
            ev_tx.clone(),
            tx,
            stop_rx.clone(),
        ));
    }
    drop(ev_tx);
    for rx in created {
        tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .map_err(|_| anyhow::anyhow!("watchers not created within 60s"))?
            .map_err(|_| anyhow::anyhow!("watcher task ended"))??;
    }

    let mut c = Collector {
        tallies: vec![Tally::new(args.total); watchers],
        acks: vec![None; args.total],
        latencies: Vec::with_capacity(args.total * watchers),
        events: 0,
        errors: 0,
    };
    let mut put_lat = Vec::with_capacity(args.total);
    let event_timeout = Duration::from_secs(args.event_timeout);
    let meter = CpuMeter::start(&ctx.server_pid);
    let start = Instant::now();
    let pacer = Pacer::new(args.put_rate);
    for i in 0..args.total {
        if let Some(p) = &pacer {
            p.wait(i).await;
        }
        let t0 = Instant::now();
        let req = PutRequest {
            key: key.clone(),
            value: tagged_value(i, args.val_size),
            ..Default::default()
        };
        if let Err(e) = kv.put(req).await {
            c.errors += 1;
            eprintln!("put {i}: {e}");
            continue;
        }
        let ack = Instant::now();
        put_lat.push(ack - t0);
        c.acks[i] = Some(ack);
        let mut got = 0;
        while got < watchers {
            match tokio::time::timeout_at((ack + event_timeout).into(), ev_rx.recv()).await {
                Ok(Some(item)) => {
                    if c.take(item) == Some(i) {
                        got += 1;
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu = meter.stop();
    // Late events already received still count (as delivered, with their latency).
    while let Ok(item) = ev_rx.try_recv() {
        c.take(item);
    }
    let _ = stop_tx.send(true);

    let acked: Vec<usize> = (0..args.total).filter(|&i| c.acks[i].is_some()).collect();
    let (mut lost, mut dup, mut ooo) = (0, 0, 0);
    for t in &c.tallies {
        lost += acked.iter().filter(|&&i| !t.has(i)).count();
        dup += t.duplicated;
        ooo += t.out_of_order;
    }
    put_lat.sort_unstable();
    let mut r = Report::new(c.latencies, c.errors, elapsed);
    r.ops = Some(c.events);
    r.server_cpu = cpu;
    Ok(r.field("watchers", watchers)
        .field("puts", acked.len())
        .field("put_p99_ms", ms(percentile(&put_lat, 99.0)))
        .field("events", c.events)
        .field(
            "events_per_sec",
            c.events as f64 / elapsed.as_secs_f64().max(1e-9),
        )
        .field("lost", lost)
        .field("duplicated", dup)
        .field("out_of_order", ooo))
}

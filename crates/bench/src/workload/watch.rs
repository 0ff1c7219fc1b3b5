//! `watch`: `--watchers` watchers spread over `--streams` streams (on `--conns`
//! connections), all on one random prefix, or with `--watched-key-total K` on K keys
//! (watcher `w` on key `w % K`). Once every watcher is created, `--clients` put clients on
//! their own connections put `--put-total` keys at `--put-rate` (0 = as fast as possible);
//! put `i` goes to a fresh key under the prefix (or to key `i % K`), and its value carries
//! `i`, so each event names its put.
//!
//! Every watcher must receive the event of every put it watches exactly once, in revision
//! order: the report counts LOST, DUPLICATED and OUT-OF-ORDER events. `events_per_sec` is
//! all events received over the time from the first put to the last event; the latency of
//! an event runs from its put's acknowledgement to its receipt.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::conn::Conn;
use clap::Args;
use oxcd_proto::etcdserverpb::{kv_client::KvClient, PutRequest};
use tokio::sync::{oneshot, watch};

use super::watch_stream::{self, Outcome, Shared, Target};
use super::Ctx;
use crate::cpu::CpuMeter;
use crate::driver::{drive, Op, Samples};
use crate::keys::{prefix_end, prefixed_key, random_prefix, tagged_value};
use crate::report::{ms, percentile, Report};

/// `watch` flags.
#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    /// Total number of watchers.
    #[arg(long, default_value_t = 1000)]
    watchers: usize,
    /// Number of watch streams the watchers are spread over (round-robin).
    #[arg(long, default_value_t = 10)]
    streams: usize,
    /// Watch this many keys instead of one prefix (0 = the prefix).
    #[arg(long, default_value_t = 0)]
    watched_key_total: usize,
    /// Number of puts.
    #[arg(long, default_value_t = 1000)]
    put_total: usize,
    /// Puts per second (0 = as fast as possible).
    #[arg(long, default_value_t = 0)]
    put_rate: u64,
    /// Key size in bytes (after the prefix).
    #[arg(long, default_value_t = 8)]
    key_size: usize,
    /// Value size in bytes (at least 8: the value carries the put number).
    #[arg(long, default_value_t = 16)]
    val_size: usize,
    /// Creates in flight per stream.
    #[arg(long, default_value_t = 100)]
    create_batch: usize,
    /// Seconds to wait for every watcher to be created.
    #[arg(long, default_value_t = 120)]
    create_timeout: u64,
    /// Seconds without a new event after which the run stops waiting (the missing
    /// events count as lost).
    #[arg(long, default_value_t = 15)]
    idle_timeout: u64,
}

impl WatchArgs {
    /// The key put `i` writes.
    fn put_key(&self, prefix: &[u8], i: usize) -> Vec<u8> {
        match self.watched_key_total {
            0 => prefixed_key(prefix, i, self.key_size),
            k => prefixed_key(prefix, i % k, self.key_size),
        }
    }

    /// What watcher `w` watches.
    fn target(&self, prefix: &[u8], w: usize) -> Target {
        match self.watched_key_total {
            0 => Target {
                key: prefix.to_vec(),
                range_end: prefix_end(prefix),
            },
            k => Target {
                key: prefixed_key(prefix, w % k, self.key_size),
                range_end: Vec::new(),
            },
        }
    }

    /// Whether watcher `w` sees put `i`.
    fn sees(&self, w: usize, i: usize) -> bool {
        match self.watched_key_total {
            0 => true,
            k => w % k == i % k,
        }
    }
}

struct WatchPutter {
    kv: KvClient<Conn>,
    args: Arc<WatchArgs>,
    prefix: Arc<Vec<u8>>,
    shared: Arc<Shared>,
}

impl Op for WatchPutter {
    async fn call(&mut self, i: usize) -> anyhow::Result<usize> {
        let req = PutRequest {
            key: self.args.put_key(&self.prefix, i),
            value: tagged_value(i, self.args.val_size),
            ..Default::default()
        };
        self.kv.put(req).await?;
        self.shared.ack(i);
        Ok(0)
    }
}

/// Runs `watch`.
pub async fn run(ctx: &Ctx, args: &WatchArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.streams > 0, "expected positive --streams");
    let args = Arc::new(args.clone());
    let prefix = Arc::new(random_prefix("watch"));
    let shared = Arc::new(Shared::new(args.put_total));
    let watch_chans = ctx.connect(ctx.conns).await?;
    let put_chans = ctx.connect(ctx.conns).await?;

    // Watchers: w goes to stream w % streams.
    let streams = args.streams.min(args.watchers.max(1));
    let mut plans: Vec<Vec<usize>> = vec![Vec::new(); streams];
    for w in 0..args.watchers {
        plans[w % streams].push(w);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let create_start = Instant::now();
    let mut tasks = Vec::with_capacity(streams);
    let mut created = Vec::with_capacity(streams);
    for (s, plan) in plans.iter().enumerate() {
        let targets = plan.iter().map(|&w| args.target(&prefix, w)).collect();
        let (tx, rx) = oneshot::channel();
        created.push(rx);
        tasks.push(tokio::spawn(watch_stream::run(
            watch_chans[s % watch_chans.len()].clone(),
            targets,
            args.create_batch,
            Arc::clone(&shared),
            tx,
            stop_rx.clone(),
        )));
    }
    let deadline = Duration::from_secs(args.create_timeout);
    for rx in created {
        tokio::time::timeout(deadline.saturating_sub(create_start.elapsed()), rx)
            .await
            .map_err(|_| anyhow::anyhow!("watchers not created within {deadline:?}"))?
            .map_err(|_| anyhow::anyhow!("watch stream task ended"))??;
    }
    let create_secs = create_start.elapsed().as_secs_f64();
    eprintln!(
        "{} watchers on {streams} streams created in {create_secs:.2}s",
        args.watchers
    );

    // Puts.
    let meter = CpuMeter::start(&ctx.server_pid);
    let first_put = shared.now();
    let putters = (0..ctx.clients)
        .map(|c| WatchPutter {
            kv: KvClient::new(put_chans[c % put_chans.len()].clone()),
            args: Arc::clone(&args),
            prefix: Arc::clone(&prefix),
            shared: Arc::clone(&shared),
        })
        .collect();
    let puts = drive(putters, args.put_total, args.put_rate).await?;
    let acked: Vec<usize> = (0..args.put_total)
        .filter(|&i| shared.acked_at(i).is_some())
        .collect();
    let expected: usize = (0..args.watchers)
        .map(|w| acked.iter().filter(|&&i| args.sees(w, i)).count())
        .sum();

    // Delivery: wait for every expected event, or for the events to stop coming.
    let idle = Duration::from_secs(args.idle_timeout);
    let (mut last_count, mut last_change) = (usize::MAX, Instant::now());
    loop {
        let n = shared.received.load(Ordering::Relaxed);
        if n >= expected {
            break;
        }
        if n != last_count {
            (last_count, last_change) = (n, Instant::now());
        } else if last_change.elapsed() >= idle {
            eprintln!("no new event for {idle:?}: {n} of {expected} received");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu = meter.stop();
    let _ = stop_tx.send(true);
    let mut outcomes = Vec::with_capacity(tasks.len());
    for t in tasks {
        outcomes.push(t.await?);
    }
    let phases = Phases {
        create_secs,
        first_put,
        puts,
        acked,
        expected,
        cpu,
    };
    Ok(summarize(&args, phases, outcomes))
}

/// What the create and put phases left for the summary.
struct Phases {
    create_secs: f64,
    /// When the first put started (nanoseconds since the epoch).
    first_put: u64,
    puts: Samples,
    /// The acknowledged puts.
    acked: Vec<usize>,
    /// Events the watchers should receive in all.
    expected: usize,
    cpu: Option<f64>,
}

/// Turns the streams' outcomes into the report.
fn summarize(args: &WatchArgs, p: Phases, outcomes: Vec<Outcome>) -> Report {
    let Phases {
        create_secs,
        first_put,
        puts,
        acked,
        expected,
        cpu,
    } = p;
    let streams = outcomes.len();
    let (mut lost, mut unexpected, mut dup, mut ooo, mut events, mut errors) = (0, 0, 0, 0, 0, 0);
    let mut latencies = Vec::new();
    let mut last_event = first_put;
    let mut first_error = None;
    for (s, o) in outcomes.into_iter().enumerate() {
        for (j, t) in o.tallies.iter().enumerate() {
            let w = s + j * streams;
            let want: Vec<usize> = acked.iter().copied().filter(|&i| args.sees(w, i)).collect();
            let got = want.iter().filter(|&&i| t.has(i)).count();
            lost += want.len() - got;
            unexpected += t.distinct - got;
            dup += t.duplicated;
            ooo += t.out_of_order;
        }
        events += o.events;
        errors += o.errors;
        if first_error.is_none() {
            first_error = o.first_error;
        }
        last_event = last_event.max(o.last_event.unwrap_or(0));
        latencies.extend(o.latencies);
    }
    if let Some(e) = first_error {
        eprintln!("watch errors: {errors}; first: {e}");
    }
    let elapsed = Duration::from_nanos(last_event.saturating_sub(first_put));
    let events_per_sec = events as f64 / elapsed.as_secs_f64().max(1e-9);
    let mut put_lat = puts.all();
    put_lat.sort_unstable();
    let put_secs = puts.elapsed.as_secs_f64().max(1e-9);
    let mut r = Report::new(latencies, errors + puts.errors + unexpected, elapsed);
    r.ops = Some(events);
    r.server_cpu = cpu;
    r.field("watchers", args.watchers)
        .field("streams", streams)
        .field("create_secs", create_secs)
        .field("puts", acked.len())
        .field("put_errors", puts.errors)
        .field("put_rate", acked.len() as f64 / put_secs)
        .field("put_p99_ms", ms(percentile(&put_lat, 99.0)))
        .field("expected", expected)
        .field("events", events)
        .field("events_per_sec", events_per_sec)
        .field("unexpected", unexpected)
        .field("lost", lost)
        .field("duplicated", dup)
        .field("out_of_order", ooo)
}

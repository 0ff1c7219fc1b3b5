//! `kube`: a kube-apiserver-like mix of calls, run for `--duration` seconds, with throughput
//! and latency reported per call type. The calls are the API server's (see
//! `integration-tests/tests/kube_patterns.rs`):
//!
//! - setup: `--objects` pods and as many configmaps, and one node lease per node, created with
//!   `Txn(mod_revision(key) == 0 → Put)`;
//! - `heartbeat`: every node renews its lease object every `--heartbeat-ms` (a GuaranteedUpdate
//!   of `/registry/leases/kube-node-lease/<node>`);
//! - `create-event`: `--event-rate` events per second, each created with a lease from the lease
//!   manager (TTL 1 h + 60 s, reused while it lasts long enough: `lease-grant` when not);
//! - `update`: `--controllers` controllers doing `--update-rate` GuaranteedUpdates per second of
//!   random pods and configmaps, from the mod revisions their informers (the watchers below)
//!   last saw: a stale one loses the txn, whose failure branch returns the current object,
//!   and the controller retries from it (`conflicts` counts those);
//! - `list`, `count`: every `--list-interval-ms`, a paginated LIST (`--page` per page, every
//!   page after the first at the first page's revision) and a count-only range of each
//!   resource;
//! - `full-list`: every `--full-list-interval-ms` (0: never), one unpaginated LIST of every
//!   pod, as a client listing without a limit makes the API server send it; heartbeats that
//!   start while one is in flight are also reported as `heartbeat-in-full-list`;
//! - one watcher per resource prefix (pods, configmaps, events, leases) with prev_kv,
//!   progress_notify and `hasleader`, from the revision after the setup. At the end every
//!   watcher catches up by RequestProgress to the final revision and must have received
//!   exactly one event per successful write under its prefix, in revision order (`lost`,
//!   `duplicated`, `out_of_order`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use oxcd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_proto::etcdserverpb::kv_client::KvClient;
use oxcd_proto::etcdserverpb::lease_client::LeaseClient;
use oxcd_proto::etcdserverpb::request_op::Request as OpRequest;
use oxcd_proto::etcdserverpb::response_op::Response as OpResponse;
use oxcd_proto::etcdserverpb::watch_client::WatchClient;
use oxcd_proto::etcdserverpb::watch_request::RequestUnion;
use oxcd_proto::etcdserverpb::{
    Compare, LeaseGrantRequest, PutRequest, RangeRequest, RequestOp, TxnRequest,
    WatchCreateRequest, WatchProgressRequest, WatchRequest,
};
use rand::Rng as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::Ctx;
use crate::conn::Conn;
use crate::cpu::CpuMeter;
use crate::keys::prefix_end;
use crate::report::{ms, percentile, Report};

/// `kube` flags.
#[derive(Args, Debug, Clone)]
pub struct KubeArgs {
    /// Pods created at setup (and as many configmaps).
    #[arg(long, default_value_t = 1000)]
    objects: usize,
    /// Nodes, each with a node lease object it renews.
    #[arg(long, default_value_t = 100)]
    nodes: usize,
    /// How often each node renews its lease object, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    heartbeat_ms: u64,
    /// Events created per second.
    #[arg(long, default_value_t = 100)]
    event_rate: u64,
    /// Controllers doing GuaranteedUpdates.
    #[arg(long, default_value_t = 8)]
    controllers: usize,
    /// GuaranteedUpdates per second over all controllers.
    #[arg(long, default_value_t = 200)]
    update_rate: u64,
    /// Interval between two rounds of LIST and count of every resource, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    list_interval_ms: u64,
    /// Objects per LIST page.
    #[arg(long, default_value_t = 500)]
    page: i64,
    /// Interval between two unpaginated LISTs of every pod, in milliseconds (0: none).
    #[arg(long, default_value_t = 0)]
    full_list_interval_ms: u64,
    /// Object size in bytes.
    #[arg(long, default_value_t = 1024)]
    val_size: usize,
    /// Seconds to run the mix.
    #[arg(long, default_value_t = 20)]
    duration: u64,
}

/// The resources: their prefixes, in the order of [`Stats::writes`].
const PODS: usize = 0;
const CONFIGMAPS: usize = 1;
const EVENTS: usize = 2;
const LEASES: usize = 3;
const RESOURCES: [&str; 4] = [
    "/registry/pods/",
    "/registry/configmaps/",
    "/registry/events/",
    "/registry/leases/",
];

/// The call types reported, in report order.
const CALLS: [&str; 8] = [
    "heartbeat",
    "heartbeat-in-full-list",
    "create-event",
    "lease-grant",
    "update",
    "list",
    "count",
    "full-list",
];

/// What the actors measured.
#[derive(Default)]
struct Stats {
    latencies: Mutex<HashMap<&'static str, Vec<Duration>>>,
    errors: AtomicUsize,
    first_error: Mutex<Option<String>>,
    conflicts: AtomicUsize,
    /// Successful writes per resource.
    writes: [AtomicUsize; 4],
    /// Unpaginated LISTs in flight.
    full_lists: AtomicUsize,
}

impl Stats {
    /// Records one latency under `call`.
    fn record(&self, call: &'static str, d: Duration) {
        self.latencies
            .lock()
            .expect("stats lock")
            .entry(call)
            .or_default()
            .push(d);
    }

    /// Runs `fut`, recording its latency under `call`, or the error.
    async fn timed<T>(
        &self,
        call: &'static str,
        fut: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> Option<T> {
        let t0 = Instant::now();
        match fut.await {
            Ok(v) => {
                self.record(call, t0.elapsed());
                Some(v)
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                self.first_error
                    .lock()
                    .expect("stats lock")
                    .get_or_insert_with(|| format!("{call}: {e:#}"));
                None
            }
        }
    }
}

/// The outcome of one OptimisticPut.
enum Put {
    /// Written at this revision.
    Won(i64),
    /// Lost: the object's current mod revision (0 if it is gone).
    Lost(i64),
}

/// `Txn(mod_revision(key) == expected → Put(key, value, lease), else Range(key))`.
async fn optimistic_put(
    kv: &mut KvClient<Conn>,
    key: &[u8],
    value: &[u8],
    expected: i64,
    lease: i64,
) -> anyhow::Result<Put> {
    let req = TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal as i32,
            target: CompareTarget::Mod as i32,
            key: key.to_vec(),
            target_union: Some(TargetUnion::ModRevision(expected)),
            ..Default::default()
        }],
        success: vec![RequestOp {
            request: Some(OpRequest::RequestPut(PutRequest {
                key: key.to_vec(),
                value: value.to_vec(),
                lease,
                ..Default::default()
            })),
        }],
        failure: vec![RequestOp {
            request: Some(OpRequest::RequestRange(RangeRequest {
                key: key.to_vec(),
                ..Default::default()
            })),
        }],
    };
    let r = kv.txn(req).await?.into_inner();
    let rev = r.header.map_or(0, |h| h.revision);
    if r.succeeded {
        return Ok(Put::Won(rev));
    }
    let current = match r.responses.first().and_then(|o| o.response.as_ref()) {
        Some(OpResponse::ResponseRange(g)) => g.kvs.first().map_or(0, |kv| kv.mod_revision),
        _ => anyhow::bail!("txn failure branch without a range response"),
    };
    Ok(Put::Lost(current))
}

/// A GuaranteedUpdate of `key` from `cached` (its last known mod revision): txn, and on a
/// conflict again from the object the failure branch returned. Returns the new revision.
async fn guaranteed_update(
    stats: &Stats,
    kv: &mut KvClient<Conn>,
    call: &'static str,
    key: &[u8],
    value: &[u8],
    mut cached: i64,
) -> Option<i64> {
    for _ in 0..100 {
        match stats
            .timed(call, optimistic_put(kv, key, value, cached, 0))
            .await?
        {
            Put::Won(rev) => return Some(rev),
            Put::Lost(current) => {
                stats.conflicts.fetch_add(1, Ordering::Relaxed);
                cached = current;
            }
        }
    }
    None
}

/// The API server's lease manager: one lease reused while it outlives the TTL asked for by
/// at most the reuse window (min(60 s, 5% of the TTL)).
#[derive(Default)]
struct LeaseManager {
    prev: Option<(i64, Instant)>,
}

impl LeaseManager {
    /// The lease to attach to an object of `ttl` seconds, granted when needed.
    async fn lease(
        &mut self,
        stats: &Stats,
        lease: &mut LeaseClient<Conn>,
        ttl: i64,
    ) -> Option<i64> {
        let now = Instant::now();
        let window = (ttl / 20).min(60);
        let secs = |s: i64| Duration::from_secs(s.unsigned_abs());
        if let Some((id, expiry)) = self.prev {
            if now + secs(ttl) < expiry && now + secs(ttl + window) > expiry {
                return Some(id);
            }
        }
        let grant = async {
            let r = lease
                .lease_grant(LeaseGrantRequest {
                    ttl: ttl + window,
                    id: 0,
                })
                .await?
                .into_inner();
            anyhow::Ok(r.id)
        };
        let id = stats.timed("lease-grant", grant).await?;
        self.prev = Some((id, now + secs(ttl + window)));
        Some(id)
    }
}

/// A paginated LIST of `prefix` at one revision; returns the number of objects.
async fn list(kv: &mut KvClient<Conn>, prefix: &str, page: i64) -> anyhow::Result<usize> {
    let end = prefix_end(prefix.as_bytes());
    let mut start = prefix.as_bytes().to_vec();
    let mut rev = 0;
    let mut n = 0;
    loop {
        let r = kv
            .range(RangeRequest {
                key: start.clone(),
                range_end: end.clone(),
                limit: page,
                revision: rev,
                ..Default::default()
            })
            .await?
            .into_inner();
        if rev == 0 {
            rev = r.header.map_or(0, |h| h.revision);
        }
        n += r.kvs.len();
        let Some(last) = r.kvs.last().filter(|_| r.more) else {
            return Ok(n);
        };
        start = last.key.to_vec();
        start.push(0);
    }
}

/// The informers' view: each object's last seen mod revision.
type Informer = Arc<Mutex<HashMap<Vec<u8>, i64>>>;

/// What one watcher received.
#[derive(Debug, Default)]
struct Watched {
    events: usize,
    out_of_order: usize,
}

/// One watcher of `prefix` from `start`: counts events (feeding `informer` with mod
/// revisions) until `target` holds a revision and a progress notification at or after it
/// has arrived (asked for every 100 ms once the target is known).
async fn watcher(
    conn: Conn,
    prefix: &'static str,
    start: i64,
    informer: Informer,
    mut target: tokio::sync::watch::Receiver<i64>,
) -> anyhow::Result<Watched> {
    let (tx, rx) = mpsc::channel(4);
    tx.send(WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
            key: prefix.into(),
            range_end: prefix_end(prefix.as_bytes()),
            start_revision: start,
            progress_notify: true,
            prev_kv: true,
            ..Default::default()
        })),
    })
    .await?;
    let mut req = tonic::Request::new(ReceiverStream::new(rx));
    req.metadata_mut().insert(
        "hasleader",
        tonic::metadata::MetadataValue::from_static("true"),
    );
    let mut stream = WatchClient::new(conn)
        .watch(req)
        .await
        .context("open watch")?
        .into_inner();
    let mut out = Watched::default();
    let mut last_rev = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let msg = tokio::select! {
            _ = tick.tick() => {
                if *target.borrow_and_update() > 0 {
                    let progress = WatchRequest {
                        request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})),
                    };
                    tx.send(progress).await?;
                }
                continue;
            }
            msg = stream.message() => msg?.context("watch stream ended")?,
        };
        anyhow::ensure!(!msg.canceled, "{prefix}: watch canceled: {msg:?}");
        if msg.events.is_empty() {
            let want = *target.borrow();
            let at = msg.header.map_or(0, |h| h.revision);
            if !msg.created && want > 0 && at >= want {
                return Ok(out);
            }
            continue;
        }
        let mut seen = informer.lock().expect("informer lock");
        for e in &msg.events {
            let Some(kv) = &e.kv else { continue };
            if kv.mod_revision < last_rev {
                out.out_of_order += 1;
            }
            last_rev = kv.mod_revision;
            out.events += 1;
            seen.insert(kv.key.to_vec(), kv.mod_revision);
        }
    }
}

/// Runs `kube`.
pub async fn run(ctx: &Ctx, args: &KubeArgs) -> anyhow::Result<Report> {
    let conns = ctx.connect(ctx.conns).await?;
    let conn = |i: usize| conns[i % conns.len()].clone();
    let kv = |i: usize| KvClient::new(conn(i)).max_decoding_message_size(usize::MAX);
    let stats = Arc::new(Stats::default());
    let value = Arc::new(vec![b'x'; args.val_size]);

    // Setup: pods, configmaps and node leases, 16 creates in flight.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    for i in 0..args.objects {
        objects.push(format!("{}default/pod-{i:06}", RESOURCES[PODS]).into_bytes());
        objects.push(format!("{}default/cm-{i:06}", RESOURCES[CONFIGMAPS]).into_bytes());
    }
    let nodes: Vec<Vec<u8>> = (0..args.nodes)
        .map(|i| format!("{}kube-node-lease/node-{i:05}", RESOURCES[LEASES]).into_bytes())
        .collect();
    let all: Vec<Vec<u8>> = objects.iter().chain(&nodes).cloned().collect();
    let mut setup = Vec::new();
    for w in 0..16 {
        let mut kv = kv(w);
        let keys: Vec<Vec<u8>> = all.iter().skip(w).step_by(16).cloned().collect();
        let value = Arc::clone(&value);
        setup.push(tokio::spawn(async move {
            for key in keys {
                match optimistic_put(&mut kv, &key, &value, 0, 0).await? {
                    Put::Won(_) => {}
                    Put::Lost(_) => {
                        anyhow::bail!("setup: {} exists", String::from_utf8_lossy(&key))
                    }
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in setup {
        t.await??;
    }
    let mut probe = kv(0);
    let current = |r: tonic::Response<oxcd_proto::etcdserverpb::RangeResponse>| {
        r.into_inner().header.map_or(0, |h| h.revision)
    };
    let setup_rev = current(
        probe
            .range(RangeRequest {
                key: b"compact_rev_key".to_vec(),
                ..Default::default()
            })
            .await?,
    );
    // The informers start from the setup's state.
    let informer: Informer = Arc::new(Mutex::new(HashMap::new()));
    {
        let r = probe
            .range(RangeRequest {
                key: b"/registry/".to_vec(),
                range_end: prefix_end(b"/registry/"),
                keys_only: true,
                ..Default::default()
            })
            .await?
            .into_inner();
        let mut seen = informer.lock().expect("informer lock");
        for kv in r.kvs {
            seen.insert(kv.key.to_vec(), kv.mod_revision);
        }
    }

    // Watchers, one per resource.
    let (target_tx, target_rx) = tokio::sync::watch::channel(0i64);
    let watchers: Vec<_> = RESOURCES
        .iter()
        .enumerate()
        .map(|(i, prefix)| {
            tokio::spawn(watcher(
                conn(i),
                prefix,
                setup_rev + 1,
                Arc::clone(&informer),
                target_rx.clone(),
            ))
        })
        .collect();

    let meter = CpuMeter::start(&ctx.server_pid);
    let started = Instant::now();
    let deadline = tokio::time::Instant::from_std(started + Duration::from_secs(args.duration));
    let mut actors = Vec::new();

    // Node heartbeats, each node on its own schedule.
    for (n, node) in nodes.into_iter().enumerate() {
        let (stats, mut kv, value) = (Arc::clone(&stats), kv(n), Arc::clone(&value));
        let every = Duration::from_millis(args.heartbeat_ms.max(1));
        let offset = every.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
        let mut known = informer.lock().expect("informer lock")[&node];
        actors.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let mut tick = tokio::time::interval(every);
            while tick.tick().await < deadline {
                let t0 = Instant::now();
                let in_full_list = stats.full_lists.load(Ordering::Relaxed) > 0;
                if let Some(rev) =
                    guaranteed_update(&stats, &mut kv, "heartbeat", &node, &value, known).await
                {
                    if in_full_list {
                        stats.record("heartbeat-in-full-list", t0.elapsed());
                    }
                    known = rev;
                    stats.writes[LEASES].fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    // Events, from two creators sharing one lease manager.
    let manager = Arc::new(tokio::sync::Mutex::new(LeaseManager::default()));
    let next_event = Arc::new(AtomicUsize::new(0));
    for c in 0..2 {
        let (stats, mut kv, value) = (Arc::clone(&stats), kv(c), Arc::clone(&value));
        let mut lease = LeaseClient::new(conn(c));
        let (manager, next_event) = (Arc::clone(&manager), Arc::clone(&next_event));
        let every = Duration::from_secs_f64(2.0 / args.event_rate.max(1) as f64);
        actors.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            while tick.tick().await < deadline {
                let Some(id) = manager.lock().await.lease(&stats, &mut lease, 3600).await else {
                    continue;
                };
                let n = next_event.fetch_add(1, Ordering::Relaxed);
                let key = format!("{}default/event-{n:08}", RESOURCES[EVENTS]).into_bytes();
                let create = optimistic_put(&mut kv, &key, &value, 0, id);
                if let Some(Put::Won(_)) = stats.timed("create-event", create).await {
                    stats.writes[EVENTS].fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    // Controllers: GuaranteedUpdates of random pods and configmaps from the informer.
    let objects = Arc::new(objects);
    let controllers = args.controllers.max(1);
    for c in 0..controllers {
        let (stats, mut kv, value) = (Arc::clone(&stats), kv(c), Arc::clone(&value));
        let (objects, informer) = (Arc::clone(&objects), Arc::clone(&informer));
        let every = Duration::from_secs_f64(controllers as f64 / args.update_rate.max(1) as f64);
        actors.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            while tick.tick().await < deadline {
                let i = rand::thread_rng().gen_range(0..objects.len());
                let key = &objects[i];
                let cached = informer.lock().expect("informer lock")[key];
                if guaranteed_update(&stats, &mut kv, "update", key, &value, cached)
                    .await
                    .is_some()
                {
                    let resource = if i % 2 == 0 { PODS } else { CONFIGMAPS };
                    stats.writes[resource].fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }

    // LISTs and counts of every resource.
    {
        let (stats, mut kv) = (Arc::clone(&stats), kv(1));
        let every = Duration::from_millis(args.list_interval_ms.max(1));
        let page = args.page.max(1);
        actors.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            while tick.tick().await < deadline {
                for prefix in RESOURCES {
                    stats.timed("list", list(&mut kv, prefix, page)).await;
                    let count = async {
                        let req = RangeRequest {
                            key: prefix.into(),
                            range_end: prefix_end(prefix.as_bytes()),
                            count_only: true,
                            ..Default::default()
                        };
                        anyhow::Ok(kv.range(req).await?.into_inner().count)
                    };
                    stats.timed("count", count).await;
                }
            }
        }));
    }

    // Unpaginated LISTs of every pod.
    if args.full_list_interval_ms > 0 {
        let (stats, mut kv) = (Arc::clone(&stats), kv(2));
        let every = Duration::from_millis(args.full_list_interval_ms);
        actors.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            while tick.tick().await < deadline {
                stats.full_lists.fetch_add(1, Ordering::Relaxed);
                let prefix = RESOURCES[PODS];
                let req = RangeRequest {
                    key: prefix.into(),
                    range_end: prefix_end(prefix.as_bytes()),
                    ..Default::default()
                };
                let full = async { anyhow::Ok(kv.range(req).await?.into_inner().kvs.len()) };
                stats.timed("full-list", full).await;
                stats.full_lists.fetch_sub(1, Ordering::Relaxed);
            }
        }));
    }

    for a in actors {
        a.await?;
    }
    let server_cpu = meter.stop();
    // Rates are over the mix's duration: the actors with long intervals wake once more
    // after it only to stop.
    let elapsed = Duration::from_secs(args.duration.max(1));

    // The watchers catch up to the final revision.
    let final_rev = current(
        probe
            .range(RangeRequest {
                key: b"compact_rev_key".to_vec(),
                ..Default::default()
            })
            .await?,
    );
    target_tx.send(final_rev)?;
    let mut watched = Vec::new();
    for w in watchers {
        let got = tokio::time::timeout(Duration::from_secs(30), w)
            .await
            .context("a watcher did not catch up within 30 s")???;
        watched.push(got);
    }

    let stats =
        Arc::try_unwrap(stats).map_err(|_| anyhow::anyhow!("an actor still holds the stats"))?;
    if let Some(e) = stats.first_error.lock().expect("stats lock").as_ref() {
        eprintln!(
            "{} calls failed; first error: {e}",
            stats.errors.load(Ordering::Relaxed)
        );
    }
    let mut by_call = stats.latencies.into_inner().expect("stats lock");
    let all: Vec<Duration> = by_call.values().flatten().copied().collect();
    let mut report = Report::new(all, stats.errors.load(Ordering::Relaxed), elapsed);
    report.server_cpu = server_cpu;
    let secs = elapsed.as_secs_f64().max(1e-9);
    for call in CALLS {
        let lat = by_call.entry(call).or_default();
        lat.sort_unstable();
        report = report
            .field(&format!("{call}_ops"), lat.len())
            .field(&format!("{call}_rate"), lat.len() as f64 / secs)
            .field(&format!("{call}_p50_ms"), ms(percentile(lat, 50.0)))
            .field(&format!("{call}_p99_ms"), ms(percentile(lat, 99.0)));
    }
    let (mut lost, mut duplicated, mut out_of_order) = (0, 0, 0);
    for (i, w) in watched.iter().enumerate() {
        let writes = stats.writes[i].load(Ordering::Relaxed);
        lost += writes.saturating_sub(w.events);
        duplicated += w.events.saturating_sub(writes);
        out_of_order += w.out_of_order;
    }
    let events: usize = watched.iter().map(|w| w.events).sum();
    Ok(report
        .field("conflicts", stats.conflicts.load(Ordering::Relaxed))
        .field("watch_events", events)
        .field("lost", lost)
        .field("duplicated", duplicated)
        .field("out_of_order", out_of_order))
}

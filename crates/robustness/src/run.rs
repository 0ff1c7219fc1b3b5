//! One run of the suite: a fresh cluster, recorded clients and watchers, faults, healing,
//! convergence, and the checkers' verdict.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_checker::{History, Report};
use oxcd_integration_tests::{Cluster, Kind};
use oxcd_proto::etcdserverpb::{HashKvRequest, RangeRequest};

use crate::client::{self, ClientPlan, ClientStats};
use crate::conn::{Conn, Endpoints};
use crate::faults::{self, Fault, Injected};
use crate::recorder::Recorder;
use crate::watcher::{self, Progress, WatchPlan};

/// How the members' peer traffic flows in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Straight over loopback: partitions are left out.
    Loopback,
    /// A network namespace per member; a partition is a set of blackhole routes (root only,
    /// see [`oxcd_integration_tests::netns::NetLab::available`]).
    Namespaces,
    /// A fault-injecting TCP proxy in every member's peer path
    /// ([`oxcd_integration_tests::peer_proxy::PeerProxy`]); works without root.
    Proxy,
}

impl Network {
    /// Namespaces where this machine can make them, else the proxy.
    pub fn auto() -> Network {
        if oxcd_integration_tests::netns::NetLab::available() {
            Network::Namespaces
        } else {
            Network::Proxy
        }
    }

    /// Parses `namespaces`, `proxy`, `loopback` or `auto`.
    pub fn parse(s: &str) -> Option<Network> {
        match s {
            "namespaces" => Some(Network::Namespaces),
            "proxy" => Some(Network::Proxy),
            "loopback" => Some(Network::Loopback),
            "auto" => Some(Network::auto()),
            _ => None,
        }
    }

    /// The name printed in the suite's first line.
    pub fn describe(self) -> &'static str {
        match self {
            Network::Namespaces => "namespaces",
            Network::Proxy => "peer proxy",
            Network::Loopback => "loopback (no partitions)",
        }
    }
}

/// How one run is set up.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The run's seed: every random choice (operations, faults, timing) derives from it.
    pub seed: u64,
    /// How long the clients issue operations.
    pub duration: Duration,
    /// Cluster size.
    pub members: usize,
    /// etcd or oxcd (the binary comes from `ETCD_BIN` / `OXCD_BIN`).
    pub kind: Kind,
    /// The faults to draw from (empty: none).
    pub faults: Vec<Fault>,
    /// Average time between faults.
    pub fault_interval: Duration,
    /// Concurrent clients.
    pub clients: usize,
    /// Concurrent watchers.
    pub watchers: usize,
    /// Whether the watchers request progress notifications (bookmarks). etcd 3.4.23 can
    /// send a requested one before events still queued on the stream (etcd issue 15220,
    /// fixed in 3.4.24), which the watch checker reports.
    pub request_progress: bool,
    /// Keys the clients share.
    pub keys: usize,
    /// How long one operation may take.
    pub op_timeout: Duration,
    /// Runner-level negative control (see [`ClientPlan::stale_read_fraction`]).
    pub stale_read_fraction: f64,
    /// Extra flags for every member.
    pub extra_args: Vec<String>,
    /// How the members' peer traffic flows, which decides whether partitions can be
    /// injected.
    pub network: Network,
    /// `FAILPOINTS` for every member (crash points, or the deliberate bug of a negative
    /// control); needs a server built with the `failpoints` feature.
    pub failpoints: Option<String>,
}

/// What one run found.
#[derive(Debug)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// Operations recorded, unknown outcomes, failures.
    pub stats: ClientStats,
    /// Watch sessions (first connections plus resumes) and events delivered.
    pub watch_sessions: usize,
    /// Events delivered to all watchers.
    pub watch_events: usize,
    /// The faults injected.
    pub faults: Vec<Injected>,
    /// The checkers' verdict (`None` if the run never got that far).
    pub report: Option<Report>,
    /// What went wrong outside the checkers (the cluster did not start or heal, a watcher
    /// never caught up, members did not converge).
    pub errors: Vec<String>,
    /// The store revision at the end.
    pub final_revision: i64,
    /// How long the run took.
    pub elapsed: Duration,
    /// The recorded history (kept for a dump when the run fails).
    pub history: Option<History>,
    /// Every member's whole log, by member name (kept for a dump when the run fails).
    pub member_logs: Vec<(String, String)>,
    /// With [`Network::Proxy`]: peer connections whose source member the proxy identified,
    /// could not identify, and held in a blackhole during a partition.
    pub proxy_counters: Option<(usize, usize, usize)>,
}

impl RunReport {
    /// Whether the run passed: no runner error and no violation.
    pub fn passed(&self) -> bool {
        self.errors.is_empty() && self.report.as_ref().is_some_and(|r| r.is_ok())
    }

    /// The one-line summary printed per run.
    pub fn line(&self) -> String {
        let mut by_kind: BTreeMap<Fault, usize> = BTreeMap::new();
        for f in &self.faults {
            *by_kind.entry(f.fault).or_default() += 1;
        }
        let faults: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let violations = self.report.as_ref().map_or("not checked".to_string(), |r| {
            let mut by_checker: BTreeMap<&str, usize> = BTreeMap::new();
            for v in &r.violations {
                *by_checker.entry(v.checker.name()).or_default() += 1;
            }
            let kinds: Vec<String> = by_checker.iter().map(|(k, n)| format!("{k} {n}")).collect();
            format!(
                "{} violations [{}], {} inconclusive",
                r.violations.len(),
                kinds.join(", "),
                r.inconclusive.len()
            )
        });
        let mut s = format!(
            "seed {:>3}: {} | {} ops ({} unknown, {} failed), {} watch events in {} sessions, \
             final revision {}, {} faults [{}], {violations}, {} runner errors, {:.1} s",
            self.seed,
            if self.passed() { "PASS" } else { "FAIL" },
            self.stats.ops,
            self.stats.unknown,
            self.stats.failed,
            self.watch_events,
            self.watch_sessions,
            self.final_revision,
            self.faults.len(),
            faults.join(", "),
            self.errors.len(),
            self.elapsed.as_secs_f64()
        );
        if let Some((known, unknown, held)) = self.proxy_counters {
            let _ = write!(
                s,
                "\n    peer proxy: {known} connections identified, {unknown} unidentified, \
                 {held} held in a partition"
            );
        }
        for e in &self.errors {
            let _ = write!(s, "\n    runner: {e}");
        }
        if let Some(r) = self.report.as_ref().filter(|r| !r.is_ok()) {
            for line in r.to_string().lines() {
                let _ = write!(s, "\n    {line}");
            }
        }
        s
    }
}

fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

/// A linearizable read of the store's revision through any member (bounded retries).
async fn store_revision(conns: &mut [Conn], key: &[u8], within: Duration) -> Result<i64, String> {
    let deadline = Instant::now() + within;
    let mut last = String::new();
    let mut i = 0;
    while Instant::now() < deadline {
        let n = conns.len();
        let req = RangeRequest {
            key: key.to_vec(),
            ..Default::default()
        };
        match tokio::time::timeout(Duration::from_secs(2), conns[i % n].kv.range(req)).await {
            Ok(Ok(r)) => return Ok(r.into_inner().header.map_or(0, |h| h.revision)),
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "timeout".into(),
        }
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no member answered a linearizable read: {last}"))
}

/// HashKV at `rev` on every member (each retried until it has applied `rev`): all equal.
async fn converged(conns: &mut [Conn], rev: i64, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    let mut hashes = Vec::new();
    for (i, c) in conns.iter_mut().enumerate() {
        loop {
            let req = HashKvRequest { revision: rev };
            match tokio::time::timeout(Duration::from_secs(2), c.maintenance.hash_kv(req)).await {
                Ok(Ok(r)) => {
                    hashes.push((i, r.into_inner().hash));
                    break;
                }
                _ if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(Err(e)) => return Err(format!("member {i}: HashKV at {rev}: {e}")),
                Err(_) => return Err(format!("member {i}: HashKV at {rev}: timeout")),
            }
        }
    }
    if hashes.windows(2).any(|w| w[0].1 != w[1].1) {
        return Err(format!(
            "members diverge: HashKV at revision {rev}: {hashes:?}"
        ));
    }
    Ok(())
}

/// Runs once with `cfg`.
pub fn run(cfg: &RunConfig) -> RunReport {
    let started = Instant::now();
    let mut report = RunReport {
        seed: cfg.seed,
        stats: ClientStats::default(),
        watch_sessions: 0,
        watch_events: 0,
        faults: Vec::new(),
        report: None,
        errors: Vec::new(),
        final_revision: 0,
        elapsed: Duration::ZERO,
        history: None,
        member_logs: Vec::new(),
        proxy_counters: None,
    };
    let extra: Vec<&str> = cfg.extra_args.iter().map(String::as_str).collect();
    // The members inherit the runner's environment.
    match &cfg.failpoints {
        Some(fp) => std::env::set_var("FAILPOINTS", fp),
        None => std::env::remove_var("FAILPOINTS"),
    }
    let started_cluster = match cfg.network {
        Network::Namespaces => Cluster::start_isolated(cfg.kind, cfg.members, &extra),
        Network::Proxy => Cluster::start_proxied(cfg.kind, cfg.members, &extra),
        Network::Loopback => Cluster::start(cfg.kind, cfg.members, &extra),
    };
    let mut cluster = match started_cluster {
        Ok(c) => c,
        Err(e) => {
            report.errors.push(format!("cluster did not start: {e}"));
            report.elapsed = started.elapsed();
            return report;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            report.errors.push(format!("tokio runtime: {e}"));
            return report;
        }
    };
    let endpoints = Endpoints((0..cluster.len()).map(|i| cluster.endpoint(i)).collect());
    run_on(cfg, &rt, &mut cluster, &endpoints, &mut report);
    report.proxy_counters = cluster
        .peer_proxy()
        .map(|p| (p.identified(), p.unidentified(), p.blackholed()));
    if !report.passed() {
        report.errors.extend(
            (!report.errors.is_empty()).then(|| format!("member logs:\n{}", cluster.log_tails(15))),
        );
        report.member_logs = cluster
            .members()
            .iter()
            .map(|m| {
                let log = std::fs::read_to_string(m.log_path()).unwrap_or_default();
                (m.name().to_string(), log)
            })
            .collect();
    }
    drop(cluster);
    rt.shutdown_timeout(Duration::from_secs(2));
    report.elapsed = started.elapsed();
    report
}

fn run_on(
    cfg: &RunConfig,
    rt: &tokio::runtime::Runtime,
    cluster: &mut Cluster,
    endpoints: &Endpoints,
    report: &mut RunReport,
) {
    // Lazily connected channels need the runtime's reactor.
    let _rt = rt.enter();
    let prefix = format!("/chaos/{}/", cfg.seed).into_bytes();
    let mut conns = endpoints.conns();
    let base_revision =
        match rt.block_on(store_revision(&mut conns, &prefix, Duration::from_secs(20))) {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(e);
                return;
            }
        };
    let keys: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..cfg.keys)
            .map(|i| [prefix.as_slice(), format!("k{i}").as_bytes()].concat())
            .collect(),
    );
    let rec = Arc::new(Recorder::default());
    let until = Instant::now() + cfg.duration;
    let stop_watch = Arc::new(AtomicI64::new(0));
    let hard_deadline = until + Duration::from_secs(90);
    let mut watchers = Vec::new();
    let mut progress = Vec::new();
    for id in 0..cfg.watchers {
        let p = Arc::new(Progress::default());
        progress.push(p.clone());
        let plan = WatchPlan {
            id,
            prefix: prefix.clone(),
            range_end: prefix_end(&prefix),
            start_revision: base_revision + 1,
            request_progress: cfg.request_progress,
        };
        watchers.push(rt.spawn(watcher::run(
            plan,
            endpoints.clone(),
            rec.clone(),
            p,
            stop_watch.clone(),
            hard_deadline,
        )));
    }
    let mut clients = Vec::new();
    for id in 0..cfg.clients {
        let plan = ClientPlan {
            id,
            keys: keys.clone(),
            until,
            op_timeout: cfg.op_timeout,
            seed: cfg.seed.wrapping_mul(1000).wrapping_add(id as u64),
            stale_read_fraction: cfg.stale_read_fraction,
        };
        clients.push(rt.spawn(client::run(plan, endpoints.clone(), rec.clone())));
    }
    let stop_faults = Arc::new(AtomicBool::new(false));
    report.faults = faults::inject(
        cluster,
        &cfg.faults,
        cfg.seed,
        until,
        cfg.fault_interval,
        stop_faults,
        &rec,
    );
    for c in clients {
        if let Ok(s) = rt.block_on(c) {
            report.stats.ops += s.ops;
            report.stats.unknown += s.unknown;
            report.stats.failed += s.failed;
        }
    }
    if cfg.failpoints.is_some() {
        // Disarm: every member restarts without failpoints before the checks at the end.
        std::env::remove_var("FAILPOINTS");
        if let Err(e) = cluster.restart_all() {
            report
                .errors
                .push(format!("restart without failpoints: {e}"));
        }
    }
    if let Err(e) = faults::heal_all(cluster) {
        report.errors.push(format!("healing: {e}"));
    }
    if let Err(e) = cluster.wait_leader(Duration::from_secs(20)) {
        report.errors.push(format!("no leader after healing: {e}"));
    }
    let final_revision =
        match rt.block_on(store_revision(&mut conns, &prefix, Duration::from_secs(20))) {
            Ok(r) => r,
            Err(e) => {
                report.errors.push(format!("after healing: {e}"));
                0
            }
        };
    report.final_revision = final_revision;
    stop_watch.store(final_revision.max(1), Ordering::Release);
    let mut recorded = Vec::new();
    for (i, w) in watchers.into_iter().enumerate() {
        match rt.block_on(w) {
            Ok(w) => recorded.push(w),
            Err(e) => report.errors.push(format!("watcher {i} panicked: {e}")),
        }
        if progress[i].get() < final_revision {
            report.errors.push(format!(
                "watcher {i} reached revision {} but the store is at {final_revision}",
                progress[i].get()
            ));
        }
    }
    if final_revision > 0 {
        if let Err(e) = rt.block_on(converged(
            &mut conns,
            final_revision,
            Duration::from_secs(20),
        )) {
            report.errors.push(e);
        }
    }
    report.watch_sessions = recorded.iter().map(|w| w.sessions.len()).sum();
    report.watch_events = recorded
        .iter()
        .flat_map(|w| w.sessions.iter())
        .flat_map(|s| s.responses.iter())
        .map(|r| r.events.len())
        .sum();
    let history = History {
        ops: rec.take(),
        watchers: recorded,
        base_revision,
    };
    report.report = Some(oxcd_checker::check(&history));
    report.history = Some(history);
}

//! [`Fault`]s, injected one at a time against the leader or a random member while the
//! clients run, each healed before the next.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_integration_tests::Cluster;

use crate::recorder::Recorder;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// `kill -9` the leader, restart it after a pause.
    KillLeader,
    /// `kill -9` a random member, restart it after a pause.
    KillRandom,
    /// SIGSTOP the leader for a while, then SIGCONT.
    StopLeader,
    /// SIGSTOP a random member for a while, then SIGCONT.
    StopRandom,
    /// `kill -9` every member at once, then restart them all.
    RestartAll,
    /// Cut the leader off from the other members (both directions) for a while; clients
    /// still reach it. Needs a cluster in network namespaces or behind a peer proxy.
    PartitionLeader,
    /// Cut a random member off from the others for a while.
    PartitionRandom,
    /// Replace a random member by an empty one: `member remove`, wipe its data, `member
    /// add` with the same peer URL, start it with `--initial-cluster-state existing`.
    ReplaceRandom,
    /// Not injected by the runner: a member died by itself (a failpoint crashed it, or a
    /// bug did) and was restarted.
    Crashed,
}

impl Fault {
    /// Every fault, in the order `--faults all` lists them.
    pub const ALL: [Fault; 8] = [
        Fault::KillLeader,
        Fault::KillRandom,
        Fault::StopLeader,
        Fault::StopRandom,
        Fault::RestartAll,
        Fault::PartitionLeader,
        Fault::PartitionRandom,
        Fault::ReplaceRandom,
    ];

    /// Whether the fault needs a cluster that can be partitioned.
    pub fn is_partition(self) -> bool {
        matches!(self, Fault::PartitionLeader | Fault::PartitionRandom)
    }

    /// The name used on the command line and in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Fault::KillLeader => "kill-leader",
            Fault::KillRandom => "kill-random",
            Fault::StopLeader => "stop-leader",
            Fault::StopRandom => "stop-random",
            Fault::RestartAll => "restart-all",
            Fault::PartitionLeader => "partition-leader",
            Fault::PartitionRandom => "partition-random",
            Fault::ReplaceRandom => "replace-random",
            Fault::Crashed => "crashed",
        }
    }

    /// Parses a name (see [`Fault::name`]).
    pub fn parse(s: &str) -> Option<Fault> {
        Fault::ALL.into_iter().find(|f| f.name() == s)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One injected fault, for the run's log.
#[derive(Debug, Clone)]
pub struct Injected {
    /// What.
    pub fault: Fault,
    /// On which member (the first, for [`Fault::RestartAll`]).
    pub member: usize,
    /// Whether it was healed (the member serves again).
    pub healed: bool,
    /// What went wrong while injecting or healing, if anything.
    pub error: Option<String>,
    /// When it began and when it was healed, on the history's clock (ns since the run
    /// started), so a violation can be placed among the faults.
    pub window_ns: (u64, u64),
}

fn sleep_until(t: Instant, stop: &AtomicBool) {
    while Instant::now() < t && !stop.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Injects faults from `kinds` into `cluster` until `until` (or `stop`), one every
/// `interval` on average, each healed before the next. Runs on a plain thread: the cluster
/// harness is synchronous.
pub fn inject(
    cluster: &mut Cluster,
    kinds: &[Fault],
    seed: u64,
    until: Instant,
    interval: Duration,
    stop: Arc<AtomicBool>,
    clock: &Recorder,
) -> Vec<Injected> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xfa17);
    let mut log = Vec::new();
    let kinds: Vec<Fault> = kinds
        .iter()
        .copied()
        .filter(|f| !f.is_partition() || cluster.can_partition())
        .collect();
    if kinds.is_empty() {
        // No injected faults, but members crashed by failpoints still come back.
        while Instant::now() < until && !stop.load(Ordering::Acquire) {
            log.extend(revive(cluster, clock));
            sleep_until(Instant::now() + Duration::from_millis(500), &stop);
        }
        return log;
    }
    // Let the clients get going before the first fault.
    sleep_until(Instant::now() + interval / 2, &stop);
    while Instant::now() + interval / 2 < until && !stop.load(Ordering::Acquire) {
        log.extend(revive(cluster, clock));
        let fault = kinds[rng.gen_range(0..kinds.len())];
        let pause = Duration::from_millis(rng.gen_range(300..2000));
        log.push(one(cluster, fault, pause, &mut rng, clock));
        let jitter = rng.gen_range(interval.as_millis() as u64 / 2..=interval.as_millis() as u64);
        sleep_until(Instant::now() + Duration::from_millis(jitter), &stop);
    }
    log
}

fn one(
    cluster: &mut Cluster,
    fault: Fault,
    pause: Duration,
    rng: &mut StdRng,
    clock: &Recorder,
) -> Injected {
    let n = cluster.len();
    let target = match fault {
        Fault::KillLeader | Fault::StopLeader | Fault::PartitionLeader => cluster
            .wait_leader(Duration::from_secs(5))
            .unwrap_or_else(|_| rng.gen_range(0..n)),
        _ => rng.gen_range(0..n),
    };
    let began = clock.now();
    let mut error = None;
    let mut note = |r: Result<(), oxcd_integration_tests::HarnessError>| {
        if let Err(e) = r {
            error.get_or_insert(e.to_string());
        }
    };
    match fault {
        Fault::KillLeader | Fault::KillRandom => {
            note(cluster.kill9(target));
            std::thread::sleep(pause);
            note(cluster.restart(target));
        }
        Fault::StopLeader | Fault::StopRandom => {
            note(cluster.stop_signal(target));
            std::thread::sleep(pause);
            note(cluster.cont(target));
        }
        Fault::RestartAll => note(cluster.restart_all()),
        Fault::ReplaceRandom => note(cluster.replace_member(target)),
        // Never drawn: crashes are found by `revive`.
        Fault::Crashed => {}
        Fault::PartitionLeader | Fault::PartitionRandom => {
            // Long enough for the majority to elect a new leader.
            note(cluster.isolate(target));
            std::thread::sleep(pause * 2);
            cluster.heal_partitions();
        }
    }
    Injected {
        fault,
        member: target,
        healed: error.is_none(),
        error,
        window_ns: (began, clock.now()),
    }
}

/// Restarts the members that died by themselves (failpoint crashes), logging each.
pub fn revive(cluster: &mut Cluster, clock: &Recorder) -> Vec<Injected> {
    let live = cluster.live_indices();
    let dead: Vec<usize> = (0..cluster.len())
        .filter(|&i| !cluster.member(i).is_stopped() && !live.contains(&i))
        .collect();
    dead.into_iter()
        .map(|i| {
            let began = clock.now();
            let error = cluster.restart(i).err().map(|e| e.to_string());
            Injected {
                fault: Fault::Crashed,
                member: i,
                healed: error.is_none(),
                error,
                window_ns: (began, clock.now()),
            }
        })
        .collect()
}

/// Brings every member back: no partitions, SIGCONT the stopped, restart the dead.
pub fn heal_all(cluster: &mut Cluster) -> Result<(), String> {
    cluster.heal_partitions();
    for i in 0..cluster.len() {
        if cluster.member(i).is_stopped() {
            cluster.cont(i).map_err(|e| e.to_string())?;
        }
    }
    let dead: Vec<usize> = (0..cluster.len())
        .filter(|&i| !cluster.live_indices().contains(&i))
        .collect();
    for i in dead {
        cluster.restart(i).map_err(|e| e.to_string())?;
    }
    Ok(())
}

//! Shared fixtures: an in-memory applier that records what it applied (and can restore a
//! snapshot from another member's state), helpers that wait with deadlines, and
//! [`cluster::TestCluster`], a cluster of members on a `ChannelNetwork`.

#![allow(dead_code)]

pub mod cluster;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_raftlog::{
    Applier, ApplyError, Committed, ConfChange, RaftConfig, RaftHandle, RaftStatus,
};
use parking_lot::Mutex;

/// What a [`TestApplier`] saw; shared so a test can inspect it and "restart" with it.
#[derive(Debug, Default)]
pub struct AppliedState {
    /// The applied index ("persisted atomically" with `entries`).
    pub applied: u64,
    /// Every non-skipped normal entry: (index, term, data).
    pub entries: Vec<(u64, u64, Vec<u8>)>,
    /// Every applied conf change.
    pub conf_changes: Vec<(u64, ConfChange)>,
    /// Entries delivered with an index <= applied (re-deliveries, skipped).
    pub redelivered: u64,
    /// Entries delivered out of order (a gap): MUST stay 0.
    pub gaps: u64,
    /// Number of `persist()` calls.
    pub persists: u64,
    /// Role changes seen.
    pub roles: Vec<RaftStatus>,
    /// Every snapshot restored: (snapshot index, snapshot term).
    pub restores: Vec<(u64, u64)>,
}

impl AppliedState {
    /// The non-empty payloads, in apply order.
    pub fn payloads(&self) -> Vec<Vec<u8>> {
        self.entries
            .iter()
            .filter(|e| !e.2.is_empty())
            .map(|e| e.2.clone())
            .collect()
    }
}

/// A shared handle on an [`AppliedState`].
pub type Shared = Arc<Mutex<AppliedState>>;

/// The applied state of a cluster's members, where a restoring applier finds its
/// snapshot's data: in-process, the leader's "checkpoint" is its applier state, copied at
/// restore time (what a real transport ships beside the `MsgSnapshot`).
#[derive(Clone, Default)]
pub struct SnapshotSource {
    members: Arc<Mutex<HashMap<u64, Shared>>>,
}

/// A copy of one member's applied state: (applied index, entries, conf changes).
pub type Checkpoint = (u64, Vec<(u64, u64, Vec<u8>)>, Vec<(u64, ConfChange)>);

impl SnapshotSource {
    /// Makes member `id`'s state available to restoring members.
    pub fn add(&self, id: u64, state: &Shared) {
        self.members.lock().insert(id, state.clone());
    }

    /// A consistent copy of the most advanced member's state other than `me`'s (the
    /// leader, or a member that applied as much).
    pub fn checkpoint(&self, me: u64) -> Option<Checkpoint> {
        let others: Vec<Shared> = self
            .members
            .lock()
            .iter()
            .filter(|(&id, _)| id != me)
            .map(|(_, s)| s.clone())
            .collect();
        others
            .iter()
            .map(|s| {
                let s = s.lock();
                (s.applied, s.entries.clone(), s.conf_changes.clone())
            })
            .max_by_key(|c| c.0)
    }
}

/// An in-memory applier following the `Applier` contract.
pub struct TestApplier {
    pub state: Shared,
    /// Where `restore` copies a snapshot's state from (this member's ID and the source);
    /// without one, `restore` refuses like the trait's default.
    pub snapshots: Option<(u64, SnapshotSource)>,
}

impl TestApplier {
    pub fn new() -> (Self, Shared) {
        let state: Shared = Arc::default();
        (Self::resume(&state), state)
    }

    pub fn resume(state: &Shared) -> Self {
        Self {
            state: state.clone(),
            snapshots: None,
        }
    }

    /// An applier for member `id` that restores snapshots from `source` (and is
    /// registered there as a source itself).
    pub fn with_snapshots(id: u64, source: &SnapshotSource) -> (Self, Shared) {
        let state: Shared = Arc::default();
        (Self::resume_with_snapshots(id, &state, source), state)
    }

    /// [`TestApplier::with_snapshots`] on an existing state (a restarted member).
    pub fn resume_with_snapshots(id: u64, state: &Shared, source: &SnapshotSource) -> Self {
        source.add(id, state);
        Self {
            state: state.clone(),
            snapshots: Some((id, source.clone())),
        }
    }

    fn advance(s: &mut AppliedState, index: u64) -> bool {
        if index <= s.applied {
            s.redelivered += 1;
            return false;
        }
        if index != s.applied + 1 {
            s.gaps += 1;
        }
        s.applied = index;
        true
    }
}

impl Applier for TestApplier {
    fn apply(&mut self, entries: &[Committed<'_>]) -> Result<(), ApplyError> {
        let mut s = self.state.lock();
        for e in entries {
            if Self::advance(&mut s, e.index) {
                s.entries.push((e.index, e.term, e.data.to_vec()));
            }
        }
        Ok(())
    }

    fn applied_index(&self) -> u64 {
        self.state.lock().applied
    }

    fn apply_conf_change(
        &mut self,
        index: u64,
        _term: u64,
        change: &ConfChange,
    ) -> Result<(), ApplyError> {
        let mut s = self.state.lock();
        if Self::advance(&mut s, index) {
            s.conf_changes.push((index, change.clone()));
        }
        Ok(())
    }

    fn on_role_change(&mut self, status: &RaftStatus) {
        self.state.lock().roles.push(status.clone());
    }

    fn persist(&mut self) -> Result<(), ApplyError> {
        self.state.lock().persists += 1;
        Ok(())
    }

    fn restore(&mut self, index: u64, term: u64) -> Result<(), ApplyError> {
        let Some((me, source)) = &self.snapshots else {
            return Err(ApplyError::new(format!(
                "no snapshot source to restore index {index} from"
            )));
        };
        let (applied, entries, conf_changes) = source
            .checkpoint(*me)
            .ok_or_else(|| ApplyError::new("no member to copy a snapshot from"))?;
        if applied < index {
            return Err(ApplyError::new(format!(
                "snapshot source applied {applied}, behind the snapshot index {index}"
            )));
        }
        let mut s = self.state.lock();
        s.applied = applied;
        s.entries = entries;
        s.conf_changes = conf_changes;
        s.restores.push((index, term));
        Ok(())
    }
}

/// A configuration with 10 ms ticks for fast tests.
pub fn fast_config(id: u64, voters: &[u64]) -> RaftConfig {
    RaftConfig {
        id,
        voters: voters.to_vec(),
        tick_interval: Duration::from_millis(10),
        election_tick: 10,
        heartbeat_tick: 1,
        read_index_retry: Duration::from_millis(50),
        request_timeout: Duration::from_secs(3),
        ..RaftConfig::default()
    }
}

/// Polls `cond` every 5 ms until it holds or `timeout` passes.
pub async fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Waits until `handle` reports itself leader.
pub async fn wait_leader(handle: &RaftHandle, timeout: Duration) {
    let status = handle.status();
    wait_for("leadership", timeout, || status.borrow().is_leader()).await;
}

/// Stops a member and joins its thread.
pub async fn stop(handle: RaftHandle, thread: std::thread::JoinHandle<()>) {
    handle.shutdown().await;
    drop(handle);
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .expect("join task")
        .expect("raft thread panicked");
}

//! Shared fixtures: an in-memory applier that records what it applied, and helpers that
//! wait with deadlines.

#![allow(dead_code)]

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

/// An in-memory applier following the `Applier` contract.
pub struct TestApplier {
    pub state: Shared,
}

impl TestApplier {
    pub fn new() -> (Self, Shared) {
        let state: Shared = Arc::default();
        (
            Self {
                state: state.clone(),
            },
            state,
        )
    }

    pub fn resume(state: &Shared) -> Self {
        Self {
            state: state.clone(),
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

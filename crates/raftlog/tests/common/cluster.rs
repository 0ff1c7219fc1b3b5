//! [`TestCluster`]: in-process members on one `ChannelNetwork`, each with a `MemLogStore`
//! and a [`TestApplier`] that restores snapshots from the others, plus helpers that wait
//! for agreement and propose through lossy links without duplicating anything.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use oxcd_raftlog::{
    ChannelNetwork, MemLogStore, RaftConfig, RaftHandle, RaftNode, RaftRole, RaftStatus,
};
use raft::{GetEntriesContext, Storage};

use super::{fast_config, stop, wait_for, AppliedState, Shared, SnapshotSource, TestApplier};

/// How long a helper waits before failing the test.
pub const T: Duration = Duration::from_secs(10);

/// How long a proposal may go unseen before the client checks whether it was lost.
const LOST_AFTER: Duration = Duration::from_millis(300);

/// One running member and what survives its restart.
pub struct Member {
    pub handle: RaftHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    pub state: Shared,
    pub store: MemLogStore,
    pub config: RaftConfig,
}

/// A cluster of members on one network.
pub struct TestCluster {
    pub net: ChannelNetwork,
    pub members: BTreeMap<u64, Member>,
    pub snapshots: SnapshotSource,
}

impl TestCluster {
    /// Starts a new cluster of `ids` on `net` with [`fast_config`], adjusted by
    /// `configure`, and registers every member.
    pub fn start(ids: &[u64], net: ChannelNetwork, configure: impl Fn(&mut RaftConfig)) -> Self {
        let snapshots = SnapshotSource::default();
        let mut members = BTreeMap::new();
        for &id in ids {
            let mut config = fast_config(id, ids);
            configure(&mut config);
            let (applier, state) = TestApplier::with_snapshots(id, &snapshots);
            let store = MemLogStore::new();
            let (handle, thread) =
                RaftNode::start(config.clone(), store.clone(), applier, net.transport(id))
                    .expect("start member");
            net.register(id, handle.clone());
            members.insert(
                id,
                Member {
                    handle,
                    thread: Some(thread),
                    state,
                    store,
                    config,
                },
            );
        }
        Self {
            net,
            members,
            snapshots,
        }
    }

    pub fn ids(&self) -> Vec<u64> {
        self.members.keys().copied().collect()
    }

    pub fn h(&self, id: u64) -> &RaftHandle {
        &self.members[&id].handle
    }

    pub fn status(&self, id: u64) -> RaftStatus {
        self.h(id).status().borrow().clone()
    }

    pub fn state(&self, id: u64) -> parking_lot::MutexGuard<'_, AppliedState> {
        self.members[&id].state.lock()
    }

    pub fn payloads(&self, id: u64) -> Vec<Vec<u8>> {
        self.state(id).payloads()
    }

    /// The highest commit index any member reports.
    pub fn max_commit(&self) -> u64 {
        self.ids()
            .into_iter()
            .map(|id| self.status(id).commit_index)
            .max()
            .unwrap_or(0)
    }

    /// Waits until every member in `ids` agrees on one leader among them (other than
    /// `not`); returns it.
    pub async fn agreed_leader(&self, ids: &[u64], not: u64) -> u64 {
        let deadline = Instant::now() + T;
        loop {
            let l = self.status(ids[0]).leader_id;
            if l != 0
                && l != not
                && ids.contains(&l)
                && ids.iter().all(|&i| self.status(i).leader_id == l)
                && self.status(l).role == RaftRole::Leader
            {
                return l;
            }
            if Instant::now() > deadline {
                let all: Vec<_> = self.ids().into_iter().map(|i| self.status(i)).collect();
                panic!("no agreed leader among {ids:?} (excluding {not}): {all:#?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until every member in `ids` applied at least `n` payloads.
    pub async fn wait_payloads(&self, ids: &[u64], n: usize) {
        wait_for("replication", T, || {
            ids.iter().all(|&i| self.payloads(i).len() >= n)
        })
        .await;
    }

    /// Every payload present in some member's raft log or applied by some member.
    pub fn known_payloads(&self) -> HashSet<Vec<u8>> {
        let mut out = HashSet::new();
        for m in self.members.values() {
            let (first, last) = (
                m.store.first_index().expect("first index"),
                m.store.last_index().expect("last index"),
            );
            if last >= first {
                let entries = m
                    .store
                    .entries(first, last + 1, None, GetEntriesContext::empty(false))
                    .expect("read log");
                out.extend(entries.iter().map(|e| e.data.to_vec()));
            }
            out.extend(m.state.lock().payloads());
        }
        out
    }

    /// Proposes each `(via, payload)` through member `via` and waits until every member
    /// of `on` applied all of them. A proposal can be lost (dropped forward to the leader,
    /// leader change): it is proposed again, but ONLY once it is in no member's log and
    /// applied nowhere on three checks at least 50 ms apart, long after the message
    /// carrying it was delivered or dropped, so nothing is applied twice. Returns the
    /// number of proposals made again.
    pub async fn propose_all(&self, items: &[(u64, Vec<u8>)], on: &[u64]) -> u64 {
        struct Pending<'a> {
            via: u64,
            payload: &'a [u8],
            sent: Option<Instant>,
            absent: u32,
        }
        let deadline = Instant::now() + T;
        let mut pending: Vec<Pending<'_>> = items
            .iter()
            .map(|(via, payload)| Pending {
                via: *via,
                payload,
                sent: None,
                absent: 0,
            })
            .collect();
        let mut again = 0;
        loop {
            let applied: HashSet<Vec<u8>> = on.iter().flat_map(|&i| self.payloads(i)).collect();
            pending.retain(|p| !applied.contains(p.payload));
            if pending.is_empty() {
                break;
            }
            let statuses: Vec<_> = self.ids().into_iter().map(|i| self.status(i)).collect();
            assert!(
                Instant::now() < deadline,
                "{} proposals never applied on {on:?} (first: {:?}); statuses {statuses:#?}",
                pending.len(),
                String::from_utf8_lossy(pending[0].payload)
            );
            let known = self.known_payloads();
            for p in &mut pending {
                match p.sent {
                    None => {
                        if self.h(p.via).propose(p.payload.to_vec()).await.is_ok() {
                            p.sent = Some(Instant::now());
                            p.absent = 0;
                        }
                    }
                    Some(at) if at.elapsed() >= LOST_AFTER => {
                        if known.contains(p.payload) {
                            p.absent = 0;
                        } else {
                            p.absent += 1;
                            if p.absent >= 3 {
                                p.sent = None;
                                again += 1;
                            }
                        }
                    }
                    Some(_) => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        wait_for("every proposal applied on every member", T, || {
            on.iter().all(|&i| {
                let got: HashSet<Vec<u8>> = self.payloads(i).into_iter().collect();
                items.iter().all(|(_, p)| got.contains(p))
            })
        })
        .await;
        again
    }

    /// Waits until the members in `ids` applied the same index and hold the same log
    /// tail, then checks they applied the same entries and conf changes, without gaps.
    pub async fn converged(&self, ids: &[u64]) {
        wait_for("applied indexes converge", T, || {
            let first = self.state(ids[0]).applied;
            ids.iter().all(|&i| {
                let st = self.status(i);
                self.state(i).applied == first
                    && st.applied_index == first
                    && st.commit_index == first
            })
        })
        .await;
        let reference = self.state(ids[0]);
        for &id in &ids[1..] {
            let s = self.state(id);
            assert_eq!(s.entries, reference.entries, "member {id} diverged");
            assert_eq!(s.conf_changes, reference.conf_changes, "member {id}");
            assert_eq!(s.gaps, 0, "member {id} saw a gap");
        }
        assert_eq!(reference.gaps, 0, "member {} saw a gap", ids[0]);
    }

    /// Stops member `id` and starts a new node on its log store and applier state.
    pub async fn restart(&mut self, id: u64) {
        let m = self.members.get_mut(&id).expect("member");
        let thread = m.thread.take().expect("member running");
        stop(m.handle.clone(), thread).await;
        let applier = TestApplier::resume_with_snapshots(id, &m.state, &self.snapshots);
        let (handle, thread) = RaftNode::start(
            m.config.clone(),
            m.store.clone(),
            applier,
            self.net.transport(id),
        )
        .expect("restart member");
        self.net.register(id, handle.clone());
        m.handle = handle;
        m.thread = Some(thread);
    }

    /// Stops every member and joins its thread.
    pub async fn stop(self) {
        for (_, m) in self.members {
            if let Some(thread) = m.thread {
                stop(m.handle, thread).await;
            }
        }
    }
}

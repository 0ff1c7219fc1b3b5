//! A single-member cluster: self-election, group-committed proposals applied in order
//! exactly once, ReadIndex, restart from the same RocksDB log, and log compaction.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{fast_config, stop, wait_for, wait_leader, Shared, TestApplier};
use oxcd_backend::{Backend, RocksBackend, RocksOptions};
use oxcd_raftlog::{
    ConfChangeKind, MemLogStore, NullTransport, ProposeError, RaftLogError, RaftLogStore, RaftNode,
    RaftRole, RocksLogStore,
};
use raft::{GetEntriesContext, Storage};

const T: Duration = Duration::from_secs(10);

fn open_rocks(dir: &std::path::Path) -> RocksLogStore {
    let backend: Arc<dyn Backend> =
        Arc::new(RocksBackend::open(dir, &RocksOptions::default()).expect("open rocksdb"));
    RocksLogStore::open(backend).expect("open raft log")
}

/// Starts member 1 of a single-member cluster on `store`, without a network.
fn start_single<S: RaftLogStore>(
    store: S,
    applier: TestApplier,
) -> (oxcd_raftlog::RaftHandle, std::thread::JoinHandle<()>) {
    RaftNode::start(
        fast_config(1, &[1]),
        store,
        applier,
        Arc::new(NullTransport),
    )
    .unwrap()
}

fn payload(i: usize) -> Vec<u8> {
    format!("put-{i:05}").into_bytes()
}

async fn applied_payloads(state: &Shared, n: usize) {
    wait_for("payloads applied", T, || state.lock().payloads().len() >= n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_member_elects_itself_applies_in_order_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (applier, state) = TestApplier::new();
    let started = Instant::now();
    let (h, thread) = start_single(open_rocks(dir.path()), applier);
    wait_leader(&h, Duration::from_secs(2)).await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "a single member should lead at once, took {:?}",
        started.elapsed()
    );
    {
        let st = h.status().borrow().clone();
        assert_eq!((st.id, st.leader_id, st.role), (1, 1, RaftRole::Leader));
        assert_eq!(st.voters, vec![1]);
        // The bootstrap conf change (index 1) was applied as AddVoter 1.
        let s = state.lock();
        assert_eq!(s.conf_changes.len(), 1);
        assert_eq!(s.conf_changes[0].0, 1);
        assert_eq!(s.conf_changes[0].1.kind, ConfChangeKind::AddVoter);
        assert_eq!(s.conf_changes[0].1.node_id, 1);
    }

    // 500 sequential proposals keep their order exactly.
    for i in 0..500 {
        h.propose(payload(i)).await.unwrap();
    }
    // 500 concurrent proposals (group commit) are each applied exactly once.
    let mut tasks = Vec::new();
    for i in 500..1000 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move { h.propose(payload(i)).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    applied_payloads(&state, 1000).await;
    let applied_before;
    {
        let s = state.lock();
        let got = s.payloads();
        assert_eq!(got.len(), 1000);
        assert_eq!(&got[..500], &(0..500).map(payload).collect::<Vec<_>>()[..]);
        let mut tail = got[500..].to_vec();
        tail.sort();
        assert_eq!(tail, (500..1000).map(payload).collect::<Vec<_>>());
        assert_eq!(s.gaps, 0, "entries applied out of order");
        assert_eq!(s.redelivered, 0);
        // Every index from 1 is accounted for (conf change, leader no-op, payloads).
        assert_eq!(s.applied as usize, 1 + s.entries.len());
        applied_before = s.applied;
    }

    // ReadIndex: at least the commit index at the time of the call, and it is reached.
    let commit = h.status().borrow().commit_index;
    let ri = h.read_index(7).await.unwrap();
    assert!(ri >= commit, "read index {ri} < commit {commit}");
    tokio::time::timeout(T, h.wait_applied(ri))
        .await
        .unwrap()
        .unwrap();

    stop(h, thread).await;

    // The log is intact on disk.
    let store = open_rocks(dir.path());
    assert_eq!(store.last_index().unwrap(), applied_before);
    assert_eq!(store.hard_state().commit, applied_before);
    let logged: Vec<Vec<u8>> = store
        .entries(1, applied_before + 1, None, GetEntriesContext::empty(false))
        .unwrap()
        .into_iter()
        .filter(|e| e.get_entry_type() == raft::eraftpb::EntryType::EntryNormal)
        .map(|e| e.data.to_vec())
        .filter(|d| !d.is_empty())
        .collect();
    assert_eq!(logged, state.lock().payloads());

    // Restart with the applier's state intact: nothing is applied again.
    let (h, thread) = start_single(store, TestApplier::resume(&state));
    wait_leader(&h, Duration::from_secs(2)).await;
    h.propose(b"after-restart".to_vec()).await.unwrap();
    applied_payloads(&state, 1001).await;
    {
        let s = state.lock();
        assert_eq!(s.redelivered, 0);
        assert_eq!(s.gaps, 0);
        assert_eq!(s.payloads().len(), 1001);
        assert_eq!(s.payloads().last().unwrap(), b"after-restart");
        assert!(h.status().borrow().term >= 3, "a restart starts a new term");
    }
    stop(h, thread).await;

    // Restart with an applier that lost its last 300 entries (unsynced state): exactly
    // those are delivered again, identical and in order.
    let (keep, lost): (Vec<_>, Vec<_>) = {
        let s = state.lock();
        let cut = s.applied - 300;
        s.entries.iter().cloned().partition(|e| e.0 <= cut)
    };
    let (old_applier, old_state) = TestApplier::new();
    {
        let mut s = old_state.lock();
        s.applied = keep.last().unwrap().0;
        s.entries = keep;
    }
    let (h, thread) = start_single(open_rocks(dir.path()), old_applier);
    wait_leader(&h, Duration::from_secs(2)).await;
    wait_for("replay", T, || {
        old_state.lock().applied >= lost.last().unwrap().0
    })
    .await;
    {
        let s = old_state.lock();
        let replayed: Vec<_> = s
            .entries
            .iter()
            .filter(|e| e.0 >= lost[0].0)
            .take(lost.len())
            .cloned()
            .collect();
        assert_eq!(replayed, lost);
        assert_eq!(s.gaps, 0);
        assert_eq!(s.redelivered, 0);
    }
    stop(h, thread).await;
}

/// The commit index is only remembered between hard states (`set_commit` writes nothing);
/// when a crash loses it, the next start raises it to the applied index and nothing is
/// applied twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_index_lost_in_a_crash_is_raised_to_the_applied_index() {
    let dir = tempfile::tempdir().unwrap();
    let (applier, state) = TestApplier::new();
    let (h, thread) = start_single(open_rocks(dir.path()), applier);
    wait_leader(&h, Duration::from_secs(2)).await;
    for i in 0..20 {
        h.propose(payload(i)).await.unwrap();
    }
    applied_payloads(&state, 20).await;
    stop(h, thread).await;
    let applied = state.lock().applied;

    // `set_commit` alone reaches no disk.
    let mut store = open_rocks(dir.path());
    let stored = store.hard_state();
    assert_eq!(
        stored.commit, applied,
        "a clean stop writes the commit index"
    );
    store.set_commit(stored.commit + 1);
    drop(store);
    let mut store = open_rocks(dir.path());
    assert_eq!(store.hard_state().commit, applied);

    // A crash that kept the applier's writes but lost the commit index since index 2.
    let mut hs = store.hard_state();
    hs.commit = 2;
    store.set_hard_state(&hs).unwrap();
    let (h, thread) = start_single(store, TestApplier::resume(&state));
    assert!(
        h.status().borrow().commit_index >= applied,
        "the start raises the commit index to the applied index"
    );
    wait_leader(&h, Duration::from_secs(2)).await;
    h.propose(b"after-crash".to_vec()).await.unwrap();
    applied_payloads(&state, 21).await;
    {
        let s = state.lock();
        assert_eq!(s.redelivered, 0);
        assert_eq!(s.gaps, 0);
        assert_eq!(s.payloads().len(), 21);
    }
    stop(h, thread).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_compaction_after_snapshot_count() {
    let store = MemLogStore::new();
    let (applier, state) = TestApplier::new();
    let mut cfg = fast_config(1, &[1]);
    cfg.snapshot_count = 100;
    cfg.snapshot_catchup_entries = 10;
    let (h, thread) =
        RaftNode::start(cfg.clone(), store.clone(), applier, Arc::new(NullTransport)).unwrap();
    wait_leader(&h, Duration::from_secs(2)).await;
    for i in 0..450 {
        h.propose(payload(i)).await.unwrap();
    }
    applied_payloads(&state, 450).await;
    // Compaction runs after the Ready that crossed the threshold.
    wait_for("compaction", T, || store.first_index().unwrap() > 1).await;
    let applied = state.lock().applied;
    let first = store.first_index().unwrap();
    assert!(
        state.lock().persists >= 4,
        "persist() precedes every compaction"
    );
    assert!(
        first > applied - 120 && first <= applied - 10,
        "first {first}, applied {applied}"
    );
    stop(h, thread).await;

    // A restart over the compacted log keeps working.
    let (h, thread) = RaftNode::start(
        cfg,
        store.clone(),
        TestApplier::resume(&state),
        Arc::new(NullTransport),
    )
    .unwrap();
    wait_leader(&h, Duration::from_secs(2)).await;
    for i in 450..700 {
        h.propose(payload(i)).await.unwrap();
    }
    applied_payloads(&state, 700).await;
    assert!(store.first_index().unwrap() > first);
    {
        let s = state.lock();
        assert_eq!(s.payloads(), (0..700).map(payload).collect::<Vec<_>>());
        assert_eq!((s.gaps, s.redelivered), (0, 0));
    }
    stop(h, thread).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_quorum_drops_proposals_and_stops_cleanly() {
    // Member 1 of a 3-voter cluster alone: no leader, proposals fail with NoLeader, and a
    // read times out with NoLeader.
    let (applier, _state) = TestApplier::new();
    let (h, thread) = RaftNode::start(
        fast_config(1, &[1, 2, 3]),
        MemLogStore::new(),
        applier,
        Arc::new(NullTransport),
    )
    .unwrap();
    assert_eq!(h.propose(b"x".to_vec()).await, Err(ProposeError::NoLeader));
    let err = h
        .read_index_with_timeout(1, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert_eq!(err, oxcd_raftlog::ReadIndexError::NoLeader);
    let st = h.status().borrow().clone();
    assert_eq!(st.voters, vec![1, 2, 3]);
    assert_eq!(st.leader_id, 0);
    let h2 = h.clone();
    stop(h, thread).await;
    assert_eq!(h2.propose(b"y".to_vec()).await, Err(ProposeError::Stopped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_is_validated() {
    let (applier, _state) = TestApplier::new();
    let mut cfg = fast_config(0, &[1]);
    cfg.id = 0;
    assert!(RaftNode::start(cfg, MemLogStore::new(), applier, Arc::new(NullTransport)).is_err());

    // An applier ahead of the log is refused instead of panicking inside raft.
    let (applier, state) = TestApplier::new();
    state.lock().applied = 50;
    assert!(RaftNode::start(
        fast_config(1, &[1]),
        MemLogStore::new(),
        applier,
        Arc::new(NullTransport)
    )
    .is_err());
}

/// Regression (oxcd-fuzz state-decode): an applied index of u64::MAX, as a corrupt
/// `consistent_index` reads back, overflowed `applied + 1` in `RaftNode::start`.
#[test]
fn a_corrupt_applied_index_is_an_error_not_an_overflow() {
    let (applier, state) = TestApplier::new();
    state.lock().applied = u64::MAX;
    let res = RaftNode::start(
        fast_config(1, &[1]),
        MemLogStore::new(),
        applier,
        Arc::new(NullTransport),
    );
    assert!(
        matches!(res, Err(RaftLogError::Corrupt(_))),
        "{:?}",
        res.err()
    );
}

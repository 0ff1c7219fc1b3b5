//! Raft on a faulty in-process network (`ChannelNetwork` delays, random drops and
//! partitions): ordered exactly-once apply under loss, a partitioned leader whose
//! proposals die, snapshot catch-up of a follower that fell behind the compacted log (and
//! its restart), and ReadIndex through a follower while writes are in flight.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::cluster::{TestCluster, T};
use common::wait_for;
use oxcd_raftlog::{ChannelNetwork, RaftRole, ReadIndexError};
use raft::Storage;

const ALL: [u64; 3] = [1, 2, 3];

fn payload(tag: &str, i: usize) -> Vec<u8> {
    format!("{tag}-{i:03}").into_bytes()
}

/// `n` payloads tagged `tag`, proposed round-robin through `via`.
fn spread(tag: &str, n: usize, via: &[u64]) -> Vec<(u64, Vec<u8>)> {
    (0..n)
        .map(|i| (via[i % via.len()], payload(tag, i)))
        .collect()
}

fn others(ids: &[u64], not: u64) -> Vec<u64> {
    ids.iter().copied().filter(|&i| i != not).collect()
}

/// 20 ms on every link and 20% of all messages lost: a leader is still elected, and 200
/// proposals through every member are applied exactly once, in one order, everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_lossy_links_apply_every_proposal_once_in_order() {
    let net = ChannelNetwork::new();
    net.set_seed(7);
    net.set_default_delay(Duration::from_millis(20));
    net.set_default_drop_rate(0.2);
    let c = TestCluster::start(&ALL, net, |_| {});
    c.agreed_leader(&ALL, 0).await;

    let mut again = 0;
    for round in 0..5 {
        let items: Vec<(u64, Vec<u8>)> = (round * 40..(round + 1) * 40)
            .map(|i| (ALL[i % 3], payload("p", i)))
            .collect();
        again += c.propose_all(&items, &ALL).await;
    }
    c.converged(&ALL).await;

    let got = c.payloads(1);
    let mut sorted = got.clone();
    sorted.sort();
    let expected: Vec<Vec<u8>> = (0..200).map(|i| payload("p", i)).collect();
    assert_eq!(sorted, expected, "not every proposal applied exactly once");
    for id in ALL {
        assert_eq!(c.payloads(id), got, "member {id} applied another order");
        let s = c.state(id);
        assert_eq!((s.gaps, s.redelivered), (0, 0), "member {id}");
        assert!(
            s.entries.windows(2).all(|w| w[0].0 < w[1].0),
            "member {id}: indexes not increasing"
        );
    }
    let st = c.net.stats();
    assert!(
        st.dropped > 0 && st.delayed > 0,
        "no faults happened: {st:?}"
    );
    eprintln!("lossy links: {again} proposals made again, network {st:?}");
    c.stop().await;
}

/// The leader is cut off alone behind slow links: the majority elects a new leader and
/// commits; what the old leader accepted meanwhile is never applied anywhere, and after
/// the heal every log converges on the majority's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_leader_loses_its_proposals_and_logs_converge() {
    let net = ChannelNetwork::new();
    net.set_default_delay(Duration::from_millis(15));
    net.set_delay(1, 2, Duration::from_millis(25));
    net.set_delay(3, 1, Duration::from_millis(5));
    let c = TestCluster::start(&ALL, net, |_| {});
    let old = c.agreed_leader(&ALL, 0).await;
    let majority = others(&ALL, old);
    c.propose_all(&spread("before", 20, &ALL), &ALL).await;
    c.converged(&ALL).await;
    let commit_before = c.status(old).commit_index;

    c.net.partition(&[&[old], &majority]);
    // Still the leader for a while (check_quorum): these are appended, never committed.
    for i in 0..10 {
        let _ = c.h(old).propose(payload("minority", i)).await;
    }
    let new = c.agreed_leader(&majority, old).await;
    c.propose_all(&spread("majority", 30, &majority), &majority)
        .await;
    wait_for("the old leader steps down", T, || {
        c.status(old).role != RaftRole::Leader
    })
    .await;
    assert_eq!(
        c.status(old).commit_index,
        commit_before,
        "the minority committed"
    );
    assert_eq!(c.payloads(old).len(), 20);
    for id in ALL {
        assert!(
            !c.payloads(id).iter().any(|p| p.starts_with(b"minority")),
            "member {id} applied a minority proposal"
        );
    }

    c.net.heal();
    c.net.set_default_delay(Duration::from_millis(15));
    c.propose_all(&spread("after", 15, &ALL), &ALL).await;
    c.converged(&ALL).await;
    let reference = c.payloads(new);
    assert_eq!(reference.len(), 65);
    assert!(!reference.iter().any(|p| p.starts_with(b"minority")));
    // The raft logs themselves converged: the old leader's tail was overwritten.
    let log = |id: u64| {
        let store = &c.members[&id].store;
        let (first, last) = (store.first_index().unwrap(), store.last_index().unwrap());
        store
            .entries(first, last + 1, None, raft::GetEntriesContext::empty(false))
            .unwrap()
            .into_iter()
            .map(|e| (e.index, e.term, e.data.to_vec()))
            .collect::<Vec<_>>()
    };
    wait_for("raft logs converge", T, || {
        log(old) == log(new) && log(majority[0]) == log(majority[1])
    })
    .await;
    assert!(!log(old).iter().any(|e| e.2.starts_with(b"minority")));
    c.stop().await;
}

/// A follower cut off while the leader compacts its log (every 20 entries, keeping 2) can
/// only catch up from a snapshot: it restores the leader's state, converges, and keeps
/// working after a restart on the same log store and applier state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lagging_follower_catches_up_from_a_snapshot_and_restarts() {
    let net = ChannelNetwork::new();
    net.set_default_delay(Duration::from_millis(5));
    let mut c = TestCluster::start(&ALL, net, |cfg| {
        cfg.snapshot_count = 20;
        cfg.snapshot_catchup_entries = 2;
    });
    let leader = c.agreed_leader(&ALL, 0).await;
    let lagging = others(&ALL, leader)[0];
    let other = others(&ALL, leader)[1];
    c.propose_all(&spread("warm", 5, &ALL), &ALL).await;
    c.converged(&ALL).await;
    let lag_applied = c.state(lagging).applied;

    c.net.isolate(lagging);
    c.propose_all(&spread("p", 100, &[leader, other]), &[leader, other])
        .await;
    let leader_first = c.members[&leader].store.first_index().unwrap();
    assert!(
        leader_first > lag_applied + 1,
        "the leader kept entries {}.. the follower needs",
        lag_applied + 1
    );
    assert!(c.state(lagging).restores.is_empty());

    c.net.heal();
    c.net.set_default_delay(Duration::from_millis(5));
    wait_for("the follower restores a snapshot", T, || {
        !c.state(lagging).restores.is_empty()
    })
    .await;
    let (snap_index, _) = c.state(lagging).restores[0];
    assert!(
        snap_index >= leader_first - 1,
        "snapshot {snap_index} too old"
    );
    assert!(c.state(lagging).applied >= snap_index);
    assert_eq!(
        c.members[&lagging].store.first_index().unwrap(),
        snap_index + 1,
        "the follower's log does not start after the snapshot"
    );

    c.propose_all(&spread("q", 20, &ALL), &ALL).await;
    c.converged(&ALL).await;
    let after = |id: u64| -> Vec<Vec<u8>> {
        c.state(id)
            .entries
            .iter()
            .filter(|e| e.0 > snap_index && !e.2.is_empty())
            .map(|e| e.2.clone())
            .collect()
    };
    assert!(after(leader).len() >= 20);
    assert_eq!(after(lagging), after(leader));
    assert_eq!(c.payloads(lagging), c.payloads(leader));
    assert_eq!(c.state(lagging).applied, c.state(leader).applied);

    // A restart on the same log and applier state resumes without another restore.
    let restores = c.state(lagging).restores.len();
    c.restart(lagging).await;
    c.agreed_leader(&ALL, 0).await;
    c.propose_all(&spread("r", 30, &ALL), &ALL).await;
    c.converged(&ALL).await;
    assert_eq!(c.payloads(lagging), c.payloads(leader));
    assert_eq!(c.payloads(lagging).len(), 155);
    assert_eq!(c.state(lagging).restores.len(), restores);
    c.stop().await;
}

/// Under 20-30 ms link delays and a steady stream of writes, a follower's read index
/// covers every commit any member reported before the read was asked for, and once the
/// follower applied it, it holds every write acknowledged before the read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_read_index_covers_every_earlier_commit_under_delay() {
    let net = ChannelNetwork::new();
    net.set_default_delay(Duration::from_millis(20));
    let c = Arc::new(TestCluster::start(&ALL, net, |_| {}));
    let leader = c.agreed_leader(&ALL, 0).await;
    for f in others(&ALL, leader) {
        c.net.set_delay(leader, f, Duration::from_millis(30));
    }

    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (c, done) = (c.clone(), done.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !done.load(Ordering::Relaxed) && i < 400 {
                let _ = c.h(leader).propose(payload("w", i)).await;
                i += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };

    let mut reads = 0;
    let mut ctx = 0;
    while reads < 20 {
        let follower = others(&ALL, leader)[reads % 2];
        let acked_commit = c.max_commit();
        let acked = c.payloads(leader);
        ctx += 1;
        let index = match c.h(follower).read_index(ctx).await {
            Ok(index) => index,
            Err(ReadIndexError::LeaderChanged) if ctx < 100 => continue,
            Err(e) => panic!("read index through {follower} failed: {e}"),
        };
        assert!(
            index >= acked_commit,
            "read index {index} < commit {acked_commit} known before the read"
        );
        tokio::time::timeout(T, c.h(follower).wait_applied(index))
            .await
            .expect("follower applies the read index")
            .expect("follower running");
        let seen = c.payloads(follower);
        assert!(
            seen.len() >= acked.len() && seen[..acked.len()] == acked[..],
            "follower {follower} misses writes acknowledged before the read"
        );
        reads += 1;
    }
    done.store(true, Ordering::Relaxed);
    writer.await.expect("writer task");
    assert!(
        c.payloads(leader).len() > 20,
        "writes did not overlap the reads"
    );
    let c = Arc::into_inner(c).expect("sole owner");
    c.stop().await;
}

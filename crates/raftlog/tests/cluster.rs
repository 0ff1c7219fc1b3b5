//! A 3-member in-process cluster over `ChannelNetwork`: election, replication through a
//! follower, ReadIndex on a follower, leader isolation and recovery, membership changes
//! and leadership transfer.

mod common;

use std::time::Duration;

use common::cluster::{TestCluster, T};
use common::wait_for;
use oxcd_raftlog::{ChannelNetwork, ConfChange, ConfChangeKind, RaftRole};

/// A new cluster of `ids` whose bootstrap entries carry every member's peer URL.
fn start(ids: &[u64]) -> TestCluster {
    TestCluster::start(ids, ChannelNetwork::new(), |cfg| {
        for &id in ids {
            cfg.voter_contexts
                .insert(id, format!("http://127.0.0.1:{}", 2380 + id).into_bytes());
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_replicate_fail_over_and_heal() {
    let c = start(&[1, 2, 3]);
    let all = [1, 2, 3];
    let leader = c.agreed_leader(&all, 0).await;
    let followers: Vec<u64> = all.iter().copied().filter(|&i| i != leader).collect();

    // Every member applied the three bootstrap conf changes with their contexts.
    for id in all {
        let s = c.members[&id].state.lock();
        let added: Vec<(u64, u64, Vec<u8>)> = s
            .conf_changes
            .iter()
            .map(|(i, cc)| (*i, cc.node_id, cc.context.clone()))
            .collect();
        assert_eq!(
            added,
            vec![
                (1, 1, b"http://127.0.0.1:2381".to_vec()),
                (2, 2, b"http://127.0.0.1:2382".to_vec()),
                (3, 3, b"http://127.0.0.1:2383".to_vec()),
            ]
        );
    }

    // Proposals through a follower are applied everywhere, in the same order.
    let via = c.h(followers[0]).clone();
    for i in 0..100 {
        via.propose(format!("a{i:03}").into_bytes()).await.unwrap();
    }
    c.wait_payloads(&all, 100).await;
    let expected: Vec<Vec<u8>> = (0..100).map(|i| format!("a{i:03}").into_bytes()).collect();
    for id in all {
        assert_eq!(c.payloads(id), expected, "member {id}");
    }

    // ReadIndex through a follower covers everything committed before it.
    let commit = c.h(leader).status().borrow().commit_index;
    let ri = c.h(followers[1]).read_index(42).await.unwrap();
    assert!(ri >= commit, "read index {ri} < leader commit {commit}");
    tokio::time::timeout(T, c.h(followers[1]).wait_applied(ri))
        .await
        .unwrap()
        .unwrap();

    // Isolate the leader: the other two elect a new one.
    c.net.isolate(leader);
    let new_leader = c.agreed_leader(&followers, leader).await;
    assert_ne!(new_leader, leader);

    // The minority side cannot commit.
    let before = c.h(leader).status().borrow().commit_index;
    let _ = c.h(leader).propose(b"minority".to_vec()).await;
    for i in 0..20 {
        c.h(new_leader)
            .propose(format!("b{i:03}").into_bytes())
            .await
            .unwrap();
    }
    c.wait_payloads(&followers, 120).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        c.h(leader).status().borrow().commit_index,
        before,
        "minority committed"
    );
    assert_eq!(c.payloads(leader).len(), 100);
    // The isolated old leader stepped down (check_quorum) and knows no leader.
    wait_for("old leader steps down", T, || {
        c.h(leader).status().borrow().role != RaftRole::Leader
    })
    .await;

    // Heal: everyone converges on the majority's log; "minority" is never applied.
    c.net.heal();
    c.wait_payloads(&all, 120).await;
    c.h(new_leader)
        .propose(b"after-heal".to_vec())
        .await
        .unwrap();
    c.wait_payloads(&all, 121).await;
    let reference = c.payloads(new_leader);
    assert!(!reference.contains(&b"minority".to_vec()));
    for id in all {
        assert_eq!(c.payloads(id), reference, "member {id} diverged");
        let s = c.members[&id].state.lock();
        assert_eq!((s.gaps, s.redelivered), (0, 0), "member {id}");
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_changes_and_leader_transfer() {
    let c = start(&[1, 2, 3]);
    let all = [1, 2, 3];
    let leader = c.agreed_leader(&all, 0).await;
    let follower = all.into_iter().find(|&i| i != leader).unwrap();

    // Add a learner (never started) through a follower: applied everywhere.
    let m = c
        .h(follower)
        .change_membership(ConfChange {
            kind: ConfChangeKind::AddLearner,
            node_id: 4,
            context: b"http://127.0.0.1:2384".to_vec(),
        })
        .await
        .unwrap();
    assert_eq!(m.voters, vec![1, 2, 3]);
    assert_eq!(m.learners, vec![4]);
    for id in all {
        wait_for("learner visible", T, || {
            c.h(id).status().borrow().learners == vec![4]
        })
        .await;
        let s = c.members[&id].state.lock();
        let last = s.conf_changes.last().unwrap();
        assert_eq!(last.1.kind, ConfChangeKind::AddLearner);
        assert_eq!(last.1.context, b"http://127.0.0.1:2384");
    }

    // Promote it, then remove it; the leader keeps working with 4 unreachable.
    let m = c
        .h(leader)
        .change_membership(ConfChange {
            kind: ConfChangeKind::PromoteLearner,
            node_id: 4,
            context: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!((m.voters, m.learners), (vec![1, 2, 3, 4], vec![]));
    assert_eq!(
        c.members[&leader]
            .state
            .lock()
            .conf_changes
            .last()
            .unwrap()
            .1
            .kind,
        ConfChangeKind::PromoteLearner
    );
    let m = c
        .h(leader)
        .change_membership(ConfChange {
            kind: ConfChangeKind::RemoveVoter,
            node_id: 4,
            context: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!((m.voters, m.learners), (vec![1, 2, 3], vec![]));

    // Transfer leadership to a follower. raft refuses to campaign while a committed conf
    // change is unapplied, so wait for the followers to apply everything first.
    let commit = c.h(leader).status().borrow().commit_index;
    for id in all {
        tokio::time::timeout(T, c.h(id).wait_applied(commit))
            .await
            .unwrap()
            .unwrap();
    }
    let deadline = std::time::Instant::now() + T;
    while c.status(follower).leader_id != follower {
        assert!(
            std::time::Instant::now() < deadline,
            "leadership transfer never happened"
        );
        c.h(leader).transfer_leader(follower).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = c.agreed_leader(&all, leader).await;
    assert_eq!(got, follower);
    c.h(got).propose(b"after-transfer".to_vec()).await.unwrap();
    c.wait_payloads(&all, 1).await;
    for id in all {
        assert_eq!(c.payloads(id), vec![b"after-transfer".to_vec()]);
    }
    c.stop().await;
}

/// The leader keys pending reads by context and ignores duplicates, so the same caller
/// context used on two followers at once must still answer both, at once (not after the
/// retry interval).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_read_context_on_two_followers_answers_both_at_once() {
    let c = TestCluster::start(&[1, 2, 3], ChannelNetwork::new(), |cfg| {
        cfg.read_index_retry = Duration::from_secs(5);
    });
    let all = [1, 2, 3];
    let leader = c.agreed_leader(&all, 0).await;
    c.h(leader).propose(b"x".to_vec()).await.unwrap();
    c.wait_payloads(&all, 1).await;
    let f: Vec<u64> = all.iter().copied().filter(|&i| i != leader).collect();
    for round in 0..20u64 {
        let started = std::time::Instant::now();
        let (a, b) = tokio::join!(
            c.h(f[0])
                .read_index_with_timeout(round, Duration::from_secs(3)),
            c.h(f[1])
                .read_index_with_timeout(round, Duration::from_secs(3)),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(
            a >= 4 && b >= 4,
            "read indexes {a} {b} miss the committed entries"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "round {round}: a read waited for the retry ({:?})",
            started.elapsed()
        );
    }
    c.stop().await;
}

//! Behaviour of the lessor through its public API, with a manual clock (no sleeps).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use oxcd_backend::{Backend, BatchOp, Column, MemBackend, RocksBackend, RocksOptions, WriteBatch};
use oxcd_lease::{
    LeaseError, LeaseInfo, LeaseTtl, Lessor, LessorConfig, ManualClock, CHECKPOINT_BATCH_LIMIT,
    MAX_LEASE_TTL_SECS, PROMOTE_EXPIRIES_PER_SECOND,
};

const SEC: Duration = Duration::from_secs(1);

fn cfg() -> LessorConfig {
    LessorConfig {
        min_ttl_secs: 2,
        checkpoint_interval: Duration::from_secs(300),
        max_ttl_secs: MAX_LEASE_TTL_SECS,
    }
}

struct Member {
    backend: Arc<dyn Backend>,
    clock: Arc<ManualClock>,
    lessor: Lessor,
}

impl Member {
    fn new() -> Member {
        Self::over(Arc::new(MemBackend::new()), Arc::new(ManualClock::new()))
    }

    fn over(backend: Arc<dyn Backend>, clock: Arc<ManualClock>) -> Member {
        let lessor = Lessor::open_with_clock(backend.clone(), cfg(), clock.clone()).unwrap();
        Member {
            backend,
            clock,
            lessor,
        }
    }

    /// Runs one apply step and writes its batch, as the server's apply loop does.
    fn apply<T>(&self, f: impl FnOnce(&Lessor, &mut WriteBatch) -> T) -> T {
        let mut batch = WriteBatch::new();
        let out = f(&self.lessor, &mut batch);
        self.backend.write(batch, false).unwrap();
        out
    }

    fn grant(&self, id: i64, ttl: i64) -> Result<LeaseInfo, LeaseError> {
        self.apply(|l, b| l.grant(id, ttl, b))
    }

    fn revoke(&self, id: i64) -> Result<Vec<Vec<u8>>, LeaseError> {
        self.apply(|l, b| l.revoke(id, b))
    }

    fn checkpoint(&self, id: i64, remaining: i64) -> bool {
        self.apply(|l, b| l.apply_checkpoint(id, remaining, b))
    }

    fn ttl(&self, id: i64) -> i64 {
        self.lessor
            .time_to_live(id, false)
            .unwrap()
            .ttl_remaining_secs
    }

    fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }
}

#[test]
fn grant_attach_detach_revoke() {
    let m = Member::new();
    assert_eq!(m.grant(7, 10).unwrap(), LeaseInfo { id: 7, ttl: 10 });
    assert!(m.lessor.exists(7));
    assert!(!m.lessor.exists(8));
    m.lessor.attach(7, b"b").unwrap();
    m.lessor.attach(7, b"a").unwrap();
    m.lessor.attach(7, b"c").unwrap();
    m.lessor.attach(7, b"a").unwrap();
    m.lessor.detach(7, b"c").unwrap();
    m.lessor.detach(7, b"zz").unwrap();
    assert!(matches!(
        m.lessor.attach(8, b"a"),
        Err(LeaseError::NotFound)
    ));
    assert!(matches!(
        m.lessor.detach(8, b"a"),
        Err(LeaseError::NotFound)
    ));

    let with_keys = m.lessor.time_to_live(7, true).unwrap();
    assert_eq!(with_keys.keys, vec![b"a".to_vec(), b"b".to_vec()]);
    assert!(m.lessor.time_to_live(7, false).unwrap().keys.is_empty());

    let mut batch = WriteBatch::new();
    let keys = m.lessor.revoke(7, &mut batch).unwrap();
    assert_eq!(keys, vec![b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(
        batch.ops(),
        &[BatchOp::Delete(Column::Lease, 7u64.to_be_bytes().to_vec())]
    );
    assert!(!m.lessor.exists(7));
    assert!(m.lessor.time_to_live(7, true).is_none());
    assert!(matches!(m.revoke(7), Err(LeaseError::NotFound)));
    assert_eq!(
        LeaseError::NotFound.to_string(),
        "requested lease not found"
    );
}

#[test]
fn grant_stages_exactly_one_record() {
    let m = Member::new();
    let mut batch = WriteBatch::new();
    m.lessor.grant(1, 30, &mut batch).unwrap();
    assert_eq!(batch.len(), 1);
    match &batch.ops()[0] {
        BatchOp::Put(Column::Lease, k, v) => {
            assert_eq!(k, &1u64.to_be_bytes().to_vec());
            assert_eq!(v.len(), 25);
        }
        other => panic!("unexpected op {other:?}"),
    }
    // Failed grants stage nothing.
    let mut batch = WriteBatch::new();
    assert!(m.lessor.grant(1, 30, &mut batch).is_err());
    assert!(m
        .lessor
        .grant(2, MAX_LEASE_TTL_SECS + 1, &mut batch)
        .is_err());
    assert!(m.lessor.grant(0, 30, &mut batch).is_err());
    assert!(batch.is_empty());
}

#[test]
fn ttl_is_raised_to_the_minimum() {
    let m = Member::new();
    assert_eq!(m.grant(1, 1).unwrap().ttl, 2);
    assert_eq!(m.grant(2, 0).unwrap().ttl, 2);
    assert_eq!(m.grant(3, -5).unwrap().ttl, 2);
    assert_eq!(m.grant(4, 3).unwrap().ttl, 3);
    assert_eq!(m.lessor.time_to_live(1, false).unwrap().granted_ttl, 2);
}

#[test]
fn too_large_ttl_duplicate_and_zero_id_are_rejected() {
    let m = Member::new();
    let err = m.grant(1, MAX_LEASE_TTL_SECS + 1).unwrap_err();
    assert!(matches!(err, LeaseError::TtlTooLarge));
    assert_eq!(err.to_string(), "too large lease TTL");
    assert!(!m.lessor.exists(1));
    assert_eq!(
        m.grant(1, MAX_LEASE_TTL_SECS).unwrap().ttl,
        MAX_LEASE_TTL_SECS
    );

    let err = m.grant(1, 10).unwrap_err();
    assert!(matches!(err, LeaseError::AlreadyExists));
    assert_eq!(err.to_string(), "lease already exists");
    // The existing lease is untouched.
    assert_eq!(
        m.lessor.time_to_live(1, false).unwrap().granted_ttl,
        MAX_LEASE_TTL_SECS
    );

    assert!(matches!(m.grant(0, 10), Err(LeaseError::ZeroId)));
    assert_eq!(m.lessor.leases(), vec![1]);
}

#[test]
fn leases_are_listed_sorted() {
    let m = Member::new();
    for id in [42, -3, 7, 1_000_000_000_000] {
        m.grant(id, 10).unwrap();
    }
    assert_eq!(m.lessor.leases(), vec![-3, 7, 42, 1_000_000_000_000]);
}

/// Grants, checkpoints and revokes, then reopens over the same backend.
fn check_persistence(
    backend: Arc<dyn Backend>,
    reopen: impl FnOnce(Arc<dyn Backend>) -> Arc<dyn Backend>,
) {
    let clock = Arc::new(ManualClock::new());
    let m = Member::over(backend, clock.clone());
    m.grant(1, 10).unwrap();
    m.grant(2, 1000).unwrap();
    m.grant(3, 50).unwrap();
    assert!(m.checkpoint(2, 400));
    m.revoke(3).unwrap();
    m.lessor.attach(1, b"k").unwrap();
    let Member {
        backend, lessor, ..
    } = m;
    drop(lessor);

    let m = Member::over(reopen(backend), clock);
    assert_eq!(m.lessor.leases(), vec![1, 2]);
    let t1 = m.lessor.time_to_live(1, true).unwrap();
    assert_eq!(
        t1,
        LeaseTtl {
            id: 1,
            ttl_remaining_secs: 10,
            granted_ttl: 10,
            keys: vec![]
        }
    );
    // The checkpointed remaining TTL survives the restart.
    assert_eq!(m.ttl(2), 400);
    assert_eq!(m.lessor.time_to_live(2, false).unwrap().granted_ttl, 1000);
    // Restored leases do not tick until promote.
    m.advance(Duration::from_secs(5000));
    assert!(m.lessor.expired(100).is_empty());
    assert_eq!(m.ttl(1), 10);
    m.lessor.promote(Duration::ZERO);
    assert_eq!(m.ttl(2), 400);
    assert_eq!(m.ttl(1), 10);
    m.advance(Duration::from_secs(10));
    assert_eq!(m.lessor.expired(100), vec![1]);
}

#[test]
fn persistence_across_open_mem_backend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt");
    check_persistence(Arc::new(MemBackend::new()), |b| {
        b.checkpoint(&path).unwrap();
        Arc::new(MemBackend::open_checkpoint(&path).unwrap())
    });
}

#[test]
fn persistence_across_open_rocks_backend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let opts = RocksOptions::default();
    let backend = Arc::new(RocksBackend::open(&path, &opts).unwrap());
    check_persistence(backend, |b| {
        drop(b);
        Arc::new(RocksBackend::open(&path, &opts).unwrap())
    });
}

#[test]
fn corrupt_record_fails_open() {
    let backend: Arc<dyn Backend> = Arc::new(MemBackend::new());
    let mut batch = WriteBatch::new();
    batch.put(Column::Lease, 5u64.to_be_bytes().to_vec(), b"junk".to_vec());
    backend.write(batch, false).unwrap();
    assert!(matches!(
        Lessor::open(backend, cfg()),
        Err(LeaseError::Corrupt(_))
    ));
}

#[test]
fn renew_only_on_the_primary() {
    let m = Member::new();
    m.grant(1, 10).unwrap();
    assert!(matches!(m.lessor.renew(1), Err(LeaseError::NotPrimary)));
    assert!(!m.lessor.is_primary());
    m.lessor.promote(Duration::ZERO);
    assert!(m.lessor.is_primary());
    m.advance(SEC * 6);
    assert_eq!(m.ttl(1), 4);
    assert_eq!(m.lessor.renew(1).unwrap(), 10);
    assert_eq!(m.ttl(1), 10);
    assert!(matches!(m.lessor.renew(99), Err(LeaseError::NotFound)));
    m.lessor.demote();
    assert!(matches!(m.lessor.renew(1), Err(LeaseError::NotPrimary)));
    // Not ticking any more: a follower reports the granted TTL.
    m.advance(SEC * 100);
    assert_eq!(m.ttl(1), 10);
    assert!(m.lessor.expired(10).is_empty());
}

#[test]
fn expired_returns_oldest_first_and_renew_defers() {
    let m = Member::new();
    m.lessor.promote(Duration::ZERO);
    m.grant(1, 5).unwrap();
    m.grant(2, 3).unwrap();
    m.grant(3, 4).unwrap();
    m.grant(4, 100).unwrap();
    assert!(m.lessor.expired(10).is_empty());
    m.advance(SEC * 2);
    m.lessor.renew(2).unwrap(); // now expires at 5 s
    m.advance(SEC * 2); // 4 s
    assert_eq!(m.lessor.expired(10), vec![3]);
    m.advance(SEC * 2); // 6 s
                        // Lease 1 expired at 5 s; lease 2 at 5 s too: ties break by id.
    assert_eq!(m.lessor.expired(10), vec![1, 2]);
    assert!(matches!(m.lessor.renew(1), Err(LeaseError::Expired)));
    assert_eq!(m.ttl(1), 0);
    // `limit` is honoured, oldest first.
    let m2 = Member::new();
    m2.lessor.promote(Duration::ZERO);
    for (id, ttl) in [(10, 9), (11, 7), (12, 8)] {
        m2.grant(id, ttl).unwrap();
    }
    m2.advance(SEC * 9);
    assert_eq!(m2.lessor.expired(2), vec![11, 12]);
    assert_eq!(m2.lessor.expired(2), vec![10]);
}

#[test]
fn expired_does_not_repeat_until_retry_interval() {
    let m = Member::new();
    m.lessor.promote(Duration::ZERO);
    m.grant(1, 2).unwrap();
    m.grant(2, 2).unwrap();
    m.advance(SEC * 2);
    assert_eq!(m.lessor.expired(10), vec![1, 2]);
    assert!(m.lessor.expired(10).is_empty());
    m.revoke(2).unwrap(); // lease 2's revoke went through; lease 1's was lost
    m.advance(Duration::from_millis(2900));
    assert!(m.lessor.expired(10).is_empty());
    m.advance(Duration::from_millis(100));
    assert_eq!(m.lessor.expired(10), vec![1]);
    assert!(m.lessor.expired(10).is_empty());
    m.revoke(1).unwrap();
    m.advance(SEC * 10);
    assert!(m.lessor.expired(10).is_empty());
    // A follower never reports expiries.
    let f = Member::new();
    f.grant(1, 2).unwrap();
    f.advance(SEC * 100);
    assert!(f.lessor.expired(10).is_empty());
}

#[test]
fn promote_extends_and_demote_stops_ticking() {
    let m = Member::new();
    m.grant(1, 10).unwrap();
    m.lessor.promote(SEC);
    assert_eq!(m.ttl(1), 11);
    m.advance(Duration::from_millis(10_500));
    assert!(m.lessor.expired(10).is_empty());
    m.lessor.demote();
    m.advance(SEC * 60);
    assert!(m.lessor.expired(10).is_empty());
    // Promote again: the full TTL plus the extension, from now.
    m.lessor.promote(SEC * 2);
    assert_eq!(m.ttl(1), 12);
    m.advance(Duration::from_millis(11_999));
    assert!(m.lessor.expired(10).is_empty());
    m.advance(Duration::from_millis(1));
    assert_eq!(m.lessor.expired(10), vec![1]);
}

#[test]
fn time_to_live_truncates_like_etcd() {
    let m = Member::new();
    m.lessor.promote(Duration::ZERO);
    m.grant(1, 10).unwrap();
    assert_eq!(m.ttl(1), 10);
    m.advance(Duration::from_millis(1));
    assert_eq!(m.ttl(1), 9);
    m.advance(Duration::from_millis(499));
    assert_eq!(m.ttl(1), 9);
    m.advance(Duration::from_millis(500));
    assert_eq!(m.ttl(1), 9);
    m.advance(Duration::from_millis(8_900));
    assert_eq!(m.ttl(1), 0);
    m.advance(Duration::from_millis(100));
    assert_eq!(m.ttl(1), 0);
    m.advance(SEC * 5);
    assert_eq!(
        m.ttl(1),
        0,
        "an expired, unrevoked lease reports 0, never negative"
    );
    let t = m.lessor.time_to_live(1, false).unwrap();
    assert_eq!((t.id, t.granted_ttl), (1, 10));
    assert!(m.lessor.time_to_live(2, false).is_none());
}

/// Two members apply the same entries; A leads, then B takes over. Leases are
/// checkpointed every quarter of their TTL, so B resumes close to where A was.
#[test]
fn checkpoint_survives_leader_change() {
    let a = Member::new();
    let b = Member::new();
    let both = [&a, &b];
    a.lessor.promote(SEC);
    for m in both {
        m.grant(1, 600).unwrap(); // checkpointed every 150 s
        m.grant(2, 60).unwrap(); // every 15 s
    }
    // Nothing is due before a quarter TTL; followers never report checkpoints.
    a.advance(SEC * 14);
    assert!(a.lessor.checkpoints_due(CHECKPOINT_BATCH_LIMIT).is_empty());
    a.advance(SEC);
    b.advance(SEC * 15);
    assert!(b.lessor.checkpoints_due(CHECKPOINT_BATCH_LIMIT).is_empty());
    let due = a.lessor.checkpoints_due(CHECKPOINT_BATCH_LIMIT);
    assert_eq!(due, vec![(2, 45)]);
    assert!(
        a.lessor.checkpoints_due(CHECKPOINT_BATCH_LIMIT).is_empty(),
        "not repeated"
    );
    for m in both {
        for &(id, rem) in &due {
            assert!(m.checkpoint(id, rem));
        }
        m.revoke(2).unwrap();
    }
    assert!(b.lessor.time_to_live(2, false).is_none());

    a.advance(SEC * 135);
    b.advance(SEC * 135);
    let due = a.lessor.checkpoints_due(CHECKPOINT_BATCH_LIMIT);
    assert_eq!(due, vec![(1, 450)]);
    for m in both {
        for &(id, rem) in &due {
            assert!(m.checkpoint(id, rem));
        }
    }
    // The follower reports the checkpointed remaining TTL; the leader its own clock.
    assert_eq!(b.ttl(1), 450);
    assert_eq!(a.ttl(1), 450);

    // Leader change 100 s later: B starts lease 1 from the checkpoint, not from 600.
    a.advance(SEC * 100);
    b.advance(SEC * 100);
    a.lessor.demote();
    b.lessor.promote(SEC);
    assert_eq!(b.ttl(1), 451);
    b.advance(SEC * 450);
    assert!(b.lessor.expired(10).is_empty());
    b.advance(SEC);
    assert_eq!(b.lessor.expired(10), vec![1]);

    // And it survives B restarting before it becomes leader again.
    let c = Member::over(b.backend.clone(), b.clock.clone());
    assert_eq!(c.ttl(1), 450);
    c.lessor.promote(Duration::ZERO);
    assert_eq!(c.ttl(1), 450);
}

#[test]
fn renew_clears_the_checkpoint_on_every_member() {
    let a = Member::new();
    let b = Member::new();
    a.lessor.promote(Duration::ZERO);
    for m in [&a, &b] {
        m.grant(1, 600).unwrap();
    }
    a.advance(SEC * 300);
    let due = a.lessor.checkpoints_due(100);
    assert_eq!(due, vec![(1, 300)]);
    for m in [&a, &b] {
        m.checkpoint(1, 300);
    }
    a.advance(SEC * 10);
    assert_eq!(a.lessor.renew(1).unwrap(), 600);
    // The leader proposes a clearing checkpoint at once.
    let due = a.lessor.checkpoints_due(100);
    assert_eq!(due, vec![(1, 0)]);
    assert!(a.lessor.checkpoints_due(100).is_empty());
    for m in [&a, &b] {
        m.checkpoint(1, 0);
    }
    assert_eq!(b.ttl(1), 600);
    a.lessor.demote();
    b.lessor.promote(Duration::ZERO);
    assert_eq!(b.ttl(1), 600);
    // A renew with nothing recorded needs no checkpoint.
    b.advance(SEC * 5);
    b.lessor.renew(1).unwrap();
    assert!(b.lessor.checkpoints_due(100).is_empty());
}

#[test]
fn stale_checkpoint_applied_after_renew_is_corrected() {
    let a = Member::new();
    a.lessor.promote(Duration::ZERO);
    a.grant(1, 600).unwrap();
    a.advance(SEC * 300);
    let due = a.lessor.checkpoints_due(100);
    assert_eq!(due, vec![(1, 300)]);
    // The renew lands between the proposal and its apply.
    a.advance(SEC * 5);
    a.lessor.renew(1).unwrap();
    a.checkpoint(1, 300);
    let fix = a.lessor.checkpoints_due(100);
    assert_eq!(fix, vec![(1, 0)]);
    a.checkpoint(1, 0);
    a.lessor.demote();
    a.lessor.promote(Duration::ZERO);
    assert_eq!(a.ttl(1), 600);
}

#[test]
fn checkpoints_recur_every_interval_and_respect_the_limit() {
    let m = Member::new();
    m.lessor.promote(Duration::ZERO);
    for id in 1..=5 {
        m.grant(id, 1000).unwrap();
    }
    m.advance(SEC * 300);
    assert_eq!(
        m.lessor.checkpoints_due(3),
        vec![(1, 700), (2, 700), (3, 700)]
    );
    assert_eq!(m.lessor.checkpoints_due(3), vec![(4, 700), (5, 700)]);
    m.advance(SEC * 300);
    let due = m.lessor.checkpoints_due(100);
    assert_eq!(due, (1..=5).map(|id| (id, 400)).collect::<Vec<_>>());
    // A lease renewed to its full TTL with nothing recorded is skipped, and comes back.
    let m = Member::new();
    m.lessor.promote(Duration::ZERO);
    m.grant(1, 1000).unwrap();
    m.advance(SEC * 300);
    m.lessor.renew(1).unwrap();
    assert!(m.lessor.checkpoints_due(100).is_empty());
    m.advance(SEC * 300);
    assert_eq!(m.lessor.checkpoints_due(100), vec![(1, 700)]);
    assert_eq!(m.lessor.checkpoints_due(0), vec![]);
}

#[test]
fn checkpoint_of_unknown_lease_is_a_no_op() {
    let m = Member::new();
    let mut batch = WriteBatch::new();
    assert!(!m.lessor.apply_checkpoint(9, 30, &mut batch));
    assert!(batch.is_empty());
}

#[test]
fn disabled_checkpoints_never_fire() {
    let backend: Arc<dyn Backend> = Arc::new(MemBackend::new());
    let clock = Arc::new(ManualClock::new());
    let cfg = LessorConfig {
        checkpoint_interval: Duration::ZERO,
        ..cfg()
    };
    let l = Lessor::open_with_clock(backend, cfg, clock.clone()).unwrap();
    l.promote(Duration::ZERO);
    let mut batch = WriteBatch::new();
    l.grant(1, 1000, &mut batch).unwrap();
    l.apply_checkpoint(1, 500, &mut batch);
    l.renew(1).unwrap();
    clock.advance(SEC * 900);
    assert!(l.checkpoints_due(100).is_empty());
}

#[test]
fn promote_spreads_mass_expiry() {
    let m = Member::new();
    let n = 3000i64;
    for id in 1..=n {
        m.grant(id, 10).unwrap();
    }
    m.lessor.promote(Duration::ZERO);
    let mut seen = Vec::new();
    let mut per_second = Vec::new();
    m.advance(SEC * 9);
    assert!(m.lessor.expired(usize::MAX).is_empty());
    for _ in 0..10 {
        m.advance(SEC);
        let batch = m.lessor.expired(usize::MAX);
        per_second.push(batch.len());
        for &id in &batch {
            m.revoke(id).unwrap();
        }
        seen.extend(batch);
    }
    assert!(
        per_second.iter().all(|&c| c <= PROMOTE_EXPIRIES_PER_SECOND),
        "{per_second:?}"
    );
    assert_eq!(&per_second[..4], &[750, 750, 750, 750]);
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=n).collect::<Vec<_>>(),
        "every lease still expires"
    );
    // The spread leases report their later expiry.
    let m = Member::new();
    for id in 1..=1000 {
        m.grant(id, 10).unwrap();
    }
    m.lessor.promote(Duration::ZERO);
    assert_eq!(m.ttl(1), 10);
    assert_eq!(m.ttl(1000), 11);
}

#[test]
fn leases_granted_on_the_primary_tick_and_on_followers_do_not() {
    let a = Member::new();
    let f = Member::new();
    a.lessor.promote(Duration::ZERO);
    for m in [&a, &f] {
        m.grant(1, 5).unwrap();
        m.advance(SEC * 5);
    }
    assert_eq!(a.lessor.expired(10), vec![1]);
    assert!(f.lessor.expired(10).is_empty());
    assert_eq!(f.ttl(1), 5);
}

#[test]
fn apply_steps_stage_identical_batches_on_leader_and_follower() {
    let a = Member::new();
    let f = Member::new();
    a.lessor.promote(SEC);
    let run = |m: &Member| {
        let mut batch = WriteBatch::new();
        m.lessor.grant(1, 400, &mut batch).unwrap();
        m.lessor.grant(2, 3, &mut batch).unwrap();
        m.lessor.apply_checkpoint(1, 120, &mut batch);
        m.lessor.attach(2, b"x").unwrap();
        let keys = m.lessor.revoke(2, &mut batch).unwrap();
        (batch, keys)
    };
    a.advance(SEC * 50);
    assert_eq!(run(&a), run(&f));
}

#[test]
fn recover_reloads_from_a_new_backend() {
    let src = Member::new();
    src.grant(1, 100).unwrap();
    src.grant(2, 1000).unwrap();
    src.checkpoint(2, 500);
    let m = Member::new();
    m.grant(9, 10).unwrap();
    m.lessor.attach(9, b"k").unwrap();
    m.lessor.promote(Duration::ZERO);
    m.lessor.recover(src.backend.as_ref()).unwrap();
    assert_eq!(m.lessor.leases(), vec![1, 2]);
    // On the primary the reloaded leases tick from now.
    assert_eq!(m.ttl(1), 100);
    assert_eq!(m.ttl(2), 500);
    m.advance(SEC * 100);
    assert_eq!(m.lessor.expired(10), vec![1]);
    let ttls: BTreeMap<i64, i64> = [1, 2].into_iter().map(|id| (id, m.ttl(id))).collect();
    assert_eq!(ttls, BTreeMap::from([(1, 0), (2, 400)]));
}

#[test]
fn lessor_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}
    let m = Member::new();
    assert_send_sync(&m.lessor);
    let lessor = Arc::new(m.lessor);
    let mut batch = WriteBatch::new();
    lessor.grant(1, 10, &mut batch).unwrap();
    let other = Arc::clone(&lessor);
    let attached = std::thread::spawn(move || other.attach(1, b"k").is_ok())
        .join()
        .unwrap();
    assert!(attached);
    assert_eq!(
        lessor.time_to_live(1, true).unwrap().keys,
        vec![b"k".to_vec()]
    );
}

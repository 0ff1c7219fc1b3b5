//! [`Harness`]: one member's stores in memory, serving decoded client requests the way
//! the server does, and checking every answer against a [`Model`].
//!
//! The harness owns a [`MemBackend`] with an MVCC [`KvStore`], a primary [`Lessor`] on a
//! [`ManualClock`] and an [`AlarmStore`], preloaded with a small fixture (a few keys over
//! several revisions, one of them attached to [`FIXTURE_LEASE`]). [`Harness::serve`] runs
//! one [`Request`] through the server's own validation (`oxcd_server::validate`) and its
//! apply functions (`oxcd_server::apply::{kv, txn}`), writing and publishing each revision
//! as the apply loop does. Watch requests go to a real [`oxcd_watch::WatchHub`]
//! ([`watch::WatchSession`]).
//!
//! # What is checked (a failed check panics with `oracle:`; the driver reports it)
//! - Ranges, puts and deletes answer exactly what the [`Model`] (etcd 3.4 semantics)
//!   expects, at every revision between the compacted and the current one.
//! - A lease's attached keys are exactly the live keys that carry it; revoking it deletes
//!   exactly those.
//! - [`Harness::finish`]: a store and a lessor reopened from the same backend serve the
//!   same data, revisions, hashes and leases; every watcher received exactly the events
//!   of its range since its start revision, in order (a prefix if it was cancelled).

pub mod model;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use oxcd_backend::{Backend, MemBackend, WriteBatch};
use oxcd_lease::{Lessor, LessorConfig, ManualClock};
use oxcd_mvcc::{Changes, KvStore, MvccError, Staged};
use oxcd_proto::etcdserverpb::{
    alarm_request::AlarmAction, request_op, AlarmRequest, CompactionRequest, DeleteRangeRequest,
    HashKvRequest, LeaseCheckpointRequest, LeaseGrantRequest, LeaseKeepAliveRequest,
    LeaseRevokeRequest, LeaseTimeToLiveRequest, MemberAddRequest, MemberUpdateRequest, PutRequest,
    RangeRequest, TxnRequest, WatchRequest,
};
use oxcd_proto::mvccpb::{Event, KeyValue};
use oxcd_server::apply::{self, alarm::AlarmStore, leases::LeaseEdits};
use oxcd_server::error::ServerError;
use oxcd_server::{membership, validate};

use crate::outcome::Outcomes;
use model::{Model, ReadError};
use watch::WatchSession;

/// etcd's default `--max-txn-ops`.
pub const MAX_TXN_OPS: usize = 128;
/// etcd's largest lease TTL (the Lease service refuses more before proposing).
pub const MAX_LEASE_TTL: i64 = 9_000_000_000;
/// The lease the fixture grants and attaches `foo/1` to.
pub const FIXTURE_LEASE: i64 = 0x1234_5678;
/// Leader-loop revokes handled per request at most (as the server's revoker batches).
const EXPIRED_PER_STEP: usize = 16;

/// One client request the harness can serve.
#[derive(Debug, Clone)]
pub enum Request {
    /// KV.Range.
    Range(RangeRequest),
    /// KV.Put.
    Put(PutRequest),
    /// KV.DeleteRange.
    DeleteRange(DeleteRangeRequest),
    /// KV.Txn.
    Txn(TxnRequest),
    /// KV.Compact.
    Compaction(CompactionRequest),
    /// Lease.LeaseGrant.
    LeaseGrant(LeaseGrantRequest),
    /// Lease.LeaseRevoke.
    LeaseRevoke(LeaseRevokeRequest),
    /// Lease.LeaseTimeToLive.
    LeaseTimeToLive(LeaseTimeToLiveRequest),
    /// One message of Lease.LeaseKeepAlive.
    LeaseKeepAlive(LeaseKeepAliveRequest),
    /// Lease.LeaseLeases.
    LeaseLeases,
    /// A LeaseCheckpoint raft entry.
    LeaseCheckpoint(LeaseCheckpointRequest),
    /// One message of a Watch stream.
    Watch(WatchRequest),
    /// Cluster.MemberAdd (the URL checks; membership itself needs raft).
    MemberAdd(MemberAddRequest),
    /// Cluster.MemberUpdate (the URL checks).
    MemberUpdate(MemberUpdateRequest),
    /// Maintenance.Alarm.
    Alarm(AlarmRequest),
    /// Maintenance.Hash.
    Hash,
    /// Maintenance.HashKV.
    HashKv(HashKvRequest),
}

/// A member's stores in memory plus the model of its key space (see the module docs).
pub struct Harness {
    backend: Arc<MemBackend>,
    kv: Arc<KvStore>,
    clock: Arc<ManualClock>,
    lessor: Arc<Lessor>,
    alarms: AlarmStore,
    model: Model,
    /// Every published revision with its events, oldest first.
    log: Vec<(i64, Vec<Event>)>,
    watch: Option<WatchSession>,
    next_lease: i64,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

fn oracle(ok: bool, what: impl FnOnce() -> String) {
    assert!(ok, "oracle: {}", what());
}

impl Harness {
    /// Fresh stores loaded with the fixture.
    pub fn new() -> Self {
        let backend = Arc::new(MemBackend::new());
        let dynb: Arc<dyn Backend> = backend.clone();
        let kv = Arc::new(KvStore::open(dynb.clone()).expect("open an empty store"));
        let clock = Arc::new(ManualClock::new());
        let lessor = Arc::new(
            Lessor::open_with_clock(dynb, LessorConfig::default(), clock.clone())
                .expect("open an empty lessor"),
        );
        lessor.promote(Duration::from_secs(1));
        let alarms = AlarmStore::load(backend.as_ref()).expect("load empty alarms");
        let model = Model::new(kv.current_revision());
        let mut h = Harness {
            backend,
            kv,
            clock,
            lessor,
            alarms,
            model,
            log: Vec::new(),
            watch: None,
            next_lease: 0x100,
        };
        h.load_fixture();
        h
    }

    fn load_fixture(&mut self) {
        let mut out = Outcomes::default();
        let put = |k: &str, v: &str, lease: i64| {
            Request::Put(PutRequest {
                key: k.into(),
                value: v.into(),
                lease,
                ..Default::default()
            })
        };
        let reqs = [
            Request::LeaseGrant(LeaseGrantRequest {
                ttl: 600,
                id: FIXTURE_LEASE,
            }),
            put("a", "1", 0),
            put("foo", "bar", 0),
            put("foo/1", "x", FIXTURE_LEASE),
            put("a", "2", 0),
            put("b", "3", 0),
            Request::DeleteRange(DeleteRangeRequest {
                key: b"b".to_vec(),
                ..Default::default()
            }),
            put("z\u{7f}", "", 0),
            put("foo/2", "y", 0),
        ];
        for r in reqs {
            self.serve(r, &mut out);
        }
    }

    /// The MVCC store.
    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    /// The backend every store of the harness writes to.
    pub fn backend(&self) -> &Arc<MemBackend> {
        &self.backend
    }

    /// Serves one request, counting what happened in `out`.
    pub fn serve(&mut self, req: Request, out: &mut Outcomes) {
        match req {
            Request::Range(r) => self.range(&r, out),
            Request::Put(p) => self.put(&p, out),
            Request::DeleteRange(d) => self.delete_range(&d, out),
            Request::Txn(t) => self.txn(&t, out),
            Request::Compaction(c) => self.compact(&c, out),
            Request::LeaseGrant(g) => self.lease_grant(&g, out),
            Request::LeaseRevoke(r) => self.lease_revoke(r.id, "LeaseRevoke", out),
            Request::LeaseTimeToLive(r) => self.lease_ttl(&r, out),
            Request::LeaseKeepAlive(r) => {
                let res = self.lessor.renew(r.id);
                out.add_result("LeaseKeepAlive", &res);
            }
            Request::LeaseLeases => {
                let ids = self.lessor.leases();
                out.add(if ids.is_empty() {
                    "LeaseLeases: none"
                } else {
                    "LeaseLeases: some"
                });
            }
            Request::LeaseCheckpoint(c) => {
                let mut batch = WriteBatch::new();
                for cp in &c.checkpoints {
                    let known = self
                        .lessor
                        .apply_checkpoint(cp.id, cp.remaining_ttl, &mut batch);
                    out.add(if known {
                        "LeaseCheckpoint: applied"
                    } else {
                        "LeaseCheckpoint: unknown lease"
                    });
                }
                self.write(batch);
            }
            Request::Watch(w) => {
                let session = self
                    .watch
                    .get_or_insert_with(|| WatchSession::start(self.kv.clone()));
                session.request(&w, &self.kv, out);
            }
            Request::MemberAdd(m) => {
                let ok = membership::valid_peer_urls(&m.peer_ur_ls);
                out.add(if ok {
                    "MemberAdd: valid urls"
                } else {
                    "MemberAdd: bad urls"
                });
            }
            Request::MemberUpdate(m) => {
                let ok = membership::valid_peer_urls(&m.peer_ur_ls);
                out.add(if ok {
                    "MemberUpdate: valid urls"
                } else {
                    "MemberUpdate: bad urls"
                });
            }
            Request::Alarm(a) => self.alarm(&a, out),
            Request::Hash => {
                let res = self.kv.hash_with_revision();
                if let Ok((_, rev)) = &res {
                    let current = self.model.current();
                    oracle(*rev == current, || {
                        format!("hash at {rev}, current {current}")
                    });
                }
                out.add_result("Hash", &res);
            }
            Request::HashKv(h) => self.hash_kv(&h, out),
        }
        self.leader_step(out);
    }

    /// What the leader's loops do between requests: time passes, expired leases are
    /// revoked (through the same path as a LeaseRevoke entry), checkpoints are taken.
    fn leader_step(&mut self, out: &mut Outcomes) {
        self.clock.advance(Duration::from_secs(1));
        for id in self.lessor.expired(EXPIRED_PER_STEP) {
            self.lease_revoke(id, "expired lease revoke", out);
        }
        let due = self
            .lessor
            .checkpoints_due(oxcd_lease::CHECKPOINT_BATCH_LIMIT);
        if !due.is_empty() {
            let mut batch = WriteBatch::new();
            for (id, remaining) in due {
                self.lessor.apply_checkpoint(id, remaining, &mut batch);
            }
            self.write(batch);
        }
    }

    fn write(&self, batch: WriteBatch) {
        if !batch.is_empty() {
            self.backend.write(batch, false).expect("MemBackend write");
        }
    }

    /// Writes `batch` (holding `staged`), publishes, and records the revision.
    fn commit(&mut self, staged: Staged<'_>, mut batch: WriteBatch) -> Changes {
        // The apply loop's own Meta write rides along, as in every applied entry.
        batch.put(
            oxcd_backend::Column::Meta,
            apply::APPLIED_INDEX_KEY,
            (self.log.len() as u64 + 1).to_be_bytes(),
        );
        self.write(batch);
        let changes = staged.publish();
        if !changes.events.is_empty() {
            let want = self.model.current() + 1;
            oracle(changes.revision == want, || {
                format!("published revision {} after {}", changes.revision, want - 1)
            });
            // Put events come without prev_kv (the hub reads it for the watchers that ask);
            // the log, which the watch oracle checks against, holds the true one.
            let mut logged = changes.events.clone();
            for ev in &mut logged {
                if let (None, Some(kv)) = (&ev.prev_kv, &ev.kv) {
                    ev.prev_kv = self.model.live().get(&kv.key[..]).cloned();
                }
            }
            self.model.apply_events(&changes.events);
            self.log.push((changes.revision, logged));
            if let Some(w) = &self.watch {
                w.notify(&changes);
            }
        }
        changes
    }

    fn nospace(&self) -> bool {
        self.alarms.has_nospace()
    }

    fn range(&mut self, r: &RangeRequest, out: &mut Outcomes) {
        if let Err(e) = validate::check_range(r) {
            out.add_err("Range: invalid", &e);
            return;
        }
        let got = self.kv.range(r);
        out.add_result("Range", &got);
        let want = self.model.range(r);
        match (&got, &want) {
            (Ok(res), Ok((kvs, count, more))) => {
                oracle(
                    res.kvs == *kvs && res.count == *count && res.more == *more,
                    || {
                        format!(
                            "range {r:?}: served {} kvs (count {}, more {}), expected {} \
                             (count {count}, more {more}): {:?} vs {:?}",
                            res.kvs.len(),
                            res.count,
                            res.more,
                            kvs.len(),
                            res.kvs,
                            kvs
                        )
                    },
                );
                let current = self.model.current();
                oracle(res.revision == current, || {
                    format!("range served at {}, current {current}", res.revision)
                });
            }
            (Err(MvccError::Compacted), Err(ReadError::Compacted))
            | (Err(MvccError::FutureRevision), Err(ReadError::Future)) => {}
            _ => oracle(false, || {
                format!("range {r:?}: served {got:?}, expected {want:?}")
            }),
        }
    }

    fn put(&mut self, p: &PutRequest, out: &mut Outcomes) {
        if let Err(e) = validate::check_put(p) {
            out.add_err("Put: invalid", &e);
            return;
        }
        if self.nospace() {
            out.add("Put: NoSpace");
            return;
        }
        let rev = self.model.current() + 1;
        let prev = self.model.live().get(&p.key).cloned();
        let want: Result<KeyValue, ServerError> = (|| {
            if (p.ignore_value || p.ignore_lease) && prev.is_none() {
                return Err(ServerError::KeyNotFound);
            }
            let value = match (&prev, p.ignore_value) {
                (Some(kv), true) => kv.value.clone(),
                _ => p.value.clone().into(),
            };
            let lease = match (&prev, p.ignore_lease) {
                (Some(kv), true) => kv.lease,
                _ => p.lease,
            };
            if lease != 0 && !self.lessor.exists(lease) {
                return Err(ServerError::LeaseNotFound);
            }
            Ok(KeyValue {
                key: p.key.clone().into(),
                create_revision: prev.as_ref().map_or(rev, |kv| kv.create_revision),
                mod_revision: rev,
                version: prev.as_ref().map_or(1, |kv| kv.version + 1),
                value,
                lease,
            })
        })();
        let kv = self.kv.clone();
        let mut txn = kv.write();
        let lessor = self.lessor.clone();
        let mut edits = LeaseEdits::new(lessor.as_ref());
        let got = apply::kv::put(&mut txn, &mut edits, p);
        out.add_result("Put", &got);
        match (got, want) {
            (Ok(resp), Ok(want)) => {
                let mut batch = WriteBatch::new();
                let staged = txn.stage(&mut batch);
                self.commit(staged, batch);
                edits.into_moves().apply(lessor.as_ref());
                let header_rev = resp.header.as_ref().map_or(0, |h| h.revision);
                oracle(header_rev == rev, || {
                    format!("put at {header_rev}, want {rev}")
                });
                let want_prev = if p.prev_kv { prev } else { None };
                oracle(resp.prev_kv == want_prev, || {
                    format!("put prev_kv {:?}, want {want_prev:?}", resp.prev_kv)
                });
                let now = self.model.live().get(&p.key);
                oracle(now == Some(&want), || {
                    format!("after put: {now:?}, want {want:?}")
                });
            }
            (Err(e), Err(w)) if e == w => {}
            (got, want) => oracle(false, || format!("put {p:?}: got {got:?}, want {want:?}")),
        }
    }

    fn delete_range(&mut self, d: &DeleteRangeRequest, out: &mut Outcomes) {
        if let Err(e) = validate::check_delete(d) {
            out.add_err("DeleteRange: invalid", &e);
            return;
        }
        let before = self.model.current();
        let doomed: Vec<KeyValue> = Model::in_range(self.model.live(), &d.key, &d.range_end)
            .into_iter()
            .cloned()
            .collect();
        let kv = self.kv.clone();
        let mut txn = kv.write();
        let lessor = self.lessor.clone();
        let mut edits = LeaseEdits::new(lessor.as_ref());
        let got = apply::kv::delete_range(&mut txn, &mut edits, d);
        out.add_result("DeleteRange", &got);
        let resp = match got {
            Ok(resp) => resp,
            Err(e) => return oracle(false, || format!("delete {d:?} failed: {e:?}")),
        };
        let mut batch = WriteBatch::new();
        let staged = txn.stage(&mut batch);
        self.commit(staged, batch);
        edits.into_moves().apply(lessor.as_ref());
        oracle(resp.deleted == doomed.len() as i64, || {
            format!("deleted {}, want {}", resp.deleted, doomed.len())
        });
        let want_prev = if d.prev_kv {
            doomed.clone()
        } else {
            Vec::new()
        };
        oracle(resp.prev_kvs == want_prev, || {
            format!("delete prev_kvs {:?}, want {want_prev:?}", resp.prev_kvs)
        });
        let want_rev = if doomed.is_empty() {
            before
        } else {
            before + 1
        };
        let header_rev = resp.header.as_ref().map_or(0, |h| h.revision);
        oracle(header_rev == want_rev, || {
            format!("delete at {header_rev}, want {want_rev}")
        });
        let left = doomed
            .iter()
            .filter(|kv| self.model.live().contains_key(&kv.key[..]))
            .count();
        oracle(left == 0, || format!("{left} deleted keys still live"));
    }

    fn txn(&mut self, t: &TxnRequest, out: &mut Outcomes) {
        if let Err(e) = validate::check_txn(t, MAX_TXN_OPS) {
            out.add_err("Txn: invalid", &e);
            return;
        }
        if apply::txn::is_read_only(t) {
            let got = apply::txn::read_only(&self.kv, t);
            out.add_result("Txn (read-only)", &got);
            if let Ok(resp) = &got {
                let rev = resp.header.as_ref().map_or(0, |h| h.revision);
                let current = self.model.current();
                oracle(rev == current, || {
                    format!("read-only txn at {rev}, current {current}")
                });
            }
            return;
        }
        if self.nospace() && txn_has_put(t) {
            out.add("Txn: NoSpace");
            return;
        }
        let kv = self.kv.clone();
        let mut txn = kv.write();
        let lessor = self.lessor.clone();
        let mut edits = LeaseEdits::new(lessor.as_ref());
        let got = apply::txn::apply(&mut txn, &mut edits, t);
        out.add_result("Txn", &got);
        if let Ok(resp) = got {
            let mut batch = WriteBatch::new();
            let staged = txn.stage(&mut batch);
            let changes = self.commit(staged, batch);
            edits.into_moves().apply(lessor.as_ref());
            let rev = resp.header.as_ref().map_or(0, |h| h.revision);
            oracle(rev == changes.revision, || {
                format!("txn header at {rev}, published {}", changes.revision)
            });
        }
    }

    fn compact(&mut self, c: &CompactionRequest, out: &mut Outcomes) {
        let want = if c.revision <= self.model.compacted {
            Err(ReadError::Compacted)
        } else if c.revision > self.model.current() {
            Err(ReadError::Future)
        } else {
            Ok(())
        };
        let mut batch = WriteBatch::new();
        let got = self.kv.compact(c.revision, &mut batch);
        out.add_result("Compaction", &got);
        match (got, want) {
            (Ok(job), Ok(())) => {
                self.write(batch);
                let run = job.run();
                out.add_result("Compaction run", &run);
                self.model.compacted = c.revision;
            }
            (Err(MvccError::Compacted), Err(ReadError::Compacted))
            | (Err(MvccError::FutureRevision), Err(ReadError::Future)) => {}
            (got, want) => oracle(false, || {
                format!("compact {}: got {got:?}, want {want:?}", c.revision)
            }),
        }
    }

    fn lease_grant(&mut self, g: &LeaseGrantRequest, out: &mut Outcomes) {
        if g.ttl > MAX_LEASE_TTL {
            out.add("LeaseGrant: TTL too large");
            return;
        }
        if self.nospace() {
            out.add("LeaseGrant: NoSpace");
            return;
        }
        let id = if g.id == 0 {
            self.next_lease += 1;
            self.next_lease
        } else {
            g.id
        };
        let mut batch = WriteBatch::new();
        let got = self.lessor.grant(id, g.ttl, &mut batch);
        out.add_result("LeaseGrant", &got);
        if got.is_ok() {
            self.write(batch);
        }
    }

    /// The live keys that carry lease `id`, in key order.
    fn keys_of(&self, id: i64) -> Vec<Vec<u8>> {
        self.model
            .live()
            .values()
            .filter(|kv| kv.lease == id)
            .map(|kv| kv.key.to_vec())
            .collect()
    }

    fn lease_revoke(&mut self, id: i64, what: &str, out: &mut Outcomes) {
        let attached = self.keys_of(id);
        let mut batch = WriteBatch::new();
        let got = self.lessor.revoke(id, &mut batch);
        out.add_result(what, &got);
        let Ok(keys) = got else { return };
        oracle(keys == attached, || {
            format!("revoke of {id:#x} deletes {keys:?}, keys carrying it: {attached:?}")
        });
        let kv = self.kv.clone();
        let mut txn = kv.write();
        for key in &keys {
            if let Err(e) = txn.delete_range(key, &[]) {
                return oracle(false, || format!("revoke delete of {key:?}: {e:?}"));
            }
        }
        let staged = txn.stage(&mut batch);
        self.commit(staged, batch);
        let left = self.keys_of(id);
        oracle(left.is_empty(), || {
            format!("keys {left:?} outlive lease {id:#x}")
        });
    }

    fn lease_ttl(&mut self, r: &LeaseTimeToLiveRequest, out: &mut Outcomes) {
        let got = self.lessor.time_to_live(r.id, r.keys);
        out.add(match &got {
            Some(_) => "LeaseTimeToLive: found",
            None => "LeaseTimeToLive: not found",
        });
        if let Some(ttl) = got {
            if r.keys {
                let want = self.keys_of(r.id);
                oracle(ttl.keys == want, || {
                    format!(
                        "lease {:#x} reports keys {:?}, want {want:?}",
                        r.id, ttl.keys
                    )
                });
            }
        }
    }

    fn alarm(&mut self, a: &AlarmRequest, out: &mut Outcomes) {
        let action = AlarmAction::try_from(a.action).unwrap_or(AlarmAction::Get);
        let mut batch = WriteBatch::new();
        let alarms = match action {
            AlarmAction::Get => self.alarms.list(a.member_id, a.alarm),
            AlarmAction::Activate => self.alarms.activate(a.member_id, a.alarm, &mut batch),
            AlarmAction::Deactivate => self.alarms.deactivate(a.member_id, a.alarm, &mut batch),
        };
        self.write(batch);
        out.add(match (action, alarms.is_empty()) {
            (AlarmAction::Get, true) => "Alarm get: none",
            (AlarmAction::Get, false) => "Alarm get: some",
            (AlarmAction::Activate, _) => "Alarm: activate",
            (AlarmAction::Deactivate, _) => "Alarm: deactivate",
        });
    }

    fn hash_kv(&mut self, h: &HashKvRequest, out: &mut Outcomes) {
        let got = self.kv.hash_kv(h.revision);
        out.add_result("HashKV", &got);
        let (current, compacted) = (self.model.current(), self.model.compacted);
        let want_err = if h.revision > 0 && h.revision > current {
            Some("future")
        } else if h.revision > 0 && h.revision < compacted {
            Some("compacted")
        } else {
            None
        };
        match (&got, want_err) {
            (Ok(hk), None) => {
                let want_rev = if h.revision <= 0 { current } else { h.revision };
                oracle(
                    hk.hash_revision == want_rev && hk.current_revision == current,
                    || format!("hashkv {hk:?} for {}, current {current}", h.revision),
                );
            }
            (Err(MvccError::FutureRevision), Some("future"))
            | (Err(MvccError::Compacted), Some("compacted")) => {}
            _ => oracle(false, || {
                format!("hashkv {}: got {got:?}, want {want_err:?}", h.revision)
            }),
        }
    }

    /// The end-of-input checks (see the module docs): watchers, then a reopen of the
    /// store and the lessor from the backend.
    pub fn finish(mut self, out: &mut Outcomes) {
        if let Some(w) = self.watch.take() {
            w.finish(&self.log, self.model.compacted, out);
        }
        let dynb: Arc<dyn Backend> = self.backend.clone();
        let reopened = match KvStore::open(dynb.clone()) {
            Ok(kv) => kv,
            Err(e) => return oracle(false, || format!("reopening the store failed: {e:?}")),
        };
        let (current, compacted) = (self.model.current(), self.model.compacted);
        oracle(
            reopened.current_revision() == current && reopened.compacted_revision() == compacted,
            || {
                format!(
                    "reopened at {}/{} (current/compacted), was {current}/{compacted}",
                    reopened.current_revision(),
                    reopened.compacted_revision()
                )
            },
        );
        for rev in compacted.max(1)..=current {
            let all = RangeRequest {
                key: vec![0],
                range_end: vec![0],
                revision: rev,
                ..Default::default()
            };
            let a = self.kv.range(&all).map(|r| r.kvs);
            let b = reopened.range(&all).map(|r| r.kvs);
            let want: Vec<KeyValue> = self.model.at(rev).values().cloned().collect();
            match (&a, &b) {
                (Ok(a), Ok(b)) if *a == want && *b == want => {}
                _ => oracle(false, || {
                    format!("at {rev}: store {a:?}, reopened {b:?}, model {want:?}")
                }),
            }
        }
        let (h1, h2) = (self.kv.hash_kv(0), reopened.hash_kv(0));
        oracle(matches!((&h1, &h2), (Ok(a), Ok(b)) if a == b), || {
            format!("hashkv before/after reopen: {h1:?} / {h2:?}")
        });
        let mut attached = reopened.take_lease_attachments();
        attached.sort();
        let mut want: Vec<(Vec<u8>, i64)> = self
            .model
            .live()
            .values()
            .filter(|kv| kv.lease != 0)
            .map(|kv| (kv.key.to_vec(), kv.lease))
            .collect();
        want.sort();
        oracle(attached == want, || {
            format!("reopened lease attachments {attached:?}, want {want:?}")
        });
        for (key, lease) in &want {
            oracle(self.lessor.exists(*lease), || {
                format!("key {key:?} carries lease {lease:#x}, which is gone")
            });
        }
        match Lessor::open(dynb, LessorConfig::default()) {
            Ok(l) => {
                let mut a = l.leases();
                let mut b = self.lessor.leases();
                a.sort_unstable();
                b.sort_unstable();
                oracle(a == b, || format!("reopened leases {a:?}, had {b:?}"));
            }
            Err(e) => oracle(false, || format!("reopening the lessor failed: {e:?}")),
        }
        out.add("finish: consistent");
    }
}

/// Whether a txn writes a value on either branch (nested txns included), as the apply
/// path's NOSPACE check asks.
fn txn_has_put(t: &TxnRequest) -> bool {
    t.success
        .iter()
        .chain(t.failure.iter())
        .any(|op| match &op.request {
            Some(request_op::Request::RequestPut(_)) => true,
            Some(request_op::Request::RequestTxn(t)) => txn_has_put(t),
            _ => false,
        })
}

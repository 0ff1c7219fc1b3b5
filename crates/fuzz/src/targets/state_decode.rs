//! `state-decode`: the durable state read back at startup, from arbitrary bytes.
//!
//! The frames of an input are backend records written into a fresh [`MemBackend`]
//! ([`Record`]), then everything the server reads when it opens a data directory is
//! opened over it, in bootstrap's order: the applied index, the membership table, the
//! MVCC store, the lessor (and its re-attached keys), the alarms, and the raft log store.
//! Each must answer `Ok` or `Err`, never panic. What opens is then used the way a
//! recovered member uses it: ranges at every revision, hashes, history, a write, a
//! compaction and a reload; a promoted lessor's expiries and checkpoints; the log
//! store's terms and entries, and a real [`RaftNode::start`] over it (raft-rs checks the
//! restored state and may refuse it; it must not panic either), stopped at once.

use std::sync::Arc;
use std::time::Duration;

use oxcd_backend::{Backend, Column, MemBackend, WriteBatch};
use oxcd_lease::{Lessor, LessorConfig, ManualClock};
use oxcd_mvcc::{KvStore, Revision};
use oxcd_proto::etcdserverpb::{range_request::SortOrder, Member, RangeRequest};
use oxcd_raftlog::{
    Applier, ApplyError, Committed, ConfChange, NullTransport, RaftConfig, RaftNode, RocksLogStore,
};
use oxcd_server::apply::{alarm::AlarmStore, load_applied_index};
use oxcd_server::members::Members;
use raft::{GetEntriesContext, Storage};

use crate::frames::Frames;
use crate::outcome::Outcomes;
use crate::targets::{Target, MAX_INPUT};

/// The target.
pub const TARGET: Target = Target {
    name: "state-decode",
    run,
    max_len: MAX_INPUT,
    dict: DICT,
    heavy: false,
    min_timeout: std::time::Duration::from_secs(10),
    seeds: crate::seeds::state::seeds,
};

/// The keys with a fixed name that startup reads ([`Record::Known`] indexes this).
pub const KNOWN_KEYS: [(Column, &[u8]); 9] = [
    (Column::Meta, oxcd_server::apply::APPLIED_INDEX_KEY),
    (Column::Meta, b"scheduledCompactRev"),
    (Column::Meta, b"finishedCompactRev"),
    (Column::Meta, b"cluster_id"),
    (Column::Meta, oxcd_server::members::LOCAL_ID_KEY),
    (Column::RaftLog, b"s/hard_state"),
    (Column::RaftLog, b"s/conf_state"),
    (Column::RaftLog, b"s/conf_index"),
    (Column::RaftLog, b"s/truncated"),
];

const DICT: &[&[u8]] = &[
    b"s/hard_state",
    b"s/conf_state",
    b"s/truncated",
    b"_",
    b"t",
    b"e",
];

/// Frame tags of the record kinds (`tag % 10`).
pub mod tag {
    /// Tags `0..=6`: a raw record of `Column::ALL[tag]`: `[key len: u8][key][value]`.
    pub const RAW_FIRST: u8 = 0;
    /// A value under one of [`super::KNOWN_KEYS`]: `[index: u8][value]`.
    pub const KNOWN: u8 = 7;
    /// An MVCC revision: `[main: i64 BE][sub: u8][tombstone: u8][encoded KeyValue]`.
    pub const REVISION: u8 = 8;
    /// A raft log entry: `[index: u64 BE][encoded eraftpb.Entry]`.
    pub const ENTRY: u8 = 9;
}

/// One backend record, decoded from a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The column.
    pub col: Column,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

impl Record {
    /// Decodes one frame (see [`tag`]).
    pub fn from_frame(t: u8, p: &[u8]) -> Record {
        match t % 10 {
            tag::KNOWN => {
                let (i, value) = p.split_first().map_or((0, &[][..]), |(i, v)| (*i, v));
                let (col, key) = KNOWN_KEYS[usize::from(i) % KNOWN_KEYS.len()];
                Record {
                    col,
                    key: key.to_vec(),
                    value: value.to_vec(),
                }
            }
            tag::REVISION => {
                let mut head = [0u8; 10];
                let n = p.len().min(10);
                head[..n].copy_from_slice(&p[..n]);
                let main = i64::from_be_bytes(head[..8].try_into().unwrap_or_default());
                let rev = Revision::new(main, i64::from(head[8]));
                Record {
                    col: Column::Kv,
                    key: rev.to_key(head[9] & 1 == 1),
                    value: p[n..].to_vec(),
                }
            }
            tag::ENTRY => {
                let mut idx = [0u8; 8];
                let n = p.len().min(8);
                idx[..n].copy_from_slice(&p[..n]);
                let mut key = vec![b'e'];
                key.extend_from_slice(&idx);
                Record {
                    col: Column::RaftLog,
                    key,
                    value: p[n..].to_vec(),
                }
            }
            raw => {
                let col = Column::ALL[usize::from(raw)];
                let (klen, rest) = p.split_first().map_or((0, &[][..]), |(l, r)| (*l, r));
                let klen = usize::from(klen).min(rest.len());
                Record {
                    col,
                    key: rest[..klen].to_vec(),
                    value: rest[klen..].to_vec(),
                }
            }
        }
    }
}

/// Runs one input (see the module docs).
pub fn run(data: &[u8], out: &mut Outcomes) {
    let backend = Arc::new(MemBackend::new());
    let mut batch = WriteBatch::new();
    for (t, p) in Frames::new(data) {
        let r = Record::from_frame(t, p);
        batch.put(r.col, r.key, r.value);
    }
    backend.write(batch, false).expect("MemBackend write");
    let dynb: Arc<dyn Backend> = backend.clone();

    let applied = load_applied_index(backend.as_ref());
    out.add_result("applied index", &applied);
    let me = Member {
        id: 1,
        name: "fuzz".into(),
        peer_ur_ls: vec!["http://127.0.0.1:2380".into()],
        client_ur_ls: Vec::new(),
        is_learner: false,
    };
    let members = Members::load_or_bootstrap(backend.as_ref(), vec![me], 7, 1);
    out.add_result("Members::load_or_bootstrap", &members);
    if let Ok(m) = &members {
        let _ = (m.list(), m.cluster_id(), m.peer_urls(1), m.is_removed(2));
    }

    let kv = KvStore::open(dynb.clone());
    out.add_result("KvStore::open", &kv);
    let attachments = kv.as_ref().map(|kv| kv.take_lease_attachments()).ok();
    if let Ok(kv) = &kv {
        use_store(kv, backend.as_ref(), out);
    }
    open_lessor(dynb.clone(), attachments.unwrap_or_default(), out);
    let alarms = AlarmStore::load(backend.as_ref());
    out.add_result("AlarmStore::load", &alarms);
    if let Ok(a) = &alarms {
        let _ = (a.has_nospace(), a.any(), a.list(0, 0));
    }
    let log = RocksLogStore::open(dynb);
    out.add_result("RocksLogStore::open", &log);
    if let Ok(log) = log {
        use_log(&log, out);
        start_raft(log, applied.unwrap_or(0), out);
    }
}

/// Uses a recovered MVCC store the way a member does.
fn use_store(kv: &KvStore, backend: &dyn Backend, out: &mut Outcomes) {
    let (current, compacted) = (kv.current_revision(), kv.compacted_revision());
    let all = |revision: i64| RangeRequest {
        key: vec![0],
        range_end: vec![0],
        revision,
        ..Default::default()
    };
    out.add_result("recovered range", &kv.range(&all(0)));
    let sorted = RangeRequest {
        limit: 2,
        sort_order: SortOrder::Descend as i32,
        sort_target: 4,
        ..all(0)
    };
    out.add_result("recovered sorted range", &kv.range(&sorted));
    let counted = RangeRequest {
        count_only: true,
        ..all(0)
    };
    let _ = kv.range(&counted);
    let lo = compacted.max(1);
    let hi = current.min(lo.saturating_add(8));
    for rev in lo..=hi {
        let _ = kv.range(&all(rev));
    }
    out.add_result("recovered hash", &kv.hash_with_revision());
    out.add_result("recovered hashkv", &kv.hash_kv(0));
    out.add_result("recovered history", &kv.events_since(&[0], &[0], 0, 64));

    let mut txn = kv.write();
    // A put reads only the index, never the damaged values: it cannot fail.
    txn.put(b"fuzz", b"v", 0);
    let del = txn.delete_range(&[0], &[0]);
    out.add_result("recovered delete", &del);
    let mut batch = WriteBatch::new();
    let staged = txn.stage(&mut batch);
    backend.write(batch, false).expect("MemBackend write");
    staged.publish();
    out.add_result("range after write", &kv.range(&all(0)));

    let mut batch = WriteBatch::new();
    let job = kv.compact(kv.current_revision(), &mut batch);
    out.add_result("recovered compact", &job);
    if let Ok(job) = job {
        out.add_result("recovered compaction run", &job.run());
    }
    out.add_result("recovered reload", &kv.reload());
}

/// Opens the lessor, re-attaches the store's keys and runs it as the primary.
fn open_lessor(backend: Arc<dyn Backend>, attachments: Vec<(Vec<u8>, i64)>, out: &mut Outcomes) {
    let clock = Arc::new(ManualClock::new());
    let lessor = Lessor::open_with_clock(backend.clone(), LessorConfig::default(), clock.clone());
    out.add_result("Lessor::open", &lessor);
    let Ok(lessor) = lessor else { return };
    for (key, lease) in attachments.iter().take(256) {
        let _ = lessor.attach(*lease, key);
    }
    lessor.promote(Duration::from_secs(1));
    let ids = lessor.leases();
    for &id in ids.iter().take(64) {
        let _ = lessor.time_to_live(id, true);
        let _ = lessor.renew(id);
    }
    for step in [1, 60, 3600, 86_400 * 365] {
        clock.advance(Duration::from_secs(step));
        let expired = lessor.expired(64);
        let due = lessor.checkpoints_due(64);
        let mut batch = WriteBatch::new();
        for (id, remaining) in due {
            lessor.apply_checkpoint(id, remaining, &mut batch);
        }
        for id in expired {
            let _ = lessor.revoke(id, &mut batch);
        }
    }
    lessor.demote();
    out.add_result("Lessor::recover", &lessor.recover(backend.as_ref()));
}

/// Reads what the raft loop reads from a recovered log store.
fn use_log(log: &RocksLogStore, out: &mut Outcomes) {
    let (Ok(first), Ok(last)) = (log.first_index(), log.last_index()) else {
        return;
    };
    let _ = log.initial_state();
    let hi = last.min(first.saturating_add(64));
    for idx in first.saturating_sub(1)..=hi {
        let _ = log.term(idx);
    }
    if first <= hi {
        let got = log.entries(
            first,
            hi + 1,
            Some(1 << 20),
            GetEntriesContext::empty(false),
        );
        out.add_result("log entries", &got);
    }
    let _ = log.snapshot(0, 0);
}

/// An applier that accepts everything (the state machine is not under test here).
struct NullApplier {
    applied: u64,
}

impl Applier for NullApplier {
    fn apply(&mut self, entries: &[Committed<'_>]) -> Result<(), ApplyError> {
        if let Some(e) = entries.last() {
            self.applied = e.index;
        }
        Ok(())
    }

    fn applied_index(&self) -> u64 {
        self.applied
    }

    fn apply_conf_change(&mut self, index: u64, _: u64, _: &ConfChange) -> Result<(), ApplyError> {
        self.applied = index;
        Ok(())
    }

    fn persist(&mut self) -> Result<(), ApplyError> {
        Ok(())
    }

    fn restore(&mut self, index: u64, _term: u64) -> Result<(), ApplyError> {
        self.applied = index;
        Ok(())
    }
}

/// Starts raft over the recovered log as the server does, then stops it.
fn start_raft(log: RocksLogStore, applied: u64, out: &mut Outcomes) {
    let id = log
        .initial_state()
        .ok()
        .and_then(|s| s.conf_state.voters.first().copied())
        .filter(|&id| id != 0)
        .unwrap_or(1);
    let config = RaftConfig {
        id,
        voters: Vec::new(),
        ..RaftConfig::default()
    };
    let started = RaftNode::start(
        config,
        log,
        NullApplier { applied },
        Arc::new(NullTransport),
    );
    out.add_result("RaftNode::start", &started);
    let Ok((handle, thread)) = started else {
        return;
    };
    futures::executor::block_on(handle.shutdown());
    drop(handle);
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

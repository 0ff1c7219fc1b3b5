//! [`WriteTxn`], [`Staged`] and [`Changes`]: one write transaction = one main revision.

use std::collections::BTreeMap;

use oxcd_backend::{Column, WriteBatch};
use oxcd_proto::etcdserverpb::RangeRequest;
use oxcd_proto::mvccpb::{event::EventType, Event, KeyValue};
use parking_lot::{Condvar, Mutex};
use prost::Message;

use crate::error::Result;
use crate::key_index::LiveKey;
use crate::read::RangeResult;
use crate::revision::Revision;
use crate::store::{KvStore, TxnView, View};

/// A write transaction's latest value per touched key (`None` = deleted).
pub(crate) type Overlay = BTreeMap<Vec<u8>, Option<KeyValue>>;

/// Admits one writer at a time.
#[derive(Default)]
pub(crate) struct WriterSlot {
    busy: Mutex<bool>,
    freed: Condvar,
}

/// Holds the writer slot until dropped.
struct WriterGuard<'a>(&'a WriterSlot);

impl<'a> WriterGuard<'a> {
    fn acquire(slot: &'a WriterSlot) -> Self {
        let mut busy = slot.busy.lock();
        while *busy {
            slot.freed.wait(&mut busy);
        }
        *busy = true;
        WriterGuard(slot)
    }
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        *self.0.busy.lock() = false;
        self.0.freed.notify_one();
    }
}

/// One change of a transaction; its sub revision is its position.
#[derive(Debug, Clone)]
struct Change {
    /// The new value, or for a delete `{key, mod_revision}`.
    kv: KeyValue,
    tombstone: bool,
    /// The deleted value (deletes only: a put does not read what it replaces).
    prev: Option<KeyValue>,
}

/// What a put replaced, without the value's bytes: enough to carry the version and create
/// revision over and to move the key's lease attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replaced {
    /// The replaced value's create revision.
    pub create_revision: i64,
    /// The revision that wrote the replaced value.
    pub mod_revision: i64,
    /// The replaced value's version.
    pub version: i64,
    /// The lease the replaced value was attached to (0 = none).
    pub lease: i64,
}

impl From<&KeyValue> for Replaced {
    fn from(kv: &KeyValue) -> Self {
        Replaced {
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
        }
    }
}

impl From<LiveKey> for Replaced {
    fn from(live: LiveKey) -> Self {
        Replaced {
            create_revision: live.entry.create_revision,
            mod_revision: live.entry.modified.main,
            version: live.entry.version,
            lease: live.lease,
        }
    }
}

/// What a published transaction changed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Changes {
    /// The transaction's revision, or the unchanged current revision if it changed nothing.
    pub revision: i64,
    /// One event per change in sub-revision order. DELETE events carry `kv = {key,
    /// mod_revision}` and the deleted value as `prev_kv`. PUT EVENTS CARRY NO `prev_kv`:
    /// a put does not read the value it replaces, so a consumer that needs it (a watcher
    /// with `prev_kv`) reads the key at `mod_revision - 1`, as etcd's watch server does.
    pub events: Vec<Event>,
}

/// A write transaction: every change gets main revision `current + 1` and the next sub
/// revision. Reads through it see its own writes. Dropping it discards everything.
pub struct WriteTxn<'a> {
    store: &'a KvStore,
    writer: WriterGuard<'a>,
    revision: i64,
    changes: Vec<Change>,
    overlay: Overlay,
}

impl std::fmt::Debug for WriteTxn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTxn")
            .field("revision", &self.revision)
            .field("changes", &self.changes.len())
            .finish()
    }
}

impl<'a> WriteTxn<'a> {
    pub(crate) fn new(store: &'a KvStore) -> Self {
        let writer = WriterGuard::acquire(&store.shared.writer);
        // Only the writer moves the current revision, so it is fixed from here on.
        let revision = store.current_revision() + 1;
        WriteTxn {
            store,
            writer,
            revision,
            changes: Vec::new(),
            overlay: Overlay::new(),
        }
    }

    /// The revision this transaction publishes if it changes anything.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Whether nothing has been changed yet.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    fn view(&self) -> View<'_> {
        if self.changes.is_empty() {
            return View::Published;
        }
        View::Txn(TxnView {
            revision: self.revision,
            overlay: &self.overlay,
        })
    }

    /// The latest value of `key`, including this transaction's own writes.
    pub fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        match self.overlay.get(key) {
            Some(own) => Ok(own.clone()),
            None => self.store.shared.latest(key),
        }
    }

    /// A range as [`KvStore::range`] serves it, but reading this transaction's own writes
    /// at its revision (etcd: a range after a put in the same Txn reads at rev + 1). The
    /// result's `revision` is the transaction's revision once it has changes.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResult> {
        self.store.shared.range_view(req, self.view())
    }

    /// Puts `key = value` with `lease` (0 = none) and returns what it replaced, as this
    /// transaction sees it. The version and create revision carry over within a
    /// generation; a new (or re-created) key starts at version 1. The replaced value itself
    /// is not read: a caller that needs it calls [`WriteTxn::get`] first.
    pub fn put(&mut self, key: &[u8], value: &[u8], lease: i64) -> Option<Replaced> {
        let prev = match self.overlay.get(key) {
            Some(own) => own.as_ref().map(Replaced::from),
            None => self
                .store
                .shared
                .state
                .read()
                .index
                .live(key)
                .map(Replaced::from),
        };
        let (create_revision, version) = match &prev {
            Some(p) => (p.create_revision, p.version + 1),
            None => (self.revision, 1),
        };
        let kv = KeyValue {
            key: key.to_vec().into(),
            create_revision,
            mod_revision: self.revision,
            version,
            value: value.to_vec().into(),
            lease,
        };
        self.overlay.insert(key.to_vec(), Some(kv.clone()));
        self.changes.push(Change {
            kv,
            tombstone: false,
            prev: None,
        });
        prev
    }

    /// Deletes every live key in `key`/`range_end` (etcd conventions, see
    /// [`crate::KeyRange::new`]) and returns the deleted key-values in key order.
    pub fn delete_range(&mut self, key: &[u8], range_end: &[u8]) -> Result<Vec<KeyValue>> {
        let req = RangeRequest {
            key: key.to_vec(),
            range_end: range_end.to_vec(),
            ..Default::default()
        };
        let deleted = self.range(&req)?.kvs;
        for prev in &deleted {
            self.overlay.insert(prev.key.to_vec(), None);
            self.changes.push(Change {
                kv: KeyValue {
                    key: prev.key.clone(),
                    mod_revision: self.revision,
                    ..Default::default()
                },
                tombstone: true,
                prev: Some(prev.clone()),
            });
        }
        Ok(deleted)
    }

    /// Writes this transaction's revisions into `batch` (`Column::Kv`, revision key ->
    /// encoded `KeyValue`). The caller adds its own state (applied index, leases...) to the
    /// same batch, writes it, and then MUST call [`Staged::publish`].
    pub fn stage(self, batch: &mut WriteBatch) -> Staged<'a> {
        for (sub, change) in self.changes.iter().enumerate() {
            let rev = Revision::new(self.revision, sub as i64);
            // A tombstone stores only its key, as etcd's (readers take the revision from
            // the backend key): the same bytes make HashKV and snapshots etcd's.
            let value = if change.tombstone {
                KeyValue {
                    key: change.kv.key.clone(),
                    ..Default::default()
                }
                .encode_to_vec()
            } else {
                change.kv.encode_to_vec()
            };
            batch.put(Column::Kv, rev.to_key(change.tombstone), value);
        }
        Staged {
            store: self.store,
            _writer: self.writer,
            revision: self.revision,
            changes: self.changes,
        }
    }
}

/// A transaction whose revisions are in the caller's batch but not yet visible.
/// Still holds the writer slot; dropping it discards the transaction in memory.
pub struct Staged<'a> {
    store: &'a KvStore,
    _writer: WriterGuard<'a>,
    revision: i64,
    changes: Vec<Change>,
}

impl std::fmt::Debug for Staged<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("revision", &self.revision)
            .field("changes", &self.changes.len())
            .finish()
    }
}

impl Staged<'_> {
    /// The revision [`Staged::publish`] will make current (unless there are no changes).
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Makes the revision visible to readers, atomically: index and current revision move
    /// together under one lock. Call only after the batch was written.
    pub fn publish(self) -> Changes {
        if self.changes.is_empty() {
            return Changes {
                revision: self.revision - 1,
                events: Vec::new(),
            };
        }
        {
            let mut st = self.store.shared.state.write();
            for (sub, change) in self.changes.iter().enumerate() {
                let rev = Revision::new(self.revision, sub as i64);
                if !change.tombstone {
                    st.index.put(&change.kv.key, rev, change.kv.lease);
                } else if !st.index.tombstone(&change.kv.key, rev) {
                    tracing::error!(
                        revision = self.revision,
                        "mvcc: tombstone of a key that is not live"
                    );
                }
            }
            st.current = self.revision;
        }
        let events = self
            .changes
            .into_iter()
            .map(|c| Event {
                r#type: if c.tombstone {
                    EventType::Delete
                } else {
                    EventType::Put
                } as i32,
                kv: Some(c.kv),
                prev_kv: c.prev,
            })
            .collect();
        Changes {
            revision: self.revision,
            events,
        }
    }
}

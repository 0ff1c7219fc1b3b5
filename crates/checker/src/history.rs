//! What the robustness runner records: client operations with their invoke and return times,
//! and every watch response the watchers received.
//!
//! Times are nanoseconds on one monotonic clock shared by every client of a run. Values
//! written by puts are unique within a run (the runner writes `"<client>.<seq>"`), which is
//! what lets the checkers tell writes apart.

/// A key-value pair as a response carried it (etcd's `mvccpb.KeyValue`, minus the key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kv {
    /// The value.
    pub value: Vec<u8>,
    /// The revision of the last change to the key.
    pub mod_revision: i64,
    /// The revision that created the key.
    pub create_revision: i64,
    /// Number of changes since creation.
    pub version: i64,
    /// The attached lease, 0 for none.
    pub lease: i64,
}

/// What a client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `Put(key, value)` with `prev_kv`, optionally with a lease.
    Put {
        /// The key.
        key: Vec<u8>,
        /// The (run-unique) value.
        value: Vec<u8>,
        /// The lease to attach, 0 for none.
        lease: i64,
    },
    /// `Range(key)` for one key.
    Get {
        /// The key.
        key: Vec<u8>,
        /// Serializable (served from the member's local state) rather than linearizable.
        serializable: bool,
    },
    /// `DeleteRange(key)` for one key, with `prev_kv`.
    Delete {
        /// The key.
        key: Vec<u8>,
    },
    /// `Txn(mod_revision(key) == expect) then Put(key, value) else Get(key)`.
    Cas {
        /// The key.
        key: Vec<u8>,
        /// The expected mod revision (0: the key must not exist).
        expect_mod_revision: i64,
        /// The (run-unique) value written on success.
        value: Vec<u8>,
    },
    /// `LeaseGrant(ttl)`.
    LeaseGrant {
        /// Seconds.
        ttl: i64,
    },
    /// `LeaseRevoke(id)`: the keys attached to it are deleted in one revision.
    LeaseRevoke {
        /// The lease.
        id: i64,
    },
}

/// What the client got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No answer, or an error after which the request may or may not have been applied
    /// (a timeout, a lost connection, "request timed out"). Writes with this outcome may
    /// take effect at any time after their invoke, or never.
    Unknown,
    /// An error that proves the request was not applied (for example "lease not found"
    /// returned by the apply path, or a rejection before proposing).
    Failed(String),
    /// A put succeeded.
    Put {
        /// `header.revision`: the put's revision.
        revision: i64,
        /// `prev_kv`.
        prev: Option<Kv>,
    },
    /// A get succeeded.
    Get {
        /// `header.revision`: the revision of the snapshot the read was served from.
        revision: i64,
        /// The key's value then, `None` if it did not exist.
        kv: Option<Kv>,
    },
    /// A delete succeeded.
    Delete {
        /// `header.revision`: the delete's revision if it deleted something, otherwise the
        /// store revision it observed.
        revision: i64,
        /// The deleted key-value (`prev_kvs`), `None` if the key did not exist.
        prev: Option<Kv>,
    },
    /// A compare-and-swap txn succeeded (as an RPC).
    Cas {
        /// `header.revision`: the txn's revision if it wrote, otherwise the revision it read.
        revision: i64,
        /// `succeeded`: whether the compare held and the put ran.
        succeeded: bool,
        /// On failure, the failure branch's Get of the key (`None` if it did not exist).
        current: Option<Kv>,
    },
    /// A lease was granted.
    LeaseGrant {
        /// The lease ID.
        id: i64,
        /// `header.revision`.
        revision: i64,
    },
    /// A lease was revoked.
    LeaseRevoke {
        /// `header.revision`.
        revision: i64,
    },
}

/// One client operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// The client that issued it (a client issues one operation at a time).
    pub client: usize,
    /// The member it was sent to.
    pub member: usize,
    /// When the request was sent.
    pub invoke: u64,
    /// When the answer arrived; `None` with [`Outcome::Unknown`] (treated as "never").
    pub ret: Option<u64>,
    /// The request.
    pub call: Call,
    /// The answer.
    pub outcome: Outcome,
}

/// The kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A put.
    Put,
    /// A delete (by DeleteRange, a lease revoke or expiry).
    Delete,
}

/// One watch event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// The key.
    pub key: Vec<u8>,
    /// For a put, the new key-value; for a delete, the value is empty and `mod_revision`
    /// is the delete's revision.
    pub kv: Kv,
    /// The previous key-value (the watch asks for `prev_kv`).
    pub prev: Option<Kv>,
}

/// One response on a watch stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchResponse {
    /// When it arrived.
    pub at: u64,
    /// `header.revision`.
    pub revision: i64,
    /// The events, in order (empty for a progress notification).
    pub events: Vec<Event>,
    /// A progress notification (a bookmark): no events, `revision` is the store revision
    /// up to which the watcher has seen everything.
    pub progress: bool,
    /// The watch was canceled (compaction: `compact_revision` > 0).
    pub canceled: bool,
    /// `compact_revision` of a cancel.
    pub compact_revision: i64,
}

/// One (re)connection of a watcher: a Watch created with `start_revision`, and what it got
/// until the stream broke or the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSession {
    /// The member it was connected to.
    pub member: usize,
    /// The requested start revision (the last revision seen + 1 on a resume).
    pub start_revision: i64,
    /// The responses, in arrival order.
    pub responses: Vec<WatchResponse>,
}

/// A long-lived watcher over the whole key space of a run: its sessions in order. A watcher
/// resumes each new session from the revision after the last event it delivered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Watcher {
    /// The sessions, in order.
    pub sessions: Vec<WatchSession>,
}

/// Everything recorded in one run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    /// Every client operation.
    pub ops: Vec<Op>,
    /// Every watcher (each watches the run's whole key prefix with `prev_kv` and progress
    /// notifications).
    pub watchers: Vec<Watcher>,
    /// The store revision before the run's first operation; the watchers start at
    /// `base_revision + 1`, so their events cover every change of the run.
    pub base_revision: i64,
}

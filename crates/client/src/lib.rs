//! oxcd-client: an async Rust client of etcd v3 compatible servers (oxcd and etcd), over
//! the `oxcd-proto` tonic clients.
//!
//! This crate owns the client side of the etcd v3 API: endpoints and failover, the auth
//! token and its renewal, the retry rules of Go's clientv3 3.4, option and transaction
//! builders for KV, a lease keeper and a watch that resumes across broken connections.
//! Responses are the generated protobuf types, re-exported in [`proto`] (and the common
//! ones at the crate root); the crate adds no wrappers around them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), oxcd_client::Error> {
//! use oxcd_client::{Client, ConnectOptions, GetOptions, PutOptions};
//! let client = Client::connect(&["127.0.0.1:2379"], ConnectOptions::default()).await?;
//! client.kv().put("foo", "bar", PutOptions::default()).await?;
//! let resp = client.kv().get("foo", GetOptions::new()).await?;
//! assert_eq!(&resp.kvs[0].value[..], b"bar");
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `client`: [`Client`], [`ConnectOptions`]; the channels, the pinned endpoint, the
//!   token interceptor and the retry loop of every unary call.
//! - `kv`: [`Kv`], [`GetOptions`], [`PutOptions`], [`DeleteOptions`], the txn builder
//!   [`Txn`] with [`Compare`], [`CompareOp`] and [`TxnOp`]; [`prefix_end`].
//! - `lease`: [`Lease`], [`LeaseKeeper`], [`KeeperState`].
//! - `watch`: [`Watcher`], [`WatchOptions`].
//! - `auth`: [`Auth`], auth on/off and status, user/role/permission management.
//! - `cluster`: [`Cluster`], member list/add/add-as-learner/remove/update/promote.
//! - `concurrency`: Go clientv3's `concurrency` package: [`Session`], [`Mutex`],
//!   [`Election`] and its [`Observer`], with Go's key layout (`name/<lease in hex>`).
//! - `stm`: [`Stm`], Go's software transactional memory (`concurrency.NewSTM`) with its
//!   four [`Isolation`] levels; [`StmOptions`].
//! - `namespace`: the key prefix of [`Client::with_namespace`] (clientv3's `namespace`):
//!   requests moved under it, responses and watch events stripped of it.
//! - `maintenance`: [`Maintenance`], status, alarms, defragment, HashKV, MoveLeader and a
//!   streamed [`Snapshot`]; the per-member calls name their member by endpoint.
//! - `error`: [`Error`].
//!
//! # Invariants
//! - ONE CHANNEL PER ENDPOINT, ONE PINNED ENDPOINT: every call goes to the pinned
//!   endpoint; `Unavailable` moves the pin to the next endpoint for every later call.
//!   (Not tonic's `Channel::balance_list`: it cannot take oxcd's TLS [`oxcd_tls::Dialer`],
//!   hides which member served a call, and a watch must know where it resumes.)
//! - RETRIES AS CLIENTV3 3.4: an immutable call (Range, a read-only Txn, Lease calls) is
//!   resent on the next endpoint after `Unavailable`, each endpoint at most twice; a
//!   mutation (Put, DeleteRange, a Txn with writes, Compact, auth management) is NEVER
//!   resent after `Unavailable` or a timeout, since it may have been applied. With
//!   [`ConnectOptions::wait_for_ready`], a call that could not CONNECT (never sent) waits
//!   and tries again, mutations included, until the request timeout.
//! - TOKEN: with a user, the client authenticates at connect (when the server answers
//!   "authentication is not enabled" no token is sent, as clientv3); the token lives in
//!   one `Arc<RwLock<..>>` read by every call's interceptor. After "invalid auth token",
//!   "revision of auth store is old" or "user name is empty" a call re-authenticates
//!   ONCE and is resent (the server rejected it, so it was not applied).
//! - WATCH: a [`Watcher`] delivers each event once, in revision order, across reconnects:
//!   it resumes from the last delivered revision + 1 (or the created/progress revision +
//!   1), and drops any event below that. A compaction is [`Error::Compacted`], never a
//!   silent gap.
//! - PER-MEMBER CALLS (Status, HashKV, Defragment) go to the endpoint they name and are
//!   never failed over to another member: the answer must be that member's.
//! - Every unary call and every stream open is bounded by
//!   [`ConnectOptions::request_timeout`].
//! - NAMESPACE: a namespaced client's requests never name a key outside its prefix (a
//!   range end of `"\0"` ends at the prefix's end, an empty key is refused) and its
//!   responses never show the prefix; it is applied in `kv`, `watch` and `lease` only,
//!   so everything built on them (concurrency, STM) is namespaced with no code of its own.
//! - STM COMMITS ONCE PER ATTEMPT: an [`Stm`] attempt's writes go in one Txn guarded by
//!   its isolation level's compares; a conflict reruns the whole attempt, never part.

#![deny(missing_docs, rustdoc::broken_intra_doc_links)]

mod auth;
mod client;
mod cluster;
mod concurrency;
mod error;
mod kv;
mod lease;
mod maintenance;
mod namespace;
mod stm;
mod watch;

pub use auth::Auth;
pub use client::{AttemptObserver, Client, ConnectOptions, FailedAttempt};
pub use cluster::{check_peer_urls, Cluster};
pub use concurrency::{Election, Mutex, Observer, Session};
pub use error::Error;
pub use kv::{
    prefix_end, Compare, CompareOp, DeleteOptions, GetOptions, Kv, PutOptions, Txn, TxnOp,
};
pub use lease::{KeeperState, Lease, LeaseKeeper};
pub use maintenance::{Maintenance, Snapshot};
pub use stm::{Isolation, Stm, StmFuture, StmOptions};
pub use watch::{WatchOptions, Watcher};

/// The generated protobuf types and services (`oxcd-proto`).
pub mod proto {
    pub use oxcd_proto::{authpb, etcdserverpb, mvccpb};
}

pub use oxcd_proto::authpb::permission::Type as PermissionType;
pub use oxcd_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
pub use oxcd_proto::etcdserverpb::{
    AlarmType, CompactionResponse, DeleteRangeResponse, LeaseGrantResponse, LeaseKeepAliveResponse,
    LeaseRevokeResponse, LeaseTimeToLiveResponse, PutResponse, RangeResponse, ResponseHeader,
    TxnResponse, WatchResponse,
};
pub use oxcd_proto::mvccpb::{event::EventType, Event, KeyValue};
pub use oxcd_tls::ClientTls;
pub use tonic::{Code, Status};

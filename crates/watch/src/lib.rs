//! Watch for oxcd: etcd's watchable store, fed by committed changes from the apply path.
//!
//! A [`WatchHub`] holds every watcher of the member. The apply loop calls
//! [`WatchHub::notify`] once per published revision; a background task catches watchers up
//! from history ([`KvHistory`]). Clients talk to a [`WatchStream`] (one per gRPC Watch
//! stream), which multiplexes many watchers onto one ordered response queue.
//!
//! # Layout
//! - [`spec`]: [`WatchSpec`], the normalised form of a WatchCreateRequest.
//! - [`history`]: [`KvHistory`], what the hub needs from the MVCC store.
//! - [`group`]: a watcher group with its key/range index.
//! - [`interval`]: [`interval::IntervalIndex`], the interval treap range watchers live in.
//! - [`hub`]: [`WatchHub`]: notify, the sync loop, progress.
//! - [`stream`]: [`WatchStream`] and [`WatchReceiver`].
//! - `event_set`: events encoded once per delivery and shared by its watchers; fragment
//!   splitting for `fragment=true` watchers.
//! - `recent`: the events of the last revisions, in memory, for short catch-ups.
//! - [`metrics`]: etcd's `etcd_debugging_mvcc_*` watch metrics.
//!
//! # Invariants (etcd's watch guarantees)
//! - ORDERED and UNIQUE: a watcher sees each revision at most once, in increasing order. A
//!   watcher is in exactly one group; a synced watcher has a `min_rev` below which notify
//!   skips events, so a revision delivered from history is never delivered again by notify.
//! - RELIABLE: events are never dropped. When a stream's queue is full, its watchers move to
//!   the unsynced group at the first undelivered revision and catch up from history.
//! - ATOMIC: the events of one revision go out in one response unless the watcher asked for
//!   fragments.
//! - Create replies go out in request order, before any event of the new watcher.
//! - BOOKMARKABLE: a progress response at revision R is queued only when every watcher on the
//!   stream is synced, after every event <= R was queued.
//! - Responses carry `header.revision`; the server fills the rest of the header.

pub mod error;
mod event_set;
pub mod group;
pub mod history;
pub mod hub;
pub mod interval;
pub mod metrics;
mod recent;
pub mod spec;
pub mod stream;

pub use error::WatchError;
pub use history::{HistoryError, KvHistory};
pub use hub::{HubConfig, WatchHub};
pub use spec::WatchSpec;
pub use stream::{WatchReceiver, WatchStream};

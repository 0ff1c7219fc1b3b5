//! oxcd-raftlog: consensus for oxcd, on tikv's raft-rs 0.7. It knows raft, NOT etcd:
//! payloads are opaque `Vec<u8>`, peer messages cross the API as encoded bytes, and
//! raft-rs' `eraftpb` types appear only in [`RaftLogStore`] (which extends raft's own
//! `Storage` trait).
//!
//! The server builds a [`RocksLogStore`] on its own backend instance, implements
//! [`Applier`] for its state machine and [`RaftTransport`] for its peer service, then calls
//! [`RaftNode::start`] and talks to raft through the returned [`RaftHandle`].
//!
//! # Layout
//! - [`config`]: [`RaftConfig`] (etcd defaults).
//! - [`log_store`]: [`RaftLogStore`], [`RocksLogStore`], [`MemLogStore`].
//! - [`applier`]: [`Applier`], [`Committed`], [`ConfChange`], [`Membership`].
//! - [`transport`]: [`RaftTransport`], [`NullTransport`], `snapshot_position`.
//! - `channel_network`: `ChannelNetwork`, the in-process network the raft tests run on
//!   (drop, delay and partition filters); only with the `test-util` feature.
//! - [`handle`]: [`RaftHandle`], the async, cloneable front of the loop.
//! - `node.rs`: [`RaftNode::start`], bootstrap/restore and the command loop thread.
//! - `ready.rs`: handling of one `Ready`, apply, status publication.
//! - `read_index.rs`: ReadIndex waiters and retries.
//! - [`status`]: [`RaftStatus`], [`RaftRole`].
//! - [`metrics`]: etcd's raft/WAL metrics and the raft snapshot save (`etcd_snap_fsync_*`,
//!   `etcd_debugging_snap_save_*`) in the default prometheus registry.
//! - [`error`]: [`RaftLogError`] and the per-operation errors.
//! - `raft_logger.rs`: raft-rs' `slog` output forwarded to `tracing`.
//!
//! # Failpoints
//! With the `failpoints` feature, `raft-before-append`, `raft-after-append`,
//! `raft-before-apply`, `raft-before-snapshot-install` and
//! `raft-between-snapshot-log-and-state` abort the process (action `return`) between the
//! steps of persisting and applying a Ready, for the robustness suite.
//!
//! # Invariants
//! - ONE OS thread owns the `RawNode`; everything else goes through its bounded mailbox.
//!   All commands queued at a wake-up are drained first, so many proposals become one
//!   Ready and one fsync (group commit).
//! - Log entries and the hard state are persisted in ONE synced write before any message
//!   that depends on them (votes, append responses) is sent and before the entries they
//!   commit are applied. A leader sends its appends before its own fsync.
//! - Committed entries reach the [`Applier`] in log order, exactly once per process run;
//!   after a restart, entries `<= applier.applied_index()` MAY be delivered again and
//!   MUST be skipped by the applier (see the [`Applier`] contract).
//! - The log is compacted only after [`Applier::persist`] returned, and never past the
//!   applied index minus `snapshot_catchup_entries`.
//! - A snapshot is a DESCRIPTION (applied index, term, conf state) produced by the log
//!   store; the state itself travels out of band: the [`RaftTransport`] ships a state
//!   machine checkpoint with every `MsgSnapshot`. The receiver's log store takes the
//!   snapshot in FIRST (durably), then [`Applier::restore`] installs the checkpoint; after
//!   a crash in between, a log that starts past the applier's index makes
//!   [`RaftNode::start`] call `restore` again. The restored state MAY be newer than the
//!   snapshot index; the entries in between are redelivered and skipped by the applier.
//! - A new cluster's log starts with one committed conf-change entry per initial voter
//!   (indexes `1..=N`, term 1), identical on every member.

pub mod applier;
#[cfg(feature = "test-util")]
pub mod channel_network;
pub mod config;
pub mod error;
pub mod handle;
pub mod log_store;
pub mod metrics;
mod node;
mod raft_logger;
mod read_index;
mod ready;
pub mod status;
pub mod transport;

pub use applier::{Applier, Committed, ConfChange, ConfChangeKind, Membership};
#[cfg(feature = "test-util")]
pub use channel_network::{ChannelNetwork, ChannelTransport, NetStats};
pub use config::RaftConfig;
pub use error::{ApplyError, ConfChangeError, ProposeError, RaftLogError, ReadIndexError};
pub use handle::RaftHandle;
pub use log_store::{MemLogStore, RaftLogStore, RocksLogStore};
pub use node::RaftNode;
pub use status::{PeerProgress, RaftRole, RaftStatus};
pub use transport::{snapshot_position, NullTransport, RaftTransport};

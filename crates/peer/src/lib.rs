//! oxcd-peer: the member-to-member transport. It carries raft messages (opaque encoded
//! bytes from `oxcd-raftlog`) and raft snapshots over gRPC (`oxcdpb.RaftPeer`) on the
//! peer URLs, and answers the few membership questions a joining member asks and the
//! HashKV the corruption checks of its peers ask for.
//!
//! The server builds one [`GrpcTransport`] (the raft loop's
//! [`oxcd_raftlog::RaftTransport`]) and serves one [`PeerService`] on `--listen-peer-urls`,
//! both over a [`PeerHost`] it implements (peer URLs, cluster ID, checkpoints, staging).
//!
//! # Layout
//! - [`host`]: [`PeerHost`], what the transport needs from the member hosting it.
//! - [`host_error`]: [`HostError`], a member's typed refusal of a forwarded request, which
//!   crosses the wire as a code (never compared as text).
//! - [`config`]: [`TransportConfig`] (queue sizes, batching, timeouts).
//! - [`transport`]: [`GrpcTransport`], one stream task per peer, created on first use.
//! - `stream.rs`: the per-peer task: connect, batch, send, reconnect.
//! - `snapshot_send.rs` / `snapshot_recv.rs`: a snapshot is a state machine checkpoint
//!   streamed file by file in chunks (never whole in memory), behind its raft message.
//! - [`service`]: [`PeerService`], the receiving side (`RaftPeer` server).
//! - [`leader_client`]: [`LeaderClient`], follower-to-leader forwarding (lease renewals
//!   and TTLs) on a cached connection.
//! - [`prober`]: [`Prober`], periodic round-trip probes of every peer.
//! - [`metrics`]: etcd's `etcd_network_*` peer metrics, the snapshot receive
//!   (`etcd_snap_db_*`) and the backend snapshot duration (also fed by the server).
//! - [`error`]: the [`PeerError`] enum.
//!
//! # Invariants
//! - `RaftTransport::send` NEVER BLOCKS the raft loop: a full per-peer queue drops the
//!   message and reports the peer unreachable (raft retransmits).
//! - Messages to one peer travel in order on ONE stream; a broken stream is reconnected
//!   with backoff, and everything queued meanwhile is dropped and reported.
//! - The receiver steps messages into raft with `RaftHandle::step`, so a slow raft loop
//!   pushes back on the stream (HTTP/2 flow control) instead of buffering without bound.
//! - A snapshot's data is fully written and fsynced in the staging directory BEFORE its
//!   raft message is stepped; the sender reports the outcome with `report_snapshot`.
//! - Batches from another cluster (different cluster ID) are refused.

pub mod config;
pub mod error;
pub mod host;
pub mod host_error;
pub mod leader_client;
pub mod metrics;
pub mod prober;
pub mod service;
mod snapshot_recv;
mod snapshot_send;
mod stream;
pub mod transport;

pub use config::TransportConfig;
pub use error::PeerError;
pub use host::{LeaderServices, PeerHost};
pub use host_error::HostError;
pub use leader_client::{Forwarded, LeaderClient};
pub use prober::Prober;
pub use service::{fetch_hash_kv, fetch_members, forward_promote, PeerService};
pub use transport::GrpcTransport;

/// Checks that `name` is a plain file name (no directories, no `..`), as the files of a
/// checkpoint are.
pub(crate) fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.contains('\\')
        && !name.contains('\0')
}

//! [`PeerHost`]: what the transport and the peer service need from the member (who is who,
//! checkpoints and snapshot staging), and [`LeaderServices`]: what a leader serves to the
//! followers that forward requests to it. They are two traits because they exist at
//! different times: the transport needs a `PeerHost` before raft starts, while the leader's
//! services need the running member, so nothing has to be attached after the fact.

use std::path::PathBuf;

use oxcd_proto::etcdserverpb::{
    HashKvResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, Member,
};

use crate::host_error::HostError;

/// The member hosting the transport (implemented by the server over its membership and
/// state machine).
pub trait PeerHost: Send + Sync + 'static {
    /// This member's ID.
    fn member_id(&self) -> u64;

    /// The cluster ID; batches and snapshots carrying another one are refused.
    fn cluster_id(&self) -> u64;

    /// The peer URLs of member `id`; `None` when the member is unknown or removed.
    fn peer_urls(&self, id: u64) -> Option<Vec<String>>;

    /// Every member, started or not (the `Members` RPC).
    fn members(&self) -> Vec<Member>;

    /// Makes a consistent checkpoint of the state machine in a NEW directory and returns
    /// it. The transport streams its files and deletes the directory afterwards. Blocking.
    fn checkpoint(&self) -> Result<PathBuf, HostError>;

    /// Where the data of an incoming snapshot for (`index`, `term`) must be written. The
    /// transport (re)creates it; the state machine restores from it.
    fn snapshot_dir(&self, index: u64, term: u64) -> PathBuf;

    /// This member's HashKV at `revision` (0: its current one), as etcd's
    /// `/members/hashkv` answers it: `header.revision` is the current revision and
    /// `compact_revision` is -1 before the first compaction. [`HostError::Compacted`] or
    /// [`HostError::FutureRevision`] for a revision it cannot hash. Blocking.
    fn hash_kv(&self, revision: i64) -> Result<HashKvResponse, HostError>;
}

/// Requests only the leader can answer, served to followers over the peer service
/// (implemented by the server over the running member).
#[tonic::async_trait]
pub trait LeaderServices: Send + Sync + 'static {
    /// Promotes learner `id` (served on the leader).
    async fn promote(&self, id: u64) -> Result<Vec<Member>, HostError>;

    /// Renews lease `id` (served on the leader): the granted TTL, 0 for an unknown lease.
    async fn lease_renew(&self, id: i64) -> Result<i64, HostError>;

    /// A lease's remaining TTL as the leader tracks it.
    async fn lease_time_to_live(
        &self,
        req: LeaseTimeToLiveRequest,
    ) -> Result<LeaseTimeToLiveResponse, HostError>;
}

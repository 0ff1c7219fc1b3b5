//! This member as the peer layer sees it: [`MemberPeerHost`] (membership, checkpoints for
//! outgoing snapshots, staging for incoming ones, HashKV for the peers' corruption checks),
//! which exists before raft starts, and [`MemberLeaderServices`] (promotions, lease renewals
//! and TTLs served to followers), which needs the running member and is built after it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use oxcd_backend::Backend;
use oxcd_mvcc::KvStore;
use oxcd_peer::{HostError, LeaderServices, PeerHost};
use oxcd_proto::etcdserverpb::{
    HashKvResponse, LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, Member,
};

use crate::apply::restore::staging_dir;
use crate::context::ServerContext;
use crate::members::Members;

/// The [`PeerHost`] of one member.
pub struct MemberPeerHost {
    members: Arc<Members>,
    backend: Arc<dyn Backend>,
    /// Hashed for the peers' corruption checks.
    kv: Arc<KvStore>,
    /// Incoming snapshots are staged here.
    snapshot_root: PathBuf,
    /// Outgoing checkpoints are made here.
    outgoing_root: PathBuf,
    seq: AtomicU64,
}

impl MemberPeerHost {
    /// A host over the member's stores; `snapshot_root` is `<data-dir>/member/snap`.
    pub fn new(
        members: Arc<Members>,
        backend: Arc<dyn Backend>,
        kv: Arc<KvStore>,
        snapshot_root: PathBuf,
    ) -> Self {
        let outgoing_root = snapshot_root.with_file_name("snap-out");
        let _ = std::fs::remove_dir_all(&outgoing_root);
        Self {
            members,
            backend,
            kv,
            snapshot_root,
            outgoing_root,
            seq: AtomicU64::new(0),
        }
    }
}

impl PeerHost for MemberPeerHost {
    fn member_id(&self) -> u64 {
        self.members.local_id()
    }

    fn cluster_id(&self) -> u64 {
        self.members.cluster_id()
    }

    fn peer_urls(&self, id: u64) -> Option<Vec<String>> {
        self.members.peer_urls(id)
    }

    fn members(&self) -> Vec<Member> {
        self.members.list()
    }

    fn checkpoint(&self) -> Result<PathBuf, HostError> {
        let io = |e: std::io::Error| HostError::Other(format!("checkpoint directory: {e}"));
        std::fs::create_dir_all(&self.outgoing_root).map_err(io)?;
        let dir = self.outgoing_root.join(format!(
            "{}-{}",
            std::process::id(),
            self.seq.fetch_add(1, Ordering::Relaxed)
        ));
        self.backend
            .checkpoint(&dir)
            .map_err(|e| HostError::Other(e.to_string()))?;
        Ok(dir)
    }

    fn snapshot_dir(&self, index: u64, term: u64) -> PathBuf {
        staging_dir(&self.snapshot_root, index, term)
    }

    fn hash_kv(&self, revision: i64) -> Result<HashKvResponse, HostError> {
        Ok(crate::corrupt::hash_kv(&self.kv, revision)?)
    }
}

/// The [`LeaderServices`] of the running member.
pub struct MemberLeaderServices {
    ctx: Arc<ServerContext>,
}

impl MemberLeaderServices {
    /// The services of the member `ctx` describes.
    pub fn new(ctx: Arc<ServerContext>) -> Self {
        Self { ctx }
    }
}

#[tonic::async_trait]
impl LeaderServices for MemberLeaderServices {
    async fn lease_renew(&self, id: i64) -> Result<i64, HostError> {
        Ok(self.ctx.lease_router.renew_local(id)?)
    }

    async fn lease_time_to_live(
        &self,
        req: LeaseTimeToLiveRequest,
    ) -> Result<LeaseTimeToLiveResponse, HostError> {
        Ok(self.ctx.lease_router.time_to_live_local(&req)?)
    }

    async fn promote(&self, id: u64) -> Result<Vec<Member>, HostError> {
        if self.ctx.raft.status().borrow().leader_id != self.ctx.member_id {
            return Err(HostError::NotLeader);
        }
        Ok(self.ctx.membership.promote(id).await?)
    }
}

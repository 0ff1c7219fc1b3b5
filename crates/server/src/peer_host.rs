//! [`MemberPeerHost`]: this member as the peer transport sees it (membership, checkpoints
//! for outgoing snapshots, staging for incoming ones, promotion on the leader).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use oxcd_backend::Backend;
use oxcd_peer::{HostError, PeerHost};
use oxcd_proto::etcdserverpb::{LeaseTimeToLiveRequest, LeaseTimeToLiveResponse, Member};

use crate::apply::restore::staging_dir;
use crate::context::ServerContext;
use crate::members::Members;

/// The [`PeerHost`] of one member. The server context is attached once it exists.
pub struct MemberPeerHost {
    members: Arc<Members>,
    backend: Arc<dyn Backend>,
    /// Incoming snapshots are staged here.
    snapshot_root: PathBuf,
    /// Outgoing checkpoints are made here.
    outgoing_root: PathBuf,
    ctx: OnceLock<Arc<ServerContext>>,
    seq: AtomicU64,
}

impl MemberPeerHost {
    /// A host over the member's stores; `snapshot_root` is `<data-dir>/member/snap`.
    pub fn new(members: Arc<Members>, backend: Arc<dyn Backend>, snapshot_root: PathBuf) -> Self {
        let outgoing_root = snapshot_root.with_file_name("snap-out");
        let _ = std::fs::remove_dir_all(&outgoing_root);
        Self {
            members,
            backend,
            snapshot_root,
            outgoing_root,
            ctx: OnceLock::new(),
            seq: AtomicU64::new(0),
        }
    }

    /// The attached server context ([`HostError::Stopped`] until there is one).
    fn context(&self) -> Result<&Arc<ServerContext>, HostError> {
        self.ctx.get().ok_or(HostError::Stopped)
    }

    /// Attaches the server context (needed for promotions).
    pub fn attach(&self, ctx: Arc<ServerContext>) {
        let _ = self.ctx.set(ctx);
    }
}

#[tonic::async_trait]
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

    async fn lease_renew(&self, id: i64) -> Result<i64, HostError> {
        let ctx = self.context()?;
        Ok(crate::lease_forward::renew_local(ctx, id)?)
    }

    async fn lease_time_to_live(
        &self,
        req: LeaseTimeToLiveRequest,
    ) -> Result<LeaseTimeToLiveResponse, HostError> {
        let ctx = self.context()?;
        Ok(crate::lease_forward::time_to_live_local(ctx, &req)?)
    }

    async fn promote(&self, id: u64) -> Result<Vec<Member>, HostError> {
        let ctx = self.context()?;
        if ctx.raft.status().borrow().leader_id != ctx.member_id {
            return Err(HostError::NotLeader);
        }
        Ok(crate::membership::promote(ctx, id).await?)
    }
}

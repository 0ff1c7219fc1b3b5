//! [`ServerContext`]: every handle `bootstrap` built for one member. It holds components,
//! not logic, and it is not handed around: each service and background task takes the few
//! handles it uses (`KvService::from_context` and its siblings pick them in the composition
//! root; background tasks get them as arguments). The HTTP routes, the stream guard, Lock
//! and Election (which call the KV and Lease services in process) still take it whole.

use std::sync::Arc;

use oxcd_backend::Backend;
use oxcd_mvcc::KvStore;
use oxcd_raftlog::RaftHandle;

use crate::apply::alarm::AlarmStore;
use crate::members::Members;
use crate::propose::Proposals;
use crate::quota::Quota;
use crate::read::ReadBarrier;

/// Version strings this server reports (`/version`, `Status.version`).
pub const SERVER_VERSION: &str = "3.6.0";
/// The cluster version reported by `/version`.
pub const CLUSTER_VERSION: &str = "3.6.0";
/// The storage version reported by `/version` and `Status.storageVersion`.
pub const STORAGE_VERSION: &str = "3.6.0";

/// Limits from the configuration that handlers enforce.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `--max-txn-ops`.
    pub max_txn_ops: usize,
    /// `--max-request-bytes`.
    pub max_request_bytes: usize,
    /// `--strict-reconfig-check`.
    pub strict_reconfig_check: bool,
    /// `--max-learners`.
    pub max_learners: usize,
    /// `--warning-apply-duration`: slower read-only ranges are logged and counted.
    pub warning_apply_duration: std::time::Duration,
}

/// Shared handles of one running member.
pub struct ServerContext {
    /// This member's ID.
    pub member_id: u64,
    /// This member's name.
    pub name: String,
    /// `--data-dir`.
    pub data_dir: std::path::PathBuf,
    /// The state machine's backend.
    pub backend: Arc<dyn Backend>,
    /// The MVCC store.
    pub kv: Arc<KvStore>,
    /// The raft node.
    pub raft: RaftHandle,
    /// Proposes writes.
    pub proposer: Arc<dyn Proposals>,
    /// Linearizable read barrier.
    pub reads: Arc<dyn ReadBarrier>,
    /// Raised alarms.
    pub alarms: Arc<AlarmStore>,
    /// Membership.
    pub members: Arc<Members>,
    /// Backend space quota.
    pub quota: Arc<Quota>,
    /// Request limits.
    pub limits: Limits,
    /// Leases.
    pub lessor: Arc<oxcd_lease::Lessor>,
    /// Auth: who a request runs as, and the checks on the receiving member.
    pub auth: Arc<crate::auth::AuthGate>,
    /// Every watcher of this member.
    pub watch_hub: oxcd_watch::WatchHub,
    /// Lease renewals and TTL lookups, answered here or by the leader.
    pub lease_router: crate::lease_forward::LeaseRouter,
    /// Membership changes with etcd's checks.
    pub membership: crate::membership::MembershipChanges,
    /// etcd's request timeout (5 s + 2 election timeouts).
    pub request_timeout: std::time::Duration,
    /// Fills response headers.
    pub headers: crate::grpc::header::Headers,
}

impl ServerContext {
    /// The cluster ID.
    pub fn cluster_id(&self) -> u64 {
        self.members.cluster_id()
    }

    /// Whether the raft group currently has a leader.
    pub fn has_leader(&self) -> bool {
        self.raft.status().borrow().leader_id != 0
    }

    /// Whether this member is a learner (as the membership says, so a member that joined
    /// as a learner is one before it applied its own addition, as in etcd).
    pub fn is_learner(&self) -> bool {
        self.members
            .get(self.member_id)
            .is_some_and(|m| m.is_learner)
    }
}

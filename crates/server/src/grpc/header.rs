//! Filling `ResponseHeader`: cluster and member ID, raft term, and the store revision.
//!
//! THE REVISION IS ALWAYS GIVEN, NEVER LOOKED UP HERE: a response that carries store data
//! reports the revision that data was read at (a [`oxcd_mvcc::RangeResult`]'s or a
//! [`oxcd_mvcc::Snapshot`]'s), and a write reports the revision the apply path gave it.
//! Reading the current revision after the data would let a concurrent apply move it past
//! what the response shows. Only responses that carry no store data ([`Headers::current`]) take
//! the current revision.

use std::sync::Arc;

use oxcd_mvcc::KvStore;
use oxcd_proto::etcdserverpb::ResponseHeader;
use oxcd_raftlog::RaftHandle;

use crate::members::Members;

/// What a response header is made of: this member, its cluster, raft's term and the
/// store's current revision. Cheap to clone; every service holds one.
#[derive(Clone)]
pub struct Headers {
    member_id: u64,
    members: Arc<Members>,
    raft: RaftHandle,
    kv: Arc<KvStore>,
}

impl Headers {
    /// Headers of member `member_id`.
    pub fn new(member_id: u64, members: Arc<Members>, raft: RaftHandle, kv: Arc<KvStore>) -> Self {
        Self {
            member_id,
            members,
            raft,
            kv,
        }
    }

    /// A header for a response served from the store at `revision`.
    pub fn at(&self, revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: self.members.cluster_id(),
            member_id: self.member_id,
            raft_term: self.raft.status().borrow().term,
            revision,
        })
    }

    /// Completes a header whose revision the apply path (or an inner KV response) already
    /// set: cluster, member and term are filled, the revision is kept as it is.
    pub fn complete(&self, h: &mut Option<ResponseHeader>) {
        let revision = h.as_ref().map_or(0, |h| h.revision);
        *h = self.at(revision);
    }

    /// A header for a response that carries no store data (keepalives, Status, alarms):
    /// the revision is the store's current one, as etcd's `header.fill`.
    pub fn current(&self) -> Option<ResponseHeader> {
        self.at(self.kv.current_revision())
    }

    /// A filled header that carries no revision (non-KV RPCs such as MemberList).
    pub fn without_revision(&self) -> Option<ResponseHeader> {
        self.at(0)
    }
}

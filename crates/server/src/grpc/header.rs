//! Filling `ResponseHeader`: cluster and member ID, raft term, and the store revision.
//!
//! THE REVISION IS ALWAYS GIVEN, NEVER LOOKED UP HERE: a response that carries store data
//! reports the revision that data was read at (a [`oxcd_mvcc::RangeResult`]'s or a
//! [`oxcd_mvcc::Snapshot`]'s), and a write reports the revision the apply path gave it.
//! Reading the current revision after the data would let a concurrent apply move it past
//! what the response shows. Only responses that carry no store data ([`current`]) take
//! the current revision.

use oxcd_proto::etcdserverpb::ResponseHeader;

use crate::context::ServerContext;

/// A header for a response served from the store at `revision`.
pub fn at(ctx: &ServerContext, revision: i64) -> Option<ResponseHeader> {
    Some(ResponseHeader {
        cluster_id: ctx.cluster_id(),
        member_id: ctx.member_id,
        raft_term: ctx.raft.status().borrow().term,
        revision,
    })
}

/// Completes a header whose revision the apply path (or an inner KV response) already set:
/// cluster, member and term are filled, the revision is kept as it is.
pub fn complete(ctx: &ServerContext, h: &mut Option<ResponseHeader>) {
    let revision = h.as_ref().map_or(0, |h| h.revision);
    *h = at(ctx, revision);
}

/// A header for a response that carries no store data (keepalives, Status, alarms,
/// defragment): the revision is the store's current one, as etcd's `header.fill`.
pub fn current(ctx: &ServerContext) -> Option<ResponseHeader> {
    at(ctx, ctx.kv.current_revision())
}

/// A filled header that carries no revision (non-KV RPCs such as MemberList).
pub fn without_revision(ctx: &ServerContext) -> Option<ResponseHeader> {
    at(ctx, 0)
}

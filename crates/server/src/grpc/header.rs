//! Filling `ResponseHeader`: cluster and member ID, raft term, and the current store
//! revision when the handler left the revision at 0 (etcd `header.fill`).

use oxcd_proto::etcdserverpb::ResponseHeader;

use crate::context::ServerContext;

/// Fills `h` in place.
pub fn fill(ctx: &ServerContext, h: &mut Option<ResponseHeader>) {
    let h = h.get_or_insert_with(ResponseHeader::default);
    h.cluster_id = ctx.cluster_id();
    h.member_id = ctx.member_id;
    h.raft_term = ctx.raft.status().borrow().term;
    if h.revision == 0 {
        h.revision = ctx.kv.current_revision();
    }
}

/// A new, filled header.
pub fn new(ctx: &ServerContext) -> Option<ResponseHeader> {
    let mut h = None;
    fill(ctx, &mut h);
    h
}

/// A filled header that carries no revision (non-KV RPCs such as MemberList).
pub fn without_revision(ctx: &ServerContext) -> Option<ResponseHeader> {
    Some(ResponseHeader {
        cluster_id: ctx.cluster_id(),
        member_id: ctx.member_id,
        raft_term: ctx.raft.status().borrow().term,
        revision: 0,
    })
}

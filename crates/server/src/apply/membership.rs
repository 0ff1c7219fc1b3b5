//! Membership changes in the apply path: conf changes (add, remove, promote) and the two
//! membership requests that travel as normal entries (published attributes, new peer URLs).

use oxcd_backend::WriteBatch;
use oxcd_proto::etcdserverpb::{Member, MemberUpdateRequest};
use oxcd_raftlog::{ConfChange, ConfChangeKind};
use prost::Message;

use crate::error::ServerError;
use crate::members::Members;

/// Stages the membership effect of a conf change raft accepted.
pub fn conf_change(members: &Members, change: &ConfChange, batch: &mut WriteBatch) {
    match change.kind {
        ConfChangeKind::AddVoter | ConfChangeKind::AddLearner => {
            let mut m = Member::decode(change.context.as_slice()).unwrap_or_default();
            m.id = change.node_id;
            m.is_learner = change.kind == ConfChangeKind::AddLearner;
            members.apply_add(m, batch);
        }
        ConfChangeKind::RemoveVoter => members.apply_remove(change.node_id, batch),
        ConfChangeKind::PromoteLearner => members.apply_promote(change.node_id, batch),
    }
}

/// A member published its name and client URLs.
pub fn attributes(members: &Members, m: &Member, batch: &mut WriteBatch) -> Vec<Member> {
    members.apply_attributes(m.id, &m.name, &m.client_ur_ls, batch);
    members.list()
}

/// MemberUpdate: new peer URLs, unless another member uses them.
pub fn update(
    members: &Members,
    u: &MemberUpdateRequest,
    batch: &mut WriteBatch,
) -> Result<Vec<Member>, ServerError> {
    if members.get(u.id).is_none() {
        return Err(ServerError::MemberNotFound);
    }
    if members.peer_url_owner(&u.peer_ur_ls, u.id).is_some() {
        return Err(ServerError::PeerUrlExists);
    }
    members.apply_peer_urls(u.id, &u.peer_ur_ls, batch);
    Ok(members.list())
}

//! Publishing this member's attributes: once per start, the member proposes its name and
//! client URLs through raft (etcd's `publish`), so every member's MemberList shows them and
//! a member added with MemberAdd stops being "unstarted".

use std::sync::Arc;
use std::time::Duration;

use oxcd_proto::etcdserverpb::Member;
use oxcd_proto::oxcdpb::internal_request::Op;

use crate::apply::ApplyResult;
use oxcd_raftlog::RaftHandle;

use crate::propose::Proposals;

/// Pause between attempts.
const RETRY: Duration = Duration::from_millis(500);

/// Starts the publishing task; it ends after one successful publication.
pub fn start(
    proposals: Arc<dyn Proposals>,
    raft: RaftHandle,
    member_id: u64,
    name: String,
    client_urls: Vec<String>,
) {
    tokio::spawn(async move {
        let attrs = Member {
            id: member_id,
            name,
            peer_ur_ls: Vec::new(),
            client_ur_ls: client_urls,
            is_learner: false,
        };
        loop {
            let mut status = raft.status();
            if status.wait_for(|s| s.leader_id != 0).await.is_err() {
                return;
            }
            match proposals
                .propose(
                    &crate::auth::Caller::System,
                    Op::MemberAttributes(attrs.clone()),
                )
                .await
            {
                Ok(ApplyResult::Members(_)) => {
                    tracing::info!(name = %attrs.name, "published member attributes");
                    return;
                }
                Ok(other) => tracing::debug!(?other, "publish got an unexpected result"),
                Err(e) => tracing::debug!(error = %e, "publish failed; retrying"),
            }
            tokio::time::sleep(RETRY).await;
        }
    });
}

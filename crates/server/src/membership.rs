//! Membership changes as the Cluster service performs them: etcd's pre-checks (strict
//! reconfiguration, learner limits, learner sync), then a raft conf change (add, remove,
//! promote) or a replicated MemberUpdate, answered with the members after the change.
//!
//! The checks run on the member that received the request, before proposing; the apply
//! path itself is idempotent. Promotion needs the leader's replication progress, so a
//! follower forwards it to the leader over the peer transport.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oxcd_proto::etcdserverpb::{Member, MemberUpdateRequest};
use oxcd_proto::oxcdpb::internal_request::Op;
use oxcd_raftlog::{ConfChange, ConfChangeError, ConfChangeKind};
use prost::Message;

use crate::apply::ApplyResult;
use std::sync::Arc;

use oxcd_raftlog::RaftHandle;

use crate::error::ServerError;
use crate::identity;
use crate::members::Members;
use crate::propose::Proposals;

/// A learner is "in sync" when it has at least this share of the leader's log.
const LEARNER_READY_PERCENT: u64 = 90;
/// How long a forwarded promotion may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks peer URLs the way etcd's `types.NewURLs` does: `http`/`https` with host:port.
pub fn valid_peer_urls(urls: &[String]) -> bool {
    !urls.is_empty()
        && urls.iter().all(|u| {
            let Some(rest) = u
                .strip_prefix("http://")
                .or_else(|| u.strip_prefix("https://"))
            else {
                return false;
            };
            let host_port = rest.trim_end_matches('/');
            !host_port.contains('/')
                && host_port
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        })
}

fn map_conf_error(e: ConfChangeError) -> ServerError {
    match e {
        ConfChangeError::NoLeader => ServerError::NoLeader,
        ConfChangeError::Timeout => ServerError::Timeout,
        ConfChangeError::Stopped => ServerError::Stopped,
        ConfChangeError::InProgress | ConfChangeError::Dropped => ServerError::Unhealthy,
        ConfChangeError::Rejected(m) => ServerError::Internal(m),
    }
}

/// Membership changes with etcd's checks: what the Cluster service and the leader's
/// promotion service call. Cheap to clone.
#[derive(Clone)]
pub struct MembershipChanges {
    /// Conf changes and replication progress.
    pub raft: RaftHandle,
    /// The membership table.
    pub members: Arc<Members>,
    /// This member.
    pub member_id: u64,
    /// MemberUpdate is a replicated request.
    pub proposer: Arc<dyn Proposals>,
    /// TLS for forwarding a promotion to the leader's peer URLs.
    pub peer_tls: Option<oxcd_tls::ClientTls>,
}

impl MembershipChanges {
    async fn change(&self, change: ConfChange) -> Result<Vec<Member>, ServerError> {
        self.raft
            .change_membership(change)
            .await
            .map_err(map_conf_error)?;
        Ok(self.members.list())
    }

    fn voters(&self) -> Vec<Member> {
        self.members
            .list()
            .into_iter()
            .filter(|m| !m.is_learner)
            .collect()
    }

    /// etcd's `IsReadyToAddVotingMember`: after the add, a quorum must already be started.
    fn ready_to_add_voter(&self) -> bool {
        let voters = self.voters();
        let started = voters.iter().filter(|m| !m.name.is_empty()).count();
        let total = voters.len() + 1;
        if started == 1 && total == 2 {
            return true;
        }
        started > total / 2
    }

    /// MemberAdd: a new voter or learner with these peer URLs. Returns (the member, all).
    pub async fn add(
        &self,
        peer_urls: Vec<String>,
        is_learner: bool,
        strict: bool,
        max_learners: usize,
    ) -> Result<(Member, Vec<Member>), ServerError> {
        if !valid_peer_urls(&peer_urls) {
            return Err(ServerError::MemberBadUrls);
        }
        if self.members.peer_url_owner(&peer_urls, 0).is_some() {
            return Err(ServerError::PeerUrlExists);
        }
        if is_learner {
            let learners = self.members.list().iter().filter(|m| m.is_learner).count();
            if learners >= max_learners {
                return Err(ServerError::TooManyLearners);
            }
        } else if strict {
            if !self.ready_to_add_voter() {
                return Err(ServerError::NotEnoughStartedMembers);
            }
            if !self.all_voters_active().await {
                return Err(ServerError::Unhealthy);
            }
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut id = identity::member_id(&peer_urls, &now.to_string());
        while id == 0 || self.members.get(id).is_some() || self.members.is_removed(id) {
            id = id.wrapping_add(1);
        }
        let member = Member {
            id,
            name: String::new(),
            peer_ur_ls: peer_urls,
            client_ur_ls: Vec::new(),
            is_learner,
        };
        let kind = if is_learner {
            ConfChangeKind::AddLearner
        } else {
            ConfChangeKind::AddVoter
        };
        let members = self
            .change(ConfChange {
                kind,
                node_id: id,
                context: member.encode_to_vec(),
            })
            .await?;
        Ok((member, members))
    }

    /// Whether the leader heard from every voter recently (etcd's "connected fully"); on a
    /// follower, which cannot tell, true.
    async fn all_voters_active(&self) -> bool {
        let Ok(progress) = self.raft.progress().await else {
            return false;
        };
        progress.is_empty() || progress.iter().all(|p| p.is_learner || p.recent_active)
    }

    /// MemberRemove.
    pub async fn remove(&self, id: u64, strict: bool) -> Result<Vec<Member>, ServerError> {
        let Some(member) = self.members.get(id) else {
            return Err(ServerError::MemberNotFound);
        };
        if strict && !member.is_learner {
            let voters = self.voters();
            let started_after = voters
                .iter()
                .filter(|m| m.id != id && !m.name.is_empty())
                .count();
            let total_after = voters.len().saturating_sub(1);
            if started_after < total_after / 2 + 1 {
                return Err(ServerError::NotEnoughStartedMembers);
            }
            let progress = self.raft.progress().await.unwrap_or_default();
            if !progress.is_empty() {
                let removed_active = progress.iter().any(|p| p.id == id && p.recent_active);
                let active = progress
                    .iter()
                    .filter(|p| !p.is_learner && p.recent_active)
                    .count();
                // A member that is down is safe to remove; otherwise keep a quorum of the
                // remaining voters active.
                if removed_active && active - 1 < 1 + (voters.len() - 1) / 2 {
                    return Err(ServerError::Unhealthy);
                }
            }
        }
        self.change(ConfChange {
            kind: ConfChangeKind::RemoveVoter,
            node_id: id,
            context: Vec::new(),
        })
        .await
    }

    /// MemberUpdate: new peer URLs, replicated as a normal entry.
    pub async fn update(
        &self,
        id: u64,
        peer_urls: Vec<String>,
    ) -> Result<Vec<Member>, ServerError> {
        if !valid_peer_urls(&peer_urls) {
            return Err(ServerError::MemberBadUrls);
        }
        if self.members.get(id).is_none() {
            return Err(ServerError::MemberNotFound);
        }
        if self.members.peer_url_owner(&peer_urls, id).is_some() {
            return Err(ServerError::PeerUrlExists);
        }
        let req = MemberUpdateRequest {
            id,
            peer_ur_ls: peer_urls,
        };
        match self
            .proposer
            .propose(&crate::auth::Caller::System, Op::MemberUpdate(req))
            .await?
        {
            ApplyResult::Members(list) => Ok(list),
            ApplyResult::Error(e) => Err(e),
            other => Err(ServerError::Internal(format!(
                "unexpected member update result {other:?}"
            ))),
        }
    }

    /// MemberPromote: on the leader, checks the learner is in sync and promotes it; on a
    /// follower, forwards to the leader.
    pub async fn promote(&self, id: u64) -> Result<Vec<Member>, ServerError> {
        let status = self.raft.status().borrow().clone();
        if status.leader_id == 0 {
            return Err(ServerError::NoLeader);
        }
        if status.leader_id != self.member_id {
            let urls = self
                .members
                .peer_urls(status.leader_id)
                .ok_or(ServerError::NoLeader)?;
            return match oxcd_peer::forward_promote(
                &urls,
                id,
                FORWARD_TIMEOUT,
                self.peer_tls.as_ref(),
            )
            .await
            {
                Ok(Ok(members)) => Ok(members),
                Ok(Err(refused)) => Err(refused.into()),
                Err(_) => Err(ServerError::Timeout),
            };
        }
        let Some(member) = self.members.get(id) else {
            return Err(ServerError::MemberNotFound);
        };
        if !member.is_learner {
            return Err(ServerError::MemberNotLearner);
        }
        let progress = self
            .raft
            .progress()
            .await
            .map_err(|_| ServerError::Stopped)?;
        let leader_match = progress
            .iter()
            .find(|p| p.id == self.member_id)
            .map_or(status.commit_index, |p| p.matched);
        let learner_match = progress
            .iter()
            .find(|p| p.id == id)
            .map_or(0, |p| p.matched);
        if learner_match * 100 < leader_match * LEARNER_READY_PERCENT {
            return Err(ServerError::LearnerNotReady);
        }
        let members = self
            .change(ConfChange {
                kind: ConfChangeKind::PromoteLearner,
                node_id: id,
                context: Vec::new(),
            })
            .await?;
        // Counted by the leader only (a follower forwarded the request), as etcd.
        crate::metrics::LEARNER_PROMOTE_SUCCESSES.inc();
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_url_validation() {
        assert!(valid_peer_urls(&["http://127.0.0.1:2380".into()]));
        assert!(valid_peer_urls(&[
            "https://a.example:1".into(),
            "http://b:2/".into()
        ]));
        assert!(!valid_peer_urls(&[]));
        assert!(!valid_peer_urls(&["127.0.0.1:2380".into()]));
        assert!(!valid_peer_urls(&["http://127.0.0.1".into()]));
        assert!(!valid_peer_urls(&["http://:99".into()]));
        assert!(!valid_peer_urls(&["unix://x:1".into()]));
    }

    #[test]
    fn forwarded_errors_keep_their_kind_across_the_wire() {
        for e in [
            ServerError::LearnerNotReady,
            ServerError::MemberNotFound,
            ServerError::LeaseNotFound,
            ServerError::NotLeader,
            ServerError::TimeoutLeaderFail,
        ] {
            let (code, text) = oxcd_peer::HostError::from(e.clone()).to_wire();
            let back = oxcd_peer::HostError::from_wire(code as i32, &text).map(ServerError::from);
            assert_eq!(back, Some(e));
        }
        // Any other error keeps its text (etcd's) as an internal error.
        let (code, text) = oxcd_peer::HostError::from(ServerError::LeaseExists).to_wire();
        assert_eq!(
            oxcd_peer::HostError::from_wire(code as i32, &text).map(ServerError::from),
            Some(ServerError::Internal(ServerError::LeaseExists.to_string()))
        );
    }
}

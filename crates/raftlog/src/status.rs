//! [`RaftStatus`]: the member's raft state, published after every Ready.

use raft::StateRole;

/// The role of this member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RaftRole {
    /// Follows a leader (or waits for one).
    #[default]
    Follower,
    /// Campaigning for leadership.
    Candidate,
    /// In the pre-vote phase of a campaign.
    PreCandidate,
    /// The leader.
    Leader,
    /// A non-voting member.
    Learner,
}

impl RaftRole {
    pub(crate) fn from_raft(state: StateRole, is_learner: bool) -> Self {
        match state {
            StateRole::Leader => RaftRole::Leader,
            StateRole::Candidate => RaftRole::Candidate,
            StateRole::PreCandidate => RaftRole::PreCandidate,
            StateRole::Follower if is_learner => RaftRole::Learner,
            StateRole::Follower => RaftRole::Follower,
        }
    }
}

/// A snapshot of the member's raft state (see [`crate::RaftHandle::status`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftStatus {
    /// This member's raft ID.
    pub id: u64,
    /// The known leader, 0 if none.
    pub leader_id: u64,
    /// The current term.
    pub term: u64,
    /// The highest index known to be committed.
    pub commit_index: u64,
    /// The highest index handed to the applier.
    pub applied_index: u64,
    /// This member's role.
    pub role: RaftRole,
    /// Voting members, sorted.
    pub voters: Vec<u64>,
    /// Learners, sorted.
    pub learners: Vec<u64>,
}

impl RaftStatus {
    /// Whether this member is the leader.
    pub fn is_leader(&self) -> bool {
        self.role == RaftRole::Leader
    }

    /// Whether a leader is known.
    pub fn has_leader(&self) -> bool {
        self.leader_id != 0
    }
}

/// How far the leader replicated its log to one member.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerProgress {
    /// The member's raft ID.
    pub id: u64,
    /// The highest index known to be in the member's log.
    pub matched: u64,
    /// Whether the member is a learner.
    pub is_learner: bool,
    /// Whether the leader heard from the member recently (check-quorum activity).
    pub recent_active: bool,
}

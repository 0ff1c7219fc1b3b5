//! [`HostError`]: why a member refused a request another member forwarded to it (lease
//! renewals and TTLs, promotions, hashes). It crosses the wire as a `HostErrorCode` plus text, so
//! the receiving member gets the same kind back without comparing error messages.

use oxcd_proto::oxcdpb::HostErrorCode;

/// A refusal by the member that served a forwarded request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The member is stopping (or not ready to serve this yet).
    #[error("member stopped")]
    Stopped,
    /// The member is not the leader.
    #[error("not leader")]
    NotLeader,
    /// The member knows no leader.
    #[error("no leader")]
    NoLeader,
    /// Leadership changed while the request ran.
    #[error("leader changed")]
    LeaderChanged,
    /// The request timed out.
    #[error("request timed out")]
    Timeout,
    /// The request timed out, probably because the leader failed.
    #[error("request timed out, possibly due to previous leader failure")]
    TimeoutLeaderFail,
    /// The cluster is unhealthy.
    #[error("unhealthy cluster")]
    Unhealthy,
    /// The lease does not exist.
    #[error("lease not found")]
    LeaseNotFound,
    /// The member does not exist.
    #[error("member not found")]
    MemberNotFound,
    /// The member is not a learner.
    #[error("member is not a learner")]
    MemberNotLearner,
    /// The learner has not caught up with the leader.
    #[error("learner not ready")]
    LearnerNotReady,
    /// Too few members are started for the change.
    #[error("not enough started members")]
    NotEnoughStartedMembers,
    /// The revision asked for was compacted.
    #[error("mvcc: required revision has been compacted")]
    Compacted,
    /// The revision asked for is ahead of the member's.
    #[error("mvcc: required revision is a future revision")]
    FutureRevision,
    /// Anything else, with its text.
    #[error("{0}")]
    Other(String),
}

impl HostError {
    /// The wire form: kind and text.
    pub fn to_wire(&self) -> (HostErrorCode, String) {
        use HostErrorCode as C;
        let code = match self {
            HostError::Stopped => C::Stopped,
            HostError::NotLeader => C::NotLeader,
            HostError::NoLeader => C::NoLeader,
            HostError::LeaderChanged => C::LeaderChanged,
            HostError::Timeout => C::Timeout,
            HostError::TimeoutLeaderFail => C::TimeoutLeaderFail,
            HostError::Unhealthy => C::Unhealthy,
            HostError::LeaseNotFound => C::LeaseNotFound,
            HostError::MemberNotFound => C::MemberNotFound,
            HostError::MemberNotLearner => C::MemberNotLearner,
            HostError::LearnerNotReady => C::LearnerNotReady,
            HostError::NotEnoughStartedMembers => C::NotEnoughStartedMembers,
            HostError::Compacted => C::Compacted,
            HostError::FutureRevision => C::FutureRevision,
            HostError::Other(_) => C::Other,
        };
        (code, self.to_string())
    }

    /// Reads the wire form back: `None` for success (code NONE and no text). A code this
    /// member does not know keeps its text as [`HostError::Other`].
    pub fn from_wire(code: i32, text: &str) -> Option<HostError> {
        use HostErrorCode as C;
        let known = match C::try_from(code) {
            Ok(C::None) if text.is_empty() => return None,
            Ok(C::Stopped) => HostError::Stopped,
            Ok(C::NotLeader) => HostError::NotLeader,
            Ok(C::NoLeader) => HostError::NoLeader,
            Ok(C::LeaderChanged) => HostError::LeaderChanged,
            Ok(C::Timeout) => HostError::Timeout,
            Ok(C::TimeoutLeaderFail) => HostError::TimeoutLeaderFail,
            Ok(C::Unhealthy) => HostError::Unhealthy,
            Ok(C::LeaseNotFound) => HostError::LeaseNotFound,
            Ok(C::MemberNotFound) => HostError::MemberNotFound,
            Ok(C::MemberNotLearner) => HostError::MemberNotLearner,
            Ok(C::LearnerNotReady) => HostError::LearnerNotReady,
            Ok(C::NotEnoughStartedMembers) => HostError::NotEnoughStartedMembers,
            Ok(C::Compacted) => HostError::Compacted,
            Ok(C::FutureRevision) => HostError::FutureRevision,
            Ok(C::None | C::Other) | Err(_) => HostError::Other(text.to_string()),
        };
        Some(known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_the_wire() {
        let all = [
            HostError::Stopped,
            HostError::NotLeader,
            HostError::NoLeader,
            HostError::LeaderChanged,
            HostError::Timeout,
            HostError::TimeoutLeaderFail,
            HostError::Unhealthy,
            HostError::LeaseNotFound,
            HostError::MemberNotFound,
            HostError::MemberNotLearner,
            HostError::LearnerNotReady,
            HostError::NotEnoughStartedMembers,
            HostError::Compacted,
            HostError::FutureRevision,
            HostError::Other("disk on fire".into()),
        ];
        for e in all {
            let (code, text) = e.to_wire();
            assert_eq!(HostError::from_wire(code as i32, &text), Some(e));
        }
        assert_eq!(HostError::from_wire(0, ""), None);
        assert_eq!(
            HostError::from_wire(999, "from a newer member"),
            Some(HostError::Other("from a newer member".into()))
        );
    }
}

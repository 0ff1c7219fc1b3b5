//! [`check_restorable`]: whether raft-rs can start from a stored `ConfState`.
//!
//! `RawNode::new` rebuilds its configuration from the stored conf state and PANICS
//! (`invalid restore`) when the result differs from what was stored: ID 0, a learner
//! that is also a voter, `learners_next` or `auto_leave` outside a joint configuration. None of these can be written by raft itself, so a stored conf state
//! that fails this check is corrupt, and the log store refuses it when it opens.

use raft::eraftpb::{ConfChangeSingle, ConfChangeType, ConfState};
use raft::{Changer, ProgressTracker};

use crate::error::RaftLogError;

fn single(node_id: u64, ty: ConfChangeType) -> ConfChangeSingle {
    let mut c = ConfChangeSingle {
        node_id,
        ..ConfChangeSingle::default()
    };
    c.set_change_type(ty);
    c
}

/// Replays `cs` the way raft-rs' `confchange::restore` does (outgoing voters first, then
/// the joint step into the incoming ones) and checks the result is `cs` again.
pub(crate) fn check_restorable(cs: &ConfState) -> Result<(), RaftLogError> {
    let corrupt = |why: String| RaftLogError::Corrupt(format!("stored conf state {cs:?}: {why}"));
    let mut tracker = ProgressTracker::new(1);
    let outgoing: Vec<ConfChangeSingle> = cs
        .voters_outgoing
        .iter()
        .map(|&id| single(id, ConfChangeType::AddNode))
        .collect();
    let mut incoming: Vec<ConfChangeSingle> = cs
        .voters_outgoing
        .iter()
        .map(|&id| single(id, ConfChangeType::RemoveNode))
        .collect();
    incoming.extend(
        cs.voters
            .iter()
            .map(|&id| single(id, ConfChangeType::AddNode)),
    );
    incoming.extend(
        cs.learners
            .iter()
            .chain(cs.learners_next.iter())
            .map(|&id| single(id, ConfChangeType::AddLearnerNode)),
    );
    let simple = |tracker: &mut ProgressTracker, cc: &ConfChangeSingle| {
        let (cfg, changes) = Changer::new(tracker).simple(std::slice::from_ref(cc))?;
        tracker.apply_conf(cfg, changes, 1);
        Ok::<(), raft::Error>(())
    };
    let replayed = if outgoing.is_empty() {
        incoming.iter().try_for_each(|cc| simple(&mut tracker, cc))
    } else {
        outgoing
            .iter()
            .try_for_each(|cc| simple(&mut tracker, cc))
            .and_then(|()| {
                let (cfg, changes) =
                    Changer::new(&tracker).enter_joint(cs.auto_leave, &incoming)?;
                tracker.apply_conf(cfg, changes, 1);
                Ok(())
            })
    };
    replayed.map_err(|e| corrupt(format!("raft cannot restore it: {e}")))?;
    let restored = tracker.conf().to_conf_state();
    if !raft_proto::conf_state_eq(&restored, cs) {
        return Err(corrupt(format!(
            "raft would restore {restored:?} instead (zero or overlapping IDs)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cs(voters: &[u64], learners: &[u64]) -> ConfState {
        ConfState {
            voters: voters.to_vec(),
            learners: learners.to_vec(),
            ..ConfState::default()
        }
    }

    #[test]
    fn accepts_what_raft_writes() {
        assert!(check_restorable(&ConfState::default()).is_ok());
        assert!(check_restorable(&cs(&[1, 2, 3], &[4])).is_ok());
        let joint = ConfState {
            voters: vec![1, 2, 3],
            voters_outgoing: vec![1, 2, 4],
            learners_next: vec![4],
            auto_leave: true,
            ..ConfState::default()
        };
        assert!(check_restorable(&joint).is_ok());
    }

    /// Regression (oxcd-fuzz state-decode): each of these made `RawNode::new` panic with
    /// "invalid restore" when found in a stored log.
    #[test]
    fn refuses_what_raft_cannot_restore() {
        for bad in [
            cs(&[1, 0], &[]),
            cs(&[0], &[]),
            cs(&[1], &[1]),
            cs(&[1], &[0]),
            ConfState {
                voters: vec![1],
                learners_next: vec![2],
                ..ConfState::default()
            },
            ConfState {
                voters: vec![1],
                auto_leave: true,
                ..ConfState::default()
            },
        ] {
            assert!(
                matches!(check_restorable(&bad), Err(RaftLogError::Corrupt(_))),
                "{bad:?} accepted"
            );
        }
    }
}

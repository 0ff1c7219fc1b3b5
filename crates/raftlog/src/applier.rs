//! [`Applier`]: the state machine seam, and the plain types it receives
//! ([`Committed`], [`ConfChange`]).

use raft::eraftpb::{ConfChangeSingle, ConfChangeType, ConfChangeV2};

use crate::error::ApplyError;
use crate::status::RaftStatus;

/// One committed normal entry, borrowed from the raft loop for the duration of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed<'a> {
    /// The entry's raft index.
    pub index: u64,
    /// The term the entry was proposed in.
    pub term: u64,
    /// The opaque payload. EMPTY means a no-op: a new leader's first entry ("first commit
    /// in term"), or a conf change raft ignored or refused. The applier MUST still advance
    /// its applied index for it.
    pub data: &'a [u8],
}

/// What a membership change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfChangeKind {
    /// Adds a voting member.
    AddVoter,
    /// Removes a member (voter or learner).
    RemoveVoter,
    /// Adds a non-voting member.
    AddLearner,
    /// Turns a learner into a voter.
    PromoteLearner,
}

/// A single membership change, in plain types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfChange {
    /// What to do.
    pub kind: ConfChangeKind,
    /// The member's raft ID.
    pub node_id: u64,
    /// Opaque context replicated with the change (for example the member's peer URLs).
    pub context: Vec<u8>,
}

impl ConfChange {
    /// Converts to raft's `ConfChangeV2` (a single, simple change).
    pub(crate) fn to_raft(&self) -> ConfChangeV2 {
        let ty = match self.kind {
            ConfChangeKind::AddVoter | ConfChangeKind::PromoteLearner => ConfChangeType::AddNode,
            ConfChangeKind::RemoveVoter => ConfChangeType::RemoveNode,
            ConfChangeKind::AddLearner => ConfChangeType::AddLearnerNode,
        };
        let mut cc = ConfChangeV2::default();
        cc.set_changes(vec![raft_proto::new_conf_change_single(self.node_id, ty)].into());
        cc.context = self.context.clone().into();
        cc
    }

    /// Converts a committed single change back. `AddNode` of a current learner is a
    /// promotion (every member sees the same configuration at the same log position).
    pub(crate) fn from_raft(single: &ConfChangeSingle, context: &[u8], learners: &[u64]) -> Self {
        let kind = match single.get_change_type() {
            ConfChangeType::AddNode if learners.contains(&single.node_id) => {
                ConfChangeKind::PromoteLearner
            }
            ConfChangeType::AddNode => ConfChangeKind::AddVoter,
            ConfChangeType::RemoveNode => ConfChangeKind::RemoveVoter,
            ConfChangeType::AddLearnerNode => ConfChangeKind::AddLearner,
        };
        Self {
            kind,
            node_id: single.node_id,
            context: context.to_vec(),
        }
    }
}

/// The cluster configuration after a membership change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// Voting members, sorted.
    pub voters: Vec<u64>,
    /// Learners, sorted.
    pub learners: Vec<u64>,
}

/// The replicated state machine, driven by the raft loop (implemented by the server's
/// `StateMachine`; tests use in-memory appliers).
///
/// # Contract
/// - Entries arrive in log order, EXACTLY ONCE PER PROCESS RUN. After a restart, entries
///   with `index <= applied_index()` MAY be delivered again: the applier MUST skip them.
/// - The applier MUST persist its applied index ATOMICALLY with the state it applied
///   (one backend write batch); that write need not be synced, the raft log is durable.
/// - Every index advances the applied index, including empty no-op entries and conf
///   changes.
/// - `persist()` MUST make everything applied so far durable; the raft log is compacted
///   past the applied index only after it returned `Ok`.
/// - An error is FATAL: the raft loop stops (an entry cannot be skipped).
/// - On a new cluster, indexes `1..=N` are the bootstrap conf changes adding the N initial
///   voters (`ConfChangeKind::AddVoter`, with `RaftConfig::voter_contexts`).
pub trait Applier: Send + 'static {
    /// Applies committed normal entries, in order. One call may carry every committed
    /// entry of a Ready, so they can be written in one batch.
    fn apply(&mut self, entries: &[Committed<'_>]) -> Result<(), ApplyError>;

    /// The last index applied (and persisted) by this state machine.
    fn applied_index(&self) -> u64;

    /// Applies a membership change that raft accepted at `index`. A change raft refused
    /// is delivered to [`Applier::apply`] as an empty (no-op) entry instead.
    fn apply_conf_change(
        &mut self,
        index: u64,
        term: u64,
        change: &ConfChange,
    ) -> Result<(), ApplyError>;

    /// Called after a Ready that changed the leader, the role or the term (lessor
    /// promote/demote, failing pending requests).
    fn on_role_change(&mut self, _status: &RaftStatus) {}

    /// Makes all applied state durable (called before the raft log is compacted).
    fn persist(&mut self) -> Result<(), ApplyError>;

    /// Replaces the whole state with the snapshot the leader sent for `index` in `term`
    /// (the transport delivered its data beside the message). Afterwards `applied_index()`
    /// MUST be `>= index`. MUST be idempotent: after a crash it is called again at start.
    /// The default refuses (an applier that cannot take snapshots stops the loop).
    fn restore(&mut self, index: u64, term: u64) -> Result<(), ApplyError> {
        Err(ApplyError::new(format!(
            "this state machine cannot restore a snapshot (index {index}, term {term})"
        )))
    }
}

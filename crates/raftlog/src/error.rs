//! Errors of the raft log crate.
//!
//! [`RaftLogError`] is the crate's error: storage, codec, configuration and fatal loop
//! failures. The handle's operations return small per-operation enums so that callers can
//! match exhaustively on what can actually happen to them.

use oxcd_backend::BackendError;

/// The crate error: anything that stops the raft loop or fails a store operation.
#[derive(Debug, thiserror::Error)]
pub enum RaftLogError {
    /// The raft log backend failed.
    #[error("raft log storage: {0}")]
    Storage(#[from] BackendError),
    /// A persisted or received record could not be decoded.
    #[error("raft log codec: {0}")]
    Codec(String),
    /// The persisted log is inconsistent with itself or with the applier.
    #[error("raft log corrupt: {0}")]
    Corrupt(String),
    /// The configuration is invalid.
    #[error("raft config: {0}")]
    Config(String),
    /// raft-rs returned an error.
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// The applier failed; the loop stops because entries cannot be skipped.
    #[error("apply: {0}")]
    Apply(#[from] ApplyError),
    /// The raft loop has stopped.
    #[error("raft node stopped")]
    Stopped,
    /// The raft thread could not be started.
    #[error("raft thread: {0}")]
    Thread(String),
}

impl From<protobuf::ProtobufError> for RaftLogError {
    fn from(e: protobuf::ProtobufError) -> Self {
        RaftLogError::Codec(e.to_string())
    }
}

/// Why [`crate::RaftHandle::propose`] did not hand the payload to raft.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// No leader is known; the proposal was dropped.
    #[error("no leader")]
    NoLeader,
    /// raft dropped the proposal although a leader is known (leadership transfer in
    /// progress, or this member was removed).
    #[error("proposal dropped")]
    Dropped,
    /// The raft loop has stopped.
    #[error("raft node stopped")]
    Stopped,
}

/// Why [`crate::RaftHandle::read_index`] did not return a read index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadIndexError {
    /// No leader became known before the deadline.
    #[error("no leader")]
    NoLeader,
    /// The leader changed while the request was pending.
    #[error("leader changed")]
    LeaderChanged,
    /// The raft loop has stopped.
    #[error("raft node stopped")]
    Stopped,
    /// No answer before the deadline.
    #[error("read index timed out")]
    Timeout,
}

/// Why [`crate::RaftHandle::change_membership`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfChangeError {
    /// No leader is known; the change was dropped.
    #[error("no leader")]
    NoLeader,
    /// raft dropped the change (leadership transfer, or this member was removed).
    #[error("conf change dropped")]
    Dropped,
    /// Another membership change has not been applied yet.
    #[error("a membership change is already in progress")]
    InProgress,
    /// The change was committed but raft refused it (for example removing the last voter
    /// or promoting a member that is not a learner). It was applied as a no-op.
    #[error("conf change rejected: {0}")]
    Rejected(String),
    /// The change was not applied before the deadline (it may still be applied later).
    #[error("conf change timed out")]
    Timeout,
    /// The raft loop has stopped.
    #[error("raft node stopped")]
    Stopped,
}

/// A failure of the state machine behind [`crate::Applier`]. It is fatal to the raft loop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApplyError {
    message: String,
}

impl ApplyError {
    /// An apply error with a description.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The description.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Maps a backend error into raft's storage error (what [`raft::Storage`] must return).
pub(crate) fn to_raft_storage(e: impl std::fmt::Display) -> raft::Error {
    raft::Error::Store(raft::StorageError::Other(e.to_string().into()))
}

//! [`ProposalWaiters`]: ties a proposal to its apply result by request ID.
//!
//! The proposer registers an ID before proposing; the apply loop triggers it when the entry
//! with that ID is applied. Every member applies every entry, but only the member that
//! registered an ID answers its client; entries proposed elsewhere find no waiter.

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::apply::ApplyResult;

/// Pending proposals of this member, by request ID.
#[derive(Debug, Default)]
pub struct ProposalWaiters {
    pending: Mutex<HashMap<u64, oneshot::Sender<ApplyResult>>>,
}

impl ProposalWaiters {
    /// Registers `id`; the receiver resolves when the entry is applied.
    pub fn register(&self, id: u64) -> oneshot::Receiver<ApplyResult> {
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        rx
    }

    /// Delivers the result of `id`, if this member is waiting for it.
    pub fn trigger(&self, id: u64, result: ApplyResult) {
        if let Some(tx) = self.pending.lock().remove(&id) {
            let _ = tx.send(result);
        }
    }

    /// Whether `id` is waited for here (lets the applier skip building unused results).
    pub fn is_registered(&self, id: u64) -> bool {
        self.pending.lock().contains_key(&id)
    }

    /// Forgets `id` (the proposal failed or timed out).
    pub fn cancel(&self, id: u64) {
        self.pending.lock().remove(&id);
    }

    /// Fails every pending proposal at once (their callers see `ServerError::Stopped`):
    /// the raft loop stopped, so none of them will be applied by this process.
    pub fn fail_all(&self) {
        self.pending.lock().clear();
    }

    /// Number of pending proposals.
    pub fn len(&self) -> usize {
        self.pending.lock().len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.lock().is_empty()
    }
}

//! Read paths. [`ReadBarrier`], the seam a linearizable read waits on;
//! [`linearizable`]: its implementation, ReadIndex batching over raft.

pub mod linearizable;

use crate::error::ServerError;

/// Returns once this member has applied everything committed before the call, so a read
/// that follows sees every write acknowledged before it started. Implemented over raft's
/// ReadIndex by [`linearizable::LinearizableReads`]; a test may pass a fake.
#[tonic::async_trait]
pub trait ReadBarrier: Send + Sync {
    /// Waits for the barrier (bounded by the implementation's timeout).
    async fn wait(&self) -> Result<(), ServerError>;
}

#[tonic::async_trait]
impl ReadBarrier for linearizable::LinearizableReads {
    async fn wait(&self) -> Result<(), ServerError> {
        linearizable::LinearizableReads::wait(self).await
    }
}

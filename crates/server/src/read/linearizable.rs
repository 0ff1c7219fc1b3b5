//! [`LinearizableReads`]: batched ReadIndex (etcd `read.go`).
//!
//! A reader calls [`LinearizableReads::wait`]. One background task collects every reader
//! queued so far, asks raft for one read index (a quorum round on a cluster), waits until the
//! local apply has reached that index, and releases the whole batch. Readers that arrive
//! while a round is in flight join the next round, so one round serves many reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oxcd_raftlog::{RaftHandle, ReadIndexError};
use tokio::sync::{mpsc, oneshot};

use crate::error::ServerError;

type Waiter = oneshot::Sender<Result<(), ServerError>>;

/// Handle to the read-index batcher; cheap to clone.
#[derive(Clone, Debug)]
pub struct LinearizableReads {
    queue: mpsc::Sender<Waiter>,
}

impl LinearizableReads {
    /// Starts the batching task on the current tokio runtime.
    pub fn start(raft: RaftHandle, timeout: Duration) -> Self {
        let (queue, rx) = mpsc::channel(16 * 1024);
        tokio::spawn(run(raft, rx, timeout));
        Self { queue }
    }

    /// Returns once this member has applied everything committed before the call.
    pub async fn wait(&self) -> Result<(), ServerError> {
        let (tx, rx) = oneshot::channel();
        self.queue
            .send(tx)
            .await
            .map_err(|_| ServerError::Stopped)?;
        rx.await.map_err(|_| ServerError::Stopped)?
    }
}

async fn run(raft: RaftHandle, mut rx: mpsc::Receiver<Waiter>, timeout: Duration) {
    static CTX: AtomicU64 = AtomicU64::new(1);
    let mut batch: Vec<Waiter> = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let ctx = CTX.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(timeout, async {
            let index = raft.read_index(ctx).await.map_err(map_read_error)?;
            raft.wait_applied(index)
                .await
                .map_err(|_| ServerError::Stopped)
        })
        .await
        .unwrap_or(Err(ServerError::Timeout));
        // etcd counts a timed-out round as slow and any other failure as failed.
        match &result {
            Ok(()) => {}
            Err(ServerError::Timeout) => crate::metrics::SLOW_READ_INDEXES.inc(),
            Err(_) => crate::metrics::READ_INDEXES_FAILED.inc(),
        }
        for w in batch.drain(..) {
            let _ = w.send(result.clone());
        }
    }
}

fn map_read_error(e: ReadIndexError) -> ServerError {
    match e {
        ReadIndexError::NoLeader => ServerError::NoLeader,
        ReadIndexError::LeaderChanged => ServerError::LeaderChanged,
        ReadIndexError::Stopped => ServerError::Stopped,
        ReadIndexError::Timeout => ServerError::Timeout,
    }
}

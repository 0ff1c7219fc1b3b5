//! [`Compactor`]: one background thread that runs physical compactions in order, so the
//! apply loop never waits for old revisions to be deleted.

use std::sync::mpsc;
use std::thread;

use oxcd_mvcc::Compaction;
use tokio::sync::oneshot;

/// Runs [`Compaction`] jobs on a dedicated thread.
#[derive(Debug)]
pub struct Compactor {
    jobs: mpsc::Sender<(Compaction, oneshot::Sender<()>)>,
}

impl Compactor {
    /// Starts the compaction thread; it ends when the `Compactor` is dropped.
    pub fn start() -> Self {
        let (jobs, rx) = mpsc::channel::<(Compaction, oneshot::Sender<()>)>();
        let spawned = thread::Builder::new()
            .name("oxcd-compactor".into())
            .spawn(move || {
                while let Ok((job, done)) = rx.recv() {
                    run(job);
                    let _ = done.send(());
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the compactor thread");
        }
        Self { jobs }
    }

    /// Queues a job; the receiver resolves when it has finished.
    pub fn submit(&self, job: Compaction) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if let Err(mpsc::SendError((job, tx))) = self.jobs.send((job, tx)) {
            // The thread is gone: run inline rather than lose the compaction.
            run(job);
            let _ = tx.send(());
        }
        rx
    }
}

/// Runs one job and records it in the compaction metrics.
fn run(job: Compaction) {
    match job.run() {
        Ok(stats) => crate::metrics::record_compaction(&stats),
        Err(e) => tracing::error!(error = %e, "physical compaction failed"),
    }
}

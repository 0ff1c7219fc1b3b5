//! [`Compaction`]: dropping history below a revision, logically then physically.
//!
//! [`crate::KvStore::compact`] validates the revision, makes it the compacted revision at
//! once (reads below it fail from then on, so every member answers the same way for the
//! entries that follow), and stages `scheduledCompactRev` into the caller's batch.
//! [`Compaction::run`] then compacts the index and deletes, in chunks, every stored
//! revision `<= rev` the index no longer needs, and finally writes `finishedCompactRev`.
//! A store that opens with `scheduledCompactRev > finishedCompactRev` runs it again.

use std::sync::Arc;

use oxcd_backend::{Column, WriteBatch};

use crate::error::{MvccError, Result};
use crate::revision::Revision;
use crate::store::Shared;

/// `Column::Meta` key of the last scheduled compaction (value: a 17-byte revision).
pub const SCHEDULED_COMPACT_KEY: &[u8] = b"scheduledCompactRev";
/// `Column::Meta` key of the last finished compaction (value: a 17-byte revision).
pub const FINISHED_COMPACT_KEY: &[u8] = b"finishedCompactRev";
/// Stored revisions examined per backend write batch during physical compaction, unless
/// the store was given another limit ([`crate::KvStore::set_compaction_batch_limit`]).
pub const COMPACTION_CHUNK: usize = 1000;

/// What a finished [`Compaction::run`] did, and how long its parts took (the quantities
/// etcd's `etcd_debugging_mvcc_*compaction*` metrics record).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactionStats {
    /// Stored revisions deleted from the backend.
    pub removed: usize,
    /// Whether a later compaction had already finished, so nothing was done.
    pub skipped: bool,
    /// How long the in-memory index was compacted, under the store's write lock (writers
    /// and readers wait meanwhile).
    pub index_pause: std::time::Duration,
    /// Each chunk of the physical deletion but the last: the scan of the chunk and the
    /// write of its deletes (etcd observes the batches that are followed by another one).
    pub batch_pauses: Vec<std::time::Duration>,
    /// The physical deletion, from its first chunk to the written `finishedCompactRev`.
    pub total: std::time::Duration,
}

/// A scheduled compaction; [`Compaction::run`] it once the batch that recorded it is written.
/// It owns a handle to the store, so it can run on another thread.
#[must_use = "a scheduled compaction does nothing until it is run"]
pub struct Compaction {
    shared: Arc<Shared>,
    revision: i64,
}

impl std::fmt::Debug for Compaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compaction")
            .field("revision", &self.revision)
            .finish()
    }
}

impl Compaction {
    pub(crate) fn new(shared: Arc<Shared>, revision: i64) -> Self {
        Compaction { shared, revision }
    }

    pub(crate) fn schedule(
        shared: &Arc<Shared>,
        revision: i64,
        batch: &mut WriteBatch,
    ) -> Result<Self> {
        let mut st = shared.state.write();
        if revision <= st.compacted {
            return Err(MvccError::Compacted);
        }
        if revision > st.current {
            return Err(MvccError::FutureRevision);
        }
        st.compacted = revision;
        drop(st);
        batch.put(
            Column::Meta,
            SCHEDULED_COMPACT_KEY,
            Revision::new(revision, 0).to_bytes().to_vec(),
        );
        Ok(Compaction::new(Arc::clone(shared), revision))
    }

    /// The revision this job compacts at.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Compacts the index, deletes the unneeded revisions from `Column::Kv` in chunks of
    /// the store's compaction batch limit, then writes `finishedCompactRev`. Blocking; jobs run one at a
    /// time, and a job older than one that already finished does nothing.
    pub fn run(self) -> Result<CompactionStats> {
        let started = std::time::Instant::now();
        let mut finished = self.shared.compactor.lock();
        if self.revision <= *finished {
            return Ok(CompactionStats {
                skipped: true,
                ..CompactionStats::default()
            });
        }
        let index_started = std::time::Instant::now();
        let keep = self.shared.state.write().index.compact(self.revision);
        let index_pause = index_started.elapsed();
        let physical = std::time::Instant::now();
        let mut batch_pauses = Vec::new();
        let backend = self.shared.backend.as_ref();
        let end = Revision::new(self.revision.saturating_add(1), 0).to_bytes();
        let mut start: Vec<u8> = Vec::new();
        let mut removed = 0usize;
        let chunk = self
            .shared
            .compaction_batch
            .load(std::sync::atomic::Ordering::Relaxed)
            .max(1);
        loop {
            let chunk_started = std::time::Instant::now();
            let mut keys: Vec<Box<[u8]>> = Vec::with_capacity(chunk);
            for item in backend
                .scan(Column::Kv, &start, Some(&end), false)?
                .take(chunk)
            {
                keys.push(item?.0);
            }
            let done = keys.len() < chunk;
            fail::fail_point!("compaction-between-chunks", |_| std::process::abort());
            let mut batch = WriteBatch::new();
            for key in &keys {
                let (rev, _) = Revision::decode_key(key)?;
                if !keep.contains(&rev) {
                    batch.delete(Column::Kv, key.to_vec());
                    removed += 1;
                }
            }
            if let Some(last) = keys.last() {
                start = last.to_vec();
                start.push(0); // the smallest key after `last`
            }
            if done {
                batch.put(
                    Column::Meta,
                    FINISHED_COMPACT_KEY,
                    Revision::new(self.revision, 0).to_bytes().to_vec(),
                );
                backend.write(batch, false)?;
                break;
            }
            if !batch.is_empty() {
                backend.write(batch, false)?;
            }
            batch_pauses.push(chunk_started.elapsed());
        }
        *finished = self.revision;
        tracing::info!(
            revision = self.revision,
            removed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "mvcc compaction finished"
        );
        Ok(CompactionStats {
            removed,
            skipped: false,
            index_pause,
            batch_pauses,
            total: physical.elapsed(),
        })
    }
}

//! Replacing the whole state machine with a snapshot from the leader.
//!
//! The peer transport stages the leader's checkpoint (a RocksDB directory) under
//! `<data-dir>/member/snap/<term>-<index>` (hex); raft then hands the snapshot to
//! [`crate::apply::StateMachine`]'s `restore`, which copies every column of the
//! checkpoint into the live backend and reloads the in-memory stores.
//!
//! # Crash safety
//! A `restoring` marker naming the staged directory is written (synced) BEFORE the live
//! data is touched and removed (synced) after the copy; the staged directory is deleted
//! only after that. A member that dies in between finds the marker at start and copies
//! again ([`finish_interrupted`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use oxcd_backend::{Backend, Column, RocksBackend, RocksOptions, WriteBatch};

use super::{load_applied_index, StateMachine};
use crate::error::ServerError;

/// Meta key of the restore-in-progress marker.
const RESTORING_KEY: &[u8] = b"restoring";
/// Meta keys that belong to this member, not to the replicated state.
const LOCAL_META_KEYS: [&[u8]; 2] = [
    crate::members::LOCAL_ID_KEY,
    crate::storage_format::FORMAT_KEY,
];
/// Bytes copied per write batch.
const COPY_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Columns a state machine snapshot carries (the raft log lives in its own backend).
const STATE_COLUMNS: [Column; 6] = [
    Column::Kv,
    Column::Meta,
    Column::Lease,
    Column::Auth,
    Column::Members,
    Column::Alarm,
];

/// The staging directory of the snapshot for (`index`, `term`) under `root`.
pub fn staging_dir(root: &Path, index: u64, term: u64) -> PathBuf {
    root.join(format!("{term:016x}-{index:016x}"))
}

fn internal<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ServerError {
    move |e| ServerError::Internal(format!("{what}: {e}"))
}

/// Copies every state column of the checkpoint in `dir` over the live `backend`, under
/// the restoring marker. Member-local Meta keys keep their values. Returns the
/// checkpoint's applied index.
fn copy_checkpoint(backend: &dyn Backend, dir: &Path) -> Result<u64, ServerError> {
    let snap =
        RocksBackend::open(dir, &RocksOptions::default()).map_err(internal("open snapshot"))?;
    let snap_applied = load_applied_index(&snap)?;
    let marker = dir.to_string_lossy().as_bytes().to_vec();
    let mut keep = vec![(RESTORING_KEY.to_vec(), marker)];
    for key in LOCAL_META_KEYS {
        if let Some(v) = backend.get(Column::Meta, key)? {
            keep.push((key.to_vec(), v));
        }
    }
    let is_kept = |k: &[u8]| keep.iter().any(|(kk, _)| kk.as_slice() == k);

    // One synced batch clears the state and writes the marker (ops apply in order), so a
    // crash from here on is always detected at start.
    let mut batch = WriteBatch::new();
    for col in STATE_COLUMNS {
        batch.delete_range(col, Vec::new(), vec![0xff; 256]);
    }
    for (k, v) in &keep {
        batch.put(Column::Meta, k.clone(), v.clone());
    }
    backend.write(batch, true)?;
    let mut batch = WriteBatch::new();
    for col in STATE_COLUMNS {
        for item in snap.scan(col, &[], None, false)? {
            let (k, v) = item?;
            if col == Column::Meta && is_kept(&k) {
                continue;
            }
            batch.put(col, k.to_vec(), v.to_vec());
            if batch.size_bytes() >= COPY_BATCH_BYTES {
                backend.write(std::mem::take(&mut batch), false)?;
            }
        }
    }
    backend.write(batch, false)?;
    backend.sync()?;
    let mut done = WriteBatch::new();
    done.delete(Column::Meta, RESTORING_KEY);
    backend.write(done, true)?;
    Ok(snap_applied)
}

/// Finishes a restore that a crash interrupted (called before the state machine opens
/// its stores). Returns whether one was finished.
pub fn finish_interrupted(backend: &dyn Backend) -> Result<bool, ServerError> {
    let Some(dir) = backend.get(Column::Meta, RESTORING_KEY)? else {
        return Ok(false);
    };
    let dir = PathBuf::from(String::from_utf8_lossy(&dir).into_owned());
    if !dir.is_dir() {
        return Err(ServerError::Internal(format!(
            "an interrupted snapshot restore needs {} which is gone",
            dir.display()
        )));
    }
    tracing::warn!(dir = %dir.display(), "finishing an interrupted snapshot restore");
    copy_checkpoint(backend, &dir)?;
    Ok(true)
}

/// Deletes every staged snapshot.
fn remove_staged(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

impl StateMachine {
    /// Installs the staged snapshot for (`index`, `term`) (see the module docs).
    pub(crate) fn restore_snapshot(&mut self, index: u64, term: u64) -> Result<(), ServerError> {
        let dir = staging_dir(&self.snapshot_root, index, term);
        if !dir.is_dir() {
            if self.applied >= index {
                return Ok(());
            }
            return Err(ServerError::Internal(format!(
                "no staged snapshot at {}",
                dir.display()
            )));
        }
        let started = std::time::Instant::now();
        fail::fail_point!("restore-before-copy", |_| std::process::abort());
        let applied = copy_checkpoint(self.backend.as_ref(), &dir)?;
        fail::fail_point!("restore-after-copy", |_| std::process::abort());
        if applied < index {
            return Err(ServerError::Internal(format!(
                "the snapshot's state is at index {applied}, older than its raft index {index}"
            )));
        }
        self.kv.reload().map_err(ServerError::from)?;
        self.leases
            .recover(self.backend.as_ref())
            .map_err(ServerError::from)?;
        for (key, lease) in self.kv.take_lease_attachments() {
            let _ = self.leases.attach(lease, &key);
        }
        self.alarms.reload(self.backend.as_ref())?;
        self.members.reload(self.backend.as_ref())?;
        self.auth.reload(self.backend.as_ref())?;
        crate::metrics::AUTH_REVISION.set(self.auth.revision() as i64);
        self.applied = applied;
        self.progress.applied.store(applied, Ordering::Release);
        if let Some(obs) = &self.observer {
            obs.on_restore(self.kv.current_revision());
        }
        remove_staged(&self.snapshot_root);
        tracing::info!(
            index,
            term,
            applied,
            revision = self.kv.current_revision(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "restored the state machine from a snapshot"
        );
        Ok(())
    }
}

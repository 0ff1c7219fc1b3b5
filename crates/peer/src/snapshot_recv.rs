//! Receiving a snapshot: write every file into the staging directory the host names for
//! the snapshot's (index, term), fsync, then step the raft message.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use oxcd_proto::oxcdpb::SnapshotChunk;
use oxcd_raftlog::RaftHandle;
use tonic::{Status, Streaming};

use crate::host::PeerHost;
use crate::metrics;

/// Receives one snapshot stream; returns once raft has the message.
pub(crate) async fn receive(
    host: &dyn PeerHost,
    raft: &RaftHandle,
    mut stream: Streaming<SnapshotChunk>,
) -> Result<(), Status> {
    let first = stream
        .message()
        .await?
        .ok_or_else(|| Status::invalid_argument("empty snapshot stream"))?;
    if first.cluster_id != 0 && first.cluster_id != host.cluster_id() {
        return Err(Status::failed_precondition("cluster ID mismatch"));
    }
    let (index, term) = oxcd_raftlog::snapshot_position(&first.message)
        .ok_or_else(|| Status::invalid_argument("first chunk is not a raft snapshot message"))?;
    let dir = host.snapshot_dir(index, term);
    let result = write_files(&dir, &mut stream).await;
    let from = "leader";
    match result {
        Ok(bytes) => {
            metrics::SNAPSHOT_RECEIVE_SUCCESS
                .with_label_values(&[from])
                .inc();
            tracing::info!(index, term, bytes, "received a snapshot");
            raft.step(first.message)
                .await
                .map_err(|_| Status::unavailable("raft stopped"))?;
            Ok(())
        }
        Err(e) => {
            metrics::SNAPSHOT_RECEIVE_FAILURES
                .with_label_values(&[from])
                .inc();
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// Writes the snapshot's files and syncs them (`etcd_snap_db_*`: the sync, and the whole
/// save when it succeeded).
async fn write_files(dir: &Path, stream: &mut Streaming<SnapshotChunk>) -> Result<u64, Status> {
    let started = std::time::Instant::now();
    let io = |what: &str, e: std::io::Error| Status::internal(format!("snapshot {what}: {e}"));
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| io("clear staging dir", e))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| io("create staging dir", e))?;
    let mut files: HashMap<String, std::fs::File> = HashMap::new();
    let mut total = 0u64;
    while let Some(chunk) = stream.message().await? {
        if !crate::plain_file_name(&chunk.file) {
            return Err(Status::invalid_argument(format!(
                "bad snapshot file name {:?}",
                chunk.file
            )));
        }
        let f = match files.get_mut(&chunk.file) {
            Some(f) => f,
            None => {
                let f = std::fs::File::create(dir.join(&chunk.file))
                    .map_err(|e| io("create file", e))?;
                files.entry(chunk.file.clone()).or_insert(f)
            }
        };
        f.write_all(&chunk.data).map_err(|e| io("write", e))?;
        total += chunk.data.len() as u64;
    }
    let fsync = std::time::Instant::now();
    let synced = files
        .values()
        .try_for_each(|f| f.sync_all())
        .and_then(|()| std::fs::File::open(dir)?.sync_all());
    metrics::SNAP_DB_FSYNC_SECONDS.observe(fsync.elapsed().as_secs_f64());
    synced.map_err(|e| io("sync", e))?;
    metrics::SNAP_DB_SAVE_TOTAL_SECONDS.observe(started.elapsed().as_secs_f64());
    Ok(total)
}

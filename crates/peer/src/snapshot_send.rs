//! Sending a snapshot: checkpoint the state machine, stream the raft message and then
//! every checkpoint file in chunks, report the outcome to raft, delete the checkpoint.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxcd_proto::oxcdpb::SnapshotChunk;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::PeerError;
use crate::metrics;
use crate::transport::Shared;

/// Chunks buffered between the file reader and the stream.
const CHUNK_WINDOW: usize = 4;

/// Sends the snapshot `msg` describes to `to` and reports the outcome to raft.
pub(crate) async fn send(shared: Arc<Shared>, to: u64, msg: Vec<u8>) {
    let label = metrics::id_label(to);
    let started = std::time::Instant::now();
    let outcome = transfer(&shared, to, msg).await;
    match &outcome {
        Ok(bytes) => {
            metrics::SNAPSHOT_SEND_SUCCESS
                .with_label_values(&[&label])
                .inc();
            tracing::info!(peer = %label, bytes, elapsed_ms = started.elapsed().as_millis() as u64, "sent a snapshot");
        }
        Err(e) => {
            metrics::SNAPSHOT_SEND_FAILURES
                .with_label_values(&[&label])
                .inc();
            tracing::warn!(peer = %label, error = %e, "sending a snapshot failed");
        }
    }
    shared.report_snapshot(to, outcome.is_ok());
}

async fn transfer(shared: &Arc<Shared>, to: u64, msg: Vec<u8>) -> Result<u64, PeerError> {
    let host = shared.host.clone();
    let taken = std::time::Instant::now();
    let dir = tokio::task::spawn_blocking(move || host.checkpoint())
        .await
        .map_err(|e| PeerError::Checkpoint(e.to_string()))?
        .map_err(|e| PeerError::Checkpoint(e.to_string()))?;
    let result = stream_dir(shared, to, msg, &dir).await;
    metrics::BACKEND_SNAPSHOT_SECONDS.observe(taken.elapsed().as_secs_f64());
    let cleanup = dir.clone();
    let _ = tokio::task::spawn_blocking(move || std::fs::remove_dir_all(cleanup)).await;
    result
}

async fn stream_dir(
    shared: &Arc<Shared>,
    to: u64,
    msg: Vec<u8>,
    dir: &Path,
) -> Result<u64, PeerError> {
    let files = list_files(dir).map_err(|e| PeerError::io("list checkpoint", e))?;
    let mut client = crate::stream::connect(shared, to, 0).await?;
    let (tx, rx) = mpsc::channel(CHUNK_WINDOW);
    let first = SnapshotChunk {
        message: msg,
        cluster_id: shared.host.cluster_id(),
        ..SnapshotChunk::default()
    };
    if tx.send(first).await.is_err() {
        return Err(PeerError::Checkpoint("snapshot stream closed".into()));
    }
    let chunk = shared.config.snapshot_chunk_bytes.max(4096);
    let reader = tokio::task::spawn_blocking(move || read_files(&files, chunk, &tx));
    let call = client.snapshot(ReceiverStream::new(rx)).await;
    let sent = reader
        .await
        .map_err(|e| PeerError::Checkpoint(e.to_string()))?;
    call?;
    let sent = sent?;
    metrics::SENT_BYTES
        .with_label_values(&[&metrics::id_label(to)])
        .inc_by(sent as f64);
    Ok(sent)
}

fn list_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads every file in `chunk`-sized pieces into the stream (blocking thread).
fn read_files(
    files: &[(String, PathBuf)],
    chunk: usize,
    tx: &mpsc::Sender<SnapshotChunk>,
) -> Result<u64, PeerError> {
    let mut total = 0u64;
    for (name, path) in files {
        let mut f =
            std::fs::File::open(path).map_err(|e| PeerError::io(format!("open {name}"), e))?;
        let mut first = true;
        loop {
            let mut buf = vec![0u8; chunk];
            let n = read_full(&mut f, &mut buf)
                .map_err(|e| PeerError::io(format!("read {name}"), e))?;
            if n == 0 && !first {
                break;
            }
            buf.truncate(n);
            total += n as u64;
            let piece = SnapshotChunk {
                file: name.clone(),
                data: buf,
                ..SnapshotChunk::default()
            };
            if tx.blocking_send(piece).is_err() {
                return Err(PeerError::Checkpoint("snapshot stream closed".into()));
            }
            first = false;
            if n < chunk {
                break;
            }
        }
    }
    Ok(total)
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

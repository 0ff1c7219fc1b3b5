//! `Maintenance.Snapshot`: streams a consistent copy of the state machine's backend.
//!
//! The copy is a RocksDB checkpoint (hard links, no pause of writes), packed into a simple
//! archive: the magic line `OXCDSNAP1\n`, then for each file its name length (u32 BE), name,
//! size (u64 BE) and bytes. As etcd does, the data goes out in 32 KiB chunks with
//! `remaining_bytes`, followed by one message whose blob is the SHA-256 of everything sent.
//! The archive is not a bbolt file: `etcdctl snapshot save` stores it, but `etcdctl snapshot
//! status/restore` cannot read it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::Stream;
use oxcd_proto::etcdserverpb::SnapshotResponse;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::header;
use crate::context::{ServerContext, SERVER_VERSION};
use crate::error::ServerError;

const CHUNK: usize = 32 * 1024;
const MAGIC: &[u8] = b"OXCDSNAP1\n";

type SnapshotStream = Pin<Box<dyn Stream<Item = Result<SnapshotResponse, Status>> + Send>>;

/// Takes a checkpoint and returns the stream that sends it.
pub async fn stream(ctx: Arc<ServerContext>) -> Result<SnapshotStream, ServerError> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = ctx.data_dir.join("member").join(format!(
        "snapshot-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let backend = ctx.backend.clone();
    let cp = dir.clone();
    tokio::task::spawn_blocking(move || backend.checkpoint(&cp))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    let files = list_files(&dir).map_err(|e| ServerError::Internal(e.to_string()))?;
    let hdr = header::current(&ctx);
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = send_archive(&dir, &files, hdr, &tx) {
            let _ = tx.blocking_send(Err(Status::internal(e.to_string())));
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

fn list_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf, u64)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        if e.file_type()?.is_file() {
            out.push((
                e.file_name().to_string_lossy().into_owned(),
                e.path(),
                e.metadata()?.len(),
            ));
        }
    }
    out.sort();
    Ok(out)
}

fn send_archive(
    _dir: &Path,
    files: &[(String, PathBuf, u64)],
    hdr: Option<oxcd_proto::etcdserverpb::ResponseHeader>,
    tx: &mpsc::Sender<Result<SnapshotResponse, Status>>,
) -> std::io::Result<()> {
    let total: u64 = MAGIC.len() as u64
        + files
            .iter()
            .map(|(n, _, len)| 4 + n.len() as u64 + 8 + len)
            .sum::<u64>();
    let mut sent: u64 = 0;
    let mut hasher = Sha256::new();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut first = true;
    let mut flush =
        |buf: &mut Vec<u8>, sent: &mut u64, hasher: &mut Sha256| -> std::io::Result<()> {
            if buf.is_empty() {
                return Ok(());
            }
            hasher.update(&buf[..]);
            *sent += buf.len() as u64;
            let msg = SnapshotResponse {
                header: if first { hdr } else { None },
                remaining_bytes: total.saturating_sub(*sent),
                blob: std::mem::take(buf),
                version: SERVER_VERSION.to_string(),
            };
            first = false;
            tx.blocking_send(Ok(msg)).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away")
            })
        };
    buf.extend_from_slice(MAGIC);
    for (name, path, len) in files {
        buf.extend_from_slice(&(name.len() as u32).to_be_bytes());
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(&len.to_be_bytes());
        let mut f = std::fs::File::open(path)?.take(*len);
        loop {
            if buf.len() >= CHUNK {
                flush(&mut buf, &mut sent, &mut hasher)?;
            }
            let room = CHUNK - buf.len();
            let start = buf.len();
            buf.resize(start + room, 0);
            let n = f.read(&mut buf[start..])?;
            buf.truncate(start + n);
            if n == 0 {
                break;
            }
        }
    }
    flush(&mut buf, &mut sent, &mut hasher)?;
    let digest = hasher.finalize().to_vec();
    tx.blocking_send(Ok(SnapshotResponse {
        header: None,
        remaining_bytes: 0,
        blob: digest,
        version: SERVER_VERSION.to_string(),
    }))
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))
}

//! The SHA-256 trailer: etcd's `Maintenance.Snapshot` stream ends with the SHA-256 of the
//! database bytes, and `etcdctl snapshot save` stores it as the file's last 32 bytes.
//!
//! As etcd's restore decides it: a file whose length modulo 512 is 32 has a trailer (a
//! database is a whole number of pages, so its own length is a multiple of 512).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::{Result, SnapshotError};
use crate::reader::BoltReader;

/// Bytes of the trailer.
pub const HASH_SIZE: usize = 32;

/// A snapshot file's parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotFile {
    /// Bytes of the database (the file without its trailer).
    pub db_len: u64,
    /// The trailer, if the file has one.
    pub hash: Option<[u8; HASH_SIZE]>,
}

/// Splits `file` into database and trailer.
pub fn inspect(file: &File) -> Result<SnapshotFile> {
    use std::os::unix::fs::FileExt;
    let len = file
        .metadata()
        .map_err(|e| SnapshotError::io("stat snapshot", e))?
        .len();
    if len % 512 == HASH_SIZE as u64 {
        let mut hash = [0u8; HASH_SIZE];
        file.read_exact_at(&mut hash, len - HASH_SIZE as u64)
            .map_err(|e| SnapshotError::io("read snapshot hash", e))?;
        Ok(SnapshotFile {
            db_len: len - HASH_SIZE as u64,
            hash: Some(hash),
        })
    } else {
        Ok(SnapshotFile {
            db_len: len,
            hash: None,
        })
    }
}

/// SHA-256 of the first `len` bytes of `file`.
pub fn sha256_prefix(file: &File, len: u64) -> Result<[u8; HASH_SIZE]> {
    let mut h = Sha256::new();
    let mut r = std::io::BufReader::with_capacity(1 << 20, file).take(len);
    std::io::copy(&mut r, &mut h).map_err(|e| SnapshotError::io("hash snapshot", e))?;
    Ok(h.finalize().into())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Opens a snapshot file for reading. Unless `skip_hash_check`, the file must end in a
/// trailer that matches the database bytes (etcd's restore rule; a `db` file copied from
/// a data directory has none and needs `skip_hash_check`). A file without a trailer that
/// is not a database either gets the database error (truncated, not bbolt), not the
/// missing-hash one.
pub fn open_snapshot(path: &Path, skip_hash_check: bool) -> Result<BoltReader> {
    let file =
        File::open(path).map_err(|e| SnapshotError::io(format!("open {}", path.display()), e))?;
    let parts = inspect(&file)?;
    match parts.hash {
        None if !skip_hash_check => {
            // Say what is wrong with a file that is not a database at all (foreign,
            // truncated); etcd's message is for a database without a trailer.
            BoltReader::from_file(file, parts.db_len)?;
            return Err(SnapshotError::Hash(
                "snapshot missing hash but --skip-hash-check=false".into(),
            ));
        }
        Some(want) if !skip_hash_check => {
            let got = sha256_prefix(&file, parts.db_len)?;
            if got != want {
                return Err(SnapshotError::Hash(format!(
                    "snapshot hash mismatch: the trailer says sha256 {}, the data has {} (the file is damaged or truncated)",
                    hex(&want),
                    hex(&got)
                )));
            }
        }
        _ => {}
    }
    BoltReader::from_file(file, parts.db_len)
}

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

/// Bytes hashed between two progress reports.
const HASH_BLOCK: usize = 1 << 20;

/// SHA-256 of the first `len` bytes of `file`, reporting the bytes hashed so far.
pub fn sha256_prefix(
    file: &File,
    len: u64,
    progress: &mut dyn Progress,
) -> Result<[u8; HASH_SIZE]> {
    let mut h = Sha256::new();
    let mut r = std::io::BufReader::with_capacity(HASH_BLOCK, file).take(len);
    let mut buf = vec![0u8; HASH_BLOCK];
    let mut done = 0u64;
    loop {
        let n = r
            .read(&mut buf)
            .map_err(|e| SnapshotError::io("hash snapshot", e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        done += n as u64;
        progress.position(done);
    }
    Ok(h.finalize().into())
}

/// Bytes as Go's `%v` prints a `[]byte`: `[4 0 255]`.
fn go_bytes(b: &[u8]) -> String {
    let parts: Vec<String> = b.iter().map(u8::to_string).collect();
    format!("[{}]", parts.join(" "))
}

/// etcd's error for a trailer that does not match the data.
fn mismatch(want: &[u8], got: &[u8]) -> SnapshotError {
    SnapshotError::Hash(format!(
        "expected sha256 {}, got {}",
        go_bytes(want),
        go_bytes(got)
    ))
}

/// Opens a snapshot file for reading, refusing what etcd's restore refuses, in its order
/// and with its words: a directory, a file shorter than a trailer, then (unless
/// `skip_hash_check`) a file without a trailer (`snapshot missing hash but
/// --skip-hash-check=false`; a `db` file copied from a data directory has none and needs
/// `skip_hash_check`) or with one that does not match its data; then a database that does
/// not read. Hashing is reported to `progress` as stage `"verifying"`.
pub fn open_snapshot_with(
    path: &Path,
    skip_hash_check: bool,
    progress: &mut dyn Progress,
) -> Result<BoltReader> {
    let file =
        File::open(path).map_err(|e| SnapshotError::io(format!("open {}", path.display()), e))?;
    let meta = file
        .metadata()
        .map_err(|e| SnapshotError::io(format!("stat {}", path.display()), e))?;
    if meta.is_dir() {
        return Err(SnapshotError::io(
            format!("read {}", path.display()),
            std::io::Error::from_raw_os_error(EISDIR),
        ));
    }
    if meta.len() < HASH_SIZE as u64 {
        // etcd seeks to the trailer before anything else.
        return Err(SnapshotError::io(
            format!("seek {}", path.display()),
            std::io::Error::from_raw_os_error(EINVAL),
        ));
    }
    let parts = inspect(&file)?;
    match parts.hash {
        None if !skip_hash_check => {
            return Err(SnapshotError::Hash(
                "snapshot missing hash but --skip-hash-check=false".into(),
            ));
        }
        Some(want) if !skip_hash_check => {
            progress.stage("verifying", parts.db_len);
            let got = sha256_prefix(&file, parts.db_len, progress)?;
            if got != want {
                return Err(mismatch(&want, &got));
            }
        }
        _ => {}
    }
    BoltReader::from_file(file, parts.db_len)
}

/// [`open_snapshot_with`] without progress reports.
pub fn open_snapshot(path: &Path, skip_hash_check: bool) -> Result<BoltReader> {
    open_snapshot_with(path, skip_hash_check, &mut ())
}

/// Linux's `EISDIR`.
const EISDIR: i32 = 21;
/// Linux's `EINVAL`.
const EINVAL: i32 = 22;

/// Checks a snapshot as it streams in (`etcdctl snapshot save`): every byte but the last
/// [`HASH_SIZE`] is hashed, and [`TrailerCheck::finish`] compares the hash with those last
/// bytes, the trailer the server appends.
#[derive(Debug, Clone, Default)]
pub struct TrailerCheck {
    hasher: Sha256,
    /// The last bytes seen, at most [`HASH_SIZE`] of them: maybe the trailer.
    tail: Vec<u8>,
    total: u64,
}

impl TrailerCheck {
    /// A check of a stream not yet begun.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the stream.
    pub fn update(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        if chunk.len() >= HASH_SIZE {
            let (body, last) = chunk.split_at(chunk.len() - HASH_SIZE);
            self.hasher.update(&self.tail);
            self.hasher.update(body);
            self.tail.clear();
            self.tail.extend_from_slice(last);
        } else {
            self.tail.extend_from_slice(chunk);
            let extra = self.tail.len().saturating_sub(HASH_SIZE);
            self.hasher.update(&self.tail[..extra]);
            self.tail.drain(..extra);
        }
    }

    /// Bytes taken so far.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether the stream (all of it taken) ends in a trailer that matches its data.
    pub fn finish(self) -> Result<()> {
        let db_len = self.total.saturating_sub(HASH_SIZE as u64);
        if self.tail.len() < HASH_SIZE || db_len % 512 != 0 {
            return Err(SnapshotError::Hash(format!(
                "snapshot stream of {} bytes has no sha256 trailer",
                self.total
            )));
        }
        let got: [u8; HASH_SIZE] = self.hasher.finalize().into();
        if got[..] != self.tail[..] {
            return Err(mismatch(&self.tail, &got));
        }
        Ok(())
    }
}

/// What a long file operation reports as it goes (`oxcdctl` draws it as a progress bar
/// or log lines). Positions are bytes.
pub trait Progress {
    /// The operation's checks passed and its work begins (etcd logs "restoring snapshot"
    /// here).
    fn started(&mut self) {}
    /// A stage of `total` bytes begins (`name` says what it does: `"verifying"`).
    fn stage(&mut self, name: &str, total: u64);
    /// The current stage has done `done` bytes in all.
    fn position(&mut self, done: u64);
}

/// No reports.
impl Progress for () {
    fn stage(&mut self, _name: &str, _total: u64) {}
    fn position(&mut self, _done: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(db: &[u8]) -> Vec<u8> {
        let mut out = db.to_vec();
        out.extend_from_slice(&Sha256::digest(db));
        out
    }

    #[test]
    fn trailer_check_in_any_chunking() {
        let db: Vec<u8> = (0..2048u32).map(|i| (i * 7) as u8).collect();
        let s = stream(&db);
        for chunk in [1, 5, 31, 32, 33, 100, 4096] {
            let mut c = TrailerCheck::new();
            for piece in s.chunks(chunk) {
                c.update(piece);
            }
            assert_eq!(c.total(), s.len() as u64);
            c.finish().expect("good stream");
        }
        let mut bad = s.clone();
        bad[10] ^= 1;
        let mut c = TrailerCheck::new();
        c.update(&bad);
        let e = c.finish().expect_err("damaged").to_string();
        assert!(e.starts_with("expected sha256 ["), "{e}");
        let mut c = TrailerCheck::new();
        c.update(&db);
        assert!(c.finish().is_err(), "no trailer");
    }
}

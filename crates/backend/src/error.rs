//! [`BackendError`], the one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong in a backend.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// RocksDB reported an error (I/O, corruption detected by RocksDB, bad options...).
    #[error("rocksdb: {0}")]
    Rocks(String),
    /// A file-system operation failed.
    #[error("backend i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data is malformed (for example a damaged [`crate::MemBackend`] checkpoint).
    #[error("backend corruption: {0}")]
    Corruption(String),
    /// [`crate::Backend::checkpoint`] was given a directory that already exists.
    #[error("checkpoint directory {} already exists", .0.display())]
    CheckpointExists(PathBuf),
}

impl From<rocksdb::Error> for BackendError {
    fn from(err: rocksdb::Error) -> Self {
        BackendError::Rocks(err.into_string())
    }
}

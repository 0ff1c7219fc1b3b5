//! [`SnapshotError`], the crate's one error type.

/// What went wrong writing or reading a snapshot. Messages name the file problem, never
/// an internal state, so they can be shown to an operator as they are.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing the file (or stream) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a bbolt database at all (wrong magic, version or size).
    #[error("not a bbolt database: {0}")]
    NotBolt(String),
    /// The file is a bbolt database but a page or record in it is damaged.
    #[error("corrupt snapshot: {0}")]
    Corrupt(String),
    /// The SHA-256 trailer is missing or does not match the database bytes.
    #[error("{0}")]
    Hash(String),
    /// A bbolt database, but not one etcd wrote (a bucket etcd always has is missing).
    #[error("not an etcd snapshot: {0}")]
    NotEtcd(String),
    /// The writer was driven wrongly (keys out of order, empty key, a value too large,
    /// a bucket opened twice) or the data changed between the two passes of a stream.
    #[error("snapshot writer: {0}")]
    Writer(String),
}

impl SnapshotError {
    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SnapshotError::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

//! [`SnapshotError`], the crate's one error type.

/// What went wrong writing or reading a snapshot. Messages name the file problem, never
/// an internal state, so they can be shown to an operator as they are.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing the file (or stream) failed. Shown as Go shows an `*os.PathError`
    /// (`open x.db: no such file or directory`), the text etcdctl prints.
    #[error("{context}: {}", go_io_text(source))]
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
    /// bbolt would not open the file; bbolt's own text (`invalid database`), as etcdctl
    /// prints it.
    #[error("{0}")]
    Bbolt(&'static str),
    /// bbolt's consistency check found these problems (`etcdctl snapshot status` refuses
    /// the file with this text).
    #[error("snapshot file integrity check failed. {} errors found.\n{}", .0.len(), .0.join("\n"))]
    Integrity(Vec<String>),
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

/// An I/O error as Go's `syscall.Errno` (or `io.ErrUnexpectedEOF`) prints it: the C
/// library's text with a lower-case first letter and no `(os error N)`.
pub fn go_io_text(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        return "unexpected EOF".into();
    }
    let text = e.to_string();
    let text = match (e.raw_os_error(), text.rfind(" (os error ")) {
        (Some(_), Some(i)) => &text[..i],
        _ => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if e.raw_os_error().is_some() => first.to_lowercase().chain(chars).collect(),
        _ => text.to_string(),
    }
}

/// Result alias for this crate.
pub type Result<T, E = SnapshotError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_read_as_go_prints_them() {
        let e = SnapshotError::io(
            "open x.db",
            std::io::Error::from_raw_os_error(2), // ENOENT
        );
        assert_eq!(e.to_string(), "open x.db: no such file or directory");
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert_eq!(go_io_text(&eof), "unexpected EOF");
    }
}

//! [`WatchError`]: why a watch could not be created.

/// A watch creation failure; the text is what etcd puts in `cancel_reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WatchError {
    /// `key >= range_end`.
    #[error("mvcc: watcher range is empty")]
    EmptyRange,
    /// An explicit watch ID already used on this stream.
    #[error("mvcc: duplicate watch ID provided on the WatchStream")]
    DuplicateId,
    /// Refused by the caller before the hub saw it (a permission denial); the text is
    /// the cancel reason, in order with the stream's other create replies.
    #[error("{0}")]
    Refused(String),
    /// The hub is shut down.
    #[error("etcdserver: server stopped")]
    Stopped,
}

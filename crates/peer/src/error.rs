//! [`PeerError`]: why a peer could not be reached or a snapshot not moved.

/// A transport failure.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The member has no known peer URL (unknown or removed).
    #[error("no peer URL known for member {0:x}")]
    UnknownPeer(u64),
    /// Connecting failed.
    #[error("connect to {url}: {message}")]
    Connect {
        /// The URL tried.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The RPC failed.
    #[error("peer rpc: {0}")]
    Rpc(#[from] tonic::Status),
    /// Local file I/O (snapshot files).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The host could not produce a checkpoint.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
}

impl PeerError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

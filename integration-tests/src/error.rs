//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong while driving server processes, etcdctl or HTTP.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// An operating-system call failed; `context` says which one.
    #[error("{context}: {source}")]
    Io {
        /// What the harness was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A server or client binary is missing.
    #[error("binary not found at {0}")]
    BinaryNotFound(PathBuf),
    /// The server process exited before it became healthy.
    #[error("server exited during startup ({status}); log tail:\n{log_tail}")]
    ExitedDuringStartup {
        /// The exit status as text.
        status: String,
        /// The last lines of the server log.
        log_tail: String,
    },
    /// The server did not become healthy within the startup deadline.
    #[error("server not healthy after {seconds}s; log tail:\n{log_tail}")]
    StartTimeout {
        /// How long the harness waited.
        seconds: u64,
        /// The last lines of the server log.
        log_tail: String,
    },
    /// A child process (etcdctl, kill) exceeded its deadline and was killed.
    #[error("{0} timed out")]
    Timeout(String),
    /// An HTTP exchange broke the protocol or the connection dropped.
    #[error("http: {0}")]
    Http(String),
    /// Text that should have been JSON was not.
    #[error("json: {0}")]
    Json(String),
    /// Setting up or changing network namespaces failed, or the cluster has none.
    #[error("network namespaces: {0}")]
    Network(String),
    /// An operation needs a running server but the process is gone.
    #[error("server is not running")]
    NotRunning,
}

impl HarnessError {
    /// Wraps an I/O error with a description of the failed step.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        HarnessError::Io {
            context: context.into(),
            source,
        }
    }
}

/// The crate's result alias.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

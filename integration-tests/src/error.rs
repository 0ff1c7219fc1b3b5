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

    /// Whether a server exited during startup because a port it listens on was taken (by
    /// another test's process: ports are picked free, then bound later by the server).
    pub fn is_port_in_use(&self) -> bool {
        self.port_in_use_line().is_some()
    }

    /// The port a server that exited during startup could not listen on, read from its log
    /// (oxcd: `listen on 127.0.0.1:N: Address already in use`; etcd: `listen tcp
    /// 127.0.0.1:N: bind: address already in use`). `None` if that is not why it exited or
    /// the line names no `host:port`.
    pub fn port_in_use(&self) -> Option<u16> {
        let line = self.port_in_use_line()?;
        line.split(|c: char| c.is_whitespace() || c == '"')
            .filter_map(|word| word.trim_end_matches(':').rsplit_once(':'))
            .find(|(host, _)| host.parse::<std::net::IpAddr>().is_ok())
            .and_then(|(_, port)| port.parse().ok())
    }

    fn port_in_use_line(&self) -> Option<&str> {
        match self {
            HarnessError::ExitedDuringStartup { log_tail, .. } => log_tail
                .lines()
                .rev()
                .find(|l| l.to_lowercase().contains("address already in use")),
            _ => None,
        }
    }
}

/// The crate's result alias.
pub type Result<T, E = HarnessError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::HarnessError;

    fn exited(log_tail: &str) -> HarnessError {
        HarnessError::ExitedDuringStartup {
            status: "exit status: 1".into(),
            log_tail: log_tail.into(),
        }
    }

    #[test]
    fn the_taken_port_is_read_from_oxcds_and_etcds_log_lines() {
        let oxcd = exited(
            "INFO started\noxcd: listen on 127.0.0.1:45617: Address already in use (os error 98)",
        );
        assert_eq!(oxcd.port_in_use(), Some(45617));
        let etcd = exited(
            r#"{"level":"fatal","msg":"listen tcp 127.0.0.1:2380: bind: address already in use"}"#,
        );
        assert_eq!(etcd.port_in_use(), Some(2380));
        assert!(etcd.is_port_in_use());
        let other = exited("oxcd: cannot open the data dir: permission denied");
        assert_eq!(other.port_in_use(), None);
        assert!(!other.is_port_in_use());
        assert!(!HarnessError::NotRunning.is_port_in_use());
    }
}

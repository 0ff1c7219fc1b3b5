//! The crate's one error type.

/// Errors surfaced by this crate's fallible functions.
#[derive(Debug, thiserror::Error)]
pub enum MiddlewareError {
    /// The prometheus registry or text encoder refused an operation.
    #[error("prometheus: {0}")]
    Prometheus(#[from] prometheus::Error),
}

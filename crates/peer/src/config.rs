//! [`TransportConfig`]: the knobs of the peer transport.

use std::time::Duration;

/// Tuning of [`crate::GrpcTransport`].
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// Messages queued per peer before new ones are dropped (and the peer reported).
    pub queue_capacity: usize,
    /// Most messages sent in one batch.
    pub max_batch_messages: usize,
    /// Most bytes sent in one batch (a single larger message still goes alone).
    pub max_batch_bytes: usize,
    /// Timeout of one connection attempt.
    pub connect_timeout: Duration,
    /// Pause between reconnection attempts.
    pub reconnect_backoff: Duration,
    /// Bytes per snapshot chunk.
    pub snapshot_chunk_bytes: usize,
    /// Largest message the peer service accepts.
    pub max_message_bytes: usize,
    /// TLS for `https://` peer URLs (`--peer-cert-file`, ...); `None` dials plain text only.
    pub tls: Option<oxcd_tls::ClientTls>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 4096,
            max_batch_messages: 512,
            max_batch_bytes: 4 * 1024 * 1024,
            connect_timeout: Duration::from_secs(1),
            reconnect_backoff: Duration::from_millis(100),
            snapshot_chunk_bytes: 1024 * 1024,
            max_message_bytes: 64 * 1024 * 1024,
            tls: None,
        }
    }
}

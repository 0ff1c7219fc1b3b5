//! The `/metrics` exposition: the default prometheus registry in text format 0.0.4.

use prometheus::{Encoder, TextEncoder};

use crate::error::MiddlewareError;

/// The `Content-Type` of [`render`]'s output (`text/plain; version=0.0.4`).
pub const METRICS_CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Gathers the default registry into Prometheus text format.
pub fn try_render() -> Result<String, MiddlewareError> {
    let families = prometheus::gather();
    let encoder = TextEncoder::new();
    let mut buf = String::with_capacity(64 * 1024);
    encoder.encode_utf8(&families, &mut buf)?;
    debug_assert_eq!(encoder.format_type(), METRICS_CONTENT_TYPE);
    Ok(buf)
}

/// Gathers the default registry into Prometheus text format, for the `/metrics` route.
/// An encoding failure (the text encoder only reports one for malformed families) is logged
/// and yields an empty body.
pub fn render() -> String {
    match try_render() {
        Ok(text) => text,
        Err(err) => {
            tracing::warn!(%err, "rendering /metrics failed");
            String::new()
        }
    }
}

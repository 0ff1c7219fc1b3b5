//! The task that owns the stream to one peer: waits for messages, connects, sends them in
//! batches, and reconnects after failures.

use std::sync::Arc;

use oxcd_proto::oxcdpb::raft_peer_client::RaftPeerClient;
use oxcd_proto::oxcdpb::RaftMessageBatch;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};

use crate::config::TransportConfig;
use crate::error::PeerError;
use crate::metrics;
use crate::transport::Shared;

/// Batches in flight on one stream before the sender waits (HTTP/2 flow control does the
/// rest).
const STREAM_WINDOW: usize = 8;

/// Connects to one of `id`'s peer URLs (trying them in turn from `start`).
pub(crate) async fn connect(
    shared: &Shared,
    id: u64,
    start: usize,
) -> Result<RaftPeerClient<Channel>, PeerError> {
    let urls = shared
        .host
        .peer_urls(id)
        .filter(|u| !u.is_empty())
        .ok_or(PeerError::UnknownPeer(id))?;
    connect_any(&urls, start, &shared.config).await
}

/// A client of the first of `urls` that accepts a connection, trying them in turn from
/// `start`, with the configured message size limits.
pub(crate) async fn connect_any(
    urls: &[String],
    start: usize,
    cfg: &TransportConfig,
) -> Result<RaftPeerClient<Channel>, PeerError> {
    let mut last = None;
    for i in 0..urls.len() {
        let url = &urls[(start + i) % urls.len()];
        match connect_url(url, cfg).await {
            Ok(c) => {
                return Ok(RaftPeerClient::new(c)
                    .max_decoding_message_size(cfg.max_message_bytes)
                    .max_encoding_message_size(cfg.max_message_bytes))
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| PeerError::Connect {
        url: String::new(),
        message: "no peer URLs".into(),
    }))
}

/// Opens a channel to one URL (TLS for `https://`, with the configured certificates).
pub(crate) async fn connect_url(url: &str, cfg: &TransportConfig) -> Result<Channel, PeerError> {
    let err = |m: String| PeerError::Connect {
        url: url.to_string(),
        message: m,
    };
    Endpoint::from_shared(url.to_string())
        .map_err(|e| err(e.to_string()))?
        .connect_timeout(cfg.connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(std::time::Duration::from_secs(2))
        .keep_alive_timeout(std::time::Duration::from_secs(5))
        .keep_alive_while_idle(true)
        .connect_with_connector(oxcd_tls::Dialer::new(cfg.tls.clone(), cfg.connect_timeout))
        .await
        .map_err(|e| err(e.to_string()))
}

/// Drops whatever is queued for `to` and tells raft.
fn drop_queued(shared: &Shared, to: u64, rx: &mut mpsc::Receiver<Vec<u8>>, first: usize) {
    let mut n = first;
    while rx.try_recv().is_ok() {
        n += 1;
    }
    if n > 0 {
        metrics::SENT_FAILURES
            .with_label_values(&[&metrics::id_label(to)])
            .inc_by(n as f64);
        shared.report_unreachable(to);
    }
}

/// Runs until the transport drops the queue of `to`.
pub(crate) async fn run(shared: Arc<Shared>, to: u64, mut rx: mpsc::Receiver<Vec<u8>>) {
    let local = metrics::id_label(shared.host.member_id());
    let remote = metrics::id_label(to);
    let mut url_start = 0usize;
    let mut was_connected = true;
    let mut pending: Option<Vec<u8>> = None;
    loop {
        if pending.is_none() {
            match rx.recv().await {
                Some(m) => pending = Some(m),
                None => return,
            }
        }
        let mut client = match connect(&shared, to, url_start).await {
            Ok(c) => c,
            Err(e) => {
                if was_connected {
                    tracing::warn!(peer = %remote, error = %e, "peer unreachable");
                    was_connected = false;
                }
                url_start += 1;
                drop_queued(&shared, to, &mut rx, usize::from(pending.take().is_some()));
                tokio::time::sleep(shared.config.reconnect_backoff).await;
                continue;
            }
        };
        if !was_connected {
            tracing::info!(peer = %remote, "peer reachable again");
        }
        was_connected = true;
        metrics::ACTIVE_PEERS
            .with_label_values(&[&local, &remote])
            .inc();
        let (btx, brx) = mpsc::channel::<RaftMessageBatch>(STREAM_WINDOW);
        let call = tokio::spawn(async move { client.send(ReceiverStream::new(brx)).await });
        let closed = loop {
            let first = match pending.take() {
                Some(m) => m,
                None => match rx.recv().await {
                    Some(m) => m,
                    None => break true,
                },
            };
            let mut bytes = first.len();
            let mut messages = vec![first];
            while messages.len() < shared.config.max_batch_messages
                && bytes < shared.config.max_batch_bytes
            {
                match rx.try_recv() {
                    Ok(m) => {
                        bytes += m.len();
                        messages.push(m);
                    }
                    Err(_) => break,
                }
            }
            let n = messages.len();
            let batch = RaftMessageBatch {
                messages,
                from: shared.host.member_id(),
                cluster_id: shared.host.cluster_id(),
            };
            if btx.send(batch).await.is_err() {
                metrics::SENT_FAILURES
                    .with_label_values(&[&remote])
                    .inc_by(n as f64);
                shared.report_unreachable(to);
                break false;
            }
            metrics::SENT_BYTES
                .with_label_values(&[&remote])
                .inc_by(bytes as f64);
        };
        drop(btx);
        metrics::ACTIVE_PEERS
            .with_label_values(&[&local, &remote])
            .dec();
        if closed {
            let _ = call.await;
            return;
        }
        metrics::DISCONNECTED_PEERS
            .with_label_values(&[&local, &remote])
            .inc();
        match call.await {
            Ok(Err(status)) => {
                tracing::warn!(peer = %remote, error = %status.message(), "peer stream broke")
            }
            Ok(Ok(_)) => tracing::debug!(peer = %remote, "peer stream ended"),
            Err(e) => tracing::warn!(peer = %remote, error = %e, "peer stream task failed"),
        }
        tokio::time::sleep(shared.config.reconnect_backoff).await;
    }
}

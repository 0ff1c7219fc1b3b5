//! In-process `tonic::Streaming<T>` request streams.
//!
//! `Streaming::new_request` decodes gRPC length-prefixed frames from any
//! `http_body::Body`. The gateway encodes the decoded JSON messages with prost,
//! frames them (1 byte flag 0 = uncompressed, 4 bytes big-endian length, the
//! message) and serves the frames from an in-memory body, so the service sees
//! exactly what a real gRPC client would have sent.

use std::convert::Infallible;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http_body::Frame;
use http_body_util::StreamBody;
use tokio::sync::oneshot;
use tonic::Streaming;
use tonic_prost::ProstDecoder;

use crate::error::GatewayError;

/// Size of the gRPC message prefix (compression flag + length).
const FRAME_HEADER_LEN: usize = 5;

/// A request stream yielding `messages` in order, then end-of-stream: at once
/// when `closed` is `None`, otherwise when `closed` resolves (its sender is
/// dropped). Public so that `oxcd-fuzz` can check that a service reads back exactly
/// the messages the gateway decoded.
pub fn input_stream<T>(
    messages: &[T],
    closed: Option<oneshot::Receiver<()>>,
) -> Result<Streaming<T>, GatewayError>
where
    T: prost::Message + Default + Send + 'static,
{
    let data = encode_frames(messages)?;
    let frames = futures::stream::iter((!data.is_empty()).then_some(data))
        .map(|data| Ok::<_, Infallible>(Frame::data(data)));
    let end = futures::stream::once(async move {
        if let Some(closed) = closed {
            // Err (sender dropped) is the signal itself.
            let _ = closed.await;
        }
    })
    .filter_map(|()| async { None::<Result<Frame<Bytes>, Infallible>> });
    let body = StreamBody::new(frames.chain(end));
    Ok(Streaming::new_request(
        ProstDecoder::<T>::default(),
        body,
        None,
        Some(usize::MAX),
    ))
}

fn encode_frames<T: prost::Message>(messages: &[T]) -> Result<Bytes, GatewayError> {
    let total: usize = messages
        .iter()
        .map(|m| FRAME_HEADER_LEN + m.encoded_len())
        .sum();
    let mut buf = BytesMut::with_capacity(total);
    for message in messages {
        let len = message.encoded_len();
        let len32 = u32::try_from(len).map_err(|_| GatewayError::MessageTooLarge(len))?;
        buf.put_u8(0);
        buf.put_u32(len32);
        message.encode(&mut buf)?;
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Ping {
        #[prost(int64, tag = "1")]
        id: i64,
    }

    #[tokio::test]
    async fn yields_messages_then_eof() {
        let mut stream = input_stream(&[Ping { id: 1 }, Ping { id: 2 }], None).expect("frames");
        assert_eq!(stream.message().await.expect("ok"), Some(Ping { id: 1 }));
        assert_eq!(stream.message().await.expect("ok"), Some(Ping { id: 2 }));
        assert_eq!(stream.message().await.expect("ok"), None);
    }

    #[tokio::test]
    async fn held_open_until_guard_dropped() {
        let (guard, closed) = oneshot::channel();
        let mut stream = input_stream(&[Ping { id: 7 }], Some(closed)).expect("frames");
        assert_eq!(stream.message().await.expect("ok"), Some(Ping { id: 7 }));
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(50), stream.message()).await;
        assert!(
            pending.is_err(),
            "stream must stay open while the guard lives"
        );
        drop(guard);
        let end = tokio::time::timeout(std::time::Duration::from_secs(5), stream.message())
            .await
            .expect("eof after guard drop");
        assert_eq!(end.expect("ok"), None);
    }
}

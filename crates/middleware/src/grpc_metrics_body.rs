//! Body wrappers of the gRPC metrics layer: they count bytes and messages as frames pass and
//! record the call's status when the response trailers go by.

use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Code;

use crate::etcd_metrics::client_grpc_bytes;
use crate::frame::FrameScanner;
use crate::grpc_metrics::{InFlight, MethodEntry};
use crate::grpc_wire::status_code;

fn scan_messages(scanner: &mut FrameScanner, data: &[u8]) -> u64 {
    scanner.scan(data, |_| ControlFlow::Continue(())).completed
}

pin_project! {
    /// Request body of a gRPC call: adds to the received-bytes counter and to
    /// `grpc_server_msg_received_total` (when the method is in the table).
    pub(crate) struct MetricsRequestBody<B> {
        #[pin]
        inner: B,
        entry: Option<Arc<MethodEntry>>,
        scanner: FrameScanner,
    }
}

impl<B> MetricsRequestBody<B> {
    pub(crate) fn new(inner: B, entry: Option<Arc<MethodEntry>>) -> Self {
        Self {
            inner,
            entry,
            scanner: FrameScanner::default(),
        }
    }
}

impl<B> http_body::Body for MetricsRequestBody<B>
where
    B: http_body::Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(f)) = &frame {
            if let Some(data) = f.data_ref() {
                client_grpc_bytes().received.inc_by(data.len() as u64);
                if let Some(entry) = this.entry {
                    let n = scan_messages(this.scanner, data);
                    if n > 0 {
                        entry.handles().msg_received.inc_by(n);
                    }
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project! {
    /// Response body of a gRPC call: adds to the sent-bytes counter and to
    /// `grpc_server_msg_sent_total`, and finishes the call when trailers (or the end) arrive.
    /// Dropping it before that finishes the call as `Canceled`.
    pub(crate) struct MetricsResponseBody<B> {
        #[pin]
        inner: B,
        call: Option<InFlight>,
        scanner: FrameScanner,
    }
}

impl<B> MetricsResponseBody<B> {
    pub(crate) fn new(inner: B, call: Option<InFlight>) -> Self {
        Self {
            inner,
            call,
            scanner: FrameScanner::default(),
        }
    }
}

impl<B> http_body::Body for MetricsResponseBody<B>
where
    B: http_body::Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(data) = f.data_ref() {
                    client_grpc_bytes().sent.inc_by(data.len() as u64);
                    if let Some(call) = this.call.as_ref() {
                        let n = scan_messages(this.scanner, data);
                        if n > 0 {
                            call.handles().msg_sent.inc_by(n);
                        }
                    }
                    if this.inner.is_end_stream() {
                        // Ended without trailers, so no status: not a valid gRPC response.
                        if let Some(mut call) = this.call.take() {
                            call.finish(Code::Unknown);
                        }
                    }
                } else if let Some(trailers) = f.trailers_ref() {
                    if let Some(mut call) = this.call.take() {
                        call.finish(status_code(trailers).unwrap_or(Code::Unknown));
                    }
                }
            }
            // A body error resets the stream; the client sees no status.
            Some(Err(_)) | None => {
                if let Some(mut call) = this.call.take() {
                    call.finish(Code::Unknown);
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

//! [`WatchStream`] (the request side of one gRPC Watch stream) and [`WatchReceiver`] (its
//! ordered response queue), joined by a [`Sink`].
//!
//! Control responses (created, canceled, progress) are always queued. Event responses are
//! counted: when a stream already has `capacity` event responses waiting, it refuses more
//! and the hub moves the affected watchers to the unsynced group, so a slow client costs
//! bounded memory and never loses an event.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use oxcd_proto::etcdserverpb::{ResponseHeader, WatchResponse};
use oxcd_proto::watch_wire::WatchResponseWire;
use tokio::sync::{mpsc, Notify};

use crate::hub::WatchHub;
use crate::metrics;
use crate::spec::WatchSpec;
use crate::WatchError;

/// Why event responses could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The queue is at capacity; retry from history later.
    Full,
    /// The receiver is gone.
    Closed,
}

/// The queue shared by a stream's watchers.
pub struct Sink {
    /// The stream this sink belongs to.
    pub stream_id: u64,
    /// Responses travel in batches: one notify sends one message per stream.
    tx: mpsc::UnboundedSender<Vec<WatchResponseWire>>,
    queued_events: AtomicUsize,
    capacity: usize,
    /// Set when an event send was refused; the receiver wakes the hub's catch-up loop
    /// once the queue has drained to half, so a lagging stream resumes without waiting
    /// for the loop's timer.
    starved: AtomicBool,
    wake: Arc<Notify>,
}

impl Sink {
    /// Queues a control response; false if the receiver is gone.
    pub fn send_control(&self, resp: WatchResponseWire) -> bool {
        self.tx.send(vec![resp]).is_ok()
    }

    /// Queues event responses, all or none.
    pub fn try_send_events(&self, resps: Vec<WatchResponseWire>) -> Result<(), SendError> {
        if self.tx.is_closed() {
            return Err(SendError::Closed);
        }
        let n = resps.len();
        if self.queued_events.load(Ordering::Acquire) + n > self.capacity {
            self.starved.store(true, Ordering::Release);
            return Err(SendError::Full);
        }
        let events: usize = resps.iter().map(|r| r.events.len()).sum();
        // Counted before the send: the receiver may take them off at once.
        self.queued_events.fetch_add(n, Ordering::AcqRel);
        metrics::PENDING_EVENTS.add(events as i64);
        if self.tx.send(resps).is_err() {
            return Err(SendError::Closed);
        }
        Ok(())
    }

    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Responses of one stream, in the order they must be sent.
pub struct WatchReceiver {
    rx: mpsc::UnboundedReceiver<Vec<WatchResponseWire>>,
    /// The rest of the batch being handed out, reversed (popped from the end).
    batch: Vec<WatchResponseWire>,
    sink: Arc<Sink>,
}

impl WatchReceiver {
    /// The next response; `None` when the hub dropped the stream.
    pub async fn recv(&mut self) -> Option<WatchResponseWire> {
        if self.batch.is_empty() {
            let mut batch = self.rx.recv().await?;
            batch.reverse();
            self.batch = batch;
        }
        let resp = self.batch.pop()?;
        self.account(&resp);
        Some(resp)
    }

    /// The responses queued together (one notify's batch, or what is left of it), in
    /// order; `None` when the hub dropped the stream.
    pub async fn recv_batch(&mut self) -> Option<Vec<WatchResponseWire>> {
        let mut batch = if self.batch.is_empty() {
            self.rx.recv().await?
        } else {
            let mut rest = std::mem::take(&mut self.batch);
            rest.reverse();
            rest
        };
        for resp in &batch {
            self.account(resp);
        }
        batch.shrink_to_fit();
        Some(batch)
    }

    /// The next response with its events decoded (for in-process consumers).
    pub async fn recv_decoded(&mut self) -> Option<WatchResponse> {
        let resp = self.recv().await?;
        match resp.into_response() {
            Ok(r) => Some(r),
            Err(e) => {
                // Never happens: the hub encoded these events itself.
                tracing::error!(error = %e, "undecodable watch events");
                None
            }
        }
    }

    fn account(&self, resp: &WatchResponseWire) {
        if !resp.events.is_empty() {
            let before = self.sink.queued_events.fetch_sub(1, Ordering::AcqRel);
            if before <= self.sink.capacity / 2 + 1
                && self.sink.starved.swap(false, Ordering::AcqRel)
            {
                self.sink.wake.notify_one();
            }
            metrics::PENDING_EVENTS.sub(resp.events.len() as i64);
            metrics::EVENTS.inc_by(resp.events.len() as u64);
        }
    }
}

impl Drop for WatchReceiver {
    fn drop(&mut self) {
        self.rx.close();
        for resp in std::mem::take(&mut self.batch) {
            self.account(&resp);
        }
        while let Ok(batch) = self.rx.try_recv() {
            for resp in batch {
                self.account(&resp);
            }
        }
    }
}

/// Builds a linked sink and receiver.
pub(crate) fn channel(
    stream_id: u64,
    capacity: usize,
    wake: Arc<Notify>,
) -> (Arc<Sink>, WatchReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let sink = Arc::new(Sink {
        stream_id,
        tx,
        queued_events: AtomicUsize::new(0),
        capacity,
        starved: AtomicBool::new(false),
        wake,
    });
    (
        sink.clone(),
        WatchReceiver {
            rx,
            batch: Vec::new(),
            sink,
        },
    )
}

/// A response with only a header revision set.
pub(crate) fn response(watch_id: i64, revision: i64) -> WatchResponseWire {
    WatchResponseWire {
        header: Some(ResponseHeader {
            revision,
            ..Default::default()
        }),
        watch_id,
        ..Default::default()
    }
}

/// The request side of one watch stream. Dropping it removes every watcher it created.
pub struct WatchStream {
    pub(crate) id: u64,
    pub(crate) hub: WatchHub,
}

impl WatchStream {
    /// Creates a watcher. Always queues the reply itself: `created` with the watch ID, or
    /// `created + canceled` with watch ID -1 and the reason.
    pub fn create(&self, spec: Result<WatchSpec, WatchError>) -> Result<i64, WatchError> {
        self.hub.create(self.id, spec)
    }

    /// Cancels a watcher; queues `canceled` if it existed.
    pub fn cancel(&self, watch_id: i64) -> bool {
        self.hub.cancel(self.id, watch_id)
    }

    /// Asks for a progress notification (watch ID -1), sent once every watcher of the
    /// stream is synced.
    pub fn request_progress(&self) {
        self.hub.request_progress(self.id)
    }

    /// This stream's ID within the hub.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for WatchStream {
    fn drop(&mut self) {
        self.hub.close_stream(self.id);
    }
}

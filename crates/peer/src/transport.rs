//! [`GrpcTransport`]: the raft loop's [`RaftTransport`] over gRPC streams, one per peer.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use oxcd_raftlog::{RaftHandle, RaftTransport};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::config::TransportConfig;
use crate::host::PeerHost;
use crate::metrics;

/// State shared by the transport and its tasks.
pub(crate) struct Shared {
    pub(crate) host: Arc<dyn PeerHost>,
    pub(crate) config: TransportConfig,
    raft: RaftHandle,
    runtime: tokio::runtime::Handle,
    peers: Mutex<HashMap<u64, mpsc::Sender<Vec<u8>>>>,
    snapshots_in_flight: Mutex<HashSet<u64>>,
}

impl Shared {
    /// Tells raft that a message to `to` was lost.
    pub(crate) fn report_unreachable(&self, to: u64) {
        self.raft.report_unreachable(to);
    }

    /// Tells raft how the snapshot to `to` went.
    pub(crate) fn report_snapshot(&self, to: u64, ok: bool) {
        self.snapshots_in_flight.lock().remove(&to);
        self.raft.report_snapshot(to, ok);
    }
}

/// Sends raft messages to peers over `oxcdpb.RaftPeer/Send` streams and snapshots over
/// `oxcdpb.RaftPeer/Snapshot`. Cheap to clone.
///
/// Made inside `RaftNode::start_with`, which hands it the member's raft handle before the
/// loop starts, so failures are always reported to raft.
#[derive(Clone)]
pub struct GrpcTransport {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for GrpcTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcTransport")
            .field("member", &self.shared.host.member_id())
            .field(
                "peers",
                &self.shared.peers.lock().keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl GrpcTransport {
    /// A transport for the member `host` describes, reporting to `raft`; its tasks run on
    /// `runtime`.
    pub fn new(
        host: Arc<dyn PeerHost>,
        raft: RaftHandle,
        config: TransportConfig,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                host,
                config,
                raft,
                runtime,
                peers: Mutex::new(HashMap::new()),
                snapshots_in_flight: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Closes the stream to `id` (its URLs changed, or it was removed); a later message
    /// opens a new one.
    pub fn reset_peer(&self, id: u64) {
        self.shared.peers.lock().remove(&id);
    }

    fn queue(&self, to: u64) -> mpsc::Sender<Vec<u8>> {
        let mut peers = self.shared.peers.lock();
        if let Some(tx) = peers.get(&to) {
            if !tx.is_closed() {
                return tx.clone();
            }
        }
        let (tx, rx) = mpsc::channel(self.shared.config.queue_capacity);
        self.shared
            .runtime
            .spawn(crate::stream::run(self.shared.clone(), to, rx));
        peers.insert(to, tx.clone());
        tx
    }
}

impl RaftTransport for GrpcTransport {
    fn send(&self, to: u64, msg: Vec<u8>) {
        if to == self.shared.host.member_id() {
            return;
        }
        if let Err(e) = self.queue(to).try_send(msg) {
            metrics::SENT_FAILURES
                .with_label_values(&[&metrics::id_label(to)])
                .inc();
            if matches!(e, mpsc::error::TrySendError::Closed(_)) {
                self.shared.peers.lock().remove(&to);
            }
            self.shared.report_unreachable(to);
        }
    }

    fn send_snapshot(&self, to: u64, msg: Vec<u8>) {
        if !self.shared.snapshots_in_flight.lock().insert(to) {
            // raft sends one snapshot at a time; a duplicate is dropped and retried by raft.
            return;
        }
        self.shared
            .runtime
            .spawn(crate::snapshot_send::send(self.shared.clone(), to, msg));
    }
}

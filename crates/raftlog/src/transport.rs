//! [`RaftTransport`]: how the raft loop reaches its peers; [`NullTransport`] for a single
//! member and [`ChannelNetwork`] (an in-process network with partition filters) for tests.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::handle::RaftHandle;

/// Sends raft messages to peers.
///
/// # Contract
/// - `send` is FIRE-AND-FORGET and MUST NOT block the raft loop: queue, or drop when the
///   peer is slow (raft retransmits).
/// - `msg` is an encoded `eraftpb::Message`; hand it to the peer's
///   [`RaftHandle::step`] / [`RaftHandle::try_step`] unchanged.
/// - When a peer cannot be reached, call [`RaftHandle::report_unreachable`] on the
///   sender's handle so raft stops optimistic replication to it.
pub trait RaftTransport: Send + Sync + 'static {
    /// Sends one encoded message to member `to`.
    fn send(&self, to: u64, msg: Vec<u8>);

    /// Sends an encoded `MsgSnapshot` to member `to`. The message describes the state
    /// machine (index, term, conf state) but carries NO data: the transport MUST deliver
    /// the state machine's checkpoint with it, so that the receiver's
    /// [`crate::Applier::restore`] finds it, then report the outcome with
    /// [`RaftHandle::report_snapshot`]. The default sends the bare message (in-process
    /// tests whose appliers share nothing on disk).
    fn send_snapshot(&self, to: u64, msg: Vec<u8>) {
        self.send(to, msg);
    }
}

/// The transport of a single-member cluster: there is nobody to talk to.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullTransport;

impl RaftTransport for NullTransport {
    fn send(&self, _to: u64, _msg: Vec<u8>) {}
}

#[derive(Default)]
struct NetState {
    nodes: HashMap<u64, RaftHandle>,
    /// Directed links `(from, to)` whose messages are dropped.
    blocked: HashSet<(u64, u64)>,
}

/// An in-process network for tests: members register their handles, messages go straight
/// into the receiver's mailbox, and links can be cut to drop messages.
#[derive(Clone, Default)]
pub struct ChannelNetwork {
    state: Arc<RwLock<NetState>>,
}

impl std::fmt::Debug for ChannelNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.read();
        f.debug_struct("ChannelNetwork")
            .field("nodes", &s.nodes.keys().collect::<Vec<_>>())
            .field("blocked", &s.blocked)
            .finish()
    }
}

impl ChannelNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// The transport member `from` sends through.
    pub fn transport(&self, from: u64) -> Arc<ChannelTransport> {
        Arc::new(ChannelTransport {
            from,
            net: self.clone(),
        })
    }

    /// Makes member `id` reachable through `handle` (replaces a previous registration).
    pub fn register(&self, id: u64, handle: RaftHandle) {
        self.state.write().nodes.insert(id, handle);
    }

    /// Makes member `id` unreachable as a destination.
    pub fn unregister(&self, id: u64) {
        self.state.write().nodes.remove(&id);
    }

    /// Drops every message from `from` to `to` (one direction).
    pub fn block(&self, from: u64, to: u64) {
        self.state.write().blocked.insert((from, to));
    }

    /// Cuts member `id` off from every other registered member, both directions.
    pub fn isolate(&self, id: u64) {
        let mut s = self.state.write();
        let others: Vec<u64> = s.nodes.keys().copied().filter(|&o| o != id).collect();
        for o in others {
            s.blocked.insert((id, o));
            s.blocked.insert((o, id));
        }
    }

    /// Splits the members into groups that only talk within themselves.
    pub fn partition(&self, groups: &[&[u64]]) {
        let mut s = self.state.write();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i == j {
                    continue;
                }
                for &x in a.iter() {
                    for &y in b.iter() {
                        s.blocked.insert((x, y));
                    }
                }
            }
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.state.write().blocked.clear();
    }

    fn deliver(&self, from: u64, to: u64, msg: Vec<u8>) {
        let (target, sender) = {
            let s = self.state.read();
            if s.blocked.contains(&(from, to)) {
                return;
            }
            (s.nodes.get(&to).cloned(), s.nodes.get(&from).cloned())
        };
        match target {
            Some(h) => {
                let snapshot = is_snapshot(&msg);
                let ok = h.try_step(msg).is_ok();
                if snapshot {
                    if let Some(me) = &sender {
                        me.report_snapshot(to, ok);
                    }
                }
                if !ok {
                    if let Some(me) = sender {
                        me.report_unreachable(to);
                    }
                }
            }
            None => {
                if let Some(me) = sender {
                    me.report_unreachable(to);
                }
            }
        }
    }
}

/// The (index, term) a `MsgSnapshot` describes, for transports that stage the snapshot's
/// data under that name. `None` for anything else or undecodable bytes.
pub fn snapshot_position(msg: &[u8]) -> Option<(u64, u64)> {
    use protobuf::Message as _;
    let m = raft::eraftpb::Message::parse_from_bytes(msg).ok()?;
    if m.get_msg_type() != raft::eraftpb::MessageType::MsgSnapshot {
        return None;
    }
    let meta = m.get_snapshot().get_metadata();
    Some((meta.index, meta.term))
}

fn is_snapshot(msg: &[u8]) -> bool {
    use protobuf::Message as _;
    raft::eraftpb::Message::parse_from_bytes(msg)
        .map(|m| m.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot)
        .unwrap_or(false)
}

/// One member's view of a [`ChannelNetwork`].
#[derive(Debug, Clone)]
pub struct ChannelTransport {
    from: u64,
    net: ChannelNetwork,
}

impl RaftTransport for ChannelTransport {
    fn send(&self, to: u64, msg: Vec<u8>) {
        self.net.deliver(self.from, to, msg);
    }
}

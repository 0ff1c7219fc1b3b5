//! [`RaftTransport`]: how the raft loop reaches its peers; [`NullTransport`] for a single
//! member. The in-process test network lives in `channel_network.rs` (feature `test-util`).

#[cfg(doc)]
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

#[cfg(test)]
mod tests {
    use protobuf::Message as _;

    use super::*;

    #[test]
    fn snapshot_position_reads_only_snapshots() {
        let mut m = raft::eraftpb::Message::default();
        m.set_msg_type(raft::eraftpb::MessageType::MsgSnapshot);
        m.mut_snapshot().mut_metadata().index = 7;
        m.mut_snapshot().mut_metadata().term = 2;
        assert_eq!(
            snapshot_position(&m.write_to_bytes().unwrap()),
            Some((7, 2))
        );
        m.set_msg_type(raft::eraftpb::MessageType::MsgAppend);
        assert_eq!(snapshot_position(&m.write_to_bytes().unwrap()), None);
        assert_eq!(snapshot_position(b"\xff\xff"), None);
    }
}

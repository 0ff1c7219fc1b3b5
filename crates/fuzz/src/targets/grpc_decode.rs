//! `grpc-decode`: request bytes as the gRPC services (and the raft log, and the peer
//! transport) receive them.
//!
//! Each frame's tag picks a message type ([`KINDS`], `tag % KINDS.len()`); the payload is
//! decoded with prost (`Message::decode`, as tonic does) or, for raft-rs' `eraftpb`
//! messages, with rust-protobuf. A decoded message must re-encode to bytes that decode to
//! the same message. KV, Lease, Watch, Cluster and Maintenance requests, and the
//! operations of an `InternalRequest` (a raft log entry), are then served by one
//! [`Harness`] per input, in frame order, through the server's validation and apply code,
//! with the harness's oracle checking every answer.

use std::fmt::Debug;

use oxcd_proto::etcdserverpb as pb;
use oxcd_proto::oxcdpb::{self, internal_request::Op};
use oxcd_proto::{v3electionpb, v3lockpb};
use prost::Message;

use crate::frames::Frames;
use crate::outcome::Outcomes;
use crate::serve::{Harness, Request};
use crate::targets::{Target, MAX_INPUT};

/// The target.
pub const TARGET: Target = Target {
    name: "grpc-decode",
    run,
    max_len: MAX_INPUT,
    dict: &[],
    heavy: false,
    min_timeout: std::time::Duration::from_secs(10),
    seeds: crate::seeds::grpc::seeds,
};

/// The message types, by frame tag (`tag % KINDS.len()`).
pub const KINDS: [&str; 38] = [
    "RangeRequest",
    "PutRequest",
    "DeleteRangeRequest",
    "TxnRequest",
    "CompactionRequest",
    "LeaseGrantRequest",
    "LeaseRevokeRequest",
    "LeaseTimeToLiveRequest",
    "LeaseKeepAliveRequest",
    "LeaseLeasesRequest",
    "LeaseCheckpointRequest",
    "WatchRequest",
    "MemberAddRequest",
    "MemberRemoveRequest",
    "MemberUpdateRequest",
    "MemberListRequest",
    "MemberPromoteRequest",
    "AlarmRequest",
    "StatusRequest",
    "DefragmentRequest",
    "HashRequest",
    "HashKvRequest",
    "SnapshotRequest",
    "MoveLeaderRequest",
    "DowngradeRequest",
    "LockRequest",
    "UnlockRequest",
    "CampaignRequest",
    "ProclaimRequest",
    "LeaderRequest",
    "ResignRequest",
    "InternalRequest",
    "RaftMessageBatch",
    "SnapshotChunk",
    "LeaseRenewRequest",
    "eraftpb.Message",
    "eraftpb.ConfChangeV2",
    "eraftpb.Entry",
];

/// The frame tag of message type `kind` (a name in [`KINDS`]).
pub fn tag_of(kind: &str) -> u8 {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .unwrap_or_else(|| panic!("unknown message kind {kind}")) as u8
}

/// A decode failure, as one outcome label.
#[derive(Debug)]
struct DecodeFailed;

/// Decodes `payload` as `M` and checks that it survives a re-encode.
fn decode<M: Message + Default + PartialEq + Debug>(
    kind: &str,
    payload: &[u8],
    out: &mut Outcomes,
) -> Option<M> {
    let m = M::decode(payload).map_err(|_| DecodeFailed);
    out.add_result(kind, &m);
    let m = m.ok()?;
    let bytes = m.encode_to_vec();
    assert_eq!(bytes.len(), m.encoded_len(), "{kind}: encoded_len is wrong");
    match M::decode(bytes.as_slice()) {
        Ok(again) => assert_eq!(again, m, "{kind}: re-encoding changed the message"),
        Err(e) => panic!("{kind}: a re-encoded message does not decode: {e}"),
    }
    Some(m)
}

/// Decodes `payload` as a rust-protobuf (raft-rs `eraftpb`) message and re-encodes it.
fn decode_raft<M: protobuf::Message + PartialEq>(
    kind: &str,
    payload: &[u8],
    out: &mut Outcomes,
) -> Option<M> {
    let m = M::parse_from_bytes(payload).map_err(|_| DecodeFailed);
    out.add_result(kind, &m);
    let m = m.ok()?;
    // rust-protobuf refuses to encode a message over 2 GiB; inputs are far smaller.
    let bytes = m.write_to_bytes().expect("encode a decoded raft message");
    match M::parse_from_bytes(&bytes) {
        Ok(again) => assert!(again == m, "{kind}: re-encoding changed the message"),
        Err(e) => panic!("{kind}: a re-encoded message does not decode: {e}"),
    }
    Some(m)
}

/// The request a decoded frame asks the harness to serve, if any.
fn decode_frame(tag: u8, payload: &[u8], out: &mut Outcomes) -> Option<Request> {
    let kind = KINDS[usize::from(tag) % KINDS.len()];
    match usize::from(tag) % KINDS.len() {
        0 => decode::<pb::RangeRequest>(kind, payload, out).map(Request::Range),
        1 => decode::<pb::PutRequest>(kind, payload, out).map(Request::Put),
        2 => decode::<pb::DeleteRangeRequest>(kind, payload, out).map(Request::DeleteRange),
        3 => decode::<pb::TxnRequest>(kind, payload, out).map(Request::Txn),
        4 => decode::<pb::CompactionRequest>(kind, payload, out).map(Request::Compaction),
        5 => decode::<pb::LeaseGrantRequest>(kind, payload, out).map(Request::LeaseGrant),
        6 => decode::<pb::LeaseRevokeRequest>(kind, payload, out).map(Request::LeaseRevoke),
        7 => decode::<pb::LeaseTimeToLiveRequest>(kind, payload, out).map(Request::LeaseTimeToLive),
        8 => decode::<pb::LeaseKeepAliveRequest>(kind, payload, out).map(Request::LeaseKeepAlive),
        9 => decode::<pb::LeaseLeasesRequest>(kind, payload, out).map(|_| Request::LeaseLeases),
        10 => {
            decode::<pb::LeaseCheckpointRequest>(kind, payload, out).map(Request::LeaseCheckpoint)
        }
        11 => decode::<pb::WatchRequest>(kind, payload, out).map(Request::Watch),
        12 => decode::<pb::MemberAddRequest>(kind, payload, out).map(Request::MemberAdd),
        13 => decode::<pb::MemberRemoveRequest>(kind, payload, out).and(None),
        14 => decode::<pb::MemberUpdateRequest>(kind, payload, out).map(Request::MemberUpdate),
        15 => decode::<pb::MemberListRequest>(kind, payload, out).and(None),
        16 => decode::<pb::MemberPromoteRequest>(kind, payload, out).and(None),
        17 => decode::<pb::AlarmRequest>(kind, payload, out).map(Request::Alarm),
        18 => decode::<pb::StatusRequest>(kind, payload, out).and(None),
        19 => decode::<pb::DefragmentRequest>(kind, payload, out).and(None),
        20 => decode::<pb::HashRequest>(kind, payload, out).map(|_| Request::Hash),
        21 => decode::<pb::HashKvRequest>(kind, payload, out).map(Request::HashKv),
        22 => decode::<pb::SnapshotRequest>(kind, payload, out).and(None),
        23 => decode::<pb::MoveLeaderRequest>(kind, payload, out).and(None),
        24 => decode::<pb::DowngradeRequest>(kind, payload, out).and(None),
        25 => decode::<v3lockpb::LockRequest>(kind, payload, out).and(None),
        26 => decode::<v3lockpb::UnlockRequest>(kind, payload, out).and(None),
        27 => decode::<v3electionpb::CampaignRequest>(kind, payload, out).and(None),
        28 => decode::<v3electionpb::ProclaimRequest>(kind, payload, out).and(None),
        29 => decode::<v3electionpb::LeaderRequest>(kind, payload, out).and(None),
        30 => decode::<v3electionpb::ResignRequest>(kind, payload, out).and(None),
        31 => decode::<oxcdpb::InternalRequest>(kind, payload, out)
            .and_then(|r| internal_op(r.op, out)),
        32 => {
            let batch = decode::<oxcdpb::RaftMessageBatch>(kind, payload, out)?;
            for m in &batch.messages {
                decode_raft::<raft::eraftpb::Message>("RaftMessageBatch message", m, out);
            }
            None
        }
        33 => {
            let chunk = decode::<oxcdpb::SnapshotChunk>(kind, payload, out)?;
            if !chunk.message.is_empty() {
                decode_raft::<raft::eraftpb::Message>("SnapshotChunk message", &chunk.message, out);
            }
            None
        }
        34 => decode::<oxcdpb::LeaseRenewRequest>(kind, payload, out).and(None),
        35 => decode_raft::<raft::eraftpb::Message>(kind, payload, out).and(None),
        36 => decode_raft::<raft::eraftpb::ConfChangeV2>(kind, payload, out).and(None),
        _ => {
            let e = decode_raft::<raft::eraftpb::Entry>(kind, payload, out)?;
            // An entry's payload is an InternalRequest (or a conf change).
            decode::<oxcdpb::InternalRequest>("Entry data", &e.data, out)
                .and_then(|r| internal_op(r.op, out))
        }
    }
}

/// The harness request of a raft log entry's operation. The server validated it before
/// proposing, so the harness validates it again (it is served the same way).
fn internal_op(op: Option<Op>, out: &mut Outcomes) -> Option<Request> {
    let req = match op? {
        Op::Range(r) => Request::Range(r),
        Op::Put(p) => Request::Put(p),
        Op::DeleteRange(d) => Request::DeleteRange(d),
        Op::Txn(t) => Request::Txn(t),
        Op::Compaction(c) => Request::Compaction(c),
        Op::LeaseGrant(g) => Request::LeaseGrant(g),
        Op::LeaseRevoke(r) => Request::LeaseRevoke(r),
        Op::Alarm(a) => Request::Alarm(a),
        Op::LeaseCheckpoint(c) => Request::LeaseCheckpoint(c),
        Op::MemberUpdate(u) => Request::MemberUpdate(u),
        _ => {
            out.add("InternalRequest: op not served by the harness");
            return None;
        }
    };
    Some(req)
}

/// Runs one input (see the module docs).
pub fn run(data: &[u8], out: &mut Outcomes) {
    let mut harness: Option<Harness> = None;
    for (tag, payload) in Frames::new(data) {
        if let Some(req) = decode_frame(tag, payload, out) {
            harness.get_or_insert_with(Harness::new).serve(req, out);
        }
    }
    if let Some(h) = harness {
        h.finish(out);
    }
}

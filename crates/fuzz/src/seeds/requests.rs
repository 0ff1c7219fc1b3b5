//! Sample client requests, written once and encoded per target: as protobuf frames for
//! `grpc-decode` ([`super::grpc`]) and as JSON bodies for `gateway-json`
//! ([`super::gateway`]). Each [`Sink::file`] starts one seed file; the requests after it
//! are its frames, in order (a small scripted session against the harness fixture).

use oxcd_proto::etcdserverpb::{
    self as pb, alarm_request::AlarmAction, compare, range_request, request_op,
    watch_create_request::FilterType, watch_request::RequestUnion,
};
use oxcd_proto::{oxcdpb, v3electionpb, v3lockpb};

use crate::serve::FIXTURE_LEASE;

/// Where the samples go.
pub trait Sink {
    /// Starts the seed file `name`.
    fn file(&mut self, name: &str);
    /// Adds one message of proto type `kind` (a name in `grpc_decode::KINDS`).
    fn msg<M: prost::Message + serde::Serialize>(&mut self, kind: &'static str, m: &M);
    /// Adds one message that only has a protobuf form (internal protocols), encoded.
    fn wire(&mut self, kind: &'static str, bytes: Vec<u8>);
}

fn range(key: &str, end: &str) -> pb::RangeRequest {
    pb::RangeRequest {
        key: key.into(),
        range_end: end.into(),
        ..Default::default()
    }
}

fn put(key: &str, value: &str) -> pb::PutRequest {
    pb::PutRequest {
        key: key.into(),
        value: value.into(),
        ..Default::default()
    }
}

fn op(r: request_op::Request) -> pb::RequestOp {
    pb::RequestOp { request: Some(r) }
}

fn watch_create(c: pb::WatchCreateRequest) -> pb::WatchRequest {
    pb::WatchRequest {
        request_union: Some(RequestUnion::CreateRequest(c)),
    }
}

fn alarm(action: AlarmAction) -> pb::AlarmRequest {
    pb::AlarmRequest {
        action: action as i32,
        member_id: 1,
        alarm: pb::AlarmType::Nospace as i32,
    }
}

/// Writes every sample session into `s`.
pub fn samples(s: &mut impl Sink) {
    kv(s);
    txn(s);
    leases(s);
    watch(s);
    maintenance(s);
    others(s);
}

fn kv(s: &mut impl Sink) {
    s.file("range-single");
    s.msg("RangeRequest", &range("foo", ""));
    s.file("range-prefix-sorted");
    s.msg(
        "RangeRequest",
        &pb::RangeRequest {
            limit: 1,
            sort_order: range_request::SortOrder::Descend as i32,
            sort_target: range_request::SortTarget::Value as i32,
            revision: 5,
            ..range("foo", "fop")
        },
    );
    s.file("range-all-filters");
    s.msg(
        "RangeRequest",
        &pb::RangeRequest {
            min_mod_revision: 3,
            max_create_revision: 8,
            keys_only: true,
            ..range("\0", "\0")
        },
    );
    s.msg(
        "RangeRequest",
        &pb::RangeRequest {
            count_only: true,
            serializable: true,
            ..range("a", "\0")
        },
    );
    s.file("put-then-read");
    s.msg(
        "PutRequest",
        &pb::PutRequest {
            prev_kv: true,
            ..put("foo", "baz")
        },
    );
    s.msg("RangeRequest", &range("foo", "foo0"));
    s.file("put-ignore-and-lease");
    s.msg(
        "PutRequest",
        &pb::PutRequest {
            ignore_value: true,
            ..put("foo/1", "")
        },
    );
    s.msg(
        "PutRequest",
        &pb::PutRequest {
            lease: FIXTURE_LEASE,
            ..put("a", "leased")
        },
    );
    s.msg(
        "PutRequest",
        &pb::PutRequest {
            ignore_lease: true,
            ..put("missing", "x")
        },
    );
    s.file("delete-range");
    s.msg(
        "DeleteRangeRequest",
        &pb::DeleteRangeRequest {
            key: b"a".to_vec(),
            range_end: b"foo/2".to_vec(),
            prev_kv: true,
        },
    );
    s.msg("RangeRequest", &range("\0", "\0"));
    s.file("compaction-then-old-read");
    s.msg(
        "CompactionRequest",
        &pb::CompactionRequest {
            revision: 5,
            physical: true,
        },
    );
    s.msg(
        "RangeRequest",
        &pb::RangeRequest {
            revision: 4,
            ..range("a", "\0")
        },
    );
    s.msg(
        "RangeRequest",
        &pb::RangeRequest {
            revision: 6,
            ..range("a", "\0")
        },
    );
}

fn txn(s: &mut impl Sink) {
    s.file("txn-compare-and-swap");
    let nested = pb::TxnRequest {
        compare: vec![pb::Compare {
            result: compare::CompareResult::Equal as i32,
            target: compare::CompareTarget::Value as i32,
            key: b"a".to_vec(),
            target_union: Some(compare::TargetUnion::Value(b"2".to_vec())),
            ..Default::default()
        }],
        success: vec![op(request_op::Request::RequestPut(put("n", "1")))],
        failure: vec![op(request_op::Request::RequestPut(put("n", "2")))],
    };
    s.msg(
        "TxnRequest",
        &pb::TxnRequest {
            compare: vec![pb::Compare {
                result: compare::CompareResult::Greater as i32,
                target: compare::CompareTarget::Mod as i32,
                key: b"foo".to_vec(),
                range_end: b"fop".to_vec(),
                target_union: Some(compare::TargetUnion::ModRevision(2)),
            }],
            success: vec![
                op(request_op::Request::RequestPut(put("foo", "txn"))),
                op(request_op::Request::RequestRange(range("foo", "fop"))),
                op(request_op::Request::RequestTxn(nested)),
                op(request_op::Request::RequestDeleteRange(
                    pb::DeleteRangeRequest {
                        key: b"z".to_vec(),
                        range_end: vec![0],
                        prev_kv: true,
                    },
                )),
            ],
            failure: vec![op(request_op::Request::RequestRange(range("a", "")))],
        },
    );
    s.file("txn-read-only");
    s.msg(
        "TxnRequest",
        &pb::TxnRequest {
            compare: vec![pb::Compare {
                result: compare::CompareResult::Less as i32,
                target: compare::CompareTarget::Version as i32,
                key: b"a".to_vec(),
                target_union: Some(compare::TargetUnion::Version(5)),
                ..Default::default()
            }],
            success: vec![op(request_op::Request::RequestRange(range("\0", "\0")))],
            failure: Vec::new(),
        },
    );
}

fn leases(s: &mut impl Sink) {
    s.file("lease-lifecycle");
    s.msg(
        "LeaseGrantRequest",
        &pb::LeaseGrantRequest { ttl: 3, id: 77 },
    );
    s.msg(
        "PutRequest",
        &pb::PutRequest {
            lease: 77,
            ..put("ephemeral", "x")
        },
    );
    s.msg(
        "LeaseTimeToLiveRequest",
        &pb::LeaseTimeToLiveRequest { id: 77, keys: true },
    );
    s.msg(
        "LeaseKeepAliveRequest",
        &pb::LeaseKeepAliveRequest { id: 77 },
    );
    s.msg("LeaseLeasesRequest", &pb::LeaseLeasesRequest {});
    s.msg("RangeRequest", &range("ephemeral", ""));
    s.msg("RangeRequest", &range("ephemeral", ""));
    s.msg("RangeRequest", &range("ephemeral", ""));
    s.msg("LeaseRevokeRequest", &pb::LeaseRevokeRequest { id: 77 });
    s.file("lease-revoke-fixture");
    s.msg(
        "LeaseTimeToLiveRequest",
        &pb::LeaseTimeToLiveRequest {
            id: FIXTURE_LEASE,
            keys: true,
        },
    );
    s.msg(
        "LeaseRevokeRequest",
        &pb::LeaseRevokeRequest { id: FIXTURE_LEASE },
    );
    s.msg(
        "LeaseCheckpointRequest",
        &pb::LeaseCheckpointRequest {
            checkpoints: vec![pb::LeaseCheckpoint {
                id: FIXTURE_LEASE,
                remaining_ttl: 30,
            }],
        },
    );
}

fn watch(s: &mut impl Sink) {
    s.file("watch-session");
    s.msg(
        "WatchRequest",
        &watch_create(pb::WatchCreateRequest {
            key: b"foo".to_vec(),
            range_end: b"fop".to_vec(),
            start_revision: 2,
            prev_kv: true,
            ..Default::default()
        }),
    );
    s.msg(
        "WatchRequest",
        &watch_create(pb::WatchCreateRequest {
            key: b"a".to_vec(),
            filters: vec![FilterType::Nodelete as i32],
            watch_id: 7,
            fragment: true,
            progress_notify: true,
            ..Default::default()
        }),
    );
    s.msg("PutRequest", &put("foo/3", "w"));
    s.msg("PutRequest", &put("a", "w"));
    s.msg(
        "DeleteRangeRequest",
        &pb::DeleteRangeRequest {
            key: b"foo".to_vec(),
            range_end: b"fop".to_vec(),
            prev_kv: false,
        },
    );
    s.msg(
        "WatchRequest",
        &pb::WatchRequest {
            request_union: Some(RequestUnion::ProgressRequest(pb::WatchProgressRequest {})),
        },
    );
    s.msg(
        "WatchRequest",
        &pb::WatchRequest {
            request_union: Some(RequestUnion::CancelRequest(pb::WatchCancelRequest {
                watch_id: 7,
            })),
        },
    );
    s.file("watch-compacted");
    s.msg(
        "CompactionRequest",
        &pb::CompactionRequest {
            revision: 6,
            physical: false,
        },
    );
    s.msg(
        "WatchRequest",
        &watch_create(pb::WatchCreateRequest {
            key: vec![0],
            range_end: vec![0],
            start_revision: 3,
            ..Default::default()
        }),
    );
    s.msg(
        "WatchRequest",
        &watch_create(pb::WatchCreateRequest {
            key: vec![0],
            range_end: vec![0],
            start_revision: 6,
            ..Default::default()
        }),
    );
    s.msg("PutRequest", &put("b", "back"));
}

fn maintenance(s: &mut impl Sink) {
    s.file("alarm-nospace");
    s.msg("AlarmRequest", &alarm(AlarmAction::Activate));
    s.msg("PutRequest", &put("blocked", "x"));
    s.msg("AlarmRequest", &alarm(AlarmAction::Get));
    s.msg("AlarmRequest", &alarm(AlarmAction::Deactivate));
    s.msg("PutRequest", &put("unblocked", "x"));
    s.file("hashes");
    s.msg("HashRequest", &pb::HashRequest {});
    s.msg("HashKvRequest", &pb::HashKvRequest { revision: 4 });
    s.msg("HashKvRequest", &pb::HashKvRequest { revision: 0 });
    s.file("members");
    s.msg(
        "MemberAddRequest",
        &pb::MemberAddRequest {
            peer_ur_ls: vec!["http://10.0.0.2:2380".into()],
            is_learner: true,
        },
    );
    s.msg(
        "MemberUpdateRequest",
        &pb::MemberUpdateRequest {
            id: 2,
            peer_ur_ls: vec!["https://[::1]:2380/".into(), "http://h:x".into()],
        },
    );
    s.msg("MemberRemoveRequest", &pb::MemberRemoveRequest { id: 2 });
    s.msg(
        "MemberListRequest",
        &pb::MemberListRequest { linearizable: true },
    );
    s.msg("MemberPromoteRequest", &pb::MemberPromoteRequest { id: 2 });
    s.file("maintenance-misc");
    s.msg("StatusRequest", &pb::StatusRequest {});
    s.msg("DefragmentRequest", &pb::DefragmentRequest {});
    s.msg("SnapshotRequest", &pb::SnapshotRequest {});
    s.msg("MoveLeaderRequest", &pb::MoveLeaderRequest { target_id: 2 });
    s.msg(
        "DowngradeRequest",
        &pb::DowngradeRequest {
            action: 1,
            version: "3.4".into(),
        },
    );
}

fn others(s: &mut impl Sink) {
    s.file("lock-election");
    s.msg(
        "LockRequest",
        &v3lockpb::LockRequest {
            name: b"lock".to_vec(),
            lease: FIXTURE_LEASE,
        },
    );
    s.msg(
        "UnlockRequest",
        &v3lockpb::UnlockRequest {
            key: b"lock/1234".to_vec(),
        },
    );
    let leader = v3electionpb::LeaderKey {
        name: b"e".to_vec(),
        key: b"e/1".to_vec(),
        rev: 3,
        lease: FIXTURE_LEASE,
    };
    s.msg(
        "CampaignRequest",
        &v3electionpb::CampaignRequest {
            name: b"e".to_vec(),
            lease: FIXTURE_LEASE,
            value: b"me".to_vec(),
        },
    );
    s.msg(
        "ProclaimRequest",
        &v3electionpb::ProclaimRequest {
            leader: Some(leader.clone()),
            value: b"v".to_vec(),
        },
    );
    s.msg(
        "LeaderRequest",
        &v3electionpb::LeaderRequest {
            name: b"e".to_vec(),
        },
    );
    s.msg(
        "ResignRequest",
        &v3electionpb::ResignRequest {
            leader: Some(leader),
        },
    );
    s.file("raft-entry-ops");
    let internal = |id: u64, op: oxcdpb::internal_request::Op| oxcdpb::InternalRequest {
        header: Some(oxcdpb::RequestHeader {
            id,
            ..Default::default()
        }),
        op: Some(op),
    };
    use oxcdpb::internal_request::Op;
    use prost::Message;
    let ops = [
        Op::Put(put("raft", "entry")),
        Op::LeaseGrant(pb::LeaseGrantRequest { ttl: 10, id: 99 }),
        Op::DeleteRange(pb::DeleteRangeRequest {
            key: b"raft".to_vec(),
            ..Default::default()
        }),
        Op::Alarm(alarm(AlarmAction::Get)),
    ];
    for (i, o) in ops.into_iter().enumerate() {
        s.wire("InternalRequest", internal(i as u64 + 1, o).encode_to_vec());
    }
    let renew = oxcdpb::LeaseRenewRequest { id: FIXTURE_LEASE };
    s.wire("LeaseRenewRequest", renew.encode_to_vec());
}

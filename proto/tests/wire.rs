//! Wire-format tests: protobuf bytes, proto3 JSON, and gRPC service/method
//! names must match etcd's exactly.

use oxcd_proto::etcdserverpb::{
    compare, request_op, watch_request, AuthUserAddRequest, Compare, LeaseGrantRequest,
    LeaseGrantResponse, Member, PutRequest, PutResponse, RangeRequest, RequestOp, ResponseHeader,
    StatusResponse, TxnRequest, WatchCancelRequest, WatchCreateRequest, WatchProgressRequest,
    WatchRequest, WatchResponse,
};
use oxcd_proto::mvccpb::{event::EventType, Event, KeyValue};
use oxcd_proto::oxcdpb::{internal_request, InternalRequest, RequestHeader};
use prost::Message;

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------
// Protobuf bytes
// ---------------------------------------------------------------------------

#[test]
fn key_value_tags() {
    let kv = KeyValue {
        key: b"foo".to_vec().into(),
        create_revision: 2,
        ..Default::default()
    };
    assert_eq!(hex(&kv.encode_to_vec()), "0a 03 66 6f 6f 10 02");

    let kv = KeyValue {
        key: b"k".to_vec().into(),
        create_revision: 1,
        mod_revision: 3,
        version: 2,
        value: b"v".to_vec().into(),
        lease: 9,
    };
    let bytes = kv.encode_to_vec();
    assert_eq!(hex(&bytes), "0a 01 6b 10 01 18 03 20 02 2a 01 76 30 09");
    assert_eq!(KeyValue::decode(bytes.as_slice()).expect("decode"), kv);
}

#[test]
fn range_request_tags() {
    let req = RangeRequest {
        key: b"a".to_vec(),
        range_end: b"b".to_vec(),
        limit: 5,
        revision: 7,
        sort_order: 2, // DESCEND
        serializable: true,
        max_create_revision: 9,
        ..Default::default()
    };
    // field 13 varint: (13 << 3) | 0 = 0x68.
    assert_eq!(
        hex(&req.encode_to_vec()),
        "0a 01 61 12 01 62 18 05 20 07 28 02 38 01 68 09"
    );
}

#[test]
fn put_request_tags() {
    let req = PutRequest {
        key: b"k".to_vec(),
        value: b"v".to_vec(),
        lease: 16,
        prev_kv: true,
        ignore_value: false,
        ignore_lease: true,
    };
    assert_eq!(
        hex(&req.encode_to_vec()),
        "0a 01 6b 12 01 76 18 10 20 01 30 01"
    );
}

#[test]
fn watch_request_tags() {
    let create = WatchRequest {
        request_union: Some(watch_request::RequestUnion::CreateRequest(
            WatchCreateRequest {
                key: b"k".to_vec(),
                start_revision: 3,
                prev_kv: true,
                watch_id: 1,
                fragment: true,
                ..Default::default()
            },
        )),
    };
    assert_eq!(
        hex(&create.encode_to_vec()),
        "0a 0b 0a 01 6b 18 03 30 01 38 01 40 01"
    );

    let cancel = WatchRequest {
        request_union: Some(watch_request::RequestUnion::CancelRequest(
            WatchCancelRequest { watch_id: 5 },
        )),
    };
    assert_eq!(hex(&cancel.encode_to_vec()), "12 02 08 05");

    let progress = WatchRequest {
        request_union: Some(watch_request::RequestUnion::ProgressRequest(
            WatchProgressRequest {},
        )),
    };
    assert_eq!(hex(&progress.encode_to_vec()), "1a 00");
}

#[test]
fn watch_response_tags() {
    // -1 as int64 is a ten-byte varint; events is field 11 (0x5a).
    let resp = WatchResponse {
        watch_id: -1,
        events: vec![Event {
            r#type: EventType::Delete as i32,
            kv: None,
            prev_kv: None,
        }],
        ..Default::default()
    };
    assert_eq!(
        hex(&resp.encode_to_vec()),
        "10 ff ff ff ff ff ff ff ff ff 01 5a 02 08 01"
    );
}

#[test]
fn compare_tags() {
    let cmp = Compare {
        result: compare::CompareResult::NotEqual as i32,
        target: compare::CompareTarget::Lease as i32,
        key: b"k".to_vec(),
        range_end: b"z".to_vec(),
        target_union: Some(compare::TargetUnion::Lease(7)),
    };
    // range_end is field 64: (64 << 3) | 2 = 514 = varint 82 04.
    let bytes = cmp.encode_to_vec();
    assert_eq!(hex(&bytes), "08 03 10 04 1a 01 6b 40 07 82 04 01 7a");
    assert_eq!(Compare::decode(bytes.as_slice()).expect("decode"), cmp);
}

#[test]
fn lease_grant_tags() {
    let req = LeaseGrantRequest { ttl: 30, id: 2 };
    assert_eq!(hex(&req.encode_to_vec()), "08 1e 10 02");
}

#[test]
fn internal_request_round_trip() {
    let req = InternalRequest {
        header: Some(RequestHeader {
            id: 7,
            username: "root".into(),
            auth_revision: 3,
            internal: false,
        }),
        op: Some(internal_request::Op::Put(PutRequest {
            key: b"k".to_vec(),
            ..Default::default()
        })),
    };
    let bytes = req.encode_to_vec();
    assert_eq!(
        hex(&bytes),
        "0a 0a 08 07 12 04 72 6f 6f 74 18 03 1a 03 0a 01 6b"
    );
    assert_eq!(
        InternalRequest::decode(bytes.as_slice()).expect("decode"),
        req
    );
}

// ---------------------------------------------------------------------------
// Proto3 JSON (the gateway's dialect)
// ---------------------------------------------------------------------------

#[test]
fn json_put_response_quotes_int64_and_omits_defaults() {
    let resp = PutResponse {
        header: Some(ResponseHeader {
            cluster_id: 1,
            revision: 2,
            ..Default::default()
        }),
        prev_kv: None,
    };
    assert_eq!(
        serde_json::to_string(&resp).expect("serialize"),
        r#"{"header":{"cluster_id":"1","revision":"2"}}"#
    );
    assert_eq!(
        serde_json::to_string(&PutResponse::default()).expect("serialize"),
        "{}"
    );
}

#[test]
fn json_key_value_uses_base64_and_proto_names() {
    let kv = KeyValue {
        key: b"foo".to_vec().into(),
        create_revision: 2,
        mod_revision: 2,
        version: 1,
        value: b"bar".to_vec().into(),
        lease: 0,
    };
    let text = serde_json::to_string(&kv).expect("serialize");
    assert!(text.contains(r#""key":"Zm9v""#), "{text}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&text).expect("json"),
        serde_json::json!({
            "key": "Zm9v",
            "create_revision": "2",
            "mod_revision": "2",
            "version": "1",
            "value": "YmFy"
        })
    );
    assert_eq!(serde_json::from_str::<KeyValue>(&text).expect("parse"), kv);
}

#[test]
fn json_range_request_accepts_proto_and_camel_names() {
    let expected = RangeRequest {
        key: b"foo".to_vec(),
        range_end: b"fop".to_vec(),
        limit: 5,
        ..Default::default()
    };
    let snake: RangeRequest =
        serde_json::from_str(r#"{"key":"Zm9v","range_end":"Zm9w","limit":"5"}"#).expect("snake");
    let camel: RangeRequest =
        serde_json::from_str(r#"{"key":"Zm9v","rangeEnd":"Zm9w","limit":5}"#).expect("camel");
    assert_eq!(snake, expected);
    assert_eq!(camel, expected);

    let sorted: RangeRequest =
        serde_json::from_str(r#"{"key":"Zm9v","sort_order":"DESCEND","sortTarget":"MOD"}"#)
            .expect("enums");
    assert_eq!(
        sorted.sort_order(),
        oxcd_proto::etcdserverpb::range_request::SortOrder::Descend
    );
    assert_eq!(
        sorted.sort_target(),
        oxcd_proto::etcdserverpb::range_request::SortTarget::Mod
    );
}

#[test]
fn json_ignores_unknown_fields() {
    let req: RangeRequest =
        serde_json::from_str(r#"{"key":"Zm9v","no_such_field":{"x":1}}"#).expect("parse");
    assert_eq!(req.key, b"foo");
}

#[test]
fn json_compare_enums_by_name_and_oneof_flattened() {
    let cmp: Compare = serde_json::from_str(r#"{"target":"MOD","result":"EQUAL"}"#).expect("parse");
    assert_eq!(cmp.target(), compare::CompareTarget::Mod);
    assert_eq!(cmp.result(), compare::CompareResult::Equal);
    assert_eq!(cmp.target_union, None);

    let cmp: Compare = serde_json::from_str(
        r#"{"key":"Zm9v","target":"MOD","result":"NOT_EQUAL","mod_revision":"5"}"#,
    )
    .expect("parse");
    assert_eq!(cmp.result(), compare::CompareResult::NotEqual);
    assert_eq!(cmp.target_union, Some(compare::TargetUnion::ModRevision(5)));
    assert_eq!(
        serde_json::to_value(&cmp).expect("serialize"),
        serde_json::json!({
            "result": "NOT_EQUAL", "target": "MOD", "key": "Zm9v", "mod_revision": "5"
        })
    );
}

#[test]
fn json_txn_request_ops() {
    let txn: TxnRequest = serde_json::from_str(
        r#"{"compare":[{"key":"Zm9v","target":"VERSION","version":"0"}],
            "success":[{"request_put":{"key":"Zm9v","value":"YmFy"}}],
            "failure":[{"requestRange":{"key":"Zm9v"}}]}"#,
    )
    .expect("parse");
    assert_eq!(
        txn.compare[0].target_union,
        Some(compare::TargetUnion::Version(0))
    );
    assert_eq!(
        txn.success[0],
        RequestOp {
            request: Some(request_op::Request::RequestPut(PutRequest {
                key: b"foo".to_vec(),
                value: b"bar".to_vec(),
                ..Default::default()
            }))
        }
    );
    assert!(matches!(
        txn.failure[0].request,
        Some(request_op::Request::RequestRange(_))
    ));
}

#[test]
fn json_capitalised_field_names_stay_as_written() {
    let req: LeaseGrantRequest = serde_json::from_str(r#"{"TTL":30}"#).expect("parse");
    assert_eq!(req, LeaseGrantRequest { ttl: 30, id: 0 });
    let req: LeaseGrantRequest = serde_json::from_str(r#"{"TTL":"30","ID":"7"}"#).expect("parse");
    assert_eq!(req, LeaseGrantRequest { ttl: 30, id: 7 });

    let resp = LeaseGrantResponse {
        header: None,
        id: 7,
        ttl: 30,
        error: String::new(),
    };
    assert_eq!(
        serde_json::to_string(&resp).expect("serialize"),
        r#"{"ID":"7","TTL":"30"}"#
    );

    let member = Member {
        id: 10,
        name: "m1".into(),
        peer_ur_ls: vec!["http://127.0.0.1:2380".into()],
        client_ur_ls: vec![],
        is_learner: true,
    };
    assert_eq!(
        serde_json::to_value(&member).expect("serialize"),
        serde_json::json!({
            "ID": "10", "name": "m1", "peerURLs": ["http://127.0.0.1:2380"], "isLearner": true
        })
    );

    let status = StatusResponse {
        db_size: 20480,
        raft_index: 9,
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_string(&status).expect("serialize"),
        r#"{"dbSize":"20480","raftIndex":"9"}"#
    );

    let add: AuthUserAddRequest =
        serde_json::from_str(r#"{"name":"u","hashedPassword":"h","options":{"no_password":true}}"#)
            .expect("parse");
    assert_eq!(add.hashed_password, "h");
    assert!(add.options.expect("options").no_password);
}

#[test]
fn json_event_type_default_is_omitted() {
    let put = Event {
        r#type: EventType::Put as i32,
        kv: None,
        prev_kv: None,
    };
    assert_eq!(serde_json::to_string(&put).expect("serialize"), "{}");
    let del = Event {
        r#type: EventType::Delete as i32,
        kv: None,
        prev_kv: None,
    };
    assert_eq!(
        serde_json::to_string(&del).expect("serialize"),
        r#"{"type":"DELETE"}"#
    );
    let back: Event = serde_json::from_str(r#"{"type":"DELETE"}"#).expect("parse");
    assert_eq!(back.r#type(), EventType::Delete);
}

// ---------------------------------------------------------------------------
// Services and descriptors
// ---------------------------------------------------------------------------

/// (service full name, method, client streaming, server streaming): the
/// reference's §1.1 table plus the internal peer service.
const METHODS: &[(&str, &str, bool, bool)] = &[
    ("etcdserverpb.KV", "Range", false, false),
    ("etcdserverpb.KV", "RangeStream", false, true),
    ("etcdserverpb.KV", "Put", false, false),
    ("etcdserverpb.KV", "DeleteRange", false, false),
    ("etcdserverpb.KV", "Txn", false, false),
    ("etcdserverpb.KV", "Compact", false, false),
    ("etcdserverpb.Watch", "Watch", true, true),
    ("etcdserverpb.Lease", "LeaseGrant", false, false),
    ("etcdserverpb.Lease", "LeaseRevoke", false, false),
    ("etcdserverpb.Lease", "LeaseKeepAlive", true, true),
    ("etcdserverpb.Lease", "LeaseTimeToLive", false, false),
    ("etcdserverpb.Lease", "LeaseLeases", false, false),
    ("etcdserverpb.Cluster", "MemberAdd", false, false),
    ("etcdserverpb.Cluster", "MemberRemove", false, false),
    ("etcdserverpb.Cluster", "MemberUpdate", false, false),
    ("etcdserverpb.Cluster", "MemberList", false, false),
    ("etcdserverpb.Cluster", "MemberPromote", false, false),
    ("etcdserverpb.Maintenance", "Alarm", false, false),
    ("etcdserverpb.Maintenance", "Status", false, false),
    ("etcdserverpb.Maintenance", "Defragment", false, false),
    ("etcdserverpb.Maintenance", "Hash", false, false),
    ("etcdserverpb.Maintenance", "HashKV", false, false),
    ("etcdserverpb.Maintenance", "Snapshot", false, true),
    ("etcdserverpb.Maintenance", "MoveLeader", false, false),
    ("etcdserverpb.Maintenance", "Downgrade", false, false),
    ("etcdserverpb.Auth", "AuthEnable", false, false),
    ("etcdserverpb.Auth", "AuthDisable", false, false),
    ("etcdserverpb.Auth", "AuthStatus", false, false),
    ("etcdserverpb.Auth", "Authenticate", false, false),
    ("etcdserverpb.Auth", "UserAdd", false, false),
    ("etcdserverpb.Auth", "UserGet", false, false),
    ("etcdserverpb.Auth", "UserList", false, false),
    ("etcdserverpb.Auth", "UserDelete", false, false),
    ("etcdserverpb.Auth", "UserChangePassword", false, false),
    ("etcdserverpb.Auth", "UserGrantRole", false, false),
    ("etcdserverpb.Auth", "UserRevokeRole", false, false),
    ("etcdserverpb.Auth", "RoleAdd", false, false),
    ("etcdserverpb.Auth", "RoleGet", false, false),
    ("etcdserverpb.Auth", "RoleList", false, false),
    ("etcdserverpb.Auth", "RoleDelete", false, false),
    ("etcdserverpb.Auth", "RoleGrantPermission", false, false),
    ("etcdserverpb.Auth", "RoleRevokePermission", false, false),
    ("v3lockpb.Lock", "Lock", false, false),
    ("v3lockpb.Lock", "Unlock", false, false),
    ("v3electionpb.Election", "Campaign", false, false),
    ("v3electionpb.Election", "Proclaim", false, false),
    ("v3electionpb.Election", "Leader", false, false),
    ("v3electionpb.Election", "Observe", false, true),
    ("v3electionpb.Election", "Resign", false, false),
    ("oxcdpb.RaftPeer", "Send", true, false),
    ("oxcdpb.RaftPeer", "Snapshot", true, false),
    ("oxcdpb.RaftPeer", "Members", false, false),
    ("oxcdpb.RaftPeer", "PromoteMember", false, false),
    ("oxcdpb.RaftPeer", "LeaseRenew", false, false),
    ("oxcdpb.RaftPeer", "LeaseTimeToLive", false, false),
    ("oxcdpb.RaftPeer", "HashKv", false, false),
];

#[test]
fn service_name_constants() {
    use oxcd_proto::{etcdserverpb as e, oxcdpb, v3electionpb, v3lockpb};
    assert_eq!(e::kv_server::SERVICE_NAME, "etcdserverpb.KV");
    assert_eq!(e::watch_server::SERVICE_NAME, "etcdserverpb.Watch");
    assert_eq!(e::lease_server::SERVICE_NAME, "etcdserverpb.Lease");
    assert_eq!(e::cluster_server::SERVICE_NAME, "etcdserverpb.Cluster");
    assert_eq!(
        e::maintenance_server::SERVICE_NAME,
        "etcdserverpb.Maintenance"
    );
    assert_eq!(e::auth_server::SERVICE_NAME, "etcdserverpb.Auth");
    assert_eq!(v3lockpb::lock_server::SERVICE_NAME, "v3lockpb.Lock");
    assert_eq!(
        v3electionpb::election_server::SERVICE_NAME,
        "v3electionpb.Election"
    );
    assert_eq!(oxcdpb::raft_peer_server::SERVICE_NAME, "oxcdpb.RaftPeer");
}

#[test]
fn generated_code_routes_the_exact_grpc_paths() {
    let generated = [
        include_str!(concat!(env!("OUT_DIR"), "/etcdserverpb.rs")),
        include_str!(concat!(env!("OUT_DIR"), "/v3lockpb.rs")),
        include_str!(concat!(env!("OUT_DIR"), "/v3electionpb.rs")),
        include_str!(concat!(env!("OUT_DIR"), "/oxcdpb.rs")),
    ]
    .concat();
    for (service, method, _, _) in METHODS {
        let path = format!("\"/{service}/{method}\"");
        // Once in the client, once in the server's router.
        assert_eq!(generated.matches(&path).count(), 2, "path {path}");
    }
}

fn descriptor_set() -> prost_types::FileDescriptorSet {
    prost_types::FileDescriptorSet::decode(oxcd_proto::FILE_DESCRIPTOR_SET).expect("descriptor set")
}

#[test]
fn descriptor_set_lists_exactly_the_expected_methods() {
    let fds = descriptor_set();
    let mut found = Vec::new();
    for file in &fds.file {
        for service in &file.service {
            let full = format!("{}.{}", file.package(), service.name());
            for method in &service.method {
                found.push((
                    full.clone(),
                    method.name().to_string(),
                    method.client_streaming(),
                    method.server_streaming(),
                ));
            }
        }
    }
    let mut expected: Vec<_> = METHODS
        .iter()
        .map(|(s, m, c, st)| (s.to_string(), m.to_string(), *c, *st))
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(found, expected);
}

/// Looks up `package.Message` (nested messages as `Outer.Inner`) and returns
/// its fields as (name, number, type).
fn fields_of(fds: &prost_types::FileDescriptorSet, full_name: &str) -> Vec<(String, i32, i32)> {
    for file in &fds.file {
        let Some(rest) = full_name.strip_prefix(&format!("{}.", file.package())) else {
            continue;
        };
        let mut parts = rest.split('.');
        let Some(first) = parts.next() else { continue };
        let Some(mut msg) = file.message_type.iter().find(|m| m.name() == first) else {
            continue;
        };
        for part in parts {
            msg = msg
                .nested_type
                .iter()
                .find(|m| m.name() == part)
                .expect("nested message");
        }
        return msg
            .field
            .iter()
            .map(|f| (f.name().to_string(), f.number(), f.r#type() as i32))
            .collect();
    }
    panic!("message {full_name} not found");
}

#[test]
fn descriptor_field_numbers_of_newer_additions() {
    use prost_types::field_descriptor_proto::Type;
    let fds = descriptor_set();
    let cases: &[(&str, &str, i32, Type)] = &[
        (
            "etcdserverpb.StatusResponse",
            "raftAppliedIndex",
            7,
            Type::Uint64,
        ),
        ("etcdserverpb.StatusResponse", "dbSizeInUse", 9, Type::Int64),
        ("etcdserverpb.StatusResponse", "isLearner", 10, Type::Bool),
        (
            "etcdserverpb.StatusResponse",
            "storageVersion",
            11,
            Type::String,
        ),
        (
            "etcdserverpb.StatusResponse",
            "dbSizeQuota",
            12,
            Type::Int64,
        ),
        (
            "etcdserverpb.StatusResponse",
            "downgradeInfo",
            13,
            Type::Message,
        ),
        ("etcdserverpb.HashKVResponse", "hash", 2, Type::Uint32),
        (
            "etcdserverpb.HashKVResponse",
            "hash_revision",
            4,
            Type::Int64,
        ),
        ("etcdserverpb.SnapshotResponse", "version", 4, Type::String),
        (
            "etcdserverpb.MemberListRequest",
            "linearizable",
            1,
            Type::Bool,
        ),
        (
            "etcdserverpb.AuthUserAddRequest",
            "options",
            3,
            Type::Message,
        ),
        (
            "etcdserverpb.AuthUserAddRequest",
            "hashedPassword",
            4,
            Type::String,
        ),
        (
            "etcdserverpb.AuthUserChangePasswordRequest",
            "hashedPassword",
            3,
            Type::String,
        ),
        (
            "etcdserverpb.AuthStatusResponse",
            "authRevision",
            3,
            Type::Uint64,
        ),
        ("etcdserverpb.Compare", "range_end", 64, Type::Bytes),
        ("etcdserverpb.Compare", "lease", 8, Type::Int64),
        ("etcdserverpb.WatchResponse", "events", 11, Type::Message),
        (
            "etcdserverpb.WatchResponse",
            "cancel_reason",
            6,
            Type::String,
        ),
        ("etcdserverpb.WatchCreateRequest", "filters", 5, Type::Enum),
        (
            "etcdserverpb.RangeStreamResponse",
            "range_response",
            1,
            Type::Message,
        ),
        (
            "etcdserverpb.LeaseTimeToLiveResponse",
            "grantedTTL",
            4,
            Type::Int64,
        ),
        (
            "etcdserverpb.LeaseCheckpoint",
            "remaining_TTL",
            2,
            Type::Int64,
        ),
        ("etcdserverpb.DowngradeRequest", "action", 1, Type::Enum),
        ("etcdserverpb.AlarmRequest", "memberID", 2, Type::Uint64),
        (
            "etcdserverpb.MoveLeaderRequest",
            "targetID",
            1,
            Type::Uint64,
        ),
        ("mvccpb.Event", "prev_kv", 3, Type::Message),
        ("authpb.Permission", "permType", 1, Type::Enum),
        ("authpb.Role", "keyPermission", 2, Type::Message),
        ("authpb.User", "options", 4, Type::Message),
        ("v3electionpb.LeaderKey", "rev", 3, Type::Int64),
        ("v3lockpb.LockResponse", "key", 2, Type::Bytes),
    ];
    for (message, field, number, ty) in cases {
        let fields = fields_of(&fds, message);
        assert!(
            fields.contains(&(field.to_string(), *number, *ty as i32)),
            "{message}.{field} = {number} ({ty:?}) missing; have {fields:?}"
        );
    }
}

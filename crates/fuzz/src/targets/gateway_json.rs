//! `gateway-json`: request bodies as the `/v3` JSON gateway receives them.
//!
//! Each frame's tag picks a route ([`ROUTES`], `tag % ROUTES.len()`); the payload is the
//! body, decoded by the gateway's own functions: [`oxcd_gateway::decode_one`] for unary
//! and server-streaming routes, [`oxcd_gateway::decode_all`] plus
//! [`oxcd_gateway::input_stream`] for the bidi ones (watch, lease keepalive), whose
//! in-process gRPC stream must read back exactly the decoded messages. A decode error
//! must map to InvalidArgument (HTTP 400). A decoded message must survive a JSON
//! round trip. KV, Lease, Watch, Cluster and Maintenance requests are then served by one
//! [`Harness`] per input, as in `grpc-decode`.

use std::fmt::Debug;

use oxcd_gateway::{decode_all, decode_one, input_stream, GatewayError};
use oxcd_proto::etcdserverpb as pb;
use oxcd_proto::{v3electionpb, v3lockpb};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::frames::Frames;
use crate::outcome::Outcomes;
use crate::serve::{Harness, Request};
use crate::targets::{Target, MAX_INPUT};

/// The target.
pub const TARGET: Target = Target {
    name: "gateway-json",
    run,
    max_len: MAX_INPUT,
    dict: DICT,
    heavy: false,
    min_timeout: std::time::Duration::from_secs(10),
    seeds: crate::seeds::gateway::seeds,
};

/// The gateway routes (under `/v3`), by frame tag (`tag % ROUTES.len()`).
pub const ROUTES: [&str; 51] = [
    "/kv/range",
    "/kv/put",
    "/kv/deleterange",
    "/kv/txn",
    "/kv/compaction",
    "/watch",
    "/lease/grant",
    "/lease/revoke",
    "/lease/keepalive",
    "/lease/timetolive",
    "/lease/leases",
    "/kv/lease/revoke",
    "/kv/lease/timetolive",
    "/kv/lease/leases",
    "/cluster/member/add",
    "/cluster/member/remove",
    "/cluster/member/update",
    "/cluster/member/list",
    "/cluster/member/promote",
    "/maintenance/alarm",
    "/maintenance/status",
    "/maintenance/defragment",
    "/maintenance/hash",
    "/maintenance/hashkv",
    "/maintenance/snapshot",
    "/maintenance/transfer-leadership",
    "/maintenance/downgrade",
    "/auth/enable",
    "/auth/disable",
    "/auth/status",
    "/auth/authenticate",
    "/auth/user/add",
    "/auth/user/get",
    "/auth/user/list",
    "/auth/user/delete",
    "/auth/user/changepw",
    "/auth/user/grant",
    "/auth/user/revoke",
    "/auth/role/add",
    "/auth/role/get",
    "/auth/role/list",
    "/auth/role/delete",
    "/auth/role/grant",
    "/auth/role/revoke",
    "/lock/lock",
    "/lock/unlock",
    "/election/campaign",
    "/election/proclaim",
    "/election/leader",
    "/election/observe",
    "/election/resign",
];

/// The frame tag of `route` (a path in [`ROUTES`]).
pub fn tag_of(route: &str) -> u8 {
    ROUTES
        .iter()
        .position(|r| *r == route)
        .unwrap_or_else(|| panic!("unknown route {route}")) as u8
}

/// JSON syntax, etcd's field and enum names, and odd numbers and strings.
const DICT: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"\"",
    b"null",
    b"true",
    b"false",
    b"\"key\"",
    b"\"range_end\"",
    b"\"rangeEnd\"",
    b"\"value\"",
    b"\"lease\"",
    b"\"limit\"",
    b"\"revision\"",
    b"\"sort_order\"",
    b"\"sort_target\"",
    b"\"DESCEND\"",
    b"\"VALUE\"",
    b"\"count_only\"",
    b"\"keys_only\"",
    b"\"prev_kv\"",
    b"\"ignore_value\"",
    b"\"ignore_lease\"",
    b"\"compare\"",
    b"\"success\"",
    b"\"failure\"",
    b"\"request_put\"",
    b"\"request_range\"",
    b"\"request_delete_range\"",
    b"\"request_txn\"",
    b"\"target\"",
    b"\"result\"",
    b"\"EQUAL\"",
    b"\"GREATER\"",
    b"\"NOT_EQUAL\"",
    b"\"MOD\"",
    b"\"CREATE\"",
    b"\"create_revision\"",
    b"\"mod_revision\"",
    b"\"version\"",
    b"\"create_request\"",
    b"\"cancel_request\"",
    b"\"progress_request\"",
    b"\"start_revision\"",
    b"\"filters\"",
    b"\"NOPUT\"",
    b"\"watch_id\"",
    b"\"fragment\"",
    b"\"TTL\"",
    b"\"ID\"",
    b"\"keys\"",
    b"\"peerURLs\"",
    b"\"action\"",
    b"\"alarm\"",
    b"\"memberID\"",
    b"\"NOSPACE\"",
    b"\"ACTIVATE\"",
    b"\"physical\"",
    b"\"AAAA\"",
    b"\"/w==\"",
    b"\"-1\"",
    b"\"9223372036854775807\"",
    b"\"9223372036854775808\"",
    b"-9223372036854775808",
    b"18446744073709551616",
    b"1e308",
    b"0.5",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
];

/// Decodes a unary body and checks the error mapping and the JSON round trip.
fn unary<T>(route: &str, body: &[u8], out: &mut Outcomes) -> Option<T>
where
    T: DeserializeOwned + Serialize + Default + PartialEq + Debug,
{
    let m = decode_one::<T>(body);
    out.add_result(route, &m);
    let m = match m {
        Ok(m) => m,
        Err(e) => {
            bad_request(route, e);
            return None;
        }
    };
    round_trip(route, &m, out);
    Some(m)
}

/// Decodes a bidi body and checks that the in-process stream yields the same messages.
fn streaming<T>(route: &str, body: &[u8], out: &mut Outcomes) -> Vec<T>
where
    T: DeserializeOwned + Serialize + PartialEq + Debug + prost::Message + Default + 'static,
{
    let all = decode_all::<T>(body);
    out.add_result(route, &all);
    let all = match all {
        Ok(all) => all,
        Err(e) => {
            bad_request(route, e);
            return Vec::new();
        }
    };
    let mut stream = match input_stream(&all, None) {
        Ok(s) => s,
        Err(e) => panic!("{route}: decoded messages do not make a stream: {e}"),
    };
    let back = futures::executor::block_on(async {
        let mut back = Vec::new();
        while let Some(m) = stream.message().await? {
            back.push(m);
        }
        Ok::<_, tonic::Status>(back)
    });
    match back {
        Ok(back) => assert_eq!(back, all, "{route}: the service would read other messages"),
        Err(e) => panic!("{route}: the in-process stream failed: {e}"),
    }
    for m in &all {
        round_trip(route, m, out);
    }
    all
}

/// A body the gateway cannot decode is InvalidArgument, HTTP 400.
fn bad_request(route: &str, e: GatewayError) {
    let status = tonic::Status::from(e);
    assert_eq!(
        status.code(),
        tonic::Code::InvalidArgument,
        "{route}: {status:?}"
    );
    let http = oxcd_gateway::http_status_for(status.code());
    assert_eq!(http.as_u16(), 400, "{route}: HTTP status");
}

/// `decode(encode(m)) == m` in proto3 JSON.
fn round_trip<T>(route: &str, m: &T, out: &mut Outcomes)
where
    T: DeserializeOwned + Serialize + Default + PartialEq + Debug,
{
    match serde_json::to_vec(m) {
        Ok(json) => match decode_one::<T>(&json) {
            Ok(again) => assert_eq!(&again, m, "{route}: JSON round trip changed the message"),
            Err(e) => panic!(
                "{route}: its own JSON {} does not decode: {e}",
                String::from_utf8_lossy(&json)
            ),
        },
        Err(_) => out.add("JSON encode refused"),
    }
}

/// Decodes one body; returns what the harness serves.
fn route(tag: u8, body: &[u8], out: &mut Outcomes) -> Vec<Request> {
    let idx = usize::from(tag) % ROUTES.len();
    let r = ROUTES[idx];
    let one = |req: Option<Request>| req.into_iter().collect();
    match idx {
        0 => one(unary::<pb::RangeRequest>(r, body, out).map(Request::Range)),
        1 => one(unary::<pb::PutRequest>(r, body, out).map(Request::Put)),
        2 => one(unary::<pb::DeleteRangeRequest>(r, body, out).map(Request::DeleteRange)),
        3 => one(unary::<pb::TxnRequest>(r, body, out).map(Request::Txn)),
        4 => one(unary::<pb::CompactionRequest>(r, body, out).map(Request::Compaction)),
        5 => streaming::<pb::WatchRequest>(r, body, out)
            .into_iter()
            .map(Request::Watch)
            .collect(),
        6 => one(unary::<pb::LeaseGrantRequest>(r, body, out).map(Request::LeaseGrant)),
        7 | 11 => one(unary::<pb::LeaseRevokeRequest>(r, body, out).map(Request::LeaseRevoke)),
        8 => streaming::<pb::LeaseKeepAliveRequest>(r, body, out)
            .into_iter()
            .map(Request::LeaseKeepAlive)
            .collect(),
        9 | 12 => {
            one(unary::<pb::LeaseTimeToLiveRequest>(r, body, out).map(Request::LeaseTimeToLive))
        }
        10 | 13 => one(unary::<pb::LeaseLeasesRequest>(r, body, out).map(|_| Request::LeaseLeases)),
        14 => one(unary::<pb::MemberAddRequest>(r, body, out).map(Request::MemberAdd)),
        15 => one(unary::<pb::MemberRemoveRequest>(r, body, out).and(None)),
        16 => one(unary::<pb::MemberUpdateRequest>(r, body, out).map(Request::MemberUpdate)),
        17 => one(unary::<pb::MemberListRequest>(r, body, out).and(None)),
        18 => one(unary::<pb::MemberPromoteRequest>(r, body, out).and(None)),
        19 => one(unary::<pb::AlarmRequest>(r, body, out).map(Request::Alarm)),
        20 => one(unary::<pb::StatusRequest>(r, body, out).and(None)),
        21 => one(unary::<pb::DefragmentRequest>(r, body, out).and(None)),
        22 => one(unary::<pb::HashRequest>(r, body, out).map(|_| Request::Hash)),
        23 => one(unary::<pb::HashKvRequest>(r, body, out).map(Request::HashKv)),
        24 => one(unary::<pb::SnapshotRequest>(r, body, out).and(None)),
        25 => one(unary::<pb::MoveLeaderRequest>(r, body, out).and(None)),
        26 => one(unary::<pb::DowngradeRequest>(r, body, out).and(None)),
        27 => one(unary::<pb::AuthEnableRequest>(r, body, out).and(None)),
        28 => one(unary::<pb::AuthDisableRequest>(r, body, out).and(None)),
        29 => one(unary::<pb::AuthStatusRequest>(r, body, out).and(None)),
        30 => one(unary::<pb::AuthenticateRequest>(r, body, out).and(None)),
        31 => one(unary::<pb::AuthUserAddRequest>(r, body, out).and(None)),
        32 => one(unary::<pb::AuthUserGetRequest>(r, body, out).and(None)),
        33 => one(unary::<pb::AuthUserListRequest>(r, body, out).and(None)),
        34 => one(unary::<pb::AuthUserDeleteRequest>(r, body, out).and(None)),
        35 => one(unary::<pb::AuthUserChangePasswordRequest>(r, body, out).and(None)),
        36 => one(unary::<pb::AuthUserGrantRoleRequest>(r, body, out).and(None)),
        37 => one(unary::<pb::AuthUserRevokeRoleRequest>(r, body, out).and(None)),
        38 => one(unary::<pb::AuthRoleAddRequest>(r, body, out).and(None)),
        39 => one(unary::<pb::AuthRoleGetRequest>(r, body, out).and(None)),
        40 => one(unary::<pb::AuthRoleListRequest>(r, body, out).and(None)),
        41 => one(unary::<pb::AuthRoleDeleteRequest>(r, body, out).and(None)),
        42 => one(unary::<pb::AuthRoleGrantPermissionRequest>(r, body, out).and(None)),
        43 => one(unary::<pb::AuthRoleRevokePermissionRequest>(r, body, out).and(None)),
        44 => one(unary::<v3lockpb::LockRequest>(r, body, out).and(None)),
        45 => one(unary::<v3lockpb::UnlockRequest>(r, body, out).and(None)),
        46 => one(unary::<v3electionpb::CampaignRequest>(r, body, out).and(None)),
        47 => one(unary::<v3electionpb::ProclaimRequest>(r, body, out).and(None)),
        48 | 49 => one(unary::<v3electionpb::LeaderRequest>(r, body, out).and(None)),
        _ => one(unary::<v3electionpb::ResignRequest>(r, body, out).and(None)),
    }
}

/// Runs one input (see the module docs).
pub fn run(data: &[u8], out: &mut Outcomes) {
    let mut harness: Option<Harness> = None;
    for (tag, body) in Frames::new(data) {
        for req in route(tag, body, out) {
            harness.get_or_insert_with(Harness::new).serve(req, out);
        }
    }
    if let Some(h) = harness {
        h.finish(out);
    }
}

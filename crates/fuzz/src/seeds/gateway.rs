//! Seeds of `gateway-json`: the sample sessions as JSON bodies on their routes, plus the
//! JSON spellings etcd's gateway accepts (lowerCamel names, numbers as strings or not,
//! enum names or numbers, unknown fields, trailing data, an empty body).

use super::requests::{samples, Sink};
use crate::frames::push_frame;
use crate::targets::gateway_json::tag_of;

/// The route a message type is posted to.
fn route_of(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "RangeRequest" => "/kv/range",
        "PutRequest" => "/kv/put",
        "DeleteRangeRequest" => "/kv/deleterange",
        "TxnRequest" => "/kv/txn",
        "CompactionRequest" => "/kv/compaction",
        "WatchRequest" => "/watch",
        "LeaseGrantRequest" => "/lease/grant",
        "LeaseRevokeRequest" => "/lease/revoke",
        "LeaseKeepAliveRequest" => "/lease/keepalive",
        "LeaseTimeToLiveRequest" => "/lease/timetolive",
        "LeaseLeasesRequest" => "/lease/leases",
        "MemberAddRequest" => "/cluster/member/add",
        "MemberRemoveRequest" => "/cluster/member/remove",
        "MemberUpdateRequest" => "/cluster/member/update",
        "MemberListRequest" => "/cluster/member/list",
        "MemberPromoteRequest" => "/cluster/member/promote",
        "AlarmRequest" => "/maintenance/alarm",
        "StatusRequest" => "/maintenance/status",
        "DefragmentRequest" => "/maintenance/defragment",
        "HashRequest" => "/maintenance/hash",
        "HashKvRequest" => "/maintenance/hashkv",
        "SnapshotRequest" => "/maintenance/snapshot",
        "MoveLeaderRequest" => "/maintenance/transfer-leadership",
        "DowngradeRequest" => "/maintenance/downgrade",
        "LockRequest" => "/lock/lock",
        "UnlockRequest" => "/lock/unlock",
        "CampaignRequest" => "/election/campaign",
        "ProclaimRequest" => "/election/proclaim",
        "LeaderRequest" => "/election/leader",
        "ResignRequest" => "/election/resign",
        _ => return None,
    })
}

#[derive(Default)]
struct Bodies {
    files: Vec<(String, Vec<u8>)>,
}

impl Bodies {
    fn body(&mut self, route: &str, json: &[u8]) {
        if let Some((_, buf)) = self.files.last_mut() {
            push_frame(buf, tag_of(route), json);
        }
    }
}

impl Sink for Bodies {
    fn file(&mut self, name: &str) {
        self.files.push((format!("{name}.bin"), Vec::new()));
    }

    fn msg<M: prost::Message + serde::Serialize>(&mut self, kind: &'static str, m: &M) {
        if let Some(route) = route_of(kind) {
            let json = serde_json::to_vec(m).expect("requests serialize");
            self.body(route, &json);
        }
    }

    fn wire(&mut self, _kind: &'static str, _bytes: Vec<u8>) {}
}

/// The seed files.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut b = Bodies::default();
    samples(&mut b);
    let spellings: [(&str, &str); 14] = [
        (
            "/kv/range",
            r#"{"key":"Zm9v","rangeEnd":"Zm9w","limit":"2","sortOrder":2}"#,
        ),
        (
            "/kv/range",
            r#"{"key":"YQ==","range_end":"AA==","revision":3,"keysOnly":true}"#,
        ),
        (
            "/kv/put",
            r#"{"key":"Zm9v","value":"YmFy","lease":"0","unknown":{"x":[1]}}"#,
        ),
        (
            "/kv/put",
            r#"{"key":"Zm9v","value":"YmFy"} trailing garbage"#,
        ),
        ("/kv/range", ""),
        ("/kv/range", " \n"),
        (
            "/kv/txn",
            r#"{"compare":[{"target":"VALUE","result":"EQUAL","key":"YQ==","value":"Mg=="}],"success":[{"requestPut":{"key":"YQ==","value":"Mw=="}}],"failure":[{"request_range":{"key":"YQ=="}}]}"#,
        ),
        (
            "/kv/deleterange",
            r#"{"key":"AA==","range_end":"AA==","prev_kv":true}"#,
        ),
        ("/lease/grant", r#"{"TTL":"60","ID":"305419896"}"#),
        ("/lease/timetolive", r#"{"ID":305419896,"keys":true}"#),
        (
            "/watch",
            r#"{"create_request":{"key":"Zm9v","range_end":"Zm9w","start_revision":"2","filters":["NODELETE"]}}{"progress_request":{}}"#,
        ),
        (
            "/lease/keepalive",
            r#"{"ID":"305419896"}{"ID":"305419896"}"#,
        ),
        (
            "/maintenance/alarm",
            r#"{"action":"ACTIVATE","memberID":"1","alarm":"NOSPACE"}"#,
        ),
        (
            "/cluster/member/add",
            r#"{"peerURLs":["http://10.0.0.9:2380"],"isLearner":true}"#,
        ),
    ];
    b.file("json-spellings");
    for (route, json) in spellings {
        b.body(route, json.as_bytes());
    }
    b.file("json-every-route-empty");
    for route in crate::targets::gateway_json::ROUTES {
        b.body(route, b"{}");
    }
    b.files
}

//! Differential tests of the HTTP surface: the /v3 gRPC gateway (JSON bodies, base64 bytes,
//! quoted int64s, error bodies and HTTP status codes), /version, /health, plus the etcdctl
//! cluster/maintenance views (member list, endpoint status/hashkv/health), and auth through
//! the gateway (`/v3/auth/authenticate`, then the token in the `Authorization` header).

use oxcd_integration_tests::{b64, diff_run, HttpResponse, Json, ServerOpts, Session};

fn put(s: &mut Session, k: &str, v: &str) {
    s.post(
        "/v3/kv/put",
        &format!(r#"{{"key":"{}","value":"{}"}}"#, b64(k), b64(v)),
    );
}

fn seed(s: &mut Session) {
    for (k, v) in [
        ("g/a", "3"),
        ("g/b", "1"),
        ("g/c", "2"),
        ("g/a", "4"),
        ("h", "0"),
    ] {
        put(s, k, v);
    }
}

#[test]
fn gateway_put_and_range() {
    diff_run("gateway_put_and_range", ServerOpts::default(), |s| {
        seed(s);
        s.post(
            "/v3/kv/put",
            &format!(
                r#"{{"key":"{}","value":"{}","prev_kv":true}}"#,
                b64("h"),
                b64("1")
            ),
        );
        s.post("/v3/kv/range", &format!(r#"{{"key":"{}"}}"#, b64("g/a")));
        s.post("/v3/kv/range", &format!(r#"{{"key":"{}"}}"#, b64("nope")));
        let (k, end) = (b64("g/"), b64("g0"));
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{k}","range_end":"{end}"}}"#),
        );
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{k}","range_end":"{end}","limit":"2"}}"#),
        );
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{k}","range_end":"{end}","limit":2}}"#),
        );
        for target in ["KEY", "VERSION", "CREATE", "MOD", "VALUE"] {
            for order in ["ASCEND", "DESCEND"] {
                s.post(
                    "/v3/kv/range",
                    &format!(
                        r#"{{"key":"{k}","range_end":"{end}","sort_order":"{order}","sort_target":"{target}"}}"#
                    ),
                );
            }
        }
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{k}","range_end":"{end}","sort_target":"VALUE"}}"#),
        );
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{k}","range_end":"{end}","keys_only":true}}"#),
        );
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{k}","range_end":"{end}","count_only":true}}"#),
        );
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{k}","range_end":"{end}","revision":"3"}}"#),
        );
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{k}","range_end":"{end}","serializable":true}}"#),
        );
        // camelCase input names are accepted too.
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{k}","rangeEnd":"{end}","keysOnly":true}}"#),
        );
        // Every key: key = range_end = "\0".
        s.post(
            "/v3/kv/range",
            r#"{"key":"AA==","range_end":"AA==","count_only":true}"#,
        );
    });
}

#[test]
fn gateway_deleterange() {
    diff_run("gateway_deleterange", ServerOpts::default(), |s| {
        seed(s);
        s.post(
            "/v3/kv/deleterange",
            &format!(r#"{{"key":"{}"}}"#, b64("missing")),
        );
        s.post(
            "/v3/kv/deleterange",
            &format!(r#"{{"key":"{}","prev_kv":true}}"#, b64("h")),
        );
        s.post(
            "/v3/kv/deleterange",
            &format!(
                r#"{{"key":"{}","range_end":"{}","prev_kv":true}}"#,
                b64("g/a"),
                b64("g/c")
            ),
        );
        s.post("/v3/kv/range", r#"{"key":"AA==","range_end":"AA=="}"#);
    });
}

#[test]
fn gateway_txn() {
    diff_run("gateway_txn", ServerOpts::default(), |s| {
        seed(s);
        let (a, one, two) = (b64("g/a"), b64("4"), b64("x"));
        s.post(
            "/v3/kv/txn",
            &format!(
                r#"{{"compare":[{{"key":"{a}","result":"EQUAL","target":"VALUE","value":"{one}"}}],
                "success":[{{"request_put":{{"key":"{a}","value":"{two}","prev_kv":true}}}},{{"request_range":{{"key":"{a}"}}}}],
                "failure":[{{"request_range":{{"key":"{a}"}}}}]}}"#
            ),
        );
        // Now the compare fails.
        s.post(
            "/v3/kv/txn",
            &format!(
                r#"{{"compare":[{{"key":"{a}","result":"EQUAL","target":"VALUE","value":"{one}"}}],
                "success":[{{"request_put":{{"key":"{a}","value":"{two}"}}}}],
                "failure":[{{"request_range":{{"key":"{a}"}}}},{{"request_delete_range":{{"key":"{}","prev_kv":true}}}}]}}"#,
                b64("h")
            ),
        );
        for (target, field, value, result) in [
            ("MOD", "mod_revision", "\"6\"", "EQUAL"),
            ("MOD", "mod_revision", "\"6\"", "LESS"),
            ("CREATE", "create_revision", "\"2\"", "EQUAL"),
            ("VERSION", "version", "\"3\"", "GREATER"),
            ("VERSION", "version", "\"3\"", "NOT_EQUAL"),
            ("LEASE", "lease", "\"0\"", "EQUAL"),
        ] {
            s.post(
                "/v3/kv/txn",
                &format!(
                    r#"{{"compare":[{{"key":"{a}","result":"{result}","target":"{target}","{field}":{value}}}],"success":[{{"request_range":{{"key":"{a}","keys_only":true}}}}]}}"#
                ),
            );
        }
        // kube-apiserver style optimistic put with get-on-failure.
        s.post(
            "/v3/kv/txn",
            &format!(
                r#"{{"compare":[{{"key":"{a}","target":"MOD","mod_revision":"1"}}],"success":[{{"request_put":{{"key":"{a}","value":"{one}"}}}}],"failure":[{{"request_range":{{"key":"{a}"}}}}]}}"#
            ),
        );
        // Errors through the gateway.
        s.post(
            "/v3/kv/txn",
            &format!(
                r#"{{"success":[{{"request_put":{{"key":"{a}","value":"{one}"}}}},{{"request_put":{{"key":"{a}","value":"{two}"}}}}]}}"#
            ),
        );
        s.post(
            "/v3/kv/txn",
            r#"{"success":[{"request_put":{"key":"","value":"eA=="}}]}"#,
        );
        s.post("/v3/kv/txn", "{}");
    });
}

#[test]
fn gateway_compaction() {
    diff_run("gateway_compaction", ServerOpts::default(), |s| {
        seed(s);
        s.post("/v3/kv/compaction", r#"{"revision":"3"}"#);
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{}","revision":"2"}}"#, b64("g/a")),
        );
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{}","revision":"3"}}"#, b64("g/a")),
        );
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{}","revision":"99"}}"#, b64("g/a")),
        );
        s.post("/v3/kv/compaction", r#"{"revision":"3"}"#);
        s.post("/v3/kv/compaction", r#"{"revision":"99"}"#);
        s.post("/v3/kv/compaction", r#"{"revision":"5","physical":true}"#);
        s.post(
            "/v3/kv/txn",
            &format!(
                r#"{{"success":[{{"request_range":{{"key":"{}","revision":"2"}}}}]}}"#,
                b64("g/a")
            ),
        );
    });
}

#[test]
fn gateway_status_and_member_list() {
    diff_run(
        "gateway_status_and_member_list",
        ServerOpts::default(),
        |s| {
            put(s, "k", "v");
            s.post("/v3/maintenance/status", "{}");
            s.post("/v3/cluster/member/list", "{}");
            s.post("/v3/maintenance/alarm", r#"{"action":"GET"}"#);
            // `/v3/maintenance/hashkv` is a 3.5 route (3.4 mapped HashKV onto
            // `/v3/maintenance/hash` by mistake); oxcd serves the 3.5 routes, so the two
            // servers differ here by design and the route is not compared.
        },
    );
}

#[test]
fn gateway_error_statuses() {
    diff_run("gateway_error_statuses", ServerOpts::default(), |s| {
        s.post("/v3/kv/put", r#"{"key":"","value":"eA=="}"#);
        s.post("/v3/kv/put", r#"{"value":"eA=="}"#);
        s.post("/v3/kv/range", r#"{"key":""}"#);
        s.post("/v3/kv/deleterange", r#"{}"#);
        s.post(
            "/v3/kv/range",
            &format!(r#"{{"key":"{}","revision":"5"}}"#, b64("k")),
        );
        s.post(
            "/v3/kv/put",
            &format!(r#"{{"key":"{}","value":"eA==","lease":"77"}}"#, b64("k")),
        );
        s.post(
            "/v3/kv/put",
            &format!(r#"{{"key":"{}","ignore_value":true}}"#, b64("k")),
        );
        s.post("/v3/lease/revoke", r#"{"ID":"77"}"#);
        s.get("/v3/kv/range");
        s.get("/v3/kv/put");
        s.post("/v3/nope", "{}");
        s.post("/v3/kv/nope", "{}");
        s.get("/nope");
        s.post("/v3alpha/kv/range", r#"{"key":"aw=="}"#);
        // Malformed JSON: compare status and gRPC code only (the text is Go's decoder message).
        for body in ["{bad json", "[]", r#"{"key":123}"#] {
            let r = s.raw_post("/v3/kv/range", body);
            let code = Json::parse(&r.body)
                .ok()
                .and_then(|j| j.get("code").and_then(Json::scalar).map(String::from));
            s.note(&format!(
                "malformed {body:?}: HTTP {} code {code:?}",
                r.status
            ));
        }
    });
}

/// Bytes fields decode as Go's encoding/json decodes them (padded standard base64, newlines
/// skipped, Go's error text); defragment and a transfer to the leader itself answer with
/// no header, as etcd 3.4 does.
#[test]
fn gateway_base64_and_headerless_maintenance() {
    diff_run(
        "gateway_base64_and_headerless_maintenance",
        ServerOpts::default(),
        |s| {
            for key in [
                "YQ", "YQ=", "Y===", "YQ==YQ==", "a b", "=", "YWJj$", "ab-_", "YWJjZA", "YQ==\\n",
                "YR==",
            ] {
                s.post(
                    "/v3/kv/put",
                    &format!(r#"{{"key":"{key}","value":"dg=="}}"#),
                );
            }
            s.post("/v3/kv/range", r#"{"key":"YQ=="}"#);
            s.post("/v3/maintenance/defragment", "{}");
            let me = s.server().member_id().expect("the server's member id");
            s.post(
                "/v3/maintenance/transfer-leadership",
                &format!(r#"{{"targetID":"{me}"}}"#),
            );
            s.post(
                "/v3/maintenance/transfer-leadership",
                r#"{"targetID":"12345"}"#,
            );
            s.ctl(&["move-leader", &format!("{me:x}")]);
            s.ctl(&["defrag"]);
        },
    );
}

#[test]
fn gateway_v3beta_alias() {
    diff_run("gateway_v3beta_alias", ServerOpts::default(), |s| {
        s.post(
            "/v3beta/kv/put",
            &format!(r#"{{"key":"{}","value":"{}"}}"#, b64("b"), b64("1")),
        );
        s.post("/v3beta/kv/range", &format!(r#"{{"key":"{}"}}"#, b64("b")));
    });
}

#[test]
fn version_and_health() {
    diff_run("version_and_health", ServerOpts::default(), |s| {
        s.get("/version");
        s.get("/health");
        s.post("/health", "");
        s.get("/health?exclude=NOSPACE");
    });
}

#[test]
fn etcdctl_member_list_and_endpoint_views() {
    diff_run(
        "etcdctl_member_list_and_endpoint_views",
        ServerOpts::default(),
        |s| {
            s.ctl(&["put", "k", "v"]);
            s.ctl(&["member", "list"]);
            s.ctl(&["member", "list", "-w", "json"]);
            s.ctl(&["endpoint", "status", "-w", "json"]);
            s.ctl(&["endpoint", "status", "-w", "fields"]);
            s.ctl(&["endpoint", "hashkv", "-w", "json"]);
            s.ctl(&["endpoint", "health"]);
            s.ctl(&["endpoint", "health", "-w", "json"]);
            s.ctl(&["alarm", "list"]);
        },
    );
}

/// The `token` of an `/v3/auth/authenticate` reply ("" if there is none).
fn token_of(resp: &HttpResponse) -> String {
    Json::parse(&resp.body)
        .ok()
        .and_then(|j| j.get("token").and_then(Json::scalar).map(String::from))
        .unwrap_or_default()
}

/// Auth through the gateway. Tokens are random by nature: the normaliser shows each as
/// `<SIMPLE_TOKEN#n>` (checking its shape, 16 letters '.' raft index) in the authenticate
/// reply and in every later `Authorization` header that carries it.
#[test]
fn gateway_auth() {
    diff_run("gateway_auth", ServerOpts::default(), |s| {
        s.ctl(&["put", "a/1", "v1"]);
        s.ctl(&["put", "other", "v"]);
        s.ctl(&["user", "add", "root", "--new-user-password=rootpw"]);
        s.ctl(&["user", "grant-role", "root", "root"]);
        s.ctl(&["user", "add", "alice", "--new-user-password=pw"]);
        s.ctl(&["role", "add", "ra"]);
        s.ctl(&[
            "role",
            "grant-permission",
            "ra",
            "readwrite",
            "a/",
            "--prefix",
        ]);
        s.ctl(&["user", "grant-role", "alice", "ra"]);
        s.ctl(&["auth", "enable"]);

        let r = s.post(
            "/v3/auth/authenticate",
            r#"{"name":"alice","password":"pw"}"#,
        );
        let alice = token_of(&r);
        let r = s.post(
            "/v3/auth/authenticate",
            r#"{"name":"root","password":"rootpw"}"#,
        );
        let root = token_of(&r);
        // "etcdserver: authentication failed, invalid user ID or password" (400, code 3).
        s.post(
            "/v3/auth/authenticate",
            r#"{"name":"alice","password":"bad"}"#,
        );
        s.post(
            "/v3/auth/authenticate",
            r#"{"name":"nobody","password":"pw"}"#,
        );

        let (a1, a2, other, v) = (b64("a/1"), b64("a/2"), b64("other"), b64("x"));
        let (a, a_end) = (b64("a/"), b64("a0"));
        let requests = [
            ("/v3/kv/put", format!(r#"{{"key":"{a2}","value":"{v}"}}"#)),
            (
                "/v3/kv/put",
                format!(r#"{{"key":"{other}","value":"{v}"}}"#),
            ),
            ("/v3/kv/range", format!(r#"{{"key":"{a1}"}}"#)),
            (
                "/v3/kv/range",
                format!(r#"{{"key":"{a}","range_end":"{a_end}"}}"#),
            ),
            ("/v3/kv/range", format!(r#"{{"key":"{other}"}}"#)),
            ("/v3/auth/user/list", "{}".to_string()),
        ];
        for (who, headers) in [
            ("alice", vec![("Authorization", alice.as_str())]),
            ("no header", vec![]),
            ("a garbage token", vec![("Authorization", "garbage")]),
            ("root", vec![("Authorization", root.as_str())]),
        ] {
            s.note(&format!("--- as {who}"));
            for (path, body) in &requests {
                s.post_with_headers(path, body, &headers);
            }
        }
        // Other spellings. etcd 3.4's grpc-gateway forwards `Authorization` (any case) as the
        // gRPC metadata `authorization` and `Grpc-Metadata-<Name>` as `<name>`, and the server
        // reads the metadata `token` and `authorization`: the first two carry the token; a
        // "Bearer " prefix is "invalid auth token" (401); a plain `token` header is not
        // forwarded at all, so etcd answers "user name is empty" (400).
        let bearer = format!("Bearer {alice}");
        for header in [
            ("authorization", alice.as_str()),
            ("Grpc-Metadata-Token", alice.as_str()),
            ("Authorization", bearer.as_str()),
            ("token", alice.as_str()),
        ] {
            s.post_with_headers("/v3/kv/range", &requests[2].1, &[header]);
        }
    });
}

//! Normalisation of etcdctl and gateway output so two servers can be diffed.
//!
//! REPLACED (per-server noise): cluster and member IDs (decimal and hex), raft terms and
//! indexes, lease IDs (numbered `<LEASE#n>` in order of first appearance, so two servers that
//! grant leases in the same order agree), auth tokens in a `token` field (random by nature:
//! numbered `<SIMPLE_TOKEN#n>` or `<JWT#n>` by their SHAPE, which is thereby checked, and
//! replaced wherever they appear later, e.g. in a request header; a value of neither shape is
//! kept), client and peer ports, db sizes, whole-database hashes (`Maintenance.Hash` hashes
//! the storage file, bbolt's or RocksDB's), durations,
//! timestamps, etcdctl's client target names. IDs and versions are CHECKED while replaced: a
//! member or cluster ID becomes `<MEMBER_ID>` / `<CLUSTER_ID>` only if it is the server's own
//! (another member's is `<OTHER_MEMBER>`, a foreign cluster's `<OTHER_CLUSTER>`), and a
//! version string becomes `<VERSION>` only if it is the server's own `/version` and
//! `<CLUSTER_VERSION>` only if it is that version's `major.minor.0`; any other value stays as
//! it is, so a header with a wrong ID or a wrong version shows in the diff.
//!
//! DROPPED (unless `OXCD_DIFF_STRICT=1`): fields that etcd 3.5/3.6 added and 3.4.23 never
//! emits, which oxcd implements on purpose (see [`NEWER_FIELDS`]). Only their presence is
//! forgiven; every 3.4 field must still match.
//!
//! KEPT EXACTLY: revisions, keys, values, versions of keys, counts, `more`, HashKV hashes (an
//! object with `compact_revision` is a HashKV answer: its hash covers the MVCC keys and
//! values only and must equal etcd's for the same history), error texts and codes, HTTP status codes, JSON key order and quoting (a number stays unquoted, a quoted
//! int64 stays quoted, also after replacement).

use crate::http::HttpResponse;
use crate::json::Json;
use crate::process::Server;

/// JSON members added after 3.4 (StatusResponse.storageVersion/dbSizeQuota/downgradeInfo
/// [3.6], HashKVResponse.hash_revision [3.6], `/version` "storage" [3.6]); removed before
/// diffing unless `OXCD_DIFF_STRICT=1`.
pub const NEWER_FIELDS: &[&str] = &[
    "storageVersion",
    "dbSizeQuota",
    "downgradeInfo",
    "hash_revision",
    "storage",
];

fn strict() -> bool {
    std::env::var("OXCD_DIFF_STRICT")
        .map(|v| v == "1")
        .unwrap_or(false)
}

/// Per-server normalisation state.
#[derive(Debug, Clone, Default)]
pub struct Normalizer {
    client_port: u16,
    peer_port: u16,
    member_id: Option<u64>,
    cluster_id: Option<u64>,
    version: Option<String>,
    leases: Vec<u64>,
    tokens: Vec<String>,
    members: Vec<u64>,
}

/// What to put in place of a field's value.
enum Rule {
    Keep,
    Fixed(&'static str),
    Member,
    Cluster,
    LeaseOrMember,
    Lease,
    Token,
    Version,
    ClusterVersion,
}

fn rule_for(key: &str) -> Rule {
    match key {
        "cluster_id" | "ClusterID" => Rule::Cluster,
        "member_id" | "MemberID" | "leader" | "Leader" => Rule::Member,
        "ID" => Rule::LeaseOrMember,
        "lease" | "Lease" => Rule::Lease,
        "token" => Rule::Token,
        "raft_term" | "raftTerm" | "RaftTerm" => Rule::Fixed("TERM"),
        "raftIndex" | "raftAppliedIndex" | "RaftIndex" | "RaftAppliedIndex" => Rule::Fixed("INDEX"),
        "dbSize" | "dbSizeInUse" | "dbSizeQuota" | "DBSize" | "DBSizeInUse" => Rule::Fixed("SIZE"),
        "hash" | "Hash" => Rule::Fixed("HASH"),
        "took" | "Took" => Rule::Fixed("DURATION"),
        "ts" => Rule::Fixed("TS"),
        "target" => Rule::Fixed("TARGET"),
        "etcdcluster" => Rule::ClusterVersion,
        "version" | "Version" | "etcdserver" | "storage" | "storageVersion" => Rule::Version,
        _ => Rule::Keep,
    }
}

/// The cluster version a server of version `v` reports: `major.minor.0`.
fn cluster_version(v: &str) -> String {
    let mut parts = v.split('.');
    match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}.0"),
        _ => v.to_string(),
    }
}

/// The shape of an auth token: `SIMPLE_TOKEN` for etcd's simple token (16 ASCII letters, a
/// dot, the raft index in decimal), `JWT` for a compact JWS (three non-empty base64url
/// segments, the header starting `eyJ`, i.e. `{"`); `None` for anything else.
fn token_shape(token: &str) -> Option<&'static str> {
    let parts: Vec<&str> = token.split('.').collect();
    let base64url = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match parts.as_slice() {
        [random, index]
            if random.len() == 16
                && random.bytes().all(|b| b.is_ascii_alphabetic())
                && !index.is_empty()
                && index.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some("SIMPLE_TOKEN")
        }
        [header, claims, signature]
            if header.starts_with("eyJ")
                && [header, claims, signature].iter().all(|p| base64url(p)) =>
        {
            Some("JWT")
        }
        _ => None,
    }
}

/// Replaces a scalar with a placeholder of the same JSON type (number stays unquoted).
fn set(value: &mut Json, placeholder: String) {
    *value = match value {
        Json::Num(_) => Json::Num(placeholder),
        _ => Json::Str(placeholder),
    };
}

impl Normalizer {
    /// A normaliser for one server (ports, IDs and version taken from it).
    pub fn for_server(server: &Server) -> Self {
        Normalizer {
            client_port: server.client_port(),
            peer_port: server.peer_port(),
            member_id: server.member_id(),
            cluster_id: server.cluster_id(),
            version: server.version().map(String::from),
            leases: Vec::new(),
            tokens: Vec::new(),
            members: Vec::new(),
        }
    }

    /// A normaliser from explicit facts (for unit tests and custom setups).
    pub fn new(
        client_port: u16,
        peer_port: u16,
        member_id: Option<u64>,
        cluster_id: Option<u64>,
    ) -> Self {
        Normalizer {
            client_port,
            peer_port,
            member_id,
            cluster_id,
            ..Normalizer::default()
        }
    }

    /// The same, knowing the server's `/version` (`etcdserver`).
    pub fn with_version(mut self, version: &str) -> Self {
        self.version = Some(version.to_string());
        self
    }

    /// The placeholder of an auth token (`<SIMPLE_TOKEN#n>` / `<JWT#n>`, numbered in order of
    /// first sight), registering it; `None` if it has neither shape (then it is kept).
    pub fn token_alias(&mut self, token: &str) -> Option<String> {
        let shape = token_shape(token)?;
        let n = match self.tokens.iter().position(|t| t == token) {
            Some(i) => i + 1,
            None => {
                self.tokens.push(token.to_string());
                self.tokens.len()
            }
        };
        Some(format!("<{shape}#{n}>"))
    }

    /// The placeholder of a member ID the server made up for a member a script added
    /// (`<NEW_MEMBER#n>`), registering it; only registered IDs are replaced.
    pub fn member_alias(&mut self, id: u64) -> String {
        let n = match self.members.iter().position(|m| *m == id) {
            Some(i) => i + 1,
            None => {
                self.members.push(id);
                self.members.len()
            }
        };
        format!("<NEW_MEMBER#{n}>")
    }

    /// The placeholder of a lease ID, registering it on first sight.
    pub fn lease_alias(&mut self, id: u64) -> String {
        let n = match self.leases.iter().position(|l| *l == id) {
            Some(i) => i + 1,
            None => {
                self.leases.push(id);
                self.leases.len()
            }
        };
        format!("<LEASE#{n}>")
    }

    fn replace_scalar(&mut self, key: &str, value: &mut Json) {
        let Some(raw) = value.scalar().map(str::to_owned) else {
            return;
        };
        let num = raw
            .parse::<u64>()
            .ok()
            .or_else(|| raw.parse::<i64>().ok().map(|v| v as u64));
        let name: String = match rule_for(key) {
            Rule::Keep => return,
            Rule::Fixed(n) => {
                if num == Some(0) && !matches!(n, "TERM" | "INDEX" | "SIZE" | "HASH") {
                    return;
                }
                n.to_string()
            }
            Rule::Member | Rule::LeaseOrMember
                if num.is_some_and(|v| self.members.contains(&v)) =>
            {
                let alias = self.member_alias(num.unwrap_or_default());
                return set(value, alias);
            }
            Rule::Member => match num {
                Some(0) | None => return,
                Some(v) if Some(v) == self.member_id => "MEMBER_ID".into(),
                Some(_) => "OTHER_MEMBER".into(),
            },
            Rule::Cluster => match num {
                Some(0) | None => return,
                Some(v) if Some(v) == self.cluster_id => "CLUSTER_ID".into(),
                Some(_) => "OTHER_CLUSTER".into(),
            },
            Rule::LeaseOrMember => match num {
                Some(0) | None => return,
                Some(v) if Some(v) == self.member_id => "MEMBER_ID".into(),
                Some(v) => {
                    let alias = self.lease_alias(v);
                    return set(value, alias);
                }
            },
            Rule::Lease => match num {
                Some(0) | None => return,
                Some(v) => {
                    let alias = self.lease_alias(v);
                    return set(value, alias);
                }
            },
            Rule::Token => match self.token_alias(&raw) {
                Some(alias) => return set(value, alias),
                None => return,
            },
            Rule::Version => match self.version.as_deref() {
                Some(own) if raw == own => "VERSION".into(),
                _ => return,
            },
            Rule::ClusterVersion => match self.version.as_deref() {
                Some(own) if raw == cluster_version(own) => "CLUSTER_VERSION".into(),
                _ => return,
            },
        };
        set(value, format!("<{name}>"));
    }

    /// Normalises a JSON value in place (field rules only; text substitutions come later).
    pub fn json(&mut self, value: &mut Json) {
        match value {
            Json::Obj(members) => {
                if !strict() {
                    members.retain(|(k, _)| !NEWER_FIELDS.contains(&k.as_str()));
                }
                let hash_kv = members.iter().any(|(k, _)| k == "compact_revision");
                for (k, v) in members.iter_mut() {
                    match v {
                        Json::Obj(_) | Json::Arr(_) => self.json(v),
                        _ if hash_kv && k == "hash" => {}
                        _ => self.replace_scalar(k, v),
                    }
                }
            }
            Json::Arr(items) => items.iter_mut().for_each(|v| self.json(v)),
            _ => {}
        }
    }

    /// Normalises arbitrary command output: JSON lines, `-w fields` lines and plain text.
    pub fn text(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&self.line(line));
        }
        self.substitute(&out)
    }

    fn line(&mut self, line: &str) -> String {
        let t = line.trim();
        if t.starts_with('{') || t.starts_with('[') {
            if let Ok(mut j) = Json::parse(t) {
                self.json(&mut j);
                return j.to_text();
            }
        }
        // etcdctl -w fields: `"Key" : value`
        if let Some(rest) = line.strip_prefix('"') {
            if let Some((key, value)) = rest.split_once("\" : ") {
                let mut v = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                    Some(s) => Json::Str(s.to_string()),
                    None => Json::Num(value.to_string()),
                };
                self.replace_scalar(key, &mut v);
                return format!("\"{key}\" : {}", v.to_text());
            }
        }
        let mut l = line.to_string();
        if let Some(pos) = l.find("took = ") {
            let start = pos + "took = ".len();
            let end = l[start..]
                .find([',', ' '])
                .map(|e| start + e)
                .unwrap_or(l.len());
            l.replace_range(start..end, "<DURATION>");
        }
        // "lease 694d7d0ab1ec2a0b granted ..." / "... revoked" / "... keepalived ..."
        if let Some(rest) = l.strip_prefix("lease ") {
            let tok: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            if !tok.is_empty() && rest[tok.len()..].starts_with(' ') {
                if let Ok(id) = u64::from_str_radix(&tok, 16) {
                    let alias = self.lease_alias(id);
                    l = format!("lease {alias}{}", &rest[tok.len()..]);
                }
            }
        }
        l
    }

    fn substitute(&self, text: &str) -> String {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(m) = self.member_id {
            pairs.push((m.to_string(), "<MEMBER_ID>".into()));
            pairs.push((format!("{m:x}"), "<MEMBER_ID>".into()));
            pairs.push((format!("{m:016x}"), "<MEMBER_ID>".into()));
        }
        if let Some(c) = self.cluster_id {
            pairs.push((c.to_string(), "<CLUSTER_ID>".into()));
            pairs.push((format!("{c:x}"), "<CLUSTER_ID>".into()));
            pairs.push((format!("{c:016x}"), "<CLUSTER_ID>".into()));
            // etcdctl's "Member ... added to cluster %16x" pads a 15-digit ID with a space;
            // matched with the separator before it, so that a 15-digit ID printed with
            // `%x` after one space keeps that space.
            pairs.push((format!(" {c:16x}"), " <CLUSTER_ID>".into()));
        }
        for (i, l) in self.leases.iter().enumerate() {
            pairs.push((l.to_string(), format!("<LEASE#{}>", i + 1)));
            pairs.push((format!("{l:x}"), format!("<LEASE#{}>", i + 1)));
            // etcdctl prints lease IDs as %016x.
            pairs.push((format!("{l:016x}"), format!("<LEASE#{}>", i + 1)));
        }
        for (i, m) in self.members.iter().enumerate() {
            let alias = format!("<NEW_MEMBER#{}>", i + 1);
            pairs.push((m.to_string(), alias.clone()));
            pairs.push((format!("{m:x}"), alias.clone()));
            pairs.push((format!("{m:016x}"), alias.clone()));
            // etcdctl's `%16x` pads with spaces (matched with the separator before it).
            pairs.push((format!(" {m:16x}"), format!(" {alias}")));
        }
        for (i, t) in self.tokens.iter().enumerate() {
            if let Some(shape) = token_shape(t) {
                pairs.push((t.clone(), format!("<{shape}#{}>", i + 1)));
            }
        }
        if let Some(v) = &self.version {
            if v.contains('.') {
                pairs.push((v.clone(), "<VERSION>".into()));
            }
        }
        for host in ["127.0.0.1", "localhost"] {
            if self.client_port != 0 {
                pairs.push((
                    format!("{host}:{}", self.client_port),
                    format!("{host}:<CLIENT_PORT>"),
                ));
            }
            if self.peer_port != 0 {
                pairs.push((
                    format!("{host}:{}", self.peer_port),
                    format!("{host}:<PEER_PORT>"),
                ));
            }
        }
        // Short needles (e.g. a small hex lease) must not be applied before the long ones.
        pairs.retain(|(from, _)| from.len() >= 4);
        pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        let mut s = text.to_string();
        for (from, to) in pairs {
            if s.contains(&from) {
                s = s.replace(&from, &to);
            }
        }
        s
    }

    /// Normalises an HTTP response to `HTTP <status> <content-type>\n<body>`.
    pub fn http(&mut self, resp: &HttpResponse) -> String {
        let ctype = resp.header("content-type").unwrap_or("-");
        let body = self.text(resp.body.trim_end_matches('\n'));
        format!("HTTP {} {}\n{}", resp.status, ctype, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm() -> Normalizer {
        Normalizer::new(
            23790,
            23800,
            Some(3319814642761637952),
            Some(324952591200643719),
        )
        .with_version("3.4.23")
    }

    #[test]
    fn foreign_ids_and_wrong_versions_show() {
        let mut n = norm();
        let out = n.text(r#"{"header":{"cluster_id":1,"member_id":2},"leader":3319814642761637952,"version":"3.4.22","etcdcluster":"3.4.0"}"#);
        assert_eq!(
            out,
            r#"{"header":{"cluster_id":<OTHER_CLUSTER>,"member_id":<OTHER_MEMBER>},"leader":<MEMBER_ID>,"version":"3.4.22","etcdcluster":"<CLUSTER_VERSION>"}"#
        );
    }

    #[test]
    fn etcdctl_json_keeps_revisions_and_replaces_ids() {
        let mut n = norm();
        let out = n.text(r#"{"header":{"cluster_id":324952591200643719,"member_id":3319814642761637952,"revision":3,"raft_term":2},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":3,"version":2,"value":"YmF6","lease":7587868}],"count":1}"#);
        assert_eq!(
            out,
            r#"{"header":{"cluster_id":<CLUSTER_ID>,"member_id":<MEMBER_ID>,"revision":3,"raft_term":<TERM>},"kvs":[{"key":"Zm9v","create_revision":2,"mod_revision":3,"version":2,"value":"YmF6","lease":<LEASE#1>}],"count":1}"#
        );
    }

    #[test]
    fn a_hashkv_hash_is_compared_a_database_hash_is_not() {
        let mut n = norm();
        let out = n.text(r#"[{"Endpoint":"127.0.0.1:23790","HashKV":{"header":{"revision":5},"hash":2233977153,"compact_revision":3}}]"#);
        assert_eq!(
            out,
            r#"[{"Endpoint":"127.0.0.1:<CLIENT_PORT>","HashKV":{"header":{"revision":5},"hash":2233977153,"compact_revision":3}}]"#
        );
        let out = n.text(r#"{"header":{"revision":"5"},"hash":"1084519789"}"#);
        assert_eq!(out, r#"{"header":{"revision":"5"},"hash":"<HASH>"}"#);
    }

    #[test]
    fn gateway_json_keeps_quoting() {
        let mut n = norm();
        let out = n.text(r#"{"header":{"cluster_id":"324952591200643719","member_id":"3319814642761637952","revision":"2","raft_term":"2"},"version":"3.4.23","dbSize":"20480","leader":"3319814642761637952"}"#);
        assert_eq!(
            out,
            r#"{"header":{"cluster_id":"<CLUSTER_ID>","member_id":"<MEMBER_ID>","revision":"2","raft_term":"<TERM>"},"version":"<VERSION>","dbSize":"<SIZE>","leader":"<MEMBER_ID>"}"#
        );
    }

    #[test]
    fn text_forms() {
        let mut n = norm();
        let out = n.text("2e1259d415f2a040, started, default, http://127.0.0.1:23800, http://127.0.0.1:23790, false\nhttp://127.0.0.1:23790 is healthy: successfully committed proposal: took = 1.350365ms\n\"RaftTerm\" : 2\n\"Revision\" : 3\nlease 2040a1ff55db0d0c granted with TTL(100s)\nkey 2040a1ff55db0d0c");
        assert_eq!(
            out,
            "<MEMBER_ID>, started, default, http://127.0.0.1:<PEER_PORT>, http://127.0.0.1:<CLIENT_PORT>, false\nhttp://127.0.0.1:<CLIENT_PORT> is healthy: successfully committed proposal: took = <DURATION>\n\"RaftTerm\" : <TERM>\n\"Revision\" : 3\nlease <LEASE#1> granted with TTL(100s)\nkey <LEASE#1>"
        );
    }

    #[test]
    fn zero_padded_hex_lease_is_one_alias() {
        let mut n = norm();
        let alias = n.lease_alias(0x000a_1ff5_5db0_d0c1);
        assert_eq!(
            n.text("put --lease=000a1ff55db0d0c1"),
            format!("put --lease={alias}")
        );
        assert_eq!(
            n.text("lease 000a1ff55db0d0c1 revoked"),
            format!("lease {alias} revoked")
        );
    }

    #[test]
    fn newer_fields_are_dropped() {
        let mut n = norm();
        let out = n.text(r#"{"etcdserver":"3.4.23","etcdcluster":"3.4.0","storage":"3.6.0"}"#);
        assert_eq!(
            out,
            r#"{"etcdserver":"<VERSION>","etcdcluster":"<CLUSTER_VERSION>"}"#
        );
    }

    #[test]
    fn tokens_are_aliased_by_shape_and_replaced_later() {
        let mut n = norm();
        let out = n.text(r#"{"header":{"revision":"1"},"token":"XsFqnAleNIWPvjsF.12"}"#);
        assert_eq!(
            out,
            r#"{"header":{"revision":"1"},"token":"<SIMPLE_TOKEN#1>"}"#
        );
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJ1c2VybmFtZSI6ImEifQ.c2ln-_x";
        assert_eq!(
            n.text(&format!(r#"{{"token":"{jwt}"}}"#)),
            r#"{"token":"<JWT#2>"}"#
        );
        assert_eq!(
            n.text("Authorization: XsFqnAleNIWPvjsF.12"),
            "Authorization: <SIMPLE_TOKEN#1>"
        );
        // Neither shape: kept, so a wrong token shows in the diff.
        for bad in [
            "garbage",
            "XsFqnAleNIWPvjsF.",
            "XsFqnAleNIWPvjs1.12",
            "a.b.c",
        ] {
            let line = format!(r#"{{"token":"{bad}"}}"#);
            assert_eq!(n.text(&line), line);
        }
    }

    #[test]
    fn padded_15_digit_cluster_and_new_member_ids() {
        let mut n = Normalizer::new(23790, 23800, Some(1), Some(0x0a1b_2c3d_4e5f_6071));
        let id = n.member_alias(0x0123_4567_89ab_cdef);
        assert_eq!(id, "<NEW_MEMBER#1>");
        assert_eq!(
            n.text("Member  123456789abcdef added to cluster  a1b2c3d4e5f6071"),
            "Member <NEW_MEMBER#1> added to cluster <CLUSTER_ID>"
        );
        assert_eq!(
            n.text("member remove 0123456789abcdef"),
            "member remove <NEW_MEMBER#1>"
        );
        // `%x` after one space (etcdctl's "removed from cluster %x"): the space stays.
        assert_eq!(
            n.text("Member 123456789abcdef removed from cluster a1b2c3d4e5f6071"),
            "Member <NEW_MEMBER#1> removed from cluster <CLUSTER_ID>"
        );
    }

    #[test]
    fn error_text_is_kept() {
        let mut n = norm();
        let line = "Error: etcdserver: mvcc: required revision has been compacted";
        assert_eq!(n.text(line), line);
    }
}

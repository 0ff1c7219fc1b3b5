//! `-w json`: responses as etcdctl prints them with Go's `encoding/json` over the gogo
//! protobuf structs: the proto field names of the Go json tags, numbers unquoted, bytes in
//! base64, enums as numbers, zero values left out (`omitempty`), and for clientv3's own
//! structs (lease grant, keepalive, time-to-live, list; watch) their Go field names.

use base64::Engine;
use oxcd_client::proto::authpb::Permission;
use oxcd_client::proto::etcdserverpb::response_op::Response;
use oxcd_client::proto::etcdserverpb::{
    AlarmMember, HashKvResponse, Member, ResponseOp, StatusResponse,
};
use oxcd_client::proto::mvccpb::Event;
use oxcd_client::{
    DeleteRangeResponse, KeyValue, PutResponse, RangeResponse, ResponseHeader, TxnResponse,
    WatchResponse,
};

use crate::gotext::json_string;

/// A JSON object being written, member by member, in Go's field order.
pub struct Obj {
    buf: String,
    empty: bool,
}

impl Obj {
    /// `{`
    pub fn new() -> Self {
        Obj {
            buf: String::from("{"),
            empty: true,
        }
    }

    /// A member with an already encoded value.
    pub fn raw(mut self, key: &str, value: &str) -> Self {
        if !self.empty {
            self.buf.push(',');
        }
        self.empty = false;
        self.buf.push('"');
        self.buf.push_str(key);
        self.buf.push_str("\":");
        self.buf.push_str(value);
        self
    }

    /// A number, left out when zero.
    pub fn num<T: std::fmt::Display + Default + PartialEq>(self, key: &str, v: T) -> Self {
        if v == T::default() {
            self
        } else {
            self.raw(key, &v.to_string())
        }
    }

    /// A number, always written.
    pub fn num_always<T: std::fmt::Display>(self, key: &str, v: T) -> Self {
        self.raw(key, &v.to_string())
    }

    /// A bool, left out when false.
    pub fn flag(self, key: &str, v: bool) -> Self {
        if v {
            self.raw(key, "true")
        } else {
            self
        }
    }

    /// A bool, always written.
    pub fn flag_always(self, key: &str, v: bool) -> Self {
        self.raw(key, if v { "true" } else { "false" })
    }

    /// A string, left out when empty.
    pub fn text(self, key: &str, v: &str) -> Self {
        if v.is_empty() {
            self
        } else {
            self.raw(key, &json_string(v.as_bytes()))
        }
    }

    /// A string, always written.
    pub fn text_always(self, key: &str, v: &str) -> Self {
        self.raw(key, &json_string(v.as_bytes()))
    }

    /// Bytes in base64, left out when empty.
    pub fn bytes(self, key: &str, v: &[u8]) -> Self {
        if v.is_empty() {
            self
        } else {
            self.raw(key, &format!("\"{}\"", b64(v)))
        }
    }

    /// A nested object, left out when absent.
    pub fn obj(self, key: &str, v: Option<String>) -> Self {
        match v {
            Some(v) => self.raw(key, &v),
            None => self,
        }
    }

    /// An array of encoded values, left out when empty.
    pub fn arr(self, key: &str, items: Vec<String>) -> Self {
        if items.is_empty() {
            self
        } else {
            self.raw(key, &array(items))
        }
    }

    /// An array of strings, left out when empty.
    pub fn strings(self, key: &str, items: &[String]) -> Self {
        self.arr(
            key,
            items.iter().map(|s| json_string(s.as_bytes())).collect(),
        )
    }

    /// `}`
    pub fn end(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// `[a,b,...]`
pub fn array(items: Vec<String>) -> String {
    format!("[{}]", items.join(","))
}

/// Standard base64 with padding, as Go encodes `[]byte`.
pub fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(v)
}

/// The members of a ResponseHeader (also used flattened, as clientv3 embeds
/// `*pb.ResponseHeader` in its lease responses).
pub fn header_members(o: Obj, h: &ResponseHeader) -> Obj {
    o.num("cluster_id", h.cluster_id)
        .num("member_id", h.member_id)
        .num("revision", h.revision)
        .num("raft_term", h.raft_term)
}

/// `"header":{...}` as a value.
pub fn header(h: &Option<ResponseHeader>) -> Option<String> {
    h.as_ref().map(|h| header_members(Obj::new(), h).end())
}

/// A mvccpb.KeyValue.
pub fn kv(kv: &KeyValue) -> String {
    Obj::new()
        .bytes("key", &kv.key)
        .num("create_revision", kv.create_revision)
        .num("mod_revision", kv.mod_revision)
        .num("version", kv.version)
        .bytes("value", &kv.value)
        .num("lease", kv.lease)
        .end()
}

fn kvs(list: &[KeyValue]) -> Vec<String> {
    list.iter().map(kv).collect()
}

/// A RangeResponse.
pub fn range(r: &RangeResponse) -> String {
    Obj::new()
        .obj("header", header(&r.header))
        .arr("kvs", kvs(&r.kvs))
        .flag("more", r.more)
        .num("count", r.count)
        .end()
}

/// A PutResponse.
pub fn put(r: &PutResponse) -> String {
    Obj::new()
        .obj("header", header(&r.header))
        .obj("prev_kv", r.prev_kv.as_ref().map(kv))
        .end()
}

/// A DeleteRangeResponse.
pub fn delete(r: &DeleteRangeResponse) -> String {
    Obj::new()
        .obj("header", header(&r.header))
        .num("deleted", r.deleted)
        .arr("prev_kvs", kvs(&r.prev_kvs))
        .end()
}

/// A ResponseOp: the oneof is Go's interface field `Response` holding a wrapper struct
/// whose one field has no json tag.
fn response_op(op: &ResponseOp) -> String {
    let inner = match &op.response {
        Some(Response::ResponseRange(r)) => Obj::new().raw("ResponseRange", &range(r)),
        Some(Response::ResponsePut(r)) => Obj::new().raw("ResponsePut", &put(r)),
        Some(Response::ResponseDeleteRange(r)) => Obj::new().raw("ResponseDeleteRange", &delete(r)),
        Some(Response::ResponseTxn(r)) => Obj::new().raw("ResponseTxn", &txn(r)),
        None => return Obj::new().raw("Response", "null").end(),
    };
    Obj::new().raw("Response", &inner.end()).end()
}

/// A TxnResponse.
pub fn txn(r: &TxnResponse) -> String {
    Obj::new()
        .obj("header", header(&r.header))
        .flag("succeeded", r.succeeded)
        .arr("responses", r.responses.iter().map(response_op).collect())
        .end()
}

fn event(e: &Event) -> String {
    Obj::new()
        .num("type", e.r#type)
        .obj("kv", e.kv.as_ref().map(kv))
        .obj("prev_kv", e.prev_kv.as_ref().map(kv))
        .end()
}

/// clientv3's WatchResponse struct (Go field names, no tags, nothing left out).
pub fn watch(r: &WatchResponse) -> String {
    let h = r.header.unwrap_or_default();
    let events = if r.events.is_empty() {
        "null".to_string()
    } else {
        array(r.events.iter().map(event).collect())
    };
    Obj::new()
        .raw("Header", &header_members(Obj::new(), &h).end())
        .raw("Events", &events)
        .num_always("CompactRevision", r.compact_revision)
        .flag_always("Canceled", r.canceled)
        .flag_always("Created", r.created)
        .end()
}

/// A Member.
pub fn member(m: &Member) -> String {
    Obj::new()
        .num("ID", m.id)
        .text("name", &m.name)
        .strings("peerURLs", &m.peer_ur_ls)
        .strings("clientURLs", &m.client_ur_ls)
        .flag("isLearner", m.is_learner)
        .end()
}

/// A list of members.
pub fn members(list: &[Member]) -> Vec<String> {
    list.iter().map(member).collect()
}

/// An AlarmMember.
pub fn alarm_member(a: &AlarmMember) -> String {
    Obj::new()
        .num("memberID", a.member_id)
        .num("alarm", a.alarm)
        .end()
}

/// A StatusResponse (the 3.4 fields).
pub fn status(r: &StatusResponse) -> String {
    Obj::new()
        .obj("header", header(&r.header))
        .text("version", &r.version)
        .num("dbSize", r.db_size)
        .num("leader", r.leader)
        .num("raftIndex", r.raft_index)
        .num("raftTerm", r.raft_term)
        .num("raftAppliedIndex", r.raft_applied_index)
        .strings("errors", &r.errors)
        .num("dbSizeInUse", r.db_size_in_use)
        .flag("isLearner", r.is_learner)
        .end()
}

/// A HashKVResponse (the 3.4 fields).
pub fn hash_kv(r: &HashKvResponse) -> String {
    Obj::new()
        .obj("header", header(&r.header))
        .num("hash", r.hash)
        .num("compact_revision", r.compact_revision)
        .end()
}

/// An authpb.Permission.
pub fn permission(p: &Permission) -> String {
    Obj::new()
        .num("permType", p.perm_type)
        .bytes("key", &p.key)
        .bytes("range_end", &p.range_end)
        .end()
}

/// A response that is its header alone (`{"header":{...}}`).
pub fn header_only(h: &Option<ResponseHeader>) -> String {
    Obj::new().obj("header", header(h)).end()
}

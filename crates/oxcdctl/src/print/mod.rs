//! The output printers: one [`Printer`] method per kind of response, each writing the
//! response in the format `-w` chose, exactly as etcdctl 3.4's printer of that format
//! (`printer_simple.go`, `printer_fields.go`, `printer_json.go`, `printer_table.go`,
//! `printer_protobuf.go`). The format files hold the per-format pieces; this file says
//! which format supports which response. A format etcdctl lacks for a response fails
//! with its "<format> not supported as output format" (exit 4) after the request ran,
//! as etcdctl does.

pub mod fields;
pub mod json;
pub mod simple;
pub mod table;

use std::io::Write;

use oxcd_client::proto::etcdserverpb::{
    AlarmResponse, AlarmType, AuthRoleGetResponse, AuthRoleListResponse, AuthUserGetResponse,
    AuthUserListResponse, HashKvResponse, MemberAddResponse, MemberListResponse,
    MoveLeaderResponse, StatusResponse,
};
use oxcd_client::proto::etcdserverpb::{
    LeaseGrantResponse, LeaseKeepAliveResponse, LeaseLeasesResponse, LeaseTimeToLiveResponse,
    Member,
};
use oxcd_client::{
    prefix_end, DeleteRangeResponse, PutResponse, RangeResponse, ResponseHeader, TxnResponse,
    WatchResponse,
};
use prost::Message;

use crate::error::{exit, CtlError};
use crate::gotext::{human_bytes, quote};
use fields::{hdr, line};
use json::Obj;

/// An output format (`-w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text (the default).
    Simple,
    /// `"Name" : value` lines.
    Fields,
    /// Go's encoding/json of the response.
    Json,
    /// The response's protobuf encoding.
    Protobuf,
    /// A table (member list and endpoint commands only).
    Table,
}

impl Format {
    /// The format named `s`, if etcdctl knows it.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "simple" => Format::Simple,
            "fields" => Format::Fields,
            "json" => Format::Json,
            "protobuf" => Format::Protobuf,
            "table" => Format::Table,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Fields => "fields",
            Format::Json => "json",
            Format::Protobuf => "protobuf",
            Format::Table => "table",
        }
    }
}

/// The name etcdctl prints for an event type (mvccpb.Event_EventType's String).
pub fn event_type(t: i32) -> &'static str {
    match t {
        0 => "PUT",
        1 => "DELETE",
        _ => "UNKNOWN",
    }
}

fn alarm_name(a: i32) -> &'static str {
    match AlarmType::try_from(a) {
        Ok(AlarmType::None) => "NONE",
        Ok(AlarmType::Nospace) => "NOSPACE",
        Ok(AlarmType::Corrupt) => "CORRUPT",
        Err(_) => "UNKNOWN",
    }
}

fn perm_name(t: i32) -> &'static str {
    match t {
        0 => "READ",
        1 => "WRITE",
        2 => "READWRITE",
        _ => "UNKNOWN",
    }
}

/// What one print writes: standard output and standard error.
#[derive(Debug, Default)]
pub struct Out {
    /// Bytes for stdout.
    pub out: Vec<u8>,
    /// Bytes for stderr.
    pub err: Vec<u8>,
}

/// The format this print lacks.
struct Unsupported;

type Shown = Result<(), Unsupported>;

/// The outcome of one endpoint's health check (`endpoint health`).
#[derive(Debug, Clone)]
pub struct EpHealth {
    /// The endpoint as given.
    pub ep: String,
    /// Whether a read succeeded (or was refused for permission only).
    pub health: bool,
    /// How long the read took, as Go prints a duration ("" if no client was made).
    pub took: String,
    /// The error, "" when healthy.
    pub error: String,
}

/// Prints responses in one format.
#[derive(Debug, Clone)]
pub struct Printer {
    /// The format.
    pub format: Format,
    /// `--hex`: keys and values as `\xHH` (simple format only).
    pub hex: bool,
    /// `--print-value-only`: values without keys (simple format only).
    pub value_only: bool,
}

fn pb(o: &mut Out, m: &impl Message) -> Shown {
    o.out.extend_from_slice(&m.encode_to_vec());
    Ok(())
}

fn json_line(o: &mut Out, s: String) -> Shown {
    o.out.extend_from_slice(s.as_bytes());
    o.out.push(b'\n');
    Ok(())
}

fn header_pb(o: &mut Out, h: &Option<ResponseHeader>) -> Shown {
    pb(o, &h.unwrap_or_default())
}

impl Printer {
    /// Runs `f` and writes what it printed (stdout flushed: a watch prints as it goes), or
    /// fails with etcdctl's error for a format the response lacks.
    fn emit(&self, f: impl FnOnce(&mut Out) -> Shown) -> Result<(), CtlError> {
        let mut o = Out::default();
        match f(&mut o) {
            Ok(()) => {
                write_all(&o);
                Ok(())
            }
            Err(Unsupported) => Err(self.unsupported()),
        }
    }

    /// etcdctl's error for a response the format cannot print.
    pub fn unsupported(&self) -> CtlError {
        CtlError::new(
            exit::BAD_FEATURE,
            format!("{} not supported as output format", self.format.name()),
        )
    }

    /// A get.
    pub fn get(&self, r: &RangeResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::get(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::get(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::range(r)),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// A put.
    pub fn put(&self, r: &PutResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::put(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::put(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::put(r)),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// A delete.
    pub fn del(&self, r: &DeleteRangeResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::delete(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::delete(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::delete(r)),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// A transaction.
    pub fn txn(&self, r: &TxnResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::txn(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::txn(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::txn(r)),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// One watch response (protobuf: the fields clientv3 keeps).
    pub fn watch(&self, r: &WatchResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                simple::watch(self, &mut o.out, r);
                Ok(())
            }
            Format::Fields => {
                fields::watch(&mut o.out, r);
                Ok(())
            }
            Format::Json => json_line(o, json::watch(r)),
            Format::Protobuf => pb(
                o,
                &WatchResponse {
                    header: Some(r.header.unwrap_or_default()),
                    events: r.events.clone(),
                    compact_revision: r.compact_revision,
                    canceled: r.canceled,
                    created: r.created,
                    ..WatchResponse::default()
                },
            ),
            Format::Table => Err(Unsupported),
        })
    }

    /// `lease grant` (clientv3's struct embeds the header: json flattens it, protobuf
    /// marshals the header alone).
    pub fn grant(&self, r: &LeaseGrantResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(
                    &mut o.out,
                    &format!("lease {:016x} granted with TTL({}s)", r.id, r.ttl),
                );
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                line(&mut o.out, &format!("\"ID\" : {}", r.id));
                {
                    line(&mut o.out, &format!("\"TTL\" : {}", r.ttl));
                    Ok(())
                }
            }
            Format::Json => json_line(
                o,
                flat_header(&r.header)
                    .num_always("ID", r.id)
                    .num_always("TTL", r.ttl)
                    .text_always("Error", &r.error)
                    .end(),
            ),
            Format::Protobuf => header_pb(o, &r.header),
            Format::Table => Err(Unsupported),
        })
    }

    /// `lease revoke`.
    pub fn revoke(&self, id: i64, r: &oxcd_client::LeaseRevokeResponse) -> Result<(), CtlError> {
        if self.format == Format::Protobuf {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                "marshal unsupported for type clientv3.LeaseRevokeResponse",
            ));
        }
        self.emit(|o| match self.format {
            Format::Simple => {
                line(&mut o.out, &format!("lease {id:016x} revoked"));
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                Ok(())
            }
            Format::Json => json_line(o, json::header_only(&r.header)),
            Format::Protobuf | Format::Table => Err(Unsupported),
        })
    }

    /// One keepalive answer.
    pub fn keep_alive(&self, r: &LeaseKeepAliveResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(
                    &mut o.out,
                    &format!("lease {:016x} keepalived with TTL({})", r.id, r.ttl),
                );
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                line(&mut o.out, &format!("\"ID\" : {}", r.id));
                {
                    line(&mut o.out, &format!("\"TTL\" : {}", r.ttl));
                    Ok(())
                }
            }
            Format::Json => json_line(
                o,
                flat_header(&r.header)
                    .num_always("ID", r.id)
                    .num_always("TTL", r.ttl)
                    .end(),
            ),
            Format::Protobuf => header_pb(o, &r.header),
            Format::Table => Err(Unsupported),
        })
    }

    /// `lease timetolive`.
    pub fn time_to_live(&self, r: &LeaseTimeToLiveResponse, keys: bool) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                if r.granted_ttl == 0 && r.ttl == -1 {
                    return {
                        line(&mut o.out, &format!("lease {:016x} already expired", r.id));
                        Ok(())
                    };
                }
                let mut txt = format!(
                    "lease {:016x} granted with TTL({}s), remaining({}s)",
                    r.id, r.granted_ttl, r.ttl
                )
                .into_bytes();
                if keys {
                    txt.extend_from_slice(b", attached keys([");
                    txt.extend_from_slice(&r.keys.join(&b' '));
                    txt.extend_from_slice(b"])");
                }
                o.out.extend_from_slice(&txt);
                o.out.push(b'\n');
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                line(&mut o.out, &format!("\"ID\" : {}", r.id));
                line(&mut o.out, &format!("\"TTL\" : {}", r.ttl));
                line(&mut o.out, &format!("\"GrantedTTL\" : {}", r.granted_ttl));
                for k in &r.keys {
                    line(&mut o.out, &format!("\"Key\" : {}", quote(k)));
                }
                Ok(())
            }
            Format::Json => {
                let keys = if r.keys.is_empty() {
                    "null".to_string()
                } else {
                    json::array(
                        r.keys
                            .iter()
                            .map(|k| format!("\"{}\"", json::b64(k)))
                            .collect(),
                    )
                };
                json_line(
                    o,
                    flat_header(&r.header)
                        .num_always("id", r.id)
                        .num_always("ttl", r.ttl)
                        .num_always("granted-ttl", r.granted_ttl)
                        .raw("keys", &keys)
                        .end(),
                )
            }
            Format::Protobuf => header_pb(o, &r.header),
            Format::Table => Err(Unsupported),
        })
    }

    /// `lease list`.
    pub fn leases(&self, r: &LeaseLeasesResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(&mut o.out, &format!("found {} leases", r.leases.len()));
                for l in &r.leases {
                    line(&mut o.out, &format!("{:016x}", l.id));
                }
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                for l in &r.leases {
                    line(&mut o.out, &format!("\"ID\" : {}", l.id));
                }
                Ok(())
            }
            Format::Json => {
                let leases = r
                    .leases
                    .iter()
                    .map(|l| Obj::new().num_always("id", l.id).end())
                    .collect();
                json_line(
                    o,
                    flat_header(&r.header)
                        .raw("leases", &json::array(leases))
                        .end(),
                )
            }
            Format::Protobuf => header_pb(o, &r.header),
            Format::Table => Err(Unsupported),
        })
    }

    /// `member add` (the ETCD_* lines of the simple format are the command's).
    pub fn member_add(&self, r: &MemberAddResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(
                    &mut o.out,
                    &format!(
                        "Member {:16x} added to cluster {:16x}",
                        r.member.as_ref().map_or(0, |m| m.id),
                        cluster_id(&r.header)
                    ),
                );
                Ok(())
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .obj("member", r.member.as_ref().map(json::member))
                    .arr("members", json::members(&r.members))
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Fields | Format::Table => Err(Unsupported),
        })
    }

    /// `member remove`, `member update` and `member promote`: `verb` is "removed from",
    /// "updated in" or "promoted in".
    pub fn member_change(
        &self,
        verb: &str,
        id: u64,
        header: &Option<ResponseHeader>,
        members: &[Member],
        encoded: &impl Message,
    ) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(
                    &mut o.out,
                    &format!("Member {id:16x} {verb} cluster {:16x}", cluster_id(header)),
                );
                Ok(())
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(header))
                    .arr("members", json::members(members))
                    .end(),
            ),
            Format::Protobuf => pb(o, encoded),
            Format::Fields | Format::Table => Err(Unsupported),
        })
    }

    /// `member list`.
    pub fn member_list(&self, r: &MemberListResponse) -> Result<(), CtlError> {
        let rows: Vec<Vec<String>> = r
            .members
            .iter()
            .map(|m| {
                vec![
                    format!("{:x}", m.id),
                    if m.name.is_empty() {
                        "unstarted"
                    } else {
                        "started"
                    }
                    .to_string(),
                    m.name.clone(),
                    m.peer_ur_ls.join(","),
                    m.client_ur_ls.join(","),
                    m.is_learner.to_string(),
                ]
            })
            .collect();
        self.emit(|o| match self.format {
            Format::Simple => {
                rows_simple(&mut o.out, &rows);
                Ok(())
            }
            Format::Table => {
                o.out.extend_from_slice(
                    table::render(
                        &[
                            "ID",
                            "Status",
                            "Name",
                            "Peer Addrs",
                            "Client Addrs",
                            "Is Learner",
                        ],
                        &rows,
                    )
                    .as_bytes(),
                );
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                for m in &r.members {
                    line(&mut o.out, &format!("\"ID\" : {}", m.id));
                    line(
                        &mut o.out,
                        &format!("\"Name\" : {}", quote(m.name.as_bytes())),
                    );
                    for u in &m.peer_ur_ls {
                        line(
                            &mut o.out,
                            &format!("\"PeerURL\" : {}", quote(u.as_bytes())),
                        );
                    }
                    for u in &m.client_ur_ls {
                        line(
                            &mut o.out,
                            &format!("\"ClientURL\" : {}", quote(u.as_bytes())),
                        );
                    }
                    line(&mut o.out, &format!("\"IsLearner\" : {}", m.is_learner));
                    line(&mut o.out, "");
                }
                Ok(())
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .arr("members", json::members(&r.members))
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
        })
    }

    /// `endpoint health` (the simple format writes to stderr, as etcdctl).
    pub fn endpoint_health(&self, list: &[EpHealth]) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                for h in list {
                    let l = if h.error.is_empty() {
                        format!(
                            "{} is healthy: successfully committed proposal: took = {}",
                            h.ep, h.took
                        )
                    } else {
                        format!(
                            "{} is unhealthy: failed to commit proposal: {}",
                            h.ep, h.error
                        )
                    };
                    line(&mut o.err, &l);
                }
                Ok(())
            }
            Format::Table => {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|h| {
                        vec![
                            h.ep.clone(),
                            h.health.to_string(),
                            h.took.clone(),
                            h.error.clone(),
                        ]
                    })
                    .collect();
                {
                    o.out.extend_from_slice(
                        table::render(&["endpoint", "health", "took", "error"], &rows).as_bytes(),
                    );
                    Ok(())
                }
            }
            Format::Fields => {
                for h in list {
                    line(
                        &mut o.out,
                        &format!("\"Endpoint\" : {}", quote(h.ep.as_bytes())),
                    );
                    line(&mut o.out, &format!("\"Health\" : {}", h.health));
                    line(&mut o.out, &format!("\"Took\" : {}", h.took));
                    line(&mut o.out, &format!("\"Error\" : {}", h.error));
                    line(&mut o.out, "");
                }
                Ok(())
            }
            Format::Json => {
                let items = list
                    .iter()
                    .map(|h| {
                        Obj::new()
                            .text_always("endpoint", &h.ep)
                            .flag_always("health", h.health)
                            .text_always("took", &h.took)
                            .text("error", &h.error)
                            .end()
                    })
                    .collect();
                json_line(o, json::array(items))
            }
            Format::Protobuf => Err(Unsupported),
        })
    }

    /// `endpoint status`.
    pub fn endpoint_status(&self, list: &[(String, StatusResponse)]) -> Result<(), CtlError> {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|(ep, s)| {
                let member = s.header.as_ref().map_or(0, |h| h.member_id);
                vec![
                    ep.clone(),
                    format!("{member:x}"),
                    s.version.clone(),
                    human_bytes(s.db_size.max(0) as u64),
                    (s.leader == member).to_string(),
                    s.is_learner.to_string(),
                    s.raft_term.to_string(),
                    s.raft_index.to_string(),
                    s.raft_applied_index.to_string(),
                    s.errors.join(", "),
                ]
            })
            .collect();
        self.emit(|o| match self.format {
            Format::Simple => {
                rows_simple(&mut o.out, &rows);
                Ok(())
            }
            Format::Table => {
                o.out.extend_from_slice(
                    table::render(
                        &[
                            "endpoint",
                            "ID",
                            "version",
                            "db size",
                            "is leader",
                            "is learner",
                            "raft term",
                            "raft index",
                            "raft applied index",
                            "errors",
                        ],
                        &rows,
                    )
                    .as_bytes(),
                );
                Ok(())
            }
            Format::Fields => {
                for (ep, s) in list {
                    hdr(&mut o.out, &s.header);
                    line(
                        &mut o.out,
                        &format!("\"Version\" : {}", quote(s.version.as_bytes())),
                    );
                    line(&mut o.out, &format!("\"DBSize\" : {}", s.db_size));
                    line(&mut o.out, &format!("\"Leader\" : {}", s.leader));
                    line(&mut o.out, &format!("\"IsLearner\" : {}", s.is_learner));
                    line(&mut o.out, &format!("\"RaftIndex\" : {}", s.raft_index));
                    line(&mut o.out, &format!("\"RaftTerm\" : {}", s.raft_term));
                    line(
                        &mut o.out,
                        &format!("\"RaftAppliedIndex\" : {}", s.raft_applied_index),
                    );
                    line(
                        &mut o.out,
                        &format!("\"Errors\" : [{}]", s.errors.join(" ")),
                    );
                    line(
                        &mut o.out,
                        &format!("\"Endpoint\" : {}", quote(ep.as_bytes())),
                    );
                    line(&mut o.out, "");
                }
                Ok(())
            }
            Format::Json => {
                let items = list
                    .iter()
                    .map(|(ep, s)| {
                        Obj::new()
                            .text_always("Endpoint", ep)
                            .raw("Status", &json::status(s))
                            .end()
                    })
                    .collect();
                json_line(o, json::array(items))
            }
            Format::Protobuf => Err(Unsupported),
        })
    }

    /// `endpoint hashkv`.
    pub fn endpoint_hashkv(&self, list: &[(String, HashKvResponse)]) -> Result<(), CtlError> {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|(ep, h)| vec![ep.clone(), h.hash.to_string()])
            .collect();
        self.emit(|o| match self.format {
            Format::Simple => {
                rows_simple(&mut o.out, &rows);
                Ok(())
            }
            Format::Table => {
                o.out
                    .extend_from_slice(table::render(&["endpoint", "hash"], &rows).as_bytes());
                Ok(())
            }
            Format::Fields => {
                for (ep, h) in list {
                    hdr(&mut o.out, &h.header);
                    line(
                        &mut o.out,
                        &format!("\"Endpoint\" : {}", quote(ep.as_bytes())),
                    );
                    line(&mut o.out, &format!("\"Hash\" : {}", h.hash));
                    line(&mut o.out, "");
                }
                Ok(())
            }
            Format::Json => {
                let items = list
                    .iter()
                    .map(|(ep, h)| {
                        Obj::new()
                            .text_always("Endpoint", ep)
                            .raw("HashKV", &json::hash_kv(h))
                            .end()
                    })
                    .collect();
                json_line(o, json::array(items))
            }
            Format::Protobuf => Err(Unsupported),
        })
    }

    /// `move-leader`.
    pub fn move_leader(
        &self,
        leader: u64,
        target: u64,
        r: &MoveLeaderResponse,
    ) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(
                    &mut o.out,
                    &format!("Leadership transferred from {leader:x} to {target:x}"),
                );
                Ok(())
            }
            Format::Json => json_line(o, json::header_only(&r.header)),
            Format::Fields | Format::Protobuf | Format::Table => Err(Unsupported),
        })
    }

    /// `alarm list` and `alarm disarm`.
    pub fn alarm(&self, r: &AlarmResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                for a in &r.alarms {
                    let mut l = String::new();
                    if a.member_id != 0 {
                        l.push_str(&format!("memberID:{} ", a.member_id));
                    }
                    if a.alarm != 0 {
                        l.push_str(&format!("alarm:{} ", alarm_name(a.alarm)));
                    }
                    line(&mut o.out, &l);
                }
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                for a in &r.alarms {
                    line(&mut o.out, &format!("\"MemberID\" : {}", a.member_id));
                    line(
                        &mut o.out,
                        &format!("\"AlarmType\" : {}", alarm_name(a.alarm)),
                    );
                    line(&mut o.out, "");
                }
                Ok(())
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .arr("alarms", r.alarms.iter().map(json::alarm_member).collect())
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// A response printed as one line in the simple format and as its header otherwise
    /// (role add/delete/grant/revoke, user add/delete/passwd/grant/revoke).
    pub fn header_response(
        &self,
        simple_line: &[u8],
        header: &Option<ResponseHeader>,
        encoded: &impl Message,
    ) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                o.out.extend_from_slice(simple_line);
                o.out.push(b'\n');
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, header);
                Ok(())
            }
            Format::Json => json_line(o, json::header_only(header)),
            Format::Protobuf => pb(o, encoded),
            Format::Table => Err(Unsupported),
        })
    }

    /// `role get`.
    pub fn role_get(&self, role: &str, r: &AuthRoleGetResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(&mut o.out, &format!("Role {role}"));
                for (title, kinds) in [("KV Read:", [0, 2]), ("KV Write:", [1, 2])] {
                    line(&mut o.out, title);
                    for p in r.perm.iter().filter(|p| kinds.contains(&p.perm_type)) {
                        o.out.push(b'\t');
                        if p.range_end.is_empty() {
                            o.out.extend_from_slice(&p.key);
                        } else {
                            o.out.push(b'[');
                            o.out.extend_from_slice(&p.key);
                            if p.range_end != [0] {
                                o.out.extend_from_slice(b", ");
                                o.out.extend_from_slice(&p.range_end);
                                o.out.push(b')');
                            } else {
                                o.out.extend_from_slice(b", <open ended>");
                            }
                            if prefix_end(&p.key) == p.range_end {
                                o.out.extend_from_slice(b" (prefix ");
                                o.out.extend_from_slice(&p.key);
                                o.out.push(b')');
                            }
                        }
                        o.out.push(b'\n');
                    }
                }
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                for p in &r.perm {
                    line(
                        &mut o.out,
                        &format!("\"PermType\" :  {}", perm_name(p.perm_type)),
                    );
                    line(&mut o.out, &format!("\"Key\" : {}", quote(&p.key)));
                    line(
                        &mut o.out,
                        &format!("\"RangeEnd\" : {}", quote(&p.range_end)),
                    );
                }
                Ok(())
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .arr("perm", r.perm.iter().map(json::permission).collect())
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// `role list`.
    pub fn role_list(&self, r: &AuthRoleListResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                r.roles.iter().for_each(|n| line(&mut o.out, n));
                Ok(())
            }
            Format::Fields => {
                hdr(&mut o.out, &r.header);
                let mut l = String::from("\"Roles\" :");
                for n in &r.roles {
                    l.push(' ');
                    l.push_str(&quote(n.as_bytes()));
                }
                {
                    line(&mut o.out, &l);
                    Ok(())
                }
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .strings("roles", &r.roles)
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Table => Err(Unsupported),
        })
    }

    /// `user get` (without `--detail`).
    pub fn user_get(&self, name: &str, r: &AuthUserGetResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                line(&mut o.out, &format!("User: {name}"));
                let mut l = String::from("Roles:");
                for role in &r.roles {
                    l.push(' ');
                    l.push_str(role);
                }
                {
                    line(&mut o.out, &l);
                    Ok(())
                }
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .strings("roles", &r.roles)
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Fields | Format::Table => Err(Unsupported),
        })
    }

    /// `user list`.
    pub fn user_list(&self, r: &AuthUserListResponse) -> Result<(), CtlError> {
        self.emit(|o| match self.format {
            Format::Simple => {
                r.users.iter().for_each(|n| line(&mut o.out, n));
                Ok(())
            }
            Format::Json => json_line(
                o,
                Obj::new()
                    .obj("header", json::header(&r.header))
                    .strings("users", &r.users)
                    .end(),
            ),
            Format::Protobuf => pb(o, r),
            Format::Fields | Format::Table => Err(Unsupported),
        })
    }
}

/// The members of a header embedded by pointer in a clientv3 struct (none if absent).
fn flat_header(h: &Option<ResponseHeader>) -> Obj {
    match h {
        Some(h) => json::header_members(Obj::new(), h),
        None => Obj::new(),
    }
}

fn cluster_id(h: &Option<ResponseHeader>) -> u64 {
    h.as_ref().map_or(0, |h| h.cluster_id)
}

fn rows_simple(o: &mut Vec<u8>, rows: &[Vec<String>]) {
    for r in rows {
        line(o, &r.join(", "));
    }
}

/// Writes a print's output and flushes (write errors, e.g. a closed pipe, are ignored
/// as Go's fmt ignores them).
pub fn write_all(o: &Out) {
    if !o.out.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&o.out);
        let _ = out.flush();
    }
    if !o.err.is_empty() {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(&o.err);
        let _ = err.flush();
    }
}

/// Writes `line` and a newline to stdout, flushed.
pub fn println(text: &str) {
    let mut o = Out::default();
    line(&mut o.out, text);
    write_all(&o);
}

/// Writes `line` and a newline to stderr, flushed.
pub fn eprintln(text: &str) {
    let mut o = Out::default();
    line(&mut o.err, text);
    write_all(&o);
}

//! The printers of member, endpoint, alarm and move-leader responses.

use oxcd_client::proto::etcdserverpb::{
    AlarmResponse, HashKvResponse, Member, MemberAddResponse, MemberListResponse,
    MoveLeaderResponse, StatusResponse,
};
use oxcd_client::ResponseHeader;
use prost::Message;

use super::fields::{hdr, line};
use super::json::{self, Obj};
use super::{
    alarm_name, cluster_id, json_line, pb, rows_simple, table, EpHealth, Format, Printer,
    Unsupported,
};
use crate::error::CtlError;
use crate::gotext::{human_bytes, quote};

impl Printer {
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
}

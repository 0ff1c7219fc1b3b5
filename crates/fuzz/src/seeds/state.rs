//! Seeds of `state-decode`: dumps of a real member's durable state (MVCC revisions and
//! compaction marks, leases, alarms, members, the applied index, and a raft log with
//! its hard state, conf state and truncation mark), whole and in parts, one record per
//! frame in the target's structured form ([`crate::targets::state_decode::tag`]).

use std::sync::Arc;

use oxcd_backend::{Backend, Column, MemBackend, WriteBatch};
use oxcd_mvcc::Revision;
use oxcd_proto::etcdserverpb::{
    alarm_request::AlarmAction, AlarmRequest, AlarmType, CompactionRequest, LeaseGrantRequest,
    Member, PutRequest,
};
use oxcd_raftlog::{RaftLogStore, RocksLogStore};
use oxcd_server::members::Members;
use prost::Message as _;
use protobuf::Message as _;
use raft::eraftpb::{
    ConfChangeSingle, ConfChangeType, ConfChangeV2, ConfState, Entry, EntryType, HardState,
};

use crate::frames::push_frame;
use crate::outcome::Outcomes;
use crate::serve::{Harness, Request};
use crate::targets::state_decode::{tag, KNOWN_KEYS};

fn member(id: u64, port: u16) -> Member {
    Member {
        id,
        name: format!("m{id}"),
        peer_ur_ls: vec![format!("http://127.0.0.1:{port}")],
        client_ur_ls: vec![format!("http://127.0.0.1:{}", port - 1)],
        is_learner: id == 3,
    }
}

/// A member's state: the harness fixture plus a compaction, another lease and an
/// alarm; three members; a compacted raft log.
fn member_state() -> Arc<MemBackend> {
    let mut h = Harness::new();
    let mut out = Outcomes::default();
    let reqs = [
        Request::Compaction(CompactionRequest {
            revision: 4,
            physical: true,
        }),
        Request::LeaseGrant(LeaseGrantRequest { ttl: 900, id: 42 }),
        Request::Put(PutRequest {
            key: b"with-lease".to_vec(),
            value: b"v".to_vec(),
            lease: 42,
            ..Default::default()
        }),
        Request::Alarm(AlarmRequest {
            action: AlarmAction::Activate as i32,
            member_id: 2,
            alarm: AlarmType::Corrupt as i32,
        }),
    ];
    for r in reqs {
        h.serve(r, &mut out);
    }
    let backend = h.backend().clone();
    let members = [member(1, 2380), member(2, 2390), member(3, 2400)];
    Members::load_or_bootstrap(backend.as_ref(), members.to_vec(), 0xc1, 1)
        .expect("bootstrap members");
    let mut removed = WriteBatch::new();
    let mut k = vec![b'r'];
    k.extend_from_slice(&9u64.to_be_bytes());
    removed.put(Column::Members, k, Vec::new());
    backend.write(removed, false).expect("write");

    let mut log = RocksLogStore::open(backend.clone()).expect("open an empty log");
    let mut boot = Vec::new();
    for (i, m) in members.iter().take(2).enumerate() {
        let mut single = ConfChangeSingle {
            node_id: m.id,
            ..Default::default()
        };
        single.set_change_type(ConfChangeType::AddNode);
        let mut cc = ConfChangeV2::default();
        cc.set_changes(vec![single].into());
        cc.context = m.encode_to_vec().into();
        let mut e = Entry {
            term: 1,
            index: i as u64 + 1,
            data: cc.write_to_bytes().expect("encode").into(),
            ..Default::default()
        };
        e.set_entry_type(EntryType::EntryConfChangeV2);
        boot.push(e);
    }
    let mut hs = HardState {
        term: 1,
        commit: 2,
        ..Default::default()
    };
    let cs = ConfState {
        voters: vec![1, 2],
        ..Default::default()
    };
    log.initialize(&boot, &hs, &cs, 2).expect("initialize");
    let mut entries = Vec::new();
    for index in 3..=9u64 {
        let mut e = Entry {
            term: 2,
            index,
            ..Default::default()
        };
        if index > 3 {
            let put = oxcd_proto::oxcdpb::InternalRequest {
                header: Some(oxcd_proto::oxcdpb::RequestHeader {
                    id: index,
                    ..Default::default()
                }),
                op: Some(oxcd_proto::oxcdpb::internal_request::Op::Put(PutRequest {
                    key: format!("log/{index}").into_bytes(),
                    value: b"entry".to_vec(),
                    ..Default::default()
                })),
            };
            e.data = put.encode_to_vec().into();
        }
        entries.push(e);
    }
    hs.term = 2;
    hs.vote = 1;
    hs.commit = 8;
    log.append(&entries, Some(&hs)).expect("append");
    log.compact_to(4).expect("compact");
    // The state machine applied part of the log.
    let mut applied = WriteBatch::new();
    applied.put(
        Column::Meta,
        oxcd_server::apply::APPLIED_INDEX_KEY,
        6u64.to_be_bytes(),
    );
    backend.write(applied, false).expect("write");
    backend
}

/// Encodes every record of `backend` that `keep` selects.
fn dump(backend: &MemBackend, keep: impl Fn(Column) -> bool) -> Vec<u8> {
    let mut out = Vec::new();
    for col in Column::ALL.into_iter().filter(|c| keep(*c)) {
        let records = backend.scan(col, &[], None, false).expect("scan");
        for item in records {
            let (k, v) = item.expect("record");
            push_record(&mut out, col, &k, &v);
        }
    }
    out
}

fn push_record(out: &mut Vec<u8>, col: Column, k: &[u8], v: &[u8]) {
    if let Some(i) = KNOWN_KEYS
        .iter()
        .position(|(c, key)| *c == col && *key == k)
    {
        let mut p = vec![i as u8];
        p.extend_from_slice(v);
        return push_frame(out, tag::KNOWN, &p);
    }
    if col == Column::Kv {
        if let Ok((rev, tomb)) = Revision::decode_key(k) {
            if let Ok(sub) = u8::try_from(rev.sub) {
                let mut p = rev.main.to_be_bytes().to_vec();
                p.push(sub);
                p.push(u8::from(tomb));
                p.extend_from_slice(v);
                return push_frame(out, tag::REVISION, &p);
            }
        }
    }
    if col == Column::RaftLog && k.len() == 9 && k[0] == b'e' {
        let mut p = k[1..].to_vec();
        p.extend_from_slice(v);
        return push_frame(out, tag::ENTRY, &p);
    }
    let klen = k.len().min(255);
    let mut p = vec![klen as u8];
    p.extend_from_slice(&k[..klen]);
    p.extend_from_slice(v);
    let raw = Column::ALL.iter().position(|c| *c == col).unwrap_or(0) as u8;
    push_frame(out, tag::RAW_FIRST + raw, &p);
}

/// The seed files.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let backend = member_state();
    let mut interrupted = dump(&backend, |c| c == Column::Kv);
    let sched = Revision::new(6, 0).to_bytes();
    let mut p = vec![1u8];
    p.extend_from_slice(&sched);
    push_frame(&mut interrupted, tag::KNOWN, &p);
    vec![
        ("full-member.bin".into(), dump(&backend, |_| true)),
        (
            "mvcc-only.bin".into(),
            dump(&backend, |c| matches!(c, Column::Kv | Column::Meta)),
        ),
        (
            "raft-log-only.bin".into(),
            dump(&backend, |c| c == Column::RaftLog),
        ),
        (
            "leases-members-alarms.bin".into(),
            dump(&backend, |c| {
                matches!(c, Column::Lease | Column::Members | Column::Alarm)
            }),
        ),
        ("compaction-interrupted.bin".into(), interrupted),
        ("empty.bin".into(), Vec::new()),
    ]
}

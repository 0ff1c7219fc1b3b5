//! Seeds of `grpc-decode`: the sample sessions as protobuf frames, plus raft peer
//! traffic (a `RaftMessageBatch` carrying raft-rs messages, a conf change, an entry).

use prost::Message as _;
use raft::eraftpb;

use super::requests::{samples, Sink};
use crate::frames::push_frame;
use crate::targets::grpc_decode::tag_of;

/// Collects seed files of frames.
#[derive(Default)]
struct Frames {
    files: Vec<(String, Vec<u8>)>,
}

impl Sink for Frames {
    fn file(&mut self, name: &str) {
        self.files.push((format!("{name}.bin"), Vec::new()));
    }

    fn msg<M: prost::Message + serde::Serialize>(&mut self, kind: &'static str, m: &M) {
        self.wire(kind, m.encode_to_vec());
    }

    fn wire(&mut self, kind: &'static str, bytes: Vec<u8>) {
        if let Some((_, buf)) = self.files.last_mut() {
            push_frame(buf, tag_of(kind), &bytes);
        }
    }
}

fn raft_bytes(m: &impl protobuf::Message) -> Vec<u8> {
    m.write_to_bytes().expect("encode a raft message")
}

/// The seed files.
pub fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut f = Frames::default();
    samples(&mut f);

    f.file("raft-peer-messages");
    let put = oxcd_proto::oxcdpb::InternalRequest {
        header: None,
        op: Some(oxcd_proto::oxcdpb::internal_request::Op::Put(
            oxcd_proto::etcdserverpb::PutRequest {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                ..Default::default()
            },
        )),
    };
    let entry = eraftpb::Entry {
        index: 7,
        term: 2,
        data: put.encode_to_vec().into(),
        ..Default::default()
    };
    let mut msg = eraftpb::Message::default();
    msg.set_msg_type(eraftpb::MessageType::MsgAppend);
    msg.to = 2;
    msg.from = 1;
    msg.term = 2;
    msg.log_term = 2;
    msg.index = 6;
    msg.commit = 6;
    msg.set_entries(vec![entry.clone()].into());
    let batch = oxcd_proto::oxcdpb::RaftMessageBatch {
        messages: vec![raft_bytes(&msg)],
        from: 1,
        cluster_id: 9,
    };
    f.wire("RaftMessageBatch", batch.encode_to_vec());
    f.wire("eraftpb.Message", raft_bytes(&msg));
    f.wire("eraftpb.Entry", raft_bytes(&entry));
    let mut cc = eraftpb::ConfChangeV2::default();
    let mut single = eraftpb::ConfChangeSingle {
        node_id: 3,
        ..Default::default()
    };
    single.set_change_type(eraftpb::ConfChangeType::AddLearnerNode);
    cc.set_changes(vec![single].into());
    cc.context = b"http://10.0.0.3:2380".to_vec().into();
    f.wire("eraftpb.ConfChangeV2", raft_bytes(&cc));
    let mut snap = eraftpb::Message::default();
    snap.set_msg_type(eraftpb::MessageType::MsgSnapshot);
    snap.mut_snapshot().mut_metadata().index = 40;
    let chunk = oxcd_proto::oxcdpb::SnapshotChunk {
        message: raft_bytes(&snap),
        data: b"checkpoint bytes".to_vec(),
        file: "mem-backend.snapshot".into(),
        cluster_id: 9,
    };
    f.wire("SnapshotChunk", chunk.encode_to_vec());
    f.files
}

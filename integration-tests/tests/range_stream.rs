//! `KV.RangeStream` (etcd 3.7) on oxcd: for every option of a RangeRequest — sorts and
//! revision filters included, which etcd 3.7 refuses — the stream's key-values, in order,
//! with the last message's `count`, `more` and header revision, equal what `Range`
//! answers for the same request; a large range arrives in several messages; and the stream
//! is one view at one revision even while writes go on between its messages.
//!
//! A large unary Range is itself streamed from the store (crates/server/src/grpc/range_body.rs)
//! unless it needs a sort or a filter, so these comparisons also hold that path to the
//! buffered one and to RangeStream; `diff_kv` holds both to etcd.
//!
//! etcd 3.4.23 has no RangeStream, so this runs on oxcd only.

use oxcd_integration_tests::grpc::{channel, runtime};
use oxcd_integration_tests::{Kind, Server, ServerOpts};
use oxcd_proto::etcdserverpb::kv_client::KvClient;
use oxcd_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use oxcd_proto::etcdserverpb::{
    CompactionRequest, DeleteRangeRequest, PutRequest, RangeRequest, RangeResponse,
};
use tonic::transport::Channel;

/// Keys written: more than two RangeStream pages.
const KEYS: usize = 2600;

fn key(i: usize) -> Vec<u8> {
    format!("k/{i:05}").into_bytes()
}

/// A history with several versions per key, deletions and a compaction; returns the
/// revision after the first pass (still readable).
async fn history(kv: &mut KvClient<Channel>) -> i64 {
    let mut first_pass = 0;
    for round in 0..3usize {
        for i in (0..KEYS).filter(|i| round == 0 || i % (round * 3 + 1) == 0) {
            // Values in an order unlike the keys', so that value sorts mean something.
            let value = format!("v{:04}-{round}", (i * 7919) % 10_000).into_bytes();
            let put = PutRequest {
                key: key(i),
                value,
                ..Default::default()
            };
            let resp = kv.put(put).await.expect("put").into_inner();
            if round == 0 {
                first_pass = resp.header.map_or(0, |h| h.revision);
            }
        }
    }
    for i in (0..KEYS).step_by(11) {
        let del = DeleteRangeRequest {
            key: key(i),
            ..Default::default()
        };
        kv.delete_range(del).await.expect("delete");
    }
    kv.compact(CompactionRequest {
        revision: first_pass / 2,
        physical: true,
    })
    .await
    .expect("compact");
    first_pass
}

/// The stream's messages folded into one response, and how many messages it took; only
/// the last message may carry a header, `count` or `more`.
async fn stream(kv: &mut KvClient<Channel>, req: RangeRequest) -> (RangeResponse, usize) {
    let mut messages = kv
        .range_stream(req)
        .await
        .expect("range_stream")
        .into_inner();
    let mut whole = RangeResponse::default();
    let mut n = 0;
    while let Some(msg) = messages.message().await.expect("message") {
        let part = msg.range_response.expect("range_response");
        assert!(
            whole.header.is_none(),
            "a message after the one with the header"
        );
        n += 1;
        whole.kvs.extend(part.kvs);
        whole.header = part.header;
        whole.count = part.count;
        whole.more = part.more;
    }
    assert!(
        whole.header.is_some(),
        "the last message carries the header"
    );
    (whole, n)
}

fn sorted(target: SortTarget, order: SortOrder) -> RangeRequest {
    RangeRequest {
        key: b"k/".to_vec(),
        range_end: b"k0".to_vec(),
        sort_target: target as i32,
        sort_order: order as i32,
        ..Default::default()
    }
}

fn requests(old: i64) -> Vec<(&'static str, RangeRequest)> {
    let all = RangeRequest {
        key: b"k/".to_vec(),
        range_end: b"k0".to_vec(),
        ..Default::default()
    };
    vec![
        ("whole prefix", all.clone()),
        (
            "from key",
            RangeRequest {
                key: key(100),
                range_end: vec![0],
                ..Default::default()
            },
        ),
        (
            "one key",
            RangeRequest {
                key: key(5),
                ..Default::default()
            },
        ),
        (
            "limit across pages",
            RangeRequest {
                limit: 1500,
                ..all.clone()
            },
        ),
        (
            "limit inside a page",
            RangeRequest {
                limit: 7,
                ..all.clone()
            },
        ),
        (
            "keys only",
            RangeRequest {
                keys_only: true,
                ..all.clone()
            },
        ),
        (
            "count only",
            RangeRequest {
                count_only: true,
                ..all.clone()
            },
        ),
        (
            "at an old revision",
            RangeRequest {
                revision: old,
                ..all.clone()
            },
        ),
        (
            "key descending",
            sorted(SortTarget::Key, SortOrder::Descend),
        ),
        (
            "key descending, limit",
            RangeRequest {
                limit: 1200,
                ..sorted(SortTarget::Key, SortOrder::Descend)
            },
        ),
        (
            "version ascending",
            sorted(SortTarget::Version, SortOrder::Ascend),
        ),
        (
            "mod descending, limit",
            RangeRequest {
                limit: 10,
                ..sorted(SortTarget::Mod, SortOrder::Descend)
            },
        ),
        (
            "create ascending",
            sorted(SortTarget::Create, SortOrder::Ascend),
        ),
        (
            "value descending",
            sorted(SortTarget::Value, SortOrder::Descend),
        ),
        (
            "value, keys only",
            RangeRequest {
                keys_only: true,
                ..sorted(SortTarget::Value, SortOrder::Ascend)
            },
        ),
        (
            "value target, order none, limit (etcd's pushdown)",
            RangeRequest {
                limit: 3,
                ..sorted(SortTarget::Value, SortOrder::None)
            },
        ),
        (
            "min mod revision",
            RangeRequest {
                min_mod_revision: old,
                ..all.clone()
            },
        ),
        (
            "max create revision, limit",
            RangeRequest {
                max_create_revision: old / 2,
                limit: 1100,
                ..all.clone()
            },
        ),
        (
            "filters and a sort",
            RangeRequest {
                min_create_revision: 10,
                max_mod_revision: old,
                ..sorted(SortTarget::Mod, SortOrder::Descend)
            },
        ),
    ]
}

#[test]
fn range_stream_answers_what_range_answers_for_every_option() {
    let server = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    runtime().block_on(async {
        let ch = channel(&server.endpoint()).await;
        let mut kv = KvClient::new(ch).max_decoding_message_size(usize::MAX);
        let old = history(&mut kv).await;
        for (what, req) in requests(old) {
            let range = kv.range(req.clone()).await.expect("range").into_inner();
            let (streamed, messages) = stream(&mut kv, req).await;
            assert_eq!(streamed.kvs.len(), range.kvs.len(), "{what}: number of kvs");
            assert!(streamed.kvs == range.kvs, "{what}: kvs differ");
            assert_eq!(
                (streamed.count, streamed.more),
                (range.count, range.more),
                "{what}: count and more"
            );
            let rev = |r: &RangeResponse| r.header.as_ref().map(|h| h.revision);
            assert_eq!(rev(&streamed), rev(&range), "{what}: header revision");
            let pages = range.kvs.len().div_ceil(256).max(1); // range_stream::PAGE
            assert_eq!(messages, pages, "{what}: messages");
        }
        // A compacted revision is refused before any message, as Range refuses it.
        let compacted = RangeRequest {
            key: b"k/".to_vec(),
            range_end: b"k0".to_vec(),
            revision: 1,
            ..Default::default()
        };
        let err = kv.range_stream(compacted).await.expect_err("compacted");
        assert_eq!(
            err.message(),
            "etcdserver: mvcc: required revision has been compacted"
        );
    });
}

#[test]
fn range_stream_is_one_view_while_writes_go_on() {
    let server = Server::start(Kind::Oxcd, ServerOpts::default()).expect("start oxcd");
    runtime().block_on(async {
        let ch = channel(&server.endpoint()).await;
        let mut kv = KvClient::new(ch.clone()).max_decoding_message_size(usize::MAX);
        let mut writer = KvClient::new(ch);
        for i in 0..KEYS {
            let put = PutRequest {
                key: key(i),
                value: b"before".to_vec(),
                ..Default::default()
            };
            kv.put(put).await.expect("put");
        }
        let all = RangeRequest {
            key: b"k/".to_vec(),
            range_end: b"k0".to_vec(),
            ..Default::default()
        };
        let mut messages = kv
            .range_stream(all.clone())
            .await
            .expect("range_stream")
            .into_inner();
        let first = messages
            .message()
            .await
            .expect("message")
            .expect("a first message")
            .range_response
            .expect("range_response");
        // Every key changes, and new keys appear, before the rest is read.
        for i in (0..KEYS).chain(KEYS..KEYS + 50) {
            let put = PutRequest {
                key: key(i),
                value: b"after".to_vec(),
                ..Default::default()
            };
            writer.put(put).await.expect("put");
        }
        let mut kvs = first.kvs;
        let mut last = None;
        while let Some(msg) = messages.message().await.expect("message") {
            let part = msg.range_response.expect("range_response");
            let mut part = part;
            kvs.append(&mut part.kvs);
            last = Some(part);
        }
        let last = last.expect("more than one message");
        let revision = last.header.expect("header").revision;
        assert_eq!(kvs.len(), KEYS);
        assert!(kvs.iter().all(|kv| kv.value.as_ref() == &b"before"[..]));
        assert_eq!(last.count, KEYS as i64);
        let then = kv
            .range(RangeRequest { revision, ..all })
            .await
            .expect("range")
            .into_inner();
        assert!(
            then.kvs == kvs,
            "the stream is the range at its header revision"
        );
    });
}

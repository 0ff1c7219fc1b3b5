//! `KV.RangeStream` (etcd 3.7) in bounded memory: the range is read a page at a time, at
//! one revision, as the client consumes the stream, so a range of any size costs the server
//! about one page of values.
//!
//! - Key order (no sort, or KEY ascending or descending) without revision filters: pages of
//!   [`PAGE`] key-values read straight from the store, each continuing after the last key
//!   sent.
//! - Any other order, or revision filters (which etcd 3.7 refuses as Unimplemented): the
//!   store answers the request keys-only first (its filters, sort and limit, exactly as
//!   `Range` applies them; values are dropped as they are read unless the sort is by value),
//!   then the values of the chosen keys are read a page at a time, in that order.
//!
//! EVERY READ IS SERVED AT THE REVISION OF THE FIRST ONE, so the stream is one consistent
//! view whose kvs equal what `Range` answers for the same request; a compaction past that
//! revision ends the stream with etcd's `Compacted` error. `header`, `more` and `count`
//! ride on the last message, as in etcd 3.7.

use std::sync::Arc;

use futures::Stream;
use oxcd_mvcc::{KvStore, MvccError};
use oxcd_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use oxcd_proto::etcdserverpb::{RangeRequest, RangeResponse, RangeStreamResponse, ResponseHeader};
use oxcd_proto::mvccpb::KeyValue;
use tonic::Status;

use crate::error::ServerError;

/// Key-values per message (256 values of 10 KiB are a 2.5 MiB message).
pub const PAGE: usize = 256;

/// Where the next page comes from.
enum Cursor {
    /// Straight from the store in key order: the next page starts at `from` (ascending) or
    /// ends before `to` (descending).
    Scan {
        from: Vec<u8>,
        to: Vec<u8>,
        descending: bool,
        keys_only: bool,
        /// Key-values still allowed by the request's limit.
        remaining: usize,
    },
    /// The chosen keys in their order, without values; `fill` reads their values.
    Chosen {
        kvs: std::vec::IntoIter<KeyValue>,
        fill: bool,
    },
    Done,
}

/// A RangeStream in progress.
pub struct RangePages {
    kv: Arc<KvStore>,
    /// The revision every page is read at.
    at: i64,
    cursor: Cursor,
    /// The last message's fields.
    header: Option<ResponseHeader>,
    more: bool,
    count: i64,
}

impl RangePages {
    /// Reads the first answer for `req` (its count, or the chosen keys): errors such as a
    /// compacted or future revision come from here, before any message is sent. `header`
    /// makes the last message's header from the revision the stream is served at.
    pub fn start(
        kv: Arc<KvStore>,
        req: &RangeRequest,
        header: impl FnOnce(i64) -> Option<ResponseHeader>,
    ) -> Result<Self, MvccError> {
        // Another target sorts even with order NONE (as `Range` does, etcd 3.4's quirk).
        let key_order = req.sort_target == SortTarget::Key as i32;
        let filtered = req.min_mod_revision != 0
            || req.max_mod_revision != 0
            || req.min_create_revision != 0
            || req.max_create_revision != 0;
        if key_order && !filtered && !req.count_only {
            let counted = kv.range(&RangeRequest {
                count_only: true,
                ..req.clone()
            })?;
            let at = if req.revision > 0 {
                req.revision
            } else {
                counted.revision
            };
            let descending = req.sort_order == SortOrder::Descend as i32;
            return Ok(Self {
                kv,
                at,
                cursor: Cursor::Scan {
                    from: req.key.clone(),
                    to: req.range_end.clone(),
                    descending,
                    keys_only: req.keys_only,
                    remaining: usize::try_from(req.limit)
                        .ok()
                        .filter(|l| *l > 0)
                        .unwrap_or(usize::MAX),
                },
                header: header(counted.revision),
                more: false,
                count: counted.count,
            });
        }
        let chosen = kv.range_once(&RangeRequest {
            keys_only: true,
            ..req.clone()
        })?;
        let at = if req.revision > 0 {
            req.revision
        } else {
            chosen.revision
        };
        // Sorted by value, the keys-only answer read the values to sort and dropped them;
        // either way they are read again a page at a time.
        Ok(Self {
            kv,
            at,
            cursor: Cursor::Chosen {
                kvs: chosen.kvs.into_iter(),
                fill: !req.keys_only && !req.count_only,
            },
            header: header(chosen.revision),
            more: chosen.more,
            count: chosen.count,
        })
    }

    /// The stream of messages; each page is read on a blocking thread.
    pub fn into_stream(self) -> impl Stream<Item = Result<RangeStreamResponse, Status>> {
        futures::stream::unfold(Some(self), |pages| async move {
            let mut pages = pages?;
            let read = tokio::task::spawn_blocking(move || {
                let page = pages.next_page();
                (pages, page)
            })
            .await;
            let (mut pages, page) = match read {
                Ok(r) => r,
                Err(e) => return Some((Err(Status::internal(e.to_string())), None)),
            };
            let kvs = match page {
                Ok(kvs) => kvs,
                Err(e) => return Some((Err(ServerError::from(e).into()), None)),
            };
            let mut resp = RangeResponse {
                kvs,
                ..Default::default()
            };
            if matches!(pages.cursor, Cursor::Done) {
                resp.header = pages.header.take();
                resp.more = pages.more;
                resp.count = pages.count;
                let last = RangeStreamResponse {
                    range_response: Some(resp),
                };
                return Some((Ok(last), None));
            }
            let msg = RangeStreamResponse {
                range_response: Some(resp),
            };
            Some((Ok(msg), Some(pages)))
        })
    }

    /// The next page's key-values; the cursor is `Done` after the last one.
    fn next_page(&mut self) -> Result<Vec<KeyValue>, MvccError> {
        match &mut self.cursor {
            Cursor::Done => Ok(Vec::new()),
            Cursor::Chosen { kvs, fill } => {
                let page: Vec<KeyValue> = kvs.by_ref().take(PAGE).collect();
                let page = if *fill {
                    values_at(&self.kv, self.at, page)?
                } else {
                    page
                };
                if kvs.len() == 0 {
                    self.cursor = Cursor::Done;
                }
                Ok(page)
            }
            Cursor::Scan {
                from,
                to,
                descending,
                keys_only,
                remaining,
            } => {
                let limit = PAGE.min(*remaining);
                let mut req = RangeRequest {
                    key: from.clone(),
                    range_end: to.clone(),
                    revision: self.at,
                    limit: i64::try_from(limit).unwrap_or(i64::MAX),
                    keys_only: *keys_only,
                    ..Default::default()
                };
                if *descending {
                    req.sort_order = SortOrder::Descend as i32;
                    req.sort_target = SortTarget::Key as i32;
                }
                let res = self.kv.range_once(&req)?;
                *remaining -= res.kvs.len();
                match res.kvs.last() {
                    Some(last) if *descending => *to = last.key.to_vec(),
                    Some(last) => {
                        *from = last.key.to_vec();
                        from.push(0);
                    }
                    None => {}
                }
                if res.more && *remaining == 0 {
                    self.more = true;
                }
                if !res.more || *remaining == 0 || res.kvs.is_empty() {
                    self.cursor = Cursor::Done;
                }
                Ok(res.kvs)
            }
        }
    }
}

/// `page`'s key-values with their values, read at revision `at`.
fn values_at(kv: &KvStore, at: i64, page: Vec<KeyValue>) -> Result<Vec<KeyValue>, MvccError> {
    page.into_iter()
        .map(|chosen| {
            let req = RangeRequest {
                key: chosen.key.to_vec(),
                revision: at,
                ..Default::default()
            };
            // The key was live at `at`; only a compaction can take it away, and that read
            // fails with Compacted rather than answering nothing.
            kv.range_once(&req)?.kvs.pop().ok_or(MvccError::Compacted)
        })
        .collect()
}

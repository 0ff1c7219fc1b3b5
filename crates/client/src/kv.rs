//! [`Kv`]: Range, Put, DeleteRange, Txn and Compact, with option builders and the txn
//! builder ([`Txn`], [`Compare`], [`TxnOp`]).

use oxcd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use oxcd_proto::etcdserverpb::kv_client::KvClient;
use oxcd_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use oxcd_proto::etcdserverpb::request_op::Request as Op;
use oxcd_proto::etcdserverpb::{
    self as pb, CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse,
    PutRequest, PutResponse, RangeRequest, RangeResponse, RequestOp, TxnRequest, TxnResponse,
};

use crate::client::{Client, Retry};
use crate::error::Error;
use crate::namespace;

/// The range end that selects every key starting with `key` (`"\0"`, every key, for an
/// empty `key` or one of `0xff` bytes only), as clientv3's `GetPrefixRangeEnd`.
pub fn prefix_end(key: &[u8]) -> Vec<u8> {
    let mut end = key.to_vec();
    while let Some(last) = end.last_mut() {
        if *last < 0xff {
            *last += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

/// Options of a get (Range). Build with the `with_*` methods from [`GetOptions::new`].
#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    range_end: Option<Vec<u8>>,
    prefix: bool,
    from_key: bool,
    limit: i64,
    revision: i64,
    serializable: bool,
    keys_only: bool,
    count_only: bool,
    sort: Option<(SortTarget, SortOrder)>,
}

impl GetOptions {
    /// A plain get of one key at the latest revision, linearizable.
    pub fn new() -> Self {
        Self::default()
    }
    /// Every key starting with the key.
    pub fn with_prefix(mut self) -> Self {
        self.prefix = true;
        self
    }
    /// Every key greater than or equal to the key.
    pub fn with_from_key(mut self) -> Self {
        self.from_key = true;
        self
    }
    /// The keys in `[key, end)`.
    pub fn with_range_end(mut self, end: impl Into<Vec<u8>>) -> Self {
        self.range_end = Some(end.into());
        self
    }
    /// At most `limit` keys (0: no limit).
    pub fn with_limit(mut self, limit: i64) -> Self {
        self.limit = limit;
        self
    }
    /// Read at `revision` (0: the latest).
    pub fn with_revision(mut self, revision: i64) -> Self {
        self.revision = revision;
        self
    }
    /// A serializable read: served by the member from its local state, without consensus.
    pub fn with_serializable(mut self) -> Self {
        self.serializable = true;
        self
    }
    /// Keys without values.
    pub fn with_keys_only(mut self) -> Self {
        self.keys_only = true;
        self
    }
    /// Only the count of keys.
    pub fn with_count_only(mut self) -> Self {
        self.count_only = true;
        self
    }
    /// Sorted by `target` in `order`.
    pub fn with_sort(mut self, target: SortTarget, order: SortOrder) -> Self {
        self.sort = Some((target, order));
        self
    }

    fn range_end(&self, key: &[u8]) -> Vec<u8> {
        if let Some(end) = &self.range_end {
            end.clone()
        } else if self.prefix {
            prefix_end(key)
        } else if self.from_key {
            vec![0]
        } else {
            Vec::new()
        }
    }

    /// The RangeRequest for `key`. As in clientv3, an empty key with `prefix` or
    /// `from_key` means every key (`["\0", "\0")`).
    pub fn request(&self, key: impl Into<Vec<u8>>) -> RangeRequest {
        let mut key = key.into();
        let range_end = self.range_end(&key);
        if key.is_empty() && (self.prefix || self.from_key) {
            key = vec![0];
        }
        let (target, order) = self.sort.unwrap_or((SortTarget::Key, SortOrder::None));
        RangeRequest {
            range_end,
            key,
            limit: self.limit,
            revision: self.revision,
            sort_order: order as i32,
            sort_target: target as i32,
            serializable: self.serializable,
            keys_only: self.keys_only,
            count_only: self.count_only,
            ..RangeRequest::default()
        }
    }
}

/// Options of a put.
#[derive(Debug, Clone, Default)]
pub struct PutOptions {
    /// Attach the key to this lease (0: none).
    pub lease: i64,
    /// Return the previous key-value pair.
    pub prev_kv: bool,
    /// Keep the key's current value (the value given must be empty; the key must exist).
    pub ignore_value: bool,
    /// Keep the key's current lease (`lease` must be 0; the key must exist).
    pub ignore_lease: bool,
}

impl PutOptions {
    /// The PutRequest for `key` and `value`.
    pub fn request(&self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> PutRequest {
        PutRequest {
            key: key.into(),
            value: value.into(),
            lease: self.lease,
            prev_kv: self.prev_kv,
            ignore_value: self.ignore_value,
            ignore_lease: self.ignore_lease,
        }
    }
}

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Delete every key starting with the key.
    pub prefix: bool,
    /// Return the deleted key-value pairs.
    pub prev_kv: bool,
    /// Delete every key greater than or equal to the key (ignored with `prefix`).
    pub from_key: bool,
    /// Delete `[key, range_end)` (ignored with `prefix` or `from_key`).
    pub range_end: Option<Vec<u8>>,
}

impl DeleteOptions {
    /// The DeleteRangeRequest for `key`.
    /// As in clientv3, an empty key with `prefix` or `from_key` means every key.
    pub fn request(&self, key: impl Into<Vec<u8>>) -> DeleteRangeRequest {
        let mut key = key.into();
        let range_end = if self.prefix {
            prefix_end(&key)
        } else if self.from_key {
            vec![0]
        } else {
            self.range_end.clone().unwrap_or_default()
        };
        if key.is_empty() && (self.prefix || self.from_key) {
            key = vec![0];
        }
        DeleteRangeRequest {
            range_end,
            key,
            prev_kv: self.prev_kv,
        }
    }
}

/// The KV service of a [`Client`].
#[derive(Debug, Clone)]
pub struct Kv {
    client: Client,
}

impl Kv {
    pub(crate) fn new(client: Client) -> Self {
        Kv { client }
    }

    /// Reads `key` (or a range, per `options`). Retried on another endpoint when
    /// unavailable (a read is immutable).
    pub async fn get(
        &self,
        key: impl Into<Vec<u8>>,
        options: GetOptions,
    ) -> Result<RangeResponse, Error> {
        self.range(options.request(key)).await
    }

    /// Sends a prepared RangeRequest (retried like [`Kv::get`]).
    pub async fn range(&self, req: RangeRequest) -> Result<RangeResponse, Error> {
        let ns = self.client.namespace();
        let req = namespace::range(ns, req)?;
        let mut resp = self
            .client
            .call(Retry::Repeatable, |svc| {
                let req = req.clone();
                async move { KvClient::new(svc).range(req).await }
            })
            .await?;
        namespace::strip_range(ns, &mut resp);
        Ok(resp)
    }

    /// Writes `key` = `value`. Never resent after it may have reached a server.
    pub async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        options: PutOptions,
    ) -> Result<PutResponse, Error> {
        self.put_request(options.request(key, value)).await
    }

    /// Sends a prepared PutRequest (never resent, like [`Kv::put`]).
    pub async fn put_request(&self, req: PutRequest) -> Result<PutResponse, Error> {
        let ns = self.client.namespace();
        let req = namespace::put(ns, req)?;
        let mut resp = self
            .client
            .call(Retry::NonRepeatable, |svc| {
                let req = req.clone();
                async move { KvClient::new(svc).put(req).await }
            })
            .await?;
        namespace::strip_put(ns, &mut resp);
        Ok(resp)
    }

    /// Deletes `key` (or every key under it with `prefix`). Never resent.
    pub async fn delete(
        &self,
        key: impl Into<Vec<u8>>,
        options: DeleteOptions,
    ) -> Result<DeleteRangeResponse, Error> {
        self.delete_request(options.request(key)).await
    }

    /// Sends a prepared DeleteRangeRequest (never resent, like [`Kv::delete`]).
    pub async fn delete_request(
        &self,
        req: DeleteRangeRequest,
    ) -> Result<DeleteRangeResponse, Error> {
        let ns = self.client.namespace();
        let req = namespace::delete(ns, req)?;
        let mut resp = self
            .client
            .call(Retry::NonRepeatable, |svc| {
                let req = req.clone();
                async move { KvClient::new(svc).delete_range(req).await }
            })
            .await?;
        namespace::strip_delete(ns, &mut resp);
        Ok(resp)
    }

    /// Starts a transaction: `kv.txn().when([..]).and_then([..]).or_else([..]).commit()`.
    pub fn txn(&self) -> Txn {
        Txn {
            client: self.client.clone(),
            req: TxnRequest::default(),
        }
    }

    /// Compacts the key-value history up to `revision`. Never resent.
    pub async fn compact(&self, revision: i64) -> Result<CompactionResponse, Error> {
        self.compact_with(revision, false).await
    }

    /// Compacts up to `revision`; with `physical` the answer waits until the old
    /// revisions are removed from the backend. Never resent.
    pub async fn compact_with(
        &self,
        revision: i64,
        physical: bool,
    ) -> Result<CompactionResponse, Error> {
        let req = CompactionRequest { revision, physical };
        self.client
            .call(Retry::NonRepeatable, |svc| async move {
                KvClient::new(svc).compact(req).await
            })
            .await
    }
}

/// The comparison of a [`Compare`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `>`
    Greater,
    /// `<`
    Less,
}

impl CompareOp {
    fn result(self) -> CompareResult {
        match self {
            CompareOp::Equal => CompareResult::Equal,
            CompareOp::NotEqual => CompareResult::NotEqual,
            CompareOp::Greater => CompareResult::Greater,
            CompareOp::Less => CompareResult::Less,
        }
    }
}

/// One condition of a transaction.
#[derive(Debug, Clone)]
pub struct Compare(pb::Compare);

impl Compare {
    fn new(key: impl Into<Vec<u8>>, op: CompareOp, target: CompareTarget, u: TargetUnion) -> Self {
        Compare(pb::Compare {
            result: op.result() as i32,
            target: target as i32,
            key: key.into(),
            range_end: Vec::new(),
            target_union: Some(u),
        })
    }
    /// The key's value compared with `value`.
    pub fn value(key: impl Into<Vec<u8>>, op: CompareOp, value: impl Into<Vec<u8>>) -> Self {
        Self::new(
            key,
            op,
            CompareTarget::Value,
            TargetUnion::Value(value.into()),
        )
    }
    /// The key's last modification revision compared with `rev`.
    pub fn mod_revision(key: impl Into<Vec<u8>>, op: CompareOp, rev: i64) -> Self {
        Self::new(key, op, CompareTarget::Mod, TargetUnion::ModRevision(rev))
    }
    /// The key's creation revision compared with `rev` (0: the key does not exist).
    pub fn create_revision(key: impl Into<Vec<u8>>, op: CompareOp, rev: i64) -> Self {
        Self::new(
            key,
            op,
            CompareTarget::Create,
            TargetUnion::CreateRevision(rev),
        )
    }
    /// The key's version (number of puts since creation) compared with `version`.
    pub fn version(key: impl Into<Vec<u8>>, op: CompareOp, version: i64) -> Self {
        Self::new(
            key,
            op,
            CompareTarget::Version,
            TargetUnion::Version(version),
        )
    }
    /// The key's lease compared with `lease`.
    pub fn lease(key: impl Into<Vec<u8>>, op: CompareOp, lease: i64) -> Self {
        Self::new(key, op, CompareTarget::Lease, TargetUnion::Lease(lease))
    }
    /// Compare every key in `[key, end)` instead of the key alone.
    pub fn with_range_end(mut self, end: impl Into<Vec<u8>>) -> Self {
        self.0.range_end = end.into();
        self
    }
    /// The protobuf message.
    pub fn into_proto(self) -> pb::Compare {
        self.0
    }
}

/// One operation of a transaction branch.
#[derive(Debug, Clone)]
pub struct TxnOp(RequestOp);

impl TxnOp {
    /// A put.
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>, options: PutOptions) -> Self {
        TxnOp(RequestOp {
            request: Some(Op::RequestPut(options.request(key, value))),
        })
    }
    /// A get.
    pub fn get(key: impl Into<Vec<u8>>, options: GetOptions) -> Self {
        TxnOp(RequestOp {
            request: Some(Op::RequestRange(options.request(key))),
        })
    }
    /// A delete.
    pub fn delete(key: impl Into<Vec<u8>>, options: DeleteOptions) -> Self {
        TxnOp(RequestOp {
            request: Some(Op::RequestDeleteRange(options.request(key))),
        })
    }
    /// The protobuf message.
    pub fn into_proto(self) -> RequestOp {
        self.0
    }
    /// An operation from a prepared protobuf message.
    pub fn from_proto(op: RequestOp) -> Self {
        TxnOp(op)
    }
}

/// A transaction being built by [`Kv::txn`]; sent by [`Txn::commit`] (which moves it into
/// the client's namespace, if any).
#[derive(Debug, Clone)]
pub struct Txn {
    client: Client,
    req: TxnRequest,
}

impl Txn {
    /// Adds conditions (all must hold for the success branch).
    pub fn when(mut self, cmps: impl IntoIterator<Item = Compare>) -> Self {
        self.req.compare.extend(cmps.into_iter().map(|c| c.0));
        self
    }
    /// Adds operations run when every condition holds.
    pub fn and_then(mut self, ops: impl IntoIterator<Item = TxnOp>) -> Self {
        self.req.success.extend(ops.into_iter().map(|o| o.0));
        self
    }
    /// Adds operations run otherwise.
    pub fn or_else(mut self, ops: impl IntoIterator<Item = TxnOp>) -> Self {
        self.req.failure.extend(ops.into_iter().map(|o| o.0));
        self
    }
    /// The TxnRequest built so far.
    pub fn request(&self) -> &TxnRequest {
        &self.req
    }
    /// Sends the transaction. A read-only one (gets only) is retried on another endpoint
    /// when unavailable; one with a put or delete is never resent.
    pub async fn commit(self) -> Result<TxnResponse, Error> {
        let read_only = self
            .req
            .success
            .iter()
            .chain(&self.req.failure)
            .all(|op| matches!(op.request, Some(Op::RequestRange(_))));
        let retry = if read_only {
            Retry::Repeatable
        } else {
            Retry::NonRepeatable
        };
        let ns = self.client.namespace();
        let req = namespace::txn(ns, self.req);
        let mut resp = self
            .client
            .call(retry, |svc| {
                let req = req.clone();
                async move { KvClient::new(svc).txn(req).await }
            })
            .await?;
        namespace::strip_txn(ns, &mut resp);
        Ok(resp)
    }
}

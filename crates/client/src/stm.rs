//! [`Stm`]: software transactional memory over the KV service, with the isolation levels
//! and the behaviour of Go clientv3's `concurrency.NewSTM`.
//!
//! An attempt runs the caller's function on a fresh [`Stm`]: its reads go to the server
//! (each key once; the response, with the key's mod revision, is kept in the read set) and
//! its writes are buffered in the write set. The attempt then commits as ONE Txn whose
//! compares are the isolation level's conflict checks and whose success branch is the
//! write set; when a compare fails, the function runs again from scratch.
//!
//! | isolation | reads | conflict checks at commit |
//! |---|---|---|
//! | [`Isolation::SerializableSnapshot`] | first linearizable, then at its revision | every read key unchanged, and no written key modified after the first read |
//! | [`Isolation::Serializable`] | first linearizable, then at its revision | every read key unchanged |
//! | [`Isolation::RepeatableReads`] | serializable, each key once | every read key unchanged |
//! | [`Isolation::ReadCommitted`] | serializable, each key once | none |
//!
//! "Unchanged" is Go's `isKeyCurrent`: the key's mod revision is still the one read (0 for
//! a key that did not exist). The two serializable levels fetch the whole read set in the
//! commit's failure branch and start the next attempt from those values (a prefetch that
//! saves a round trip per key).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;

use oxcd_proto::etcdserverpb::response_op::Response;
use oxcd_proto::etcdserverpb::{RangeResponse, TxnResponse};

use crate::client::Client;
use crate::error::Error;
use crate::kv::{Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, TxnOp};

/// How STM transactions interfere, as Go's `concurrency.Isolation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Serializable, and a write conflicts with any change of the written key after the
    /// transaction's first read (Go's default).
    #[default]
    SerializableSnapshot,
    /// Reads within one attempt see the store at the revision of its first read; commits
    /// only if no key read has changed since.
    Serializable,
    /// Each key is read once per attempt (a serializable read); commits only if no key
    /// read has changed since.
    RepeatableReads,
    /// Reads see any committed revision; commits unconditionally.
    ReadCommitted,
}

impl Isolation {
    /// Whether reads after the first are pinned to its revision (and the read set is
    /// prefetched after a conflict).
    fn snapshot_reads(self) -> bool {
        matches!(
            self,
            Isolation::SerializableSnapshot | Isolation::Serializable
        )
    }
}

/// Options of [`Stm::run`].
#[derive(Debug, Clone, Default)]
pub struct StmOptions {
    /// The isolation level.
    pub isolation: Isolation,
    /// Keys read at the start of every attempt in one round trip (Go's `WithPrefetch`).
    pub prefetch: Vec<Vec<u8>>,
}

/// What the function given to [`Stm::run`] returns: a boxed future borrowing the [`Stm`].
pub type StmFuture<'a, E> = Pin<Box<dyn Future<Output = Result<(), E>> + Send + 'a>>;

/// One buffered write of the write set.
#[derive(Debug, Clone)]
struct Write {
    /// The value a later read in the same attempt sees (`None`: deleted).
    value: Option<Vec<u8>>,
    op: TxnOp,
}

/// One attempt of an STM transaction: the read set, the write set and the revision later
/// reads are made at. Given to the function of [`Stm::run`].
#[derive(Debug)]
pub struct Stm {
    client: Client,
    isolation: Isolation,
    /// Every key read in this attempt with the response it was read from.
    reads: HashMap<Vec<u8>, RangeResponse>,
    /// Every key written in this attempt (sorted, so the Txn is deterministic).
    writes: BTreeMap<Vec<u8>, Write>,
    /// For the snapshot levels, the revision of the attempt's first read once made.
    read_rev: Option<i64>,
    /// The read set fetched by the last failed commit, used by the next attempt's reads.
    prefetched: HashMap<Vec<u8>, RangeResponse>,
}

impl Stm {
    /// Runs `apply` as a transaction and retries it until it commits (Go's `NewSTM`).
    ///
    /// `apply` gets a fresh attempt each time (empty read and write sets), reads and writes
    /// through it and returns `Ok(())` to commit; an `Err` ends the transaction without
    /// writing anything and is returned as it is. The answer is the commit's
    /// [`TxnResponse`]. A failed call (a read or the commit) ends the transaction with
    /// that error: a commit that timed out may have been applied.
    ///
    /// ```no_run
    /// # async fn demo(client: oxcd_client::Client) -> Result<(), oxcd_client::Error> {
    /// use oxcd_client::{Stm, StmOptions, PutOptions};
    /// Stm::run(&client, StmOptions::default(), |stm| {
    ///     Box::pin(async move {
    ///         let n: u64 = match stm.get("counter").await? {
    ///             Some(v) => String::from_utf8_lossy(&v).parse().unwrap_or(0),
    ///             None => 0,
    ///         };
    ///         stm.put("counter", (n + 1).to_string(), PutOptions::default());
    ///         Ok::<(), oxcd_client::Error>(())
    ///     })
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn run<E, F>(
        client: &Client,
        options: StmOptions,
        mut apply: F,
    ) -> Result<TxnResponse, E>
    where
        E: From<Error>,
        F: for<'a> FnMut(&'a mut Stm) -> StmFuture<'a, E>,
    {
        let mut stm = Stm {
            client: client.clone(),
            isolation: options.isolation,
            reads: HashMap::new(),
            writes: BTreeMap::new(),
            read_rev: None,
            prefetched: HashMap::new(),
        };
        loop {
            stm.reads.clear();
            stm.writes.clear();
            stm.read_rev = None;
            if !options.prefetch.is_empty() {
                stm.get_all(&options.prefetch).await?;
            }
            apply(&mut stm).await?;
            if let Some(resp) = stm.commit().await? {
                return Ok(resp);
            }
        }
    }

    /// The isolation level of this transaction.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// The value of `key` (`None` when it does not exist or was deleted in this attempt):
    /// the attempt's own write if there is one, else the value read, reading it on first
    /// use and adding it to the read set.
    pub async fn get(&mut self, key: impl Into<Vec<u8>>) -> Result<Option<Vec<u8>>, Error> {
        let key = key.into();
        if let Some(w) = self.writes.get(&key) {
            return Ok(w.value.clone());
        }
        let resp = self.get_all(std::slice::from_ref(&key)).await?;
        Ok(resp.kvs.first().map(|kv| kv.value.to_vec()))
    }

    /// The mod revision of `key` as read in this attempt (0 when it does not exist),
    /// reading it on first use. A key only written in this attempt is read too.
    pub async fn rev(&mut self, key: impl Into<Vec<u8>>) -> Result<i64, Error> {
        let key = key.into();
        let resp = self.get_all(std::slice::from_ref(&key)).await?;
        Ok(resp.kvs.first().map_or(0, |kv| kv.mod_revision))
    }

    /// Buffers a put of `key` = `value` (sent at commit).
    pub fn put(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>, options: PutOptions) {
        let (key, value) = (key.into(), value.into());
        let op = TxnOp::put(key.clone(), value.clone(), options);
        self.writes.insert(
            key,
            Write {
                value: Some(value),
                op,
            },
        );
    }

    /// Buffers a delete of `key` (sent at commit).
    pub fn delete(&mut self, key: impl Into<Vec<u8>>) {
        let key = key.into();
        let op = TxnOp::delete(key.clone(), DeleteOptions::default());
        self.writes.insert(key, Write { value: None, op });
    }

    /// The read-set response of the first of `keys`, reading every key of `keys` not read
    /// yet in one read-only Txn (or taking it from the prefetched set). For the snapshot
    /// levels, the attempt's first read fixes the revision of the later ones.
    async fn get_all(&mut self, keys: &[Vec<u8>]) -> Result<&RangeResponse, Error> {
        let first_read = self.reads.is_empty();
        let mut missing = Vec::new();
        for key in keys {
            if self.reads.contains_key(key) {
                continue;
            }
            match self.prefetched.remove(key) {
                Some(resp) => {
                    self.reads.insert(key.clone(), resp);
                }
                None if !missing.contains(key) => missing.push(key.clone()),
                None => {}
            }
        }
        if !missing.is_empty() {
            let options = self.read_options();
            let gets = missing
                .iter()
                .map(|k| TxnOp::get(k.clone(), options.clone()));
            let resp = self.client.kv().txn().and_then(gets).commit().await?;
            self.add_reads(&missing, resp);
        }
        let resp = self.reads.get(&keys[0]).ok_or_else(|| {
            Error::Status(tonic::Status::internal(
                "a read-only txn answered without a range response",
            ))
        })?;
        if first_read && self.isolation.snapshot_reads() {
            self.read_rev = Some(resp.header.map_or(0, |h| h.revision));
        }
        Ok(resp)
    }

    /// The options of a read: serializable, and for the snapshot levels at the first read's
    /// revision once it is made (linearizable before).
    fn read_options(&self) -> GetOptions {
        match (self.isolation.snapshot_reads(), self.read_rev) {
            (true, None) => GetOptions::new(),
            (true, Some(rev)) => GetOptions::new().with_revision(rev).with_serializable(),
            (false, _) => GetOptions::new().with_serializable(),
        }
    }

    /// Adds the range responses of a read Txn (one per key of `keys`, in order) to the
    /// read set; a nested response without a header takes the Txn's.
    fn add_reads(&mut self, keys: &[Vec<u8>], resp: TxnResponse) {
        for (key, r) in keys.iter().zip(resp.responses) {
            if let Some(Response::ResponseRange(mut range)) = r.response {
                if range.header.is_none() {
                    range.header = resp.header;
                }
                self.reads.insert(key.clone(), range);
            }
        }
    }

    /// The conflict checks of the isolation level.
    fn conflicts(&self) -> Vec<Compare> {
        if self.isolation == Isolation::ReadCommitted {
            return Vec::new();
        }
        let mut cmps: Vec<Compare> = self
            .reads
            .iter()
            .map(|(key, resp)| {
                let rev = resp.kvs.first().map_or(0, |kv| kv.mod_revision);
                Compare::mod_revision(key.clone(), CompareOp::Equal, rev)
            })
            .collect();
        if self.isolation == Isolation::SerializableSnapshot {
            // No written key modified after the first read (Go's `rset.first() + 1`).
            let first = self
                .reads
                .values()
                .map(|r| r.header.map_or(0, |h| h.revision))
                .min()
                .unwrap_or(i64::MAX - 1);
            cmps.extend(
                self.writes
                    .keys()
                    .map(|k| Compare::mod_revision(k.clone(), CompareOp::Less, first + 1)),
            );
        }
        cmps
    }

    /// Commits the attempt: `Some` when it succeeded, `None` on a conflict (the snapshot
    /// levels then keep the fresh read set for the next attempt).
    async fn commit(&mut self) -> Result<Option<TxnResponse>, Error> {
        let writes = self.writes.values().map(|w| w.op.clone());
        let mut txn = self
            .client
            .kv()
            .txn()
            .when(self.conflicts())
            .and_then(writes);
        let keys: Vec<Vec<u8>> = self.reads.keys().cloned().collect();
        let snapshot = self.isolation.snapshot_reads();
        if snapshot {
            txn = txn.or_else(
                keys.iter()
                    .map(|k| TxnOp::get(k.clone(), GetOptions::new())),
            );
        }
        let resp = txn.commit().await?;
        if resp.succeeded {
            return Ok(Some(resp));
        }
        if snapshot {
            self.reads.clear();
            self.add_reads(&keys, resp);
            self.prefetched = std::mem::take(&mut self.reads);
            self.read_rev = None;
        }
        Ok(None)
    }
}

//! Go clientv3's `concurrency` package, with its key layout so that oxcd-client and Go
//! programs (etcdctl's `lock` and `elect`) interoperate: a [`Session`] is a lease kept
//! alive; a [`Mutex`] or an [`Election`] named `name` puts the key `name/<lease in hex>`
//! (lower-case `%x`, no padding) attached to the session's lease, and the key with the
//! lowest create revision under `name/` owns it. A waiter waits for the deletion of every
//! key created before its own.

use oxcd_proto::etcdserverpb::{RangeRequest, RangeResponse, ResponseHeader};
use oxcd_proto::mvccpb::event::EventType;

use crate::client::Client;
use crate::error::Error;
use crate::kv::{Compare, CompareOp, DeleteOptions, GetOptions, PutOptions, TxnOp};
use crate::lease::{KeeperState, LeaseKeeper};
use crate::watch::WatchOptions;
use crate::{SortOrder, SortTarget};

/// A lease kept alive in the background for as long as the session lives.
#[derive(Debug)]
pub struct Session {
    client: Client,
    keeper: LeaseKeeper,
}

impl Session {
    /// Grants a lease of `ttl` seconds and keeps it alive (clientv3's default TTL is 60).
    pub async fn new(client: &Client, ttl: i64) -> Result<Session, Error> {
        let id = client.lease().grant(ttl, 0).await?.id;
        Ok(Session {
            client: client.clone(),
            keeper: client.lease().keep_alive(id),
        })
    }

    /// The session's lease ID.
    pub fn lease(&self) -> i64 {
        self.keeper.id()
    }

    /// The client the session was made with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Waits until the lease is lost (expired or revoked).
    pub async fn done(&mut self) {
        self.keeper.lost().await
    }

    /// Whether the lease is known to be lost.
    pub fn is_lost(&self) -> bool {
        self.keeper.state() == KeeperState::Lost
    }

    /// The key a session puts under `prefix` (`prefix/<lease in hex>`).
    fn key(&self, prefix: &str) -> Vec<u8> {
        format!("{prefix}/{:x}", self.lease()).into_bytes()
    }
}

/// `Get(prefix, WithPrefix, sorted by create revision in `order`, limit 1)`, optionally
/// only keys created at or before `max_create`.
fn first_created(prefix: &str, order: SortOrder, max_create: i64) -> RangeRequest {
    let mut req = GetOptions::new()
        .with_prefix()
        .with_sort(SortTarget::Create, order)
        .with_limit(1)
        .request(format!("{prefix}/"));
    req.max_create_revision = max_create;
    req
}

/// Waits until no key under `prefix/` created at or before `max_create` is left
/// (clientv3's waitDeletes); the header of the last read.
async fn wait_deletes(
    client: &Client,
    prefix: &str,
    max_create: i64,
) -> Result<Option<ResponseHeader>, Error> {
    loop {
        let resp = client
            .kv()
            .range(first_created(prefix, SortOrder::Descend, max_create))
            .await?;
        let Some(last) = resp.kvs.first() else {
            return Ok(resp.header);
        };
        let rev = resp.header.map_or(0, |h| h.revision);
        wait_delete(client, last.key.to_vec(), rev).await?;
    }
}

/// Waits for a delete of `key` at or after revision `rev`.
async fn wait_delete(client: &Client, key: Vec<u8>, rev: i64) -> Result<(), Error> {
    let options = WatchOptions {
        start_revision: rev,
        ..WatchOptions::default()
    };
    let mut w = client.watch(key, options).await?;
    while let Some(resp) = w.next().await {
        if resp?
            .events
            .iter()
            .any(|e| e.r#type == EventType::Delete as i32)
        {
            return Ok(());
        }
    }
    Err(Error::WatchCanceled(
        "watch ended before the key was deleted".into(),
    ))
}

/// A distributed lock held by a [`Session`] (clientv3's `concurrency.Mutex`).
#[derive(Debug)]
pub struct Mutex {
    client: Client,
    key: Vec<u8>,
    header: Option<ResponseHeader>,
}

impl Mutex {
    /// Acquires the lock `name` for `session`, waiting while older holders exist.
    pub async fn lock(session: &Session, name: &str) -> Result<Mutex, Error> {
        let client = session.client().clone();
        let key = session.key(name);
        let put = PutOptions {
            lease: session.lease(),
            ..PutOptions::default()
        };
        let owner = TxnOp::from_proto(oxcd_proto::etcdserverpb::RequestOp {
            request: Some(oxcd_proto::etcdserverpb::request_op::Request::RequestRange(
                first_created(name, SortOrder::Ascend, 0),
            )),
        });
        let resp = client
            .kv()
            .txn()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), "", put), owner.clone()])
            .or_else([TxnOp::get(key.clone(), GetOptions::new()), owner])
            .commit()
            .await?;
        let range = |i: usize| -> Option<&RangeResponse> {
            match resp.responses.get(i)?.response.as_ref()? {
                oxcd_proto::etcdserverpb::response_op::Response::ResponseRange(r) => Some(r),
                _ => None,
            }
        };
        let mut my_rev = resp.header.map_or(0, |h| h.revision);
        if !resp.succeeded {
            my_rev = range(0)
                .and_then(|r| r.kvs.first())
                .map_or(my_rev, |kv| kv.create_revision);
        }
        let owner_rev = range(1)
            .and_then(|r| r.kvs.first())
            .map(|kv| kv.create_revision);
        let mut m = Mutex {
            client: client.clone(),
            key,
            header: resp.header,
        };
        if owner_rev.is_none_or(|r| r == my_rev) {
            return Ok(m);
        }
        match wait_deletes(&client, name, my_rev - 1).await {
            Ok(h) => {
                m.header = h;
                Ok(m)
            }
            Err(e) => {
                let _ = m.unlock().await;
                Err(e)
            }
        }
    }

    /// The lock's key (`name/<lease in hex>`).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The header of the response that completed the acquisition.
    pub fn header(&self) -> Option<&ResponseHeader> {
        self.header.as_ref()
    }

    /// Releases the lock (deletes its key).
    pub async fn unlock(&mut self) -> Result<(), Error> {
        self.client
            .kv()
            .delete(self.key.clone(), DeleteOptions::default())
            .await?;
        Ok(())
    }
}

/// A leader election (clientv3's `concurrency.Election`).
#[derive(Debug)]
pub struct Election {
    client: Client,
    prefix: String,
    key: Vec<u8>,
    rev: i64,
}

impl Election {
    /// Campaigns in election `name` with `value` for `session` and returns once elected
    /// (every older candidate gone). A candidate already present with another value
    /// proclaims the new one.
    pub async fn campaign(session: &Session, name: &str, value: &str) -> Result<Election, Error> {
        let client = session.client().clone();
        let key = session.key(name);
        let put = PutOptions {
            lease: session.lease(),
            ..PutOptions::default()
        };
        let resp = client
            .kv()
            .txn()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), value, put.clone())])
            .or_else([TxnOp::get(key.clone(), GetOptions::new())])
            .commit()
            .await?;
        let mut e = Election {
            client: client.clone(),
            prefix: name.to_string(),
            key: key.clone(),
            rev: resp.header.map_or(0, |h| h.revision),
        };
        if !resp.succeeded {
            if let Some(oxcd_proto::etcdserverpb::response_op::Response::ResponseRange(r)) =
                resp.responses.first().and_then(|r| r.response.as_ref())
            {
                if let Some(kv) = r.kvs.first() {
                    e.rev = kv.create_revision;
                    if kv.value[..] != *value.as_bytes() {
                        client.kv().put(key.clone(), value, put).await?;
                    }
                }
            }
        }
        if let Err(err) = wait_deletes(&client, name, e.rev - 1).await {
            let _ = e.resign().await;
            return Err(err);
        }
        Ok(e)
    }

    /// The candidate's key (`name/<lease in hex>`).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Gives up leadership: deletes the key if it is still this campaign's.
    pub async fn resign(&mut self) -> Result<(), Error> {
        self.client
            .kv()
            .txn()
            .when([Compare::create_revision(
                self.key.clone(),
                CompareOp::Equal,
                self.rev,
            )])
            .and_then([TxnOp::delete(self.key.clone(), DeleteOptions::default())])
            .commit()
            .await?;
        Ok(())
    }

    /// The current leader of election `name` and every later change, as clientv3's
    /// `Observe`: one RangeResponse per leader value.
    pub fn observe(client: &Client, name: &str) -> Observer {
        Observer {
            client: client.clone(),
            prefix: name.to_string(),
            current: None,
        }
    }

    /// The election's name.
    pub fn name(&self) -> &str {
        &self.prefix
    }
}

/// The leaders of an election, from [`Election::observe`].
#[derive(Debug)]
pub struct Observer {
    client: Client,
    prefix: String,
    /// The leader key being followed and the watch on it.
    current: Option<crate::watch::Watcher>,
}

impl Observer {
    /// The next leader (or new value of the leader): a response with the leader's key.
    pub async fn next(&mut self) -> Result<RangeResponse, Error> {
        loop {
            if let Some(w) = self.current.as_mut() {
                match w.next().await {
                    Some(Ok(resp)) => {
                        if resp
                            .events
                            .iter()
                            .any(|e| e.r#type == EventType::Delete as i32)
                        {
                            self.current = None;
                            continue;
                        }
                        if let Some(kv) = resp.events.last().and_then(|e| e.kv.clone()) {
                            return Ok(RangeResponse {
                                header: resp.header,
                                kvs: vec![kv],
                                count: 1,
                                ..RangeResponse::default()
                            });
                        }
                        continue;
                    }
                    Some(Err(e)) => return Err(e),
                    None => {
                        return Err(Error::WatchCanceled("leader watch ended".into()));
                    }
                }
            }
            let resp = self
                .client
                .kv()
                .range(first_created(&self.prefix, SortOrder::Ascend, 0))
                .await?;
            let (header, kv) = match resp.kvs.first() {
                Some(kv) => (resp.header, kv.clone()),
                None => {
                    // No leader yet: wait for the first put under the prefix.
                    let options = WatchOptions {
                        prefix: true,
                        start_revision: resp.header.map_or(0, |h| h.revision),
                        ..WatchOptions::default()
                    };
                    let mut w = self
                        .client
                        .watch(format!("{}/", self.prefix), options)
                        .await?;
                    loop {
                        let Some(r) = w.next().await else {
                            return Err(Error::WatchCanceled("prefix watch ended".into()));
                        };
                        let r = r?;
                        if let Some(kv) = r
                            .events
                            .iter()
                            .find(|e| e.r#type == EventType::Put as i32)
                            .and_then(|e| e.kv.clone())
                        {
                            // As clientv3: the header of the event's own revision.
                            let mut h = r.header;
                            if let Some(h) = h.as_mut() {
                                h.revision = kv.mod_revision;
                            }
                            break (h, kv);
                        }
                    }
                }
            };
            let from = header.map_or(0, |h| h.revision) + 1;
            let options = WatchOptions {
                start_revision: from,
                ..WatchOptions::default()
            };
            self.current = Some(self.client.watch(kv.key.to_vec(), options).await?);
            return Ok(RangeResponse {
                header,
                kvs: vec![kv],
                count: 1,
                ..RangeResponse::default()
            });
        }
    }
}

//! [`Lease`]: LeaseGrant, LeaseRevoke, LeaseTimeToLive, LeaseLeases, and [`LeaseKeeper`], a
//! background task that keeps one lease alive and says when it is lost.

use std::time::Duration;

use oxcd_proto::etcdserverpb::lease_client::LeaseClient;
use oxcd_proto::etcdserverpb::{
    LeaseGrantRequest, LeaseGrantResponse, LeaseKeepAliveRequest, LeaseKeepAliveResponse,
    LeaseLeasesRequest, LeaseLeasesResponse, LeaseRevokeRequest, LeaseRevokeResponse,
    LeaseTimeToLiveRequest, LeaseTimeToLiveResponse,
};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

use crate::client::{Client, Retry};
use crate::error::Error;
use crate::namespace;

/// The Lease service of a [`Client`]. Every call is retried on another endpoint when
/// unavailable, as clientv3 3.4 does for leases.
#[derive(Debug, Clone)]
pub struct Lease {
    client: Client,
}

impl Lease {
    pub(crate) fn new(client: Client) -> Self {
        Lease { client }
    }

    /// Grants a lease of `ttl` seconds; `id` 0 lets the server choose the ID.
    pub async fn grant(&self, ttl: i64, id: i64) -> Result<LeaseGrantResponse, Error> {
        let req = LeaseGrantRequest { ttl, id };
        self.client
            .call(Retry::Repeatable, |svc| async move {
                LeaseClient::new(svc).lease_grant(req).await
            })
            .await
    }

    /// Revokes lease `id`, deleting its keys.
    pub async fn revoke(&self, id: i64) -> Result<LeaseRevokeResponse, Error> {
        let req = LeaseRevokeRequest { id };
        self.client
            .call(Retry::Repeatable, |svc| async move {
                LeaseClient::new(svc).lease_revoke(req).await
            })
            .await
    }

    /// The remaining TTL of lease `id` (-1 if it does not exist), with its keys if `keys`
    /// (on a namespaced client, only its keys in the namespace, without the prefix).
    pub async fn time_to_live(
        &self,
        id: i64,
        keys: bool,
    ) -> Result<LeaseTimeToLiveResponse, Error> {
        let req = LeaseTimeToLiveRequest { id, keys };
        let mut resp = self
            .client
            .call(Retry::Repeatable, |svc| async move {
                LeaseClient::new(svc).lease_time_to_live(req).await
            })
            .await?;
        namespace::strip_lease_keys(self.client.namespace(), &mut resp);
        Ok(resp)
    }

    /// Every live lease.
    pub async fn leases(&self) -> Result<LeaseLeasesResponse, Error> {
        self.client
            .call(Retry::Repeatable, |svc| async move {
                LeaseClient::new(svc)
                    .lease_leases(LeaseLeasesRequest {})
                    .await
            })
            .await
    }

    /// Renews lease `id` once over a LeaseKeepAlive stream of its own, as clientv3's
    /// `KeepAliveOnce`: the server's answer, or a NotFound status with etcd's "requested
    /// lease not found" when the lease has expired or was revoked (the server answers TTL
    /// 0). Retried on another endpoint when unavailable.
    pub async fn keep_alive_once(&self, id: i64) -> Result<LeaseKeepAliveResponse, Error> {
        let resp = self
            .client
            .call(Retry::Repeatable, |svc| async move {
                let (tx, rx) = mpsc::channel(1);
                let _ = tx.try_send(LeaseKeepAliveRequest { id });
                let mut stream = LeaseClient::new(svc)
                    .lease_keep_alive(ReceiverStream::new(rx))
                    .await?
                    .into_inner();
                let resp = stream
                    .message()
                    .await?
                    .ok_or_else(|| tonic::Status::unavailable("keepalive stream closed"))?;
                Ok(tonic::Response::new(resp))
            })
            .await?;
        if resp.ttl <= 0 {
            return Err(Error::Status(tonic::Status::not_found(
                "etcdserver: requested lease not found",
            )));
        }
        Ok(resp)
    }

    /// Keeps lease `id` alive in the background until the returned keeper is dropped.
    ///
    /// The keeper sends a keepalive every TTL/3 (at least every 500 ms) over one
    /// LeaseKeepAlive stream, reopening the stream (on the next endpoint) when it breaks.
    /// It reports the lease lost, and stops, when a response has TTL <= 0 (expired or
    /// revoked) or the server answers NotFound.
    pub fn keep_alive(&self, id: i64) -> LeaseKeeper {
        let (tx, rx) = watch::channel(KeeperState::Starting);
        let task = tokio::spawn(keeper(self.client.clone(), id, tx));
        LeaseKeeper {
            id,
            state: rx,
            task,
        }
    }
}

/// What a [`LeaseKeeper`] knows of its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeeperState {
    /// No keepalive answered yet.
    Starting,
    /// The last keepalive answered with this TTL, in seconds.
    Alive(i64),
    /// The lease expired or was revoked; the keeper has stopped.
    Lost,
}

/// A lease kept alive by a background task; dropping it stops the task (the lease then
/// expires after its TTL unless revoked first).
#[derive(Debug)]
pub struct LeaseKeeper {
    id: i64,
    state: watch::Receiver<KeeperState>,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    /// The lease ID.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The current state.
    pub fn state(&self) -> KeeperState {
        *self.state.borrow()
    }

    /// Whether the lease is known to be lost.
    pub fn is_lost(&self) -> bool {
        self.state() == KeeperState::Lost
    }

    /// Waits until the lease is lost.
    pub async fn lost(&mut self) {
        let _ = self.state.wait_for(|s| *s == KeeperState::Lost).await;
    }

    /// A receiver of every state change.
    pub fn subscribe(&self) -> watch::Receiver<KeeperState> {
        self.state.clone()
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const MIN_INTERVAL: Duration = Duration::from_millis(500);

/// The keeper task: one stream at a time; `Ok(true)` from a stream round means lost.
async fn keeper(client: Client, id: i64, state: watch::Sender<KeeperState>) {
    let mut interval = MIN_INTERVAL;
    loop {
        let i = client.pinned();
        match keep_stream(&client, i, id, &state, &mut interval).await {
            Ok(true) => {
                let _ = state.send(KeeperState::Lost);
                return;
            }
            Ok(false) => {}
            Err(st) if st.code() == Code::NotFound => {
                let _ = state.send(KeeperState::Lost);
                return;
            }
            Err(st) if st.code() == Code::Unavailable => client.failover(i),
            Err(_) => {}
        }
        tokio::time::sleep(MIN_INTERVAL).await;
    }
}

/// Runs one LeaseKeepAlive stream on endpoint `i` until it breaks (`Ok(false)` or the
/// status) or the lease is lost (`Ok(true)`).
async fn keep_stream(
    client: &Client,
    i: usize,
    id: i64,
    state: &watch::Sender<KeeperState>,
    interval: &mut Duration,
) -> Result<bool, tonic::Status> {
    let timeout = client.request_timeout();
    let (tx, rx) = mpsc::channel(4);
    let _ = tx.try_send(LeaseKeepAliveRequest { id });
    let mut lc = LeaseClient::new(client.svc(i));
    let mut stream =
        match tokio::time::timeout(timeout, lc.lease_keep_alive(ReceiverStream::new(rx))).await {
            Ok(r) => r?.into_inner(),
            Err(_) => return Ok(false),
        };
    loop {
        match tokio::time::timeout(timeout, stream.message()).await {
            Ok(Ok(Some(resp))) => {
                if resp.ttl <= 0 {
                    return Ok(true);
                }
                let _ = state.send(KeeperState::Alive(resp.ttl));
                *interval = Duration::from_millis(resp.ttl as u64 * 1000 / 3).max(MIN_INTERVAL);
            }
            Ok(Ok(None)) | Err(_) => return Ok(false),
            Ok(Err(st)) => return Err(st),
        }
        tokio::time::sleep(*interval).await;
        if tx.send(LeaseKeepAliveRequest { id }).await.is_err() {
            return Ok(false);
        }
    }
}

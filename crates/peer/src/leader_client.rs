//! [`LeaderClient`]: requests a follower forwards to the leader over the peer service
//! (lease keepalives and TTL lookups, which only the leader can answer), on one cached
//! connection per leader.

use std::time::Duration;

use oxcd_proto::etcdserverpb::{LeaseTimeToLiveRequest, LeaseTimeToLiveResponse};
use oxcd_proto::oxcdpb::raft_peer_client::RaftPeerClient;
use oxcd_proto::oxcdpb::LeaseRenewRequest;
use tokio::sync::Mutex;
use tonic::transport::Channel;

use crate::config::TransportConfig;
use crate::error::PeerError;
use crate::host_error::HostError;

/// The outcome of a forwarded call: the transport failed (`Err`), or the leader answered
/// with a result or a refusal (`Ok(Err(e))`).
pub type Forwarded<T> = Result<Result<T, HostError>, PeerError>;

/// A cached connection to the current leader's peer service. Cheap to share (`Arc`).
#[derive(Debug, Default)]
pub struct LeaderClient {
    cached: Mutex<Option<(Vec<String>, RaftPeerClient<Channel>)>>,
    tls: Option<oxcd_tls::ClientTls>,
}

impl LeaderClient {
    /// An empty cache that dials with `tls` (peer TLS) for `https://` URLs.
    pub fn new(tls: Option<oxcd_tls::ClientTls>) -> Self {
        Self {
            cached: Mutex::new(None),
            tls,
        }
    }

    async fn client(&self, urls: &[String]) -> Result<RaftPeerClient<Channel>, PeerError> {
        let mut cached = self.cached.lock().await;
        if let Some((u, c)) = cached.as_ref() {
            if u.as_slice() == urls {
                return Ok(c.clone());
            }
        }
        let cfg = TransportConfig {
            tls: self.tls.clone(),
            ..TransportConfig::default()
        };
        let c = crate::stream::connect_any(urls, 0, &cfg).await?;
        *cached = Some((urls.to_vec(), c.clone()));
        Ok(c)
    }

    async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    /// Renews lease `id` on the leader reachable at `urls`.
    pub async fn lease_renew(&self, urls: &[String], id: i64, timeout: Duration) -> Forwarded<i64> {
        let mut c = self.client(urls).await?;
        match tokio::time::timeout(timeout, c.lease_renew(LeaseRenewRequest { id })).await {
            Ok(Ok(r)) => {
                let r = r.into_inner();
                Ok(match HostError::from_wire(r.code, &r.error) {
                    None => Ok(r.ttl),
                    Some(e) => Err(e),
                })
            }
            Ok(Err(status)) => {
                self.forget().await;
                Err(PeerError::Rpc(status))
            }
            Err(_) => Err(PeerError::Rpc(tonic::Status::deadline_exceeded(
                "lease renew forwarding timed out",
            ))),
        }
    }

    /// Asks the leader reachable at `urls` for a lease's remaining TTL.
    pub async fn lease_time_to_live(
        &self,
        urls: &[String],
        req: LeaseTimeToLiveRequest,
        timeout: Duration,
    ) -> Forwarded<LeaseTimeToLiveResponse> {
        let mut c = self.client(urls).await?;
        match tokio::time::timeout(timeout, c.lease_time_to_live(req)).await {
            Ok(Ok(r)) => {
                let r = r.into_inner();
                Ok(match (HostError::from_wire(r.code, &r.error), r.response) {
                    (None, Some(resp)) => Ok(resp),
                    (None, None) => Err(HostError::Other("empty forwarded answer".into())),
                    (Some(e), _) => Err(e),
                })
            }
            Ok(Err(status)) => {
                self.forget().await;
                Err(PeerError::Rpc(status))
            }
            Err(_) => Err(PeerError::Rpc(tonic::Status::deadline_exceeded(
                "lease ttl forwarding timed out",
            ))),
        }
    }
}

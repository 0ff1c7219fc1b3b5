//! [`PeerService`]: the receiving side of the transport, served on the peer URLs, and the
//! client calls a joining member makes ([`fetch_members`], [`forward_promote`]) and the
//! corruption checks make ([`fetch_hash_kv`]).

use std::sync::Arc;
use std::time::Duration;

use oxcd_proto::etcdserverpb::{HashKvRequest, HashKvResponse, LeaseTimeToLiveRequest, Member};
use oxcd_proto::oxcdpb::raft_peer_client::RaftPeerClient;
use oxcd_proto::oxcdpb::raft_peer_server::{RaftPeer, RaftPeerServer};
use oxcd_proto::oxcdpb::{
    HashKvForward, LeaseRenewRequest, LeaseRenewResponse, LeaseTimeToLiveForward, MembersRequest,
    MembersResponse, PromoteMemberRequest, PromoteMemberResponse, RaftMessageBatch, SendAck,
    SnapshotAck, SnapshotChunk,
};
use oxcd_raftlog::RaftHandle;
use tonic::transport::Channel;
use tonic::{Request, Response, Status, Streaming};

use crate::config::TransportConfig;
use crate::error::PeerError;
use crate::host::{LeaderServices, PeerHost};
use crate::host_error::HostError;
use crate::leader_client::Forwarded;
use crate::metrics;

/// Implements `oxcdpb.RaftPeer` for one member.
#[derive(Clone)]
pub struct PeerService {
    host: Arc<dyn PeerHost>,
    raft: RaftHandle,
    leader: Arc<dyn LeaderServices>,
}

impl std::fmt::Debug for PeerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerService")
            .field("member", &self.host.member_id())
            .finish()
    }
}

impl PeerService {
    /// The service of the member `host` describes, stepping into `raft` and answering
    /// forwarded leader requests with `leader`.
    pub fn new(host: Arc<dyn PeerHost>, raft: RaftHandle, leader: Arc<dyn LeaderServices>) -> Self {
        Self { host, raft, leader }
    }

    /// The tonic server for this service, with the transport's message size limits.
    pub fn into_server(self, config: &TransportConfig) -> RaftPeerServer<Self> {
        RaftPeerServer::new(self)
            .max_decoding_message_size(config.max_message_bytes)
            .max_encoding_message_size(config.max_message_bytes)
    }
}

#[tonic::async_trait]
impl RaftPeer for PeerService {
    async fn send(
        &self,
        request: Request<Streaming<RaftMessageBatch>>,
    ) -> Result<Response<SendAck>, Status> {
        let mut stream = request.into_inner();
        let cluster = self.host.cluster_id();
        loop {
            let batch = match stream.message().await {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(status) => {
                    metrics::RECEIVED_FAILURES
                        .with_label_values(&["unknown"])
                        .inc();
                    return Err(status);
                }
            };
            if batch.cluster_id != 0 && batch.cluster_id != cluster {
                return Err(Status::failed_precondition(format!(
                    "cluster ID mismatch: got {:x}, want {cluster:x}",
                    batch.cluster_id
                )));
            }
            let bytes: usize = batch.messages.iter().map(Vec::len).sum();
            metrics::RECEIVED_BYTES
                .with_label_values(&[&metrics::id_label(batch.from)])
                .inc_by(bytes as f64);
            self.raft
                .step_batch(batch.messages)
                .await
                .map_err(|_| Status::unavailable("raft stopped"))?;
        }
        Ok(Response::new(SendAck {}))
    }

    async fn snapshot(
        &self,
        request: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<SnapshotAck>, Status> {
        crate::snapshot_recv::receive(self.host.as_ref(), &self.raft, request.into_inner()).await?;
        Ok(Response::new(SnapshotAck {}))
    }

    async fn members(
        &self,
        _request: Request<MembersRequest>,
    ) -> Result<Response<MembersResponse>, Status> {
        Ok(Response::new(MembersResponse {
            cluster_id: self.host.cluster_id(),
            members: self.host.members(),
        }))
    }

    async fn lease_renew(
        &self,
        request: Request<LeaseRenewRequest>,
    ) -> Result<Response<LeaseRenewResponse>, Status> {
        Ok(Response::new(
            match self.leader.lease_renew(request.get_ref().id).await {
                Ok(ttl) => LeaseRenewResponse {
                    ttl,
                    ..Default::default()
                },
                Err(e) => {
                    let (code, error) = e.to_wire();
                    LeaseRenewResponse {
                        ttl: 0,
                        error,
                        code: code as i32,
                    }
                }
            },
        ))
    }

    async fn lease_time_to_live(
        &self,
        request: Request<LeaseTimeToLiveRequest>,
    ) -> Result<Response<LeaseTimeToLiveForward>, Status> {
        Ok(Response::new(
            match self.leader.lease_time_to_live(request.into_inner()).await {
                Ok(resp) => LeaseTimeToLiveForward {
                    response: Some(resp),
                    ..Default::default()
                },
                Err(e) => {
                    let (code, error) = e.to_wire();
                    LeaseTimeToLiveForward {
                        response: None,
                        error,
                        code: code as i32,
                    }
                }
            },
        ))
    }

    async fn hash_kv(
        &self,
        request: Request<HashKvRequest>,
    ) -> Result<Response<HashKvForward>, Status> {
        let host = self.host.clone();
        let revision = request.get_ref().revision;
        let answer = tokio::task::spawn_blocking(move || host.hash_kv(revision))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(match answer {
            Ok(resp) => HashKvForward {
                response: Some(resp),
                ..Default::default()
            },
            Err(e) => {
                let (code, error) = e.to_wire();
                HashKvForward {
                    response: None,
                    error,
                    code: code as i32,
                }
            }
        }))
    }

    async fn promote_member(
        &self,
        request: Request<PromoteMemberRequest>,
    ) -> Result<Response<PromoteMemberResponse>, Status> {
        Ok(Response::new(
            match self.leader.promote(request.get_ref().id).await {
                Ok(members) => PromoteMemberResponse {
                    members,
                    ..Default::default()
                },
                Err(e) => {
                    let (code, error) = e.to_wire();
                    PromoteMemberResponse {
                        members: Vec::new(),
                        error,
                        code: code as i32,
                    }
                }
            },
        ))
    }
}

/// Calls `call` on the members at `peer_urls` in turn (connect and call each bounded by
/// `timeout`) and returns the first answer.
async fn ask_each<T, F, Fut>(
    peer_urls: &[String],
    timeout: Duration,
    tls: Option<&oxcd_tls::ClientTls>,
    call: F,
) -> Result<T, PeerError>
where
    F: Fn(RaftPeerClient<Channel>) -> Fut,
    Fut: std::future::Future<Output = Result<Response<T>, Status>>,
{
    let cfg = TransportConfig {
        connect_timeout: timeout,
        tls: tls.cloned(),
        ..TransportConfig::default()
    };
    let mut last = None;
    for url in peer_urls {
        let client = match crate::stream::connect_any(std::slice::from_ref(url), 0, &cfg).await {
            Ok(c) => c,
            Err(e) => {
                last = Some(e);
                continue;
            }
        };
        match tokio::time::timeout(timeout, call(client)).await {
            Ok(Ok(resp)) => return Ok(resp.into_inner()),
            Ok(Err(status)) => last = Some(PeerError::Rpc(status)),
            Err(_) => {
                last = Some(PeerError::Rpc(Status::deadline_exceeded(
                    "peer call timed out",
                )))
            }
        }
    }
    Err(last.unwrap_or_else(|| PeerError::Connect {
        url: String::new(),
        message: "no peer URLs to ask".into(),
    }))
}

/// Asks the members at `peer_urls` (in turn) for the cluster ID and membership: how a
/// member started with `--initial-cluster-state=existing` learns its ID.
pub async fn fetch_members(
    peer_urls: &[String],
    timeout: Duration,
    tls: Option<&oxcd_tls::ClientTls>,
) -> Result<MembersResponse, PeerError> {
    ask_each(peer_urls, timeout, tls, |mut c| async move {
        c.members(MembersRequest {}).await
    })
    .await
}

/// Sends a promotion to the member at `peer_urls` (the leader). `Ok(Err(e))` is the
/// leader's refusal.
pub async fn forward_promote(
    peer_urls: &[String],
    id: u64,
    timeout: Duration,
    tls: Option<&oxcd_tls::ClientTls>,
) -> Forwarded<Vec<Member>> {
    let r = ask_each(peer_urls, timeout, tls, |mut c| async move {
        c.promote_member(PromoteMemberRequest { id }).await
    })
    .await?;
    Ok(match HostError::from_wire(r.code, &r.error) {
        None => Ok(r.members),
        Some(e) => Err(e),
    })
}

/// Asks the member at `peer_urls` (each URL in turn, as etcd tries a peer's endpoints) for
/// its HashKV at `revision`. `Ok(Err(e))` is the member's refusal (a compacted or future
/// revision).
pub async fn fetch_hash_kv(
    peer_urls: &[String],
    revision: i64,
    timeout: Duration,
    tls: Option<&oxcd_tls::ClientTls>,
) -> Forwarded<HashKvResponse> {
    let r = ask_each(peer_urls, timeout, tls, |mut c| async move {
        c.hash_kv(HashKvRequest { revision }).await
    })
    .await?;
    Ok(match (HostError::from_wire(r.code, &r.error), r.response) {
        (None, Some(resp)) => Ok(resp),
        (None, None) => Err(HostError::Other("empty HashKV answer".into())),
        (Some(e), _) => Err(e),
    })
}

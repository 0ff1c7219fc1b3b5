//! The Election service (`v3electionpb.Election`): etcd's `clientv3/concurrency` Election run
//! in-process over this member's KV, Lease and Watch, with the same key layout, so
//! `etcdctl elect` (which runs the Election client-side) and these RPCs see each other.
//!
//! A candidate's key is `<name>/<lease in lowercase hex>`; the leader is the key under
//! `<name>/` with the lowest create revision. A `LeaderKey` is `{name, key, rev, lease}` with
//! `rev` the key's create revision; Proclaim and Resign act only while that still holds.

use std::pin::Pin;

use futures::Stream;
use oxcd_proto::etcdserverpb::{range_request::SortOrder, ResponseHeader};
use oxcd_proto::mvccpb::{event::EventType, KeyValue};
use oxcd_proto::v3electionpb::{
    election_server::Election, CampaignRequest, CampaignResponse, LeaderKey, LeaderRequest,
    LeaderResponse, ProclaimRequest, ProclaimResponse, ResignRequest, ResignResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::concurrency::{
    by_create, create_rev_is, delete_op, first_kv_at, get_op, prefix_end, prefix_of, put_op,
    session_key, InProcess, ReleaseGuard,
};
use crate::context::ServerContext;

/// etcd's `concurrency.ErrElectionNotLeader`.
pub const ERR_NOT_LEADER: &str = "election: not leader";
/// etcd's `concurrency.ErrElectionNoLeader`.
pub const ERR_NO_LEADER: &str = "election: no leader";
/// etcd's `v3election.ErrMissingLeaderKey`.
pub const ERR_MISSING_LEADER_KEY: &str = "\"leader\" field must be provided";

/// Observe responses buffered per stream.
const OBSERVE_BUFFER: usize = 16;

/// Implements `v3electionpb.Election`.
#[derive(Clone)]
pub struct ElectionService {
    inproc: InProcess,
}

impl ElectionService {
    /// The Election service of the running member `ctx` describes.
    pub fn from_context(ctx: &ServerContext) -> Self {
        Self {
            inproc: InProcess::from_context(ctx),
        }
    }

    /// This service, calling the member's KV and Lease services as the caller of a
    /// request with `metadata` (so the same permission checks apply).
    fn as_caller_of(&self, metadata: &tonic::metadata::MetadataMap) -> Self {
        Self {
            inproc: self.inproc.as_caller_of(metadata),
        }
    }

    /// Puts `value` on `key` with `lease` if its create revision is still `rev`.
    async fn proclaim_as(
        &self,
        key: &[u8],
        rev: i64,
        lease: i64,
        value: &[u8],
    ) -> Result<Option<ResponseHeader>, Status> {
        let resp = self
            .inproc
            .txn(
                vec![create_rev_is(key, rev)],
                vec![put_op(key, value, lease)],
                Vec::new(),
            )
            .await?;
        if !resp.succeeded {
            return Err(Status::unknown(ERR_NOT_LEADER));
        }
        Ok(resp.header)
    }

    /// Deletes `key` if its create revision is still `rev`.
    async fn resign_as(&self, key: &[u8], rev: i64) -> Result<Option<ResponseHeader>, Status> {
        let resp = self
            .inproc
            .txn(
                vec![create_rev_is(key, rev)],
                vec![delete_op(key)],
                Vec::new(),
            )
            .await?;
        Ok(resp.header)
    }

    async fn campaign(&self, req: CampaignRequest) -> Result<CampaignResponse, Status> {
        let lease = self.inproc.session_lease(req.lease).await?;
        let prefix = prefix_of(&req.name);
        let key = session_key(&req.name, lease);
        let resp = self
            .inproc
            .txn(
                vec![create_rev_is(&key, 0)],
                vec![put_op(&key, &req.value, lease)],
                vec![get_op(&key)],
            )
            .await?;
        let mut rev = resp.header.as_ref().map_or(0, |h| h.revision);
        if !resp.succeeded {
            if let Some(kv) = first_kv_at(&resp, 0) {
                rev = kv.create_revision;
                if kv.value != req.value {
                    if let Err(e) = self.proclaim_as(&key, rev, lease, &req.value).await {
                        let _ = self.resign_as(&key, rev).await;
                        return Err(e);
                    }
                }
            }
        }
        // Released if the client goes away while waiting (etcd resigns on a canceled
        // context); other errors keep the key, as etcd does.
        let guard = ReleaseGuard::new(&self.inproc, key.clone(), rev);
        let waited = self.inproc.wait_deletes(&prefix, rev - 1).await;
        guard.disarm();
        waited?;
        let mut hdr = resp.header;
        self.inproc.headers().complete(&mut hdr);
        Ok(CampaignResponse {
            header: hdr,
            leader: Some(LeaderKey {
                name: req.name,
                key,
                rev,
                lease,
            }),
        })
    }

    /// The current leader's key-value, with the read's header.
    async fn leader_of(&self, name: &[u8]) -> Result<LeaderResponse, Status> {
        let prefix = prefix_of(name);
        let resp = self
            .inproc
            .range(by_create(&prefix, SortOrder::Ascend, 0))
            .await?;
        let Some(kv) = resp.kvs.into_iter().next() else {
            return Err(Status::unknown(ERR_NO_LEADER));
        };
        Ok(LeaderResponse {
            header: resp.header,
            kv: Some(kv),
        })
    }
}

/// Streams the leader of `prefix` and then every change to it (concurrency `observe`):
/// each put on the leader key, and the next leader once it is deleted. Returns when the
/// receiver is gone or a read or watch fails.
async fn observe_loop(
    inproc: InProcess,
    prefix: Vec<u8>,
    tx: mpsc::Sender<Result<LeaderResponse, Status>>,
) -> Result<(), Status> {
    let send = |mut hdr: Option<ResponseHeader>, kv: KeyValue| {
        inproc.headers().complete(&mut hdr);
        let tx = tx.clone();
        async move {
            tx.send(Ok(LeaderResponse {
                header: hdr,
                kv: Some(kv),
            }))
            .await
            .map_err(|_| Status::cancelled("observer gone"))
        }
    };
    loop {
        let resp = inproc
            .range(by_create(&prefix, SortOrder::Ascend, 0))
            .await?;
        let (hdr, kv) = match resp.kvs.into_iter().next() {
            Some(kv) => (resp.header, kv),
            None => {
                // Wait for the first put under the prefix.
                let start = resp.header.as_ref().map_or(0, |h| h.revision);
                let mut w = inproc.watch(&prefix, &prefix_end(&prefix), start)?;
                loop {
                    let wr = w.next_events().await?;
                    let put = wr
                        .events
                        .into_iter()
                        .find(|ev| ev.r#type == EventType::Put as i32)
                        .and_then(|ev| ev.kv);
                    if let Some(kv) = put {
                        let mut hdr = wr.header.unwrap_or_default();
                        hdr.revision = kv.mod_revision;
                        break (Some(hdr), kv);
                    }
                }
            }
        };
        let from = hdr.as_ref().map_or(0, |h| h.revision) + 1;
        let key = kv.key.clone();
        send(hdr, kv).await?;
        let mut w = inproc.watch(&key, &[], from)?;
        'leader: loop {
            let wr = w.next_events().await?;
            for ev in wr.events {
                if ev.r#type == EventType::Delete as i32 {
                    break 'leader;
                }
                if let Some(kv) = ev.kv {
                    send(wr.header, kv).await?;
                }
            }
        }
    }
}

#[tonic::async_trait]
impl Election for ElectionService {
    async fn campaign(
        &self,
        req: Request<CampaignRequest>,
    ) -> Result<Response<CampaignResponse>, Status> {
        let this = self.as_caller_of(req.metadata());
        Ok(Response::new(
            ElectionService::campaign(&this, req.into_inner()).await?,
        ))
    }

    async fn proclaim(
        &self,
        req: Request<ProclaimRequest>,
    ) -> Result<Response<ProclaimResponse>, Status> {
        let this = self.as_caller_of(req.metadata());
        let req = req.into_inner();
        let Some(leader) = req.leader else {
            return Err(Status::unknown(ERR_MISSING_LEADER_KEY));
        };
        let lease = this.inproc.session_lease(leader.lease).await?;
        let mut hdr = this
            .proclaim_as(&leader.key, leader.rev, lease, &req.value)
            .await?;
        this.inproc.headers().complete(&mut hdr);
        Ok(Response::new(ProclaimResponse { header: hdr }))
    }

    async fn leader(
        &self,
        req: Request<LeaderRequest>,
    ) -> Result<Response<LeaderResponse>, Status> {
        let this = self.as_caller_of(req.metadata());
        let mut resp = this.leader_of(&req.into_inner().name).await?;
        this.inproc.headers().complete(&mut resp.header);
        Ok(Response::new(resp))
    }

    type ObserveStream =
        Pin<Box<dyn Stream<Item = Result<LeaderResponse, Status>> + Send + 'static>>;

    async fn observe(
        &self,
        req: Request<LeaderRequest>,
    ) -> Result<Response<Self::ObserveStream>, Status> {
        let this = self.as_caller_of(req.metadata());
        let prefix = prefix_of(&req.into_inner().name);
        let (tx, rx) = mpsc::channel(OBSERVE_BUFFER);
        let inproc = this.inproc.clone();
        tokio::spawn(async move {
            let closed = tx.clone();
            tokio::select! {
                res = observe_loop(inproc, prefix, tx) => {
                    if let Err(e) = res {
                        tracing::debug!(error = %e, "election observe ended");
                    }
                }
                _ = closed.closed() => {}
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn resign(
        &self,
        req: Request<ResignRequest>,
    ) -> Result<Response<ResignResponse>, Status> {
        let this = self.as_caller_of(req.metadata());
        let Some(leader) = req.into_inner().leader else {
            return Err(Status::unknown(ERR_MISSING_LEADER_KEY));
        };
        let mut hdr = this.resign_as(&leader.key, leader.rev).await?;
        this.inproc.headers().complete(&mut hdr);
        Ok(Response::new(ResignResponse { header: hdr }))
    }
}

//! [`Maintenance`]: the Maintenance service. Status, HashKV and Defragment name the member
//! they ask (an endpoint URL, as clientv3 does); alarms, MoveLeader and Snapshot go to the
//! pinned endpoint. Reads (Status, HashKV, alarm list) are safe to repeat; Defragment,
//! alarm disarm and MoveLeader are never resent by the client.

use oxcd_proto::etcdserverpb::alarm_request::AlarmAction;
use oxcd_proto::etcdserverpb::maintenance_client::MaintenanceClient;
use oxcd_proto::etcdserverpb::{
    AlarmRequest, AlarmResponse, AlarmType, DefragmentRequest, DefragmentResponse, HashKvRequest,
    HashKvResponse, MoveLeaderRequest, MoveLeaderResponse, SnapshotRequest, SnapshotResponse,
    StatusRequest, StatusResponse,
};
use tonic::Streaming;

use crate::client::{Client, Retry};
use crate::error::Error;

/// The Maintenance service of a [`Client`].
#[derive(Debug, Clone)]
pub struct Maintenance {
    client: Client,
}

impl Maintenance {
    pub(crate) fn new(client: Client) -> Self {
        Maintenance { client }
    }

    /// The status of the member at `endpoint` (`host:port` or a URL).
    pub async fn status(&self, endpoint: &str) -> Result<StatusResponse, Error> {
        self.client
            .call_on(endpoint, |svc| async move {
                MaintenanceClient::new(svc)
                    .status(StatusRequest::default())
                    .await
            })
            .await
    }

    /// The hash of the key-value history of the member at `endpoint` up to `revision`
    /// (0: the latest).
    pub async fn hash_kv(&self, endpoint: &str, revision: i64) -> Result<HashKvResponse, Error> {
        self.client
            .call_on(endpoint, |svc| async move {
                MaintenanceClient::new(svc)
                    .hash_kv(HashKvRequest { revision })
                    .await
            })
            .await
    }

    /// Defragments the backend of the member at `endpoint`.
    pub async fn defragment(&self, endpoint: &str) -> Result<DefragmentResponse, Error> {
        self.client
            .call_on(endpoint, |svc| async move {
                MaintenanceClient::new(svc)
                    .defragment(DefragmentRequest::default())
                    .await
            })
            .await
    }

    /// Every active alarm of the cluster.
    pub async fn alarm_list(&self) -> Result<AlarmResponse, Error> {
        let req = AlarmRequest {
            action: AlarmAction::Get as i32,
            member_id: 0,
            alarm: AlarmType::None as i32,
        };
        self.client
            .call(Retry::Repeatable, |svc| async move {
                MaintenanceClient::new(svc).alarm(req).await
            })
            .await
    }

    /// Disarms `alarm` of member `member_id` (0 and [`AlarmType::None`]: every alarm).
    pub async fn alarm_disarm(
        &self,
        member_id: u64,
        alarm: AlarmType,
    ) -> Result<AlarmResponse, Error> {
        let req = AlarmRequest {
            action: AlarmAction::Deactivate as i32,
            member_id,
            alarm: alarm as i32,
        };
        self.client
            .call(Retry::NonRepeatable, |svc| async move {
                MaintenanceClient::new(svc).alarm(req).await
            })
            .await
    }

    /// Asks the pinned endpoint (which must be the leader) to hand leadership to member
    /// `target`.
    pub async fn move_leader(&self, target: u64) -> Result<MoveLeaderResponse, Error> {
        let req = MoveLeaderRequest { target_id: target };
        self.client
            .call(Retry::NonRepeatable, |svc| async move {
                MaintenanceClient::new(svc).move_leader(req).await
            })
            .await
    }

    /// Opens a snapshot of the pinned endpoint's backend; [`Snapshot::next_chunk`] yields
    /// it in pieces. Only the open is bounded by the request timeout.
    pub async fn snapshot(&self) -> Result<Snapshot, Error> {
        let stream = self
            .client
            .call(Retry::Repeatable, |svc| async move {
                MaintenanceClient::new(svc)
                    .snapshot(SnapshotRequest::default())
                    .await
            })
            .await?;
        Ok(Snapshot {
            stream,
            complete: false,
            done: false,
        })
    }
}

/// A streamed snapshot opened by [`Maintenance::snapshot`].
#[derive(Debug)]
pub struct Snapshot {
    stream: Streaming<SnapshotResponse>,
    /// A chunk with `remaining_bytes` 0 came: the database is complete (the SHA-256
    /// trailer follows in a chunk of its own, also with `remaining_bytes` 0).
    complete: bool,
    done: bool,
}

impl Snapshot {
    /// The next piece of the snapshot, the SHA-256 trailer included: `None` once the
    /// server has closed the stream after the database's last bytes (`remaining_bytes` 0).
    /// A stream that ends before them is an error, never a silently short snapshot.
    pub async fn next_chunk(&mut self) -> Option<Result<SnapshotResponse, Error>> {
        if self.done {
            return None;
        }
        match self.stream.message().await {
            Ok(Some(resp)) => {
                if resp.remaining_bytes == 0 {
                    self.complete = true;
                }
                Some(Ok(resp))
            }
            Ok(None) if self.complete => {
                self.done = true;
                None
            }
            Ok(None) => {
                self.done = true;
                Some(Err(Error::Status(tonic::Status::unavailable(
                    "snapshot stream ended before its last chunk",
                ))))
            }
            Err(st) => {
                self.done = true;
                Some(Err(Error::Status(st)))
            }
        }
    }
}

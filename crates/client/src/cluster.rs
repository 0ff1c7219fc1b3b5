//! [`Cluster`]: the Cluster service (member list, add, add as learner, remove, update,
//! promote). MemberList is a read and is retried on another endpoint when unavailable; the
//! membership changes are mutations and are never resent.

use oxcd_proto::etcdserverpb::cluster_client::ClusterClient;
use oxcd_proto::etcdserverpb::{
    MemberAddRequest, MemberAddResponse, MemberListRequest, MemberListResponse,
    MemberPromoteRequest, MemberPromoteResponse, MemberRemoveRequest, MemberRemoveResponse,
    MemberUpdateRequest, MemberUpdateResponse,
};

use crate::client::{Client, Retry};
use crate::error::Error;

/// The Cluster service of a [`Client`].
#[derive(Debug, Clone)]
pub struct Cluster {
    client: Client,
}

impl Cluster {
    pub(crate) fn new(client: Client) -> Self {
        Cluster { client }
    }

    /// Every member of the cluster (learners included).
    pub async fn member_list(&self) -> Result<MemberListResponse, Error> {
        self.client
            .call(Retry::Repeatable, |svc| async move {
                ClusterClient::new(svc)
                    .member_list(MemberListRequest::default())
                    .await
            })
            .await
    }

    /// Adds a voting member with `peer_urls`.
    pub async fn member_add(&self, peer_urls: &[String]) -> Result<MemberAddResponse, Error> {
        self.add(peer_urls, false).await
    }

    /// Adds a learner (a non-voting member) with `peer_urls`.
    pub async fn member_add_as_learner(
        &self,
        peer_urls: &[String],
    ) -> Result<MemberAddResponse, Error> {
        self.add(peer_urls, true).await
    }

    async fn add(
        &self,
        peer_urls: &[String],
        is_learner: bool,
    ) -> Result<MemberAddResponse, Error> {
        let req = MemberAddRequest {
            peer_ur_ls: peer_urls.to_vec(),
            is_learner,
        };
        self.client
            .call(Retry::NonRepeatable, |svc| {
                let req = req.clone();
                async move { ClusterClient::new(svc).member_add(req).await }
            })
            .await
    }

    /// Removes member `id`.
    pub async fn member_remove(&self, id: u64) -> Result<MemberRemoveResponse, Error> {
        let req = MemberRemoveRequest { id };
        self.client
            .call(Retry::NonRepeatable, |svc| async move {
                ClusterClient::new(svc).member_remove(req).await
            })
            .await
    }

    /// Replaces the peer URLs of member `id`.
    pub async fn member_update(
        &self,
        id: u64,
        peer_urls: &[String],
    ) -> Result<MemberUpdateResponse, Error> {
        let req = MemberUpdateRequest {
            id,
            peer_ur_ls: peer_urls.to_vec(),
        };
        self.client
            .call(Retry::NonRepeatable, |svc| {
                let req = req.clone();
                async move { ClusterClient::new(svc).member_update(req).await }
            })
            .await
    }

    /// Promotes learner `id` to a voting member.
    pub async fn member_promote(&self, id: u64) -> Result<MemberPromoteResponse, Error> {
        let req = MemberPromoteRequest { id };
        self.client
            .call(Retry::NonRepeatable, |svc| async move {
                ClusterClient::new(svc).member_promote(req).await
            })
            .await
    }
}

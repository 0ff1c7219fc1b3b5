//! [`Cluster`]: the Cluster service (member list, add, add as learner, remove, update,
//! promote). MemberList is a read and is retried on another endpoint when unavailable; the
//! membership changes are mutations and are never resent. Peer URLs are checked before a
//! request is sent, as clientv3 does ([`check_peer_urls`]).

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
        check_peer_urls(peer_urls)?;
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
        check_peer_urls(peer_urls)?;
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

/// clientv3's fail-fast check of peer URLs (etcd's `types.NewURLs`): each must be
/// `http`, `https`, `unix` or `unixs`, with a `host:port` and no path.
pub fn check_peer_urls(urls: &[String]) -> Result<(), Error> {
    if urls.is_empty() {
        return Err(Error::InvalidUrls("no valid URLs given".into()));
    }
    for raw in urls {
        let u = raw.trim();
        let (scheme, rest) = u.split_once("://").unwrap_or(("", u));
        if !matches!(scheme, "http" | "https" | "unix" | "unixs") {
            return Err(Error::InvalidUrls(format!(
                "URL scheme must be http, https, unix, or unixs: {u}"
            )));
        }
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let (host, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let host_port = match host.strip_prefix('[') {
            Some(v6) => v6.split_once("]:").is_some_and(|(_, p)| !p.contains(':')),
            None => host.matches(':').count() == 1,
        };
        if !host_port {
            return Err(Error::InvalidUrls(format!(
                "URL address does not have the form \"host:port\": {u}"
            )));
        }
        if !path.is_empty() {
            return Err(Error::InvalidUrls(format!(
                "URL must not contain a path: {u}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_urls_checked_as_clientv3() {
        let check = |u: &str| check_peer_urls(&[u.to_string()]).map_err(|e| e.to_string());
        assert_eq!(check("http://127.0.0.1:2380"), Ok(()));
        assert_eq!(check("https://[::1]:2380"), Ok(()));
        assert_eq!(
            check("bad"),
            Err("URL scheme must be http, https, unix, or unixs: bad".into())
        );
        assert_eq!(
            check("http://a"),
            Err("URL address does not have the form \"host:port\": http://a".into())
        );
        assert_eq!(
            check("http://a:1/p"),
            Err("URL must not contain a path: http://a:1/p".into())
        );
    }
}

//! [`AuthGate`]: the auth checks made on the member that receives a request.

use std::sync::Arc;
use std::time::Duration;

use oxcd_auth::{AuthError, AuthStore, TokenProvider};
use oxcd_raftlog::RaftHandle;
use tonic::metadata::MetadataMap;
use tonic::Request;

use super::access::Check;
use super::Caller;
use crate::error::ServerError;

/// The auth store and token provider as the front ends see them.
pub struct AuthGate {
    store: Arc<AuthStore>,
    tokens: Arc<dyn TokenProvider>,
    /// To wait until the Authenticate entry a simple token names is applied here.
    raft: RaftHandle,
    /// `--client-cert-auth`: a request without a token runs as its client certificate's CN.
    cert_auth: bool,
}

impl std::fmt::Debug for AuthGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthGate")
            .field("store", &self.store)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

/// How long a request waits for this member to apply the Authenticate entry its simple
/// token names (a follower a little behind the member that issued it); past that the
/// token is invalid.
const TOKEN_APPLY_WAIT: Duration = Duration::from_secs(2);

impl AuthGate {
    /// A gate over `store`, resolving tokens with `tokens`; `raft` tells how far this
    /// member has applied.
    /// With `cert_auth` (`--client-cert-auth`), a request without a token runs as the
    /// Common Name of its verified client certificate, as etcd's `AuthInfoFromTLS`.
    pub fn new(
        store: Arc<AuthStore>,
        tokens: Arc<dyn TokenProvider>,
        raft: RaftHandle,
        cert_auth: bool,
    ) -> Self {
        Self {
            store,
            tokens,
            raft,
            cert_auth,
        }
    }

    /// The auth store.
    pub fn store(&self) -> &Arc<AuthStore> {
        &self.store
    }

    /// The token provider.
    pub fn tokens(&self) -> &Arc<dyn TokenProvider> {
        &self.tokens
    }

    /// Who `req` runs as: its `token` (an unknown or expired one is "invalid auth token",
    /// even while auth is off, as etcd 3.4.23 does); without one, the CN of its verified
    /// client certificate under `--client-cert-auth`; otherwise [`Caller::Anonymous`].
    pub async fn caller<T>(&self, req: &Request<T>) -> Result<Caller, ServerError> {
        self.caller_from(req.metadata(), client_cn(req))
            .await
            .map_err(ServerError::from)
    }

    /// [`caller`](Self::caller) from a request's parts (a stream's opening metadata).
    pub async fn caller_from(
        &self,
        metadata: &MetadataMap,
        client_cn: Option<&str>,
    ) -> Result<Caller, AuthError> {
        let Some(token) = metadata.get("token") else {
            return Ok(match client_cn {
                Some(cn) if self.cert_auth && !cn.is_empty() => Caller::User {
                    name: cn.to_string(),
                    revision: self.store.revision(),
                },
                _ => Caller::Anonymous,
            });
        };
        let token = token.to_str().map_err(|_| AuthError::InvalidAuthToken)?;
        if let Some(index) = self.tokens.required_index(token) {
            let applied = tokio::time::timeout(TOKEN_APPLY_WAIT, self.raft.wait_applied(index));
            if !matches!(applied.await, Ok(Ok(()))) {
                return Err(AuthError::InvalidAuthToken);
            }
        }
        let info = self.tokens.info(token, self.store.revision())?;
        Ok(Caller::User {
            name: info.user,
            revision: info.revision,
        })
    }

    /// Whether a request whose verified client certificate names `client_cn` would run as
    /// that user (`--client-cert-auth`, auth on, a non-empty CN).
    pub fn uses_certificate_identity(&self, client_cn: Option<&str>) -> bool {
        self.cert_auth && client_cn.is_some_and(|cn| !cn.is_empty()) && self.store.enabled()
    }

    /// Runs `f` against the published auth state for `caller` (Range, read-only Txn,
    /// Watch creation).
    pub fn check(
        &self,
        caller: &Caller,
        f: impl FnOnce(Check<'_>) -> Result<(), AuthError>,
    ) -> Result<(), ServerError> {
        let state = self.store.current();
        f(Check::new(&state, caller)).map_err(ServerError::from)
    }

    /// After a read served under `caller`'s check: refuse it if the auth revision moved
    /// meanwhile (etcd's `doSerialize`), so a revoked permission does not leak a read.
    pub fn recheck(&self, caller: &Caller) -> Result<(), ServerError> {
        match caller {
            Caller::User { revision, .. } if *revision != self.store.revision() => {
                Err(ServerError::AuthOldRevision)
            }
            _ => Ok(()),
        }
    }

    /// Who a maintenance request runs as; a bad token is refused with the auth store's
    /// own text and code Unknown (etcd's Alarm).
    pub async fn caller_raw<T>(&self, req: &Request<T>) -> Result<Caller, ServerError> {
        self.caller_from(req.metadata(), client_cn(req))
            .await
            .map_err(ServerError::RawAuth)
    }

    /// Root-only maintenance (Defragment, Hash, HashKV, Snapshot, Alarm): refused with
    /// the auth store's own text and code Unknown, as etcd's maintenance server does.
    pub async fn admin_raw<T>(&self, req: &Request<T>) -> Result<(), ServerError> {
        let caller = self.caller_raw(req).await?;
        let state = self.store.current();
        Check::new(&state, &caller)
            .admin()
            .map_err(ServerError::RawAuth)
    }

    /// Root-only cluster changes (member add, remove, update, promote).
    pub async fn admin<T>(&self, req: &Request<T>) -> Result<(), ServerError> {
        let caller = self.caller(req).await?;
        self.check(&caller, |c| c.admin())
    }
}

/// The Common Name of the client certificate `req`'s connection verified, if any. Requests
/// the gateway makes in process carry none, so CN auth never applies to them (etcd 3.4
/// ignores the CN of gateway requests too).
pub fn client_cn<T>(req: &Request<T>) -> Option<&str> {
    req.extensions()
        .get::<oxcd_tls::ConnInfo>()
        .and_then(|c| c.client_cn.as_deref())
}

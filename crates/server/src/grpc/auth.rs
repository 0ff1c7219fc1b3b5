//! The Auth service: every request goes through raft (reads too, as etcd 3.4 does, so they
//! are linearizable) and is authorized at apply. Passwords are hashed here, on the member
//! that receives them, so the raft log never holds a plain password and apply stays
//! deterministic; Authenticate checks the password here and lets every member record the
//! token at apply.

use std::sync::Arc;

use oxcd_proto::etcdserverpb::{
    auth_server::Auth, AuthDisableRequest, AuthDisableResponse, AuthEnableRequest,
    AuthEnableResponse, AuthRoleAddRequest, AuthRoleAddResponse, AuthRoleDeleteRequest,
    AuthRoleDeleteResponse, AuthRoleGetRequest, AuthRoleGetResponse,
    AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse, AuthRoleListRequest,
    AuthRoleListResponse, AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse,
    AuthStatusRequest, AuthStatusResponse, AuthUserAddRequest, AuthUserAddResponse,
    AuthUserChangePasswordRequest, AuthUserChangePasswordResponse, AuthUserDeleteRequest,
    AuthUserDeleteResponse, AuthUserGetRequest, AuthUserGetResponse, AuthUserGrantRoleRequest,
    AuthUserGrantRoleResponse, AuthUserListRequest, AuthUserListResponse,
    AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse, AuthenticateRequest,
    AuthenticateResponse, ResponseHeader,
};
use oxcd_proto::oxcdpb::{internal_request::Op, InternalAuthenticateRequest};
use tonic::{Request, Response, Status};

use super::status::unexpected;
use crate::apply::auth::AuthOutcome;
use crate::apply::ApplyResult;
use crate::auth::AuthGate;
use crate::auth::Caller;
use crate::context::ServerContext;
use crate::error::ServerError;
use crate::grpc::header::Headers;
use crate::propose::Proposals;
use crate::read::ReadBarrier;

/// How many times Authenticate retries when the auth store changed while it proposed.
const AUTHENTICATE_ATTEMPTS: usize = 8;

/// Implements `etcdserverpb.Auth` over the few handles it uses.
#[derive(Clone)]
pub struct AuthService {
    /// The auth store, the tokens, and who a request runs as.
    pub auth: Arc<AuthGate>,
    /// Every Auth RPC goes through raft.
    pub proposer: Arc<dyn Proposals>,
    /// Authenticate reads the store after a linearizable barrier.
    pub reads: Arc<dyn ReadBarrier>,
    /// Response headers.
    pub headers: Headers,
}

impl AuthService {
    /// The Auth service of the running member `ctx` describes.
    pub fn from_context(ctx: &ServerContext) -> Self {
        Self {
            auth: ctx.auth.clone(),
            proposer: ctx.proposer.clone(),
            reads: ctx.reads.clone(),
            headers: ctx.headers.clone(),
        }
    }

    /// Proposes the auth entry `op(request)` as the request's caller.
    async fn propose<T>(
        &self,
        req: Request<T>,
        op: impl FnOnce(T) -> Op,
    ) -> Result<AuthOutcome, Status> {
        let caller = self.auth.caller(&req).await?;
        match self.proposer.propose(&caller, op(req.into_inner())).await? {
            ApplyResult::Auth(outcome) => Ok(outcome),
            other => Err(unexpected(other)),
        }
    }

    /// Proposes a change; the response carries only a header.
    async fn change<T>(
        &self,
        req: Request<T>,
        op: impl FnOnce(T) -> Op,
    ) -> Result<Option<ResponseHeader>, Status> {
        match self.propose(req, op).await? {
            AuthOutcome::Done => Ok(self.headers.current()),
            other => Err(unexpected_outcome(other)),
        }
    }

    /// Proposes a read that answers names (UserGet's roles, UserList, RoleList).
    async fn names<T>(
        &self,
        req: Request<T>,
        op: impl FnOnce(T) -> Op,
    ) -> Result<Vec<String>, Status> {
        match self.propose(req, op).await? {
            AuthOutcome::Names(names) => Ok(names),
            other => Err(unexpected_outcome(other)),
        }
    }

    /// bcrypt of `password` at the configured cost, off the async threads.
    async fn hash(&self, password: String) -> Result<String, Status> {
        let store = self.auth.store().clone();
        let hashed = tokio::task::spawn_blocking(move || store.hash_password(&password))
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(hashed.map_err(ServerError::from)?)
    }
}

/// The status for an auth outcome a handler did not expect.
fn unexpected_outcome(outcome: AuthOutcome) -> Status {
    Status::internal(format!("unexpected auth outcome {outcome:?}"))
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn auth_enable(
        &self,
        req: Request<AuthEnableRequest>,
    ) -> Result<Response<AuthEnableResponse>, Status> {
        let header = self.change(req, Op::AuthEnable).await?;
        Ok(Response::new(AuthEnableResponse { header }))
    }

    async fn auth_disable(
        &self,
        req: Request<AuthDisableRequest>,
    ) -> Result<Response<AuthDisableResponse>, Status> {
        let header = self.change(req, Op::AuthDisable).await?;
        Ok(Response::new(AuthDisableResponse { header }))
    }

    async fn auth_status(
        &self,
        req: Request<AuthStatusRequest>,
    ) -> Result<Response<AuthStatusResponse>, Status> {
        match self.propose(req, Op::AuthStatus).await? {
            AuthOutcome::Status { enabled, revision } => Ok(Response::new(AuthStatusResponse {
                header: self.headers.current(),
                enabled,
                auth_revision: revision,
            })),
            other => Err(unexpected_outcome(other)),
        }
    }

    /// etcd's Authenticate: a linearizable barrier, the password checked here, then the
    /// token recorded through raft; retried if the auth store changed in between, so a
    /// password changed meanwhile never yields a token.
    async fn authenticate(
        &self,
        req: Request<AuthenticateRequest>,
    ) -> Result<Response<AuthenticateResponse>, Status> {
        let r = req.into_inner();
        self.reads.wait().await?;
        let store = self.auth.store().clone();
        for _ in 0..AUTHENTICATE_ATTEMPTS {
            let (s, name, password) = (store.clone(), r.name.clone(), r.password.clone());
            let checked = tokio::task::spawn_blocking(move || s.check_password(&name, &password))
                .await
                .map_err(|e| Status::internal(e.to_string()))?
                .map_err(ServerError::from)?;
            let op = Op::Authenticate(InternalAuthenticateRequest {
                name: r.name.clone(),
                password: String::new(),
                simple_token: self.auth.tokens().prepare(),
            });
            let token = match self.proposer.propose(&Caller::Anonymous, op).await? {
                ApplyResult::Auth(AuthOutcome::Token(t)) => t,
                other => return Err(unexpected(other)),
            };
            if checked == store.revision() {
                return Ok(Response::new(AuthenticateResponse {
                    header: self.headers.current(),
                    token,
                }));
            }
        }
        Err(ServerError::AuthOldRevision.into())
    }

    async fn user_add(
        &self,
        req: Request<AuthUserAddRequest>,
    ) -> Result<Response<AuthUserAddResponse>, Status> {
        let (metadata, extensions, mut r) = req.into_parts();
        let no_password = r.options.as_ref().is_some_and(|o| o.no_password);
        let password = std::mem::take(&mut r.password);
        if !no_password && r.hashed_password.is_empty() {
            r.hashed_password = self.hash(password).await?;
        }
        let req = Request::from_parts(metadata, extensions, r);
        let header = self.change(req, Op::AuthUserAdd).await?;
        Ok(Response::new(AuthUserAddResponse { header }))
    }

    async fn user_get(
        &self,
        req: Request<AuthUserGetRequest>,
    ) -> Result<Response<AuthUserGetResponse>, Status> {
        let roles = self.names(req, Op::AuthUserGet).await?;
        Ok(Response::new(AuthUserGetResponse {
            header: self.headers.current(),
            roles,
        }))
    }

    async fn user_list(
        &self,
        req: Request<AuthUserListRequest>,
    ) -> Result<Response<AuthUserListResponse>, Status> {
        let users = self.names(req, Op::AuthUserList).await?;
        Ok(Response::new(AuthUserListResponse {
            header: self.headers.current(),
            users,
        }))
    }

    async fn user_delete(
        &self,
        req: Request<AuthUserDeleteRequest>,
    ) -> Result<Response<AuthUserDeleteResponse>, Status> {
        let header = self.change(req, Op::AuthUserDelete).await?;
        Ok(Response::new(AuthUserDeleteResponse { header }))
    }

    async fn user_change_password(
        &self,
        req: Request<AuthUserChangePasswordRequest>,
    ) -> Result<Response<AuthUserChangePasswordResponse>, Status> {
        let (metadata, extensions, mut r) = req.into_parts();
        let password = std::mem::take(&mut r.password);
        if r.hashed_password.is_empty() {
            r.hashed_password = self.hash(password).await?;
        }
        let req = Request::from_parts(metadata, extensions, r);
        let header = self.change(req, Op::AuthUserChangePassword).await?;
        Ok(Response::new(AuthUserChangePasswordResponse { header }))
    }

    async fn user_grant_role(
        &self,
        req: Request<AuthUserGrantRoleRequest>,
    ) -> Result<Response<AuthUserGrantRoleResponse>, Status> {
        let header = self.change(req, Op::AuthUserGrantRole).await?;
        Ok(Response::new(AuthUserGrantRoleResponse { header }))
    }

    async fn user_revoke_role(
        &self,
        req: Request<AuthUserRevokeRoleRequest>,
    ) -> Result<Response<AuthUserRevokeRoleResponse>, Status> {
        let header = self.change(req, Op::AuthUserRevokeRole).await?;
        Ok(Response::new(AuthUserRevokeRoleResponse { header }))
    }

    async fn role_add(
        &self,
        req: Request<AuthRoleAddRequest>,
    ) -> Result<Response<AuthRoleAddResponse>, Status> {
        let header = self.change(req, Op::AuthRoleAdd).await?;
        Ok(Response::new(AuthRoleAddResponse { header }))
    }

    async fn role_get(
        &self,
        req: Request<AuthRoleGetRequest>,
    ) -> Result<Response<AuthRoleGetResponse>, Status> {
        match self.propose(req, Op::AuthRoleGet).await? {
            AuthOutcome::Perms(perm) => Ok(Response::new(AuthRoleGetResponse {
                header: self.headers.current(),
                perm,
            })),
            other => Err(unexpected_outcome(other)),
        }
    }

    async fn role_list(
        &self,
        req: Request<AuthRoleListRequest>,
    ) -> Result<Response<AuthRoleListResponse>, Status> {
        let roles = self.names(req, Op::AuthRoleList).await?;
        Ok(Response::new(AuthRoleListResponse {
            header: self.headers.current(),
            roles,
        }))
    }

    async fn role_delete(
        &self,
        req: Request<AuthRoleDeleteRequest>,
    ) -> Result<Response<AuthRoleDeleteResponse>, Status> {
        let header = self.change(req, Op::AuthRoleDelete).await?;
        Ok(Response::new(AuthRoleDeleteResponse { header }))
    }

    async fn role_grant_permission(
        &self,
        req: Request<AuthRoleGrantPermissionRequest>,
    ) -> Result<Response<AuthRoleGrantPermissionResponse>, Status> {
        let header = self.change(req, Op::AuthRoleGrantPermission).await?;
        Ok(Response::new(AuthRoleGrantPermissionResponse { header }))
    }

    async fn role_revoke_permission(
        &self,
        req: Request<AuthRoleRevokePermissionRequest>,
    ) -> Result<Response<AuthRoleRevokePermissionResponse>, Status> {
        let header = self.change(req, Op::AuthRoleRevokePermission).await?;
        Ok(Response::new(AuthRoleRevokePermissionResponse { header }))
    }
}

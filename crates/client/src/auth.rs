//! [`Auth`]: thin wrappers of the Auth service, enough to set up users, roles and
//! permissions and to turn auth on and off. (Authenticate is the client's own business:
//! see [`crate::ConnectOptions::user`].) Management calls are mutations and are never
//! resent after `Unavailable`.

use oxcd_proto::authpb::permission::Type as PermType;
use oxcd_proto::authpb::Permission;
use oxcd_proto::etcdserverpb::auth_client::AuthClient;
use oxcd_proto::etcdserverpb::{
    AuthDisableRequest, AuthDisableResponse, AuthEnableRequest, AuthEnableResponse,
    AuthRoleAddRequest, AuthRoleAddResponse, AuthRoleGrantPermissionRequest,
    AuthRoleGrantPermissionResponse, AuthUserAddRequest, AuthUserAddResponse,
    AuthUserGrantRoleRequest, AuthUserGrantRoleResponse,
};

use crate::client::{Client, Retry};
use crate::error::Error;

/// The Auth service of a [`Client`].
#[derive(Debug, Clone)]
pub struct Auth {
    client: Client,
}

impl Auth {
    pub(crate) fn new(client: Client) -> Self {
        Auth { client }
    }

    /// Adds user `name` with `password`.
    pub async fn user_add(&self, name: &str, password: &str) -> Result<AuthUserAddResponse, Error> {
        let req = AuthUserAddRequest {
            name: name.into(),
            password: password.into(),
            ..AuthUserAddRequest::default()
        };
        self.client
            .call(Retry::NonRepeatable, |svc| {
                let req = req.clone();
                async move { AuthClient::new(svc).user_add(req).await }
            })
            .await
    }

    /// Grants role `role` to user `user`.
    pub async fn user_grant_role(
        &self,
        user: &str,
        role: &str,
    ) -> Result<AuthUserGrantRoleResponse, Error> {
        let req = AuthUserGrantRoleRequest {
            user: user.into(),
            role: role.into(),
        };
        self.client
            .call(Retry::NonRepeatable, |svc| {
                let req = req.clone();
                async move { AuthClient::new(svc).user_grant_role(req).await }
            })
            .await
    }

    /// Adds role `name`.
    pub async fn role_add(&self, name: &str) -> Result<AuthRoleAddResponse, Error> {
        let req = AuthRoleAddRequest { name: name.into() };
        self.client
            .call(Retry::NonRepeatable, |svc| {
                let req = req.clone();
                async move { AuthClient::new(svc).role_add(req).await }
            })
            .await
    }

    /// Grants role `name` the permission `perm` on `[key, range_end)` (`range_end` empty:
    /// the key alone; see [`crate::prefix_end`] for a prefix).
    pub async fn role_grant_permission(
        &self,
        name: &str,
        perm: PermType,
        key: impl Into<Vec<u8>>,
        range_end: impl Into<Vec<u8>>,
    ) -> Result<AuthRoleGrantPermissionResponse, Error> {
        let req = AuthRoleGrantPermissionRequest {
            name: name.into(),
            perm: Some(Permission {
                perm_type: perm as i32,
                key: key.into(),
                range_end: range_end.into(),
            }),
        };
        self.client
            .call(Retry::NonRepeatable, |svc| {
                let req = req.clone();
                async move { AuthClient::new(svc).role_grant_permission(req).await }
            })
            .await
    }

    /// Turns auth on (a `root` user with the `root` role must exist).
    pub async fn auth_enable(&self) -> Result<AuthEnableResponse, Error> {
        self.client
            .call(Retry::NonRepeatable, |svc| async move {
                AuthClient::new(svc).auth_enable(AuthEnableRequest {}).await
            })
            .await
    }

    /// Turns auth off (needs a `root` token).
    pub async fn auth_disable(&self) -> Result<AuthDisableResponse, Error> {
        self.client
            .call(Retry::NonRepeatable, |svc| async move {
                AuthClient::new(svc)
                    .auth_disable(AuthDisableRequest {})
                    .await
            })
            .await
    }
}

//! [`Auth`]: the Auth service: turning auth on and off, its status, and the management of
//! users, roles and permissions. (Authenticate is the client's own business: see
//! [`crate::ConnectOptions::user`].) Reads (status, user/role get and list) are retried on
//! another endpoint when unavailable, as clientv3 3.4 does; management calls are mutations
//! and are never resent after `Unavailable`.

use oxcd_proto::authpb::permission::Type as PermType;
use oxcd_proto::authpb::{Permission, UserAddOptions};
use oxcd_proto::etcdserverpb::auth_client::AuthClient;
use oxcd_proto::etcdserverpb::{
    AuthDisableRequest, AuthDisableResponse, AuthEnableRequest, AuthEnableResponse,
    AuthRoleAddRequest, AuthRoleAddResponse, AuthRoleDeleteRequest, AuthRoleDeleteResponse,
    AuthRoleGetRequest, AuthRoleGetResponse, AuthRoleGrantPermissionRequest,
    AuthRoleGrantPermissionResponse, AuthRoleListRequest, AuthRoleListResponse,
    AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse, AuthStatusRequest,
    AuthStatusResponse, AuthUserAddRequest, AuthUserAddResponse, AuthUserChangePasswordRequest,
    AuthUserChangePasswordResponse, AuthUserDeleteRequest, AuthUserDeleteResponse,
    AuthUserGetRequest, AuthUserGetResponse, AuthUserGrantRoleRequest, AuthUserGrantRoleResponse,
    AuthUserListRequest, AuthUserListResponse, AuthUserRevokeRoleRequest,
    AuthUserRevokeRoleResponse,
};

use crate::client::{Client, Retry};
use crate::error::Error;

/// The Auth service of a [`Client`].
#[derive(Debug, Clone)]
pub struct Auth {
    client: Client,
}

/// Sends `$req` with the Auth client method `$method` under the retry rule `$retry`.
macro_rules! auth_call {
    ($self:ident, $retry:expr, $method:ident, $req:expr) => {{
        let req = $req;
        $self
            .client
            .call($retry, |svc| {
                let req = req.clone();
                async move { AuthClient::new(svc).$method(req).await }
            })
            .await
    }};
}

impl Auth {
    pub(crate) fn new(client: Client) -> Self {
        Auth { client }
    }

    /// Turns auth on (a `root` user with the `root` role must exist).
    pub async fn auth_enable(&self) -> Result<AuthEnableResponse, Error> {
        auth_call!(
            self,
            Retry::NonRepeatable,
            auth_enable,
            AuthEnableRequest {}
        )
    }

    /// Turns auth off (needs a `root` token).
    pub async fn auth_disable(&self) -> Result<AuthDisableResponse, Error> {
        auth_call!(
            self,
            Retry::NonRepeatable,
            auth_disable,
            AuthDisableRequest {}
        )
    }

    /// Whether auth is on, and the auth revision (servers of etcd 3.5 and later, and oxcd).
    pub async fn auth_status(&self) -> Result<AuthStatusResponse, Error> {
        auth_call!(self, Retry::Repeatable, auth_status, AuthStatusRequest {})
    }

    /// Adds user `name` with `password`.
    pub async fn user_add(&self, name: &str, password: &str) -> Result<AuthUserAddResponse, Error> {
        self.user_add_with_options(name, password, false).await
    }

    /// Adds user `name`; with `no_password` the user has no password and can only be
    /// identified by a client certificate's CN (`password` must then be empty).
    pub async fn user_add_with_options(
        &self,
        name: &str,
        password: &str,
        no_password: bool,
    ) -> Result<AuthUserAddResponse, Error> {
        let req = AuthUserAddRequest {
            name: name.into(),
            password: password.into(),
            options: Some(UserAddOptions { no_password }),
            ..AuthUserAddRequest::default()
        };
        auth_call!(self, Retry::NonRepeatable, user_add, req)
    }

    /// The roles of user `name`.
    pub async fn user_get(&self, name: &str) -> Result<AuthUserGetResponse, Error> {
        let req = AuthUserGetRequest { name: name.into() };
        auth_call!(self, Retry::Repeatable, user_get, req)
    }

    /// Every user name, sorted.
    pub async fn user_list(&self) -> Result<AuthUserListResponse, Error> {
        auth_call!(self, Retry::Repeatable, user_list, AuthUserListRequest {})
    }

    /// Deletes user `name`.
    pub async fn user_delete(&self, name: &str) -> Result<AuthUserDeleteResponse, Error> {
        let req = AuthUserDeleteRequest { name: name.into() };
        auth_call!(self, Retry::NonRepeatable, user_delete, req)
    }

    /// Sets the password of user `name`.
    pub async fn user_change_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<AuthUserChangePasswordResponse, Error> {
        let req = AuthUserChangePasswordRequest {
            name: name.into(),
            password: password.into(),
            ..AuthUserChangePasswordRequest::default()
        };
        auth_call!(self, Retry::NonRepeatable, user_change_password, req)
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
        auth_call!(self, Retry::NonRepeatable, user_grant_role, req)
    }

    /// Revokes role `role` from user `name`.
    pub async fn user_revoke_role(
        &self,
        name: &str,
        role: &str,
    ) -> Result<AuthUserRevokeRoleResponse, Error> {
        let req = AuthUserRevokeRoleRequest {
            name: name.into(),
            role: role.into(),
        };
        auth_call!(self, Retry::NonRepeatable, user_revoke_role, req)
    }

    /// Adds role `name`.
    pub async fn role_add(&self, name: &str) -> Result<AuthRoleAddResponse, Error> {
        let req = AuthRoleAddRequest { name: name.into() };
        auth_call!(self, Retry::NonRepeatable, role_add, req)
    }

    /// The permissions of role `role`.
    pub async fn role_get(&self, role: &str) -> Result<AuthRoleGetResponse, Error> {
        let req = AuthRoleGetRequest { role: role.into() };
        auth_call!(self, Retry::Repeatable, role_get, req)
    }

    /// Every role name, sorted.
    pub async fn role_list(&self) -> Result<AuthRoleListResponse, Error> {
        auth_call!(self, Retry::Repeatable, role_list, AuthRoleListRequest {})
    }

    /// Deletes role `role`.
    pub async fn role_delete(&self, role: &str) -> Result<AuthRoleDeleteResponse, Error> {
        let req = AuthRoleDeleteRequest { role: role.into() };
        auth_call!(self, Retry::NonRepeatable, role_delete, req)
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
        auth_call!(self, Retry::NonRepeatable, role_grant_permission, req)
    }

    /// Revokes from role `role` the permission on exactly `[key, range_end)`.
    pub async fn role_revoke_permission(
        &self,
        role: &str,
        key: impl Into<Vec<u8>>,
        range_end: impl Into<Vec<u8>>,
    ) -> Result<AuthRoleRevokePermissionResponse, Error> {
        let req = AuthRoleRevokePermissionRequest {
            role: role.into(),
            key: key.into(),
            range_end: range_end.into(),
        };
        auth_call!(self, Retry::NonRepeatable, role_revoke_permission, req)
    }
}

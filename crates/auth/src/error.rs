//! [`AuthError`], the crate's one error type. Its texts are etcd's `auth` package errors
//! ("auth: ..."); the server maps each to etcd's gRPC status ("etcdserver: ...") in one
//! place, and passes the raw text through where etcd does (the maintenance service).

use oxcd_backend::BackendError;

/// Why an auth operation or permission check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// AuthEnable without a `root` user.
    #[error("auth: root user does not exist")]
    RootUserNotExist,
    /// AuthEnable while `root` lacks the `root` role.
    #[error("auth: root user does not have root role")]
    RootRoleNotExist,
    /// UserAdd of an existing user.
    #[error("auth: user already exists")]
    UserAlreadyExist,
    /// An empty user name, or a request without credentials while auth is on.
    #[error("auth: user name is empty")]
    UserEmpty,
    /// No such user.
    #[error("auth: user not found")]
    UserNotFound,
    /// RoleAdd of an existing role.
    #[error("auth: role already exists")]
    RoleAlreadyExist,
    /// No such role.
    #[error("auth: role not found")]
    RoleNotFound,
    /// An empty role name.
    #[error("auth: role name is empty")]
    RoleEmpty,
    /// Wrong user or password.
    #[error("auth: authentication failed, invalid user ID or password")]
    AuthFailed,
    /// Authenticate of a `no_password` user (code Unknown in etcd: not an rpctypes error).
    #[error("auth: authentication failed, password was given for no password user")]
    NoPasswordUser,
    /// The request is not allowed for this user.
    #[error("auth: permission denied")]
    PermissionDenied,
    /// UserRevokeRole of a role the user does not hold.
    #[error("auth: role is not granted to the user")]
    RoleNotGranted,
    /// RoleRevokePermission of a permission the role does not hold.
    #[error("auth: permission is not granted to the role")]
    PermissionNotGranted,
    /// RoleGrantPermission without a permission.
    #[error("auth: permission not given")]
    PermissionNotGiven,
    /// An operation that needs auth on while it is off.
    #[error("auth: authentication is not enabled")]
    AuthNotEnabled,
    /// The request was checked against an older auth revision than the store's.
    #[error("auth: revision in header is old")]
    AuthOldRevision,
    /// The token is unknown, expired or forged.
    #[error("auth: invalid auth token")]
    InvalidAuthToken,
    /// A bad `--auth-token` value: an unknown token type, a malformed or repeated option,
    /// an unknown or unsupported `sign-method`, a bad `ttl`, an unreadable key file.
    #[error("auth: invalid auth options: {0}")]
    InvalidAuthOpts(String),
    /// A JWT sign method without the key it needs (no key file at all; HS* without
    /// `priv-key`).
    #[error("auth: missing key data")]
    MissingKey,
    /// A key file that is not a PEM key of the kind the sign method needs.
    #[error("auth: invalid key data: {0}")]
    InvalidKey(String),
    /// `pub-key` is not the public half of `priv-key`.
    #[error("auth: public and private keys don't match")]
    KeyMismatch,
    /// Authenticate on a member given only a public key: it can verify tokens, not sign.
    #[error("auth: token signing attempted with verify-only key")]
    VerifyOnly,
    /// Signing a token failed.
    #[error("auth: failed to sign a token: {0}")]
    SignToken(String),
    /// Deleting `root`, or taking the `root` role from it, while auth is on.
    #[error("auth: invalid auth management")]
    InvalidAuthMgmt,
    /// A password could not be hashed, or a stored hash is malformed.
    #[error("auth: password hash: {0}")]
    Hash(String),
    /// A persisted record could not be decoded.
    #[error("auth: corrupt record {key}: {reason}")]
    Corrupt {
        /// The record's key in the auth column.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The backend failed.
    #[error("auth: backend: {0}")]
    Backend(String),
}

impl From<BackendError> for AuthError {
    fn from(e: BackendError) -> Self {
        AuthError::Backend(e.to_string())
    }
}

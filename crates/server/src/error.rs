//! [`ServerError`]: every way a request can fail inside the server.
//!
//! The variants carry etcd's meaning; `grpc/status.rs` is the one place that turns them
//! into `tonic::Status` with etcd's exact messages and codes.

use oxcd_mvcc::MvccError;

/// A request failure, independent of the transport that reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerError {
    /// Empty key in a request.
    #[error("etcdserver: key is not provided")]
    EmptyKey,
    /// `ignore_value`/`ignore_lease` on a key that does not exist.
    #[error("etcdserver: key not found")]
    KeyNotFound,
    /// `ignore_value` with a value.
    #[error("etcdserver: value is provided")]
    ValueProvided,
    /// `ignore_lease` with a lease.
    #[error("etcdserver: lease is provided")]
    LeaseProvided,
    /// More operations than `--max-txn-ops`.
    #[error("etcdserver: too many operations in txn request")]
    TooManyOps,
    /// Two writes of one key in a txn branch.
    #[error("etcdserver: duplicate key given in txn request")]
    DuplicateKey,
    /// The revision was compacted.
    #[error("etcdserver: mvcc: required revision has been compacted")]
    Compacted,
    /// The revision is in the future.
    #[error("etcdserver: mvcc: required revision is a future revision")]
    FutureRevision,
    /// The NOSPACE alarm is raised.
    #[error("etcdserver: mvcc: database space exceeded")]
    NoSpace,
    /// The CORRUPT alarm is raised (a corruption check found members whose data differ).
    #[error("etcdserver: corrupt cluster")]
    Corrupt,
    /// A lease that does not exist.
    #[error("etcdserver: requested lease not found")]
    LeaseNotFound,
    /// LeaseGrant with an ID in use.
    #[error("etcdserver: lease already exists")]
    LeaseExists,
    /// LeaseGrant with a TTL above the maximum.
    #[error("etcdserver: too large lease TTL")]
    LeaseTtlTooLarge,
    /// Encoded request over `--max-request-bytes`.
    #[error("etcdserver: request is too large")]
    RequestTooLarge,
    /// Apply is more than 5000 entries behind commit.
    #[error("etcdserver: too many requests")]
    TooManyRequests,
    /// No leader.
    #[error("etcdserver: no leader")]
    NoLeader,
    /// The leader changed while the request was in flight.
    #[error("etcdserver: leader changed")]
    LeaderChanged,
    /// The request did not finish in time.
    #[error("etcdserver: request timed out")]
    Timeout,
    /// The request did not finish in time and the leader changed or was lost meanwhile.
    #[error("etcdserver: request timed out, possibly due to previous leader failure")]
    TimeoutLeaderFail,
    /// The cluster is not healthy enough for a membership change.
    #[error("etcdserver: unhealthy cluster")]
    Unhealthy,
    /// A learner was asked for something learners do not serve.
    #[error("etcdserver: rpc not supported for learner")]
    NotSupportedForLearner,
    /// MemberAdd of an ID that exists.
    #[error("etcdserver: member ID already exist")]
    MemberExists,
    /// Peer URLs used by another member.
    #[error("etcdserver: Peer URLs already exists")]
    PeerUrlExists,
    /// A voter change that would leave too few started members.
    #[error("etcdserver: re-configuration failed due to not enough started members")]
    NotEnoughStartedMembers,
    /// Unparsable peer URLs.
    #[error("etcdserver: given member URLs are invalid")]
    MemberBadUrls,
    /// MemberPromote of a voter.
    #[error("etcdserver: can only promote a learner member")]
    MemberNotLearner,
    /// MemberPromote of a learner that lags.
    #[error("etcdserver: can only promote a learner member which is in sync with leader")]
    LearnerNotReady,
    /// MemberAdd of one learner too many.
    #[error("etcdserver: too many learner members in cluster")]
    TooManyLearners,
    /// The server is shutting down.
    #[error("etcdserver: server stopped")]
    Stopped,
    /// A member that does not exist.
    #[error("etcdserver: member not found")]
    MemberNotFound,
    /// MoveLeader to a member that cannot lead.
    #[error("etcdserver: bad leader transferee")]
    BadLeaderTransferee,
    /// The request must be served by the leader.
    #[error("etcdserver: not leader")]
    NotLeader,
    /// A feature this server does not offer.
    #[error("etcdserver: not capable")]
    NotCapable,
    /// Authenticate with a wrong user or password.
    #[error("etcdserver: authentication failed, invalid user ID or password")]
    AuthFailed,
    /// The token is unknown, expired or forged.
    #[error("etcdserver: invalid auth token")]
    InvalidAuthToken,
    /// The request was admitted under an older auth revision than the store's.
    #[error("etcdserver: revision of auth store is old")]
    AuthOldRevision,
    /// No credentials while auth is on, or an empty user name.
    #[error("etcdserver: user name is empty")]
    UserEmpty,
    /// The user may not do this.
    #[error("etcdserver: permission denied")]
    PermissionDenied,
    /// An operation that needs auth on while it is off.
    #[error("etcdserver: authentication is not enabled")]
    AuthNotEnabled,
    /// AuthEnable without a `root` user.
    #[error("etcdserver: root user does not exist")]
    RootUserNotExist,
    /// AuthEnable while `root` lacks the `root` role.
    #[error("etcdserver: root user does not have root role")]
    RootRoleNotExist,
    /// UserAdd of an existing user.
    #[error("etcdserver: user name already exists")]
    UserAlreadyExist,
    /// No such user.
    #[error("etcdserver: user name not found")]
    UserNotFound,
    /// RoleAdd of an existing role.
    #[error("etcdserver: role name already exists")]
    RoleAlreadyExist,
    /// No such role.
    #[error("etcdserver: role name not found")]
    RoleNotFound,
    /// An empty role name.
    #[error("etcdserver: role name is empty")]
    RoleEmpty,
    /// UserRevokeRole of a role the user does not hold.
    #[error("etcdserver: role is not granted to the user")]
    RoleNotGranted,
    /// RoleRevokePermission of a permission the role does not hold.
    #[error("etcdserver: permission is not granted to the role")]
    PermissionNotGranted,
    /// RoleGrantPermission without a permission.
    #[error("etcdserver: permission not given")]
    PermissionNotGiven,
    /// Deleting `root`, or taking the `root` role from it, while auth is on.
    #[error("etcdserver: invalid auth management")]
    InvalidAuthMgmt,
    /// An auth error passed through with the auth store's own text (`auth: ...`) and code
    /// Unknown, as etcd's maintenance service does.
    #[error("{0}")]
    RawAuth(oxcd_auth::AuthError),
    /// An unexpected internal failure (storage, encoding).
    #[error("{0}")]
    Internal(String),
}

/// A refusal this member sends back for a request another member forwarded to it.
impl From<ServerError> for oxcd_peer::HostError {
    fn from(e: ServerError) -> Self {
        use oxcd_peer::HostError as H;
        match e {
            ServerError::Stopped => H::Stopped,
            ServerError::NotLeader => H::NotLeader,
            ServerError::NoLeader => H::NoLeader,
            ServerError::LeaderChanged => H::LeaderChanged,
            ServerError::Timeout => H::Timeout,
            ServerError::TimeoutLeaderFail => H::TimeoutLeaderFail,
            ServerError::Unhealthy => H::Unhealthy,
            ServerError::LeaseNotFound => H::LeaseNotFound,
            ServerError::MemberNotFound => H::MemberNotFound,
            ServerError::MemberNotLearner => H::MemberNotLearner,
            ServerError::LearnerNotReady => H::LearnerNotReady,
            ServerError::NotEnoughStartedMembers => H::NotEnoughStartedMembers,
            ServerError::Compacted => H::Compacted,
            ServerError::FutureRevision => H::FutureRevision,
            other => H::Other(other.to_string()),
        }
    }
}

/// The leader's refusal of a request this member forwarded, as this member answers it.
impl From<oxcd_peer::HostError> for ServerError {
    fn from(e: oxcd_peer::HostError) -> Self {
        use oxcd_peer::HostError as H;
        match e {
            H::Stopped => ServerError::Stopped,
            H::NotLeader => ServerError::NotLeader,
            H::NoLeader => ServerError::NoLeader,
            H::LeaderChanged => ServerError::LeaderChanged,
            H::Timeout => ServerError::Timeout,
            H::TimeoutLeaderFail => ServerError::TimeoutLeaderFail,
            H::Unhealthy => ServerError::Unhealthy,
            H::LeaseNotFound => ServerError::LeaseNotFound,
            H::MemberNotFound => ServerError::MemberNotFound,
            H::MemberNotLearner => ServerError::MemberNotLearner,
            H::LearnerNotReady => ServerError::LearnerNotReady,
            H::NotEnoughStartedMembers => ServerError::NotEnoughStartedMembers,
            H::Compacted => ServerError::Compacted,
            H::FutureRevision => ServerError::FutureRevision,
            H::Other(text) => ServerError::Internal(text),
        }
    }
}

impl From<MvccError> for ServerError {
    fn from(e: MvccError) -> Self {
        match e {
            MvccError::Compacted => ServerError::Compacted,
            MvccError::FutureRevision => ServerError::FutureRevision,
            other => ServerError::Internal(other.to_string()),
        }
    }
}

impl From<oxcd_lease::LeaseError> for ServerError {
    fn from(e: oxcd_lease::LeaseError) -> Self {
        use oxcd_lease::LeaseError as L;
        match e {
            L::NotFound | L::ZeroId | L::Expired => ServerError::LeaseNotFound,
            L::AlreadyExists => ServerError::LeaseExists,
            L::TtlTooLarge => ServerError::LeaseTtlTooLarge,
            L::NotPrimary => ServerError::NotLeader,
            other => ServerError::Internal(other.to_string()),
        }
    }
}

impl From<oxcd_auth::AuthError> for ServerError {
    fn from(e: oxcd_auth::AuthError) -> Self {
        use oxcd_auth::AuthError as A;
        match e {
            A::RootUserNotExist => ServerError::RootUserNotExist,
            A::RootRoleNotExist => ServerError::RootRoleNotExist,
            A::UserAlreadyExist => ServerError::UserAlreadyExist,
            A::UserEmpty => ServerError::UserEmpty,
            A::UserNotFound => ServerError::UserNotFound,
            A::RoleAlreadyExist => ServerError::RoleAlreadyExist,
            A::RoleNotFound => ServerError::RoleNotFound,
            A::RoleEmpty => ServerError::RoleEmpty,
            A::AuthFailed => ServerError::AuthFailed,
            A::PermissionDenied => ServerError::PermissionDenied,
            A::RoleNotGranted => ServerError::RoleNotGranted,
            A::PermissionNotGranted => ServerError::PermissionNotGranted,
            A::PermissionNotGiven => ServerError::PermissionNotGiven,
            A::AuthNotEnabled => ServerError::AuthNotEnabled,
            A::AuthOldRevision => ServerError::AuthOldRevision,
            A::InvalidAuthToken => ServerError::InvalidAuthToken,
            A::InvalidAuthMgmt => ServerError::InvalidAuthMgmt,
            other => ServerError::Internal(other.to_string()),
        }
    }
}

impl From<oxcd_backend::BackendError> for ServerError {
    fn from(e: oxcd_backend::BackendError) -> Self {
        ServerError::Internal(e.to_string())
    }
}

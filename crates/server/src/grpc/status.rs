//! The one place where server errors become `tonic::Status`, with etcd's exact messages and
//! gRPC codes (etcd's `rpctypes` table): clients parse the text, and the code drives retries.

use tonic::{Code, Status};

use crate::apply::ApplyResult;
use crate::error::ServerError;

/// The status for an apply result a handler did not expect: the request's error, or an
/// internal error naming what came back.
pub fn unexpected(r: ApplyResult) -> Status {
    match r {
        ApplyResult::Error(e) => e.into(),
        other => Status::internal(format!("unexpected apply result {other:?}")),
    }
}

/// The gRPC code etcd 3.4 uses for an error.
pub fn code_of(e: &ServerError) -> Code {
    use ServerError::*;
    match e {
        EmptyKey | KeyNotFound | ValueProvided | LeaseProvided | TooManyOps | DuplicateKey
        | RequestTooLarge => Code::InvalidArgument,
        Compacted | FutureRevision | LeaseTtlTooLarge => Code::OutOfRange,
        NoSpace | TooManyRequests => Code::ResourceExhausted,
        Corrupt => Code::DataLoss,
        LeaseNotFound | MemberNotFound => Code::NotFound,
        BadLeaderTransferee | NotLeader | LeaseExists => Code::FailedPrecondition,
        MemberExists
        | PeerUrlExists
        | NotEnoughStartedMembers
        | MemberNotLearner
        | LearnerNotReady
        | TooManyLearners => Code::FailedPrecondition,
        MemberBadUrls => Code::InvalidArgument,
        NotCapable | NotSupportedForLearner | Unhealthy => Code::Unavailable,
        NoLeader | LeaderChanged | Timeout | TimeoutLeaderFail | Stopped => Code::Unavailable,
        AuthFailed | AuthOldRevision | UserEmpty | RoleEmpty | PermissionNotGiven
        | InvalidAuthMgmt => Code::InvalidArgument,
        InvalidAuthToken => Code::Unauthenticated,
        PermissionDenied => Code::PermissionDenied,
        AuthNotEnabled | RootUserNotExist | RootRoleNotExist | UserAlreadyExist | UserNotFound
        | RoleAlreadyExist | RoleNotFound | RoleNotGranted | PermissionNotGranted => {
            Code::FailedPrecondition
        }
        RawAuth(_) | Internal(_) => Code::Unknown,
    }
}

/// The text of an error as etcd's Go server renders its gRPC status in a string field
/// (a watch's `cancel_reason`): `rpc error: code = <Code> desc = <message>`.
pub fn go_status_text(e: &ServerError) -> String {
    format!(
        "rpc error: code = {} desc = {e}",
        oxcd_proto::grpc_go::code_name(code_of(e))
    )
}

impl From<ServerError> for Status {
    fn from(e: ServerError) -> Self {
        Status::new(code_of(&e), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_codes_match_etcd() {
        let cases = [
            (
                ServerError::EmptyKey,
                Code::InvalidArgument,
                "etcdserver: key is not provided",
            ),
            (
                ServerError::Compacted,
                Code::OutOfRange,
                "etcdserver: mvcc: required revision has been compacted",
            ),
            (
                ServerError::FutureRevision,
                Code::OutOfRange,
                "etcdserver: mvcc: required revision is a future revision",
            ),
            (
                ServerError::NoSpace,
                Code::ResourceExhausted,
                "etcdserver: mvcc: database space exceeded",
            ),
            (
                ServerError::Corrupt,
                Code::DataLoss,
                "etcdserver: corrupt cluster",
            ),
            (
                ServerError::RequestTooLarge,
                Code::InvalidArgument,
                "etcdserver: request is too large",
            ),
            (
                ServerError::TooManyOps,
                Code::InvalidArgument,
                "etcdserver: too many operations in txn request",
            ),
            (
                ServerError::DuplicateKey,
                Code::InvalidArgument,
                "etcdserver: duplicate key given in txn request",
            ),
            (
                ServerError::LeaseNotFound,
                Code::NotFound,
                "etcdserver: requested lease not found",
            ),
            (
                ServerError::NoLeader,
                Code::Unavailable,
                "etcdserver: no leader",
            ),
            (
                ServerError::Timeout,
                Code::Unavailable,
                "etcdserver: request timed out",
            ),
            (
                ServerError::InvalidAuthToken,
                Code::Unauthenticated,
                "etcdserver: invalid auth token",
            ),
            (
                ServerError::PermissionDenied,
                Code::PermissionDenied,
                "etcdserver: permission denied",
            ),
            (
                ServerError::RawAuth(oxcd_auth::AuthError::PermissionDenied),
                Code::Unknown,
                "auth: permission denied",
            ),
            (
                ServerError::UserNotFound,
                Code::FailedPrecondition,
                "etcdserver: user name not found",
            ),
        ];
        assert_eq!(
            go_status_text(&ServerError::UserEmpty),
            "rpc error: code = InvalidArgument desc = etcdserver: user name is empty"
        );
        for (e, code, msg) in cases {
            let s = Status::from(e);
            assert_eq!(s.code(), code);
            assert_eq!(s.message(), msg);
        }
    }
}

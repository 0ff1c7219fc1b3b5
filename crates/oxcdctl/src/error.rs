//! [`CtlError`]: what a command fails with, etcdctl's exit codes, and the text etcdctl
//! prints for a client error (a known `etcdserver:` message alone, anything else as gRPC's
//! `rpc error: code = ... desc = ...`).

use oxcd_client::{Error, Status};

/// etcdctl's exit codes (`ctlv3/command/error.go`).
pub mod exit {
    /// A request failed.
    pub const ERROR: i32 = 1;
    /// The client could not be set up (or, for some lease commands, any failure).
    pub const BAD_CONNECTION: i32 = 2;
    /// Unreadable input to `txn` or `watch -i`.
    pub const INVALID_INPUT: i32 = 3;
    /// A valid flag with an unsupported value (e.g. an output format a command lacks).
    pub const BAD_FEATURE: i32 = 4;
    /// A watch ended by the server.
    pub const INTERRUPTED: i32 = 5;
    /// Bad arguments.
    pub const BAD_ARGS: i32 = 128;
}

/// A failed command: printed as `Error: <message>` on stderr, then exit with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtlError {
    /// The exit code.
    pub code: i32,
    /// The message after `Error: `.
    pub message: String,
}

impl CtlError {
    /// An error with exit code `code`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CtlError {
            code,
            message: message.into(),
        }
    }

    /// Exit code 128 (etcdctl's ExitBadArgs).
    pub fn bad_args(message: impl Into<String>) -> Self {
        Self::new(exit::BAD_ARGS, message)
    }

    /// Exit code 1 (etcdctl's ExitError).
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(exit::ERROR, message)
    }

    /// A client error with exit code `code`, in etcdctl's words.
    pub fn client(code: i32, e: &Error) -> Self {
        Self::new(code, client_error_text(e))
    }

    /// An exit without a message (the command printed its own).
    pub fn silent(code: i32) -> Self {
        Self::new(code, String::new())
    }
}

/// The `etcdserver:` messages clientv3 3.4 turns into its own typed errors (rpctypes'
/// `errStringToError`); they print as the message alone.
const KNOWN: &[&str] = &[
    "etcdserver: key is not provided",
    "etcdserver: key not found",
    "etcdserver: value is provided",
    "etcdserver: lease is provided",
    "etcdserver: too many operations in txn request",
    "etcdserver: duplicate key given in txn request",
    "etcdserver: mvcc: required revision has been compacted",
    "etcdserver: mvcc: required revision is a future revision",
    "etcdserver: mvcc: database space exceeded",
    "etcdserver: requested lease not found",
    "etcdserver: lease already exists",
    "etcdserver: too large lease TTL",
    "etcdserver: member ID already exist",
    "etcdserver: Peer URLs already exists",
    "etcdserver: re-configuration failed due to not enough started members",
    "etcdserver: given member URLs are invalid",
    "etcdserver: member not found",
    "etcdserver: can only promote a learner member",
    "etcdserver: can only promote a learner member which is in sync with leader",
    "etcdserver: too many learner members in cluster",
    "etcdserver: request is too large",
    "etcdserver: too many requests",
    "etcdserver: root user does not exist",
    "etcdserver: root user does not have root role",
    "etcdserver: user name already exists",
    "etcdserver: user name is empty",
    "etcdserver: user name not found",
    "etcdserver: role name already exists",
    "etcdserver: role name not found",
    "etcdserver: role name is empty",
    "etcdserver: authentication failed, invalid user ID or password",
    "etcdserver: permission denied",
    "etcdserver: role is not granted to the user",
    "etcdserver: permission is not granted to the role",
    "etcdserver: authentication is not enabled",
    "etcdserver: invalid auth token",
    "etcdserver: invalid auth management",
    "etcdserver: revision of auth store is old",
    "etcdserver: no leader",
    "etcdserver: not leader",
    "etcdserver: leader changed",
    "etcdserver: not capable",
    "etcdserver: server stopped",
    "etcdserver: request timed out",
    "etcdserver: request timed out, possibly due to previous leader failure",
    "etcdserver: request timed out, possibly due to connection lost",
    "etcdserver: request timed out, waiting for the applied index took too long",
    "etcdserver: unhealthy cluster",
    "etcdserver: corrupt cluster",
    "etcdserver: rpc not supported for learner",
    "etcdserver: bad leader transferee",
];

/// Whether clientv3 3.4 knows `st` as one of its typed errors.
pub fn is_known(st: &Status) -> bool {
    KNOWN.contains(&st.message())
}

/// A status as gRPC-Go prints it: `rpc error: code = <Code> desc = <message>`.
pub fn grpc_text(st: &Status) -> String {
    format!(
        "rpc error: code = {} desc = {}",
        oxcd_proto::grpc_go::code_name(st.code()),
        st.message()
    )
}

/// A status as etcdctl prints it: the message alone when clientv3 knows it, else
/// [`grpc_text`].
pub fn status_text(st: &Status) -> String {
    if is_known(st) {
        st.message().to_string()
    } else {
        grpc_text(st)
    }
}

/// A client error as etcdctl prints it; a timeout is Go's "context deadline exceeded".
pub fn client_error_text(e: &Error) -> String {
    match e {
        Error::Status(st) => status_text(st),
        Error::Timeout(_) => "context deadline exceeded".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_messages_print_alone_others_as_grpc() {
        let known = Status::out_of_range("etcdserver: mvcc: required revision has been compacted");
        assert_eq!(
            status_text(&known),
            "etcdserver: mvcc: required revision has been compacted"
        );
        let other = Status::unknown("etcdserver: something new");
        assert_eq!(
            status_text(&other),
            "rpc error: code = Unknown desc = etcdserver: something new"
        );
        assert_eq!(
            client_error_text(&Error::Timeout(std::time::Duration::from_secs(5))),
            "context deadline exceeded"
        );
    }
}

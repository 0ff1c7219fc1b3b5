//! [`Error`]: the one error type of the client.

use std::time::Duration;

use tonic::{Code, Status};

/// Everything a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// [`crate::Client::connect`] was given no endpoint.
    #[error("no endpoints given")]
    NoEndpoints,
    /// An endpoint is not `host:port`, `http://host:port` or `https://host:port`.
    #[error("invalid endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it was refused.
        reason: String,
    },
    /// The server answered with a gRPC error (or the connection failed and tonic reported it
    /// as a status, usually `Unavailable`).
    #[error("{}: {}", .0.code(), .0.message())]
    Status(#[from] Status),
    /// The call did not complete within the request timeout of [`crate::ConnectOptions`]. A
    /// mutation that timed out may or may not have been applied.
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    /// A watch was canceled because the revision it needed has been compacted; the value is
    /// the compaction revision the server reported. Events before it are lost to the watcher.
    #[error("watch: required revision has been compacted (compact revision {0})")]
    Compacted(i64),
    /// A watch was canceled by the server for another reason (e.g. permission denied).
    #[error("watch canceled by the server: {0}")]
    WatchCanceled(String),
    /// Peer URLs refused before sending, as clientv3 checks them (etcd's `types.NewURLs`
    /// texts).
    #[error("{0}")]
    InvalidUrls(String),
    /// A token returned by Authenticate cannot be sent as gRPC metadata.
    #[error("auth token is not valid ASCII metadata")]
    InvalidToken,
}

impl Error {
    /// The gRPC status, when the error carries one.
    pub fn status(&self) -> Option<&Status> {
        match self {
            Error::Status(s) => Some(s),
            _ => None,
        }
    }

    /// The gRPC code, when the error carries a status.
    pub fn code(&self) -> Option<Code> {
        self.status().map(Status::code)
    }
}

//! Small helpers of the gRPC tests (the `oxcd-proto` tonic clients): a tokio runtime, a
//! bounded connect, a request carrying an auth token, a status as text and a prefix's range
//! end. They panic on failure, as test code does; every wait is bounded.

use std::time::Duration;

use tonic::transport::Channel;

/// Bound on one connect made by [`channel`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A multi-threaded tokio runtime with 2 workers and every driver enabled.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A channel to `endpoint` (`http://127.0.0.1:port`), connected within [`CONNECT_TIMEOUT`];
/// panics if it cannot connect.
pub async fn channel(endpoint: &str) -> Channel {
    tokio::time::timeout(
        CONNECT_TIMEOUT,
        Channel::from_shared(endpoint.to_string())
            .expect("endpoint")
            .connect(),
    )
    .await
    .expect("connect timed out")
    .expect("connect")
}

/// A request carrying `token` (if any) in the gRPC metadata key `token`, where etcd's
/// clients put it.
pub fn with_token<T>(msg: T, token: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Some(t) = token {
        r.metadata_mut()
            .insert("token", t.parse().expect("token is ASCII"));
    }
    r
}

/// `"<Code>: <message>"`, e.g. `PermissionDenied: etcdserver: permission denied`.
pub fn status_text(st: &tonic::Status) -> String {
    format!("{:?}: {}", st.code(), st.message())
}

/// The range end that makes `[prefix, end)` the keys under `prefix` (its last byte plus one;
/// empty for an empty prefix).
pub fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1;
    }
    end
}

//! [`Client`]: the endpoints, one channel per endpoint, the pinned endpoint with failover,
//! the auth token and the retry loop every service call goes through.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use oxcd_proto::etcdserverpb::auth_client::AuthClient;
use oxcd_proto::etcdserverpb::AuthenticateRequest;
use oxcd_tls::{ClientTls, Dialer};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::auth::Auth;
use crate::cluster::Cluster;
use crate::error::Error;
use crate::kv::Kv;
use crate::lease::Lease;
use crate::maintenance::Maintenance;
use crate::watch::{WatchOptions, Watcher};

/// How [`Client::connect`] connects.
#[derive(Clone)]
pub struct ConnectOptions {
    /// User name and password: the client authenticates and sends the token with every call.
    pub user: Option<(String, String)>,
    /// TLS configuration; endpoints without a scheme then default to `https://`.
    pub tls: Option<ClientTls>,
    /// Bound on one TCP connect plus TLS handshake.
    pub connect_timeout: Duration,
    /// Bound on one unary call (and on the open of a stream).
    pub request_timeout: Duration,
    /// Told of every failed attempt of a unary call (before any retry), for diagnostics
    /// such as etcdctl's "retrying of unary invoker failed" log line.
    pub attempt_observer: Option<AttemptObserver>,
    /// As gRPC's wait-for-ready (clientv3's balancer): while no endpoint accepts a
    /// connection, a call waits and tries again until the request timeout, then fails
    /// with [`Error::Timeout`]. A call that could not connect was never sent, so this holds
    /// for mutations too.
    pub wait_for_ready: bool,
}

/// One failed attempt of a unary call, as reported to an [`AttemptObserver`].
#[derive(Debug)]
pub struct FailedAttempt<'a> {
    /// The URL of the endpoint the attempt went to.
    pub endpoint: &'a str,
    /// 0 for the first attempt of the call, then 1, 2, ...
    pub attempt: u32,
    /// The status the attempt failed with (`DeadlineExceeded` for a timeout).
    pub status: &'a Status,
}

/// A callback told of each [`FailedAttempt`]; see [`ConnectOptions::attempt_observer`].
pub type AttemptObserver = Arc<dyn Fn(&FailedAttempt<'_>) + Send + Sync>;

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            user: None,
            tls: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            attempt_observer: None,
            wait_for_ready: false,
        }
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("user", &self.user.as_ref().map(|(u, _)| u))
            .field("tls", &self.tls.is_some())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("attempt_observer", &self.attempt_observer.is_some())
            .field("wait_for_ready", &self.wait_for_ready)
            .finish()
    }
}

/// The shared auth token, read by every call's interceptor and replaced on re-authentication.
pub(crate) type TokenCell = Arc<RwLock<Option<MetadataValue<Ascii>>>>;

/// Adds the `token` metadata etcd's auth reads (nothing while no token is held).
#[derive(Clone)]
pub(crate) struct TokenInterceptor(TokenCell);

impl Interceptor for TokenInterceptor {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        let token = self.0.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(token) = token {
            req.metadata_mut().insert("token", token);
        }
        Ok(req)
    }
}

/// A channel to one endpoint with the token interceptor.
pub(crate) type Svc = InterceptedService<Channel, TokenInterceptor>;

/// Whether a call may be sent again after `Unavailable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Immutable (a read, a lease or keepalive operation): retried on another endpoint.
    Repeatable,
    /// A mutation that may have been applied: never resent.
    NonRepeatable,
}

struct Inner {
    endpoints: Vec<String>,
    channels: Vec<Channel>,
    pinned: AtomicUsize,
    token: TokenCell,
    user: Option<(String, String)>,
    request_timeout: Duration,
    tls: Option<ClientTls>,
    connect_timeout: Duration,
    observer: Option<AttemptObserver>,
    wait_for_ready: bool,
}

/// A client of an etcd v3 cluster. Cheap to clone: clones share the channels and the token.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    /// The key prefix of [`Client::with_namespace`] (empty: none).
    namespace: Arc<[u8]>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.inner.endpoints)
            .field("pinned", &self.endpoint())
            .field("namespace", &String::from_utf8_lossy(&self.namespace))
            .finish()
    }
}

/// `host:port` becomes `<scheme>://host:port`; `http://` and `https://` URLs are kept.
fn endpoint_url(ep: &str, tls: bool) -> Result<String, Error> {
    let ep = ep.trim();
    let invalid = |reason: &str| Error::InvalidEndpoint {
        endpoint: ep.to_string(),
        reason: reason.to_string(),
    };
    if ep.is_empty() {
        return Err(invalid("empty"));
    }
    if ep.starts_with("http://") || ep.starts_with("https://") {
        if ep.starts_with("https://") && !tls {
            return Err(invalid("https:// needs a TLS configuration"));
        }
        return Ok(ep.to_string());
    }
    if ep.contains("://") {
        return Err(invalid("the scheme must be http or https"));
    }
    Ok(format!("{}://{ep}", if tls { "https" } else { "http" }))
}

/// The URL of `ep` and a lazily connected channel to it.
fn lazy_channel(
    ep: &str,
    tls: &Option<ClientTls>,
    connect_timeout: Duration,
) -> Result<(String, Channel), Error> {
    let url = endpoint_url(ep, tls.is_some())?;
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| Error::InvalidEndpoint {
            endpoint: url.clone(),
            reason: e.to_string(),
        })?
        .tcp_nodelay(true)
        .connect_timeout(connect_timeout)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    let dialer = Dialer::new(tls.clone(), connect_timeout);
    Ok((url, endpoint.connect_with_connector_lazy(dialer)))
}

/// How long a wait-for-ready call pauses between connection attempts.
const WAIT_FOR_READY_PAUSE: Duration = Duration::from_millis(100);

/// Whether `st` is a failure to connect (refused, unreachable): the request was never
/// sent, so sending it again cannot apply it twice.
fn never_sent(st: &Status) -> bool {
    use std::error::Error as _;
    use std::io::ErrorKind;
    if st.code() != Code::Unavailable {
        return false;
    }
    let mut source = st.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            );
        }
        source = e.source();
    }
    false
}

/// Whether clientv3 would refresh the token and resend after this status.
fn is_token_error(st: &Status) -> bool {
    matches!(
        (st.code(), st.message()),
        (Code::Unauthenticated, "etcdserver: invalid auth token")
            | (
                Code::InvalidArgument,
                "etcdserver: revision of auth store is old"
            )
            | (Code::InvalidArgument, "etcdserver: user name is empty")
    )
}

impl Client {
    /// Connects to `endpoints` (`host:port`, `http://host:port` or `https://host:port`).
    ///
    /// One lazily connected channel is made per endpoint; calls go to the pinned endpoint
    /// (the first at start) and move to the next one when it is unavailable. With
    /// `options.user`, the client authenticates once here (on the first endpoint that
    /// answers) and fails if that fails.
    pub async fn connect(
        endpoints: &[impl AsRef<str>],
        options: ConnectOptions,
    ) -> Result<Client, Error> {
        if endpoints.is_empty() {
            return Err(Error::NoEndpoints);
        }
        let mut urls = Vec::with_capacity(endpoints.len());
        let mut channels = Vec::with_capacity(endpoints.len());
        for ep in endpoints {
            let (url, channel) = lazy_channel(ep.as_ref(), &options.tls, options.connect_timeout)?;
            channels.push(channel);
            urls.push(url);
        }
        let client = Client {
            inner: Arc::new(Inner {
                endpoints: urls,
                channels,
                pinned: AtomicUsize::new(0),
                token: Arc::new(RwLock::new(None)),
                user: options.user,
                request_timeout: options.request_timeout,
                tls: options.tls,
                connect_timeout: options.connect_timeout,
                observer: options.attempt_observer,
                wait_for_ready: options.wait_for_ready,
            }),
            namespace: Arc::from(&[][..]),
        };
        if client.inner.user.is_some() {
            client.refresh_token().await?;
        }
        Ok(client)
    }

    /// The KV service: get, put, delete, txn, compact.
    pub fn kv(&self) -> Kv {
        Kv::new(self.clone())
    }

    /// The Lease service: grant, revoke, time-to-live, list, and background keepalives.
    pub fn lease(&self) -> Lease {
        Lease::new(self.clone())
    }

    /// The Auth service: users, roles, permissions, enable and disable.
    pub fn auth(&self) -> Auth {
        Auth::new(self.clone())
    }

    /// The Cluster service: member list and membership changes.
    pub fn cluster(&self) -> Cluster {
        Cluster::new(self.clone())
    }

    /// The Maintenance service: status, alarms, defragment, HashKV, MoveLeader, snapshot.
    pub fn maintenance(&self) -> Maintenance {
        Maintenance::new(self.clone())
    }

    /// Watches `key` (or a range or prefix, per `options`); see [`Watcher`].
    pub async fn watch(
        &self,
        key: impl Into<Vec<u8>>,
        options: WatchOptions,
    ) -> Result<Watcher, Error> {
        Watcher::open(self.clone(), key.into(), options).await
    }

    /// A client (sharing this one's channels and token) whose KV, Watch and Lease calls
    /// live under the key prefix `prefix`, as clientv3's `namespace` package: the prefix is
    /// added to every key of a request and removed from every key of a response, watch
    /// events included, and a range that reaches the end of the keyspace ends at the end
    /// of the prefix. Everything built on the KV and Watch services (the concurrency
    /// helpers, [`crate::Stm`]) then lives in the namespace too. Lease IDs, Auth, Cluster
    /// and Maintenance are not namespaced. On a namespaced client the prefix is appended
    /// to the current one.
    pub fn with_namespace(&self, prefix: impl AsRef<[u8]>) -> Client {
        Client {
            inner: self.inner.clone(),
            namespace: [&self.namespace[..], prefix.as_ref()].concat().into(),
        }
    }

    /// The key prefix of this client's namespace (empty when it has none).
    pub fn namespace(&self) -> &[u8] {
        &self.namespace
    }

    /// The endpoints, as URLs, in the order given.
    pub fn endpoints(&self) -> &[String] {
        &self.inner.endpoints
    }

    /// The URL of the endpoint calls currently go to.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoints[self.pinned()]
    }

    /// The auth token currently sent with every call, if any (for diagnostics; it changes
    /// when the client re-authenticates).
    pub fn auth_token(&self) -> Option<String> {
        let token = self.inner.token.read().unwrap_or_else(|e| e.into_inner());
        token
            .as_ref()
            .and_then(|t| t.to_str().ok().map(str::to_string))
    }

    pub(crate) fn pinned(&self) -> usize {
        self.inner.pinned.load(Ordering::Relaxed) % self.inner.channels.len()
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    pub(crate) fn has_user(&self) -> bool {
        self.inner.user.is_some()
    }

    /// Moves the pinned endpoint off `from` (if it is still pinned) to the next one.
    pub(crate) fn failover(&self, from: usize) {
        let n = self.inner.channels.len();
        let _ = self.inner.pinned.compare_exchange(
            from,
            (from + 1) % n,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The channel to endpoint `i` with the token interceptor.
    pub(crate) fn svc(&self, i: usize) -> Svc {
        InterceptedService::new(
            self.inner.channels[i].clone(),
            TokenInterceptor(self.inner.token.clone()),
        )
    }

    /// Authenticates with the configured user, trying each endpoint from the pinned one,
    /// and stores the new token. A server with auth off gives no token and no error.
    pub(crate) async fn refresh_token(&self) -> Result<(), Error> {
        let Some((name, password)) = self.inner.user.clone() else {
            return Ok(());
        };
        let n = self.inner.channels.len();
        let start = self.pinned();
        let mut last = None;
        for k in 0..n {
            let i = (start + k) % n;
            let mut auth = AuthClient::new(self.inner.channels[i].clone());
            let req = AuthenticateRequest {
                name: name.clone(),
                password: password.clone(),
            };
            match tokio::time::timeout(self.inner.request_timeout, auth.authenticate(req)).await {
                Ok(Ok(resp)) => {
                    let token: MetadataValue<Ascii> = resp
                        .into_inner()
                        .token
                        .parse()
                        .map_err(|_| Error::InvalidToken)?;
                    *self.inner.token.write().unwrap_or_else(|e| e.into_inner()) = Some(token);
                    return Ok(());
                }
                Ok(Err(st)) if st.code() == Code::Unavailable => {
                    self.observe(&self.inner.endpoints[i], k as u32, &st);
                    self.failover(i);
                    last = Some(Error::Status(st));
                }
                // As clientv3: a user given to a server without auth is no error; calls
                // then go without a token.
                Ok(Err(st))
                    if st.code() == Code::FailedPrecondition
                        && st.message() == "etcdserver: authentication is not enabled" =>
                {
                    self.observe(&self.inner.endpoints[i], 0, &st);
                    return Ok(());
                }
                Ok(Err(st)) => {
                    self.observe(&self.inner.endpoints[i], 0, &st);
                    return Err(Error::Status(st));
                }
                Err(_) => {
                    self.failover(i);
                    last = Some(Error::Timeout(self.inner.request_timeout));
                }
            }
        }
        Err(last.unwrap_or(Error::NoEndpoints))
    }

    fn observe(&self, endpoint: &str, attempt: u32, status: &Status) {
        if let Some(observer) = &self.inner.observer {
            observer(&FailedAttempt {
                endpoint,
                attempt,
                status,
            });
        }
    }

    /// A service handle on `endpoint` (a URL or `host:port`): the client's own channel when
    /// it is one of the client's endpoints, else a new lazily connected channel with the
    /// client's TLS and connect timeout (as clientv3 dials a member named by URL). The
    /// second value is the URL used.
    pub(crate) fn svc_for(&self, endpoint: &str) -> Result<(Svc, String), Error> {
        let url = endpoint_url(endpoint, self.inner.tls.is_some())?;
        let channel = match self.inner.endpoints.iter().position(|e| *e == url) {
            Some(i) => self.inner.channels[i].clone(),
            None => lazy_channel(&url, &self.inner.tls, self.inner.connect_timeout)?.1,
        };
        let svc = InterceptedService::new(channel, TokenInterceptor(self.inner.token.clone()));
        Ok((svc, url))
    }

    /// Runs one unary call on `endpoint` only (no failover: the caller asked for that
    /// member), bounded by the request timeout, re-authenticating once after a token error.
    pub(crate) async fn call_on<T, F, Fut>(&self, endpoint: &str, f: F) -> Result<T, Error>
    where
        F: Fn(Svc) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let fixed = self.svc_for(endpoint)?;
        self.run_call(Some(fixed), Retry::NonRepeatable, f).await
    }

    /// Runs one unary call: on the pinned endpoint, bounded by the request timeout; after a
    /// token error it re-authenticates once and resends; after `Unavailable` it moves the
    /// pinned endpoint on and, for [`Retry::Repeatable`] calls only, resends on the next
    /// endpoint (each endpoint is tried at most twice).
    pub(crate) async fn call<T, F, Fut>(&self, retry: Retry, f: F) -> Result<T, Error>
    where
        F: Fn(Svc) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        self.run_call(None, retry, f).await
    }

    /// The retry loop of [`Client::call`] (`fixed`: `None`) and [`Client::call_on`]. With
    /// [`ConnectOptions::wait_for_ready`], an attempt that could not connect (so was never
    /// sent) is tried again, on the next endpoint, until the request timeout has passed.
    async fn run_call<T, F, Fut>(
        &self,
        fixed: Option<(Svc, String)>,
        retry: Retry,
        f: F,
    ) -> Result<T, Error>
    where
        F: Fn(Svc) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        let n = self.inner.channels.len();
        let timeout = self.inner.request_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut reauthed = false;
        let mut unavailable = 0;
        let mut attempt = 0;
        let mut unreachable: Option<String> = None;
        loop {
            let (svc, url, pinned) = match &fixed {
                Some((svc, url)) => (svc.clone(), url.clone(), None),
                None => {
                    let i = self.pinned();
                    (self.svc(i), self.inner.endpoints[i].clone(), Some(i))
                }
            };
            let bound = if self.inner.wait_for_ready {
                deadline.saturating_duration_since(tokio::time::Instant::now())
            } else {
                timeout
            };
            let st = match tokio::time::timeout(bound, f(svc)).await {
                Ok(Ok(resp)) => return Ok(resp.into_inner()),
                Ok(Err(st)) => st,
                Err(_) => {
                    let why = match &unreachable {
                        Some(e) => format!("latest balancer error: {e}"),
                        None => "context deadline exceeded".to_string(),
                    };
                    self.observe(&url, attempt, &Status::deadline_exceeded(why));
                    return Err(Error::Timeout(timeout));
                }
            };
            if self.inner.wait_for_ready && never_sent(&st) {
                if let Some(i) = pinned {
                    self.failover(i);
                }
                let now = tokio::time::Instant::now();
                if now + WAIT_FOR_READY_PAUSE < deadline {
                    unreachable = Some(st.message().to_string());
                    tokio::time::sleep(WAIT_FOR_READY_PAUSE).await;
                    continue;
                }
                tokio::time::sleep_until(deadline).await;
                let why = format!("latest balancer error: {}", st.message());
                self.observe(&url, attempt, &Status::deadline_exceeded(why));
                return Err(Error::Timeout(timeout));
            }
            self.observe(&url, attempt, &st);
            attempt += 1;
            if is_token_error(&st) && self.has_user() && !reauthed {
                reauthed = true;
                self.refresh_token().await?;
                continue;
            }
            if let (Some(i), Code::Unavailable) = (pinned, st.code()) {
                self.failover(i);
                unavailable += 1;
                if retry == Retry::Repeatable && unavailable < 2 * n {
                    tokio::time::sleep(Duration::from_millis(50 * unavailable as u64)).await;
                    continue;
                }
            }
            return Err(Error::Status(st));
        }
    }
}

//! [`Watcher`]: one Watch stream over a key, range or prefix that survives broken
//! connections, resuming from the last delivered revision plus one.

use oxcd_proto::etcdserverpb::watch_client::WatchClient;
use oxcd_proto::etcdserverpb::watch_request::RequestUnion;
use oxcd_proto::etcdserverpb::{
    WatchCreateRequest, WatchProgressRequest, WatchRequest, WatchResponse,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Streaming};

use crate::client::Client;
use crate::error::Error;
use crate::kv::prefix_end;
use crate::namespace;

/// Options of a watch.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Watch every key starting with the key.
    pub prefix: bool,
    /// Watch `[key, range_end)` (ignored with `prefix`).
    pub range_end: Option<Vec<u8>>,
    /// The first revision to deliver (0: changes after the watch is created).
    pub start_revision: i64,
    /// Deliver each event's previous key-value pair.
    pub prev_kv: bool,
    /// Ask the server for periodic progress notifications (responses without events).
    pub progress_notify: bool,
}

/// A watch: [`Watcher::next`] yields its responses in revision order.
///
/// When the stream or its connection breaks, the next call to [`Watcher::next`] reopens
/// it on the pinned endpoint (moving on to the next endpoint when that one is
/// unavailable) from the last delivered revision plus one, so each event is delivered
/// exactly once. Before the first event that revision is the one the watch was created
/// at (or the latest progress notification's). A compaction that overtakes the watch is
/// returned as [`Error::Compacted`], never hidden; after it, or any other cancel, the
/// watcher is finished and `next` returns `None`.
#[derive(Debug)]
pub struct Watcher {
    client: Client,
    key: Vec<u8>,
    range_end: Vec<u8>,
    options: WatchOptions,
    /// The revision to resume from; 0 until the first created response of a watch that
    /// started at "now".
    next_rev: i64,
    stream: Option<Open>,
    endpoint: usize,
    reconnects: u64,
    done: bool,
    /// The server's response that canceled the watch, once it did.
    cancel: Option<WatchResponse>,
    /// Progress notifications asked for with [`Watcher::request_progress`] and not yet
    /// delivered.
    progress_requested: u32,
}

#[derive(Debug)]
struct Open {
    /// Keeps the request stream open; dropping it ends the watch on the server.
    tx: mpsc::Sender<WatchRequest>,
    stream: Streaming<WatchResponse>,
}

impl Watcher {
    pub(crate) async fn open(
        client: Client,
        key: Vec<u8>,
        options: WatchOptions,
    ) -> Result<Watcher, Error> {
        let mut key = key;
        let range_end = if options.prefix {
            prefix_end(&key)
        } else {
            options.range_end.clone().unwrap_or_default()
        };
        if key.is_empty() && options.prefix {
            key = vec![0];
        }
        let (key, range_end) = match client.namespace() {
            [] => (key, range_end),
            ns => namespace::interval(ns, &key, &range_end),
        };
        let mut w = Watcher {
            endpoint: client.pinned(),
            client,
            key,
            range_end,
            next_rev: options.start_revision,
            options,
            stream: None,
            reconnects: 0,
            done: false,
            cancel: None,
            progress_requested: 0,
        };
        w.reopen().await?;
        Ok(w)
    }

    /// The URL of the endpoint the watch stream is (or was last) open on.
    pub fn endpoint(&self) -> &str {
        &self.client.endpoints()[self.endpoint]
    }

    /// How many times the stream was reopened after it broke.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// Asks the server for a progress notification on this watch's stream (etcd's
    /// WatchProgressRequest); [`Watcher::next`] delivers it as a response without events
    /// whose header has the revision everything up to which has been sent. Does nothing
    /// while the stream is being reopened.
    pub async fn request_progress(&mut self) -> Result<(), Error> {
        if let Some(open) = &self.stream {
            let req = WatchRequest {
                request_union: Some(RequestUnion::ProgressRequest(WatchProgressRequest {})),
            };
            if open.tx.send(req).await.is_ok() {
                self.progress_requested += 1;
            }
        }
        Ok(())
    }

    /// The server's response that canceled the watch (compaction, permission...), once
    /// [`Watcher::next`] has returned [`Error::Compacted`] or [`Error::WatchCanceled`].
    pub fn cancel_response(&self) -> Option<&WatchResponse> {
        self.cancel.as_ref()
    }

    /// The revision the watch resumes from if its stream breaks now.
    pub fn next_revision(&self) -> i64 {
        self.next_rev
    }

    /// Opens the stream and waits for its created response; tries each endpoint once,
    /// starting with the pinned one.
    async fn reopen(&mut self) -> Result<(), Error> {
        self.stream = None;
        let n = self.client.endpoints().len();
        let mut last = None;
        let mut reauthed = false;
        let mut k = 0;
        while k < n {
            let i = self.client.pinned();
            match self.try_open(i).await {
                Ok(open) => {
                    self.endpoint = i;
                    self.stream = Some(open);
                    return Ok(());
                }
                Err(e) if is_token_cancel(&e) && self.client.has_user() && !reauthed => {
                    reauthed = true;
                    self.client.refresh_token().await?;
                }
                Err(e @ (Error::Compacted(_) | Error::WatchCanceled(_))) => {
                    self.done = true;
                    return Err(e);
                }
                Err(e) => {
                    if e.code() != Some(Code::Unavailable) && !matches!(e, Error::Timeout(_)) {
                        return Err(e);
                    }
                    self.client.failover(i);
                    last = Some(e);
                    k += 1;
                }
            }
        }
        Err(last.unwrap_or(Error::NoEndpoints))
    }

    async fn try_open(&mut self, i: usize) -> Result<Open, Error> {
        let timeout = self.client.request_timeout();
        let (tx, rx) = mpsc::channel(1);
        let create = WatchRequest {
            request_union: Some(RequestUnion::CreateRequest(WatchCreateRequest {
                key: self.key.clone(),
                range_end: self.range_end.clone(),
                start_revision: self.next_rev,
                progress_notify: self.options.progress_notify,
                prev_kv: self.options.prev_kv,
                ..WatchCreateRequest::default()
            })),
        };
        let _ = tx.try_send(create);
        let mut wc = WatchClient::new(self.client.svc(i));
        let opened = async {
            let mut stream = wc.watch(ReceiverStream::new(rx)).await?.into_inner();
            let created = stream
                .message()
                .await?
                .ok_or_else(|| tonic::Status::unavailable("watch stream closed"))?;
            Ok::<_, tonic::Status>((stream, created))
        };
        let (stream, created) = match tokio::time::timeout(timeout, opened).await {
            Err(_) => return Err(Error::Timeout(timeout)),
            Ok(r) => r?,
        };
        if created.compact_revision != 0 {
            let rev = created.compact_revision;
            self.cancel = Some(created);
            return Err(Error::Compacted(rev));
        }
        if created.canceled {
            let reason = created.cancel_reason.clone();
            self.cancel = Some(created);
            return Err(Error::WatchCanceled(reason));
        }
        if self.next_rev == 0 {
            if let Some(h) = &created.header {
                self.next_rev = h.revision + 1;
            }
        }
        Ok(Open { tx, stream })
    }

    /// The next response with events (or a progress notification, if asked for).
    /// `None` once the watch is finished. An `Err` other than [`Error::Compacted`] and
    /// [`Error::WatchCanceled`] means no endpoint could be reached now; calling `next`
    /// again tries again.
    pub async fn next(&mut self) -> Option<Result<WatchResponse, Error>> {
        loop {
            if self.done {
                return None;
            }
            if self.stream.is_none() {
                if let Err(e) = self.reopen().await {
                    return Some(Err(e));
                }
                self.reconnects += 1;
            }
            let open = self.stream.as_mut()?;
            let msg = open.stream.message().await;
            let mut resp = match msg {
                Ok(Some(resp)) => resp,
                Ok(None) | Err(_) => {
                    // Broken stream or connection: move off this endpoint and resume.
                    self.stream = None;
                    self.client.failover(self.endpoint);
                    continue;
                }
            };
            if resp.compact_revision != 0 {
                self.done = true;
                self.stream = None;
                let rev = resp.compact_revision;
                self.cancel = Some(resp);
                return Some(Err(Error::Compacted(rev)));
            }
            if resp.canceled {
                self.stream = None;
                let e = Error::WatchCanceled(resp.cancel_reason.clone());
                self.cancel = Some(resp);
                if is_token_cancel(&e) && self.client.has_user() {
                    if let Err(e) = self.client.refresh_token().await {
                        return Some(Err(e));
                    }
                    continue;
                }
                self.done = true;
                return Some(Err(e));
            }
            // Never deliver an event twice (a resumed stream starts at next_rev anyway).
            let next_rev = self.next_rev;
            let had_events = !resp.events.is_empty();
            resp.events
                .retain(|ev| ev.kv.as_ref().is_none_or(|kv| kv.mod_revision >= next_rev));
            if let Some(kv) = resp.events.last().and_then(|ev| ev.kv.as_ref()) {
                self.next_rev = kv.mod_revision + 1;
                namespace::strip_watch(self.client.namespace(), &mut resp);
                return Some(Ok(resp));
            }
            let asked = self.progress_requested > 0;
            if had_events || resp.created || !(self.options.progress_notify || asked) {
                continue;
            }
            self.progress_requested = self.progress_requested.saturating_sub(1);
            // A progress notification: everything up to its revision has been delivered.
            if let Some(h) = &resp.header {
                self.next_rev = self.next_rev.max(h.revision + 1);
            }
            return Some(Ok(resp));
        }
    }
}

/// Whether a watch was canceled because its token was invalid or old.
fn is_token_cancel(e: &Error) -> bool {
    match e {
        Error::WatchCanceled(reason) => {
            reason.contains("invalid auth token")
                || reason.contains("revision of auth store is old")
                || reason.contains("user name is empty")
        }
        _ => false,
    }
}

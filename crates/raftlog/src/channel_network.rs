//! [`ChannelNetwork`]: an in-process network of raft members for tests, with fault
//! filters (cut links, random drops, delays), and [`ChannelTransport`], one member's view
//! of it. Compiled only with the `test-util` feature: production builds carry none of it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::handle::RaftHandle;
use crate::transport::RaftTransport;

/// Default seed of a network's drop RNG (any non-zero value; see
/// [`ChannelNetwork::set_seed`]).
const DEFAULT_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// A xorshift64* generator: deterministic, good enough to pick messages to drop.
#[derive(Debug, Clone, Copy)]
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // xorshift never leaves the all-zero state.
        Self(if seed == 0 { DEFAULT_SEED } else { seed })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A drop probability made valid: NaN becomes 0, anything else is clamped to `[0, 1]`.
fn valid_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// The registered members and the fault filters of a [`ChannelNetwork`].
struct NetState {
    nodes: HashMap<u64, RaftHandle>,
    /// Directed links `(from, to)` whose messages are dropped.
    blocked: HashSet<(u64, u64)>,
    /// Per-link delays; they override `default_delay`.
    delays: HashMap<(u64, u64), Duration>,
    default_delay: Duration,
    /// Per-link drop probabilities; they override `default_drop_rate`.
    drop_rates: HashMap<(u64, u64), f64>,
    default_drop_rate: f64,
    rng: XorShift,
}

impl Default for NetState {
    fn default() -> Self {
        Self {
            nodes: HashMap::new(),
            blocked: HashSet::new(),
            delays: HashMap::new(),
            default_delay: Duration::ZERO,
            drop_rates: HashMap::new(),
            default_drop_rate: 0.0,
            rng: XorShift::new(DEFAULT_SEED),
        }
    }
}

/// What happened to the messages of a [`ChannelNetwork`] so far (see
/// [`ChannelNetwork::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Messages handed to a transport.
    pub sent: u64,
    /// Messages dropped by the random drop filter.
    pub dropped: u64,
    /// Messages dropped because their link was cut, when sent or while in flight.
    pub blocked: u64,
    /// Messages that went through the delay queue.
    pub delayed: u64,
    /// Messages put into the receiver's mailbox.
    pub delivered: u64,
    /// Messages the receiver could not take (not registered, mailbox full or stopped).
    pub undeliverable: u64,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    blocked: AtomicU64,
    delayed: AtomicU64,
    delivered: AtomicU64,
    undeliverable: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What the delivery thread shares with the network handles.
#[derive(Default)]
struct Core {
    state: Mutex<NetState>,
    counters: Counters,
}

impl Core {
    /// Puts `msg` into `to`'s mailbox unless the link is cut, and tells the sender about
    /// failures (and about every snapshot's outcome).
    fn deliver(&self, from: u64, to: u64, msg: Vec<u8>, snapshot: bool) {
        let (target, sender) = {
            let s = self.state.lock();
            if s.blocked.contains(&(from, to)) {
                bump(&self.counters.blocked);
                let sender = s.nodes.get(&from).cloned();
                drop(s);
                if let (true, Some(me)) = (snapshot, sender) {
                    me.report_snapshot(to, false);
                }
                return;
            }
            (s.nodes.get(&to).cloned(), s.nodes.get(&from).cloned())
        };
        let ok = target.is_some_and(|h| h.try_step(msg).is_ok());
        bump(if ok {
            &self.counters.delivered
        } else {
            &self.counters.undeliverable
        });
        if let Some(me) = sender {
            if snapshot {
                me.report_snapshot(to, ok);
            }
            if !ok {
                me.report_unreachable(to);
            }
        }
    }
}

/// One message waiting in the delay queue, ordered by (due time, arrival).
struct Queued {
    at: Instant,
    seq: u64,
    from: u64,
    to: u64,
    msg: Vec<u8>,
    snapshot: bool,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A link's messages in the delay queue (queued or being delivered).
struct LinkBacklog {
    pending: usize,
    /// Due time of the link's last queued message: later messages are never due earlier.
    last_at: Instant,
}

#[derive(Default)]
struct QueueState {
    heap: BinaryHeap<Reverse<Queued>>,
    next_seq: u64,
    links: HashMap<(u64, u64), LinkBacklog>,
    closed: bool,
}

/// The time-ordered queue of delayed messages, drained by ONE delivery thread.
#[derive(Default)]
struct DelayQueue {
    state: Mutex<QueueState>,
    wake: Condvar,
}

impl DelayQueue {
    /// The delivery thread: sleeps until the earliest message is due, delivers every due
    /// message in (due time, arrival) order, and returns once the queue is closed.
    fn run(&self, core: &Core) {
        let mut q = self.state.lock();
        loop {
            if q.closed {
                return;
            }
            let now = Instant::now();
            match q.heap.peek().map(|m| m.0.at) {
                None => self.wake.wait(&mut q),
                Some(at) if at > now => {
                    self.wake.wait_until(&mut q, at);
                }
                Some(_) => {
                    let mut due = Vec::new();
                    while q.heap.peek().is_some_and(|m| m.0.at <= now) {
                        if let Some(Reverse(m)) = q.heap.pop() {
                            due.push(m);
                        }
                    }
                    let links: Vec<(u64, u64)> = due.iter().map(|m| (m.from, m.to)).collect();
                    MutexGuard::unlocked(&mut q, || {
                        for m in due {
                            core.deliver(m.from, m.to, m.msg, m.snapshot);
                        }
                    });
                    // Only now may a later message of these links bypass the queue.
                    for link in links {
                        if let Some(b) = q.links.get_mut(&link) {
                            b.pending -= 1;
                            if b.pending == 0 {
                                q.links.remove(&link);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Owns the delivery thread; dropped with the last [`ChannelNetwork`] clone.
struct NetInner {
    core: Arc<Core>,
    queue: Arc<DelayQueue>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for NetInner {
    fn drop(&mut self) {
        self.queue.state.lock().closed = true;
        self.queue.wake.notify_all();
        if let Some(t) = self.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

/// An in-process network for tests: members register their handles and messages go
/// straight into the receiver's mailbox, through fault filters.
///
/// # Filters
/// - CUT LINKS ([`ChannelNetwork::block`], [`ChannelNetwork::isolate`],
///   [`ChannelNetwork::partition`]) drop every message of a directed link, including the
///   ones already in the delay queue when the link is cut.
/// - RANDOM DROPS ([`ChannelNetwork::set_drop_rate`],
///   [`ChannelNetwork::set_default_drop_rate`]) drop each message with a probability, drawn
///   from ONE deterministic xorshift generator per network ([`ChannelNetwork::set_seed`]).
/// - DELAYS ([`ChannelNetwork::set_delay`], [`ChannelNetwork::set_default_delay`]) hold
///   messages in a time-ordered queue drained by ONE delivery thread per network (stopped
///   when the last clone of the network is dropped). Messages of one link are delivered in
///   send order, even when its delay shrinks.
/// - [`ChannelNetwork::heal`] removes every filter; messages in flight are still delivered.
///
/// Per-link settings override the network-wide defaults. Sending NEVER blocks on the
/// receiver: a full mailbox drops the message. Messages a sender loses to a cut link or a
/// drop are not reported (raft retransmits), except snapshots, whose outcome is always
/// reported to the sender with [`RaftHandle::report_snapshot`]; a message the receiver
/// cannot take is reported with [`RaftHandle::report_unreachable`].
#[derive(Clone)]
pub struct ChannelNetwork {
    inner: Arc<NetInner>,
}

impl Default for ChannelNetwork {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ChannelNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.inner.core.state.lock();
        f.debug_struct("ChannelNetwork")
            .field("nodes", &s.nodes.keys().collect::<Vec<_>>())
            .field("blocked", &s.blocked)
            .field("delays", &s.delays)
            .field("default_delay", &s.default_delay)
            .field("drop_rates", &s.drop_rates)
            .field("default_drop_rate", &s.default_drop_rate)
            .finish()
    }
}

impl ChannelNetwork {
    /// An empty network without filters, and its delivery thread. Should the thread fail
    /// to start, delayed messages are delivered at once (logged).
    pub fn new() -> Self {
        let core = Arc::new(Core::default());
        let queue = Arc::new(DelayQueue::default());
        let thread = {
            let (core, queue) = (core.clone(), queue.clone());
            std::thread::Builder::new()
                .name("channel-net".into())
                .spawn(move || queue.run(&core))
        };
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::warn!(error = %e, "channel network runs without its delay thread");
                None
            }
        };
        Self {
            inner: Arc::new(NetInner {
                core,
                queue,
                thread,
            }),
        }
    }

    /// The transport member `from` sends through.
    pub fn transport(&self, from: u64) -> Arc<ChannelTransport> {
        Arc::new(ChannelTransport {
            from,
            net: self.clone(),
        })
    }

    fn state(&self) -> parking_lot::MutexGuard<'_, NetState> {
        self.inner.core.state.lock()
    }

    /// Makes member `id` reachable through `handle` (replaces a previous registration).
    pub fn register(&self, id: u64, handle: RaftHandle) {
        self.state().nodes.insert(id, handle);
    }

    /// Makes member `id` unreachable as a destination.
    pub fn unregister(&self, id: u64) {
        self.state().nodes.remove(&id);
    }

    /// Drops every message from `from` to `to` (one direction).
    pub fn block(&self, from: u64, to: u64) {
        self.state().blocked.insert((from, to));
    }

    /// Cuts member `id` off from every other registered member, both directions.
    pub fn isolate(&self, id: u64) {
        let mut s = self.state();
        let others: Vec<u64> = s.nodes.keys().copied().filter(|&o| o != id).collect();
        for o in others {
            s.blocked.insert((id, o));
            s.blocked.insert((o, id));
        }
    }

    /// Splits the members into groups that only talk within themselves.
    pub fn partition(&self, groups: &[&[u64]]) {
        let mut s = self.state();
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i == j {
                    continue;
                }
                for &x in a.iter() {
                    for &y in b.iter() {
                        s.blocked.insert((x, y));
                    }
                }
            }
        }
    }

    /// Delays every message from `from` to `to` (one direction) by `delay`, overriding
    /// the network-wide delay; `Duration::ZERO` makes the link instant.
    pub fn set_delay(&self, from: u64, to: u64, delay: Duration) {
        self.state().delays.insert((from, to), delay);
    }

    /// Delays the messages of every link without a [`ChannelNetwork::set_delay`] of its
    /// own.
    pub fn set_default_delay(&self, delay: Duration) {
        self.state().default_delay = delay;
    }

    /// Drops each message from `from` to `to` with probability `rate` (clamped to
    /// `[0, 1]`, NaN is 0), overriding the network-wide rate.
    pub fn set_drop_rate(&self, from: u64, to: u64, rate: f64) {
        self.state().drop_rates.insert((from, to), valid_rate(rate));
    }

    /// Drops each message of every link without a [`ChannelNetwork::set_drop_rate`] of its
    /// own with probability `rate` (clamped to `[0, 1]`, NaN is 0).
    pub fn set_default_drop_rate(&self, rate: f64) {
        self.state().default_drop_rate = valid_rate(rate);
    }

    /// Restarts the drop generator from `seed` (0 means the default seed): the same seed
    /// and the same sequence of sends drop the same messages.
    pub fn set_seed(&self, seed: u64) {
        self.state().rng = XorShift::new(seed);
    }

    /// Removes every filter: cut links, delays and drop rates (the seed is kept).
    pub fn heal(&self) {
        let mut s = self.state();
        s.blocked.clear();
        s.delays.clear();
        s.default_delay = Duration::ZERO;
        s.drop_rates.clear();
        s.default_drop_rate = 0.0;
    }

    /// The message counters so far.
    pub fn stats(&self) -> NetStats {
        let c = &self.inner.core.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NetStats {
            sent: get(&c.sent),
            dropped: get(&c.dropped),
            blocked: get(&c.blocked),
            delayed: get(&c.delayed),
            delivered: get(&c.delivered),
            undeliverable: get(&c.undeliverable),
        }
    }

    /// Messages waiting in the delay queue or being delivered from it.
    pub fn in_flight(&self) -> usize {
        let q = self.inner.queue.state.lock();
        q.links.values().map(|b| b.pending).sum()
    }

    /// Routes one message: cut links and random drops first, then the delay queue or, on an
    /// instant link with nothing queued, straight into the receiver's mailbox.
    fn send(&self, from: u64, to: u64, msg: Vec<u8>, snapshot: bool) {
        let core = &self.inner.core;
        bump(&core.counters.sent);
        let delay = {
            let mut s = self.state();
            let link = (from, to);
            let lost = if s.blocked.contains(&link) {
                bump(&core.counters.blocked);
                true
            } else {
                let rate = s
                    .drop_rates
                    .get(&link)
                    .copied()
                    .unwrap_or(s.default_drop_rate);
                let lost = rate > 0.0 && s.rng.next_f64() < rate;
                if lost {
                    bump(&core.counters.dropped);
                }
                lost
            };
            if lost {
                let sender = s.nodes.get(&from).cloned();
                drop(s);
                if let (true, Some(me)) = (snapshot, sender) {
                    me.report_snapshot(to, false);
                }
                return;
            }
            s.delays.get(&link).copied().unwrap_or(s.default_delay)
        };
        if self.inner.thread.is_some() {
            let queue = &self.inner.queue;
            let mut q = queue.state.lock();
            let backlog = q.links.get(&(from, to)).map(|b| b.last_at);
            if !delay.is_zero() || backlog.is_some() {
                let at = (Instant::now() + delay).max(backlog.unwrap_or_else(Instant::now));
                let seq = q.next_seq;
                q.next_seq += 1;
                q.heap.push(Reverse(Queued {
                    at,
                    seq,
                    from,
                    to,
                    msg,
                    snapshot,
                }));
                let b = q.links.entry((from, to)).or_insert(LinkBacklog {
                    pending: 0,
                    last_at: at,
                });
                b.pending += 1;
                b.last_at = at;
                drop(q);
                bump(&core.counters.delayed);
                queue.wake.notify_one();
                return;
            }
        }
        core.deliver(from, to, msg, snapshot);
    }
}

/// One member's view of a [`ChannelNetwork`]. Snapshots carry no data (the appliers of an
/// in-process test share what they need); their outcome is reported to the sender.
#[derive(Debug, Clone)]
pub struct ChannelTransport {
    from: u64,
    net: ChannelNetwork,
}

impl RaftTransport for ChannelTransport {
    fn send(&self, to: u64, msg: Vec<u8>) {
        self.net.send(self.from, to, msg, false);
    }

    fn send_snapshot(&self, to: u64, msg: Vec<u8>) {
        self.net.send(self.from, to, msg, true);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Weak;

    use protobuf::Message as _;
    use tokio::sync::{mpsc, watch};

    use super::*;
    use crate::handle::Command;
    use crate::status::RaftStatus;
    use crate::transport::snapshot_position;

    /// What a fake member's mailbox received.
    #[derive(Debug, PartialEq, Eq)]
    enum Got {
        Step(Vec<u8>),
        Snapshot { id: u64, ok: bool },
        Unreachable(u64),
    }

    struct Fake {
        rx: mpsc::Receiver<Command>,
        /// Keeps the status channel open.
        _status: watch::Sender<RaftStatus>,
    }

    impl Fake {
        fn join(net: &ChannelNetwork, id: u64, capacity: usize) -> Self {
            let (tx, rx) = mpsc::channel(capacity);
            let (status_tx, status_rx) = watch::channel(RaftStatus::default());
            let (_, fatal_rx) = watch::channel(None);
            net.register(
                id,
                RaftHandle::new(id, tx, status_rx, fatal_rx, Duration::from_secs(1)),
            );
            Self {
                rx,
                _status: status_tx,
            }
        }

        fn try_next(&mut self) -> Option<Got> {
            loop {
                match self.rx.try_recv().ok()? {
                    Command::Step { msg } => return Some(Got::Step(msg)),
                    Command::SnapshotStatus { id, ok } => return Some(Got::Snapshot { id, ok }),
                    Command::Unreachable { id } => return Some(Got::Unreachable(id)),
                    _ => continue,
                }
            }
        }

        /// The next message, waiting at most `timeout`.
        fn next(&mut self, timeout: Duration) -> Option<Got> {
            let deadline = Instant::now() + timeout;
            loop {
                if let Some(g) = self.try_next() {
                    return Some(g);
                }
                if Instant::now() >= deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }

        fn steps(&mut self, n: usize, timeout: Duration) -> Vec<Vec<u8>> {
            let mut out = Vec::new();
            while out.len() < n {
                match self.next(timeout) {
                    Some(Got::Step(m)) => out.push(m),
                    Some(_) => {}
                    None => break,
                }
            }
            out
        }
    }

    fn msg(i: u32) -> Vec<u8> {
        i.to_be_bytes().to_vec()
    }

    fn snapshot_msg() -> Vec<u8> {
        let mut m = raft::eraftpb::Message::default();
        m.set_msg_type(raft::eraftpb::MessageType::MsgSnapshot);
        m.mut_snapshot().mut_metadata().index = 7;
        m.mut_snapshot().mut_metadata().term = 2;
        m.write_to_bytes().unwrap()
    }

    const WAIT: Duration = Duration::from_secs(2);

    /// Waits (bounded) until the delivery thread finished with every queued message.
    fn wait_idle(net: &ChannelNetwork) {
        let deadline = Instant::now() + WAIT;
        while net.in_flight() > 0 {
            assert!(
                Instant::now() < deadline,
                "messages stuck in the delay queue"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn instant_links_deliver_at_once_and_report_the_unreachable() {
        let net = ChannelNetwork::new();
        let mut a = Fake::join(&net, 1, 16);
        let mut b = Fake::join(&net, 2, 16);
        net.transport(1).send(2, msg(1));
        assert_eq!(b.try_next(), Some(Got::Step(msg(1))));
        net.transport(1).send(3, msg(2));
        assert_eq!(a.try_next(), Some(Got::Unreachable(3)));
        assert_eq!(net.in_flight(), 0);
        let st = net.stats();
        assert_eq!((st.sent, st.delivered, st.undeliverable), (2, 1, 1));
    }

    #[test]
    fn delays_hold_messages_and_keep_link_order() {
        let net = ChannelNetwork::new();
        let mut a = Fake::join(&net, 1, 1024);
        let mut b = Fake::join(&net, 2, 1024);
        let delay = Duration::from_millis(200);
        net.set_delay(1, 2, delay);
        let started = Instant::now();
        let t = net.transport(1);
        for i in 0..100 {
            t.send(2, msg(i));
        }
        // The reverse link has no delay of its own.
        net.transport(2).send(1, msg(1000));
        assert_eq!(a.try_next(), Some(Got::Step(msg(1000))));
        let early = b.try_next();
        assert!(
            early.is_none() || started.elapsed() >= delay,
            "delivered early"
        );
        let mut got: Vec<Vec<u8>> = early
            .into_iter()
            .filter_map(|g| match g {
                Got::Step(m) => Some(m),
                _ => None,
            })
            .collect();
        got.extend(b.steps(100 - got.len(), WAIT));
        assert!(started.elapsed() >= delay, "delivered early");
        assert_eq!(got, (0..100).map(msg).collect::<Vec<_>>());

        // Shrinking the delay never lets a message overtake an earlier one of its link.
        net.set_delay(1, 2, Duration::from_millis(100));
        t.send(2, msg(1));
        net.set_delay(1, 2, Duration::ZERO);
        t.send(2, msg(2));
        assert_eq!(b.steps(2, WAIT), vec![msg(1), msg(2)]);

        // The network-wide delay applies to links without their own.
        net.set_default_delay(Duration::from_millis(30));
        let started = Instant::now();
        net.transport(2).send(1, msg(3));
        assert_eq!(a.steps(1, WAIT), vec![msg(3)]);
        assert!(started.elapsed() >= Duration::from_millis(30));
        let st = net.stats();
        assert_eq!((st.delayed, st.delivered), (103, 104));
        wait_idle(&net);
    }

    #[test]
    fn random_drops_follow_the_rate_and_the_seed() {
        let pattern = |seed: u64, rate: f64| {
            let net = ChannelNetwork::new();
            let _a = Fake::join(&net, 1, 16);
            let mut b = Fake::join(&net, 2, 10_000);
            net.set_seed(seed);
            net.set_drop_rate(1, 2, rate);
            let t = net.transport(1);
            for i in 0..5000 {
                t.send(2, msg(i));
            }
            let got = b.steps(5000, Duration::from_millis(50));
            assert_eq!(net.stats().dropped as usize, 5000 - got.len());
            got
        };
        let got = pattern(42, 0.3);
        let dropped = 5000 - got.len();
        assert!(
            (1250..=1750).contains(&dropped),
            "dropped {dropped} of 5000 at 30%"
        );
        assert_eq!(pattern(42, 0.3), got, "same seed, different drops");
        assert_ne!(pattern(43, 0.3), got, "another seed, same drops");
        assert!(pattern(1, 1.0).is_empty());
        assert_eq!(pattern(1, f64::NAN).len(), 5000);

        // The network-wide rate applies to links without their own.
        let net = ChannelNetwork::new();
        let mut a = Fake::join(&net, 1, 16);
        let mut b = Fake::join(&net, 2, 16);
        net.set_default_drop_rate(1.0);
        net.set_drop_rate(2, 1, 0.0);
        net.transport(1).send(2, msg(1));
        net.transport(2).send(1, msg(2));
        assert_eq!(b.try_next(), None);
        assert_eq!(a.try_next(), Some(Got::Step(msg(2))));
    }

    #[test]
    fn snapshot_outcomes_are_reported_to_the_sender() {
        let net = ChannelNetwork::new();
        let mut a = Fake::join(&net, 1, 16);
        let mut b = Fake::join(&net, 2, 16);
        let t = net.transport(1);
        net.set_delay(1, 2, Duration::from_millis(10));
        t.send_snapshot(2, snapshot_msg());
        assert_eq!(b.next(WAIT), Some(Got::Step(snapshot_msg())));
        assert_eq!(a.next(WAIT), Some(Got::Snapshot { id: 2, ok: true }));
        net.set_drop_rate(1, 2, 1.0);
        t.send_snapshot(2, snapshot_msg());
        assert_eq!(a.try_next(), Some(Got::Snapshot { id: 2, ok: false }));
        net.heal();
        net.block(1, 2);
        t.send_snapshot(2, snapshot_msg());
        assert_eq!(a.try_next(), Some(Got::Snapshot { id: 2, ok: false }));
        assert_eq!(b.try_next(), None);
        assert_eq!(snapshot_position(&snapshot_msg()), Some((7, 2)));
        assert_eq!(snapshot_position(&msg(1)), None);
    }

    #[test]
    fn cut_links_drop_messages_in_flight_and_heal_clears_every_filter() {
        let net = ChannelNetwork::new();
        let mut a = Fake::join(&net, 1, 16);
        let mut b = Fake::join(&net, 2, 16);
        let mut c = Fake::join(&net, 3, 16);
        net.set_default_delay(Duration::from_millis(300));
        net.transport(1).send(2, msg(1));
        net.partition(&[&[1], &[2, 3]]);
        net.transport(2).send(3, msg(2));
        net.transport(3).send(1, msg(3));
        assert_eq!(c.steps(1, WAIT), vec![msg(2)]);
        assert_eq!(b.try_next(), None, "an in-flight message crossed a cut");
        assert_eq!(a.try_next(), None);
        assert_eq!(net.stats().blocked, 2);

        net.set_default_drop_rate(1.0);
        net.heal();
        net.isolate(2);
        net.transport(1).send(2, msg(4));
        net.transport(1).send(3, msg(5));
        assert_eq!(
            c.try_next(),
            Some(Got::Step(msg(5))),
            "heal kept a delay or a drop"
        );
        assert_eq!(b.try_next(), None);
        net.heal();
        net.transport(1).send(2, msg(6));
        assert_eq!(b.try_next(), Some(Got::Step(msg(6))));
        wait_idle(&net);
    }

    #[test]
    fn send_never_blocks_on_a_full_mailbox() {
        let net = ChannelNetwork::new();
        let mut a = Fake::join(&net, 1, 16);
        let _b = Fake::join(&net, 2, 1);
        let t = net.transport(1);
        let started = Instant::now();
        t.send(2, msg(1));
        t.send(2, msg(2));
        assert!(started.elapsed() < Duration::from_millis(500));
        assert_eq!(a.try_next(), Some(Got::Unreachable(2)));
    }

    #[test]
    fn dropping_the_network_stops_its_delivery_thread() {
        let net = ChannelNetwork::new();
        let _b = Fake::join(&net, 2, 16);
        net.set_default_delay(Duration::from_secs(3600));
        net.transport(1).send(2, msg(1));
        let queue: Weak<DelayQueue> = Arc::downgrade(&net.inner.queue);
        let core: Weak<Core> = Arc::downgrade(&net.inner.core);
        let transport = net.transport(1);
        drop(net);
        assert!(
            queue.upgrade().is_some(),
            "a transport keeps the network alive"
        );
        let started = Instant::now();
        drop(transport);
        assert!(queue.upgrade().is_none() && core.upgrade().is_none());
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

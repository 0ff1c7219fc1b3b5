//! ReadIndex waiters: requests sent to raft, matched to `ReadState`s by context, resent
//! while raft drops them, and failed on leader change or deadline.
//!
//! The raft context is this member's ID, this process's incarnation (a random number drawn
//! at start) and the caller's `ctx` (24 bytes): the leader keys pending reads by context
//! and IGNORES a duplicate, and a response may reach a member after it restarted, so
//! contexts MUST BE UNIQUE ACROSS THE CLUSTER AND ACROSS RESTARTS. Callers number their
//! requests from 1 in every process; without the incarnation, a leader still holding an
//! earlier process's `(member, 7)` would answer a restarted member's new `(member, 7)` with
//! the old read index, and the read would be served from a state older than its start.

use std::time::{Duration, Instant};

use raft::{RawNode, ReadState, Storage};
use tokio::sync::oneshot;

use crate::error::ReadIndexError;

struct PendingRead {
    ctx: u64,
    deadline: Instant,
    /// The leader this request is bound to; 0 until one is known.
    leader: u64,
    last_sent: Instant,
    reply: oneshot::Sender<Result<u64, ReadIndexError>>,
}

/// The pending ReadIndex requests of one raft loop.
pub(crate) struct ReadWaiters {
    member: u64,
    incarnation: u64,
    pending: Vec<PendingRead>,
    retry: Duration,
}

/// A number no earlier process of this member drew: OS-seeded randomness (std's
/// `RandomState`) mixed with the wall clock.
pub(crate) fn draw_incarnation() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    h.write_u64(nanos);
    h.write_u32(std::process::id());
    h.finish()
}

fn context(member: u64, incarnation: u64, ctx: u64) -> Vec<u8> {
    let mut c = Vec::with_capacity(24);
    c.extend_from_slice(&member.to_be_bytes());
    c.extend_from_slice(&incarnation.to_be_bytes());
    c.extend_from_slice(&ctx.to_be_bytes());
    c
}

impl ReadWaiters {
    pub(crate) fn new(member: u64, retry: Duration) -> Self {
        Self::with_incarnation(member, draw_incarnation(), retry)
    }

    fn with_incarnation(member: u64, incarnation: u64, retry: Duration) -> Self {
        Self {
            member,
            incarnation,
            pending: Vec::new(),
            retry,
        }
    }

    /// Registers a request and sends it to raft. MUST be called outside a Ready cycle.
    pub(crate) fn add<S: Storage>(
        &mut self,
        raw: &mut RawNode<S>,
        ctx: u64,
        deadline: Instant,
        leader: u64,
        reply: oneshot::Sender<Result<u64, ReadIndexError>>,
    ) {
        raw.read_index(context(self.member, self.incarnation, ctx));
        let last_sent = Instant::now();
        self.pending.push(PendingRead {
            ctx,
            deadline,
            leader,
            last_sent,
            reply,
        });
    }

    /// Answers the requests whose context matches a read state; stale ones (another
    /// member's, or an earlier process's of this member) are ignored.
    pub(crate) fn resolve(&mut self, states: &[ReadState]) {
        if self.pending.is_empty() {
            return;
        }
        let mine = context(self.member, self.incarnation, 0);
        for rs in states {
            let Ok(bytes) = <[u8; 24]>::try_from(&rs.request_ctx[..]) else {
                continue;
            };
            let (owner, ctx) = bytes.split_at(16);
            if owner != &mine[..16] {
                continue;
            }
            let ctx = u64::from_be_bytes(ctx.try_into().unwrap_or_default());
            let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
                .into_iter()
                .partition(|p| p.ctx == ctx);
            self.pending = keep;
            for p in done {
                let _ = p.reply.send(Ok(rs.index));
            }
        }
    }

    /// Applies a leader change: requests bound to another leader fail with
    /// `LeaderChanged`; unbound ones bind to the new leader.
    pub(crate) fn on_leader(&mut self, leader: u64) {
        let mut keep = Vec::with_capacity(self.pending.len());
        for mut p in std::mem::take(&mut self.pending) {
            if p.leader == 0 {
                p.leader = leader;
                keep.push(p);
            } else if p.leader != leader {
                let _ = p.reply.send(Err(ReadIndexError::LeaderChanged));
            } else {
                keep.push(p);
            }
        }
        self.pending = keep;
    }

    /// Expires requests past their deadline, forgets abandoned ones, and resends the rest
    /// when their retry interval passed (or all of them with `force`). MUST be called
    /// outside a Ready cycle.
    pub(crate) fn tick<S: Storage>(&mut self, raw: &mut RawNode<S>, now: Instant, force: bool) {
        if self.pending.is_empty() {
            return;
        }
        let mut keep = Vec::with_capacity(self.pending.len());
        let mut sent: Vec<u64> = Vec::new();
        for mut p in std::mem::take(&mut self.pending) {
            if p.reply.is_closed() {
                continue;
            }
            if now >= p.deadline {
                let err = if p.leader == 0 {
                    ReadIndexError::NoLeader
                } else {
                    ReadIndexError::Timeout
                };
                let _ = p.reply.send(Err(err));
                continue;
            }
            if force || now.duration_since(p.last_sent) >= self.retry {
                if !sent.contains(&p.ctx) {
                    raw.read_index(context(self.member, self.incarnation, p.ctx));
                    sent.push(p.ctx);
                }
                p.last_sent = now;
            }
            keep.push(p);
        }
        self.pending = keep;
    }

    /// The earliest instant at which [`ReadWaiters::tick`] has work to do.
    pub(crate) fn next_wakeup(&self) -> Option<Instant> {
        self.pending
            .iter()
            .map(|p| (p.last_sent + self.retry).min(p.deadline))
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(member: u64, incarnation: u64, ctx: u64, index: u64) -> ReadState {
        ReadState {
            index,
            request_ctx: context(member, incarnation, ctx),
        }
    }

    fn pending(ctx: u64) -> (PendingRead, oneshot::Receiver<Result<u64, ReadIndexError>>) {
        let (reply, rx) = oneshot::channel();
        let now = Instant::now();
        let p = PendingRead {
            ctx,
            deadline: now + Duration::from_secs(5),
            leader: 1,
            last_sent: now,
            reply,
        };
        (p, rx)
    }

    #[test]
    fn an_earlier_incarnations_answer_does_not_release_a_new_request() {
        let mut w = ReadWaiters::with_incarnation(3, 222, Duration::from_millis(500));
        let (p, mut rx) = pending(7);
        w.pending.push(p);
        // The leader answers the previous process's request number 7 with an old index.
        w.resolve(&[state(3, 111, 7, 40)]);
        assert!(rx.try_recv().is_err(), "a stale answer released the read");
        // Another member's request 7 does not match either.
        w.resolve(&[state(4, 222, 7, 41)]);
        assert!(rx.try_recv().is_err());
        w.resolve(&[state(3, 222, 7, 90)]);
        assert_eq!(rx.try_recv().ok(), Some(Ok(90)));
    }

    #[test]
    fn incarnations_differ_between_draws() {
        assert_ne!(draw_incarnation(), draw_incarnation());
    }
}

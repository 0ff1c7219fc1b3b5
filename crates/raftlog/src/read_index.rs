//! ReadIndex waiters: requests sent to raft, matched to `ReadState`s by context, resent
//! while raft drops them, and failed on leader change or deadline.
//!
//! The raft context is this member's ID followed by the caller's `ctx` (16 bytes): the
//! leader keys pending reads by context and IGNORES a duplicate, so contexts must be
//! unique across the cluster, not just within one member.

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
    pending: Vec<PendingRead>,
    retry: Duration,
}

fn context(member: u64, ctx: u64) -> Vec<u8> {
    let mut c = Vec::with_capacity(16);
    c.extend_from_slice(&member.to_be_bytes());
    c.extend_from_slice(&ctx.to_be_bytes());
    c
}

impl ReadWaiters {
    pub(crate) fn new(member: u64, retry: Duration) -> Self {
        Self {
            member,
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
        raw.read_index(context(self.member, ctx));
        let last_sent = Instant::now();
        self.pending.push(PendingRead {
            ctx,
            deadline,
            leader,
            last_sent,
            reply,
        });
    }

    /// Answers the requests whose context matches a read state; stale ones are ignored.
    pub(crate) fn resolve(&mut self, states: &[ReadState]) {
        if self.pending.is_empty() {
            return;
        }
        for rs in states {
            let Ok(bytes) = <[u8; 16]>::try_from(&rs.request_ctx[..]) else {
                continue;
            };
            let (member, ctx) = bytes.split_at(8);
            if member != self.member.to_be_bytes() {
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
                    raw.read_index(context(self.member, p.ctx));
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

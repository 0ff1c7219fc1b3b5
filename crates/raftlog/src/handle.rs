//! [`RaftHandle`]: the cloneable, async front of the raft loop, and the mailbox
//! [`Command`]s it sends.

use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::applier::{ConfChange, Membership};
use crate::error::{ConfChangeError, ProposeError, RaftLogError, ReadIndexError};
use crate::status::{PeerProgress, RaftStatus};

/// One request to the raft loop.
pub(crate) enum Command {
    Propose {
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), ProposeError>>,
    },
    Step {
        msg: Vec<u8>,
    },
    StepBatch {
        msgs: Vec<Vec<u8>>,
    },
    ReadIndex {
        ctx: u64,
        deadline: Instant,
        reply: oneshot::Sender<Result<u64, ReadIndexError>>,
    },
    ConfChange {
        change: ConfChange,
        deadline: Instant,
        reply: oneshot::Sender<Result<Membership, ConfChangeError>>,
    },
    TransferLeader {
        to: u64,
    },
    Campaign,
    Unreachable {
        id: u64,
    },
    SnapshotStatus {
        id: u64,
        ok: bool,
    },
    Progress {
        reply: oneshot::Sender<Vec<PeerProgress>>,
    },
    Shutdown,
}

/// Talks to one member's raft loop. Cheap to clone; every method is safe to call from any
/// task. Once the loop stopped, every call fails with a `Stopped` error.
#[derive(Clone)]
pub struct RaftHandle {
    id: u64,
    mailbox: mpsc::Sender<Command>,
    status: watch::Receiver<RaftStatus>,
    /// Set to the error the loop stopped on, if it stopped on one; closed when it ended.
    fatal: watch::Receiver<Option<String>>,
    request_timeout: Duration,
}

impl std::fmt::Debug for RaftHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftHandle").field("id", &self.id).finish()
    }
}

impl RaftHandle {
    pub(crate) fn new(
        id: u64,
        mailbox: mpsc::Sender<Command>,
        status: watch::Receiver<RaftStatus>,
        fatal: watch::Receiver<Option<String>>,
        request_timeout: Duration,
    ) -> Self {
        Self {
            id,
            mailbox,
            status,
            fatal,
            request_timeout,
        }
    }

    /// This member's raft ID.
    pub fn id(&self) -> u64 {
        self.id
    }

    async fn send(&self, cmd: Command) -> Result<(), RaftLogError> {
        self.mailbox
            .send(cmd)
            .await
            .map_err(|_| RaftLogError::Stopped)
    }

    /// Hands `data` to raft. Resolves once raft appended it (leader) or forwarded it to the
    /// leader (follower) — NOT when it is committed: the caller learns that from its
    /// applier. A forwarded proposal can still be lost; callers need a timeout.
    pub async fn propose(&self, data: Vec<u8>) -> Result<(), ProposeError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Propose { data, reply })
            .await
            .map_err(|_| ProposeError::Stopped)?;
        rx.await.unwrap_or(Err(ProposeError::Stopped))
    }

    /// Asks for a linearizable read index with the configured request timeout; see
    /// [`RaftHandle::read_index_with_timeout`].
    pub async fn read_index(&self, ctx: u64) -> Result<u64, ReadIndexError> {
        self.read_index_with_timeout(ctx, self.request_timeout)
            .await
    }

    /// Returns the commit index a linearizable read issued now must wait for (the caller
    /// then waits until `status().applied_index` reaches it, e.g. with
    /// [`RaftHandle::wait_applied`]). `ctx` SHOULD be unique among pending requests.
    ///
    /// raft drops read requests silently while the leader has not committed in its term
    /// or no leader is known, so the loop resends every `read_index_retry` and on the
    /// first commit of a term, until `timeout`. Fails with `LeaderChanged` when the leader
    /// known at request time changes.
    pub async fn read_index_with_timeout(
        &self,
        ctx: u64,
        timeout: Duration,
    ) -> Result<u64, ReadIndexError> {
        let (reply, rx) = oneshot::channel();
        let deadline = Instant::now() + timeout;
        self.send(Command::ReadIndex {
            ctx,
            deadline,
            reply,
        })
        .await
        .map_err(|_| ReadIndexError::Stopped)?;
        rx.await.unwrap_or(Err(ReadIndexError::Stopped))
    }

    /// Delivers an encoded `eraftpb::Message` from a peer, waiting for mailbox space.
    pub async fn step(&self, msg: Vec<u8>) -> Result<(), RaftLogError> {
        self.send(Command::Step { msg }).await
    }

    /// Delivers several encoded peer messages (in order) as ONE mailbox command, so a batch
    /// that arrived together wakes the raft loop once.
    pub async fn step_batch(&self, msgs: Vec<Vec<u8>>) -> Result<(), RaftLogError> {
        self.send(Command::StepBatch { msgs }).await
    }

    /// Delivers an encoded peer message without waiting; fails (the message is dropped)
    /// when the mailbox is full or the loop stopped. For transports that must not block.
    pub fn try_step(&self, msg: Vec<u8>) -> Result<(), RaftLogError> {
        self.mailbox
            .try_send(Command::Step { msg })
            .map_err(|_| RaftLogError::Stopped)
    }

    /// Tells raft that the last message to `id` could not be delivered. Never blocks.
    pub fn report_unreachable(&self, id: u64) {
        let _ = self.mailbox.try_send(Command::Unreachable { id });
    }

    /// Tells raft whether the snapshot last sent to `id` was delivered. Never blocks.
    pub fn report_snapshot(&self, id: u64, ok: bool) {
        let _ = self.mailbox.try_send(Command::SnapshotStatus { id, ok });
    }

    /// The replication progress of every peer, as the leader tracks it (empty on a member
    /// that does not lead).
    pub async fn progress(&self) -> Result<Vec<PeerProgress>, RaftLogError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Progress { reply }).await?;
        rx.await.map_err(|_| RaftLogError::Stopped)
    }

    /// Proposes a membership change and resolves once THIS member applied it, with the
    /// resulting configuration. Only one change can be in flight in the cluster.
    pub async fn change_membership(
        &self,
        change: ConfChange,
    ) -> Result<Membership, ConfChangeError> {
        let (reply, rx) = oneshot::channel();
        let deadline = Instant::now() + self.request_timeout;
        self.send(Command::ConfChange {
            change,
            deadline,
            reply,
        })
        .await
        .map_err(|_| ConfChangeError::Stopped)?;
        rx.await.unwrap_or(Err(ConfChangeError::Stopped))
    }

    /// Asks the leader (this member must be it) to hand leadership to `to`. Returns once
    /// the request is queued; watch [`RaftHandle::status`] for the outcome.
    pub async fn transfer_leader(&self, to: u64) -> Result<(), RaftLogError> {
        self.send(Command::TransferLeader { to }).await
    }

    /// Starts an election at once (this member must be a voter).
    pub async fn campaign(&self) -> Result<(), RaftLogError> {
        self.send(Command::Campaign).await
    }

    /// The status channel; it changes after every Ready that changed something.
    pub fn status(&self) -> watch::Receiver<RaftStatus> {
        self.status.clone()
    }

    /// Waits until this member applied `index`.
    pub async fn wait_applied(&self, index: u64) -> Result<(), RaftLogError> {
        let mut rx = self.status.clone();
        loop {
            if rx.borrow_and_update().applied_index >= index {
                return Ok(());
            }
            if rx.changed().await.is_err() {
                return if rx.borrow().applied_index >= index {
                    Ok(())
                } else {
                    Err(RaftLogError::Stopped)
                };
            }
        }
    }

    /// Resolves when the raft loop has ended, with the error it stopped on (a failed
    /// log append or apply: a full disk, an I/O error) or `None` after a requested stop.
    /// A member whose loop stopped on an error can no longer make progress; the server
    /// exits on it (as etcd does when its WAL cannot be written).
    pub async fn stopped(&self) -> Option<String> {
        let mut rx = self.fatal.clone();
        while rx.changed().await.is_ok() {}
        let fatal = rx.borrow().clone();
        fatal
    }

    /// Asks the loop to stop after the Ready in progress; pending requests fail with
    /// `Stopped`. Join the thread returned by [`crate::RaftNode::start`] to wait for it.
    pub async fn shutdown(&self) {
        let _ = self.send(Command::Shutdown).await;
    }
}

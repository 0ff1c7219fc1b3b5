//! Handling of one raft-rs 0.7 `Ready`, applying committed entries, and publishing the
//! status.
//!
//! # Order (raft-rs 0.7 contract, with persistence moved before apply)
//! 1. `messages`: sent at once (a leader replicates while it fsyncs its own append).
//! 2. `snapshot`: the log store takes the snapshot's position and conf state (durably),
//!    then the applier restores the checkpoint the transport delivered with it. A crash in
//!    between is finished at the next start (`RaftNode::start` calls `restore` again).
//! 3. `entries` + `hs`: ONE synced write ([`RaftLogStore::append`]); a commit-only hard
//!    state change is only remembered ([`RaftLogStore::set_commit`]) and written with the
//!    next hard state.
//! 4. `persisted_messages`: sent only after step 3 returned (votes, append responses).
//! 5. `read_states`: handed to their waiters, matched by context.
//! 6. `committed_entries`: applied in order. The stored commit index MAY be behind what
//!    the applier wrote; `RaftNode::start` raises it to the applied index.
//! 7. `advance`: the `LightReady`'s commit index is remembered, its messages sent, its
//!    committed entries applied; then `advance_apply`.

use protobuf::Message as _;
use raft::eraftpb::{ConfChange as RaftConfChangeV1, ConfChangeV2, Entry, EntryType, Message};
use raft_proto::ConfChangeI;

use crate::applier::{Applier, Committed, ConfChange, Membership};
use crate::error::{ConfChangeError, RaftLogError};
use crate::log_store::RaftLogStore;
use crate::metrics;
use crate::node::{sorted, Node};
use crate::status::{RaftRole, RaftStatus};

impl<S: RaftLogStore, A: Applier> Node<S, A> {
    /// Handles one Ready completely (steps 1-7 of the module docs).
    pub(crate) fn handle_ready(&mut self) -> Result<(), RaftLogError> {
        let mut rd = self.raw.ready();
        self.send_messages(rd.take_messages());

        if !rd.snapshot().is_empty() {
            let meta = rd.snapshot().get_metadata().clone();
            self.install_snapshot(&meta)?;
        }

        fail::fail_point!("raft-before-append", |_| std::process::abort());
        if !rd.entries().is_empty() || rd.must_sync() {
            self.raw.mut_store().append(rd.entries(), rd.hs())?;
        } else if let Some(hs) = rd.hs() {
            // Term and vote are unchanged (else `must_sync`): only the commit moved.
            self.raw.mut_store().set_commit(hs.commit);
        }
        fail::fail_point!("raft-after-append", |_| std::process::abort());
        self.send_messages(rd.take_persisted_messages());

        self.reads.resolve(&rd.take_read_states());
        fail::fail_point!("raft-before-apply", |_| std::process::abort());
        self.apply_committed(rd.take_committed_entries())?;

        let mut light = self.raw.advance(rd);
        if let Some(commit) = light.commit_index() {
            self.raw.mut_store().set_commit(commit);
        }
        self.send_messages(light.take_messages());
        self.apply_committed(light.take_committed_entries())?;
        self.raw.advance_apply();
        Ok(())
    }

    /// Takes in a snapshot received from the leader (step 2 of the module docs).
    fn install_snapshot(
        &mut self,
        meta: &raft::eraftpb::SnapshotMetadata,
    ) -> Result<(), RaftLogError> {
        tracing::info!(
            member = self.id,
            index = meta.index,
            term = meta.term,
            "installing a snapshot from the leader"
        );
        fail::fail_point!("raft-before-snapshot-install", |_| std::process::abort());
        let saving = std::time::Instant::now();
        self.raw.mut_store().apply_snapshot(meta)?;
        crate::metrics::SNAP_SAVE_TOTAL_SECONDS.observe(saving.elapsed().as_secs_f64());
        fail::fail_point!("raft-between-snapshot-log-and-state", |_| {
            std::process::abort()
        });
        self.applier.restore(meta.index, meta.term)?;
        let cs = meta.get_conf_state();
        self.members = Membership {
            voters: sorted(&cs.voters),
            learners: sorted(&cs.learners),
        };
        self.applied = meta.index;
        self.compacted_at = meta.index;
        self.raw.mut_store().set_applied(meta.index, meta.term);
        Ok(())
    }

    fn send_messages(&self, msgs: Vec<Message>) {
        for m in msgs {
            let to = m.to;
            let snapshot = m.get_msg_type() == raft::eraftpb::MessageType::MsgSnapshot;
            match m.write_to_bytes() {
                Ok(bytes) if snapshot => self.transport.send_snapshot(to, bytes),
                Ok(bytes) => self.transport.send(to, bytes),
                Err(e) => {
                    tracing::warn!(member = self.id, error = %e, "cannot encode raft message")
                }
            }
        }
    }

    /// Applies committed entries in log order: runs of normal entries go to
    /// [`Applier::apply`] in one call, conf changes one by one.
    fn apply_committed(&mut self, entries: Vec<Entry>) -> Result<(), RaftLogError> {
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let (last_index, last_term) = (last.index, last.term);
        let mine = self.id.to_be_bytes();
        let mut batch: Vec<Committed<'_>> = Vec::with_capacity(entries.len());
        for e in &entries {
            if e.get_entry_type() == EntryType::EntryNormal {
                if !e.data.is_empty() && e.context.len() == 8 && e.context[..] == mine {
                    self.pending_local -= 1;
                }
                batch.push(Committed {
                    index: e.index,
                    term: e.term,
                    data: &e.data,
                });
                continue;
            }
            if !batch.is_empty() {
                self.applier.apply(&batch)?;
                batch.clear();
            }
            self.apply_conf_entry(e)?;
        }
        if !batch.is_empty() {
            self.applier.apply(&batch)?;
        }
        self.applied = last_index;
        self.raw.mut_store().set_applied(last_index, last_term);
        if last_term == self.raw.raft.term && self.term_committed != last_term {
            // First commit of this term: raft answers reads from now on.
            self.term_committed = last_term;
            self.resend_reads = true;
        }
        Ok(())
    }

    fn apply_noop(&mut self, e: &Entry) -> Result<(), RaftLogError> {
        self.applier.apply(&[Committed {
            index: e.index,
            term: e.term,
            data: &[],
        }])?;
        Ok(())
    }

    fn apply_conf_entry(&mut self, e: &Entry) -> Result<(), RaftLogError> {
        let decoded = if e.get_entry_type() == EntryType::EntryConfChange {
            let mut v1 = RaftConfChangeV1::default();
            v1.merge_from_bytes(&e.data).map(|_| v1.into_v2())
        } else {
            let mut v2 = ConfChangeV2::default();
            v2.merge_from_bytes(&e.data).map(|_| v2)
        };
        let cc = match decoded {
            Ok(cc) => cc,
            Err(err) => {
                tracing::error!(member = self.id, index = e.index, error = %err, "undecodable conf change; applied as a no-op");
                return self.apply_noop(e);
            }
        };
        let waiter = (e.context.len() == 16 && e.context[..8] == self.id.to_be_bytes())
            .then(|| u64::from_be_bytes(e.context[8..16].try_into().unwrap_or_default()));
        let already = e.index <= self.raw.store().conf_index();

        if cc.changes.len() != 1 {
            // Leaving a joint configuration, or a multi-change we never propose ourselves.
            if !already {
                if let Err(err) = self.apply_raft_conf_change(&cc, e.index) {
                    tracing::warn!(member = self.id, index = e.index, error = %err, "conf change refused");
                }
            }
            return self.apply_noop(e);
        }
        let change = ConfChange::from_raft(&cc.changes[0], &cc.context, &self.members.learners);
        let outcome = if already {
            Ok(())
        } else {
            self.apply_raft_conf_change(&cc, e.index)
        };
        let reply = match outcome {
            Ok(()) => {
                self.applier.apply_conf_change(e.index, e.term, &change)?;
                Ok(self.members.clone())
            }
            Err(RaftLogError::Raft(err)) => {
                tracing::warn!(member = self.id, index = e.index, error = %err, "conf change refused; applied as a no-op");
                self.apply_noop(e)?;
                Err(ConfChangeError::Rejected(err.to_string()))
            }
            Err(fatal) => return Err(fatal),
        };
        if let Some(w) = waiter.and_then(|seq| self.conf_waiters.remove(&seq)) {
            let _ = w.reply.send(reply);
        }
        Ok(())
    }

    /// Applies `cc` to raft and stores the resulting configuration.
    fn apply_raft_conf_change(
        &mut self,
        cc: &ConfChangeV2,
        index: u64,
    ) -> Result<(), RaftLogError> {
        let cs = self.raw.apply_conf_change(cc)?;
        self.raw.mut_store().set_conf_state(&cs, index)?;
        self.members = Membership {
            voters: sorted(&cs.voters),
            learners: sorted(&cs.learners),
        };
        Ok(())
    }

    /// Publishes the status if it changed, updates the metrics, and tells the applier and
    /// the read waiters about leader, role and term changes.
    pub(crate) fn publish(&mut self) {
        let raft = &self.raw.raft;
        let is_learner = self.members.learners.contains(&self.id);
        let status = RaftStatus {
            id: self.id,
            leader_id: raft.leader_id,
            term: raft.term,
            commit_index: raft.raft_log.committed,
            applied_index: self.applied,
            role: RaftRole::from_raft(raft.state, is_learner),
            voters: self.members.voters.clone(),
            learners: self.members.learners.clone(),
        };
        if status == self.last_status {
            return;
        }
        let leader_changed = status.leader_id != self.last_status.leader_id;
        let role_changed = leader_changed
            || status.role != self.last_status.role
            || status.term != self.last_status.term;
        if leader_changed {
            self.reads.on_leader(status.leader_id);
            if status.leader_id != 0 {
                metrics::LEADER_CHANGES.inc();
            }
            // Unfinished proposals of the old leader are lost or will show up applied.
            self.pending_local = 0;
        }
        metrics::HAS_LEADER.set(if status.has_leader() { 1.0 } else { 0.0 });
        metrics::IS_LEADER.set(if status.is_leader() { 1.0 } else { 0.0 });
        metrics::PROPOSALS_COMMITTED.set(status.commit_index as f64);
        metrics::PROPOSALS_APPLIED.set(status.applied_index as f64);
        metrics::PROPOSALS_PENDING.set(self.pending_local.max(0) as f64);
        if role_changed {
            self.applier.on_role_change(&status);
        }
        self.status_tx.send_replace(status.clone());
        self.last_status = status;
    }
}

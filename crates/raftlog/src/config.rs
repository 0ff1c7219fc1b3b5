//! [`RaftConfig`]: everything the raft loop needs to start, with etcd's defaults.

use std::collections::HashMap;
use std::time::Duration;

use crate::error::RaftLogError;

/// Configuration of one raft member.
///
/// The defaults match etcd 3.4 (100 ms heartbeat, 1 s election timeout, 100 000 entries
/// between log compactions, 5 000 entries kept for lagging followers).
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// This member's raft ID; MUST NOT be 0.
    pub id: u64,
    /// The voters of a NEW cluster. Used only when the log store is empty: every member of
    /// a new cluster MUST be started with the same list. When empty and the store is empty,
    /// the member starts uninitialised and waits to be sent the log (joining a cluster).
    pub voters: Vec<u64>,
    /// Opaque per-voter context (for example the member's peer URLs) written into the
    /// bootstrap conf-change entries, so the [`crate::Applier`] learns it at indexes
    /// `1..=voters.len()`. Missing IDs get an empty context. MUST be identical on all members.
    pub voter_contexts: HashMap<u64, Vec<u8>>,
    /// One raft tick; etcd's `--heartbeat-interval`.
    pub tick_interval: Duration,
    /// Ticks without a leader before a follower campaigns (election timeout / heartbeat).
    pub election_tick: usize,
    /// Ticks between leader heartbeats.
    pub heartbeat_tick: usize,
    /// Enables raft's pre-vote phase (etcd `--pre-vote`).
    pub pre_vote: bool,
    /// A leader steps down when it has not heard from a quorum for an election timeout.
    pub check_quorum: bool,
    /// Upper bound of the entries carried by one append message, in bytes.
    pub max_size_per_msg: u64,
    /// Maximum number of in-flight append messages per follower.
    pub max_inflight_msgs: usize,
    /// Applied entries between two raft log compactions (etcd `--snapshot-count`).
    pub snapshot_count: u64,
    /// Entries kept behind the applied index at compaction, for slow followers to catch up
    /// from the log (etcd's `snapshot-catchup-entries`).
    pub snapshot_catchup_entries: u64,
    /// Whether log appends are fsynced. Only `false` with etcd's `--unsafe-no-fsync`.
    pub sync_log: bool,
    /// Capacity of the raft loop's mailbox (proposals, peer messages, reads).
    pub mailbox_capacity: usize,
    /// How often an unanswered ReadIndex request is sent again (raft drops them silently
    /// while the leader has not committed in its term).
    pub read_index_retry: Duration,
    /// Deadline of [`crate::RaftHandle::read_index`] and
    /// [`crate::RaftHandle::change_membership`].
    pub request_timeout: Duration,
}

impl Default for RaftConfig {
    fn default() -> Self {
        Self {
            id: 1,
            voters: vec![1],
            voter_contexts: HashMap::new(),
            tick_interval: Duration::from_millis(100),
            election_tick: 10,
            heartbeat_tick: 1,
            pre_vote: true,
            check_quorum: true,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 512,
            snapshot_count: 100_000,
            snapshot_catchup_entries: 5_000,
            sync_log: true,
            mailbox_capacity: 4096,
            read_index_retry: Duration::from_millis(500),
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl RaftConfig {
    /// Checks the values raft-rs would reject, without panicking.
    pub fn validate(&self) -> Result<(), RaftLogError> {
        let bad = |m: &str| Err(RaftLogError::Config(m.to_string()));
        if self.id == 0 {
            return bad("raft id must not be 0");
        }
        if self.voters.contains(&0) {
            return bad("voter ids must not be 0");
        }
        if self.tick_interval.is_zero() {
            return bad("tick interval must be positive");
        }
        if self.heartbeat_tick == 0 {
            return bad("heartbeat tick must be positive");
        }
        if self.election_tick <= self.heartbeat_tick {
            return bad("election tick must be greater than heartbeat tick");
        }
        if self.max_inflight_msgs == 0 {
            return bad("max inflight messages must be positive");
        }
        if self.mailbox_capacity == 0 {
            return bad("mailbox capacity must be positive");
        }
        if self.snapshot_count == 0 {
            return bad("snapshot count must be positive");
        }
        Ok(())
    }

    /// The raft-rs configuration derived from this one, starting at `applied`.
    pub(crate) fn to_raft(&self, applied: u64) -> raft::Config {
        raft::Config {
            id: self.id,
            election_tick: self.election_tick,
            heartbeat_tick: self.heartbeat_tick,
            applied,
            max_size_per_msg: self.max_size_per_msg,
            max_inflight_msgs: self.max_inflight_msgs,
            check_quorum: self.check_quorum,
            pre_vote: self.pre_vote,
            ..raft::Config::default()
        }
    }
}

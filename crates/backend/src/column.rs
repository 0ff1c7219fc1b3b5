//! The column families of an oxcd data directory.

/// A column family. This enum is the one place that names them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    /// MVCC key-value revisions: revision bytes -> encoded `mvccpb.KeyValue`.
    Kv,
    /// Server metadata: applied index, consistent term, compaction marks, cluster id.
    Meta,
    /// Leases: lease id -> encoded lease.
    Lease,
    /// Auth: users, roles, enabled flag, auth revision.
    Auth,
    /// Cluster membership.
    Members,
    /// Raised alarms.
    Alarm,
    /// The raft log: entries, hard state, conf state, snapshot metadata.
    RaftLog,
}

impl Column {
    /// Every column, in a fixed order.
    pub const ALL: [Column; 7] = [
        Column::Kv,
        Column::Meta,
        Column::Lease,
        Column::Auth,
        Column::Members,
        Column::Alarm,
        Column::RaftLog,
    ];

    /// The RocksDB column family name.
    pub fn name(self) -> &'static str {
        match self {
            Column::Kv => "kv",
            Column::Meta => "meta",
            Column::Lease => "lease",
            Column::Auth => "auth",
            Column::Members => "members",
            Column::Alarm => "alarm",
            Column::RaftLog => "raftlog",
        }
    }
}

//! oxcd-raftlog (placeholder while the crate is written).

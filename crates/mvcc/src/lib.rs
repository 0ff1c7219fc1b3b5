//! oxcd-mvcc (placeholder while the crate is written).

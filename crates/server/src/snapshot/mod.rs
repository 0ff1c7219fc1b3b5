//! Snapshots in etcd's own format (`etcdctl snapshot save/status/restore`).
//!
//! The file format (bbolt, etcd's buckets and encodings, the SHA-256 trailer) is
//! `oxcd-snapshot`'s; this module maps oxcd's storage to it and back.
//!
//! # Layout
//! - [`export`]: oxcd's state columns → etcd's buckets (`Maintenance.Snapshot`, streamed
//!   by [`crate::grpc::snapshot`]).
//! - [`restore`]: a snapshot file (etcd's or oxcd's) → a new oxcd data dir, with a new
//!   membership ([`restore::restore`], the library entry point).
//! - [`cli`]: `oxcd snapshot status|restore` with etcdctl's flags.
//!
//! # Invariants
//! - An export reads ONE consistent view (a RocksDB checkpoint: hard links, writes go on)
//!   and reads it twice (the page layout, then the stream); memory stays bounded by the
//!   bbolt tree height, never by the store's size.
//! - A restore builds the data dir in a temporary sibling and renames it into place only
//!   after every store opened on it: a refused file leaves nothing behind.

pub mod cli;
pub mod export;
pub mod restore;

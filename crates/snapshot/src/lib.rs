//! etcd's snapshot file, written and read by oxcd.
//!
//! A snapshot (`etcdctl snapshot save`) is etcd's backend database, a bbolt file, with the
//! SHA-256 of its bytes appended. This crate owns that format: bbolt's pages, etcd's
//! buckets and the encoding of every record in them, the trailer, and what `etcdctl
//! snapshot status` reports. It knows nothing of oxcd's own storage: the server maps its
//! RocksDB columns to these buckets (export) and back (restore).
//!
//! # Why a hand-written bbolt writer and reader
//! The one Rust bbolt crate, `bbolt-rs` (1.3.10, MIT, one author), is a port of bbolt's
//! transactional engine: a commit builds the whole dirty tree in memory (its own notes
//! say large commits take ~3x Go's memory), it reads through `mmap` with `unsafe`, and it
//! brings clap, fake, bumpalo, memmap2 and a dozen more crates as normal dependencies.
//! Writing a 4 GiB snapshot through it would need 4 GiB+ of RAM or many rewriting
//! commits. A snapshot is written once, from keys that already come in order, so a
//! one-pass bottom-up page writer ([`writer`], ~400 lines) and a bounds-checked positioned
//! reader ([`reader`]) are smaller, bounded in memory and free of `unsafe`.
//!
//! # Layout
//! - [`page`]: bbolt's page header, meta page, element layouts and constants.
//! - [`writer`]: [`DbWriter`], the one-pass writer; [`plan`] + [`write_stream`] make a
//!   sequential stream in two passes, [`write_file`] a file in one.
//! - [`reader`]: [`BoltReader`], page-by-page iteration of buckets.
//! - [`check`]: [`BoltReader::check`], bbolt's `Tx.Check` with its findings' words.
//! - [`etcd`]: etcd's bucket names, record keys and encodings ([`etcd::LeasePb`],
//!   [`etcd::MemberJson`], alarm keys, revisions).
//! - [`trailer`]: the SHA-256 trailer; [`open_snapshot`] checks it and opens the database
//!   (refusing what etcd's restore refuses, with its words), [`TrailerCheck`] checks a
//!   stream; [`Progress`] is what the long file operations report to.
//! - [`mod@status`]: [`Status`], `etcdctl snapshot status` ([`status_file`]: with etcdctl's
//!   errors) and its renderings.
//! - [`error`]: the one error type, [`SnapshotError`].
//!
//! # Invariants
//! - Memory is bounded by the tree height times the page size (plus the largest single
//!   key/value), for writing and reading alike, whatever the database size. The one
//!   exception is [`BoltReader::check`], which, as bbolt's, keeps a set of the page ids it
//!   reached: 8-odd bytes a page, and its work is bounded by a few visits a page.
//! - Written files are what bbolt writes: 4 KiB pages, meta pages 0 and 1 with FNV-64a
//!   checksums, every page below the high-water mark reachable, an empty freelist page,
//!   keys strictly ascending in every bucket (the writer refuses anything else).
//! - Reading never trusts the file: a damaged or foreign file is a [`SnapshotError`] with
//!   a message that says what is wrong, never a panic or an unbounded allocation beyond
//!   the file's own size.

pub mod check;
pub mod error;
pub mod etcd;
pub mod page;
pub mod reader;
pub mod status;
pub mod trailer;
pub mod writer;

pub use error::{Result, SnapshotError};
pub use reader::{BoltReader, Bucket};
pub use status::{status, status_file, Status};
pub use trailer::{
    open_snapshot, open_snapshot_with, Progress, SnapshotFile, TrailerCheck, HASH_SIZE,
};
pub use writer::{plan, write_file, write_stream, DbWriter, Layout};

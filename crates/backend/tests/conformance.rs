//! One conformance suite that every [`Backend`] implementation passes.
//!
//! Each `check_*` function takes a [`Fixture`]; the `conformance!` macro instantiates
//! every check for `MemBackend`, `RocksBackend` and `RocksBackend` without a WAL.
//! RocksDB-only durability tests (reopen after drop, crash with `abort`) follow.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oxcd_backend::{
    Backend, BackendError, Column, MemBackend, RocksBackend, RocksOptions, WriteBatch,
};
use tempfile::TempDir;

/// A backend under test plus what a check needs around it.
struct Fixture {
    backend: Box<dyn Backend>,
    dir: TempDir,
    reopen: fn(&Path) -> Box<dyn Backend>,
}

impl Fixture {
    fn b(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// A path inside the fixture's temporary directory that does not exist yet.
    fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Opens a checkpoint written by this kind of backend.
    fn open_checkpoint(&self, dir: &Path) -> Box<dyn Backend> {
        (self.reopen)(dir)
    }
}

fn small_rocks_opts(disable_wal: bool) -> RocksOptions {
    RocksOptions {
        block_cache_bytes: 8 << 20,
        write_buffer_bytes: 4 << 20,
        disable_wal,
        ..RocksOptions::default()
    }
}

fn mem_fixture() -> Fixture {
    Fixture {
        backend: Box::new(MemBackend::new()),
        dir: TempDir::new().expect("tempdir"),
        reopen: |dir| Box::new(MemBackend::open_checkpoint(dir).expect("open mem checkpoint")),
    }
}

fn rocks_fixture_with(disable_wal: bool) -> Fixture {
    let dir = TempDir::new().expect("tempdir");
    let backend = RocksBackend::open(&dir.path().join("db"), &small_rocks_opts(disable_wal))
        .expect("open rocks");
    let reopen: fn(&Path) -> Box<dyn Backend> = if disable_wal {
        |dir| Box::new(RocksBackend::open(dir, &small_rocks_opts(true)).expect("open checkpoint"))
    } else {
        |dir| Box::new(RocksBackend::open(dir, &small_rocks_opts(false)).expect("open checkpoint"))
    };
    Fixture {
        backend: Box::new(backend),
        dir,
        reopen,
    }
}

fn rocks_fixture() -> Fixture {
    rocks_fixture_with(false)
}

fn rocks_nowal_fixture() -> Fixture {
    rocks_fixture_with(true)
}

// ---------------------------------------------------------------------------------
// Helpers.

fn put(b: &dyn Backend, col: Column, k: &[u8], v: &[u8]) {
    let mut batch = WriteBatch::new();
    batch.put(col, k, v);
    b.write(batch, false).expect("write");
}

fn keys(b: &dyn Backend, col: Column, start: &[u8], end: Option<&[u8]>, rev: bool) -> Vec<Vec<u8>> {
    b.scan(col, start, end, rev)
        .expect("scan")
        .map(|r| r.expect("scan item").0.into_vec())
        .collect()
}

fn bkeys(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// `len` pseudo-random (incompressible) bytes, a function of `seed`.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    use rand::{RngCore, SeedableRng};
    let mut bytes = vec![0; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

/// Puts a..e into the kv column (and a decoy in meta).
fn seed(b: &dyn Backend) {
    let mut batch = WriteBatch::new();
    for k in ["a", "b", "c", "d", "e"] {
        batch.put(Column::Kv, k, format!("v{k}"));
    }
    batch.put(Column::Meta, "c2", "meta");
    b.write(batch, false).expect("write");
}

// ---------------------------------------------------------------------------------
// Checks.

fn check_put_get_delete(f: &Fixture) {
    let b = f.b();
    assert_eq!(b.get(Column::Kv, b"k").unwrap(), None);
    put(b, Column::Kv, b"k", b"v1");
    assert_eq!(b.get(Column::Kv, b"k").unwrap(), Some(b"v1".to_vec()));
    let mut batch = WriteBatch::new();
    batch.delete(Column::Kv, "k");
    b.write(batch, false).unwrap();
    assert_eq!(b.get(Column::Kv, b"k").unwrap(), None);
    // Deleting a missing key is fine.
    let mut batch = WriteBatch::new();
    batch.delete(Column::Kv, "never");
    b.write(batch, false).unwrap();
    // Empty keys and values are ordinary.
    put(b, Column::Meta, b"", b"");
    assert_eq!(b.get(Column::Meta, b"").unwrap(), Some(Vec::new()));
    // An empty batch is a no-op.
    b.write(WriteBatch::new(), true).unwrap();
}

fn check_overwrite(f: &Fixture) {
    let b = f.b();
    put(b, Column::Lease, b"k", b"first");
    put(b, Column::Lease, b"k", b"second");
    assert_eq!(
        b.get(Column::Lease, b"k").unwrap(),
        Some(b"second".to_vec())
    );
    // Within one batch the later op wins.
    let mut batch = WriteBatch::new();
    batch.put(Column::Lease, "x", "1");
    batch.delete(Column::Lease, "x");
    batch.put(Column::Lease, "y", "1");
    batch.put(Column::Lease, "y", "2");
    b.write(batch, false).unwrap();
    assert_eq!(b.get(Column::Lease, b"x").unwrap(), None);
    assert_eq!(b.get(Column::Lease, b"y").unwrap(), Some(b"2".to_vec()));
    assert_eq!(keys(b, Column::Lease, b"", None, false), bkeys(&["k", "y"]));
}

fn check_multi_get_order(f: &Fixture) {
    let b = f.b();
    seed(b);
    let got = b
        .multi_get(Column::Kv, &[b"e", b"missing", b"a", b"c", b"a", b"c2"])
        .unwrap();
    assert_eq!(
        got,
        vec![
            Some(b"ve".to_vec()),
            None,
            Some(b"va".to_vec()),
            Some(b"vc".to_vec()),
            Some(b"va".to_vec()),
            None,
        ]
    );
    assert!(b.multi_get(Column::Kv, &[]).unwrap().is_empty());
    // The bulk read answers the same.
    let keys: [&[u8]; 6] = [b"e", b"missing", b"a", b"c", b"a", b"c2"];
    assert_eq!(b.multi_get_once(Column::Kv, &keys).unwrap(), got);
    assert!(b.multi_get_once(Column::Kv, &[]).unwrap().is_empty());
}

fn check_scan_forward(f: &Fixture) {
    let b = f.b();
    seed(b);
    assert_eq!(
        keys(b, Column::Kv, b"", None, false),
        bkeys(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(
        keys(b, Column::Kv, b"b", None, false),
        bkeys(&["b", "c", "d", "e"])
    );
    assert_eq!(
        keys(b, Column::Kv, b"bb", None, false),
        bkeys(&["c", "d", "e"])
    );
    assert_eq!(
        keys(b, Column::Kv, b"b", Some(b"d"), false),
        bkeys(&["b", "c"])
    );
    assert_eq!(
        keys(b, Column::Kv, b"b", Some(b"dd"), false),
        bkeys(&["b", "c", "d"])
    );
    assert_eq!(
        keys(b, Column::Kv, b"", Some(b"zz"), false),
        bkeys(&["a", "b", "c", "d", "e"])
    );
    // Values come with their keys.
    let pairs: Vec<_> = b
        .scan(Column::Kv, b"d", None, false)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(&*pairs[0].0, b"d");
    assert_eq!(&*pairs[0].1, b"vd");
    assert_eq!(&*pairs[1].1, b"ve");
}

fn check_scan_reverse(f: &Fixture) {
    let b = f.b();
    seed(b);
    assert_eq!(
        keys(b, Column::Kv, b"", None, true),
        bkeys(&["e", "d", "c", "b", "a"])
    );
    assert_eq!(
        keys(b, Column::Kv, b"b", None, true),
        bkeys(&["e", "d", "c", "b"])
    );
    assert_eq!(
        keys(b, Column::Kv, b"b", Some(b"d"), true),
        bkeys(&["c", "b"])
    );
    assert_eq!(
        keys(b, Column::Kv, b"bb", Some(b"dd"), true),
        bkeys(&["d", "c"])
    );
    assert_eq!(
        keys(b, Column::Kv, b"", Some(b"a"), true),
        Vec::<Vec<u8>>::new()
    );
    assert_eq!(
        keys(b, Column::Kv, b"", Some(b"zz"), true),
        bkeys(&["e", "d", "c", "b", "a"])
    );
    // A partially consumed reverse scan stops where asked.
    let first: Vec<_> = b
        .scan(Column::Kv, b"", None, true)
        .unwrap()
        .take(2)
        .map(|r| r.unwrap().0.into_vec())
        .collect();
    assert_eq!(first, bkeys(&["e", "d"]));
}

fn check_scan_empty_ranges(f: &Fixture) {
    let b = f.b();
    let none = Vec::<Vec<u8>>::new();
    // Empty column.
    assert_eq!(keys(b, Column::Alarm, b"", None, false), none);
    assert_eq!(keys(b, Column::Alarm, b"", None, true), none);
    seed(b);
    for rev in [false, true] {
        assert_eq!(
            keys(b, Column::Kv, b"c", Some(b"c"), rev),
            none,
            "start == end"
        );
        assert_eq!(
            keys(b, Column::Kv, b"d", Some(b"b"), rev),
            none,
            "start > end"
        );
        assert_eq!(
            keys(b, Column::Kv, b"f", None, rev),
            none,
            "past the last key"
        );
        assert_eq!(keys(b, Column::Kv, b"bb", Some(b"bc"), rev), none, "gap");
    }
}

fn check_delete_range(f: &Fixture) {
    let b = f.b();
    seed(b);
    let mut batch = WriteBatch::new();
    batch.delete_range(Column::Kv, "b", "d");
    b.write(batch, false).unwrap();
    assert_eq!(
        keys(b, Column::Kv, b"", None, false),
        bkeys(&["a", "d", "e"])
    );
    assert_eq!(b.get(Column::Kv, b"b").unwrap(), None);
    assert_eq!(b.get(Column::Kv, b"d").unwrap(), Some(b"vd".to_vec()));
    // Other columns are untouched, even with overlapping keys.
    assert_eq!(b.get(Column::Meta, b"c2").unwrap(), Some(b"meta".to_vec()));
    // Empty and inverted ranges delete nothing.
    let mut batch = WriteBatch::new();
    batch.delete_range(Column::Kv, "d", "d");
    batch.delete_range(Column::Kv, "e", "a");
    b.write(batch, false).unwrap();
    assert_eq!(
        keys(b, Column::Kv, b"", None, false),
        bkeys(&["a", "d", "e"])
    );
    // A put after a range delete in the same batch survives it.
    let mut batch = WriteBatch::new();
    batch.delete_range(Column::Kv, "a", "z");
    batch.put(Column::Kv, "m", "new");
    b.write(batch, false).unwrap();
    assert_eq!(keys(b, Column::Kv, b"", None, false), bkeys(&["m"]));
    assert_eq!(keys(b, Column::Kv, b"", None, true), bkeys(&["m"]));
}

fn check_atomic_batch_across_columns(f: &Fixture) {
    let b = f.b();
    let mut batch = WriteBatch::new();
    for (i, col) in Column::ALL.into_iter().enumerate() {
        batch.put(col, "shared", format!("value-{i}"));
        batch.put(col, format!("only-{}", col.name()), "x");
    }
    b.write(batch, true).unwrap();
    for (i, col) in Column::ALL.into_iter().enumerate() {
        assert_eq!(
            b.get(col, b"shared").unwrap(),
            Some(format!("value-{i}").into_bytes()),
            "{col:?}"
        );
        assert_eq!(
            keys(b, col, b"", None, false),
            vec![
                format!("only-{}", col.name()).into_bytes(),
                b"shared".to_vec()
            ]
        );
    }
}

fn check_columns_isolated(f: &Fixture) {
    let b = f.b();
    put(b, Column::Auth, b"k", b"auth");
    put(b, Column::Members, b"k", b"members");
    assert_eq!(b.get(Column::Auth, b"k").unwrap(), Some(b"auth".to_vec()));
    assert_eq!(
        b.get(Column::Members, b"k").unwrap(),
        Some(b"members".to_vec())
    );
    assert_eq!(b.get(Column::Kv, b"k").unwrap(), None);
    assert_eq!(
        keys(b, Column::RaftLog, b"", None, false),
        Vec::<Vec<u8>>::new()
    );
    let mut batch = WriteBatch::new();
    batch.delete(Column::Auth, "k");
    b.write(batch, false).unwrap();
    assert_eq!(b.get(Column::Auth, b"k").unwrap(), None);
    assert_eq!(
        b.get(Column::Members, b"k").unwrap(),
        Some(b"members".to_vec())
    );
}

fn check_large_values(f: &Fixture) {
    let b = f.b();
    let big: Vec<u8> = (0..(1usize << 20)).map(|i| (i * 7 % 251) as u8).collect();
    let mut batch = WriteBatch::new();
    batch.put(Column::Kv, "big1", big.clone());
    batch.put(Column::Kv, "big2", big.clone());
    b.write(batch, false).unwrap();
    assert_eq!(
        b.get(Column::Kv, b"big1").unwrap().as_deref(),
        Some(&big[..])
    );
    let scanned: Vec<_> = b
        .scan(Column::Kv, b"", None, true)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(scanned.len(), 2);
    assert_eq!(&*scanned[0].0, b"big2");
    assert_eq!(&*scanned[0].1, &big[..]);
    b.sync().unwrap();
    assert_eq!(
        b.get(Column::Kv, b"big2").unwrap().as_deref(),
        Some(&big[..])
    );
}

/// Big-endian revision-like keys, written in a scrambled order.
fn many_keys(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| (i * 7919 % n).to_be_bytes().to_vec())
        .collect()
}

fn check_many_keys_order(f: &Fixture) {
    let b = f.b();
    const N: u64 = 10_000;
    for chunk in many_keys(N).chunks(1000) {
        let mut batch = WriteBatch::new();
        for k in chunk {
            batch.put(Column::Kv, k.clone(), k.clone());
        }
        b.write(batch, false).unwrap();
    }
    let fwd = keys(b, Column::Kv, b"", None, false);
    let want: Vec<Vec<u8>> = (0..N).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(fwd, want);
    let mut rev = keys(b, Column::Kv, b"", None, true);
    rev.reverse();
    assert_eq!(rev, want);
    let mid = keys(
        b,
        Column::Kv,
        &2500u64.to_be_bytes(),
        Some(&7500u64.to_be_bytes()),
        false,
    );
    assert_eq!(mid, want[2500..7500].to_vec());
    let mid_rev = keys(
        b,
        Column::Kv,
        &2500u64.to_be_bytes(),
        Some(&7500u64.to_be_bytes()),
        true,
    );
    assert_eq!(mid_rev.first(), Some(&want[7499]));
    assert_eq!(mid_rev.last(), Some(&want[2500]));
    assert_eq!(mid_rev.len(), 5000);
    // Also after the data moved to SST files.
    b.defragment().unwrap();
    assert_eq!(keys(b, Column::Kv, b"", None, false), want);
}

fn check_size_grows(f: &Fixture) {
    let b = f.b();
    let before = b.size().unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..200u32 {
        // Incompressible values: RocksDB compresses SST blocks.
        let value = noise(i.into(), 1024);
        batch.put(Column::Kv, i.to_be_bytes(), value);
    }
    b.write(batch, true).unwrap();
    let after = b.size().unwrap();
    assert!(
        after.in_use_bytes >= before.in_use_bytes + 100 * 1024,
        "{before:?} -> {after:?}"
    );
    assert!(
        after.total_bytes > before.total_bytes,
        "{before:?} -> {after:?}"
    );
    b.sync().unwrap();
    let synced = b.size().unwrap();
    assert!(synced.total_bytes >= 100 * 1024, "{synced:?}");
}

fn check_defragment_keeps_data(f: &Fixture) {
    let b = f.b();
    seed(b);
    let mut batch = WriteBatch::new();
    for i in 0..2000u32 {
        batch.put(Column::RaftLog, i.to_be_bytes(), noise(i.into(), 512));
    }
    b.write(batch, false).unwrap();
    b.defragment().unwrap();
    let full = b.size().unwrap();
    assert!(full.in_use_bytes >= 2000 * 512, "{full:?}");
    let mut batch = WriteBatch::new();
    batch.delete_range(Column::RaftLog, 0u32.to_be_bytes(), 1990u32.to_be_bytes());
    batch.delete(Column::Kv, "c");
    b.write(batch, false).unwrap();
    b.defragment().unwrap();
    assert_eq!(
        keys(b, Column::Kv, b"", None, false),
        bkeys(&["a", "b", "d", "e"])
    );
    assert_eq!(b.get(Column::Meta, b"c2").unwrap(), Some(b"meta".to_vec()));
    let log = keys(b, Column::RaftLog, b"", None, false);
    assert_eq!(log.len(), 10);
    assert_eq!(log[0], 1990u32.to_be_bytes().to_vec());
    // Deleted log entries no longer count as live data.
    let size = b.size().unwrap();
    assert!(size.in_use_bytes < 100 * 512, "{full:?} -> {size:?}");
    assert!(size.total_bytes < full.total_bytes, "{full:?} -> {size:?}");
    // And the backend keeps working.
    put(b, Column::Kv, b"f", b"vf");
    assert_eq!(b.get(Column::Kv, b"f").unwrap(), Some(b"vf".to_vec()));
}

fn check_checkpoint_reopen(f: &Fixture) {
    let b = f.b();
    seed(b);
    let mut batch = WriteBatch::new();
    batch.put(Column::RaftLog, "entry", "1");
    batch.delete(Column::Kv, "e");
    b.write(batch, false).unwrap();
    let cp = f.scratch("snapshots/cp1");
    b.checkpoint(&cp).unwrap();
    // Writes after the checkpoint are not in it.
    put(b, Column::Kv, b"later", b"x");

    let copy = f.open_checkpoint(&cp);
    assert_eq!(
        keys(copy.as_ref(), Column::Kv, b"", None, false),
        bkeys(&["a", "b", "c", "d"])
    );
    assert_eq!(
        copy.get(Column::Meta, b"c2").unwrap(),
        Some(b"meta".to_vec())
    );
    assert_eq!(
        copy.get(Column::RaftLog, b"entry").unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(copy.get(Column::Kv, b"later").unwrap(), None);
    // The copy is independent of the original.
    put(copy.as_ref(), Column::Kv, b"only-copy", b"y");
    assert_eq!(b.get(Column::Kv, b"only-copy").unwrap(), None);

    // The target must not exist.
    match b.checkpoint(&cp) {
        Err(BackendError::CheckpointExists(p)) => assert_eq!(p, cp),
        other => panic!("expected CheckpointExists, got {other:?}"),
    }
}

fn check_sync_writes(f: &Fixture) {
    let b = f.b();
    for i in 0..20u32 {
        let mut batch = WriteBatch::new();
        batch.put(Column::RaftLog, i.to_be_bytes(), format!("entry-{i}"));
        batch.put(Column::Meta, "last", i.to_be_bytes());
        b.write(batch, i % 2 == 0).unwrap();
    }
    b.sync().unwrap();
    assert_eq!(keys(b, Column::RaftLog, b"", None, false).len(), 20);
    assert_eq!(
        b.get(Column::Meta, b"last").unwrap(),
        Some(19u32.to_be_bytes().to_vec())
    );
}

fn check_scan_is_snapshot(f: &Fixture) {
    let b = f.b();
    seed(b);
    let mut it = b.scan(Column::Kv, b"", None, false).unwrap();
    assert_eq!(&*it.next().unwrap().unwrap().0, b"a");
    // Writing while a scan is open neither blocks nor shows up in it.
    put(b, Column::Kv, b"bb", b"new");
    let mut batch = WriteBatch::new();
    batch.delete(Column::Kv, "d");
    b.write(batch, false).unwrap();
    let rest: Vec<_> = it.map(|r| r.unwrap().0.into_vec()).collect();
    assert_eq!(rest, bkeys(&["b", "c", "d", "e"]));
    assert_eq!(
        keys(b, Column::Kv, b"", None, false),
        bkeys(&["a", "b", "bb", "c", "e"])
    );
}

fn check_shared_across_threads(f: &Fixture) {
    let b = f.b();
    std::thread::scope(|s| {
        for t in 0..4u8 {
            s.spawn(move || {
                for i in 0..100u8 {
                    let mut batch = WriteBatch::new();
                    batch.put(Column::Kv, [t, i], [i]);
                    batch.put(Column::Lease, [t, i], [t]);
                    b.write(batch, false).unwrap();
                }
            });
        }
    });
    assert_eq!(keys(b, Column::Kv, b"", None, false).len(), 400);
    assert_eq!(keys(b, Column::Lease, b"", None, true).len(), 400);
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod mem {
            $( #[test] fn $check() { super::$check(&super::mem_fixture()); } )*
        }
        mod rocks {
            $( #[test] fn $check() { super::$check(&super::rocks_fixture()); } )*
        }
        mod rocks_nowal {
            $( #[test] fn $check() { super::$check(&super::rocks_nowal_fixture()); } )*
        }
    };
}

conformance!(
    check_put_get_delete,
    check_overwrite,
    check_multi_get_order,
    check_scan_forward,
    check_scan_reverse,
    check_scan_empty_ranges,
    check_delete_range,
    check_atomic_batch_across_columns,
    check_columns_isolated,
    check_large_values,
    check_many_keys_order,
    check_size_grows,
    check_defragment_keeps_data,
    check_checkpoint_reopen,
    check_sync_writes,
    check_scan_is_snapshot,
    check_shared_across_threads,
);

// ---------------------------------------------------------------------------------
// RocksDB durability across reopen and crash.

fn write_numbered(b: &dyn Backend, range: std::ops::Range<u32>, sync: bool) {
    for i in range {
        let mut batch = WriteBatch::new();
        batch.put(Column::Kv, i.to_be_bytes(), format!("v{i}"));
        batch.put(Column::Meta, "applied", i.to_be_bytes());
        b.write(batch, sync).unwrap();
    }
}

fn assert_numbered(b: &dyn Backend, n: u32) {
    let got = keys(b, Column::Kv, b"", None, false);
    let want: Vec<Vec<u8>> = (0..n).map(|i| i.to_be_bytes().to_vec()).collect();
    assert_eq!(got, want);
    assert_eq!(
        b.get(Column::Meta, b"applied").unwrap(),
        Some((n - 1).to_be_bytes().to_vec())
    );
}

#[test]
fn rocks_reopen_after_drop_keeps_unsynced_and_synced_writes() {
    for disable_wal in [false, true] {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("db");
        {
            let b = RocksBackend::open(&path, &small_rocks_opts(disable_wal)).unwrap();
            write_numbered(&b, 0..50, false);
            write_numbered(&b, 50..60, true);
            write_numbered(&b, 60..100, false);
        }
        let b = RocksBackend::open(&path, &small_rocks_opts(disable_wal)).unwrap();
        assert_numbered(&b, 100);
        assert_eq!(b.path(), path);
    }
}

#[test]
fn rocks_open_twice_fails_while_open() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let first = RocksBackend::open(&path, &RocksOptions::default()).unwrap();
    let second = RocksBackend::open(&path, &RocksOptions::default());
    assert!(matches!(second, Err(BackendError::Rocks(_))), "{second:?}");
    drop(first);
    assert!(RocksBackend::open(&path, &RocksOptions::default()).is_ok());
}

const CRASH_DIR_ENV: &str = "OXCD_BACKEND_CRASH_DIR";
const CRASH_WRITES: u32 = 300;

/// Child side of `rocks_unsynced_writes_survive_abort`: writes without sync, then
/// aborts the process (no destructors, no RocksDB close). Ignored unless run by it.
#[test]
#[ignore = "run as a child process by rocks_unsynced_writes_survive_abort"]
fn rocks_crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR_ENV) else {
        return;
    };
    let b = RocksBackend::open(Path::new(&dir), &small_rocks_opts(false)).unwrap();
    write_numbered(&b, 0..CRASH_WRITES, false);
    std::process::abort();
}

#[test]
fn rocks_unsynced_writes_survive_abort() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "rocks_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DIR_ENV, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("crash child (pid {}) timed out", child.id());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "the child must have aborted: {status:?}");
    let b = RocksBackend::open(&path, &small_rocks_opts(false)).unwrap();
    assert_numbered(&b, CRASH_WRITES);
}

//! `RocksOptions::prime_wal_bytes`: after open, the WAL that writes land in and the next
//! one are recycled files already as large as the filler, so synced writes overwrite them
//! instead of growing them, and priming loses nothing written before.

use std::path::Path;

use oxcd_backend::{Backend, Column, RocksBackend, RocksOptions, WriteBatch};

const PRIME: usize = 4 << 20;

fn opts() -> RocksOptions {
    RocksOptions {
        block_cache_bytes: 8 << 20,
        write_buffer_bytes: PRIME,
        prime_wal_bytes: PRIME,
        ..RocksOptions::default()
    }
}

/// The WAL files (`<number>.log`) in `dir`: (number, size), by number (a file RocksDB
/// deletes meanwhile is left out).
fn wal_files(dir: &Path) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let number = name.strip_suffix(".log")?.parse().ok()?;
            Some((number, e.metadata().ok()?.len()))
        })
        .collect();
    out.sort_unstable();
    out
}

fn put(b: &RocksBackend, key: &[u8], value: &[u8]) {
    let mut batch = WriteBatch::new();
    batch.put(Column::RaftLog, key.to_vec(), value.to_vec());
    b.write(batch, true).unwrap();
}

#[test]
fn synced_writes_overwrite_a_primed_wal_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..2u8 {
        let b = RocksBackend::open(dir.path(), &opts()).unwrap();
        let (current, size) = *wal_files(dir.path()).last().unwrap();
        assert!(
            size >= PRIME as u64,
            "round {round}: the current WAL {current} holds {size} bytes, not a primed file"
        );
        for i in 0..100u32 {
            put(&b, &[round, i as u8], &[7u8; 300]);
        }
        assert_eq!(
            wal_files(dir.path()).last(),
            Some(&(current, size)),
            "round {round}: synced writes grew the WAL instead of overwriting it"
        );
        // Flushing every memtable retires the current WAL: the next one is primed too.
        b.defragment().unwrap();
        let (next, next_size) = *wal_files(dir.path()).last().unwrap();
        assert!(
            next > current && next_size >= PRIME as u64,
            "round {round}: the WAL after {current} is {next} with {next_size} bytes"
        );
        put(&b, &[round, 200], &[7u8; 300]);
        assert_eq!(wal_files(dir.path()).last(), Some(&(next, next_size)));
        drop(b);
    }
    let b = RocksBackend::open(dir.path(), &opts()).unwrap();
    for round in 0..2u8 {
        for i in (0..100u8).chain([200]) {
            assert_eq!(
                b.get(Column::RaftLog, &[round, i]).unwrap(),
                Some(vec![7u8; 300])
            );
        }
    }
}

#[test]
fn no_priming_without_a_wal_or_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let b = RocksBackend::open(
        dir.path(),
        &RocksOptions {
            write_buffer_bytes: PRIME,
            ..RocksOptions::default()
        },
    )
    .unwrap();
    assert!(wal_files(dir.path())
        .iter()
        .all(|&(_, size)| size < 1 << 20));
    drop(b);
    let dir = tempfile::tempdir().unwrap();
    let b = RocksBackend::open(
        dir.path(),
        &RocksOptions {
            disable_wal: true,
            ..opts()
        },
    )
    .unwrap();
    assert!(wal_files(dir.path())
        .iter()
        .all(|&(_, size)| size < 1 << 20));
    drop(b);
}

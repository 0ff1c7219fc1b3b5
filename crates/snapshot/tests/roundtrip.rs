//! Writes databases of every shape, reads them back, and has etcdctl (3.4.23) check them.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use oxcd_snapshot::page::{PageHeader, BRANCH_PAGE, PAGE_SIZE};
use oxcd_snapshot::{
    plan, status, write_file, write_stream, BoltReader, Bucket, DbWriter, SnapshotError,
};

type Db = BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>;

fn rev_key(main: i64, sub: i64) -> Vec<u8> {
    let mut k = main.to_be_bytes().to_vec();
    k.push(b'_');
    k.extend_from_slice(&sub.to_be_bytes());
    k
}

/// Ten thousand revisions (a three-level tree), a value larger than a page (overflow),
/// small inline buckets, an empty bucket and a bucket of exactly one page.
fn sample() -> Db {
    let mut db = Db::new();
    let mut key = BTreeMap::new();
    for i in 1..=10_000i64 {
        key.insert(
            rev_key(i, 0),
            format!("value-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes(),
        );
    }
    key.insert(rev_key(10_001, 0), vec![7u8; 3 * PAGE_SIZE + 5]);
    db.insert(b"key".to_vec(), key);
    db.insert(b"alarm".to_vec(), BTreeMap::new());
    let mut meta = BTreeMap::new();
    meta.insert(b"consistent_index".to_vec(), 42u64.to_be_bytes().to_vec());
    db.insert(b"meta".to_vec(), meta);
    let mut big = BTreeMap::new();
    for i in 0..60u32 {
        big.insert(format!("k{i:03}").into_bytes(), vec![1u8; 40]);
    }
    db.insert(b"lease".to_vec(), big);
    db
}

fn fill(db: &Db) -> impl FnMut(&mut DbWriter<'_>) -> oxcd_snapshot::Result<()> + '_ {
    move |w| {
        for (name, pairs) in db {
            w.begin_bucket(name)?;
            for (k, v) in pairs {
                w.put(k, v)?;
            }
            w.end_bucket()?;
        }
        Ok(())
    }
}

fn read_all(r: &BoltReader) -> Db {
    let mut out = Db::new();
    r.for_each_bucket(&mut |name, b| {
        let mut pairs = BTreeMap::new();
        r.for_each(&b, &mut |k, v| {
            pairs.insert(k.to_vec(), v.to_vec());
            Ok(())
        })?;
        out.insert(name.to_vec(), pairs);
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn file_round_trip_and_stream_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let db = sample();
    let path = dir.path().join("db");
    let layout = write_file(&path, &mut fill(&db)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, layout.db_size());

    let r = BoltReader::open(&path).unwrap();
    assert_eq!(read_all(&r), db);
    // The big bucket has a branch root; small ones are inline; an empty one is inline.
    match r.bucket(b"key").unwrap().unwrap() {
        Bucket::Page(p) => {
            let h = PageHeader::read(&bytes[p as usize * PAGE_SIZE..]);
            assert_eq!(h.flags, BRANCH_PAGE);
        }
        other => panic!("key bucket should be a tree, got {other:?}"),
    }
    assert!(matches!(
        r.bucket(b"meta").unwrap(),
        Some(Bucket::Inline(_))
    ));
    assert!(matches!(
        r.bucket(b"alarm").unwrap(),
        Some(Bucket::Inline(_))
    ));
    assert!(matches!(r.bucket(b"lease").unwrap(), Some(Bucket::Page(_))));
    assert_eq!(r.bucket(b"nope").unwrap(), None);

    // Two passes: the planned layout is the file's, and the stream is the same bytes.
    let planned = plan(&mut fill(&db)).unwrap();
    assert_eq!(planned, layout);
    let mut streamed = Vec::new();
    write_stream(&mut streamed, planned, &mut fill(&db)).unwrap();
    assert_eq!(streamed, bytes);

    let st = status(&r).unwrap();
    assert_eq!(st.revision, 10_001);
    assert_eq!(st.total_keys, 10_001 + 1 + 60);
    assert_eq!(st.total_size, layout.db_size());
}

#[test]
fn empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    write_file(&path, &mut |_| Ok(())).unwrap();
    let r = BoltReader::open(&path).unwrap();
    assert!(read_all(&r).is_empty());
}

#[test]
fn stream_refuses_changed_data() {
    let db = sample();
    let planned = plan(&mut fill(&db)).unwrap();
    let mut other = db.clone();
    other
        .get_mut(b"key".as_slice())
        .unwrap()
        .insert(rev_key(20_000, 0), vec![0u8; 100]);
    let mut out = Vec::new();
    let err = write_stream(&mut out, planned, &mut fill(&other)).unwrap_err();
    assert!(
        err.to_string().contains("changed between the two passes"),
        "{err}"
    );
}

#[test]
fn writer_refuses_bad_input() {
    let mut sink = Vec::new();
    let mut w = DbWriter::new(&mut sink, None).unwrap();
    assert!(w.put(b"k", b"v").is_err());
    w.begin_bucket(b"b").unwrap();
    assert!(w.begin_bucket(b"c").is_err());
    w.put(b"b", b"1").unwrap();
    assert!(w
        .put(b"a", b"2")
        .unwrap_err()
        .to_string()
        .contains("out of order"));
    assert!(w.put(b"b", b"2").is_err());
    assert!(w.put(b"", b"2").is_err());
    assert!(w.put(&vec![1u8; 40_000], b"").is_err());
    w.end_bucket().unwrap();
    assert!(w.begin_bucket(b"a").is_err());
}

fn written(dir: &Path) -> Vec<u8> {
    let path = dir.join("db");
    write_file(&path, &mut fill(&sample())).unwrap();
    std::fs::read(&path).unwrap()
}

fn open_bytes(dir: &Path, bytes: &[u8]) -> Result<Db, SnapshotError> {
    let path = dir.join("damaged");
    std::fs::write(&path, bytes).unwrap();
    let r = BoltReader::open(&path)?;
    let mut out = Db::new();
    r.for_each_bucket(&mut |name, b| {
        let mut pairs = BTreeMap::new();
        r.for_each(&b, &mut |k, v| {
            pairs.insert(k.to_vec(), v.to_vec());
            Ok(())
        })?;
        out.insert(name.to_vec(), pairs);
        Ok(())
    })?;
    Ok(out)
}

#[test]
fn damaged_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = written(dir.path());
    // Foreign and truncated files.
    assert!(matches!(
        open_bytes(dir.path(), b"hello world"),
        Err(SnapshotError::NotBolt(_))
    ));
    assert!(matches!(
        open_bytes(dir.path(), &vec![0u8; 3 * PAGE_SIZE]),
        Err(SnapshotError::NotBolt(_))
    ));
    let err = open_bytes(dir.path(), &good[..good.len() / 2]).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    // One broken meta page: the other one still opens the database.
    let mut m = good.clone();
    m[PAGE_SIZE + 40] ^= 0xff;
    assert_eq!(open_bytes(dir.path(), &m).unwrap(), sample());
    // Flip bytes all over the data pages: every outcome is Ok or a clean error.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..400 {
        let mut bad = good.clone();
        for _ in 0..8 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = 2 * PAGE_SIZE + (state as usize) % (good.len() - 2 * PAGE_SIZE);
            bad[at] ^= (state >> 32) as u8 | 1;
        }
        let _ = open_bytes(dir.path(), &bad);
    }
}

/// etcdctl 3.4.23 (`snapshot status` opens the file with bbolt and runs its consistency
/// check) accepts what the writer produced, and reports what [`status`] computes.
#[test]
fn etcdctl_status_accepts_written_file() {
    let etcdctl = std::env::var("ETCDCTL_BIN").unwrap_or_else(|_| "/usr/bin/etcdctl".into());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.db");
    write_file(&path, &mut fill(&sample())).unwrap();
    let out = Command::new(&etcdctl)
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", "-w", "json"])
        .arg(&path)
        .output()
        .expect("run etcdctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "etcdctl failed: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ours = status(&BoltReader::open(&path).unwrap()).unwrap();
    assert_eq!(stdout.trim(), ours.json().trim());
    for format in ["table", "simple"] {
        let out = Command::new(&etcdctl)
            .env("ETCDCTL_API", "3")
            .args(["snapshot", "status", "-w", format])
            .arg(&path)
            .output()
            .expect("run etcdctl");
        let want = String::from_utf8_lossy(&out.stdout).into_owned();
        let got = if format == "table" {
            ours.table()
        } else {
            ours.simple()
        };
        assert_eq!(got, want, "-w {format}");
    }
}

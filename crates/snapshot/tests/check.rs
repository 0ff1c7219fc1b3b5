//! bbolt's consistency check, against etcdctl 3.4.23's `snapshot status` (which runs it
//! first) on the same damaged files: every page of a written database is damaged in turn,
//! four ways, and both must refuse the file with the same words, or both accept it with
//! the same status.

use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use oxcd_snapshot::page::{PageHeader, FREELIST_PAGE, PAGE_HEADER_SIZE, PAGE_SIZE};
use oxcd_snapshot::{status_file, write_file, BoltReader, DbWriter};

/// A change to one page header.
type Damage = fn(&mut PageHeader);

fn rev_key(main: i64) -> Vec<u8> {
    let mut k = main.to_be_bytes().to_vec();
    k.push(b'_');
    k.extend_from_slice(&0i64.to_be_bytes());
    k
}

/// A database of a two-level `key` tree, a value with overflow pages and a small bucket.
fn written(path: &Path) -> Vec<u8> {
    write_file(path, &mut |w: &mut DbWriter<'_>| {
        w.begin_bucket(b"key")?;
        for i in 1..=1500i64 {
            w.put(&rev_key(i), format!("value-{i:05}").as_bytes())?;
        }
        w.put(&rev_key(1501), &vec![9u8; 2 * PAGE_SIZE])?;
        w.end_bucket()?;
        w.begin_bucket(b"meta")?;
        w.put(b"consistent_index", &7u64.to_be_bytes())?;
        w.end_bucket()
    })
    .expect("write");
    std::fs::read(path).expect("read")
}

/// What etcdctl prints for `snapshot status`: (exit code, stdout, stderr), or `None` when
/// it crashed or was still running after 10 s (etcdctl 3.4 panics on some damage instead
/// of reporting it, and on one here spends minutes first).
fn etcdctl_status(path: &Path) -> Option<(i32, String, String)> {
    let etcdctl = std::env::var("ETCDCTL_BIN").unwrap_or_else(|_| "/usr/bin/etcdctl".into());
    let out_dir = tempfile::tempdir().expect("tempdir");
    let (stdout, stderr) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let mut child = Command::new(&etcdctl)
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", "-w", "json"])
        .arg(path)
        .stdout(File::create(&stdout).expect("stdout file"))
        .stderr(File::create(&stderr).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("run {etcdctl}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for etcdctl") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().expect("kill etcdctl");
            child.wait().expect("reap etcdctl");
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).expect("read")).into_owned();
    let stderr = read(&stderr);
    let code = status.code()?;
    if code == 2 && stderr.contains("goroutine ") {
        return None;
    }
    Some((code, read(&stdout), stderr))
}

/// What oxcdctl prints for the same command.
fn ours(path: &Path) -> (i32, String, String) {
    match status_file(path) {
        Ok(st) => (0, st.json(), String::new()),
        Err(e) => (1, String::new(), format!("Error: {e}\n")),
    }
}

#[test]
fn written_database_passes_the_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    written(&path);
    let db = BoltReader::open(&path).expect("open");
    assert_eq!(db.check().expect("check"), Vec::<String>::new());
}

#[test]
fn findings_are_etcdctls_for_every_damaged_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = written(&dir.path().join("good.db"));
    let pages = (good.len() / PAGE_SIZE) as u64;
    let path = dir.path().join("damaged.db");
    let set_header = |bytes: &mut Vec<u8>, id: u64, f: &dyn Fn(&mut PageHeader)| {
        let at = id as usize * PAGE_SIZE;
        let mut h = PageHeader::read(&bytes[at..]);
        f(&mut h);
        h.write(&mut bytes[at..at + PAGE_HEADER_SIZE]);
    };
    let (mut compared, mut refused, mut crashed) = (0, 0, 0);
    for id in 2..pages {
        let damages: [(&str, Damage); 5] = [
            ("id ^ 0x40", |h| h.id ^= 0x40),
            ("id of page 3", |h| h.id = 3),
            ("freelist type", |h| h.flags = FREELIST_PAGE),
            ("one more overflow", |h| h.overflow += 1),
            ("a flag bit more", |h| h.flags |= 0x40),
        ];
        let mut cases: Vec<(&str, Vec<u8>)> = damages
            .iter()
            .map(|(what, damage)| {
                let mut bytes = good.clone();
                set_header(&mut bytes, id, damage);
                (*what, bytes)
            })
            .collect();
        // A bit flipped in the middle of the page: a key, a value or an element.
        for offset in [PAGE_SIZE / 2, PAGE_HEADER_SIZE + 5, PAGE_HEADER_SIZE + 9] {
            let mut bytes = good.clone();
            bytes[id as usize * PAGE_SIZE + offset] ^= 0x40;
            cases.push(("a flipped bit", bytes));
        }
        for (what, bytes) in cases {
            std::fs::write(&path, &bytes).expect("write");
            let got = ours(&path);
            match etcdctl_status(&path) {
                None => {
                    crashed += 1;
                    assert_eq!(
                        got.0, 1,
                        "page {id}, {what}: etcdctl crashed, we said {got:?}"
                    );
                }
                Some(want) => {
                    assert_eq!(got, want, "page {id}, {what}");
                    compared += 1;
                    refused += usize::from(want.0 != 0);
                }
            }
        }
    }
    // A freelist that lists a page twice, and lists a page in use.
    let meta = BoltReader::open(&dir.path().join("good.db"))
        .expect("open")
        .meta();
    let mut bytes = good.clone();
    let at = meta.freelist as usize * PAGE_SIZE;
    set_header(&mut bytes, meta.freelist, &|h| h.count = 3);
    for (i, listed) in [meta.root, 2, meta.root].iter().enumerate() {
        let e = at + PAGE_HEADER_SIZE + 8 * i;
        bytes[e..e + 8].copy_from_slice(&listed.to_le_bytes());
    }
    std::fs::write(&path, &bytes).expect("write");
    let want = etcdctl_status(&path).expect("etcdctl reports a bad freelist");
    assert_eq!(ours(&path), want, "freelist listing the root twice");
    assert!(want.2.contains(": already freed\n"), "{want:?}");
    eprintln!(
        "{pages} pages: {compared} compared, {refused} refused by both, {crashed} crashed etcdctl"
    );
    assert!(
        refused > 2 * pages as usize,
        "only {refused} of {compared} damaged files were refused ({crashed} crashed etcdctl)"
    );
}

/// Writes the test database with `damage(bytes, root page)` applied, and returns the
/// error `snapshot status` gives for it, which must come within 5 s.
fn refused_quickly(damage: impl FnOnce(&mut Vec<u8>, u64)) -> oxcd_snapshot::SnapshotError {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let mut bytes = written(&path);
    let root = BoltReader::open(&path).expect("open").meta().root;
    damage(&mut bytes, root);
    std::fs::write(&path, &bytes).expect("write");
    let started = Instant::now();
    let err = status_file(&path).expect_err("a damaged database");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    err
}

#[test]
fn a_garbage_overflow_count_is_an_error_not_a_hang() {
    let err = refused_quickly(|bytes, root| {
        let at = root as usize * PAGE_SIZE;
        let mut h = PageHeader::read(&bytes[at..]);
        h.overflow = u32::MAX;
        h.write(&mut bytes[at..at + PAGE_HEADER_SIZE]);
    });
    assert_eq!(
        err.to_string(),
        "corrupt snapshot: the pages referenced add up to far more than the database holds"
    );
}

#[test]
fn a_bucket_that_contains_itself_is_an_error_not_a_stack_overflow() {
    let err = refused_quickly(|bytes, root| {
        // The root bucket's leaf: its first element is the `key` bucket; point that
        // bucket's root back at this page.
        let page = root as usize * PAGE_SIZE;
        let h = PageHeader::read(&bytes[page..]);
        assert_eq!(
            h.flags,
            oxcd_snapshot::page::LEAF_PAGE,
            "root bucket is one leaf"
        );
        let e = page + PAGE_HEADER_SIZE;
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
        let value = e + word(e + 4) as usize + word(e + 8) as usize;
        assert_eq!(&bytes[e + word(e + 4) as usize..value], b"key");
        bytes[value..value + 8].copy_from_slice(&root.to_le_bytes());
    });
    assert!(err.to_string().starts_with("corrupt snapshot: "), "{err}");
}

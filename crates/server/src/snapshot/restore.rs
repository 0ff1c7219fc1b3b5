//! etcd's snapshot file → a new oxcd data dir, as `etcdctl snapshot restore` makes a new
//! etcd data dir: the data of the snapshot, a NEW membership from `--initial-cluster`.
//!
//! Kept: every stored revision (keys, values, create/mod revisions, versions, leases on
//! keys), the compaction marks, leases with their TTLs (and checkpointed remaining TTLs),
//! auth users, roles, permissions, the enabled flag and the auth revision, and alarms (as
//! etcd's restore keeps them). Replaced: the members, the cluster ID and the applied
//! index. Member and cluster IDs derive from the flags exactly as a fresh
//! `--initial-cluster` bootstrap derives them ([`crate::bootstrap::initial_members`],
//! [`crate::identity`]), so every member restored with the same flags agrees.
//!
//! The data dir (and the `--wal-dir`, if given) is built under a temporary sibling,
//! checked by opening the MVCC, lease, auth and alarm stores on it the way the server
//! does, and renamed into place last: a bad file leaves nothing behind. Flags, files and
//! directories are refused as etcdctl 3.4 refuses them, with its words. The result looks
//! like a member that applied the bootstrap's conf-change entries: the raft log holds them
//! (indexes `1..=N`, committed) and the applied index is `N`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use oxcd_backend::{Backend, Column, RocksBackend, WriteBatch};
use oxcd_lease::record::LeaseRecord;
use oxcd_proto::{authpb, etcdserverpb::Member, mvccpb};
use oxcd_raftlog::{RaftConfig, RaftNode, RocksLogStore};
use oxcd_snapshot::{etcd, open_snapshot_with, BoltReader, Bucket, Progress, SnapshotError};
use prost::Message;

use crate::apply::APPLIED_INDEX_KEY;
use crate::config::Config;
use crate::members::{CLUSTER_ID_KEY, LOCAL_ID_KEY};

/// Bytes staged per write batch while copying.
const BATCH_BYTES: usize = 4 << 20;

/// What to restore, with etcdctl's flags.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// The snapshot file.
    pub snapshot: PathBuf,
    /// `--data-dir` (default `<name>.etcd`); must not exist.
    pub data_dir: Option<PathBuf>,
    /// `--wal-dir`: where the raft log goes (default `<data-dir>/member/wal`); must not
    /// exist. The member then starts with `oxcd --data-dir D --wal-dir W`.
    pub wal_dir: Option<PathBuf>,
    /// `--name` (default `default`).
    pub name: String,
    /// `--initial-cluster` (default `default=http://localhost:2380`).
    pub initial_cluster: String,
    /// `--initial-cluster-token` (default `etcd-cluster`).
    pub initial_cluster_token: String,
    /// `--initial-advertise-peer-urls` (default `http://localhost:2380`), comma-separated.
    pub initial_advertise_peer_urls: String,
    /// `--skip-hash-check`: accept a file without (or with a wrong) SHA-256 trailer.
    pub skip_hash_check: bool,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        RestoreOptions {
            snapshot: PathBuf::new(),
            data_dir: None,
            wal_dir: None,
            name: "default".into(),
            initial_cluster: "default=http://localhost:2380".into(),
            initial_cluster_token: "etcd-cluster".into(),
            initial_advertise_peer_urls: "http://localhost:2380".into(),
            skip_hash_check: false,
        }
    }
}

/// What a restore made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The new data dir.
    pub data_dir: PathBuf,
    /// The new cluster ID.
    pub cluster_id: u64,
    /// This member's ID.
    pub member_id: u64,
    /// Every member of the new cluster.
    pub members: Vec<Member>,
    /// The store revision (the last revision in the snapshot).
    pub revision: i64,
}

/// Why a restore failed. Nothing was left behind.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The flags are wrong or the data dir is in use.
    #[error("{0}")]
    Options(String),
    /// The file is not a usable snapshot.
    #[error("{0}")]
    Snapshot(#[from] SnapshotError),
    /// Writing the new data dir failed.
    #[error("{0}")]
    Storage(String),
}

fn storage<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> RestoreError {
    move |e| RestoreError::Storage(format!("{what}: {e}"))
}

fn corrupt(msg: impl Into<String>) -> RestoreError {
    RestoreError::Snapshot(SnapshotError::Corrupt(msg.into()))
}

/// Removes the temporary dir unless the restore got to the end.
struct TempDir(Option<PathBuf>);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// The member configuration the flags describe, through the server's own flag parser.
fn config(opts: &RestoreOptions) -> Result<Config, RestoreError> {
    let mut args = vec![
        format!("--name={}", opts.name),
        format!("--initial-cluster={}", opts.initial_cluster),
        format!("--initial-cluster-token={}", opts.initial_cluster_token),
        format!(
            "--initial-advertise-peer-urls={}",
            opts.initial_advertise_peer_urls
        ),
    ];
    if let Some(d) = &opts.data_dir {
        args.push(format!("--data-dir={}", d.display()));
    }
    if let Some(w) = &opts.wal_dir {
        args.push(format!("--wal-dir={}", w.display()));
    }
    Config::parse(args, |_| None).map_err(|e| RestoreError::Options(e.to_string()))
}

/// Restores `opts.snapshot` into a new data dir. See the module docs.
pub fn restore(opts: &RestoreOptions) -> Result<Restored, RestoreError> {
    restore_with_progress(opts, &mut ())
}

/// A temporary sibling of `dir` (`<parent>/.<name>.restore-<pid>`), emptied, and `dir`'s
/// parent (created).
fn staging(dir: &Path) -> Result<(PathBuf, PathBuf), RestoreError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(storage("create the data dir's parent"))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "data".into());
    let tmp = parent.join(format!(".{name}.restore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    Ok((tmp, parent))
}

/// [`restore`], reporting to `progress`: `started` once the flags and directories passed
/// their checks, then stage `"verifying"` (the trailer's hash, bytes of the file) and
/// `"restoring"` (bytes of the database's pages copied).
pub fn restore_with_progress(
    opts: &RestoreOptions,
    progress: &mut dyn Progress,
) -> Result<Restored, RestoreError> {
    let cfg = config(opts)?;
    let mut members = crate::bootstrap::initial_members(&cfg);
    for m in &mut members {
        m.client_ur_ls.clear();
    }
    let me = members
        .iter()
        .find(|m| m.name == cfg.name)
        .cloned()
        .ok_or_else(|| {
            RestoreError::Options(format!(
                "couldn't find local name {:?} in the initial cluster configuration",
                cfg.name
            ))
        })?;
    let mut mine = me.peer_ur_ls.clone();
    let mut advertised = cfg.initial_advertise_peer_urls.clone();
    mine.sort();
    advertised.sort();
    if mine != advertised {
        return Err(RestoreError::Options(format!(
            "--initial-cluster has {}={} but missing from --initial-advertise-peer-urls={} (resolved urls: {:?} != {:?})",
            cfg.name,
            mine.join(","),
            advertised.join(","),
            advertised.join(","),
            mine.join(",")
        )));
    }
    let ids: Vec<u64> = members.iter().map(|m| m.id).collect();
    let cluster_id = crate::identity::cluster_id(&ids);

    // etcd 3.4's checks and words: an existing directory, even an empty one, is refused.
    let data_dir = cfg.data_dir.clone();
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    if exists(&data_dir) {
        return Err(RestoreError::Options(format!(
            "data-dir {:?} exists",
            data_dir.display().to_string()
        )));
    }
    let wal_dir = cfg.wal_dir.clone();
    if let Some(w) = wal_dir.as_deref().filter(|w| exists(w)) {
        return Err(RestoreError::Options(format!(
            "wal-dir {:?} exists",
            w.display().to_string()
        )));
    }

    progress.started();
    let db = open_snapshot_with(&opts.snapshot, opts.skip_hash_check, progress)?;
    let buckets = etcd_buckets(&db)?;

    let (tmp_path, parent) = staging(&data_dir)?;
    let mut tmp = TempDir(Some(tmp_path.clone()));
    let member_dir = tmp_path.join("member");
    std::fs::create_dir_all(member_dir.join("snap")).map_err(storage("create data dir"))?;
    // The raft log: inside the data dir, or in its own staging sibling of --wal-dir.
    let mut wal_tmp = TempDir(None);
    let wal_path = match &wal_dir {
        None => member_dir.join("wal"),
        Some(w) => {
            let (p, _) = staging(w)?;
            wal_tmp.0 = Some(p.clone());
            p
        }
    };

    let revision = {
        let backend: Arc<dyn Backend> = Arc::new(
            RocksBackend::open(
                &member_dir.join("db"),
                &crate::bootstrap::state_db_options(),
            )
            .map_err(storage("create db"))?,
        );
        progress.stage("restoring", db.size());
        let revision = copy_state(&db, &buckets, backend.as_ref(), progress)?;
        progress.position(db.size());
        let mut batch = WriteBatch::new();
        batch.put(
            Column::Meta,
            APPLIED_INDEX_KEY,
            (members.len() as u64).to_be_bytes(),
        );
        batch.put(Column::Meta, CLUSTER_ID_KEY, cluster_id.to_be_bytes());
        batch.put(Column::Meta, LOCAL_ID_KEY, me.id.to_be_bytes());
        crate::storage_format::record(&mut batch);
        for m in &members {
            batch.put(Column::Members, m.id.to_be_bytes(), m.encode_to_vec());
        }
        backend.write(batch, true).map_err(storage("write db"))?;
        check_stores(&backend)?;
        backend.sync().map_err(storage("sync db"))?;
        revision
    };

    {
        let wal: Arc<dyn Backend> = Arc::new(
            // Not primed: the member that starts on it primes its own WAL.
            RocksBackend::open(
                &wal_path,
                &oxcd_backend::RocksOptions {
                    prime_wal_bytes: 0,
                    ..crate::bootstrap::raft_db_options()
                },
            )
            .map_err(storage("create wal"))?,
        );
        let mut log = RocksLogStore::open(wal.clone()).map_err(storage("open wal"))?;
        let raft_cfg = RaftConfig {
            id: me.id,
            voters: ids.clone(),
            voter_contexts: members.iter().map(|m| (m.id, m.encode_to_vec())).collect(),
            ..RaftConfig::default()
        };
        RaftNode::bootstrap_log(&raft_cfg, &mut log).map_err(storage("write wal"))?;
        wal.sync().map_err(storage("sync wal"))?;
    }

    std::fs::rename(&tmp_path, &data_dir).map_err(storage("move the data dir into place"))?;
    tmp.0 = None;
    if let (Some(w), Some(staged)) = (&wal_dir, wal_tmp.0.take()) {
        if let Err(e) = std::fs::rename(&staged, w) {
            let _ = std::fs::remove_dir_all(&staged);
            let _ = std::fs::remove_dir_all(&data_dir);
            return Err(storage("move the wal dir into place")(e));
        }
        if let Some(d) = w.parent().and_then(|p| std::fs::File::open(p).ok()) {
            let _ = d.sync_all();
        }
    }
    if let Ok(d) = std::fs::File::open(&parent) {
        let _ = d.sync_all();
    }
    Ok(Restored {
        data_dir,
        cluster_id,
        member_id: me.id,
        members,
        revision,
    })
}

/// The root buckets by name, after checking that this is an etcd snapshot.
fn etcd_buckets(db: &BoltReader) -> Result<Vec<(Vec<u8>, Bucket)>, RestoreError> {
    let mut out = Vec::new();
    db.for_each_bucket(&mut |name, b| {
        out.push((name.to_vec(), b));
        Ok(())
    })?;
    for needed in [etcd::KEY, etcd::META] {
        if !out.iter().any(|(n, _)| n.as_slice() == needed) {
            return Err(SnapshotError::NotEtcd(format!(
                "it has no {:?} bucket",
                String::from_utf8_lossy(needed)
            ))
            .into());
        }
    }
    Ok(out)
}

/// Stages puts and writes them every [`BATCH_BYTES`], reporting the snapshot's bytes read
/// so far.
struct Writer<'a> {
    backend: &'a dyn Backend,
    batch: WriteBatch,
    bytes: usize,
    db: &'a BoltReader,
    progress: &'a mut dyn Progress,
}

impl Writer<'_> {
    fn put(
        &mut self,
        col: Column,
        k: impl Into<Vec<u8>>,
        v: impl Into<Vec<u8>>,
    ) -> Result<(), SnapshotError> {
        let (k, v) = (k.into(), v.into());
        let n = k.len() + v.len();
        self.batch.put(col, k, v);
        self.staged(n)
    }

    /// Counts `n` bytes just staged into `batch`; writes the batch when it is big enough.
    fn staged(&mut self, n: usize) -> Result<(), SnapshotError> {
        self.bytes += n;
        if self.bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SnapshotError> {
        let batch = std::mem::take(&mut self.batch);
        self.bytes = 0;
        self.progress.position(self.db.bytes_read());
        self.backend
            .write(batch, false)
            .map_err(|e| SnapshotError::io("write db", std::io::Error::other(e.to_string())))
    }
}

fn utf8(what: &str, b: &[u8]) -> Result<String, SnapshotError> {
    String::from_utf8(b.to_vec())
        .map_err(|_| SnapshotError::Corrupt(format!("{what} name is not UTF-8")))
}

/// Copies the snapshot's data buckets into oxcd's columns; returns the last revision.
fn copy_state(
    db: &BoltReader,
    buckets: &[(Vec<u8>, Bucket)],
    backend: &dyn Backend,
    progress: &mut dyn Progress,
) -> Result<i64, RestoreError> {
    let mut w = Writer {
        backend,
        batch: WriteBatch::new(),
        bytes: 0,
        db,
        progress,
    };
    let mut revision = 0;
    for (name, bucket) in buckets {
        match name.as_slice() {
            etcd::KEY => {
                db.for_each(bucket, &mut |k, v| {
                    let (main, _, _) = etcd::decode_revision(k)?;
                    mvccpb::KeyValue::decode(v).map_err(|e| {
                        SnapshotError::Corrupt(format!("revision {main}: bad KeyValue: {e}"))
                    })?;
                    revision = main;
                    w.put(Column::Kv, k, v)
                })?;
            }
            etcd::META => {
                db.for_each(bucket, &mut |k, v| {
                    let ours = match k {
                        etcd::FINISHED_COMPACT_REV => oxcd_mvcc::compaction::FINISHED_COMPACT_KEY,
                        etcd::SCHEDULED_COMPACT_REV => oxcd_mvcc::compaction::SCHEDULED_COMPACT_KEY,
                        // consistent_index and term belong to the old cluster's raft log.
                        _ => return Ok(()),
                    };
                    if v.len() != 17 {
                        return Err(SnapshotError::Corrupt(format!(
                            "{} has {} bytes, want 17",
                            String::from_utf8_lossy(k),
                            v.len()
                        )));
                    }
                    etcd::decode_revision(v)?;
                    w.put(Column::Meta, ours, v)
                })?;
            }
            etcd::LEASE => {
                db.for_each(bucket, &mut |k, v| {
                    let l = etcd::decode_lease(k, v)?;
                    let rec = LeaseRecord {
                        id: l.id,
                        ttl: l.ttl,
                        remaining_ttl: l.remaining_ttl,
                    };
                    w.put(Column::Lease, oxcd_lease::record::key(l.id), rec.encode())
                })?;
            }
            etcd::AUTH => {
                db.for_each(bucket, &mut |k, v| {
                    match k {
                        etcd::AUTH_ENABLED => {
                            oxcd_auth::record::put_enabled(&mut w.batch, v == [1])
                        }
                        etcd::AUTH_REVISION => oxcd_auth::record::put_revision(
                            &mut w.batch,
                            etcd::decode_u64("authRevision", v)?,
                        ),
                        _ => return Ok(()),
                    }
                    w.staged(k.len() + v.len())
                })?;
            }
            etcd::AUTH_USERS => {
                db.for_each(bucket, &mut |k, v| {
                    let name = utf8("user", k)?;
                    let rec = authpb::User::decode(v)
                        .map_err(|e| SnapshotError::Corrupt(format!("user {name:?}: {e}")))?;
                    oxcd_auth::record::put_user_record(&mut w.batch, &name, &rec);
                    w.staged(k.len() + v.len())
                })?;
            }
            etcd::AUTH_ROLES => {
                db.for_each(bucket, &mut |k, v| {
                    let name = utf8("role", k)?;
                    let rec = authpb::Role::decode(v)
                        .map_err(|e| SnapshotError::Corrupt(format!("role {name:?}: {e}")))?;
                    oxcd_auth::record::put_role_record(&mut w.batch, &name, &rec);
                    w.staged(k.len() + v.len())
                })?;
            }
            etcd::ALARM => {
                db.for_each(bucket, &mut |k, _| {
                    let (member, alarm) = etcd::decode_alarm_key(k)?;
                    w.put(
                        Column::Alarm,
                        crate::apply::alarm::key(member, alarm),
                        Vec::new(),
                    )
                })?;
            }
            // members, members_removed, cluster: the new cluster's, not the snapshot's.
            _ => {}
        }
    }
    w.flush()?;
    Ok(revision)
}

/// Opens every store on the new db as the server will, so a snapshot whose records
/// decode but do not make sense (a version 0, a lease of TTL -5, a user with a role
/// that is not UTF-8) is refused now and not at the first start.
fn check_stores(backend: &Arc<dyn Backend>) -> Result<(), RestoreError> {
    let kv = oxcd_mvcc::KvStore::open(backend.clone())
        .map_err(|e| corrupt(format!("the key history does not open: {e}")))?;
    drop(kv);
    oxcd_lease::Lessor::open(backend.clone(), oxcd_lease::LessorConfig::default())
        .map_err(|e| corrupt(format!("the leases do not open: {e}")))?;
    oxcd_auth::AuthStore::open(backend.as_ref(), oxcd_auth::DEFAULT_BCRYPT_COST)
        .map_err(|e| corrupt(format!("the auth data does not open: {e}")))?;
    crate::apply::alarm::AlarmStore::load(backend.as_ref())
        .map_err(|e| corrupt(format!("the alarms do not open: {e}")))?;
    Ok(())
}

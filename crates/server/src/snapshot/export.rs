//! oxcd's state → etcd's buckets: what `Maintenance.Snapshot` streams.
//!
//! [`fill`] reads every state column of a backend (a checkpoint, so the columns agree
//! with each other and the data does not move between the writer's two passes) and adds
//! etcd's ten buckets to a [`DbWriter`] in name order, each in key order. Only the `key`,
//! `lease` and auth buckets can be large; they are streamed straight from a RocksDB scan
//! (their keys sort the same in both stores). The small ones whose keys sort differently
//! in etcd (alarms, members: protobuf keys, hex IDs) are sorted in memory.
//!
//! What does not go out: oxcd-only `Meta` keys (`cluster_id`, `local_member_id`, the
//! restore marker) and the raft log. The `cluster` bucket says `3.4.0`: the layout is
//! etcd 3.4's, which 3.4 and 3.5 both open.

use oxcd_backend::{Backend, BackendError, Column};
use oxcd_lease::record::LeaseRecord;
use oxcd_proto::etcdserverpb::Member;
use oxcd_snapshot::etcd::{self, LeasePb, MemberJson};
use oxcd_snapshot::{DbWriter, SnapshotError};
use prost::Message;

use crate::apply::APPLIED_INDEX_KEY;
use crate::members::REMOVED_PREFIX;

/// The version the `cluster` bucket records.
pub const EXPORTED_CLUSTER_VERSION: &str = "3.4.0";

fn backend_err(what: &str) -> impl Fn(BackendError) -> SnapshotError + '_ {
    move |e| SnapshotError::io(format!("read {what}"), std::io::Error::other(e.to_string()))
}

fn corrupt(what: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt(what.into())
}

/// Maps one stored (key, value) to etcd's value.
type MapFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<Vec<u8>, SnapshotError> + 'a;

/// Streams `col` (from `prefix`, with the prefix cut off the keys) into the open bucket,
/// mapping each value with `map`.
fn copy_column(
    backend: &dyn Backend,
    col: Column,
    prefix: &[u8],
    w: &mut DbWriter<'_>,
    map: &mut MapFn<'_>,
) -> Result<(), SnapshotError> {
    let mut end = prefix.to_vec();
    let end = match end.last_mut() {
        Some(last) => {
            *last += 1;
            Some(end)
        }
        None => None,
    };
    for item in backend
        .scan(col, prefix, end.as_deref(), false)
        .map_err(backend_err(col.name()))?
    {
        let (k, v) = item.map_err(backend_err(col.name()))?;
        let key = &k[prefix.len()..];
        let value = map(key, &v)?;
        w.put(key, &value)?;
    }
    Ok(())
}

fn sorted_bucket(
    w: &mut DbWriter<'_>,
    name: &[u8],
    mut pairs: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<(), SnapshotError> {
    pairs.sort();
    w.begin_bucket(name)?;
    for (k, v) in pairs {
        w.put(&k, &v)?;
    }
    w.end_bucket()
}

fn member_json(m: &Member) -> Result<Vec<u8>, SnapshotError> {
    serde_json::to_vec(&MemberJson {
        id: m.id,
        peer_urls: m.peer_ur_ls.clone(),
        is_learner: m.is_learner,
        name: m.name.clone(),
        client_urls: m.client_ur_ls.clone(),
    })
    .map_err(|e| corrupt(format!("member {:x}: {e}", m.id)))
}

/// Adds etcd's buckets, filled from `backend`'s state columns, to `w`.
pub fn fill(backend: &dyn Backend, w: &mut DbWriter<'_>) -> Result<(), SnapshotError> {
    // alarm
    let mut alarms = Vec::new();
    for item in backend
        .scan(Column::Alarm, &[], None, false)
        .map_err(backend_err("alarms"))?
    {
        let (k, _) = item.map_err(backend_err("alarms"))?;
        if k.len() != 12 {
            return Err(corrupt(format!("alarm key of {} bytes", k.len())));
        }
        let member = u64::from_be_bytes(k[..8].try_into().unwrap_or_default());
        let alarm = i32::from_be_bytes(k[8..].try_into().unwrap_or_default());
        alarms.push((etcd::alarm_key(member, alarm), Vec::new()));
    }
    sorted_bucket(w, etcd::ALARM, alarms)?;

    // auth: authEnabled < authRevision. etcd always has a revision (1 when new).
    use oxcd_auth::record as auth;
    w.begin_bucket(etcd::AUTH)?;
    if let Some(v) = backend
        .get(Column::Auth, auth::ENABLED)
        .map_err(backend_err("auth"))?
    {
        w.put(etcd::AUTH_ENABLED, &[u8::from(v.first() == Some(&1))])?;
    }
    let revision = backend
        .get(Column::Auth, auth::REVISION)
        .map_err(backend_err("auth"))?
        .unwrap_or_else(|| 1u64.to_be_bytes().to_vec());
    etcd::decode_u64("auth revision", &revision)?;
    w.put(etcd::AUTH_REVISION, &revision)?;
    w.end_bucket()?;

    // authRoles, authUsers: the records are etcd's already.
    for (bucket, prefix) in [
        (etcd::AUTH_ROLES, auth::ROLE),
        (etcd::AUTH_USERS, auth::USER),
    ] {
        w.begin_bucket(bucket)?;
        copy_column(backend, Column::Auth, prefix.as_bytes(), w, &mut |_, v| {
            Ok(v.to_vec())
        })?;
        w.end_bucket()?;
    }

    // cluster
    w.begin_bucket(etcd::CLUSTER)?;
    w.put(etcd::CLUSTER_VERSION, EXPORTED_CLUSTER_VERSION.as_bytes())?;
    w.end_bucket()?;

    // key: the same revision keys and mvccpb.KeyValue values.
    w.begin_bucket(etcd::KEY)?;
    copy_column(backend, Column::Kv, &[], w, &mut |_, v| Ok(v.to_vec()))?;
    w.end_bucket()?;

    // lease: the same 8-byte keys; values become leasepb.Lease.
    w.begin_bucket(etcd::LEASE)?;
    copy_column(backend, Column::Lease, &[], w, &mut |k, v| {
        let rec = LeaseRecord::decode(k, v).map_err(|e| corrupt(e.to_string()))?;
        Ok(LeasePb {
            id: rec.id,
            ttl: rec.ttl,
            remaining_ttl: rec.remaining_ttl,
        }
        .encode_to_vec())
    })?;
    w.end_bucket()?;

    // members, members_removed: hex IDs.
    let mut members = Vec::new();
    let mut removed = Vec::new();
    for item in backend
        .scan(Column::Members, &[], None, false)
        .map_err(backend_err("members"))?
    {
        let (k, v) = item.map_err(backend_err("members"))?;
        match k.len() {
            8 => {
                let m = Member::decode(&*v).map_err(|e| corrupt(format!("member: {e}")))?;
                members.push((etcd::member_key(m.id).into_bytes(), member_json(&m)?));
            }
            9 if k[0] == REMOVED_PREFIX => {
                let id = u64::from_be_bytes(k[1..].try_into().unwrap_or_default());
                removed.push((etcd::member_key(id).into_bytes(), etcd::REMOVED.to_vec()));
            }
            _ => return Err(corrupt("membership key")),
        }
    }
    sorted_bucket(w, etcd::MEMBERS, members)?;
    sorted_bucket(w, etcd::MEMBERS_REMOVED, removed)?;

    // meta: consistent_index < finishedCompactRev < scheduledCompactRev.
    w.begin_bucket(etcd::META)?;
    for (ours, theirs) in [
        (APPLIED_INDEX_KEY, etcd::CONSISTENT_INDEX),
        (
            oxcd_mvcc::compaction::FINISHED_COMPACT_KEY,
            etcd::FINISHED_COMPACT_REV,
        ),
        (
            oxcd_mvcc::compaction::SCHEDULED_COMPACT_KEY,
            etcd::SCHEDULED_COMPACT_REV,
        ),
    ] {
        if let Some(v) = backend
            .get(Column::Meta, ours)
            .map_err(backend_err("meta"))?
        {
            w.put(theirs, &v)?;
        }
    }
    w.end_bucket()
}

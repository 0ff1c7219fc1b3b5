//! etcd's buckets and how etcd encodes each record in them (3.4, readable by 3.5).
//!
//! | bucket | key | value |
//! | --- | --- | --- |
//! | `alarm` | an encoded `etcdserverpb.AlarmMember` | empty |
//! | `auth` | `authEnabled`, `authRevision` | one byte 0/1; u64 big-endian |
//! | `authRoles` | role name | an encoded `authpb.Role` |
//! | `authUsers` | user name | an encoded `authpb.User` |
//! | `cluster` | `clusterVersion` | the version string, e.g. `3.4.0` |
//! | `key` | revision: main (8, BE) `_` sub (8, BE) [`t` for a tombstone] | an encoded `mvccpb.KeyValue` |
//! | `lease` | lease ID, 8 bytes big-endian | an encoded `leasepb.Lease` ([`LeasePb`]) |
//! | `members` | member ID in lower-case hex | JSON ([`MemberJson`]) |
//! | `members_removed` | member ID in lower-case hex | `removed` |
//! | `meta` | `consistent_index` (u64 BE), 3.5's `term` (u64 BE), `finishedCompactRev` and `scheduledCompactRev` (17-byte revisions) | |

use prost::Message;
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Result, SnapshotError};

/// Bucket `alarm`.
pub const ALARM: &[u8] = b"alarm";
/// Bucket `auth`.
pub const AUTH: &[u8] = b"auth";
/// Bucket `authRoles`.
pub const AUTH_ROLES: &[u8] = b"authRoles";
/// Bucket `authUsers`.
pub const AUTH_USERS: &[u8] = b"authUsers";
/// Bucket `cluster`.
pub const CLUSTER: &[u8] = b"cluster";
/// Bucket `key` (the MVCC history).
pub const KEY: &[u8] = b"key";
/// Bucket `lease`.
pub const LEASE: &[u8] = b"lease";
/// Bucket `members`.
pub const MEMBERS: &[u8] = b"members";
/// Bucket `members_removed`.
pub const MEMBERS_REMOVED: &[u8] = b"members_removed";
/// Bucket `meta`.
pub const META: &[u8] = b"meta";

/// Every bucket etcd 3.4 creates, in the order they sort (and so are written).
pub const BUCKETS: [&[u8]; 10] = [
    ALARM,
    AUTH,
    AUTH_ROLES,
    AUTH_USERS,
    CLUSTER,
    KEY,
    LEASE,
    MEMBERS,
    MEMBERS_REMOVED,
    META,
];

/// `meta`: the applied raft index.
pub const CONSISTENT_INDEX: &[u8] = b"consistent_index";
/// `meta`: the term of the applied index (etcd 3.5; 3.4 ignores it).
pub const TERM: &[u8] = b"term";
/// `meta`: the last finished compaction (a 17-byte revision).
pub const FINISHED_COMPACT_REV: &[u8] = b"finishedCompactRev";
/// `meta`: the last scheduled compaction (a 17-byte revision).
pub const SCHEDULED_COMPACT_REV: &[u8] = b"scheduledCompactRev";
/// `auth`: whether auth is enabled.
pub const AUTH_ENABLED: &[u8] = b"authEnabled";
/// `auth`: the auth revision.
pub const AUTH_REVISION: &[u8] = b"authRevision";
/// `cluster`: the cluster version.
pub const CLUSTER_VERSION: &[u8] = b"clusterVersion";
/// `members_removed`: the value of every entry.
pub const REMOVED: &[u8] = b"removed";

/// etcd's `leasepb.Lease` (`lease/leasepb/lease.proto`).
#[derive(Clone, PartialEq, Message)]
pub struct LeasePb {
    /// The lease ID.
    #[prost(int64, tag = "1")]
    pub id: i64,
    /// The granted TTL in seconds.
    #[prost(int64, tag = "2")]
    pub ttl: i64,
    /// The checkpointed remaining TTL in seconds (0: none).
    #[prost(int64, tag = "3")]
    pub remaining_ttl: i64,
}

/// The key of lease `id` in the `lease` bucket.
pub fn lease_key(id: i64) -> [u8; 8] {
    (id as u64).to_be_bytes()
}

/// Decodes a `lease` bucket entry, checking the key against the record.
pub fn decode_lease(key: &[u8], value: &[u8]) -> Result<LeasePb> {
    let lease =
        LeasePb::decode(value).map_err(|e| SnapshotError::Corrupt(format!("lease record: {e}")))?;
    if key != lease_key(lease.id) || lease.id == 0 {
        return Err(SnapshotError::Corrupt(format!(
            "lease key {key:02x?} holds lease {:x}",
            lease.id
        )));
    }
    Ok(lease)
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A `members` bucket value: etcd's `membership.Member` as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberJson {
    /// The member ID.
    pub id: u64,
    /// Peer URLs.
    #[serde(rename = "peerURLs", default, deserialize_with = "null_as_empty")]
    pub peer_urls: Vec<String>,
    /// Whether the member is a learner.
    #[serde(rename = "isLearner", default, skip_serializing_if = "is_false")]
    pub is_learner: bool,
    /// The member's name (empty until it published it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Client URLs (empty until the member published them).
    #[serde(
        rename = "clientURLs",
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub client_urls: Vec<String>,
}

/// The key of member `id` in `members` and `members_removed`.
pub fn member_key(id: u64) -> String {
    format!("{id:x}")
}

/// Parses a `members`/`members_removed` key.
pub fn parse_member_key(key: &[u8]) -> Result<u64> {
    std::str::from_utf8(key)
        .ok()
        .and_then(|s| u64::from_str_radix(s, 16).ok())
        .ok_or_else(|| SnapshotError::Corrupt(format!("member key {key:02x?} is not a hex id")))
}

/// The key of an alarm in the `alarm` bucket.
pub fn alarm_key(member_id: u64, alarm: i32) -> Vec<u8> {
    oxcd_proto::etcdserverpb::AlarmMember { member_id, alarm }.encode_to_vec()
}

/// Decodes an `alarm` bucket key into (member ID, alarm type).
pub fn decode_alarm_key(key: &[u8]) -> Result<(u64, i32)> {
    let m = oxcd_proto::etcdserverpb::AlarmMember::decode(key)
        .map_err(|e| SnapshotError::Corrupt(format!("alarm key: {e}")))?;
    Ok((m.member_id, m.alarm))
}

/// Decodes a big-endian u64 record (`consistent_index`, `term`, `authRevision`).
pub fn decode_u64(what: &str, value: &[u8]) -> Result<u64> {
    let b: [u8; 8] = value
        .try_into()
        .map_err(|_| SnapshotError::Corrupt(format!("{what} has {} bytes, want 8", value.len())))?;
    Ok(u64::from_be_bytes(b))
}

/// The main revision of a `key` bucket key as etcdctl's `snapshot status` reads it: the
/// first 8 bytes of any key of at least 17 (etcdctl crashes on a shorter one).
pub fn main_revision(key: &[u8]) -> Result<i64> {
    match key.get(..8) {
        Some(main) if key.len() >= 17 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(main);
            Ok(i64::from_be_bytes(b))
        }
        _ => Err(SnapshotError::Corrupt(format!(
            "a key of {} bytes in the key bucket",
            key.len()
        ))),
    }
}

/// Decodes the main revision of a `key` bucket key (or a compaction mark): 17 bytes, or
/// 18 with the tombstone mark `t`, with `_` between main and sub.
pub fn decode_revision(key: &[u8]) -> Result<(i64, i64, bool)> {
    let tombstone = match key.len() {
        17 => false,
        18 if key[17] == b't' => true,
        _ => {
            return Err(SnapshotError::Corrupt(format!(
                "bad revision key {key:02x?}"
            )))
        }
    };
    if key[8] != b'_' {
        return Err(SnapshotError::Corrupt(format!(
            "bad revision key {key:02x?}"
        )));
    }
    let mut main = [0u8; 8];
    let mut sub = [0u8; 8];
    main.copy_from_slice(&key[..8]);
    sub.copy_from_slice(&key[9..17]);
    Ok((i64::from_be_bytes(main), i64::from_be_bytes(sub), tombstone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_sorted() {
        assert!(BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn member_json_matches_etcd() {
        let m = MemberJson {
            id: 0x8e9e05c52164694d,
            peer_urls: vec!["http://localhost:2380".into()],
            is_learner: false,
            name: "default".into(),
            client_urls: vec!["http://localhost:2379".into()],
        };
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(
            s,
            r#"{"id":10276657743932975437,"peerURLs":["http://localhost:2380"],"name":"default","clientURLs":["http://localhost:2379"]}"#
        );
        let back: MemberJson = serde_json::from_str(&s).unwrap();
        assert_eq!(back, m);
        let bare: MemberJson =
            serde_json::from_str(r#"{"id":1,"peerURLs":null,"isLearner":true}"#).unwrap();
        assert!(bare.peer_urls.is_empty() && bare.is_learner);
        assert_eq!(member_key(m.id), "8e9e05c52164694d");
        assert_eq!(parse_member_key(b"8e9e05c52164694d").unwrap(), m.id);
        assert!(parse_member_key(b"xyz").is_err());
    }

    #[test]
    fn lease_and_alarm_round_trip() {
        let l = LeasePb {
            id: 0x694d7d0ab1ec2a0b,
            ttl: 600,
            remaining_ttl: 0,
        };
        let v = l.encode_to_vec();
        assert_eq!(decode_lease(&lease_key(l.id), &v).unwrap(), l);
        assert!(decode_lease(&lease_key(5), &v).is_err());
        assert!(decode_lease(&lease_key(l.id), &[0xff, 0xff]).is_err());
        let k = alarm_key(7, 1);
        assert_eq!(decode_alarm_key(&k).unwrap(), (7, 1));
    }

    #[test]
    fn revisions() {
        let mut k = vec![0, 0, 0, 0, 0, 0, 0, 5, b'_', 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(decode_revision(&k).unwrap(), (5, 1, false));
        k.push(b't');
        assert_eq!(decode_revision(&k).unwrap(), (5, 1, true));
        k[8] = b'x';
        assert!(decode_revision(&k).is_err());
        assert!(decode_revision(b"short").is_err());
        assert!(decode_u64("x", &[1, 2]).is_err());
        assert_eq!(decode_u64("x", &7u64.to_be_bytes()).unwrap(), 7);
    }
}

//! Rebuilding the index from `Column::Kv` when the store opens.
//!
//! Every stored value is an encoded `mvccpb.KeyValue`. Rebuilding needs only the key, the
//! create revision, the version and the lease, so a small hand-written protobuf reader
//! pulls those fields out without copying the value.

use oxcd_backend::{Backend, Column};

use crate::error::{MvccError, Result};
use crate::key_index::KeyIndexTree;
use crate::revision::{Revision, MAX_REVISION};

/// The fields of a stored `KeyValue` that the index needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KvHeader<'a> {
    pub(crate) key: &'a [u8],
    pub(crate) create_revision: i64,
    pub(crate) version: i64,
    pub(crate) lease: i64,
}

fn corrupt(what: &str) -> MvccError {
    MvccError::Corrupt(format!("bad stored KeyValue: {what}"))
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or_else(|| corrupt("truncated varint"))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(corrupt("varint too long"))
}

/// Reads the key, create revision, version and lease of an encoded `KeyValue`.
pub(crate) fn decode_header(buf: &[u8]) -> Result<KvHeader<'_>> {
    let mut out = KvHeader {
        key: &[],
        create_revision: 0,
        version: 0,
        lease: 0,
    };
    let mut pos = 0;
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        let (field, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => {
                let v = varint(buf, &mut pos)? as i64;
                match field {
                    2 => out.create_revision = v,
                    4 => out.version = v,
                    6 => out.lease = v,
                    _ => {}
                }
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).map_err(|_| corrupt("length"))?;
                let end = pos.checked_add(len).filter(|&e| e <= buf.len());
                let end = end.ok_or_else(|| corrupt("truncated field"))?;
                if field == 1 {
                    out.key = &buf[pos..end];
                }
                pos = end;
            }
            1 => pos += 8,
            5 => pos += 4,
            _ => return Err(corrupt("unknown wire type")),
        }
    }
    if pos > buf.len() {
        return Err(corrupt("truncated fixed field"));
    }
    Ok(out)
}

/// The bounds every stored revision meets (what [`crate::WriteTxn`] writes): a main
/// revision in `1..MAX_REVISION`, a non-negative sub revision, and for a put a version in
/// `1..MAX_REVISION` and a create revision in `1..=main`. Anything else is corrupt data,
/// which would otherwise overflow revision or version arithmetic once the store serves.
fn check_stored(rev: Revision, tombstone: bool, head: &KvHeader<'_>) -> Result<()> {
    let bad = |what: &str| {
        Err(MvccError::Corrupt(format!(
            "stored revision {}_{}: {what}",
            rev.main, rev.sub
        )))
    };
    if !(1..MAX_REVISION).contains(&rev.main) || rev.sub < 0 {
        return bad("revision out of range");
    }
    if tombstone {
        return Ok(());
    }
    if !(1..MAX_REVISION).contains(&head.version) {
        return bad(&format!("version {} out of range", head.version));
    }
    if !(1..=rev.main).contains(&head.create_revision) {
        return bad(&format!("create revision {}", head.create_revision));
    }
    Ok(())
}

/// What a scan of `Column::Kv` rebuilds.
pub(crate) struct Rebuilt {
    pub(crate) index: KeyIndexTree,
    /// The main revision of the last stored change (0 if none).
    pub(crate) last_revision: i64,
    /// Live keys that carry a lease, and the lease, in key order (read off the index).
    pub(crate) leases: Vec<(Vec<u8>, i64)>,
}

/// Scans every stored revision in order and rebuilds the index (etcd `restore`).
pub(crate) fn rebuild(backend: &dyn Backend) -> Result<Rebuilt> {
    let mut index = KeyIndexTree::new();
    let mut last_revision = 0;
    for item in backend.scan(Column::Kv, &[], None, false)? {
        let (k, v) = item?;
        let (rev, tombstone) = Revision::decode_key(&k)?;
        let head = decode_header(&v)?;
        check_stored(rev, tombstone, &head)?;
        last_revision = rev.main;
        if tombstone {
            // A tombstone of a key we never saw: its puts were compacted away.
            index.tombstone(head.key, rev);
            continue;
        }
        index.restore_put(
            head.key,
            rev,
            head.create_revision,
            head.version,
            head.lease,
        );
    }
    let leases = index.leased();
    Ok(Rebuilt {
        index,
        last_revision,
        leases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_proto::mvccpb::KeyValue;
    use prost::Message;

    #[test]
    fn header_matches_prost() {
        let kv = KeyValue {
            key: b"some/key".to_vec().into(),
            create_revision: 300,
            mod_revision: 1 << 40,
            version: 7,
            value: vec![9; 1000].into(),
            lease: -5,
        };
        let buf = kv.encode_to_vec();
        let h = decode_header(&buf).unwrap();
        assert_eq!(
            h,
            KvHeader {
                key: b"some/key",
                create_revision: 300,
                version: 7,
                lease: -5
            }
        );
        assert!(decode_header(&buf[..buf.len() - 1]).is_err());
        assert!(decode_header(&[0x0a, 0x05, b'a']).is_err());
        assert!(decode_header(&[0xff; 11]).is_err());
        let empty = decode_header(&[]).unwrap();
        assert_eq!(empty.key, b"");
    }

    fn stored(records: &[(Column, Vec<u8>, Vec<u8>)]) -> std::sync::Arc<dyn Backend> {
        let backend = std::sync::Arc::new(oxcd_backend::MemBackend::new());
        let mut batch = oxcd_backend::WriteBatch::new();
        for (col, k, v) in records {
            batch.put(*col, k.clone(), v.clone());
        }
        backend.write(batch, false).unwrap();
        backend
    }

    fn put(main: i64, create: i64, version: i64) -> (Column, Vec<u8>, Vec<u8>) {
        let kv = KeyValue {
            key: b"k".to_vec().into(),
            create_revision: create,
            mod_revision: main,
            version,
            ..Default::default()
        };
        (
            Column::Kv,
            Revision::new(main, 0).to_key(false),
            kv.encode_to_vec(),
        )
    }

    fn refused(records: &[(Column, Vec<u8>, Vec<u8>)]) -> bool {
        matches!(
            crate::KvStore::open(stored(records)),
            Err(MvccError::Corrupt(_))
        )
    }

    /// Regression (oxcd-fuzz state-decode): a stored revision of i64::MAX opened fine and
    /// the next write overflowed computing its revision (`current + 1`); a stored version
    /// of i64::MAX overflowed the next put's version the same way.
    #[test]
    fn out_of_range_revisions_and_versions_are_corrupt() {
        assert!(refused(&[put(i64::MAX, 1, 1)]));
        assert!(refused(&[put(MAX_REVISION, 1, 1)]));
        assert!(refused(&[put(-3, 1, 1)]));
        assert!(refused(&[put(0, 0, 1)]));
        assert!(refused(&[put(5, 1, i64::MAX)]));
        assert!(refused(&[put(5, 1, 0)]));
        assert!(refused(&[put(5, 6, 1)]));
        assert!(refused(&[put(5, 0, 1)]));
        let mark = Revision::new(i64::MAX, 0).to_bytes().to_vec();
        assert!(refused(&[(
            Column::Meta,
            crate::compaction::FINISHED_COMPACT_KEY.to_vec(),
            mark
        )]));
        // In range: opens, and the next write takes the next revision.
        let kv = crate::KvStore::open(stored(&[put(7, 3, 2)])).unwrap();
        let mut txn = kv.write();
        assert_eq!(txn.revision(), 8);
        assert_eq!(txn.put(b"k", b"v", 0).map(|p| p.version), Some(2));
    }
}

//! The persisted form of a lease in [`oxcd_backend::Column::Lease`].
//!
//! Key: the lease id as 8 big-endian bytes (of its `u64` bit pattern).
//! Value (25 bytes, integers big-endian): format version `1` (`u8`), id (`i64`), granted
//! TTL in seconds (`i64`), checkpointed remaining TTL in seconds (`i64`, 0 = none).
//! Attached keys are not persisted: the server re-attaches them from the MVCC store.

use crate::LeaseError;

const VERSION: u8 = 1;
const VALUE_LEN: usize = 1 + 8 * 3;

/// One persisted lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRecord {
    /// The lease ID (never 0).
    pub id: i64,
    /// The granted TTL in seconds.
    pub ttl: i64,
    /// The checkpointed remaining TTL in seconds (0: none).
    pub remaining_ttl: i64,
}

/// The backend key of lease `id`.
pub fn key(id: i64) -> [u8; 8] {
    (id as u64).to_be_bytes()
}

impl LeaseRecord {
    /// The record's backend value.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(VALUE_LEN);
        out.push(VERSION);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.ttl.to_be_bytes());
        out.extend_from_slice(&self.remaining_ttl.to_be_bytes());
        out
    }

    /// Decodes a record and checks it against its backend key.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<LeaseRecord, LeaseError> {
        let key: [u8; 8] = key.try_into().map_err(|_| {
            LeaseError::Corrupt(format!("lease key has {} bytes, want 8", key.len()))
        })?;
        let key_id = u64::from_be_bytes(key) as i64;
        if value.len() != VALUE_LEN || value[0] != VERSION {
            return Err(LeaseError::Corrupt(format!(
                "lease {key_id:#x}: record of {} bytes, version {:?}",
                value.len(),
                value.first()
            )));
        }
        let field = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&value[1 + 8 * i..9 + 8 * i]);
            i64::from_be_bytes(b)
        };
        let rec = LeaseRecord {
            id: field(0),
            ttl: field(1),
            remaining_ttl: field(2),
        };
        if rec.id != key_id || rec.id == 0 {
            return Err(LeaseError::Corrupt(format!(
                "lease key {key_id:#x} holds a record for lease {:#x}",
                rec.id
            )));
        }
        Ok(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejects_damage() {
        let rec = LeaseRecord {
            id: -5,
            ttl: 9_000_000_000,
            remaining_ttl: 42,
        };
        let v = rec.encode();
        assert_eq!(v.len(), 25);
        assert_eq!(LeaseRecord::decode(&key(-5), &v).unwrap(), rec);
        assert!(matches!(
            LeaseRecord::decode(&key(6), &v),
            Err(LeaseError::Corrupt(_))
        ));
        assert!(matches!(
            LeaseRecord::decode(&key(-5), &v[..24]),
            Err(LeaseError::Corrupt(_))
        ));
        assert!(matches!(
            LeaseRecord::decode(&[1, 2], &v),
            Err(LeaseError::Corrupt(_))
        ));
        let mut bad = v.clone();
        bad[0] = 9;
        assert!(matches!(
            LeaseRecord::decode(&key(-5), &bad),
            Err(LeaseError::Corrupt(_))
        ));
    }

    #[test]
    fn keys_sort_by_id_for_positive_ids() {
        assert!(key(1) < key(2));
        assert!(key(255) < key(256));
    }
}

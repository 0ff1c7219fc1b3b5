//! [`Revision`] and its on-disk encoding.
//!
//! A revision key in `Column::Kv` is 17 bytes: the 8-byte big-endian `main`, the byte
//! `b'_'`, and the 8-byte big-endian `sub`. A delete (tombstone) appends one more byte,
//! `b't'`. Big-endian encoding makes byte order equal revision order, so a scan of the
//! column walks the history in revision order.

use crate::error::{MvccError, Result};

/// Stored revisions must lie below this (2^62). No store gets there (10^9 writes a
/// second for 146 years), and below it revision arithmetic (`current + 1`, a version
/// count + 1) cannot overflow; [`crate::KvStore::open`] refuses anything at or above it
/// as corrupt.
pub const MAX_REVISION: i64 = 1 << 62;

/// Length of an encoded revision without the tombstone marker.
pub const REVISION_KEY_LEN: usize = 17;
/// Length of an encoded tombstone revision (the revision plus `b't'`).
pub const TOMBSTONE_KEY_LEN: usize = 18;
const SEPARATOR: u8 = b'_';
const TOMBSTONE_MARK: u8 = b't';

/// A point in the store's history: `main` is bumped once per write transaction, `sub`
/// numbers the changes inside it from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Revision {
    /// The store revision (one per write transaction).
    pub main: i64,
    /// The index of the change inside its transaction.
    pub sub: i64,
}

impl Revision {
    /// A revision from its parts.
    pub const fn new(main: i64, sub: i64) -> Self {
        Revision { main, sub }
    }

    /// The 17-byte encoding of this revision (no tombstone marker).
    pub fn to_bytes(self) -> [u8; REVISION_KEY_LEN] {
        let mut out = [0u8; REVISION_KEY_LEN];
        out[..8].copy_from_slice(&self.main.to_be_bytes());
        out[8] = SEPARATOR;
        out[9..].copy_from_slice(&self.sub.to_be_bytes());
        out
    }

    /// The backend key of this revision; with `tombstone`, the 18-byte delete marker form.
    pub fn to_key(self, tombstone: bool) -> Vec<u8> {
        let mut key = Vec::with_capacity(TOMBSTONE_KEY_LEN);
        key.extend_from_slice(&self.to_bytes());
        if tombstone {
            key.push(TOMBSTONE_MARK);
        }
        key
    }

    /// Decodes a backend key into the revision and whether it marks a tombstone.
    pub fn decode_key(bytes: &[u8]) -> Result<(Revision, bool)> {
        let tombstone = match bytes.len() {
            REVISION_KEY_LEN => false,
            TOMBSTONE_KEY_LEN if bytes[REVISION_KEY_LEN] == TOMBSTONE_MARK => true,
            _ => return Err(bad_key(bytes)),
        };
        if bytes[8] != SEPARATOR {
            return Err(bad_key(bytes));
        }
        let mut main = [0u8; 8];
        let mut sub = [0u8; 8];
        main.copy_from_slice(&bytes[..8]);
        sub.copy_from_slice(&bytes[9..REVISION_KEY_LEN]);
        Ok((
            Revision::new(i64::from_be_bytes(main), i64::from_be_bytes(sub)),
            tombstone,
        ))
    }
}

fn bad_key(bytes: &[u8]) -> MvccError {
    MvccError::Corrupt(format!("bad revision key {bytes:02x?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() {
        let a = Revision::new(5, 0);
        let b = Revision::new(5, 1);
        let c = Revision::new(256, 0);
        assert!(a < b && b < c);
        assert!(a.to_bytes() < b.to_bytes() && b.to_bytes() < c.to_bytes());
        assert_eq!(Revision::decode_key(&a.to_key(false)).unwrap(), (a, false));
        assert_eq!(Revision::decode_key(&c.to_key(true)).unwrap(), (c, true));
        assert_eq!(a.to_key(false).len(), 17);
        assert_eq!(
            &a.to_key(true)[..],
            &[0, 0, 0, 0, 0, 0, 0, 5, b'_', 0, 0, 0, 0, 0, 0, 0, 0, b't']
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(Revision::decode_key(b"").is_err());
        assert!(Revision::decode_key(&[0u8; 16]).is_err());
        let mut k = Revision::new(1, 2).to_key(false);
        k[8] = b'x';
        assert!(Revision::decode_key(&k).is_err());
        let mut k = Revision::new(1, 2).to_key(true);
        k[17] = b'q';
        assert!(matches!(
            Revision::decode_key(&k),
            Err(MvccError::Corrupt(_))
        ));
    }
}

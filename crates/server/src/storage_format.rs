//! The data directory's storage format number: which layout of columns and encodings the
//! data was written in, so that a member never runs on a data dir a newer oxcd wrote.
//!
//! The number is one `Meta` key of the state DB ([`FORMAT_KEY`], a big-endian `u64`),
//! written in the SAME batch as the member's identity when the data dir is created
//! ([`record`]; `oxcd snapshot restore` too), so a data dir has both or neither: no
//! separate file to fsync and rename, and no window in which a created data dir lacks it.
//! It is a member-local key: a snapshot from the leader does not replace it.
//!
//! [`check`] runs at every start, before anything else reads the stores:
//! - a number above [`current`]: refused, naming the path and both numbers;
//! - a lower number, or none on a data dir that has an identity (written before the
//!   number existed, the same layout as format 1): accepted, and the current number is
//!   written (an upgrade);
//! - none and no identity: a new data dir, recorded with the identity.
//!
//! # Failpoint
//! `storage-format` (`return(<n>)`, builds with `failpoints` only) makes this binary
//! claim format `<n>`: the tests use it to leave a data dir "written by a newer oxcd".

use std::path::Path;

use oxcd_backend::{Backend, Column, WriteBatch};

use crate::members::LOCAL_ID_KEY;

/// The `Meta` key of the format number.
pub const FORMAT_KEY: &[u8] = b"storage_format";

/// The format this build writes and reads. Raise it (and teach [`check`] the upgrade)
/// when the layout of a column or the encoding of a record changes.
pub const CURRENT_FORMAT: u64 = 1;

/// This binary's format: [`CURRENT_FORMAT`], unless the `storage-format` failpoint says
/// otherwise.
pub fn current() -> u64 {
    fail::fail_point!("storage-format", |n| n
        .and_then(|n| n.parse().ok())
        .unwrap_or(CURRENT_FORMAT));
    CURRENT_FORMAT
}

/// Adds the current format number to the batch that creates a data dir.
pub fn record(batch: &mut WriteBatch) {
    batch.put(Column::Meta, FORMAT_KEY, current().to_be_bytes());
}

/// Checks the format of the state DB in `path` (see the module docs); upgrades an older
/// or missing number on an existing data dir. The error names `path` and both numbers.
pub fn check(backend: &dyn Backend, path: &Path) -> Result<(), String> {
    let read = |key| {
        backend
            .get(Column::Meta, key)
            .map_err(|e| format!("read the storage format of {}: {e}", path.display()))
    };
    let ours = current();
    let stored = match read(FORMAT_KEY)? {
        Some(v) => Some(u64::from_be_bytes(v.as_slice().try_into().map_err(
            |_| {
                format!(
                    "the storage format number of {} is corrupt ({} bytes)",
                    path.display(),
                    v.len()
                )
            },
        )?)),
        None => None,
    };
    match stored {
        Some(found) if found > ours => Err(format!(
            "data dir {} was written by storage format {found}, newer than this oxcd's format {ours}: run a newer oxcd on it",
            path.display()
        )),
        Some(found) if found == ours => Ok(()),
        None if read(LOCAL_ID_KEY)?.is_none() => Ok(()),
        found => {
            let mut batch = WriteBatch::new();
            record(&mut batch);
            backend
                .write(batch, true)
                .map_err(|e| format!("upgrade the storage format of {}: {e}", path.display()))?;
            tracing::info!(
                path = %path.display(),
                from = found.unwrap_or(0),
                to = ours,
                "upgraded the data dir's storage format"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxcd_backend::MemBackend;

    fn stored(b: &dyn Backend) -> Option<u64> {
        b.get(Column::Meta, FORMAT_KEY)
            .unwrap()
            .map(|v| u64::from_be_bytes(v.try_into().unwrap()))
    }

    fn put(b: &dyn Backend, key: &[u8], value: &[u8]) {
        let mut batch = WriteBatch::new();
        batch.put(Column::Meta, key, value);
        b.write(batch, true).unwrap();
    }

    #[test]
    fn a_new_data_dir_is_accepted_and_left_for_the_identity_batch() {
        let b = MemBackend::new();
        check(&b, Path::new("/d")).unwrap();
        assert_eq!(stored(&b), None);
        let mut batch = WriteBatch::new();
        record(&mut batch);
        b.write(batch, true).unwrap();
        assert_eq!(stored(&b), Some(CURRENT_FORMAT));
        check(&b, Path::new("/d")).unwrap();
    }

    #[test]
    fn an_existing_data_dir_without_a_number_or_an_older_one_is_upgraded() {
        let b = MemBackend::new();
        put(&b, LOCAL_ID_KEY, &7u64.to_be_bytes());
        check(&b, Path::new("/d")).unwrap();
        assert_eq!(stored(&b), Some(CURRENT_FORMAT));
        put(&b, FORMAT_KEY, &0u64.to_be_bytes());
        check(&b, Path::new("/d")).unwrap();
        assert_eq!(stored(&b), Some(CURRENT_FORMAT));
    }

    #[test]
    fn a_newer_or_corrupt_number_is_refused_naming_the_path_and_both_numbers() {
        let b = MemBackend::new();
        put(&b, LOCAL_ID_KEY, &7u64.to_be_bytes());
        put(&b, FORMAT_KEY, &(CURRENT_FORMAT + 1).to_be_bytes());
        let e = check(&b, Path::new("/some/db")).unwrap_err();
        assert!(e.contains("/some/db"), "{e}");
        assert!(e.contains(&format!("format {}", CURRENT_FORMAT + 1)), "{e}");
        assert!(e.contains(&format!("format {CURRENT_FORMAT}")), "{e}");
        assert_eq!(stored(&b), Some(CURRENT_FORMAT + 1), "left alone");
        put(&b, FORMAT_KEY, b"xyz");
        let e = check(&b, Path::new("/some/db")).unwrap_err();
        assert!(e.contains("corrupt"), "{e}");
    }
}

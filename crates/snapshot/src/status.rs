//! [`Status`]: what `etcdctl snapshot status` reports, computed the same way, and its
//! `simple`, `fields`, `table` and `json` renderings.
//!
//! The hash is CRC-32C over, for each bucket in order, its name and then each key and
//! value; the revision is the main revision of the last key in `key`; total keys counts
//! the entries of every bucket; total size is the database's pages times page size.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Result, SnapshotError};
use crate::etcd;
use crate::page::{bbolt_meta_check, BBOLT_INVALID, PAGE_SIZE};
use crate::reader::BoltReader;
use crate::trailer::inspect;

/// `etcdctl snapshot status` of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// CRC-32C of every bucket name, key and value.
    pub hash: u32,
    /// The main revision of the last key in `key` (0 if empty).
    pub revision: i64,
    /// Entries in all buckets.
    pub total_keys: u64,
    /// Bytes of the database.
    pub total_size: u64,
}

/// Computes the status of an open database.
pub fn status(db: &BoltReader) -> Result<Status> {
    let mut crc = 0u32;
    let mut revision = 0i64;
    let mut total = 0u64;
    db.for_each_bucket(&mut |name, bucket| {
        crc = crc32c::crc32c_append(crc, name);
        let is_key = name == etcd::KEY;
        total += db.for_each(&bucket, &mut |k, v| {
            crc = crc32c::crc32c_append(crc, k);
            crc = crc32c::crc32c_append(crc, v);
            if is_key {
                revision = etcd::main_revision(k)?;
            }
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(Status {
        hash: crc,
        revision,
        total_keys: total,
        total_size: db.size(),
    })
}

/// `etcdctl snapshot status FILE`: the status of a snapshot file (with or without its
/// trailer, which is not checked, as etcdctl does not). A file bbolt itself would not open
/// is refused with the text etcdctl prints (`stat x.db: no such file or directory`,
/// `invalid database`, `file size too small`, `version mismatch`, `checksum error`), and
/// so is one that fails bbolt's consistency check ([`BoltReader::check`]); a
/// database that opens but is damaged inside (where etcdctl 3.4 may crash) with this
/// crate's own description.
pub fn status_file(path: &Path) -> Result<Status> {
    let shown = path.display();
    let meta =
        std::fs::metadata(path).map_err(|e| SnapshotError::io(format!("stat {shown}"), e))?;
    let file = File::open(path).map_err(|e| SnapshotError::io(format!("open {shown}"), e))?;
    if meta.is_dir() {
        return Err(SnapshotError::io(
            format!("open {shown}"),
            std::io::Error::from_raw_os_error(21), // EISDIR
        ));
    }
    let len = meta.len();
    if len == 0 {
        // bbolt initialises an empty file, which fails on a read-only handle.
        return Err(SnapshotError::io(
            format!("write {shown}"),
            std::io::Error::from_raw_os_error(9), // EBADF
        ));
    }
    // bbolt takes the page size from a valid first meta page, else the OS's, and needs
    // two pages; the database is refused only when both meta pages are bad.
    let mut first = vec![0u8; PAGE_SIZE];
    if len < PAGE_SIZE as u64 {
        return Err(SnapshotError::Bbolt(BBOLT_INVALID));
    }
    file.read_exact_at(&mut first, 0)
        .map_err(|e| SnapshotError::io(format!("read {shown}"), e))?;
    let meta0 = bbolt_meta_check(&first);
    let page_size = match meta0 {
        Ok(()) => crate::page::u32_at(&first, crate::page::PAGE_HEADER_SIZE + 8) as u64,
        Err(_) => PAGE_SIZE as u64,
    };
    if len < 2 * page_size {
        return Err(SnapshotError::Bbolt("file size too small"));
    }
    let mut second = vec![0u8; crate::page::PAGE_HEADER_SIZE + 64];
    file.read_exact_at(&mut second, page_size)
        .map_err(|e| SnapshotError::io(format!("read {shown}"), e))?;
    if let (Err(e), Err(_)) = (meta0, bbolt_meta_check(&second)) {
        return Err(SnapshotError::Bbolt(e));
    }
    let parts = inspect(&file)?;
    let db = BoltReader::from_file(file, parts.db_len)?;
    let findings = db.check()?;
    if !findings.is_empty() {
        return Err(SnapshotError::Integrity(findings));
    }
    status(&db.read_as_stored())
}

/// Bytes in SI units the way etcdctl prints them (go-humanize's `Bytes`).
pub fn humanize_bytes(n: u64) -> String {
    if n < 10 {
        return format!("{n} B");
    }
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let e = ((n as f64).ln() / 1000f64.ln()).floor();
    let suffix = SIZES[(e as usize).min(SIZES.len() - 1)];
    let val = ((n as f64) / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 {
        format!("{val:.1} {suffix}")
    } else {
        format!("{val:.0} {suffix}")
    }
}

impl Status {
    fn cells(&self) -> [String; 4] {
        [
            format!("{:x}", self.hash),
            self.revision.to_string(),
            self.total_keys.to_string(),
            humanize_bytes(self.total_size),
        ]
    }

    /// `-w simple`: `hash, revision, total keys, total size`.
    pub fn simple(&self) -> String {
        let c = self.cells();
        format!("{}, {}, {}, {}\n", c[0], c[1], c[2], c[3])
    }

    /// `-w json`.
    pub fn json(&self) -> String {
        format!(
            "{{\"hash\":{},\"revision\":{},\"totalKey\":{},\"totalSize\":{}}}\n",
            self.hash, self.revision, self.total_keys, self.total_size
        )
    }

    /// `-w fields`.
    pub fn fields(&self) -> String {
        format!(
            "\"Hash\" : {}\n\"Revision\" : {}\n\"Keys\" : {}\n\"Size\" : {}\n",
            self.hash, self.revision, self.total_keys, self.total_size
        )
    }

    /// `-w table`: etcdctl's bordered table, headers centred and cells right-aligned.
    pub fn table(&self) -> String {
        let headers = ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"];
        let cells = self.cells();
        let widths: Vec<usize> = headers
            .iter()
            .zip(&cells)
            .map(|(h, c)| h.len().max(c.len()))
            .collect();
        let border: String = widths
            .iter()
            .map(|w| format!("+{}", "-".repeat(w + 2)))
            .collect::<String>()
            + "+\n";
        let mut out = border.clone();
        for (h, w) in headers.iter().zip(&widths) {
            let gap = w - h.len();
            let left = gap / 2;
            out += &format!("| {}{}{} ", " ".repeat(left), h, " ".repeat(gap - left));
        }
        out += "|\n";
        out += &border;
        for (c, w) in cells.iter().zip(&widths) {
            out += &format!("| {c:>w$} ");
        }
        out += "|\n";
        out += &border;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_like_go() {
        assert_eq!(humanize_bytes(0), "0 B");
        assert_eq!(humanize_bytes(9), "9 B");
        assert_eq!(humanize_bytes(20480), "20 kB");
        assert_eq!(humanize_bytes(24576), "25 kB");
        assert_eq!(humanize_bytes(2_101_248), "2.1 MB");
        assert_eq!(humanize_bytes(4096), "4.1 kB");
    }

    #[test]
    fn renderings() {
        let s = Status {
            hash: 0xfe01cf57,
            revision: 10,
            total_keys: 7,
            total_size: 24576,
        };
        assert_eq!(s.simple(), "fe01cf57, 10, 7, 25 kB\n");
        assert_eq!(
            s.fields(),
            "\"Hash\" : 4261531479\n\"Revision\" : 10\n\"Keys\" : 7\n\"Size\" : 24576\n"
        );
        assert_eq!(
            s.json(),
            "{\"hash\":4261531479,\"revision\":10,\"totalKey\":7,\"totalSize\":24576}\n"
        );
        let t = s.table();
        assert!(t.starts_with("+----------+----------+------------+------------+\n"));
        assert!(t.contains("|   HASH   | REVISION | TOTAL KEYS | TOTAL SIZE |\n"));
        assert!(
            t.contains("| fe01cf57 |       10 |          7 | 25 kB      |\n")
                || t.contains("| fe01cf57 |       10 |          7 |      25 kB |\n")
        );
    }
}

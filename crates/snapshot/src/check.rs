//! [`BoltReader::check`]: bbolt's consistency check (`Tx.Check`), which `etcdctl snapshot
//! status` runs before it reads a single key, with bbolt's findings word for word.
//!
//! The check follows pages the way bbolt does, trusting each page's own header: a page
//! is reached through its parent's element, then judged by the id, flags and overflow its
//! header claims. In order, it reports:
//! 1. `page N: already freed`, for an id listed twice in the freelist;
//! 2. for every bucket stored in pages (inline buckets are skipped), every page of its
//!    tree: `page N: out of bounds: HWM` when the header's id is past the high-water
//!    mark, `page N: multiple references` for each page (overflow included) already
//!    reached, then `page N: reachable freed` or `page N: invalid type: T`; then the
//!    bucket's sub-buckets, in key order;
//! 3. `page N: unreachable unfreed`, for each page below the high-water mark that is
//!    neither reached (meta pages and the freelist count as reached) nor free.
//!
//! Where bbolt itself would crash (a page past the end of the file, a freelist page that
//! is not one, a tree that loops), this returns a [`SnapshotError::Corrupt`] instead.

use std::collections::HashSet;
use std::os::unix::fs::FileExt;

use crate::error::{Result, SnapshotError};
use crate::page::{
    u32_at, u64_at, PageHeader, BRANCH_PAGE, BUCKET_LEAF_FLAG, ELEMENT_SIZE, FREELIST_PAGE,
    LEAF_PAGE, META_PAGE, NO_FREELIST, PAGE_HEADER_SIZE,
};
use crate::reader::BoltReader;

/// Branch levels followed before a tree is called a loop.
const MAX_DEPTH: usize = 64;
/// Overflow pages one page may claim before the check gives up on it: bbolt marks each
/// one reached, one map entry each, so a garbage count (up to 2^32) would take minutes and
/// gigabytes there; a real one (a 2 GiB value is 2^19 pages) stays far below.
const MAX_OVERFLOW: u64 = 1 << 20;

fn corrupt(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt(msg.into())
}

/// bbolt's name for a page's type (`page.typ`).
fn type_name(flags: u16) -> String {
    if flags & BRANCH_PAGE != 0 {
        "branch".into()
    } else if flags & LEAF_PAGE != 0 {
        "leaf".into()
    } else if flags & META_PAGE != 0 {
        "meta".into()
    } else if flags & FREELIST_PAGE != 0 {
        "freelist".into()
    } else {
        format!("unknown<{flags:02x}>")
    }
}

/// Pages seen so far, and the findings.
struct Walk {
    reachable: HashSet<u64>,
    freed: HashSet<u64>,
    findings: Vec<String>,
}

impl BoltReader {
    /// Runs bbolt's `Tx.Check` and returns its findings, in bbolt's order and words (empty
    /// for a consistent database). `Err` where bbolt would crash instead of reporting.
    pub fn check(&self) -> Result<Vec<String>> {
        let meta = self.meta();
        let mut findings = Vec::new();
        let freed = if meta.freelist == NO_FREELIST {
            // bbolt rebuilds the freelist from the pages the buckets do not reach, and
            // panics if that walk finds anything wrong.
            let mut walk = Walk {
                reachable: HashSet::new(),
                freed: HashSet::new(),
                findings: Vec::new(),
            };
            self.check_bucket(meta.root, &mut walk)?;
            if let Some(first) = walk.findings.first() {
                return Err(corrupt(format!(
                    "cannot rebuild the freelist of a database without one: {first}"
                )));
            }
            (2..meta.pgid)
                .filter(|id| !walk.reachable.contains(id))
                .collect()
        } else {
            let mut ids = self.freelist_ids(meta.freelist)?;
            ids.sort_unstable();
            let mut freed = HashSet::with_capacity(ids.len());
            for id in ids {
                if !freed.insert(id) {
                    findings.push(format!("page {id}: already freed"));
                }
            }
            freed
        };
        let mut walk = Walk {
            reachable: HashSet::from([0, 1]),
            freed,
            findings,
        };
        if meta.freelist != NO_FREELIST {
            let overflow = self.header(meta.freelist)?.overflow;
            for i in 0..=u64::from(overflow) {
                walk.reachable.insert(meta.freelist.wrapping_add(i));
            }
        }
        self.check_bucket(meta.root, &mut walk)?;
        for id in 0..meta.pgid {
            if !walk.reachable.contains(&id) && !walk.freed.contains(&id) {
                walk.findings
                    .push(format!("page {id}: unreachable unfreed"));
            }
        }
        Ok(walk.findings)
    }

    /// `len` bytes at `at`, which must lie inside the database.
    fn bytes_at(&self, at: u64, len: usize) -> Result<Vec<u8>> {
        let end = at
            .checked_add(len as u64)
            .filter(|end| *end <= self.db_len())
            .ok_or_else(|| corrupt(format!("a page points past the end of the file ({at})")))?;
        let mut buf = vec![0u8; (end - at) as usize];
        self.file()
            .read_exact_at(&mut buf, at)
            .map_err(|e| SnapshotError::io(format!("read at {at}"), e))?;
        Ok(buf)
    }

    fn page_at(&self, id: u64) -> Result<u64> {
        id.checked_mul(self.page_size() as u64)
            .ok_or_else(|| corrupt(format!("page {id} is past the end of the file")))
    }

    /// The header of the page stored at `id` (whatever id the header itself claims).
    fn header(&self, id: u64) -> Result<PageHeader> {
        Ok(PageHeader::read(
            &self.bytes_at(self.page_at(id)?, PAGE_HEADER_SIZE)?,
        ))
    }

    /// The `count` elements of the page stored at `id`.
    fn elements(&self, id: u64, count: u16) -> Result<Vec<u8>> {
        self.bytes_at(
            self.page_at(id)? + PAGE_HEADER_SIZE as u64,
            usize::from(count) * ELEMENT_SIZE,
        )
    }

    /// The page ids the freelist page at `id` lists, as bbolt reads them.
    fn freelist_ids(&self, id: u64) -> Result<Vec<u64>> {
        let h = self.header(id)?;
        if h.flags & FREELIST_PAGE == 0 {
            return Err(corrupt(format!(
                "invalid freelist page: {}, page type is {}",
                h.id,
                type_name(h.flags)
            )));
        }
        let base = self.page_at(id)? + PAGE_HEADER_SIZE as u64;
        let (skip, count) = if h.count == 0xFFFF {
            (1, u64_at(&self.bytes_at(base, 8)?, 0))
        } else {
            (0, u64::from(h.count))
        };
        let len = count
            .checked_mul(8)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| corrupt(format!("freelist of {count} pages")))?;
        let raw = self.bytes_at(base + skip * 8, len)?;
        Ok(raw.chunks_exact(8).map(|c| u64_at(c, 0)).collect())
    }

    /// bbolt's `checkBucket` of the bucket whose tree starts at `root`.
    fn check_bucket(&self, root: u64, walk: &mut Walk) -> Result<()> {
        if root == 0 {
            return Ok(()); // An inline bucket.
        }
        self.check_pages(root, 0, walk)?;
        let mut children = Vec::new();
        self.sub_buckets(root, 0, &mut children)?;
        for child in children {
            self.check_bucket(child, walk)?;
        }
        Ok(())
    }

    /// Judges the page stored at `id` and, if its header says branch, its children.
    fn check_pages(&self, id: u64, depth: usize, walk: &mut Walk) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(corrupt(format!("page {id}: tree deeper than {MAX_DEPTH}")));
        }
        let h = self.header(id)?;
        let hwm = self.meta().pgid;
        if h.id > hwm {
            walk.findings.push(format!(
                "page {}: out of bounds: {}",
                h.id as i64, hwm as i64
            ));
        }
        if u64::from(h.overflow) > MAX_OVERFLOW {
            return Err(corrupt(format!(
                "page {}: {} overflow pages",
                h.id, h.overflow
            )));
        }
        for i in 0..=u64::from(h.overflow) {
            let covered = h.id.wrapping_add(i);
            if !walk.reachable.insert(covered) {
                walk.findings
                    .push(format!("page {}: multiple references", covered as i64));
            }
        }
        if walk.freed.contains(&h.id) {
            walk.findings
                .push(format!("page {}: reachable freed", h.id as i64));
        } else if h.flags & (BRANCH_PAGE | LEAF_PAGE) == 0 {
            walk.findings.push(format!(
                "page {}: invalid type: {}",
                h.id as i64,
                type_name(h.flags)
            ));
        }
        if h.flags & BRANCH_PAGE != 0 {
            let elements = self.elements(id, h.count)?;
            for e in elements.chunks_exact(ELEMENT_SIZE) {
                self.check_pages(u64_at(e, 8), depth + 1, walk)?;
            }
        }
        Ok(())
    }

    /// The roots of the page-stored sub-buckets under the page at `id`, in key order (as
    /// bbolt's cursor finds them: a page is a leaf if its header says so, else a branch).
    fn sub_buckets(&self, id: u64, depth: usize, out: &mut Vec<u64>) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(corrupt(format!("page {id}: tree deeper than {MAX_DEPTH}")));
        }
        let h = self.header(id)?;
        let elements = self.elements(id, h.count)?;
        let start = self.page_at(id)? + PAGE_HEADER_SIZE as u64;
        for (i, e) in elements.chunks_exact(ELEMENT_SIZE).enumerate() {
            if h.flags & LEAF_PAGE == 0 {
                self.sub_buckets(u64_at(e, 8), depth + 1, out)?;
                continue;
            }
            if u32_at(e, 0) & BUCKET_LEAF_FLAG == 0 {
                continue;
            }
            let at = start + (i * ELEMENT_SIZE) as u64;
            let value = at + u64::from(u32_at(e, 4)) + u64::from(u32_at(e, 8));
            let root = u64_at(&self.bytes_at(value, 8)?, 0);
            if root != 0 {
                out.push(root);
            }
        }
        Ok(())
    }
}

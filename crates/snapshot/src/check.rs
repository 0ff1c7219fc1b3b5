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
//!    bucket's sub-buckets, in the order stored;
//! 3. `page N: unreachable unfreed`, for each page below the high-water mark that is
//!    neither reached (meta pages and the freelist count as reached) nor free.
//!
//! Where bbolt itself would crash or run for minutes (a page past the end of the file, a
//! freelist page that is not one, buckets nested in a loop, references that add up to
//! far more pages than the file has), this returns a [`crate::SnapshotError::Corrupt`] instead:
//! the work is bounded by a budget of a few page visits per page of the database.
//!
//! Not reproduced: bbolt finds a sub-bucket by seeking its name, so a damaged name that a
//! seek misses is skipped there and followed here; and an inline bucket's elements that
//! point past its value are an error here, where bbolt reads on into the page.

use std::collections::HashSet;

use crate::error::Result;
use crate::page::{
    u32_at, u64_at, PageHeader, BRANCH_PAGE, BUCKET_LEAF_FLAG, ELEMENT_SIZE, FREELIST_PAGE,
    LEAF_PAGE, NO_FREELIST, PAGE_HEADER_SIZE,
};
use crate::reader::{corrupt, BoltReader, MAX_DEPTH};

/// Pages seen so far, the findings, and the work left.
struct Walk {
    reachable: HashSet<u64>,
    freed: HashSet<u64>,
    findings: Vec<String>,
    /// Page visits and overflow pages still allowed: a consistent database needs one per
    /// page; a damaged one whose references multiply (bbolt would run for minutes or
    /// exhaust memory) stops when this runs out.
    budget: u64,
}

impl Walk {
    fn new(
        reachable: HashSet<u64>,
        freed: HashSet<u64>,
        findings: Vec<String>,
        pages: u64,
    ) -> Self {
        Walk {
            reachable,
            freed,
            findings,
            budget: pages.saturating_mul(4).saturating_add(1 << 20),
        }
    }

    fn spend(&mut self, n: u64) -> Result<()> {
        self.budget = self.budget.checked_sub(n).ok_or_else(|| {
            corrupt("the pages referenced add up to far more than the database holds")
        })?;
        Ok(())
    }

    /// Marks `first` and its `overflow` pages reached; `report`: with bbolt's finding for
    /// each that already was.
    fn reach(&mut self, first: u64, overflow: u32, report: bool) -> Result<()> {
        self.spend(u64::from(overflow) + 1)?;
        for i in 0..=u64::from(overflow) {
            let id = first.wrapping_add(i);
            if !self.reachable.insert(id) && report {
                self.findings
                    .push(format!("page {}: multiple references", id as i64));
            }
        }
        Ok(())
    }
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
            let mut walk = Walk::new(HashSet::new(), HashSet::new(), Vec::new(), meta.pgid);
            self.check_bucket(meta.root, 0, &mut walk)?;
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
        let mut walk = Walk::new(HashSet::from([0, 1]), freed, findings, meta.pgid);
        if meta.freelist != NO_FREELIST {
            let overflow = self.header(meta.freelist)?.overflow;
            walk.reach(meta.freelist, overflow, false)?;
        }
        self.check_bucket(meta.root, 0, &mut walk)?;
        for id in 0..meta.pgid {
            if !walk.reachable.contains(&id) && !walk.freed.contains(&id) {
                walk.findings
                    .push(format!("page {id}: unreachable unfreed"));
            }
        }
        Ok(walk.findings)
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
                h.typ()
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

    /// bbolt's `checkBucket` of the bucket whose tree starts at `root`, `depth` buckets
    /// deep.
    fn check_bucket(&self, root: u64, depth: usize, walk: &mut Walk) -> Result<()> {
        if root == 0 {
            return Ok(()); // An inline bucket.
        }
        if depth > MAX_DEPTH {
            return Err(corrupt(format!(
                "buckets nested deeper than {MAX_DEPTH} (page {root})"
            )));
        }
        self.check_pages(root, 0, walk)?;
        let mut children = Vec::new();
        self.sub_buckets(root, 0, walk, &mut children)?;
        for child in children {
            self.check_bucket(child, depth + 1, walk)?;
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
        walk.reach(h.id, h.overflow, true)?;
        if walk.freed.contains(&h.id) {
            walk.findings
                .push(format!("page {}: reachable freed", h.id as i64));
        } else if h.flags & (BRANCH_PAGE | LEAF_PAGE) == 0 {
            walk.findings
                .push(format!("page {}: invalid type: {}", h.id as i64, h.typ()));
        }
        if h.flags & BRANCH_PAGE != 0 {
            let elements = self.elements(id, h.count)?;
            for e in elements.chunks_exact(ELEMENT_SIZE) {
                self.check_pages(u64_at(e, 8), depth + 1, walk)?;
            }
        }
        Ok(())
    }

    /// The roots of the page-stored sub-buckets under the page at `id`, in the order
    /// stored (a page is a leaf if its header has the leaf bit, else a branch, as bbolt's
    /// cursor takes it).
    fn sub_buckets(
        &self,
        id: u64,
        depth: usize,
        walk: &mut Walk,
        out: &mut Vec<u64>,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(corrupt(format!("page {id}: tree deeper than {MAX_DEPTH}")));
        }
        walk.spend(1)?;
        let h = self.header(id)?;
        let elements = self.elements(id, h.count)?;
        let start = self.page_at(id)? + PAGE_HEADER_SIZE as u64;
        for (i, e) in elements.chunks_exact(ELEMENT_SIZE).enumerate() {
            if h.flags & LEAF_PAGE == 0 {
                self.sub_buckets(u64_at(e, 8), depth + 1, walk, out)?;
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

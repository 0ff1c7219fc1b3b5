//! [`BoltReader`]: reads a bbolt database page by page with positioned reads (no mmap),
//! so memory stays at a few pages per tree level whatever the file's size.
//!
//! Everything read is checked before it is used: the meta checksum, page ids, types and
//! bounds, element offsets, and that keys come in strictly ascending order (which also
//! stops a damaged tree that points back into itself). A failed check is a
//! [`SnapshotError::Corrupt`], never a panic.
//!
//! The one exception is `read_as_stored` (crate-private, for `snapshot status` after
//! [`BoltReader::check`] found nothing): keys in the order stored, pages by their type
//! bits and element bytes wherever they point in the file, as bbolt reads them; the
//! check is what rules out a tree that points back into itself, and bounds still hold.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Result, SnapshotError};
use crate::page::{
    u32_at, u64_at, Meta, PageHeader, BRANCH_PAGE, BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG,
    ELEMENT_SIZE, LEAF_PAGE, PAGE_HEADER_SIZE, PAGE_SIZE,
};

/// A visitor of raw leaf entries: (element flags, key, value).
type EntryFn<'a> = dyn FnMut(u32, &[u8], &[u8]) -> Result<()> + 'a;

/// A visitor of a bucket's pairs: (key, value).
pub type PairFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// Branch levels a tree may have (bbolt's trees are far shallower).
pub(crate) const MAX_DEPTH: usize = 64;

/// Where a bucket's tree is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bucket {
    /// A tree whose root is this page.
    Page(u64),
    /// A bucket stored inline in its parent: its one leaf page.
    Inline(Vec<u8>),
}

/// An open bbolt database.
#[derive(Debug)]
pub struct BoltReader {
    file: File,
    meta: Meta,
    page_size: usize,
    /// Bytes of the file that belong to the database.
    len: u64,
    /// Whether keys are read in the order stored without checking it (and page headers
    /// are not matched to their place), as bbolt reads them.
    as_stored: bool,
    /// Bytes of pages read so far (a progress measure: each page is read once per walk).
    read: AtomicU64,
}

pub(crate) fn corrupt(msg: impl Into<String>) -> SnapshotError {
    SnapshotError::Corrupt(msg.into())
}

impl BoltReader {
    /// Opens the database file at `path` (all of it is the database).
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path)
            .map_err(|e| SnapshotError::io(format!("open {}", path.display()), e))?;
        let len = file
            .metadata()
            .map_err(|e| SnapshotError::io(format!("stat {}", path.display()), e))?
            .len();
        Self::from_file(file, len)
    }

    /// Opens the database held in the first `len` bytes of `file`.
    pub fn from_file(file: File, len: u64) -> Result<Self> {
        if len < 2 * 1024 {
            return Err(SnapshotError::NotBolt(format!(
                "file of {len} bytes is too small"
            )));
        }
        let read_meta = |at: u64| -> Result<Meta> {
            let mut buf = vec![0u8; PAGE_HEADER_SIZE + 64];
            if at + buf.len() as u64 > len {
                return Err(SnapshotError::NotBolt(
                    "file too small for a meta page".into(),
                ));
            }
            file.read_exact_at(&mut buf, at)
                .map_err(|e| SnapshotError::io("read meta page", e))?;
            Meta::from_page(&buf)
        };
        let m0 = read_meta(0);
        let page_size = match &m0 {
            Ok(m) => m.page_size as usize,
            Err(_) => PAGE_SIZE,
        };
        if !page_size.is_power_of_two() || !(1024..=65536).contains(&page_size) {
            return Err(SnapshotError::NotBolt(format!("page size {page_size}")));
        }
        let m1 = read_meta(page_size as u64);
        let meta = match (m0, m1) {
            (Ok(a), Ok(b)) => {
                if b.txid > a.txid {
                    b
                } else {
                    a
                }
            }
            (Ok(a), Err(_)) => a,
            (Err(_), Ok(b)) => b,
            (Err(e), Err(_)) => return Err(e),
        };
        if meta.page_size as usize != page_size {
            return Err(corrupt("the meta pages disagree on the page size"));
        }
        let need = meta
            .pgid
            .checked_mul(page_size as u64)
            .ok_or_else(|| corrupt("page count overflows"))?;
        if need > len {
            return Err(corrupt(format!(
                "file is truncated: the database needs {need} bytes, the file has {len}"
            )));
        }
        if meta.root < 2 || meta.root >= meta.pgid {
            return Err(corrupt(format!(
                "root page {} outside the database ({} pages)",
                meta.root, meta.pgid
            )));
        }
        Ok(BoltReader {
            file,
            meta,
            page_size,
            len,
            as_stored: false,
            read: AtomicU64::new(0),
        })
    }

    /// Reads keys in the order they are stored, as bbolt does, instead of refusing a tree
    /// whose keys are out of order or whose page headers name another page.
    ///
    /// ONLY for a database that [`BoltReader::check`] found nothing wrong with: the
    /// order check is also what stops a walk of a tree that points back into itself,
    /// and the consistency check (every page reached once) is what rules that out here.
    pub(crate) fn read_as_stored(mut self) -> Self {
        self.as_stored = true;
        self
    }

    /// The meta page in use.
    pub fn meta(&self) -> Meta {
        self.meta
    }

    /// `len` bytes at offset `at`, which must lie inside the database.
    pub(crate) fn bytes_at(&self, at: u64, len: usize) -> Result<Vec<u8>> {
        let end = at
            .checked_add(len as u64)
            .filter(|end| *end <= self.len)
            .ok_or_else(|| corrupt(format!("a page points past the end of the file ({at})")))?;
        let mut buf = vec![0u8; (end - at) as usize];
        self.file
            .read_exact_at(&mut buf, at)
            .map_err(|e| SnapshotError::io(format!("read at {at}"), e))?;
        Ok(buf)
    }

    /// The page size of the database.
    pub(crate) fn page_size(&self) -> usize {
        self.page_size
    }

    /// The database's size in bytes (pages times page size), as bbolt's `Tx.Size`.
    pub fn size(&self) -> u64 {
        self.meta.pgid * self.page_size as u64
    }

    /// Bytes of branch and leaf pages read so far: after one walk of every bucket, about
    /// [`BoltReader::size`] (meta, freelist and free pages are not read).
    pub fn bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Reads page `id` with its overflow pages, checking that it is a branch or leaf.
    fn read_page(&self, id: u64) -> Result<Vec<u8>> {
        if id < 2 || id >= self.meta.pgid {
            return Err(corrupt(format!(
                "page {id} outside the database ({} pages)",
                self.meta.pgid
            )));
        }
        let ps = self.page_size as u64;
        let mut page = vec![0u8; self.page_size];
        self.file
            .read_exact_at(&mut page, id * ps)
            .map_err(|e| SnapshotError::io(format!("read page {id}"), e))?;
        let h = PageHeader::read(&page);
        if self.as_stored {
            // bbolt reads any page with the branch or leaf bit, whatever id it claims, and
            // its overflow through the mmap ([`BoltReader::page_bytes`] reads past it).
            if h.flags & (BRANCH_PAGE | LEAF_PAGE) == 0 {
                return Err(corrupt(format!(
                    "page {id}: expected a branch or leaf page, found flags {:#x}",
                    h.flags
                )));
            }
            self.read.fetch_add(page.len() as u64, Ordering::Relaxed);
            return Ok(page);
        }
        if h.id != id {
            return Err(corrupt(format!("page {id} says it is page {}", h.id)));
        }
        if h.flags != BRANCH_PAGE && h.flags != LEAF_PAGE {
            return Err(corrupt(format!(
                "page {id}: expected a branch or leaf page, found flags {:#x}",
                h.flags
            )));
        }
        if h.overflow > 0 {
            let end = id + 1 + u64::from(h.overflow);
            if end > self.meta.pgid {
                return Err(corrupt(format!("page {id}: overflow past the end")));
            }
            page.resize((end - id) as usize * self.page_size, 0);
            self.file
                .read_exact_at(&mut page[self.page_size..], (id + 1) * ps)
                .map_err(|e| SnapshotError::io(format!("read page {id}"), e))?;
        }
        self.read.fetch_add(page.len() as u64, Ordering::Relaxed);
        Ok(page)
    }

    /// Calls `f(flags, key, value)` for every leaf entry of the tree at `root`, in key
    /// order (in the order stored, when reading as stored).
    fn walk(&self, root: &Bucket, f: &mut EntryFn<'_>) -> Result<()> {
        let mut last: Option<Vec<u8>> = None;
        match root {
            Bucket::Inline(page) => {
                let h = page_header(page)?;
                if h.flags != LEAF_PAGE {
                    return Err(corrupt("an inline bucket is not a leaf page"));
                }
                self.visit_leaf(page, None, h.count, self.checked_order(&mut last), f)
            }
            Bucket::Page(id) => self.walk_page(*id, 0, self.checked_order(&mut last), f),
        }
    }

    fn walk_page(
        &self,
        id: u64,
        depth: usize,
        mut last: Option<&mut Option<Vec<u8>>>,
        f: &mut EntryFn<'_>,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(corrupt(format!("page {id}: tree deeper than {MAX_DEPTH}")));
        }
        let page = self.read_page(id)?;
        let h = PageHeader::read(&page);
        let file_at = Some(id * self.page_size as u64);
        // bbolt's cursor takes a page with the leaf bit for a leaf (strictly, it is exact).
        if h.flags == LEAF_PAGE || (self.as_stored && h.flags & LEAF_PAGE != 0) {
            return self.visit_leaf(&page, file_at, h.count, last, f);
        }
        let n = h.count as usize;
        let elements = self.page_bytes(&page, file_at, PAGE_HEADER_SIZE, n * ELEMENT_SIZE)?;
        for i in 0..n {
            let e = &elements[i * ELEMENT_SIZE..(i + 1) * ELEMENT_SIZE];
            let child = u64_at(e, 8);
            if let Some(prev) = last.as_deref().and_then(|l| l.as_deref()) {
                let at = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
                let pos = u32_at(e, 0) as usize;
                let key =
                    self.page_bytes(&page, file_at, offset(at, pos)?, u32_at(e, 4) as usize)?;
                // A branch key is the first key of its child: never below what came before.
                if *key < *prev {
                    return Err(corrupt(format!("page {id}: branch keys out of order")));
                }
            }
            self.walk_page(child, depth + 1, last.as_deref_mut(), f)?;
        }
        Ok(())
    }

    /// Calls `f(name, bucket)` for every bucket in the root bucket, in name order.
    pub fn for_each_bucket(&self, f: &mut dyn FnMut(&[u8], Bucket) -> Result<()>) -> Result<()> {
        self.walk(&Bucket::Page(self.meta.root), &mut |flags, k, v| {
            if flags & BUCKET_LEAF_FLAG == 0 {
                return Err(corrupt(format!(
                    "root entry {:?} is not a bucket",
                    String::from_utf8_lossy(k)
                )));
            }
            f(k, self.bucket_ref(v)?)
        })
    }

    /// The bucket `name` of the root bucket, if there is one.
    pub fn bucket(&self, name: &[u8]) -> Result<Option<Bucket>> {
        let mut found = None;
        self.for_each_bucket(&mut |k, b| {
            if k == name {
                found = Some(b);
            }
            Ok(())
        })?;
        Ok(found)
    }

    fn bucket_ref(&self, value: &[u8]) -> Result<Bucket> {
        if value.len() < BUCKET_HEADER_SIZE {
            return Err(corrupt("bucket header too short"));
        }
        let root = u64_at(value, 0);
        if root == 0 {
            Ok(Bucket::Inline(value[BUCKET_HEADER_SIZE..].to_vec()))
        } else {
            Ok(Bucket::Page(root))
        }
    }

    /// Calls `f(key, value)` for every pair of `bucket`, in key order. A nested bucket
    /// shows up with an empty value, as bbolt's `ForEach` shows it with a nil one.
    /// Returns how many pairs there were.
    pub fn for_each(&self, bucket: &Bucket, f: &mut PairFn<'_>) -> Result<u64> {
        let mut n = 0u64;
        self.walk(bucket, &mut |flags, k, v| {
            n += 1;
            if flags & BUCKET_LEAF_FLAG != 0 {
                f(k, &[])
            } else {
                f(k, v)
            }
        })?;
        Ok(n)
    }
}

impl BoltReader {
    /// The last key seen, when keys are checked to ascend; `None` when read as stored.
    fn checked_order<'a>(&self, last: &'a mut Option<Vec<u8>>) -> Option<&'a mut Option<Vec<u8>>> {
        (!self.as_stored).then_some(last)
    }
}

fn page_header(page: &[u8]) -> Result<PageHeader> {
    if page.len() < PAGE_HEADER_SIZE {
        return Err(corrupt("page shorter than its header"));
    }
    Ok(PageHeader::read(page))
}

/// The offset `pos` bytes past the element at `at`.
fn offset(at: usize, pos: usize) -> Result<usize> {
    at.checked_add(pos)
        .ok_or_else(|| corrupt("element offset overflows"))
}

impl BoltReader {
    /// `len` bytes at `start` of `page`, which was read from `file_at` (`None`: an inline
    /// page). Bytes past the page are an error, unless reading as stored: bbolt reads
    /// them from the rest of the file (its mmap), and so does this then.
    fn page_bytes<'p>(
        &self,
        page: &'p [u8],
        file_at: Option<u64>,
        start: usize,
        len: usize,
    ) -> Result<Cow<'p, [u8]>> {
        let end = start
            .checked_add(len)
            .ok_or_else(|| corrupt("element size overflows"))?;
        if let Some(inside) = page.get(start..end) {
            return Ok(Cow::Borrowed(inside));
        }
        let outside = || corrupt("element points outside its page");
        let Some(file_at) = file_at.filter(|_| self.as_stored) else {
            return Err(outside());
        };
        let at = file_at + start as u64;
        if at + len as u64 > self.len {
            return Err(outside());
        }
        Ok(Cow::Owned(self.bytes_at(at, len)?))
    }

    fn visit_leaf(
        &self,
        page: &[u8],
        file_at: Option<u64>,
        count: u16,
        mut last: Option<&mut Option<Vec<u8>>>,
        f: &mut EntryFn<'_>,
    ) -> Result<()> {
        let n = count as usize;
        let elements = self.page_bytes(page, file_at, PAGE_HEADER_SIZE, n * ELEMENT_SIZE)?;
        for (i, e) in elements.chunks_exact(ELEMENT_SIZE).enumerate() {
            let at = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
            let flags = u32_at(e, 0);
            let start = offset(at, u32_at(e, 4) as usize)?;
            let ksize = u32_at(e, 8) as usize;
            let vsize = u32_at(e, 12) as usize;
            let key = self.page_bytes(page, file_at, start, ksize)?;
            let value = self.page_bytes(page, file_at, offset(start, ksize)?, vsize)?;
            if let Some(last) = last.as_deref_mut() {
                if last.as_deref().is_some_and(|prev| *key <= *prev) {
                    return Err(corrupt("keys out of order"));
                }
                match last {
                    Some(buf) => {
                        buf.clear();
                        buf.extend_from_slice(&key);
                    }
                    None => *last = Some(key.to_vec()),
                }
            }
            f(flags, &key, &value)?;
        }
        Ok(())
    }
}

//! [`DbWriter`]: writes a bbolt database in one forward pass, page after page.
//!
//! Keys arrive in ascending order, so every B+tree can be built bottom-up: a leaf page is
//! written as soon as the next entry would not fit, and its (first key, page id) goes up
//! to the branch level above, which is written the same way when it fills. Each level
//! holds at most one page of entries, so memory is O(tree height x page size) whatever
//! the size of the database. Children are always written before their parents, so a page
//! only ever refers to pages written earlier.
//!
//! The only forward references are in the two meta pages at the start of the file (the
//! root page, the freelist page and the page count). They are known only at the end, so:
//! - [`plan`] runs the writer once without output and returns the [`Layout`];
//!   [`write_stream`] then runs it again, writes the meta pages first and checks that the
//!   second pass produced the same layout. The result is a purely sequential stream (no
//!   temporary file); the caller must feed both passes the same data (a checkpoint).
//! - [`write_file`] writes once to a file and puts the meta pages in at the end.
//!
//! Sub-buckets are one level deep (etcd's layout: the root bucket holds the named
//! buckets, which hold key/value pairs). A bucket whose single leaf page takes at most
//! [`MAX_INLINE_BUCKET_SIZE`] bytes is stored inline in the root's leaf, as bbolt does.
//! Every page up to the high-water mark is in use, so the freelist page is empty.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Result, SnapshotError};
use crate::page::{
    Meta, PageHeader, BRANCH_PAGE, BUCKET_HEADER_SIZE, BUCKET_LEAF_FLAG, ELEMENT_SIZE,
    FREELIST_PAGE, LEAF_PAGE, MAX_INLINE_BUCKET_SIZE, MAX_KEY_SIZE, MAX_VALUE_SIZE,
    PAGE_HEADER_SIZE, PAGE_SIZE,
};

/// Where a finished database keeps its root and freelist, and how many pages it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The root bucket's root page.
    pub root: u64,
    /// The (empty) freelist page.
    pub freelist: u64,
    /// Pages in the file (the high-water mark).
    pub pgid: u64,
}

impl Layout {
    /// Bytes of the database file.
    pub fn db_size(&self) -> u64 {
        self.pgid * PAGE_SIZE as u64
    }

    /// The two meta pages (page 0 with txid 0, page 1 with txid 1), both describing
    /// this layout.
    pub fn meta_pages(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 * PAGE_SIZE);
        for id in 0..2u64 {
            let meta = Meta {
                page_size: PAGE_SIZE as u32,
                flags: 0,
                root: self.root,
                sequence: 0,
                freelist: self.freelist,
                pgid: self.pgid,
                txid: id,
            };
            out.extend_from_slice(&meta.to_page(id));
        }
        out
    }
}

/// The page sink: assigns page ids in write order.
struct PageOut<'a> {
    /// `None` while planning: pages are counted, not built.
    out: Option<&'a mut dyn Write>,
    next: u64,
    buf: Vec<u8>,
}

impl PageOut<'_> {
    /// Writes one page (plus overflow pages if `content` needs them) and returns its id.
    fn emit(
        &mut self,
        flags: u16,
        count: usize,
        content: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<u64> {
        let pages = content.div_ceil(PAGE_SIZE).max(1);
        let id = self.next;
        self.next += pages as u64;
        let Some(out) = self.out.as_mut() else {
            return Ok(id);
        };
        self.buf.clear();
        self.buf.resize(pages * PAGE_SIZE, 0);
        PageHeader {
            id,
            flags,
            count: count as u16,
            overflow: (pages - 1) as u32,
        }
        .write(&mut self.buf);
        fill(&mut self.buf);
        out.write_all(&self.buf)
            .map_err(|e| SnapshotError::io("write snapshot page", e))?;
        Ok(id)
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<()> {
        if let Some(out) = self.out.as_mut() {
            out.write_all(bytes)
                .map_err(|e| SnapshotError::io("write snapshot page", e))?;
        }
        Ok(())
    }
}

struct LeafEntry {
    flags: u32,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// Lays leaf entries out after a page header: elements first, then keys and values.
fn fill_leaf(page: &mut [u8], entries: &[LeafEntry]) {
    let mut data = PAGE_HEADER_SIZE + entries.len() * ELEMENT_SIZE;
    for (i, e) in entries.iter().enumerate() {
        let at = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        page[at..at + 4].copy_from_slice(&e.flags.to_le_bytes());
        page[at + 4..at + 8].copy_from_slice(&((data - at) as u32).to_le_bytes());
        page[at + 8..at + 12].copy_from_slice(&(e.key.len() as u32).to_le_bytes());
        page[at + 12..at + 16].copy_from_slice(&(e.value.len() as u32).to_le_bytes());
        page[data..data + e.key.len()].copy_from_slice(&e.key);
        data += e.key.len();
        page[data..data + e.value.len()].copy_from_slice(&e.value);
        data += e.value.len();
    }
}

fn fill_branch(page: &mut [u8], entries: &[(Vec<u8>, u64)]) {
    let mut data = PAGE_HEADER_SIZE + entries.len() * ELEMENT_SIZE;
    for (i, (key, pgid)) in entries.iter().enumerate() {
        let at = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        page[at..at + 4].copy_from_slice(&((data - at) as u32).to_le_bytes());
        page[at + 4..at + 8].copy_from_slice(&(key.len() as u32).to_le_bytes());
        page[at + 8..at + 16].copy_from_slice(&pgid.to_le_bytes());
        page[data..data + key.len()].copy_from_slice(key);
        data += key.len();
    }
}

/// One branch level under construction.
#[derive(Default)]
struct Level {
    entries: Vec<(Vec<u8>, u64)>,
    size: usize,
    pages: u64,
}

/// Where a finished bucket's tree is.
enum BucketRef {
    /// The root page of a tree written to the file.
    Page(u64),
    /// A whole leaf page to store inline in the parent.
    Inline(Vec<u8>),
}

/// One B+tree under construction (a bucket, or the root bucket).
struct Tree {
    leaf: Vec<LeafEntry>,
    leaf_size: usize,
    leaf_pages: u64,
    has_bucket: bool,
    levels: Vec<Level>,
    last_key: Option<Vec<u8>>,
}

impl Tree {
    fn new() -> Self {
        Tree {
            leaf: Vec::new(),
            leaf_size: PAGE_HEADER_SIZE,
            leaf_pages: 0,
            has_bucket: false,
            levels: Vec::new(),
            last_key: None,
        }
    }

    fn check_key(&self, key: &[u8]) -> Result<()> {
        if key.is_empty() {
            return Err(SnapshotError::Writer("empty key".into()));
        }
        if key.len() > MAX_KEY_SIZE {
            return Err(SnapshotError::Writer(format!(
                "key of {} bytes (bbolt's limit is {MAX_KEY_SIZE})",
                key.len()
            )));
        }
        if let Some(last) = &self.last_key {
            if key <= last.as_slice() {
                return Err(SnapshotError::Writer(format!(
                    "keys out of order: {:?} after {:?}",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(last)
                )));
            }
        }
        Ok(())
    }

    fn put(&mut self, out: &mut PageOut<'_>, flags: u32, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_key(key)?;
        if value.len() > MAX_VALUE_SIZE {
            return Err(SnapshotError::Writer(format!(
                "value of {} bytes (bbolt's limit is {MAX_VALUE_SIZE})",
                value.len()
            )));
        }
        let elem = ELEMENT_SIZE + key.len() + value.len();
        if !self.leaf.is_empty()
            && (self.leaf_size + elem > PAGE_SIZE || self.leaf.len() == u16::MAX as usize)
        {
            self.flush_leaf(out)?;
        }
        self.leaf.push(LeafEntry {
            flags,
            key: key.to_vec(),
            value: value.to_vec(),
        });
        self.leaf_size += elem;
        self.has_bucket |= flags & BUCKET_LEAF_FLAG != 0;
        self.last_key = Some(key.to_vec());
        Ok(())
    }

    fn flush_leaf(&mut self, out: &mut PageOut<'_>) -> Result<()> {
        let entries = std::mem::take(&mut self.leaf);
        let pgid = out.emit(LEAF_PAGE, entries.len(), self.leaf_size, |p| {
            fill_leaf(p, &entries)
        })?;
        self.leaf_size = PAGE_HEADER_SIZE;
        self.leaf_pages += 1;
        let first = entries
            .into_iter()
            .next()
            .map(|e| e.key)
            .unwrap_or_default();
        self.push_branch(out, 0, first, pgid)
    }

    fn push_branch(
        &mut self,
        out: &mut PageOut<'_>,
        level: usize,
        key: Vec<u8>,
        pgid: u64,
    ) -> Result<()> {
        if self.levels.len() <= level {
            self.levels.push(Level {
                size: PAGE_HEADER_SIZE,
                ..Level::default()
            });
        }
        let elem = ELEMENT_SIZE + key.len();
        let l = &self.levels[level];
        if !l.entries.is_empty()
            && (l.size + elem > PAGE_SIZE || l.entries.len() == u16::MAX as usize)
        {
            self.flush_level(out, level)?;
        }
        let l = &mut self.levels[level];
        l.entries.push((key, pgid));
        l.size += elem;
        Ok(())
    }

    fn flush_level(&mut self, out: &mut PageOut<'_>, level: usize) -> Result<()> {
        let l = &mut self.levels[level];
        let entries = std::mem::take(&mut l.entries);
        let size = std::mem::replace(&mut l.size, PAGE_HEADER_SIZE);
        l.pages += 1;
        let pgid = out.emit(BRANCH_PAGE, entries.len(), size, |p| {
            fill_branch(p, &entries)
        })?;
        let first = entries.into_iter().next().map(|e| e.0).unwrap_or_default();
        self.push_branch(out, level + 1, first, pgid)
    }

    fn finish(mut self, out: &mut PageOut<'_>, allow_inline: bool) -> Result<BucketRef> {
        if self.leaf_pages == 0 {
            if allow_inline && !self.has_bucket && self.leaf_size <= MAX_INLINE_BUCKET_SIZE {
                let mut page = vec![0u8; self.leaf_size];
                PageHeader {
                    id: 0,
                    flags: LEAF_PAGE,
                    count: self.leaf.len() as u16,
                    overflow: 0,
                }
                .write(&mut page);
                fill_leaf(&mut page, &self.leaf);
                return Ok(BucketRef::Inline(page));
            }
            if self.leaf.is_empty() {
                let pgid = out.emit(LEAF_PAGE, 0, PAGE_HEADER_SIZE, |_| {})?;
                return Ok(BucketRef::Page(pgid));
            }
        }
        if !self.leaf.is_empty() {
            self.flush_leaf(out)?;
        }
        let mut level = 0;
        loop {
            let l = &self.levels[level];
            if l.pages == 0 && l.entries.len() == 1 {
                return Ok(BucketRef::Page(l.entries[0].1));
            }
            self.flush_level(out, level)?;
            level += 1;
        }
    }
}

/// Writes one bbolt database: [`DbWriter::begin_bucket`], [`DbWriter::put`]s in key
/// order, [`DbWriter::end_bucket`], for each bucket in name order, then
/// [`DbWriter::finish`].
pub struct DbWriter<'a> {
    out: PageOut<'a>,
    root: Tree,
    bucket: Option<(Vec<u8>, Tree)>,
    plan: Option<Layout>,
}

impl<'a> DbWriter<'a> {
    /// A writer that only counts pages (the first pass of [`plan`]).
    fn planner() -> Self {
        DbWriter {
            out: PageOut {
                out: None,
                next: 2,
                buf: Vec::new(),
            },
            root: Tree::new(),
            bucket: None,
            plan: None,
        }
    }

    /// A writer to `out`. With `plan`, the real meta pages are written first and
    /// [`DbWriter::finish`] checks the layout against it; without, two zero pages stand
    /// where the meta pages go (see [`write_file`]).
    pub fn new(out: &'a mut dyn Write, plan: Option<Layout>) -> Result<Self> {
        let mut w = DbWriter {
            out: PageOut {
                out: Some(out),
                next: 2,
                buf: Vec::with_capacity(PAGE_SIZE),
            },
            root: Tree::new(),
            bucket: None,
            plan,
        };
        match plan {
            Some(layout) => w.out.raw(&layout.meta_pages())?,
            None => w.out.raw(&[0u8; 2 * PAGE_SIZE])?,
        }
        Ok(w)
    }

    /// Opens bucket `name`; names must come in ascending byte order.
    pub fn begin_bucket(&mut self, name: &[u8]) -> Result<()> {
        if let Some((open, _)) = &self.bucket {
            return Err(SnapshotError::Writer(format!(
                "bucket {:?} is still open",
                String::from_utf8_lossy(open)
            )));
        }
        self.root.check_key(name)?;
        self.bucket = Some((name.to_vec(), Tree::new()));
        Ok(())
    }

    /// Adds one pair to the open bucket; keys must come in ascending byte order.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let Some((_, tree)) = self.bucket.as_mut() else {
            return Err(SnapshotError::Writer("put outside a bucket".into()));
        };
        tree.put(&mut self.out, 0, key, value)
    }

    /// Closes the open bucket and records it in the root bucket.
    pub fn end_bucket(&mut self) -> Result<()> {
        let Some((name, tree)) = self.bucket.take() else {
            return Err(SnapshotError::Writer("no bucket is open".into()));
        };
        let mut value = vec![0u8; BUCKET_HEADER_SIZE];
        match tree.finish(&mut self.out, true)? {
            BucketRef::Page(pgid) => value[..8].copy_from_slice(&pgid.to_le_bytes()),
            BucketRef::Inline(page) => value.extend_from_slice(&page),
        }
        self.root
            .put(&mut self.out, BUCKET_LEAF_FLAG, &name, &value)
    }

    /// Writes the root bucket's remaining pages and the freelist page; returns the layout.
    /// With a plan, a layout that differs from it is an error (the data changed between
    /// the passes), and the bytes written are not a valid database.
    pub fn finish(mut self) -> Result<Layout> {
        if self.bucket.is_some() {
            self.end_bucket()?;
        }
        let root = match self.root.finish(&mut self.out, false)? {
            BucketRef::Page(p) => p,
            BucketRef::Inline(_) => {
                return Err(SnapshotError::Writer(
                    "the root bucket cannot be inline".into(),
                ))
            }
        };
        let freelist = self.out.emit(FREELIST_PAGE, 0, PAGE_HEADER_SIZE, |_| {})?;
        let layout = Layout {
            root,
            freelist,
            pgid: self.out.next,
        };
        if let Some(out) = self.out.out.as_mut() {
            out.flush()
                .map_err(|e| SnapshotError::io("write snapshot", e))?;
        }
        if let Some(plan) = self.plan {
            if plan != layout {
                return Err(SnapshotError::Writer(format!(
                    "the data changed between the two passes (planned {plan:?}, wrote {layout:?})"
                )));
            }
        }
        Ok(layout)
    }
}

/// The first pass: runs `fill` on a writer that only counts pages.
pub fn plan(fill: &mut dyn FnMut(&mut DbWriter<'_>) -> Result<()>) -> Result<Layout> {
    let mut w = DbWriter::planner();
    fill(&mut w)?;
    w.finish()
}

/// The second pass: writes the whole database to `out` as one sequential stream, meta
/// pages first. `fill` must add exactly what it added to [`plan`].
pub fn write_stream(
    out: &mut dyn Write,
    layout: Layout,
    fill: &mut dyn FnMut(&mut DbWriter<'_>) -> Result<()>,
) -> Result<Layout> {
    let mut w = DbWriter::new(out, Some(layout))?;
    fill(&mut w)?;
    w.finish()
}

/// Writes a database to a new file at `path` in one pass, then fills in the meta pages.
pub fn write_file(
    path: &Path,
    fill: &mut dyn FnMut(&mut DbWriter<'_>) -> Result<()>,
) -> Result<Layout> {
    let file = std::fs::File::create(path)
        .map_err(|e| SnapshotError::io(format!("create {}", path.display()), e))?;
    let mut out = std::io::BufWriter::new(file);
    let layout = {
        let mut w = DbWriter::new(&mut out, None)?;
        fill(&mut w)?;
        w.finish()?
    };
    let mut file = out
        .into_inner()
        .map_err(|e| SnapshotError::io("write snapshot", e.into_error()))?;
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&layout.meta_pages()))
        .and_then(|_| file.sync_all())
        .map_err(|e| SnapshotError::io(format!("write {}", path.display()), e))?;
    Ok(layout)
}

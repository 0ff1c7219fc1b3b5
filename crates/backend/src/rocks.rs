//! [`RocksBackend`]: the production [`Backend`] over one RocksDB instance.
//!
//! Every [`Column`] is a column family of the same instance, so one [`WriteBatch`] that
//! touches several columns is one atomic RocksDB write.
//!
//! # Durability
//! - With the WAL enabled (the default, and always for the raft log instance) every
//!   `write` goes to the WAL through the OS page cache before it returns, so it survives
//!   `kill -9`; `sync = true` additionally fsyncs the WAL. [`Backend::sync`] fsyncs the
//!   WAL (`FlushWAL(true)`), which is cheaper than flushing memtables.
//! - With [`RocksOptions::disable_wal`] writes live only in memtables until they are
//!   flushed, so a crash loses unflushed batches (each one entirely: atomic flush is on,
//!   so batches stay all-or-none across column families). `sync = true` and
//!   [`Backend::sync`] then flush the memtables of every column family to SST files.
//!   A clean drop also flushes them (RocksDB flushes unpersisted data on close).

use std::path::{Path, PathBuf};

use rocksdb::{
    BlockBasedOptions, BottommostLevelCompaction, Cache, ColumnFamily, ColumnFamilyDescriptor,
    CompactOptions, DBCompressionType, DBRawIteratorWithThreadMode, DBWithThreadMode, FlushOptions,
    Options, ReadOptions, SingleThreaded, WriteOptions,
};

use crate::{
    Backend, BackendError, BackendSize, BatchOp, Column, KvPair, Result, ScanIter, WriteBatch,
};

/// The RocksDB handle type. Column families are only created at open time, so the
/// single-threaded column-family mode suffices (the handle itself is `Send + Sync`); it
/// is named explicitly so that a workspace feature cannot change it.
type Db = DBWithThreadMode<SingleThreaded>;

const MIB: usize = 1024 * 1024;

/// Tuning knobs for [`RocksBackend::open`].
#[derive(Debug, Clone, PartialEq)]
pub struct RocksOptions {
    /// Capacity of the LRU block cache shared by every column family (default 64 MiB).
    pub block_cache_bytes: usize,
    /// Bloom filter bits per key, on every column family (default 10; `0` disables).
    pub bloom_bits_per_key: f64,
    /// Memtable size per column family (default 64 MiB). The WAL is capped at four
    /// times this; past that RocksDB flushes the column families that pin old WAL files.
    pub write_buffer_bytes: usize,
    /// Flush and compaction threads (default 2).
    pub max_background_jobs: i32,
    /// RocksDB `unordered_write` (default false: reads see writes in commit order).
    pub unordered_write: bool,
    /// Disables the RocksDB WAL (default false). See the module docs for what this does
    /// to durability; the raft log instance MUST keep its WAL.
    pub disable_wal: bool,
    /// With the WAL on: bytes of filler written through each of two WAL files when the
    /// instance opens, both retired at once (default 0: none). The WAL that writes land
    /// in, and the next one, are then recycled files of that size, which a synced write
    /// overwrites instead of extending: RocksDB recycles only WAL files created since the
    /// open, and until one is recycled every `fdatasync` also writes the inode back (the
    /// file's size changed), about a third more time and CPU per sync on ext4
    /// (`oxcd-bench disk-sync`). Set it to the memtable size. Skipped when the file system
    /// has less than four times the filler free, so a member stopped by a full disk
    /// still starts.
    pub prime_wal_bytes: usize,
}

impl Default for RocksOptions {
    fn default() -> Self {
        RocksOptions {
            block_cache_bytes: 64 * MIB,
            bloom_bits_per_key: 10.0,
            write_buffer_bytes: 64 * MIB,
            max_background_jobs: 2,
            unordered_write: false,
            disable_wal: false,
            prime_wal_bytes: 0,
        }
    }
}

/// The production backend: one RocksDB instance, one column family per [`Column`].
///
/// Open it with [`RocksBackend::open`] and share it as `Arc<dyn Backend>`.
pub struct RocksBackend {
    db: Db,
    path: PathBuf,
    disable_wal: bool,
    // Kept alive with the DB (the table options also hold a reference).
    _block_cache: Cache,
}

impl std::fmt::Debug for RocksBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksBackend")
            .field("path", &self.path)
            .field("disable_wal", &self.disable_wal)
            .finish_non_exhaustive()
    }
}

impl RocksBackend {
    /// Opens (creating if missing) the RocksDB instance in the directory `path`, creating
    /// any missing column family. Also opens a directory written by
    /// [`Backend::checkpoint`]. Returns the backend by value; wrap it in an `Arc` to share.
    /// With [`RocksOptions::prime_wal_bytes`] set (and the WAL on) it primes the WAL
    /// before returning.
    pub fn open(path: &Path, opts: &RocksOptions) -> Result<RocksBackend> {
        let cache = Cache::new_lru_cache(opts.block_cache_bytes);

        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(opts.max_background_jobs);
        db_opts.set_unordered_write(opts.unordered_write);
        db_opts.set_max_total_wal_size((opts.write_buffer_bytes as u64).saturating_mul(4));
        // Without a WAL, cross-column atomicity after a crash relies on atomic flushes.
        db_opts.set_atomic_flush(opts.disable_wal);
        // Retired WAL files are overwritten in place instead of new ones growing: an
        // fdatasync then has no file size to write back. `prime_wal_bytes` makes the
        // first WAL after open such a file too.
        if !opts.disable_wal {
            db_opts.set_recycle_log_file_num(4);
        }
        // RocksDB's own info log (LOG files): keep it small.
        db_opts.set_keep_log_file_num(4);
        db_opts.set_max_log_file_size(16 * MIB);

        let descriptors = Column::ALL
            .iter()
            .map(|&col| ColumnFamilyDescriptor::new(col.name(), cf_options(col, opts, &cache)));
        let db = Db::open_cf_descriptors(&db_opts, path, descriptors)?;
        let backend = RocksBackend {
            db,
            path: path.to_path_buf(),
            disable_wal: opts.disable_wal,
            _block_cache: cache,
        };
        if !opts.disable_wal && opts.prime_wal_bytes > 0 {
            backend.prime_wal(opts.prime_wal_bytes)?;
        }
        Ok(backend)
    }

    /// Primes the WAL ([`RocksOptions::prime_wal_bytes`]), as etcd preallocates its WAL
    /// segments. Filler goes under one key of the `default` column family, which no
    /// [`Column`] uses; each round writes `bytes` of it, deletes the key and flushes, which
    /// retires the WAL holding it (RocksDB syncs that WAL on the way) and rotates to the
    /// next. After two rounds the current WAL reuses the first filled file and the second
    /// waits in the recycle list. A crash part way leaves at most the filler key behind,
    /// where nothing reads it, and the next open deletes it again.
    fn prime_wal(&self, bytes: usize) -> Result<()> {
        const KEY: &[u8] = b"oxcd/prime-wal";
        const ROUNDS: u64 = 2;
        let needed = (bytes as u64).saturating_mul(2 * ROUNDS);
        match rustix::fs::statvfs(&self.path) {
            Ok(st) if st.f_bavail.saturating_mul(st.f_frsize) >= needed => {}
            _ => return Ok(()),
        }
        let chunk = vec![0u8; bytes.min(MIB)];
        let mut fo = FlushOptions::default();
        fo.set_wait(true);
        for _ in 0..ROUNDS {
            let mut written = 0;
            while written < bytes {
                self.db.put(KEY, &chunk)?;
                written += chunk.len();
            }
            self.db.delete(KEY)?;
            self.db.flush_opt(&fo)?;
        }
        Ok(())
    }

    /// The directory this instance lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, col: Column) -> Result<&ColumnFamily> {
        self.db.cf_handle(col.name()).ok_or_else(|| {
            BackendError::Corruption(format!("column family {} is missing", col.name()))
        })
    }

    /// Flushes the memtables of every column family (atomically when the WAL is off).
    fn flush_memtables(&self) -> Result<()> {
        let cfs = Column::ALL
            .iter()
            .map(|&c| self.cf(c))
            .collect::<Result<Vec<_>>>()?;
        let mut fo = FlushOptions::default();
        fo.set_wait(true);
        self.db.flush_cfs_opt(&cfs, &fo)?;
        Ok(())
    }

    fn int_property(&self, cf: &ColumnFamily, name: &str) -> Result<u64> {
        Ok(self.db.property_int_value_cf(cf, name)?.unwrap_or(0))
    }
}

/// Per-column options: all share the block cache and carry bloom filters.
fn cf_options(col: Column, opts: &RocksOptions, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    if opts.bloom_bits_per_key > 0.0 {
        // Full (not block-based) filters, whole-key.
        table.set_bloom_filter(opts.bloom_bits_per_key, false);
        table.set_whole_key_filtering(true);
    }
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);

    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    o.set_write_buffer_size(opts.write_buffer_bytes);
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_bottommost_compression_type(DBCompressionType::Lz4);
    o.set_level_compaction_dynamic_level_bytes(true);
    match col {
        Column::Kv => {
            // Revision keys only grow (append-mostly) and are looked up by exact key,
            // found through mvcc's in-memory index: the lookups hit, so the bottommost
            // level (most of the data) needs no filter, and a memtable bloom helps
            // lookups of recent revisions.
            o.set_optimize_filters_for_hits(true);
            if opts.bloom_bits_per_key > 0.0 {
                o.set_memtable_whole_key_filtering(true);
                o.set_memtable_prefix_bloom_ratio(0.02);
            }
        }
        Column::RaftLog => {
            // A FIFO log: appended at the tail, truncated at the head by range deletes.
            // Level compaction (not RocksDB's FIFO style, which drops data by size) with
            // small files lets truncated ranges be dropped without rewriting much.
            o.set_target_file_size_base(16 * MIB as u64);
        }
        Column::Meta | Column::Lease | Column::Auth | Column::Members | Column::Alarm => {}
    }
    o
}

impl Backend for RocksBackend {
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get_cf(self.cf(col)?, key)?)
    }

    fn multi_get(&self, col: Column, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let cf = self.cf(col)?;
        self.db
            .batched_multi_get_cf(cf, keys.iter().copied(), false)
            .into_iter()
            .map(|r| Ok(r?.map(|v| v.to_vec())))
            .collect()
    }

    /// The values stay pinned in RocksDB's blocks while `visit` reads them; the blocks do
    /// not enter the block cache.
    fn visit_once(
        &self,
        col: Column,
        keys: &[&[u8]],
        visit: &mut dyn FnMut(Option<&[u8]>),
    ) -> Result<()> {
        let cf = self.cf(col)?;
        let mut ro = ReadOptions::default();
        ro.fill_cache(false);
        for r in self
            .db
            .batched_multi_get_cf_opt(cf, keys.iter().copied(), false, &ro)
        {
            visit(r?.as_deref());
        }
        Ok(())
    }

    fn scan<'a>(
        &'a self,
        col: Column,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
    ) -> Result<ScanIter<'a>> {
        let cf = self.cf(col)?;
        if end.is_some_and(|end| start >= end) {
            return Ok(Box::new(std::iter::empty()));
        }
        let mut ro = ReadOptions::default();
        if start.is_empty() && end.is_none() {
            // A whole-column scan (index rebuild, hash, defragment) reads everything once:
            // it would only evict the hot blocks from the cache.
            ro.fill_cache(false);
        }
        // The bounds make RocksDB stop at `end` going forward and at `start` going back,
        // and make SeekToLast land on the last key below `end`.
        ro.set_iterate_lower_bound(start);
        if let Some(end) = end {
            ro.set_iterate_upper_bound(end);
        }
        let mut raw = self.db.raw_iterator_cf_opt(cf, ro);
        if reverse {
            raw.seek_to_last();
        } else {
            raw.seek(start);
        }
        Ok(Box::new(RocksScan {
            raw,
            reverse,
            done: false,
        }))
    }

    fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut wb = rocksdb::WriteBatch::default();
        for op in batch.into_ops() {
            match op {
                BatchOp::Put(col, k, v) => wb.put_cf(self.cf(col)?, k, v),
                BatchOp::Delete(col, k) => wb.delete_cf(self.cf(col)?, k),
                BatchOp::DeleteRange(col, start, end) => {
                    // RocksDB rejects empty or inverted ranges; they delete nothing.
                    if start < end {
                        wb.delete_range_cf(self.cf(col)?, start, end);
                    }
                }
            }
        }
        let mut wo = WriteOptions::default();
        if self.disable_wal {
            wo.disable_wal(true);
            self.db.write_opt(wb, &wo)?;
            if sync {
                self.flush_memtables()?;
            }
        } else {
            wo.set_sync(sync);
            self.db.write_opt(wb, &wo)?;
        }
        Ok(())
    }

    /// With the WAL: fsyncs it. Without: flushes every memtable to SST files.
    fn sync(&self) -> Result<()> {
        if self.disable_wal {
            self.flush_memtables()
        } else {
            Ok(self.db.flush_wal(true)?)
        }
    }

    /// A RocksDB checkpoint (hard links to the SSTs plus copies of the MANIFEST and live
    /// WAL; memtables are flushed first). Open it with [`RocksBackend::open`].
    fn checkpoint(&self, dir: &Path) -> Result<()> {
        if dir.exists() {
            return Err(BackendError::CheckpointExists(dir.to_path_buf()));
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)?;
        Ok(())
    }

    /// Flushes memtables, then fully compacts every column family (bottommost level
    /// included), which drops deleted and overwritten data and range tombstones.
    fn defragment(&self) -> Result<()> {
        self.flush_memtables()?;
        let mut co = CompactOptions::default();
        co.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        co.set_exclusive_manual_compaction(true);
        for col in Column::ALL {
            self.db
                .compact_range_cf_opt(self.cf(col)?, None::<&[u8]>, None::<&[u8]>, &co);
        }
        Ok(())
    }

    /// `total_bytes`: the sizes of the data files in the directory (SSTs, WAL, MANIFEST,
    /// OPTIONS; not RocksDB's info `LOG`s) plus the memtables (without a WAL, unflushed
    /// writes are on no file yet, and the quota must see them). `in_use_bytes`: RocksDB's
    /// `estimate-live-data-size` plus the memtables, summed over the column families.
    fn size(&self) -> Result<BackendSize> {
        let mut in_use = 0u64;
        let mut memtables = 0u64;
        for col in Column::ALL {
            let cf = self.cf(col)?;
            in_use += self.int_property(cf, "rocksdb.estimate-live-data-size")?;
            memtables += self.int_property(cf, "rocksdb.cur-size-all-mem-tables")?;
        }
        in_use += memtables;
        let mut total = memtables;
        for entry in std::fs::read_dir(&self.path)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == "LOCK" || name.starts_with("LOG") {
                continue;
            }
            // Compactions delete files concurrently; a vanished file counts as zero.
            match entry.metadata() {
                Ok(meta) if meta.is_file() => total += meta.len(),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(BackendSize {
            total_bytes: total.max(in_use),
            in_use_bytes: in_use,
        })
    }
}

/// A scan over RocksDB: a raw iterator bounded by its read options.
struct RocksScan<'a> {
    raw: DBRawIteratorWithThreadMode<'a, Db>,
    reverse: bool,
    done: bool,
}

impl Iterator for RocksScan<'_> {
    type Item = Result<KvPair>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some((k, v)) = self.raw.item() {
            let pair: KvPair = (k.into(), v.into());
            if self.reverse {
                self.raw.prev();
            } else {
                self.raw.next();
            }
            return Some(Ok(pair));
        }
        self.done = true;
        self.raw.status().err().map(|e| Err(e.into()))
    }
}

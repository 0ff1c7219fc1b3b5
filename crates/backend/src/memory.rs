//! [`MemBackend`]: an in-memory [`Backend`] for tests.
//!
//! One `BTreeMap` per [`Column`], all under one lock, so a batch applies atomically.
//! Scans copy the matching range when they start (a snapshot, as RocksDB iterators are),
//! so holding a scan never blocks writers. A checkpoint is one file, [`CHECKPOINT_FILE`],
//! inside the checkpoint directory; read it back with [`MemBackend::open_checkpoint`].
//!
//! Checkpoint file format (integers little-endian):
//! `b"OXCDMEM1"`, record count `u64`, records, then the CRC-32 of everything before it.
//! A record is the column index in [`Column::ALL`] (`u8`), key length (`u32`), key,
//! value length (`u32`), value.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

use parking_lot::RwLock;

use crate::{
    Backend, BackendError, BackendSize, BatchOp, Column, KvPair, Result, ScanIter, WriteBatch,
};

/// Name of the single file a [`MemBackend`] checkpoint directory holds.
pub const CHECKPOINT_FILE: &str = "mem-backend.snapshot";

const MAGIC: &[u8; 8] = b"OXCDMEM1";

type Table = BTreeMap<Vec<u8>, Vec<u8>>;

/// One decoded checkpoint record: column, key, value.
type Record = (Column, Vec<u8>, Vec<u8>);

/// An in-memory backend (tests only). Nothing survives the value being dropped except
/// what [`Backend::checkpoint`] wrote.
#[derive(Debug, Default)]
pub struct MemBackend {
    tables: RwLock<[Table; Column::ALL.len()]>,
}

/// The slot of `col`: its position in [`Column::ALL`], which lists the variants in
/// declaration order (checked by a unit test below).
fn index(col: Column) -> usize {
    col as usize
}

impl MemBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads a checkpoint directory written by [`Backend::checkpoint`] on a `MemBackend`.
    pub fn open_checkpoint(dir: &Path) -> Result<MemBackend> {
        let data = std::fs::read(dir.join(CHECKPOINT_FILE))?;
        let backend = MemBackend::new();
        {
            let mut tables = backend.tables.write();
            for (col, key, value) in decode(&data)? {
                tables[index(col)].insert(key, value);
            }
        }
        Ok(backend)
    }

    fn encode(&self) -> Vec<u8> {
        let tables = self.tables.read();
        let count: usize = tables.iter().map(BTreeMap::len).sum();
        let mut out = Vec::with_capacity(16 + self.payload_bytes(&tables[..]) as usize + 9 * count);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(count as u64).to_le_bytes());
        for (i, table) in tables.iter().enumerate() {
            for (k, v) in table {
                out.push(i as u8);
                out.extend_from_slice(&(k.len() as u32).to_le_bytes());
                out.extend_from_slice(k);
                out.extend_from_slice(&(v.len() as u32).to_le_bytes());
                out.extend_from_slice(v);
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn payload_bytes(&self, tables: &[Table]) -> u64 {
        tables
            .iter()
            .flat_map(|t| t.iter())
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum()
    }
}

/// A cursor over a checkpoint file's bytes.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(BackendError::Corruption(
                "mem checkpoint is truncated".into(),
            ));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn bytes(&mut self) -> Result<Vec<u8>> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        Ok(self.take(len)?.to_vec())
    }
}

fn decode(data: &[u8]) -> Result<Vec<Record>> {
    let corrupt = |what: &str| BackendError::Corruption(format!("mem checkpoint: {what}"));
    if data.len() < MAGIC.len() + 8 + 4 || !data.starts_with(MAGIC) {
        return Err(corrupt("bad header"));
    }
    let (body, crc) = data.split_at(data.len() - 4);
    let mut crc_bytes = [0u8; 4];
    crc_bytes.copy_from_slice(crc);
    if crc32fast::hash(body) != u32::from_le_bytes(crc_bytes) {
        return Err(corrupt("checksum mismatch"));
    }
    let mut r = Reader {
        buf: &body[MAGIC.len()..],
    };
    let count = u64::from_le_bytes(r.array()?);
    let mut records = Vec::new();
    for _ in 0..count {
        let [col] = r.array::<1>()?;
        let col = *Column::ALL
            .get(col as usize)
            .ok_or_else(|| corrupt("unknown column"))?;
        let key = r.bytes()?;
        let value = r.bytes()?;
        records.push((col, key, value));
    }
    if !r.buf.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(records)
}

impl Backend for MemBackend {
    fn get(&self, col: Column, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.tables.read()[index(col)].get(key).cloned())
    }

    fn multi_get(&self, col: Column, keys: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>> {
        let tables = self.tables.read();
        let table = &tables[index(col)];
        Ok(keys.iter().map(|k| table.get(*k).cloned()).collect())
    }

    fn scan<'a>(
        &'a self,
        col: Column,
        start: &[u8],
        end: Option<&[u8]>,
        reverse: bool,
    ) -> Result<ScanIter<'a>> {
        if end.is_some_and(|end| start >= end) {
            return Ok(Box::new(std::iter::empty()));
        }
        let upper = end.map_or(Bound::Unbounded, Bound::Excluded);
        let tables = self.tables.read();
        let range = tables[index(col)].range::<[u8], _>((Bound::Included(start), upper));
        let pairs: Vec<KvPair> = if reverse {
            range
                .rev()
                .map(|(k, v)| (k.as_slice().into(), v.as_slice().into()))
                .collect()
        } else {
            range
                .map(|(k, v)| (k.as_slice().into(), v.as_slice().into()))
                .collect()
        };
        Ok(Box::new(pairs.into_iter().map(Ok)))
    }

    fn write(&self, batch: WriteBatch, _sync: bool) -> Result<()> {
        let mut tables = self.tables.write();
        for op in batch.into_ops() {
            match op {
                BatchOp::Put(col, k, v) => {
                    tables[index(col)].insert(k, v);
                }
                BatchOp::Delete(col, k) => {
                    tables[index(col)].remove(&k);
                }
                BatchOp::DeleteRange(col, start, end) => {
                    if start < end {
                        let table = &mut tables[index(col)];
                        let doomed: Vec<Vec<u8>> =
                            table.range(start..end).map(|(k, _)| k.clone()).collect();
                        for k in doomed {
                            table.remove(&k);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Nothing to do: memory is the only medium.
    fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// Creates `dir` and writes [`CHECKPOINT_FILE`] into it (fsynced).
    fn checkpoint(&self, dir: &Path) -> Result<()> {
        if dir.exists() {
            return Err(BackendError::CheckpointExists(dir.to_path_buf()));
        }
        let data = self.encode();
        std::fs::create_dir_all(dir)?;
        let file = std::fs::File::create(dir.join(CHECKPOINT_FILE))?;
        std::io::Write::write_all(&mut &file, &data)?;
        file.sync_all()?;
        Ok(())
    }

    /// Nothing to reclaim: deleted entries are freed at once.
    fn defragment(&self) -> Result<()> {
        Ok(())
    }

    /// Both sizes are the sum of key and value bytes.
    fn size(&self) -> Result<BackendSize> {
        let bytes = self.payload_bytes(&self.tables.read()[..]);
        Ok(BackendSize {
            total_bytes: bytes,
            in_use_bytes: bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_column_all() {
        for (i, col) in Column::ALL.into_iter().enumerate() {
            assert_eq!(index(col), i);
        }
    }

    #[test]
    fn decode_rejects_damage() {
        let b = MemBackend::new();
        let mut batch = WriteBatch::new();
        batch.put(Column::Kv, b"k".to_vec(), b"v".to_vec());
        b.write(batch, false).unwrap();
        let good = b.encode();
        assert_eq!(
            decode(&good).unwrap(),
            vec![(Column::Kv, b"k".to_vec(), b"v".to_vec())]
        );

        let mut flipped = good.clone();
        flipped[MAGIC.len() + 9] ^= 0xff;
        assert!(matches!(decode(&flipped), Err(BackendError::Corruption(_))));
        assert!(matches!(
            decode(&good[..good.len() - 1]),
            Err(BackendError::Corruption(_))
        ));
        assert!(matches!(
            decode(b"garbage"),
            Err(BackendError::Corruption(_))
        ));
    }
}

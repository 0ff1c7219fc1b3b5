//! [`WriteBatch`]: a backend-independent, ordered list of mutations.
//!
//! The batch is a plain value rather than an associated type of [`crate::Backend`] so that
//! mvcc, lease and auth can stage into the same batch without being generic over the
//! backend. Operations apply in the order they were added.

use crate::Column;

/// One staged mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOp {
    /// Sets `key` to `value` in the column.
    Put(Column, Vec<u8>, Vec<u8>),
    /// Removes `key` from the column.
    Delete(Column, Vec<u8>),
    /// Removes every key in `[start, end)` of the column.
    DeleteRange(Column, Vec<u8>, Vec<u8>),
}

/// An ordered list of mutations written atomically by [`crate::Backend::write`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
    bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stages a put.
    pub fn put(&mut self, col: Column, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        let (key, value) = (key.into(), value.into());
        self.bytes += key.len() + value.len();
        self.ops.push(BatchOp::Put(col, key, value));
    }

    /// Stages a delete.
    pub fn delete(&mut self, col: Column, key: impl Into<Vec<u8>>) {
        let key = key.into();
        self.bytes += key.len();
        self.ops.push(BatchOp::Delete(col, key));
    }

    /// Stages a range delete of `[start, end)`.
    pub fn delete_range(
        &mut self,
        col: Column,
        start: impl Into<Vec<u8>>,
        end: impl Into<Vec<u8>>,
    ) {
        let (start, end) = (start.into(), end.into());
        self.bytes += start.len() + end.len();
        self.ops.push(BatchOp::DeleteRange(col, start, end));
    }

    /// The staged operations, in order.
    pub fn ops(&self) -> &[BatchOp] {
        &self.ops
    }

    /// Consumes the batch into its operations.
    pub fn into_ops(self) -> Vec<BatchOp> {
        self.ops
    }

    /// Number of staged operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether nothing is staged.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Approximate payload size in bytes (keys plus values).
    pub fn size_bytes(&self) -> usize {
        self.bytes
    }
}

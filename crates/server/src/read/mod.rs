//! Read paths. [`linearizable`]: ReadIndex batching for linearizable reads.

pub mod linearizable;

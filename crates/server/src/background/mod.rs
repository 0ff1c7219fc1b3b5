//! Background tasks of a running member.
//!
//! - [`size_sampler`]: samples the backend size for the quota, Status and metrics.
//! - [`lease_revoker`]: the leader's lease expiry and checkpoints.
//! - [`compactor`]: `--auto-compaction-mode` / `--auto-compaction-retention`.

pub mod compactor;
pub mod lease_revoker;
pub mod size_sampler;

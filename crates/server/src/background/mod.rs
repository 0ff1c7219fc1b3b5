//! Background tasks of a running member.
//!
//! - [`size_sampler`]: samples the backend size for the quota, Status and metrics.
//! - [`compactor`]: `--auto-compaction-mode` / `--auto-compaction-retention`.

pub mod compactor;
pub mod size_sampler;

//! Background tasks of a running member.
//!
//! - [`size_sampler`]: samples the backend size for the quota, Status and metrics.
//! - [`lease_revoker`]: the leader's lease expiry and checkpoints.
//! - [`compactor`]: `--auto-compaction-mode` / `--auto-compaction-retention`.
//! - [`leader_monitor`]: cancels `hasleader` streams after a long leaderless spell.
//! - [`publish`]: publishes this member's name and client URLs through raft.
//! - [`peer_probe`]: round-trip probes of every peer.
//! - [`peer_watch`]: follows membership changes (transport resets, own removal).
//! - [`corrupt_check`]: the leader's periodic HashKV comparison with its followers
//!   (`--experimental-corrupt-check-time`), which raises the CORRUPT alarm.

pub mod compactor;
pub mod corrupt_check;
pub mod leader_monitor;
pub mod lease_revoker;
pub mod peer_probe;
pub mod peer_watch;
pub mod publish;
pub mod size_sampler;

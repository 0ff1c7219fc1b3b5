//! The fuzz targets: [`Target`] and the registry [`ALL`].
//!
//! Every target is a function of the input bytes that must never panic; it counts what
//! the input led to in an [`Outcomes`]. A panic (including a failed `oracle:` check, which
//! means a wrong answer was served) is a failure the driver reports and saves.

pub mod gateway_json;
pub mod grpc_decode;
pub mod raftlog_files;
pub mod state_decode;

use crate::outcome::Outcomes;

/// One fuzz target.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The name on the command line and the corpus directory (`corpus/<name>/`).
    pub name: &'static str,
    /// Runs one input.
    pub run: fn(&[u8], &mut Outcomes),
    /// Longest input the mutator produces.
    pub max_len: usize,
    /// Tokens the mutator inserts whole.
    pub dict: &'static [&'static [u8]],
    /// Slow (one child process per input): `all` runs it with `--file-inputs`.
    pub heavy: bool,
    /// The driver's hang timeout is at least this long for this target.
    pub min_timeout: std::time::Duration,
    /// The seed corpus, as `(file name, bytes)` (see `oxcd-fuzz --write-corpus`).
    pub seeds: fn() -> Vec<(String, Vec<u8>)>,
}

/// Longest input of the fast targets (64 KiB).
pub const MAX_INPUT: usize = 64 * 1024;

/// Every target, fast ones first.
pub const ALL: [Target; 4] = [
    grpc_decode::TARGET,
    gateway_json::TARGET,
    state_decode::TARGET,
    raftlog_files::TARGET,
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    ALL.iter().find(|t| t.name == name)
}

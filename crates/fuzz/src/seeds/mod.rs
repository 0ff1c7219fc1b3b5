//! The seed corpora: generated once by `oxcd-fuzz --write-corpus` into
//! `crates/fuzz/corpus/<target>/` and checked in, so runs are reproducible.
//!
//! - [`requests`]: sample client sessions, encoded by [`grpc`] (protobuf frames) and
//!   [`gateway`] (JSON bodies).
//! - [`state`]: dumps of a real member's durable state.
//! - [`files`]: damage descriptors for the template data directory.

pub mod files;
pub mod gateway;
pub mod grpc;
pub mod requests;
pub mod state;

use std::path::Path;

use crate::targets::ALL;

/// Writes every target's seeds under `root/<target>/`, replacing the `.bin` files there;
/// returns the number of files per target.
pub fn write_corpus(root: &Path) -> std::io::Result<Vec<(&'static str, usize)>> {
    let mut written = Vec::new();
    for t in ALL {
        let dir = root.join(t.name);
        std::fs::create_dir_all(&dir)?;
        for e in std::fs::read_dir(&dir)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "bin") {
                std::fs::remove_file(p)?;
            }
        }
        let seeds = (t.seeds)();
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(name), bytes)?;
        }
        written.push((t.name, seeds.len()));
    }
    Ok(written)
}

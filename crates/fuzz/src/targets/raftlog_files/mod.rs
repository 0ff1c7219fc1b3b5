//! `raftlog-files`: damaged data directories, reopened by a real member.
//!
//! Once per process, [`template`] writes a pristine data directory with a real server
//! (state DB and raft log, both RocksDB; see [`template`](self::template)). For each input
//! the directory is copied, up to [`MAX_CORRUPTIONS`] frames each damage one of its files
//! ([`Corruption`]: truncate, overwrite, xor, zero, delete, append at a chosen offset),
//! and a CHILD PROCESS restarts the member on the copy ([`reopen`]), so a RocksDB abort
//! or a crash cannot take the driver down. The child's verdict becomes the outcome: a
//! clean error, a full or an earlier (lost-writes) recovery, or a member that never got
//! ready. A panic, a signal, a hang, or a member serving a key space the template never
//! had is a failure.
//!
//! The template is written anew by every run, and RocksDB's files differ a little from
//! run to run (database IDs, timestamps), so an input is only approximately
//! reproducible; a failure keeps its damaged copy (`failed-<n>` in the scratch
//! directory) for an exact replay with `oxcd-fuzz --child-reopen <copy> <states.json>`.

pub mod reopen;
pub mod template;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::frames::Frames;
use crate::outcome::Outcomes;
use crate::targets::Target;

/// The target.
pub const TARGET: Target = Target {
    name: "raftlog-files",
    run,
    max_len: 256,
    dict: &[],
    heavy: true,
    min_timeout: CHILD_TIMEOUT.saturating_mul(2),
    seeds: crate::seeds::files::seeds,
};

/// Files damaged per input at most (the first frames).
pub const MAX_CORRUPTIONS: usize = 4;
/// A child that has not exited after this long is a hang.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// The pristine directory every input starts from.
#[derive(Debug)]
pub struct Template {
    /// The data directory.
    pub data: PathBuf,
    /// `states.json`.
    pub states: PathBuf,
    /// Its data files and their sizes (see [`template::data_files`]).
    pub files: Vec<(PathBuf, u64)>,
}

static TEMPLATE: OnceLock<Result<Template, String>> = OnceLock::new();
static RUNS: AtomicU64 = AtomicU64::new(0);

/// The `oxcd-fuzz` executable children run (`OXCD_FUZZ_BIN`, else this one).
fn fuzz_exe() -> PathBuf {
    std::env::var_os("OXCD_FUZZ_BIN")
        .map(PathBuf::from)
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_else(|| PathBuf::from("oxcd-fuzz"))
}

/// This process's scratch directory (removed by [`cleanup`]).
pub fn work_root() -> PathBuf {
    std::env::temp_dir().join(format!("oxcd-fuzz-{}", std::process::id()))
}

/// Removes the scratch directory, keeping directories of failed inputs.
pub fn cleanup() {
    let root = work_root();
    let Ok(entries) = std::fs::read_dir(&root) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with("failed-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let _ = std::fs::remove_dir(&root);
}

/// The template, written by a child process on first use.
pub fn template() -> &'static Template {
    let t = TEMPLATE.get_or_init(|| {
        let root = work_root().join("template");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
        let out = Command::new(fuzz_exe())
            .arg("--child-template")
            .arg(&root)
            .output()
            .map_err(|e| format!("spawning the template writer: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "the template writer failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let data = root.join("data");
        let files = template::data_files(&data).map_err(|e| e.to_string())?;
        Ok(Template {
            states: root.join("states.json"),
            data,
            files,
        })
    });
    match t {
        Ok(t) => t,
        Err(e) => panic!("raftlog-files: no template: {e}"),
    }
}

/// One damage to one file, decoded from a frame `[file: tag][op: u8][offset: u32 LE]
/// [data...]`. An offset with the top bit set is a fraction of the file's length
/// (`(offset & 0x7fff_ffff) / 2^31`), otherwise it is taken modulo the length + 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// Index into [`Template::files`] (modulo their number).
    pub file: u8,
    /// `op % 6`: truncate, overwrite, xor, zero, delete, append.
    pub op: u8,
    /// The offset, as described above.
    pub offset: u32,
    /// Bytes to write, xor or append; for zero, a little-endian `u16` count.
    pub data: Vec<u8>,
}

impl Corruption {
    /// Decodes one frame.
    pub fn from_frame(tag: u8, p: &[u8]) -> Self {
        let op = p.first().copied().unwrap_or(0);
        let mut off = [0u8; 4];
        let raw = p.get(1..p.len().min(5)).unwrap_or_default();
        off[..raw.len()].copy_from_slice(raw);
        Corruption {
            file: tag,
            op,
            offset: u32::from_le_bytes(off),
            data: p.get(5..).unwrap_or_default().to_vec(),
        }
    }

    /// Encodes the frame payload (the tag is [`Corruption::file`]).
    pub fn payload(&self) -> Vec<u8> {
        let mut p = vec![self.op];
        p.extend_from_slice(&self.offset.to_le_bytes());
        p.extend_from_slice(&self.data);
        p
    }

    fn at(&self, len: u64) -> u64 {
        if self.offset & 0x8000_0000 != 0 {
            (u64::from(self.offset & 0x7fff_ffff) * len) >> 31
        } else {
            u64::from(self.offset) % (len + 1)
        }
    }

    /// Applies the damage to the copy in `dir`; returns the outcome label.
    fn apply(&self, dir: &Path, files: &[(PathBuf, u64)]) -> std::io::Result<&'static str> {
        let (rel, _) = &files[usize::from(self.file) % files.len()];
        let path = dir.join(rel);
        if !path.exists() {
            return Ok("damage: file already deleted");
        }
        let len = std::fs::metadata(&path)?.len();
        let at = self.at(len);
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)?;
        let label = match self.op % 6 {
            0 => {
                f.set_len(at)?;
                "damage: truncate"
            }
            1 => {
                f.seek(SeekFrom::Start(at))?;
                f.write_all(if self.data.is_empty() {
                    &[0xff]
                } else {
                    &self.data
                })?;
                "damage: overwrite"
            }
            2 => {
                let mut buf = vec![0u8; self.data.len().max(1)];
                f.seek(SeekFrom::Start(at))?;
                let n = f.read(&mut buf)?;
                for (i, b) in buf[..n].iter_mut().enumerate() {
                    *b ^= self.data.get(i).copied().unwrap_or(0x01);
                }
                f.seek(SeekFrom::Start(at))?;
                f.write_all(&buf[..n])?;
                "damage: xor"
            }
            3 => {
                let count = match self.data.as_slice() {
                    [a, b, ..] => u64::from(u16::from_le_bytes([*a, *b])),
                    [a] => u64::from(*a),
                    [] => 1,
                };
                let count = count.max(1).min(len - at.min(len));
                f.seek(SeekFrom::Start(at))?;
                f.write_all(&vec![0u8; count as usize])?;
                "damage: zero"
            }
            4 => {
                drop(f);
                std::fs::remove_file(&path)?;
                "damage: delete"
            }
            _ => {
                f.seek(SeekFrom::End(0))?;
                f.write_all(&self.data)?;
                "damage: append"
            }
        };
        Ok(label)
    }
}

/// The label of a startup error: its first words with numbers folded, so that
/// "open db: ... 000012.sst" and "... 000031.sst" count as one outcome.
fn error_label(detail: &str) -> String {
    let mut label = String::from("reopen: clean error: ");
    let mut last_digit = false;
    for c in detail
        .split(": ")
        .take(3)
        .collect::<Vec<_>>()
        .join(": ")
        .chars()
    {
        if c.is_ascii_digit() {
            if !last_digit {
                label.push('N');
            }
            last_digit = true;
        } else {
            label.push(c);
            last_digit = false;
        }
        if label.len() > 100 {
            break;
        }
    }
    label
}

fn read_all(pipe: Option<impl Read>) -> String {
    let mut s = String::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_string(&mut s);
    }
    s
}

/// Runs one input (see the module docs).
pub fn run(data: &[u8], out: &mut Outcomes) {
    let t = template();
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = work_root().join(format!("run-{n}"));
    let _ = std::fs::remove_dir_all(&dir);
    template::copy_tree(&t.data, &dir).expect("copy the template");
    for (tag, payload) in Frames::new(data).take(MAX_CORRUPTIONS) {
        match Corruption::from_frame(tag, payload).apply(&dir, &t.files) {
            Ok(label) => out.add(label),
            Err(_) => out.add("damage: io error"),
        }
    }
    let failed = |why: String| -> ! {
        let keep = work_root().join(format!("failed-{n}"));
        let _ = std::fs::rename(&dir, &keep);
        panic!("{why} (damaged copy kept in {})", keep.display());
    };
    let mut child = Command::new(fuzz_exe())
        .arg("--child-reopen")
        .arg(&dir)
        .arg(&t.states)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the reopen child");
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > CHILD_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                let phase = read_all(child.stderr.take());
                let phase = phase.lines().rev().find_map(|l| l.strip_prefix("PHASE "));
                failed(format!(
                    "the reopen child hung for {CHILD_TIMEOUT:?}, in phase {}",
                    phase.unwrap_or("(none)")
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => failed(format!("waiting for the reopen child: {e}")),
        }
    };
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let tail: String = {
        let lines: Vec<&str> = stderr.lines().collect();
        lines[lines.len().saturating_sub(8)..].join(" | ")
    };
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        failed(format!(
            "the reopen child was killed by signal {sig}: {tail}"
        ));
    }
    if status.code() != Some(0) {
        failed(format!("the reopen child exited with {status}: {tail}"));
    }
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("VERDICT ")) else {
        failed(format!("the reopen child gave no verdict: {tail}"));
    };
    let (kind, detail) = line.split_once(": ").unwrap_or((line, ""));
    match kind {
        "WRONG" => failed(format!("served a wrong answer: {detail}")),
        "error" => out.add(&error_label(detail)),
        "full" => out.add("reopen: recovered the full state"),
        "earlier" => out.add("reopen: recovered an earlier state (lost writes)"),
        "stuck" => out.add("reopen: started but never ready"),
        other => out.add(&format!("reopen: {other}")),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corruption_frames_round_trip_and_offsets() {
        let c = Corruption {
            file: 3,
            op: 2,
            offset: 0x8000_0000 | (1 << 30),
            data: vec![1, 2],
        };
        assert_eq!(Corruption::from_frame(3, &c.payload()), c);
        assert_eq!(c.at(1000), 500);
        let abs = Corruption { offset: 1005, ..c };
        assert_eq!(abs.at(1000), 1005 % 1001);
        assert_eq!(Corruption::from_frame(0, &[]).offset, 0);
        assert_eq!(Corruption::from_frame(0, &[1, 2]).offset, 2);
    }

    #[test]
    fn error_labels_fold_numbers() {
        assert_eq!(
            error_label("open db: Corruption: 000012.sst: bad block"),
            "reopen: clean error: open db: Corruption: N.sst"
        );
        assert_eq!(
            error_label("raft log: commit index 17 is beyond 9"),
            "reopen: clean error: raft log: commit index N is beyond N"
        );
    }
}

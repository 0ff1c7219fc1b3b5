//! Progress of the long commands (`snapshot save`, `snapshot restore`, `defrag`), on stderr
//! only, so stdout stays etcdctl's byte for byte.
//!
//! When stderr is a terminal: an `indicatif` bar (bytes, total, rate, time left) or, when
//! the size is not known (defrag), a spinner with the elapsed time. Otherwise (a pipe, a
//! file, CI): plain lines, one every [`interval`] (5 s; `OXCDCTL_PROGRESS_INTERVAL=500ms`
//! changes it) and one at the end with the bytes and the rate. Every such line starts with
//! [`LINE_PREFIX`], so scripts (and the differential tests) can tell them from etcdctl's:
//!
//! ```text
//! progress: snapshot save 127.0.0.1:2379: 1.1 GB of 2.7 GB (41%), 84 MB/s
//! progress: snapshot save 127.0.0.1:2379: done: 2.7 GB in 18.2s, 148 MB/s
//! ```

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::gotext::{human_bytes, parse_duration};
use crate::print::eprintln;

/// How every plain progress line starts.
pub const LINE_PREFIX: &str = "progress: ";

/// How often a command waiting on one call (defrag) checks whether a line is due.
pub const TICK: Duration = Duration::from_millis(250);

/// Time between two plain progress lines.
pub fn interval() -> Duration {
    std::env::var("OXCDCTL_PROGRESS_INTERVAL")
        .ok()
        .and_then(|v| parse_duration(&v).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(5))
}

enum Mode {
    Bar(ProgressBar),
    Lines { every: Duration, last: Instant },
}

/// One command's progress: stages of bytes, then [`Reporter::finish`].
pub struct Reporter {
    /// What is being done, e.g. `snapshot save 127.0.0.1:2379`.
    what: String,
    mode: Mode,
    started: Instant,
    stage: String,
    stage_started: Instant,
    total: Option<u64>,
    done: u64,
}

/// Bytes per second over `elapsed`, as text (`84 MB/s`).
fn rate(bytes: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    format!("{}/s", human_bytes((bytes as f64 / secs) as u64))
}

impl Reporter {
    /// A reporter for `what`, drawn as a bar if stderr is a terminal.
    pub fn new(what: impl Into<String>) -> Reporter {
        let mode = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(200));
            Mode::Bar(bar)
        } else {
            Mode::Lines {
                every: interval(),
                last: Instant::now(),
            }
        };
        let now = Instant::now();
        let mut r = Reporter {
            what: what.into(),
            mode,
            started: now,
            stage: String::new(),
            stage_started: now,
            total: None,
            done: 0,
        };
        r.style();
        r
    }

    fn label(&self) -> String {
        if self.stage.is_empty() {
            self.what.clone()
        } else {
            format!("{}: {}", self.what, self.stage)
        }
    }

    fn style(&mut self) {
        let label = self.label();
        let Mode::Bar(bar) = &self.mode else { return };
        let template = match self.total {
            Some(_) => "{msg} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ({eta} left)",
            None => "{spinner} {msg} {decimal_bytes} {elapsed}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_length(self.total.unwrap_or(0));
        if self.total.is_none() {
            bar.unset_length();
        }
        bar.set_position(0);
        bar.reset_elapsed();
        bar.reset_eta();
        bar.set_message(label);
    }

    /// A stage begins (`name` may be empty: the command has one stage) of `total` bytes,
    /// if known.
    pub fn stage(&mut self, name: &str, total: Option<u64>) {
        self.stage = name.to_string();
        self.stage_started = Instant::now();
        self.total = total;
        self.done = 0;
        self.style();
    }

    /// Sets the total of the current stage (learnt after it began).
    pub fn set_total(&mut self, total: u64) {
        self.total = Some(total);
        if let Mode::Bar(bar) = &self.mode {
            bar.set_length(total);
        }
        self.style_keep_position();
    }

    fn style_keep_position(&mut self) {
        let done = self.done;
        self.style();
        if let Mode::Bar(bar) = &self.mode {
            bar.set_position(done);
        }
    }

    /// The current stage has done `done` bytes in all.
    pub fn position(&mut self, done: u64) {
        self.done = done;
        match &mut self.mode {
            Mode::Bar(bar) => bar.set_position(done),
            Mode::Lines { .. } => self.tick(),
        }
    }

    /// Prints a plain line if one is due (the bar draws itself).
    pub fn tick(&mut self) {
        let Mode::Lines { every, last } = &mut self.mode else {
            return;
        };
        if last.elapsed() < *every {
            return;
        }
        *last = Instant::now();
        let elapsed = self.stage_started.elapsed();
        let line = match self.total {
            Some(total) if total > 0 => format!(
                "{}{}: {} of {} ({}%), {}",
                LINE_PREFIX,
                self.label(),
                human_bytes(self.done),
                human_bytes(total),
                self.done.min(total) * 100 / total,
                rate(self.done, elapsed)
            ),
            _ if self.done > 0 => format!(
                "{}{}: {}, {}",
                LINE_PREFIX,
                self.label(),
                human_bytes(self.done),
                rate(self.done, elapsed)
            ),
            _ => format!(
                "{}{}: {:.1}s",
                LINE_PREFIX,
                self.label(),
                elapsed.as_secs_f64()
            ),
        };
        eprintln(&line);
    }

    /// The command is done with `bytes` (its size: bytes saved, restored, defragmented);
    /// `extra` is added to the line (e.g. the db size after a defrag). The bar is left
    /// showing it; the plain mode prints it.
    pub fn finish(self, bytes: u64, extra: &str) {
        let elapsed = self.started.elapsed();
        let text = format!(
            "{}: done: {} in {:.1}s, {}{}",
            self.what,
            human_bytes(bytes),
            elapsed.as_secs_f64(),
            rate(bytes, elapsed),
            extra
        );
        match &self.mode {
            Mode::Bar(bar) => {
                bar.finish_and_clear();
                eprintln(&text);
            }
            Mode::Lines { .. } => eprintln(&format!("{LINE_PREFIX}{text}")),
        }
    }

    /// Runs `f` (which prints a log line) with the bar hidden, so the two do not tear.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.mode {
            Mode::Bar(bar) => bar.suspend(f),
            Mode::Lines { .. } => f(),
        }
    }
}

/// A reporter dropped unfinished (the command failed or timed out) takes its bar away, so
/// the error line that follows stands alone.
impl Drop for Reporter {
    fn drop(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            if !bar.is_finished() {
                bar.finish_and_clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_etcdctl_sizes() {
        assert_eq!(rate(84_000_000, Duration::from_secs(1)), "84 MB/s");
        assert_eq!(rate(0, Duration::from_secs(3)), "0 B/s");
    }
}

//! The driver: generates a target's inputs, runs each inside `catch_unwind`, saves the
//! ones that panic, and stops the process on a hang.
//!
//! # Determinism
//! Input `i` of a run is a pure function of `(seed, target, i)` and the corpus: the
//! first `corpus.len()` inputs are the corpus entries unchanged, every later one is a
//! corpus entry mutated by [`Mutator`] with [`Rng::for_input`]. Workers take indexes in
//! chunks, so the set of inputs does not depend on `--jobs` (their order does).
//!
//! # Failures
//! A panic (a bug, or a failed `oracle:` check) is caught and counted; the first input
//! of each distinct failure (by panic location and message start) is written to
//! `<crash dir>/<target>/crash-<hash>.bin` with a `.txt` beside it (message, location,
//! seed, index). A watchdog thread ends the process with status 3 when one input runs
//! longer than the timeout, after saving it as `hang-<hash>.bin`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use crate::mutate::Mutator;
use crate::outcome::Outcomes;
use crate::rng::Rng;
use crate::targets::Target;

/// How one run goes.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Inputs to run.
    pub inputs: u64,
    /// The seed of the mutations.
    pub seed: u64,
    /// Worker threads.
    pub jobs: usize,
    /// Where failing inputs are saved (`<crash_dir>/<target>/`).
    pub crash_dir: PathBuf,
    /// An input running longer than this is a hang.
    pub timeout: Duration,
    /// Print progress to stderr every this often (`None`: never).
    pub progress: Option<Duration>,
}

/// One distinct failure.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The panic message.
    pub message: String,
    /// `file:line:col` of the panic, if known.
    pub location: String,
    /// Inputs that failed this way.
    pub count: u64,
    /// Index of the first failing input.
    pub index: u64,
    /// Where the first failing input was saved.
    pub saved: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The target's name.
    pub target: &'static str,
    /// Inputs run.
    pub inputs: u64,
    /// Inputs that panicked.
    pub failed: u64,
    /// Outcome labels over every input.
    pub outcomes: Outcomes,
    /// Wall time.
    pub elapsed: Duration,
    /// Distinct failures, most frequent first.
    pub failures: Vec<Failure>,
}

impl Report {
    /// Inputs per second.
    pub fn rate(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Prints the summary; the last line is `<target>: N passed, M failed`.
    pub fn print(&self, top: usize) {
        println!(
            "== {}: {} inputs in {:.1} s ({:.0} inputs/s)",
            self.target,
            self.inputs,
            self.elapsed.as_secs_f64(),
            self.rate()
        );
        let sorted = self.outcomes.sorted();
        println!("   distinct outcomes: {}; most frequent:", sorted.len());
        for (label, n) in sorted.iter().take(top) {
            println!("   {n:>10}  {label}");
        }
        if self.failures.is_empty() {
            println!("   failures: none");
        }
        for f in &self.failures {
            println!(
                "   FAILURE x{} (first at input {}) at {}: {}",
                f.count, f.index, f.location, f.message
            );
            if let Some(p) = &f.saved {
                println!("     saved: {}", p.display());
            }
        }
        println!(
            "{}: {} passed, {} failed",
            self.target,
            self.inputs - self.failed,
            self.failed
        );
    }
}

/// Input `index` of `target` (see the module docs).
pub fn generate(target: &Target, corpus: &[Vec<u8>], seed: u64, index: u64) -> Vec<u8> {
    let n = corpus.len().max(1);
    if (index as usize) < corpus.len() {
        return corpus[index as usize].clone();
    }
    let mut rng = Rng::for_input(seed, target.name, index);
    let mut input = corpus.get(rng.below(n)).cloned().unwrap_or_default();
    let other = corpus.get(rng.below(n)).map_or(&[][..], Vec::as_slice);
    let m = Mutator {
        dict: target.dict,
        max_len: target.max_len,
    };
    m.mutate(&mut rng, &mut input, other);
    input
}

thread_local! {
    /// The location and message of the last panic on this thread.
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();
static FOREIGN_PANICS: AtomicU64 = AtomicU64::new(0);

/// Installs the driver's panic hook: it records the panic for the driver instead of
/// printing it (panics on threads the targets start are printed, the first few).
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_default();
            let message = payload_message(info.payload());
            let name = std::thread::current().name().unwrap_or("").to_string();
            if !name.starts_with("fuzz-worker")
                && FOREIGN_PANICS.fetch_add(1, Ordering::Relaxed) < 5
            {
                eprintln!("panic on thread {name:?} at {location}: {message}");
            }
            LAST_PANIC.with(|p| *p.borrow_mut() = Some((location, message)));
        }));
    });
}

fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// Runs `target` on one input; `Err((location, message))` if it panicked.
pub fn run_one(target: &Target, input: &[u8], out: &mut Outcomes) -> Result<(), (String, String)> {
    LAST_PANIC.with(|p| p.borrow_mut().take());
    match catch_unwind(AssertUnwindSafe(|| (target.run)(input, out))) {
        Ok(()) => Ok(()),
        Err(payload) => {
            let message = payload_message(payload.as_ref());
            let location = LAST_PANIC
                .with(|p| p.borrow_mut().take())
                .filter(|(_, m)| *m == message)
                .map(|(l, _)| l)
                .unwrap_or_else(|| "(another thread)".to_string());
            Err((location, message))
        }
    }
}

/// FNV-1a, for crash file names.
fn fnv64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Writes `input` as `<dir>/<prefix>-<hash>.bin` plus a `.txt` note.
fn save(dir: &Path, prefix: &str, input: &[u8], note: &str) -> Option<PathBuf> {
    std::fs::create_dir_all(dir).ok()?;
    let path = dir.join(format!("{prefix}-{:016x}.bin", fnv64(input)));
    std::fs::write(&path, input).ok()?;
    std::fs::write(path.with_extension("txt"), note).ok()?;
    Some(path)
}

/// Per-worker state the watchdog reads.
struct Slot {
    /// Index of the running input (`u64::MAX`: idle).
    index: AtomicU64,
    /// When it started, in ms since the run started.
    since_ms: AtomicU64,
}

const IDLE: u64 = u64::MAX;
const CHUNK: u64 = 64;

/// Runs `cfg.inputs` inputs of `target` from `corpus` (see the module docs).
pub fn run(target: &'static Target, corpus: &[Vec<u8>], cfg: &RunConfig) -> Report {
    install_panic_hook();
    let corpus = Arc::new(corpus.to_vec());
    let start = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let failures: Arc<Mutex<HashMap<String, Failure>>> = Arc::default();
    let crash_dir = cfg.crash_dir.join(target.name);
    let slots: Arc<Vec<Slot>> = Arc::new(
        (0..cfg.jobs.max(1))
            .map(|_| Slot {
                index: AtomicU64::new(IDLE),
                since_ms: AtomicU64::new(0),
            })
            .collect(),
    );

    let watchdog = {
        let (slots, finished, corpus, done) = (
            slots.clone(),
            finished.clone(),
            corpus.clone(),
            done.clone(),
        );
        let (cfg, crash_dir) = (cfg.clone(), crash_dir.clone());
        std::thread::spawn(move || {
            let mut last_report = Instant::now();
            while !finished.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(50));
                let now_ms = start.elapsed().as_millis() as u64;
                for slot in slots.iter() {
                    let index = slot.index.load(Ordering::Acquire);
                    let since = slot.since_ms.load(Ordering::Acquire);
                    if index != IDLE
                        && now_ms.saturating_sub(since) > cfg.timeout.as_millis() as u64
                    {
                        let input = generate(target, &corpus, cfg.seed, index);
                        let note = format!(
                            "target {}\nseed {} index {}\nran longer than {:?}\n",
                            target.name, cfg.seed, index, cfg.timeout
                        );
                        let saved = save(&crash_dir, "hang", &input, &note);
                        eprintln!(
                            "{}: HANG: input {index} ran longer than {:?}; saved {:?}",
                            target.name, cfg.timeout, saved
                        );
                        println!("{}: 0 passed, 1 failed (hang)", target.name);
                        std::process::exit(3);
                    }
                }
                if let Some(every) = cfg.progress {
                    if last_report.elapsed() >= every {
                        last_report = Instant::now();
                        let n = done.load(Ordering::Relaxed);
                        let rate = n as f64 / start.elapsed().as_secs_f64().max(1e-9);
                        eprintln!(
                            "   {}: {n}/{} inputs ({rate:.0}/s)",
                            target.name, cfg.inputs
                        );
                    }
                }
            }
        })
    };

    let mut workers = Vec::new();
    for w in 0..cfg.jobs.max(1) {
        let (slots, next, done, failures, corpus) = (
            slots.clone(),
            next.clone(),
            done.clone(),
            failures.clone(),
            corpus.clone(),
        );
        let (cfg, crash_dir) = (cfg.clone(), crash_dir.clone());
        let handle = std::thread::Builder::new()
            .name(format!("fuzz-worker-{w}"))
            .stack_size(worker_stack())
            .spawn(move || {
                let mut out = Outcomes::default();
                let mut failed = 0u64;
                loop {
                    let first = next.fetch_add(CHUNK, Ordering::Relaxed);
                    if first >= cfg.inputs {
                        break;
                    }
                    for index in first..(first + CHUNK).min(cfg.inputs) {
                        let input = generate(target, &corpus, cfg.seed, index);
                        let slot = &slots[w];
                        slot.since_ms
                            .store(start.elapsed().as_millis() as u64, Ordering::Release);
                        slot.index.store(index, Ordering::Release);
                        let res = run_one(target, &input, &mut out);
                        slot.index.store(IDLE, Ordering::Release);
                        done.fetch_add(1, Ordering::Relaxed);
                        if let Err((location, message)) = res {
                            failed += 1;
                            record(
                                &failures, &crash_dir, &cfg, target, index, &input, location,
                                message,
                            );
                        }
                    }
                }
                (out, failed)
            })
            .expect("spawn a fuzz worker");
        workers.push(handle);
    }
    let mut outcomes = Outcomes::default();
    let mut failed = 0;
    for h in workers {
        let (o, f) = h.join().expect("fuzz workers do not panic");
        outcomes.merge(&o);
        failed += f;
    }
    finished.store(true, Ordering::Release);
    let _ = watchdog.join();
    let mut failures: Vec<Failure> = failures
        .lock()
        .map(|f| f.values().cloned().collect())
        .unwrap_or_default();
    failures.sort_by(|a, b| b.count.cmp(&a.count).then(a.index.cmp(&b.index)));
    Report {
        target: target.name,
        inputs: cfg.inputs,
        failed,
        outcomes,
        elapsed: start.elapsed(),
        failures,
    }
}

/// The workers' stack: 2 MiB, what the server's tokio threads get, so a recursion that
/// would overflow a server thread overflows here too; debug builds need more.
fn worker_stack() -> usize {
    if cfg!(debug_assertions) {
        16 << 20
    } else {
        2 << 20
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    failures: &Mutex<HashMap<String, Failure>>,
    crash_dir: &Path,
    cfg: &RunConfig,
    target: &Target,
    index: u64,
    input: &[u8],
    location: String,
    message: String,
) {
    let key = format!(
        "{location} {}",
        message.chars().take(40).collect::<String>()
    );
    let Ok(mut map) = failures.lock() else { return };
    if let Some(f) = map.get_mut(&key) {
        f.count += 1;
        f.index = f.index.min(index);
        return;
    }
    let note = format!(
        "target {}\nseed {} index {}\nlocation {location}\nmessage {message}\n\
         replay: oxcd-fuzz {} --replay <this .bin>\n",
        target.name, cfg.seed, index, target.name
    );
    let saved = save(crash_dir, "crash", input, &note);
    map.insert(
        key,
        Failure {
            message,
            location,
            count: 1,
            index,
            saved,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boom(data: &[u8], out: &mut Outcomes) {
        out.add("ran");
        if data.first() == Some(&0xAA) {
            panic!("boom");
        }
    }

    static BOOM: Target = Target {
        name: "boom",
        run: boom,
        max_len: 16,
        dict: &[],
        heavy: false,
        min_timeout: Duration::from_secs(1),
        seeds: Vec::new,
    };

    #[test]
    fn catches_saves_and_counts_panics() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = vec![vec![0xAA, 1], vec![1, 2, 3]];
        let cfg = RunConfig {
            inputs: 500,
            seed: 9,
            jobs: 2,
            crash_dir: dir.path().to_path_buf(),
            timeout: Duration::from_secs(30),
            progress: None,
        };
        let report = run(&BOOM, &corpus, &cfg);
        assert_eq!(report.inputs, 500);
        assert_eq!(report.outcomes.count("ran"), 500);
        assert!(report.failed >= 1);
        let f = &report.failures[0];
        assert_eq!(f.message, "boom", "{f:?}");
        assert!(f.location.contains("driver.rs"), "{f:?}");
        assert_eq!(f.index, 0);
        let saved = f.saved.as_ref().expect("saved");
        assert_eq!(std::fs::read(saved).unwrap()[0], 0xAA);
        // The same inputs every time.
        assert_eq!(
            generate(&BOOM, &corpus, 9, 77),
            generate(&BOOM, &corpus, 9, 77)
        );
        assert_eq!(generate(&BOOM, &corpus, 9, 1), corpus[1]);
    }
}

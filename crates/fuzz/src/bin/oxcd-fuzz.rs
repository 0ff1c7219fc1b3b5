//! `oxcd-fuzz <target>|all --inputs N --seed S [--corpus DIR]`: runs fuzz targets from
//! their saved corpora and reports, per target, the inputs run, the distinct outcomes,
//! the time and a closing `<target>: N passed, M failed` line. Exits 1 if any input
//! failed (its bytes are in the crash directory), 3 on a hang.
//!
//! Also: `--write-corpus` regenerates the seed corpora, `--replay FILE...` runs files,
//! `--list` names the targets. `--child-template` and `--child-reopen` are the child
//! processes of `raftlog-files`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use oxcd_fuzz::driver::{self, RunConfig};
use oxcd_fuzz::outcome::Outcomes;
use oxcd_fuzz::targets::{self, raftlog_files, Target, ALL};

#[derive(Debug, Parser)]
#[command(
    name = "oxcd-fuzz",
    about = "Deterministic fuzzing of oxcd's decoders and recovery"
)]
struct Args {
    /// A target name, or `all`.
    target: Option<String>,
    /// Inputs per target (fast targets under `all`).
    #[arg(long, default_value_t = 100_000)]
    inputs: u64,
    /// Inputs of the heavy targets (one child process per input) under `all`.
    #[arg(long, default_value_t = 200)]
    file_inputs: u64,
    /// Seed of the mutations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: the number of CPUs).
    #[arg(long)]
    jobs: Option<usize>,
    /// Corpus root, holding one directory per target.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Where failing inputs are saved (default: `$CARGO_TARGET_DIR/fuzz-crashes`).
    #[arg(long)]
    crash_dir: Option<PathBuf>,
    /// Seconds one input may run before it counts as a hang (at least the target's
    /// own bound: raftlog-files kills a stuck child itself first).
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Outcome labels printed per target.
    #[arg(long, default_value_t = 12)]
    top: usize,
    /// Runs these files (through the given target) instead of generated inputs.
    #[arg(long, num_args = 1..)]
    replay: Vec<PathBuf>,
    /// Regenerates the seed corpora into the corpus root, then exits.
    #[arg(long)]
    write_corpus: bool,
    /// Lists the targets, then exits.
    #[arg(long)]
    list: bool,
    /// Child of raftlog-files: write the template under this directory.
    #[arg(long, hide = true)]
    child_template: Option<PathBuf>,
    /// Child of raftlog-files: reopen DATA and judge it against STATES.
    #[arg(long, hide = true, num_args = 2, value_names = ["DATA", "STATES"])]
    child_reopen: Vec<PathBuf>,
}

fn default_corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn default_crash_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("fuzz-crashes")
}

fn replay(target: &'static Target, files: &[PathBuf]) -> ExitCode {
    driver::install_panic_hook();
    let mut failed = 0;
    for f in files {
        let input = match std::fs::read(f) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{}: {e}", f.display());
                return ExitCode::from(2);
            }
        };
        let mut out = Outcomes::default();
        match driver::run_one(target, &input, &mut out) {
            Ok(()) => println!("{}: ok", f.display()),
            Err((loc, msg)) => {
                failed += 1;
                println!("{}: FAILED at {loc}: {msg}", f.display());
            }
        }
        for (label, n) in out.sorted() {
            println!("   {n:>6}  {label}");
        }
    }
    println!(
        "{}: {} passed, {failed} failed",
        target.name,
        files.len() - failed
    );
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(root) = &args.child_template {
        return match raftlog_files::template::build(root) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("template: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let [data, states] = args.child_reopen.as_slice() {
        return match raftlog_files::reopen::run(data, states) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("reopen: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    let corpus_root = args.corpus.clone().unwrap_or_else(default_corpus);
    if args.list {
        for t in ALL {
            println!("{}{}", t.name, if t.heavy { " (heavy)" } else { "" });
        }
        return ExitCode::SUCCESS;
    }
    if args.write_corpus {
        return match oxcd_fuzz::seeds::write_corpus(&corpus_root) {
            Ok(written) => {
                for (name, n) in written {
                    println!(
                        "{name}: {n} seed files in {}",
                        corpus_root.join(name).display()
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("writing the corpus: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(name) = args.target.as_deref() else {
        eprintln!("name a target (or `all`); --list shows them");
        return ExitCode::from(2);
    };
    let selected: Vec<&'static Target> = if name == "all" {
        ALL.iter().collect()
    } else {
        match targets::find(name) {
            Some(t) => vec![t],
            None => {
                eprintln!("unknown target {name:?}; --list shows them");
                return ExitCode::from(2);
            }
        }
    };
    if !args.replay.is_empty() {
        let [t] = selected.as_slice() else {
            eprintln!("--replay needs one target");
            return ExitCode::from(2);
        };
        return replay(t, &args.replay);
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut any_failed = false;
    let mut summary = Vec::new();
    for t in selected {
        let inputs = if t.heavy && name == "all" {
            args.file_inputs
        } else {
            args.inputs
        };
        let corpus = match oxcd_fuzz::corpus::load(&corpus_root.join(t.name), t.max_len) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{}: loading the corpus: {e}", t.name);
                return ExitCode::from(2);
            }
        };
        let cfg = RunConfig {
            inputs,
            seed: args.seed,
            jobs,
            crash_dir: args.crash_dir.clone().unwrap_or_else(default_crash_dir),
            timeout: Duration::from_secs(args.timeout_secs).max(t.min_timeout),
            progress: Some(Duration::from_secs(15)),
        };
        println!(
            "-- {}: {} inputs from {} corpus files, seed {}, {} jobs",
            t.name,
            inputs,
            corpus.len(),
            args.seed,
            jobs
        );
        let report = driver::run(t, &corpus, &cfg);
        report.print(args.top);
        any_failed |= report.failed > 0;
        summary.push(format!(
            "{}: {} passed, {} failed",
            report.target,
            report.inputs - report.failed,
            report.failed
        ));
        if t.heavy {
            raftlog_files::cleanup();
        }
    }
    if summary.len() > 1 {
        println!("== summary");
        for line in summary {
            println!("{line}");
        }
    }
    if any_failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

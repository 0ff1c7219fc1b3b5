//! [`run_suite`]: several seeds of [`crate::run::run`], a line per run and a closing
//! `N passed, M failed` line.

use std::path::PathBuf;

use crate::run::{run, RunConfig, RunReport};

/// The suite's outcome.
#[derive(Debug, Default)]
pub struct SuiteReport {
    /// Runs that passed.
    pub passed: usize,
    /// Runs that failed.
    pub failed: usize,
    /// Operations over all runs.
    pub ops: usize,
    /// Faults over all runs.
    pub faults: usize,
    /// Violations over all runs.
    pub violations: usize,
}

/// Runs `seeds` with `base` (its seed replaced by each), printing a line per run. A failed
/// run's history is written to `dump_dir/chaos-<seed>.history.txt` and each member's log
/// to `dump_dir/chaos-<seed>.<member>.log` when given.
pub fn run_suite(base: &RunConfig, seeds: &[u64], dump_dir: Option<&PathBuf>) -> SuiteReport {
    let mut suite = SuiteReport::default();
    for &seed in seeds {
        let cfg = RunConfig {
            seed,
            ..base.clone()
        };
        let r: RunReport = run(&cfg);
        println!("{}", r.line());
        suite.ops += r.stats.ops;
        suite.faults += r.faults.len();
        suite.violations += r.report.as_ref().map_or(0, |r| r.violations.len());
        if r.passed() {
            suite.passed += 1;
        } else {
            suite.failed += 1;
            if let (Some(dir), Some(h)) = (dump_dir, &r.history) {
                let path = dir.join(format!("chaos-{seed}.history.txt"));
                if std::fs::create_dir_all(dir)
                    .and_then(|_| std::fs::write(&path, format!("{h:#?}")))
                    .is_ok()
                {
                    println!("    history written to {}", path.display());
                }
            }
            if let Some(dir) = dump_dir {
                let faults: String = r
                    .faults
                    .iter()
                    .map(|f| {
                        let (a, b) = f.window_ns;
                        format!(
                            "{:>9.3} s .. {:>9.3} s  {} member {}{}\n",
                            a as f64 / 1e9,
                            b as f64 / 1e9,
                            f.fault,
                            f.member,
                            f.error
                                .as_deref()
                                .map(|e| format!(" ({e})"))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                let _ = std::fs::write(dir.join(format!("chaos-{seed}.faults.txt")), faults);
                for (name, log) in &r.member_logs {
                    let path = dir.join(format!("chaos-{seed}.{name}.log"));
                    if std::fs::write(&path, log).is_ok() {
                        println!("    {name}'s log written to {}", path.display());
                    }
                }
            }
        }
    }
    println!(
        "chaos: {} runs, {} operations, {} faults injected, {} violations",
        suite.passed + suite.failed,
        suite.ops,
        suite.faults,
        suite.violations
    );
    println!("{} passed, {} failed", suite.passed, suite.failed);
    suite
}

//! Latency recording and the etcd-benchmark-style summary.

use std::time::Duration;

/// What one run measured.
pub struct Report {
    /// Latencies of successful requests.
    pub latencies: Vec<Duration>,
    /// Failed requests.
    pub errors: usize,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Server CPU seconds spent during the run, if a PID was given.
    pub server_cpu: Option<f64>,
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

impl Report {
    /// Prints the summary and the JSON line.
    pub fn print(mut self, workload: &str, label: &str) {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let sum: f64 = self.latencies.iter().map(Duration::as_secs_f64).sum();
        let avg = if n > 0 { sum / n as f64 } else { 0.0 };
        let var = if n > 0 {
            self.latencies
                .iter()
                .map(|d| (d.as_secs_f64() - avg).powi(2))
                .sum::<f64>()
                / n as f64
        } else {
            0.0
        };
        let rate = n as f64 / secs;
        println!("\nSummary:");
        println!("  Total:\t{:.4} secs.", secs);
        println!(
            "  Slowest:\t{:.4} secs.",
            self.latencies.last().map_or(0.0, Duration::as_secs_f64)
        );
        println!(
            "  Fastest:\t{:.4} secs.",
            self.latencies.first().map_or(0.0, Duration::as_secs_f64)
        );
        println!("  Average:\t{avg:.4} secs.");
        println!("  Stddev:\t{:.4} secs.", var.sqrt());
        println!("  Requests/sec:\t{rate:.4}");
        if self.errors > 0 {
            println!("  Errors:\t{}", self.errors);
        }
        println!("\nResponse time histogram:");
        if n > 0 {
            let lo = self.latencies[0].as_secs_f64();
            let hi = self.latencies[n - 1].as_secs_f64();
            let step = ((hi - lo) / 10.0).max(1e-9);
            let mut counts = [0usize; 11];
            for d in &self.latencies {
                counts[(((d.as_secs_f64() - lo) / step) as usize).min(10)] += 1;
            }
            let max = *counts.iter().max().unwrap_or(&1).max(&1);
            for (i, c) in counts.iter().enumerate() {
                let bar = "∎".repeat(c * 40 / max);
                println!("  {:.4} [{c}]\t|{bar}", lo + step * i as f64);
            }
        }
        println!("\nLatency distribution:");
        let ps = [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9];
        for p in ps {
            println!(
                "  {p}% in {:.4} secs.",
                pct(&self.latencies, p).as_secs_f64()
            );
        }
        let cpu_per_op_us = self
            .server_cpu
            .map(|c| if n > 0 { c * 1e6 / n as f64 } else { 0.0 });
        let json = serde_json::json!({
            "workload": workload,
            "label": label,
            "requests": n,
            "errors": self.errors,
            "seconds": secs,
            "rate": rate,
            "avg_ms": avg * 1e3,
            "p50_ms": pct(&self.latencies, 50.0).as_secs_f64() * 1e3,
            "p99_ms": pct(&self.latencies, 99.0).as_secs_f64() * 1e3,
            "server_cpu_us_per_op": cpu_per_op_us,
        });
        println!("\nJSON {json}");
    }
}

/// Total CPU seconds (user + system) a process has used, from /proc.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

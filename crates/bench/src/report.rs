//! [`Report`]: the etcd-benchmark-style summary and the `JSON {...}` line.

use std::time::Duration;

use serde_json::{Map, Value};

/// What one run measured.
#[derive(Debug, Default)]
pub struct Report {
    /// Latencies of successful requests (for watch workloads: of delivered events).
    pub latencies: Vec<Duration>,
    /// Operations the rate counts; `None` = one per latency. (mvcc-put with batches
    /// counts puts, not transactions; watch counts events.)
    pub ops: Option<usize>,
    /// Failed requests.
    pub errors: usize,
    /// Wall time the rate is computed over.
    pub elapsed: Duration,
    /// Server CPU seconds spent during the run, if PIDs were given.
    pub server_cpu: Option<f64>,
    /// Extra summary lines (label, value), printed after the rate.
    pub lines: Vec<(String, String)>,
    /// Extra fields of the JSON line.
    pub fields: Map<String, Value>,
}

/// The `p`th percentile of sorted `sorted` (zero when empty).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Milliseconds, for JSON.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Report {
    /// A report over `latencies`, `errors` and `elapsed`.
    pub fn new(latencies: Vec<Duration>, errors: usize, elapsed: Duration) -> Report {
        Report {
            latencies,
            errors,
            elapsed,
            ..Report::default()
        }
    }

    /// Adds a JSON field and the matching summary line.
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Report {
        let value = value.into();
        let shown = match &value {
            Value::Number(n) if n.is_f64() => format!("{:.4}", n.as_f64().unwrap_or(0.0)),
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        self.lines.push((name.to_string(), shown));
        self.fields.insert(name.to_string(), value);
        self
    }

    /// Prints the summary and the JSON line.
    pub fn print(mut self, workload: &str, label: &str) {
        self.latencies.sort_unstable();
        let lat = &self.latencies;
        let n = lat.len();
        let ops = self.ops.unwrap_or(n);
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let avg = if n > 0 {
            lat.iter().map(Duration::as_secs_f64).sum::<f64>() / n as f64
        } else {
            0.0
        };
        let var = if n > 0 {
            lat.iter()
                .map(|d| (d.as_secs_f64() - avg).powi(2))
                .sum::<f64>()
                / n as f64
        } else {
            0.0
        };
        let rate = ops as f64 / secs;
        println!("\nSummary:");
        println!("  Total:\t{secs:.4} secs.");
        println!(
            "  Slowest:\t{:.4} secs.",
            lat.last().map_or(0.0, Duration::as_secs_f64)
        );
        println!(
            "  Fastest:\t{:.4} secs.",
            lat.first().map_or(0.0, Duration::as_secs_f64)
        );
        println!("  Average:\t{avg:.4} secs.");
        println!("  Stddev:\t{:.4} secs.", var.sqrt());
        println!("  Requests/sec:\t{rate:.4}");
        if self.errors > 0 {
            println!("  Errors:\t{}", self.errors);
        }
        for (k, v) in &self.lines {
            println!("  {k}:\t{v}");
        }
        print_histogram(lat);
        println!("\nLatency distribution:");
        for p in [10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9] {
            println!("  {p}% in {:.4} secs.", percentile(lat, p).as_secs_f64());
        }
        let cpu_per_op_us = self
            .server_cpu
            .map(|c| if ops > 0 { c * 1e6 / ops as f64 } else { 0.0 });
        let mut json = Map::new();
        json.insert("workload".into(), workload.into());
        json.insert("label".into(), label.into());
        json.insert("requests".into(), n.into());
        json.insert("ops".into(), ops.into());
        json.insert("errors".into(), self.errors.into());
        json.insert("seconds".into(), secs.into());
        json.insert("rate".into(), rate.into());
        json.insert("avg_ms".into(), (avg * 1e3).into());
        json.insert("p50_ms".into(), ms(percentile(lat, 50.0)).into());
        json.insert("p90_ms".into(), ms(percentile(lat, 90.0)).into());
        json.insert("p99_ms".into(), ms(percentile(lat, 99.0)).into());
        json.insert(
            "max_ms".into(),
            ms(lat.last().copied().unwrap_or_default()).into(),
        );
        json.insert("server_cpu_us_per_op".into(), cpu_per_op_us.into());
        json.extend(self.fields);
        println!("\nJSON {}", Value::Object(json));
    }
}

fn print_histogram(sorted: &[Duration]) {
    println!("\nResponse time histogram:");
    let (Some(first), Some(last)) = (sorted.first(), sorted.last()) else {
        return;
    };
    let lo = first.as_secs_f64();
    let step = ((last.as_secs_f64() - lo) / 10.0).max(1e-9);
    let mut counts = [0usize; 11];
    for d in sorted {
        counts[(((d.as_secs_f64() - lo) / step) as usize).min(10)] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    for (i, c) in counts.iter().enumerate() {
        let bar = "∎".repeat(c * 40 / max);
        println!("  {:.4} [{c}]\t|{bar}", lo + step * i as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_from_sorted() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(51));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&[], 99.0), Duration::ZERO);
    }

    #[test]
    fn fields_become_lines_and_json() {
        let r = Report::new(vec![], 0, Duration::from_secs(1))
            .field("lost", 0)
            .field("events_per_sec", 1.5);
        assert_eq!(r.fields["lost"], 0);
        assert_eq!(r.lines[1], ("events_per_sec".into(), "1.5000".into()));
    }
}

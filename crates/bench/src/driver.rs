//! The closed-loop request driver shared by the request/response workloads.
//!
//! Every client is one task; the tasks draw operation numbers `0..total` from one shared
//! counter, so `total` operations run in all however the clients' speeds differ. With a
//! [`Pacer`] an operation waits until it is due before its latency clock starts.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::pace::Pacer;
use crate::report::Report;

/// One client of the driver: performs operation number `i`.
pub trait Op: Send + 'static {
    /// Performs operation `i` and returns its class (an index the workload chooses, e.g.
    /// 0 = read, 1 = write; 0 when there is only one kind), or the error.
    fn call(&mut self, i: usize) -> impl Future<Output = anyhow::Result<usize>> + Send;
}

/// What a driven run measured.
#[derive(Debug, Default)]
pub struct Samples {
    /// Latencies of successful operations, by class.
    pub by_class: Vec<Vec<Duration>>,
    /// Failed operations.
    pub errors: usize,
    /// The first error, for the operator.
    pub first_error: Option<String>,
    /// Wall time from the first operation's start to the last one's end.
    pub elapsed: Duration,
    /// When the run started (wall clock), the origin of `timeline`.
    pub started: Option<SystemTime>,
    /// (start offset from `started`, latency) of every successful operation, in no order.
    pub timeline: Vec<(Duration, Duration)>,
}

impl Samples {
    /// Every latency, whatever its class.
    pub fn all(&self) -> Vec<Duration> {
        self.by_class.iter().flatten().copied().collect()
    }

    /// The latencies of `class` (empty if none).
    pub fn class(&self, class: usize) -> &[Duration] {
        self.by_class.get(class).map_or(&[], Vec::as_slice)
    }

    /// A [`Report`] over every latency, with `server_cpu` attached.
    pub fn report(&self, server_cpu: Option<f64>) -> Report {
        let mut r = Report::new(self.all(), self.errors, self.elapsed);
        r.server_cpu = server_cpu;
        r
    }

    fn merge(&mut self, other: Samples) {
        if self.by_class.len() < other.by_class.len() {
            self.by_class.resize_with(other.by_class.len(), Vec::new);
        }
        for (mine, theirs) in self.by_class.iter_mut().zip(other.by_class) {
            mine.extend(theirs);
        }
        self.timeline.extend(other.timeline);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Runs `total` operations over `clients` (one task each), at most `rate` per second
/// (0 = as fast as possible), and returns what they measured.
pub async fn drive<C: Op>(clients: Vec<C>, total: usize, rate: u64) -> anyhow::Result<Samples> {
    let next = Arc::new(AtomicUsize::new(0));
    let pacer = Pacer::new(rate);
    let started = SystemTime::now();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients.len());
    for mut client in clients {
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut s = Samples::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                if let Some(p) = &pacer {
                    p.wait(i).await;
                }
                let t0 = Instant::now();
                match client.call(i).await {
                    Ok(class) => {
                        if s.by_class.len() <= class {
                            s.by_class.resize_with(class + 1, Vec::new);
                        }
                        let latency = t0.elapsed();
                        s.by_class[class].push(latency);
                        s.timeline.push((t0.duration_since(start), latency));
                    }
                    Err(e) => {
                        s.errors += 1;
                        s.first_error.get_or_insert_with(|| format!("{e:#}"));
                    }
                }
            }
            s
        }));
    }
    let mut out = Samples {
        started: Some(started),
        ..Samples::default()
    };
    for t in tasks {
        out.merge(t.await?);
    }
    out.elapsed = start.elapsed();
    if let Some(e) = &out.first_error {
        eprintln!("{} operations failed; first error: {e}", out.errors);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Alternating;

    impl Op for Alternating {
        async fn call(&mut self, i: usize) -> anyhow::Result<usize> {
            if i % 5 == 4 {
                anyhow::bail!("op {i} fails");
            }
            Ok(i % 2)
        }
    }

    #[tokio::test]
    async fn runs_every_operation_once_and_classifies() {
        let s = drive(vec![Alternating, Alternating, Alternating], 100, 0)
            .await
            .expect("drive");
        assert_eq!(s.errors, 20);
        assert_eq!(s.all().len(), 80);
        assert_eq!(s.class(0).len() + s.class(1).len(), 80);
        assert!(s.first_error.is_some_and(|e| e.contains("fails")));
        assert_eq!(s.timeline.len(), 80);
        assert!(s.started.is_some());
    }

    #[tokio::test]
    async fn pacing_spreads_operations() {
        let t0 = Instant::now();
        let s = drive(vec![Alternating], 11, 200).await.expect("drive");
        assert!(t0.elapsed() >= Duration::from_millis(45));
        assert_eq!(s.all().len() + s.errors, 11);
    }
}

//! [`Pacer`]: a fixed-rate schedule shared by concurrent clients (etcd's `--rate`).

use std::time::{Duration, Instant};

/// Operation `i` may start no earlier than `start + i / rate`. Clients that fall behind
/// run back to back until they catch up (no burst limit beyond that).
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    start: Instant,
    interval: Duration,
}

impl Pacer {
    /// A schedule of `rate` operations per second from now; `None` for `rate == 0`
    /// (as fast as possible).
    pub fn new(rate: u64) -> Option<Pacer> {
        (rate > 0).then(|| Pacer {
            start: Instant::now(),
            interval: Duration::from_secs_f64(1.0 / rate as f64),
        })
    }

    /// The earliest start of operation `i`.
    pub fn due(&self, i: usize) -> Instant {
        self.start + self.interval.mul_f64(i as f64)
    }

    /// Sleeps until operation `i` is due.
    pub async fn wait(&self, i: usize) {
        tokio::time::sleep_until(self.due(i).into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_operations_by_the_rate() {
        assert!(Pacer::new(0).is_none());
        let p = Pacer::new(100).expect("rate > 0");
        let gap = p.due(10) - p.due(0);
        assert!(gap >= Duration::from_millis(99) && gap <= Duration::from_millis(101));
    }
}

//! CPU time of processes, from /proc, to report server CPU per operation.

/// Total CPU seconds (user + system) a process has used, from /proc.
pub fn process_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Measures the CPU seconds a set of processes spends between [`CpuMeter::start`] and
/// [`CpuMeter::stop`].
#[derive(Debug, Clone)]
pub struct CpuMeter {
    pids: Vec<u32>,
    before: Option<f64>,
}

impl CpuMeter {
    /// Starts measuring `pids` (none: [`CpuMeter::stop`] returns `None`).
    pub fn start(pids: &[u32]) -> Self {
        CpuMeter {
            pids: pids.to_vec(),
            before: summed(pids),
        }
    }

    /// The CPU seconds spent since [`CpuMeter::start`]; `None` if there are no PIDs or
    /// one of them cannot be read.
    pub fn stop(&self) -> Option<f64> {
        Some(summed(&self.pids)? - self.before?)
    }
}

/// The summed CPU seconds of `pids`; `None` if there are none or one cannot be read.
fn summed(pids: &[u32]) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| process_cpu_seconds(p)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu_time() {
        let me = std::process::id();
        let meter = CpuMeter::start(&[me]);
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(meter.stop().is_some_and(|s| s >= 0.0));
        assert!(CpuMeter::start(&[]).stop().is_none());
    }
}

//! Process metrics: the prometheus crate's process collector (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_open_fds`, `process_max_fds`,
//! `process_virtual_memory_bytes`, `process_start_time_seconds`, and `process_threads`)
//! plus the three series etcd 3.4 exports that the crate lacks: `os_fd_used`, `os_fd_limit`
//! (etcd's own) and `process_virtual_memory_max_bytes` (Go client). All are read from `/proc`
//! at scrape time; off Linux they stay at 0.

use std::sync::Once;

use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::Gauge;

use crate::etcd_metrics::register_default;

/// Collector for the `/proc`-derived series the prometheus crate does not provide.
#[derive(Clone)]
struct OsCollector {
    fd_used: Gauge,
    fd_limit: Gauge,
    vm_max: Gauge,
}

impl OsCollector {
    fn new() -> Self {
        let gauge = |name: &str, help: &str| {
            Gauge::new(name, help).expect("constant metric definition is valid")
        };
        Self {
            fd_used: gauge("os_fd_used", "The number of used file descriptors."),
            fd_limit: gauge("os_fd_limit", "The file descriptor limit."),
            vm_max: gauge(
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
            ),
        }
    }

    fn refresh(&self) {
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.fd_used.set(dir.count() as f64);
        }
        if let Ok(limits) = std::fs::read_to_string("/proc/self/limits") {
            if let Some(v) = soft_limit(&limits, "Max open files") {
                self.fd_limit.set(v);
            }
            if let Some(v) = soft_limit(&limits, "Max address space") {
                self.vm_max.set(v);
            }
        }
    }
}

/// The soft limit of the `/proc/<pid>/limits` row named `name`; `unlimited` reads as
/// 2^64 - 1, which is what Go's client reports for an unlimited address space.
fn soft_limit(limits: &str, name: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with(name))?;
    let soft = line[name.len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        Some(u64::MAX as f64)
    } else {
        soft.parse::<u64>().ok().map(|v| v as f64)
    }
}

impl Collector for OsCollector {
    fn desc(&self) -> Vec<&Desc> {
        let mut d = self.fd_used.desc();
        d.extend(self.fd_limit.desc());
        d.extend(self.vm_max.desc());
        d
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.refresh();
        let mut out = self.fd_used.collect();
        out.extend(self.fd_limit.collect());
        out.extend(self.vm_max.collect());
        out
    }
}

static REGISTER: Once = Once::new();

/// Makes sure the default registry exports the process metrics. Idempotent: the first call
/// registers, later calls do nothing. (The prometheus crate, built with its `process` feature,
/// puts its process collector in the default registry when that registry is first touched;
/// this function touches it and adds [`OsCollector`]'s series.)
pub fn register_process_metrics() {
    REGISTER.call_once(|| {
        let _ = prometheus::default_registry();
        register_default(&OsCollector::new());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            20000                40000                files     \n\
                      Max address space         unlimited            unlimited            bytes     \n";
        assert_eq!(soft_limit(limits, "Max open files"), Some(20000.0));
        assert_eq!(
            soft_limit(limits, "Max address space"),
            Some(1.8446744073709552e19)
        );
        assert_eq!(soft_limit(limits, "Max processes"), None);
    }
}

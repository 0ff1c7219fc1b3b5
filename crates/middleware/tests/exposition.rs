//! `/metrics` text: process metrics, etcd identity gauges, and client byte counters.

mod support;

use oxcd_middleware::{
    register_identity, register_process_metrics, render, set_cluster_version, try_render,
    METRICS_CONTENT_TYPE,
};
use support::sample;

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn identity_gauges_match_etcd_text() {
    register_identity(0xbdae_9bbc_11dd_390d, "3.4.23");
    set_cluster_version("3.4");
    set_cluster_version("3.5");
    let text = try_render().unwrap();
    for line in [
        "# HELP etcd_server_id Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
        "# TYPE etcd_server_id gauge",
        "etcd_server_id{server_id=\"bdae9bbc11dd390d\"} 1",
        "# HELP etcd_server_version Which version is running. 1 for 'server_version' label with current version.",
        "etcd_server_version{server_version=\"3.4.23\"} 1",
        "# HELP etcd_server_go_version Which Go version server is running with. 1 for 'server_go_version' label with current version.",
        "etcd_server_go_version{server_go_version=\"rust\"} 1",
        "# HELP etcd_cluster_version Which version is running. 1 for 'cluster_version' label with current cluster version",
        "etcd_cluster_version{cluster_version=\"3.5\"} 1",
        "# HELP etcd_network_client_grpc_received_bytes_total The total number of bytes received from grpc clients.",
        "# TYPE etcd_network_client_grpc_received_bytes_total counter",
        "etcd_network_client_grpc_received_bytes_total 0",
        "# HELP etcd_network_client_grpc_sent_bytes_total The total number of bytes sent to grpc clients.",
        "etcd_network_client_grpc_sent_bytes_total 0",
    ] {
        assert!(has_line(&text, line), "missing {line}");
    }
    // The old cluster version is gone (etcd resets the vector).
    assert!(!text.contains("cluster_version=\"3.4\""));
    // Member ids print without zero padding.
    register_identity(0x1f, "3.4.23");
    assert!(has_line(&render(), "etcd_server_id{server_id=\"1f\"} 1"));
    assert_eq!(
        sample("etcd_server_id", &[("server_id", "bdae9bbc11dd390d")]),
        None
    );
}

#[test]
fn process_metrics_are_exported_once() {
    register_process_metrics();
    register_process_metrics();
    let text = render();
    assert_eq!(METRICS_CONTENT_TYPE, "text/plain; version=0.0.4");
    for family in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
        "process_virtual_memory_bytes",
        "process_start_time_seconds",
        "process_virtual_memory_max_bytes",
        "os_fd_used",
        "os_fd_limit",
    ] {
        let help = format!("# HELP {family} ");
        assert_eq!(
            text.lines().filter(|l| l.starts_with(&help)).count(),
            1,
            "{family} must appear exactly once"
        );
    }
    assert!(has_line(
        &text,
        "# HELP os_fd_limit The file descriptor limit."
    ));
    assert!(has_line(
        &text,
        "# HELP os_fd_used The number of used file descriptors."
    ));
    assert!(sample("os_fd_used", &[]).unwrap() >= 3.0);
    assert!(sample("os_fd_limit", &[]).unwrap() >= 1.0);
    assert!(sample("process_resident_memory_bytes", &[]).unwrap() > 0.0);
}

//! `oxcd-bench --target-leader`, the flag of etcd's benchmark that `make bench`'s put-1c row
//! uses, against a 3-member cluster of the kind `OXCD_CLUSTER_KIND` selects (`etcd` runs the
//! reference etcd 3.4.23 and must pass the same way; unset runs oxcd).
//!
//! - `target_leader_sends_every_request_to_the_leader`: with a dead endpoint listed first and
//!   the leader LAST, the bench names the leader's endpoint, succeeds, and the leader's
//!   `grpc_server_handled_total` for Put grows by the number of puts while the followers'
//!   does not grow at all.
//! - `target_leader_without_the_leader_listed_fails_clearly`: given only the followers, the
//!   bench exits non-zero and says that no endpoint is the leader, instead of measuring a
//!   follower.
//!
//! The bench runs under `timeout(1)`; members are killed by PID when the cluster drops.

use std::process::{Command, Output};

use oxcd_integration_tests::ports::free_port;
use oxcd_integration_tests::prom::scrape;
use oxcd_integration_tests::{oxcd_bench_available, start_selected, Cluster};

/// Puts each bench run makes.
const PUTS: u64 = 40;

/// Runs oxcd-bench (at most 60 s) with `endpoints` and `args`.
fn bench(endpoints: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("60")
        .arg(oxcd_bench_available())
        .args(["--endpoints", endpoints])
        .args(args)
        .output()
        .expect("run oxcd-bench")
}

/// `grpc_server_handled_total{grpc_method="Put",grpc_code="OK"}` of member `i` (0 before the
/// first Put, as the line may be absent).
fn puts_handled(c: &Cluster, i: usize) -> u64 {
    scrape(c.member(i).client_port())
        .lines()
        .filter(|l| l.starts_with("grpc_server_handled_total{"))
        .filter(|l| l.contains("grpc_method=\"Put\"") && l.contains("grpc_code=\"OK\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

/// The endpoints of the followers, then the leader's; and the leader's index.
fn followers_then_leader(c: &mut Cluster) -> (Vec<String>, usize) {
    let leader = c.leader_index().expect("the cluster elects a leader");
    let mut eps: Vec<String> = (0..3)
        .filter(|&i| i != leader)
        .map(|i| c.member(i).endpoint())
        .collect();
    eps.push(c.member(leader).endpoint());
    (eps, leader)
}

#[test]
fn target_leader_sends_every_request_to_the_leader() {
    let mut c = start_selected(3, &[]).expect("cluster");
    let (eps, leader) = followers_then_leader(&mut c);
    let dead = format!("127.0.0.1:{}", free_port().expect("a free port"));
    let before: Vec<u64> = (0..3).map(|i| puts_handled(&c, i)).collect();
    let total = PUTS.to_string();
    let out = bench(
        &format!("{dead},{}", eps.join(",")),
        &[
            "--target-leader",
            "--clients",
            "4",
            "put",
            "--total",
            &total,
            "--key-size",
            "8",
            "--val-size",
            "16",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench failed: {stderr}");
    let named = format!("--target-leader: {}", c.member(leader).endpoint());
    assert!(
        stderr.contains(&named),
        "bench did not name the leader ({named}): {stderr}"
    );
    assert!(
        stdout.contains(&format!("\"ops\":{PUTS},")) && stdout.contains("\"errors\":0,"),
        "bench report: {stdout}"
    );
    for (i, was) in before.iter().enumerate() {
        let now = puts_handled(&c, i);
        let expected = if i == leader { was + PUTS } else { *was };
        assert_eq!(
            now, expected,
            "member {i} (leader {leader}) handled {now} puts, {was} before the bench"
        );
    }
}

#[test]
fn target_leader_without_the_leader_listed_fails_clearly() {
    let mut c = start_selected(3, &[]).expect("cluster");
    let (eps, _) = followers_then_leader(&mut c);
    let followers = eps[..2].join(",");
    let out = bench(&followers, &["--target-leader", "put", "--total", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "bench measured a follower: {stderr}");
    assert!(
        stderr.contains(&format!(
            "--target-leader: no endpoint of {followers} is the leader"
        )),
        "bench error: {stderr}"
    );
}

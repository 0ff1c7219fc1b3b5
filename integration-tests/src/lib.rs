//! oxcd-integration-tests: the process-level harness that runs real `etcd` 3.4.23 and `oxcd`
//! binaries side by side on loopback, drives them with `etcdctl` and raw HTTP, normalises the
//! outputs and diffs them. The tests in `tests/` are the differential and durability suites.
//!
//! # Layout
//! - [`error`]: [`HarnessError`], the crate's one error enum.
//! - [`ports`]: free loopback port selection.
//! - [`process`]: [`Server`] (start / stop / kill9 / restart / wait_exit), [`Kind`], [`ServerOpts`]
//!   (extra flags, environment, a prepared or test-provided data dir),
//!   binary discovery (`OXCD_BIN`, `OXCDCTL_BIN`, `OXCD_BENCH_BIN`, `CARGO_TARGET_DIR`), the `OXCD_DIFF_SELFTEST` switch and
//!   [`start_oxcd`] for the oxcd-only tests.
//! - [`etcdctl`]: running etcdctl (API v3) with optional stdin; `txn` script builder; the
//!   lease ID `lease grant` printed.
//! - [`background`]: [`Background`], a client such as `etcdctl watch` or a streaming `curl`
//!   run under `timeout(1)` while a script writes, with drained pipes and a hard deadline.
//! - [`grpc`]: helpers of the tonic-client tests: runtime, bounded connect, token metadata,
//!   status text, prefix range end.
//! - [`prom`]: Prometheus `/metrics` scrapes.
//! - [`http`]: a tiny keep-alive HTTP/1.1 client over `TcpStream`.
//! - [`json`]: an order- and text-preserving JSON value used by normalisation and assertions.
//! - [`normalize`]: [`Normalizer`], which masks per-server noise but keeps revisions, keys,
//!   values, counts and errors exact.
//! - [`textdiff`]: a line diff for failure messages.
//! - [`session`]: [`Session`] and [`diff_run`], the differential runner (oxcd vs etcd through
//!   etcdctl); [`diff_ctl_run`], the client differential (oxcdctl vs etcdctl, `OXCDCTL_BIN`).
//! - [`netns`]: [`netns::NetLab`], a network namespace per member and a bridge, for partitions.
//! - [`peer_proxy`]: [`peer_proxy::PeerProxy`], a fault-injecting TCP proxy in every member's
//!   peer path, for partitions without root.
//! - [`certs`]: [`certs::TestPki`], test certificates made at test time with rcgen (CA, server,
//!   peer, client, another CA's client, an expired client, an intruder peer).
//! - [`cluster`]: [`Cluster`], N member processes (etcd or oxcd, `OXCD_CLUSTER_KIND`) with
//!   kill -9 / SIGSTOP / SIGCONT / restart, leader discovery and membership changes via etcdctl.
//!
//! # Invariants
//! - EVERY PROCESS THE HARNESS STARTS IS KILLED BY PID (SIGKILL) AND REAPED when its handle is
//!   dropped; nothing is ever killed by name.
//! - ALL SERVERS LISTEN ON 127.0.0.1 ONLY, on ports picked per server, with a private temporary
//!   data directory, so tests can run in parallel.
//! - EVERY WAIT IS BOUNDED: startup 20 s (a cluster 30 s), etcdctl 30 s, HTTP I/O 10 s,
//!   stop 10 s, leader agreement 15 s.
//! - A STOPPED (SIGSTOP) CLUSTER MEMBER IS SIGCONTED BEFORE IT IS SIGKILLED on drop.
//! - NORMALISATION NEVER TOUCHES REVISIONS, KEYS, VALUES, COUNTS OR ERROR TEXTS.
//! - With `OXCD_DIFF_SELFTEST=1` the "oxcd" side is a second etcd; the suite must pass that way,
//!   which shows that normalisation removes exactly the per-server noise.

pub mod background;
pub mod certs;
pub mod cluster;
pub mod error;
pub mod etcdctl;
pub mod grpc;
pub mod http;
pub mod json;
pub mod netns;
pub mod normalize;
pub mod peer_proxy;
pub mod ports;
pub mod process;
pub mod prom;
pub mod session;
pub mod textdiff;

pub use background::Background;
pub use cluster::{
    cluster_kind, etcdctl_at, expect_ok, kind_available, start_selected, start_server, Cluster,
    ClusterTls, HashKv, Member, MemberInfo, MemberStatus,
};
pub use error::{HarnessError, Result};
pub use etcdctl::{etcdctl, etcdctl_stdin, granted_lease_hex, txn_script, Output};
pub use http::{HttpConnection, HttpResponse};
pub use json::Json;
pub use normalize::Normalizer;
pub use process::{
    oxcd_available, oxcd_bench_available, oxcd_binary_path, oxcdctl_available, oxcdctl_binary_path,
    selftest, start_oxcd, Kind, Server, ServerOpts,
};
pub use session::{diff_ctl_run, diff_run, CtlRuns, Session};

/// `POST path body` to a server on a fresh connection; returns (status, body).
pub fn http_post(server: &Server, path: &str, body: &str) -> Result<(u16, String)> {
    let r = http::request(server.client_port(), "POST", path, Some(body))?;
    Ok((r.status, r.body))
}

/// `GET path` on a fresh connection; returns (status, body).
pub fn http_get(server: &Server, path: &str) -> Result<(u16, String)> {
    let r = http::request(server.client_port(), "GET", path, None)?;
    Ok((r.status, r.body))
}

/// Standard base64 of a string (gateway `bytes` fields).
pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// Decodes standard base64 to a (lossy) string; `None` if it is not base64.
pub fn unb64(s: &str) -> Option<String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.as_bytes())
        .ok()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// For each `fn name(kind: Kind)` listed, a module `name` with two tests, `name::etcd` and
/// `name::oxcd`: the same body against etcd 3.4.23 and against oxcd.
#[macro_export]
macro_rules! on_both_kinds {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[test]
            fn etcd() {
                super::$name($crate::Kind::Etcd)
            }
            #[test]
            fn oxcd() {
                super::$name($crate::Kind::Oxcd)
            }
        }
    )+};
}

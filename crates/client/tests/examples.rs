//! The crate's `examples/` run against a real server (of the kind `OXCD_CLUSTER_KIND`
//! selects): `make test` builds every target, examples included, before it runs this.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use oxcd_integration_tests::{cluster_kind, kind_available, Server, ServerOpts};

/// The built example `name`, beside this test binary's `deps/` directory.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build -p oxcd-client --examples` (make test does)",
        path.display()
    );
    path
}

#[test]
fn put_get_example_runs() {
    let kind = cluster_kind();
    assert!(kind_available(kind), "{} binary missing", kind.label());
    let server = Server::start(kind, ServerOpts::default())
        .unwrap_or_else(|e| panic!("start {}: {e}", kind.label()));
    let endpoint = server.endpoint().replace("http://", "");
    let started = Instant::now();
    let out = Command::new(example("put_get"))
        .arg(&endpoint)
        .output()
        .expect("run the put_get example");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "example too slow"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "example failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("put greeting at revision 2"), "{stdout}");
    assert!(stdout.contains("greeting = hello"), "{stdout}");
}

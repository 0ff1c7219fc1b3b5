//! The crate's `examples/` run against a real server, each against etcd 3.4.23
//! (`<example>::etcd`) and oxcd (`<example>::oxcd`), and print what they should: `make test`
//! builds every target, examples included, before it runs this.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use oxcd_integration_tests::{on_both_kinds, start_server, Kind};

on_both_kinds!(put_get, watch, lease_keeper, lock, election, stm, namespace);

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

/// Runs example `name` against a fresh server of `kind` and returns its output lines.
fn run_example(kind: Kind, name: &str) -> Vec<String> {
    let server = start_server(kind, &[]);
    let endpoint = server.endpoint().replace("http://", "");
    let started = Instant::now();
    let out = Command::new(example(name))
        .arg(&endpoint)
        .output()
        .unwrap_or_else(|e| panic!("run the {name} example: {e}"));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "example {name} too slow"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "example {name} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout.lines().map(str::to_string).collect()
}

fn put_get(kind: Kind) {
    assert_eq!(
        run_example(kind, "put_get"),
        ["put greeting at revision 2", "greeting = hello"]
    );
}

fn watch(kind: Kind) {
    // demo/a and demo/b are revisions 2 and 3: the watch resumes at 4, demo/c.
    assert_eq!(
        run_example(kind, "watch"),
        [
            "Put demo/a = 1",
            "Put demo/b = 2",
            "resuming at revision 4",
            "Put demo/c = 3"
        ]
    );
}

fn lease_keeper(kind: Kind) {
    assert_eq!(
        run_example(kind, "lease_keeper"),
        [
            "after 4 s: keeper alive = true, worker/1 present = true",
            "revoked: keeper lost = true, worker/1 present = false"
        ]
    );
}

fn lock(kind: Kind) {
    assert_eq!(
        run_example(kind, "lock"),
        [
            "first holds the lock",
            "first releases the lock",
            "second holds the lock"
        ]
    );
}

fn election(kind: Kind) {
    assert_eq!(
        run_example(kind, "election"),
        ["leader: alpha", "alpha resigns", "leader: beta"]
    );
}

fn stm(kind: Kind) {
    assert_eq!(
        run_example(kind, "stm"),
        ["account/alice = 50", "account/bob = 100", "total = 150"]
    );
}

fn namespace(kind: Kind) {
    assert_eq!(
        run_example(kind, "namespace"),
        [
            "app-a/ sees config = red",
            "app-b/ sees config = blue",
            "a plain client sees app-a/config = red",
            "a plain client sees app-b/config = blue"
        ]
    );
}

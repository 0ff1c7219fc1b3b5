//! `--config-file` as etcd 3.4.23 reads it: the YAML file's settings are used (TLS sections
//! included), and the command-line flags and `ETCD_*` variables given with it are ignored.
//! The same file and flags are given to etcd and to oxcd; both must end up with the file's
//! member name, data dir, URLs and timing, and a bad file must stop both.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oxcd_integration_tests::etcdctl::etcdctl_raw;
use oxcd_integration_tests::json::Json;
use oxcd_integration_tests::{kind_available, ports, Kind};

/// A server process killed (by PID) and reaped when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(dir: &std::path::Path, client: u16, peer: u16) -> String {
    format!(
        "name: from-file\n\
         data-dir: {data}\n\
         listen-client-urls: http://127.0.0.1:{client}\n\
         advertise-client-urls: http://127.0.0.1:{client}\n\
         listen-peer-urls: http://127.0.0.1:{peer}\n\
         initial-advertise-peer-urls: http://127.0.0.1:{peer}\n\
         initial-cluster: from-file=http://127.0.0.1:{peer}\n\
         initial-cluster-token: file-token\n\
         initial-cluster-state: new\n\
         heartbeat-interval: 50\n\
         election-timeout: 500\n\
         log-outputs: [stderr]\n\
         logger: zap\n\
         client-transport-security:\n  client-cert-auth: false\n\
         peer-transport-security:\n  client-cert-auth: false\n",
        data = dir.join("data-from-file").display(),
    )
}

fn member_name(endpoint: &str) -> Option<String> {
    let out = etcdctl_raw(
        endpoint,
        &["member", "list", "-w", "json"],
        None,
        Duration::from_secs(2),
    )
    .ok()?;
    let j = Json::parse(out.stdout.trim()).ok()?;
    let members = j.get("members")?;
    let Json::Arr(list) = members else {
        return None;
    };
    list.first()?.get("name")?.scalar().map(String::from)
}

#[test]
fn the_file_wins_over_flags_and_environment_on_etcd_and_oxcd() {
    for kind in [Kind::Etcd, Kind::Oxcd] {
        assert!(kind_available(kind));
        let dir = tempfile::tempdir().expect("tempdir");
        let (client, peer) = ports::free_port_pair().expect("ports");
        let file = dir.path().join("etcd.conf.yml");
        std::fs::write(&file, config(dir.path(), client, peer)).expect("write config");
        let log = std::fs::File::create(dir.path().join("log")).expect("log");
        let child = Command::new(kind.binary())
            .arg(format!("--config-file={}", file.display()))
            .args(["--name", "from-flag", "--data-dir"])
            .arg(dir.path().join("data-from-flag"))
            .env("ETCD_NAME", "from-env")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn");
        let _running = Running(child);
        let endpoint = format!("127.0.0.1:{client}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let name = loop {
            if let Some(n) = member_name(&endpoint) {
                break n;
            }
            assert!(
                Instant::now() < deadline,
                "{kind:?} did not serve on the file's client URL: {}",
                std::fs::read_to_string(dir.path().join("log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(name, "from-file", "{kind:?}");
        assert!(
            dir.path().join("data-from-file").is_dir(),
            "{kind:?}: the file's data dir"
        );
        assert!(
            !dir.path().join("data-from-flag").exists(),
            "{kind:?}: the flag's data dir was used"
        );
        let text = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        assert!(
            text.contains(
                "other configuration command line flags and environment variables will be ignored"
            ),
            "{kind:?}: no notice that flags are ignored:\n{text}"
        );
    }
}

#[test]
fn an_unreadable_or_malformed_file_stops_the_server() {
    for kind in [Kind::Etcd, Kind::Oxcd] {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = dir.path().join("bad.yml");
        std::fs::write(&bad, "name: [unclosed\n").expect("write");
        for path in [bad, dir.path().join("missing.yml")] {
            let child = Command::new(kind.binary())
                .arg(format!("--config-file={}", path.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            let mut running = Running(child);
            let deadline = Instant::now() + Duration::from_secs(10);
            let status = loop {
                if let Some(status) = running.0.try_wait().expect("wait") {
                    break status;
                }
                assert!(
                    Instant::now() < deadline,
                    "{kind:?} kept running with {}",
                    path.display()
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            assert!(!status.success(), "{kind:?} accepted {}", path.display());
        }
    }
}

//! etcd's HTTP access controller flags, on etcd 3.4.23 and oxcd with the same flags:
//! `--host-whitelist` (a plain-HTTP request naming another Host gets 421 and etcd's
//! explanation; gRPC is not affected) and `--cors` (only listed origins get CORS headers).

use std::process::{Command, Stdio};

use oxcd_integration_tests::{expect_ok, kind_available, Cluster, Kind};

/// curl (bounded by 10 s) with `args`; returns the status line's code, the CORS origin
/// header if any, and the body.
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "-m", "10", "-D", "-"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("none")
        .to_string();
    let origin = head
        .lines()
        .find_map(|l| l.strip_prefix("Access-Control-Allow-Origin: "))
        .or_else(|| {
            head.lines()
                .find_map(|l| l.strip_prefix("access-control-allow-origin: "))
        })
        .unwrap_or("-")
        .to_string();
    // Bodies of successful JSON answers differ in IDs and revisions; keep their shape.
    let body = if status == "200" && body.starts_with('{') {
        "<json>".to_string()
    } else {
        body.to_string()
    };
    format!("{status} origin={origin} body={body:?}")
}

fn observe(kind: Kind) -> Vec<String> {
    let flags = [
        "--host-whitelist=allowed.example",
        "--cors=http://ok.example:8080",
    ];
    let c =
        Cluster::start(kind, 1, &flags).unwrap_or_else(|e| panic!("start {}: {e}", kind.label()));
    let url = format!("http://{}", c.endpoint(0));
    let range = format!("{url}/v3/kv/range");
    let mut seen = Vec::new();
    for (what, args) in [
        (
            "health, other host",
            vec!["-H", "Host: evil.example", &format!("{url}/health")],
        ),
        (
            "range, other host",
            vec![
                "-H",
                "Host: evil.example:2379",
                "-X",
                "POST",
                &range,
                "-d",
                r#"{"key":"YQ=="}"#,
            ],
        ),
        (
            "range, listed host",
            vec![
                "-H",
                "Host: allowed.example:2379",
                "-X",
                "POST",
                &range,
                "-d",
                r#"{"key":"YQ=="}"#,
            ],
        ),
        (
            "range, listed origin",
            vec![
                "-H",
                "Host: allowed.example",
                "-H",
                "Origin: http://ok.example:8080",
                "-X",
                "POST",
                &range,
                "-d",
                r#"{"key":"YQ=="}"#,
            ],
        ),
        (
            "range, other origin",
            vec![
                "-H",
                "Host: allowed.example",
                "-H",
                "Origin: http://bad.example:8080",
                "-X",
                "POST",
                &range,
                "-d",
                r#"{"key":"YQ=="}"#,
            ],
        ),
    ]
    .map(|(w, a)| (w, a.into_iter().map(str::to_owned).collect::<Vec<String>>()))
    {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        seen.push(format!("{what}: {}", curl(&argv)));
    }
    // gRPC is not checked: etcdctl works whatever Host the whitelist allows.
    expect_ok(c.ctl(0, &["put", "a", "1"]), "put over gRPC");
    seen
}

#[test]
fn host_whitelist_and_cors_match_etcd() {
    for k in [Kind::Etcd, Kind::Oxcd] {
        assert!(kind_available(k), "{} binary missing", k.label());
    }
    let etcd = observe(Kind::Etcd).join("\n");
    let oxcd = observe(Kind::Oxcd).join("\n");
    println!("etcd:\n{etcd}\noxcd:\n{oxcd}");
    assert!(etcd.contains("health, other host: 421"), "{etcd}");
    assert_eq!(etcd, oxcd);
}

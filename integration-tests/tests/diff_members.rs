//! Differential membership tests on a single member (etcd 3.4.23 vs oxcd): etcd's checks
//! and error texts for MemberAdd/Remove/Update/Promote, learners, and MemberList. New
//! members get random IDs, so commands that print one are run unrecorded and noted with
//! the ID replaced.

use oxcd_integration_tests::{diff_run, etcdctl, ServerOpts, Session};

/// Runs etcdctl without recording it, and notes its exit code and output with `id`
/// (hex) replaced by `<NEW_ID>`.
fn ctl_noting(s: &mut Session, args: &[&str], id: Option<&str>) -> String {
    let out = etcdctl(s.server(), args).expect("etcdctl ran");
    let mut text = format!("{}{}", out.stdout, out.stderr);
    let mut cmd = args.join(" ");
    if let Some(id) = id.filter(|i| !i.is_empty()) {
        text = text.replace(id, "<NEW_ID>");
        cmd = cmd.replace(id, "<NEW_ID>");
    }
    s.note(&format!("etcdctl {cmd} -> exit {:?}", out.status));
    // etcdctl prints IDs with `%16x`: an ID with a leading zero nibble gets a space. Lines
    // are sorted: members are listed by ID, and the new member's random ID may sort either
    // side of the server's own.
    let own = format!("{:x}", s.server().member_id().unwrap_or(0));
    let text = text.replace(&own, "<OWN_ID>");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    lines.sort();
    for line in lines {
        s.note(&format!("  {line}"));
    }
    out.stdout
}

/// The hex ID in etcdctl's "Member <id> added to cluster <cid>" line.
fn added_id(stdout: &str) -> Option<String> {
    stdout
        .lines()
        .find(|l| l.starts_with("Member ") && l.contains(" added to cluster "))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
}

#[test]
fn member_errors_and_learners() {
    diff_run("member_errors_and_learners", ServerOpts::default(), |s| {
        let own_peer = format!("http://127.0.0.1:{}", s.server().peer_port());
        let own_id = format!("{:x}", s.server().member_id().unwrap_or(0));
        s.ctl(&["member", "list", "-w", "json"]);
        // Unknown members.
        s.ctl(&["member", "remove", "1234"]);
        s.ctl(&["member", "update", "1234", "--peer-urls=http://127.0.0.1:1"]);
        s.ctl(&["member", "promote", "1234"]);
        // A voter cannot be promoted.
        s.ctl(&["member", "promote", &own_id]);
        // Peer URLs in use, malformed URLs.
        s.ctl(&["member", "add", "dup", &format!("--peer-urls={own_peer}")]);
        s.ctl(&["member", "add", "bad", "--peer-urls=bad"]);
        s.ctl(&["member", "update", &own_id, "--peer-urls=bad"]);
        // A learner that never starts: listed as unstarted, cannot be promoted (not in
        // sync), a second learner is one too many, then it is removed.
        let out = etcdctl(
            s.server(),
            &[
                "member",
                "add",
                "l1",
                "--learner",
                "--peer-urls=http://127.0.0.1:1",
            ],
        )
        .expect("etcdctl ran");
        let id = added_id(&out.stdout).unwrap_or_default();
        s.note(&format!("member add l1 --learner -> exit {:?}", out.status));
        s.note(&format!("  learner id found: {}", !id.is_empty()));
        let list = ctl_noting(s, &["member", "list"], Some(&id));
        s.note(&format!(
            "  unstarted learner listed: {}",
            list.contains("unstarted")
        ));
        ctl_noting(
            s,
            &[
                "member",
                "add",
                "l2",
                "--learner",
                "--peer-urls=http://127.0.0.1:2",
            ],
            Some(&id),
        );
        ctl_noting(s, &["member", "promote", &id], Some(&id));
        ctl_noting(s, &["member", "remove", &id], Some(&id));
        // Removed: gone from the list, and unknown from now on.
        s.ctl(&["member", "list", "-w", "json"]);
        ctl_noting(s, &["member", "remove", &id], Some(&id));
    });
}

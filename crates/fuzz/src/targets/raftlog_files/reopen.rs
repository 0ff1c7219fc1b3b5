//! Child mode `--child-reopen DATA STATES`: restart the member on a (corrupted) copy of
//! the template and say, on one `VERDICT <kind>: <detail>` line of stdout, what it did.
//!
//! Kinds: `error` (startup refused the data: a clean error), `full` (it serves the
//! template's last state), `earlier` (it serves an earlier state: writes were lost with
//! the damaged files, as after losing the tail of a log), `stuck` (it started but never
//! led or never caught up), `WRONG` (it serves a key space that was never there). Any
//! panic, on any thread, ends the process at once with status 101 (the panic hook), so
//! the parent sees it even where tokio would have caught it.

use std::path::Path;
use std::time::Duration;

use oxcd_server::bootstrap;

use super::template::{config, load_states, snapshot_state, wait_ready};

/// How long the member may take to start, elect itself and apply its log.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// Names what the child is doing, on stderr, so that a parent that has to kill it can
/// say where it hung.
fn phase(what: &str) {
    eprintln!("PHASE {what}");
}

fn verdict(kind: &str, detail: &str) {
    let detail: String = detail.chars().take(300).collect();
    println!("VERDICT {kind}: {}", detail.replace('\n', " "));
}

/// Runs the child: prints the verdict, then stops the member in order.
pub fn run(data: &Path, states: &Path) -> anyhow::Result<()> {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default_hook(info);
        std::process::exit(101);
    }));
    let states = load_states(states)?;
    let cfg = config(data)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        phase("open");
        let started = match tokio::time::timeout(READY_WITHIN, bootstrap::open(&cfg)).await {
            Err(_) => return verdict("stuck", "bootstrap::open did not return"),
            Ok(Err(e)) => return verdict("error", &e.to_string()),
            Ok(Ok(s)) => s,
        };
        let ctx = started.ctx.clone();
        phase("ready");
        if !wait_ready(&ctx, READY_WITHIN).await {
            let st = ctx.raft.status().borrow().clone();
            let ended = started.raft_thread.is_finished();
            verdict(
                "stuck",
                &format!(
                    "leader {} applied {} commit {} raft loop ended {ended}",
                    st.leader_id, st.applied_index, st.commit_index
                ),
            );
        } else {
            match snapshot_state(&ctx) {
                Err(e) => verdict("error", &format!("serving a range: {e:#}")),
                Ok(now) => match states.iter().rposition(|s| *s == now) {
                    Some(i) if i + 1 == states.len() => verdict("full", ""),
                    Some(i) => verdict("earlier", &format!("state {i} of {}", states.len())),
                    None => verdict(
                        "WRONG",
                        &format!("{} keys, matching no state the template had", now.len()),
                    ),
                },
            }
        }
        // Stop as the server does, so that both RocksDB instances close before the
        // process exits (exiting with one open lets RocksDB's threads abort the process
        // while static destructors run).
        drop(ctx);
        phase("shutdown");
        started.raft.shutdown().await;
        let thread = started.raft_thread;
        let _ = tokio::time::timeout(
            READY_WITHIN,
            tokio::task::spawn_blocking(move || thread.join()),
        )
        .await;
    });
    rt.shutdown_timeout(READY_WITHIN);
    phase("done");
    Ok(())
}

//! `alarm list`/`alarm disarm`, `defrag [--cluster]` (with progress on stderr) and
//! `move-leader <member id>`.

use clap::{Args, Subcommand};
use oxcd_client::AlarmType;

use crate::error::{client_error_text, exit, CtlError};
use crate::global::GlobalFlags;
use crate::gotext::human_bytes;
use crate::kv::parse_uint;
use crate::print::{eprintln, println};
use crate::progress::{Reporter, TICK};

/// `alarm <subcommand>`.
#[derive(Debug, Clone, Subcommand)]
pub enum AlarmCommand {
    /// Disarms all alarms
    Disarm(NoArgs),
    /// Lists all alarms
    List(NoArgs),
}

/// A command without arguments (extra ones are refused with etcdctl's text).
#[derive(Debug, Clone, Args)]
pub struct NoArgs {
    #[arg(num_args = 0.., hide = true)]
    args: Vec<String>,
}

/// `defrag [--cluster]`.
#[derive(Debug, Clone, Args)]
pub struct DefragArgs {
    /// use all endpoints from the cluster member list
    #[arg(long)]
    pub cluster: bool,
    /// Optional. If present, defragments a data directory not in use by etcd.
    #[arg(long = "data-dir", default_value = "")]
    pub data_dir: String,
}

/// `move-leader <transferee-member-id>`.
#[derive(Debug, Clone, Args)]
pub struct MoveLeaderArgs {
    /// <transferee-member-id>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// Runs an `alarm` subcommand.
pub async fn alarm(g: &GlobalFlags, c: AlarmCommand) -> Result<(), CtlError> {
    let (args, what) = match &c {
        AlarmCommand::Disarm(a) => (&a.args, "disarm"),
        AlarmCommand::List(a) => (&a.args, "list"),
    };
    if !args.is_empty() {
        return Err(CtlError::bad_args(format!(
            "alarm {what} command accepts no arguments"
        )));
    }
    let printer = g.printer()?;
    let m = g.client().await?.maintenance();
    let resp = match c {
        AlarmCommand::Disarm(_) => m.alarm_disarm(0, AlarmType::None).await,
        AlarmCommand::List(_) => m.alarm_list().await,
    }
    .map_err(|e| CtlError::client(exit::ERROR, &e))?;
    printer.alarm(&resp)
}

/// `defrag`. Each member's defragmentation shows its progress on stderr (the elapsed time,
/// then the db size before and after and the rate: see [`crate::progress`]).
pub async fn defrag(g: &GlobalFlags, a: DefragArgs) -> Result<(), CtlError> {
    if !a.data_dir.is_empty() {
        eprintln(&format!(
            "Failed to defragment etcd data[{}] (oxcdctl defragments running members only: an offline data directory is not supported)",
            a.data_dir
        ));
        return Err(CtlError::silent(exit::ERROR));
    }
    g.printer()?;
    let client = g.client().await?;
    // The sizes for the progress line come from a client that logs no failed attempt:
    // stderr shows etcdctl's lines and the progress, nothing else.
    let probe = g.quiet_client(&client).await;
    let db_size = |ep: String| {
        let probe = probe.clone();
        async move {
            let probe = probe?;
            let st = probe.maintenance().status(&ep).await.ok()?;
            u64::try_from(st.db_size).ok()
        }
    };
    let mut failures = 0;
    for ep in crate::endpoint::endpoints(g, a.cluster).await? {
        let before = db_size(ep.clone()).await;
        let mut progress = Reporter::new(format!("defrag {ep}"));
        let maintenance = client.maintenance();
        let call = maintenance.defragment(&ep);
        tokio::pin!(call);
        let mut tick = tokio::time::interval(TICK);
        let result = loop {
            tokio::select! {
                r = &mut call => break r,
                _ = tick.tick() => progress.tick(),
            }
        };
        match result {
            Ok(_) => {
                let extra = match (before, db_size(ep.clone()).await) {
                    (Some(b), Some(a)) => {
                        format!(" (db size {} -> {})", human_bytes(b), human_bytes(a))
                    }
                    _ => String::new(),
                };
                progress.finish(before.unwrap_or(0), &extra);
                println(&format!("Finished defragmenting etcd member[{ep}]"));
            }
            Err(e) => {
                drop(progress);
                failures += 1;
                eprintln(&format!(
                    "Failed to defragment etcd member[{ep}] ({})",
                    client_error_text(&e)
                ));
            }
        }
    }
    if failures != 0 {
        return Err(CtlError::silent(exit::ERROR));
    }
    Ok(())
}

/// `move-leader`: finds the leader among `--endpoints` and asks it to transfer.
pub async fn move_leader(g: &GlobalFlags, a: MoveLeaderArgs) -> Result<(), CtlError> {
    let [target] = a.args.as_slice() else {
        return Err(CtlError::bad_args("move-leader command needs 1 argument"));
    };
    let target = parse_uint(target, 16).map_err(CtlError::bad_args)?;
    let printer = g.printer()?;
    let eps = g.endpoint_list();
    let mut leader = None;
    for ep in &eps {
        let client = g.client_of(std::slice::from_ref(ep)).await?;
        let status = client
            .maintenance()
            .status(ep)
            .await
            .map_err(|e| CtlError::client(exit::ERROR, &e))?;
        let member = status.header.as_ref().map_or(0, |h| h.member_id);
        if member == status.leader {
            leader = Some((client, status.leader));
            break;
        }
    }
    let Some((client, leader_id)) = leader else {
        return Err(CtlError::bad_args(format!(
            "no leader endpoint given at [{}]",
            eps.join(" ")
        )));
    };
    let resp = client
        .maintenance()
        .move_leader(target)
        .await
        .map_err(|e| CtlError::client(exit::ERROR, &e))?;
    printer.move_leader(leader_id, target, &resp)
}

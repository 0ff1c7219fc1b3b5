//! `lock <lockname> [exec-command arg1 arg2 ...]` and `elect <election-name> [proposal]`
//! (`-l` to observe), over oxcd-client's `concurrency` (Go's key layout, so they
//! interoperate with etcdctl's). SIGINT or SIGTERM releases what is held (unlock,
//! resign) and ends the command with exit 0, as etcdctl.

use clap::Args;
use oxcd_client::{Client, Election, GetOptions, Mutex, Session};
use tokio::signal::unix::{signal, SignalKind};

use crate::error::{exit, CtlError};
use crate::global::GlobalFlags;

/// `lock <lockname> [exec-command arg1 arg2 ...]`.
#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// timeout for session
    #[arg(long, default_value_t = 10)]
    pub ttl: i64,
    /// <lockname> [exec-command arg1 arg2 ...]
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `elect <election-name> [proposal]`.
#[derive(Debug, Clone, Args)]
pub struct ElectArgs {
    /// observation mode
    #[arg(short = 'l', long)]
    pub listen: bool,
    /// <election-name> [proposal]
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

fn failed(e: oxcd_client::Error) -> CtlError {
    CtlError::client(exit::ERROR, &e)
}

/// Resolves on the first SIGINT or SIGTERM.
async fn interrupted() {
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// Prints the current value of `key` as `get` does; `None` if it is gone.
async fn show(g: &GlobalFlags, client: &Client, key: &[u8]) -> Result<bool, CtlError> {
    let resp = client
        .kv()
        .get(key.to_vec(), GetOptions::new())
        .await
        .map_err(failed)?;
    if resp.kvs.is_empty() {
        return Ok(false);
    }
    g.printer()?.get(&resp)?;
    Ok(true)
}

/// `lock`.
pub async fn lock(g: &GlobalFlags, a: LockArgs) -> Result<(), CtlError> {
    let Some((name, command)) = a.args.split_first() else {
        return Err(CtlError::bad_args(
            "lock takes a lock name argument and an optional command to execute",
        ));
    };
    g.printer()?;
    let client = g.client().await?;
    let mut session = Session::new(&client, a.ttl).await.map_err(failed)?;
    let signals = interrupted();
    tokio::pin!(signals);
    let mut mutex = tokio::select! {
        m = Mutex::lock(&session, name) => m.map_err(failed)?,
        _ = &mut signals => return Err(CtlError::error("context canceled")),
    };
    if let Some((program, args)) = command.split_first() {
        let key = String::from_utf8_lossy(mutex.key()).into_owned();
        let rev = mutex.header().map_or(0, |h| h.revision);
        let status = tokio::process::Command::new(program)
            .args(args)
            .env("ETCD_LOCK_KEY", key)
            .env("ETCD_LOCK_REV", rev.to_string())
            .status()
            .await;
        let unlocked = mutex.unlock().await;
        return match status {
            Ok(s) if s.success() => unlocked.map_err(failed),
            Ok(s) => Err(CtlError::error(match s.code() {
                Some(c) => format!("exit status {c}"),
                None => "signal: killed".to_string(),
            })),
            Err(e) => Err(CtlError::error(e.to_string())),
        };
    }
    if !show(g, &client, mutex.key()).await? {
        return Err(CtlError::error("lock lost on init"));
    }
    tokio::select! {
        _ = &mut signals => mutex.unlock().await.map_err(failed),
        _ = session.done() => Err(CtlError::error("session expired")),
    }
}

/// `elect`.
pub async fn elect(g: &GlobalFlags, a: ElectArgs) -> Result<(), CtlError> {
    let (name, proposal) = match a.args.as_slice() {
        [name] => (name, None),
        [name, proposal] => (name, Some(proposal)),
        _ => {
            return Err(CtlError::bad_args(
                "elect takes one election name argument and an optional proposal argument",
            ))
        }
    };
    if proposal.is_none() && !a.listen {
        return Err(CtlError::bad_args("no proposal argument but -l not set"));
    }
    if proposal.is_some() && a.listen {
        return Err(CtlError::bad_args("proposal given but -l is set"));
    }
    let printer = g.printer()?;
    let client = g.client().await?;
    let mut session = Session::new(&client, 60).await.map_err(failed)?;
    let signals = interrupted();
    tokio::pin!(signals);
    let Some(proposal) = proposal else {
        let mut observer = Election::observe(&client, name);
        loop {
            tokio::select! {
                _ = &mut signals => return Ok(()),
                next = observer.next() => match next {
                    Ok(resp) => printer.get(&resp)?,
                    Err(_) => return Err(CtlError::error("elect: observer lost")),
                },
            }
        }
    };
    let mut election = tokio::select! {
        e = Election::campaign(&session, name, proposal) => e.map_err(failed)?,
        _ = &mut signals => return Err(CtlError::error("context canceled")),
    };
    show(g, &client, election.key()).await?;
    tokio::select! {
        _ = &mut signals => election.resign().await.map_err(failed),
        _ = session.done() => Err(CtlError::error("elect: session expired")),
    }
}

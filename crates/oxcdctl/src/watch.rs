//! `watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]` and
//! `watch -i` (`watch ...` and `progress` requests read from stdin, one per line). Events print as they come;
//! with an exec command, the command runs once per event with etcdctl's `ETCD_WATCH_*`
//! variables. The watch ends when the server cancels it ("watch is canceled by the
//! server", exit 5) or the process gets SIGINT (default disposition, as etcdctl).

use std::time::Duration;

use clap::{Args, Parser};
use oxcd_client::{Client, Error, WatchOptions, WatchResponse};
use tokio::sync::broadcast;

use crate::error::{exit, status_text, CtlError};
use crate::global::GlobalFlags;
use crate::gotext::quote;
use crate::print::{eprintln, event_type, println, Printer};

/// `watch [options] ...`.
#[derive(Debug, Clone, Args)]
#[command(allow_negative_numbers = true)]
pub struct WatchArgs {
    /// Interactive mode
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Watch on a prefix if prefix is set
    #[arg(long)]
    pub prefix: bool,
    /// Revision to start watching
    #[arg(long, default_value_t = 0, value_parser = crate::kv::go_i64)]
    pub rev: i64,
    /// get the previous key-value pair before the event happens
    #[arg(long = "prev-kv")]
    pub prev_kv: bool,
    /// [key or prefix] [range_end]
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
    /// [exec-command arg1 arg2 ...] (after `--`)
    #[arg(last = true)]
    pub exec: Vec<String>,
}

/// One `watch ...` line of `watch -i`.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct InteractiveLine {
    #[command(flatten)]
    args: WatchArgs,
}

/// The watch a parsed command asks for.
struct Spec {
    key: String,
    options: WatchOptions,
    exec: Vec<String>,
}

/// etcdctl's checks of the watch arguments (parseWatchArgs and getWatchChan).
fn spec(a: &WatchArgs, separator: bool) -> Result<Spec, CtlError> {
    let env_key = std::env::var("ETCDCTL_WATCH_KEY").unwrap_or_default();
    let env_range = std::env::var("ETCDCTL_WATCH_RANGE_END").unwrap_or_default();
    if separator && a.exec.is_empty() {
        return Err(CtlError::bad_args(
            "bad number of arguments (found separator --, but no commands)",
        ));
    }
    if !env_key.is_empty() && !a.args.is_empty() {
        return Err(CtlError::bad_args(
            "bad number of arguments (found conflicting environment key)",
        ));
    }
    let mut args = a.args.clone();
    if !env_key.is_empty() {
        args = vec![env_key];
        if !env_range.is_empty() {
            args.push(env_range);
        }
    }
    let Some(key) = args.first().cloned() else {
        return Err(CtlError::bad_args("bad number of arguments"));
    };
    let mut options = WatchOptions {
        prefix: a.prefix,
        start_revision: a.rev,
        prev_kv: a.prev_kv,
        ..WatchOptions::default()
    };
    if let Some(end) = args.get(1) {
        if a.prefix {
            return Err(CtlError::bad_args(
                "`range_end` and `--prefix` are mutually exclusive",
            ));
        }
        options.range_end = Some(end.clone().into_bytes());
    }
    Ok(Spec {
        key,
        options,
        exec: a.exec.clone(),
    })
}

/// Runs `exec` once for an event, as etcdctl: its output is ours; a failure ends oxcdctl.
fn run_exec(exec: &[String], resp: &WatchResponse) {
    for ev in &resp.events {
        let kv = ev.kv.clone().unwrap_or_default();
        let status = std::process::Command::new(&exec[0])
            .args(&exec[1..])
            .env(
                "ETCD_WATCH_REVISION",
                resp.header.as_ref().map_or(0, |h| h.revision).to_string(),
            )
            .env(
                "ETCD_WATCH_EVENT_TYPE",
                quote(event_type(ev.r#type).as_bytes()),
            )
            .env("ETCD_WATCH_KEY", quote(&kv.key))
            .env("ETCD_WATCH_VALUE", quote(&kv.value))
            .status();
        let failure = match status {
            Ok(s) if s.success() => continue,
            Ok(s) => match s.code() {
                Some(c) => format!("exit status {c}"),
                None => "signal: killed".to_string(),
            },
            Err(e) => e.to_string(),
        };
        let quoted: Vec<String> = exec.iter().map(|a| quote(a.as_bytes())).collect();
        eprintln(&format!("command [{}] error ({failure})", quoted.join(" ")));
        std::process::exit(exit::ERROR);
    }
}

/// Whether `resp` is a progress notification (clientv3's IsProgressNotify).
fn is_progress(resp: &WatchResponse) -> bool {
    resp.events.is_empty()
        && !resp.canceled
        && !resp.created
        && resp.compact_revision == 0
        && resp.header.is_some_and(|h| h.revision != 0)
}

/// Prints one watch until the server ends it (etcdctl's printWatchCh); each message on
/// `progress` asks the server for a progress notification (`watch -i`'s `progress`).
async fn print_watch(
    client: Client,
    spec: Spec,
    printer: Printer,
    mut progress: Option<broadcast::Receiver<()>>,
) -> Result<(), CtlError> {
    let canceled = |printer: &Printer, resp: WatchResponse, err: &Error| {
        let why = match err {
            Error::Compacted(_) => {
                "etcdserver: mvcc: required revision has been compacted".to_string()
            }
            Error::WatchCanceled(reason) => {
                status_text(&oxcd_client::Status::failed_precondition(reason.clone()))
            }
            other => other.to_string(),
        };
        eprintln(&format!("watch was canceled ({why})"));
        printer.watch(&resp)
    };
    let mut watcher = loop {
        match client.watch(spec.key.clone(), spec.options.clone()).await {
            Ok(w) => break w,
            Err(e @ (Error::Compacted(_) | Error::WatchCanceled(_))) => {
                let resp = WatchResponse {
                    canceled: true,
                    compact_revision: match e {
                        Error::Compacted(r) => r,
                        _ => 0,
                    },
                    ..WatchResponse::default()
                };
                canceled(&printer, resp, &e)?;
                return Ok(());
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    };
    loop {
        let asked = async {
            match progress.as_mut() {
                Some(rx) => rx.recv().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let next = tokio::select! {
            next = watcher.next() => next,
            asked = asked => {
                if asked {
                    let _ = watcher.request_progress().await;
                } else {
                    progress = None;
                }
                continue;
            }
        };
        let Some(next) = next else { break };
        match next {
            Ok(resp) => {
                if is_progress(&resp) {
                    println(&format!(
                        "progress notify: {}",
                        resp.header.map_or(0, |h| h.revision)
                    ));
                }
                printer.watch(&resp)?;
                if !spec.exec.is_empty() {
                    run_exec(&spec.exec, &resp);
                }
            }
            Err(e @ (Error::Compacted(_) | Error::WatchCanceled(_))) => {
                let resp = watcher.cancel_response().cloned().unwrap_or_default();
                canceled(&printer, resp, &e)?;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
    Ok(())
}

/// `watch`.
pub async fn run(g: &GlobalFlags, a: WatchArgs) -> Result<(), CtlError> {
    let env_key = std::env::var("ETCDCTL_WATCH_KEY").unwrap_or_default();
    let env_range = std::env::var("ETCDCTL_WATCH_RANGE_END").unwrap_or_default();
    if env_key.is_empty() && !env_range.is_empty() {
        return Err(CtlError::bad_args(format!(
            "ETCDCTL_WATCH_KEY is empty but got ETCDCTL_WATCH_RANGE_END={}",
            quote(env_range.as_bytes())
        )));
    }
    if a.interactive {
        return interactive(g).await;
    }
    let separator = std::env::args()
        .skip_while(|x| x != "watch")
        .any(|x| x == "--");
    let spec = spec(&a, separator)?;
    let printer = g.printer()?;
    let client = g.client().await?;
    print_watch(client, spec, printer, None).await?;
    Err(CtlError::new(
        exit::INTERRUPTED,
        "watch is canceled by the server",
    ))
}

/// `watch -i`: `watch ...` lines start watches; the process lives until stdin ends.
async fn interactive(g: &GlobalFlags) -> Result<(), CtlError> {
    let printer = g.printer()?;
    let client = g.client().await?;
    let (progress, _) = broadcast::channel(16);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        loop {
            let mut line = String::new();
            match stdin.read_line(&mut line) {
                Ok(n) if n > 0 && line.ends_with('\n') => {
                    if tx.send(Some(line)).is_err() {
                        return;
                    }
                }
                _ => {
                    let _ = tx.send(None);
                    return;
                }
            }
        }
    });
    while let Some(Some(line)) = rx.recv().await {
        let l = line.trim_end_matches('\n');
        let args = crate::txn::argify(l)?;
        match args.first().map(String::as_str) {
            None => eprintln(&format!(
                "Invalid command: {l} (watch and progress supported)"
            )),
            Some("watch") => {
                if args.len() < 2
                    && std::env::var("ETCDCTL_WATCH_KEY")
                        .unwrap_or_default()
                        .is_empty()
                {
                    eprintln(&format!(
                        "Invalid command {l} (command type or key is not provided)"
                    ));
                    continue;
                }
                let parsed = InteractiveLine::try_parse_from(&args[1..])
                    .map_err(|e| CtlError::bad_args(e.kind().to_string()))?;
                let separator = args.iter().any(|x| x == "--");
                match spec(&parsed.args, separator) {
                    Ok(spec) => {
                        tokio::spawn(print_watch(
                            client.clone(),
                            spec,
                            printer.clone(),
                            Some(progress.subscribe()),
                        ));
                    }
                    Err(e) if e.message.starts_with("`range_end`") => {
                        eprintln(&format!("Invalid command {l} ({})", e.message));
                    }
                    Err(e) => return Err(e),
                }
            }
            Some("progress") => {
                let _ = progress.send(());
            }
            Some(_) => eprintln(&format!("Invalid command {l} (only support watch)")),
        }
    }
    Err(CtlError::new(
        exit::INVALID_INPUT,
        "Error reading watch request line: EOF",
    ))
}

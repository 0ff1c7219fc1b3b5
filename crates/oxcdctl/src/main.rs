//! oxcdctl: a command line client of etcd v3 servers (oxcd and etcd 3.4) that behaves as
//! etcdctl 3.4.23: the same commands, flags, `ETCDCTL_*` variables, output formats
//! (simple, json, fields, table, protobuf), error texts and exit codes. All server traffic
//! goes through `oxcd-client`.
//!
//! # Layout
//! - `main.rs`: the command tree (clap derive), the runtime, printing `Error: ...` and
//!   exiting with etcdctl's code.
//! - `global.rs`: the global flags and environment, the printer and the client they make.
//! - `error.rs`: [`error::CtlError`], etcdctl's exit codes and its text of a gRPC error.
//! - `gotext.rs`: Go's text forms (`%q`, encoding/json strings, durations, sizes).
//! - `print/`: one printer method per response, grouped (`kv.rs`, `lease.rs`,
//!   `cluster.rs`, `auth.rs`); `simple.rs`, `fields.rs`, `json.rs`, `table.rs` hold each
//!   format's pieces.
//! - One file per command group: `kv.rs` (put, get, del, compaction), `txn.rs`,
//!   `lease.rs`, `watch.rs`, `member.rs`, `endpoint.rs`, `maintenance.rs` (alarm, defrag,
//!   move-leader), `auth.rs` (auth, user, role), `lock.rs` (lock, elect), `mirror.rs`
//!   (make-mirror, and where it keeps its resume point), `check.rs` (check perf,
//!   check datascale), `snapshot.rs` (save, status, restore).
//! - `progress.rs`: the progress of save, restore and defrag on stderr (a bar on a
//!   terminal, plain lines otherwise).
//!
//! # Invariants
//! - OUTPUT IS ETCDCTL'S: every line a command prints on stdout or stderr is the line
//!   etcdctl 3.4.23 prints for the same response, byte for byte (timings and random IDs
//!   aside); `integration-tests/tests/diff_oxcdctl.rs` checks it against etcdctl itself.
//! - A command fails by returning a [`error::CtlError`]; only `main` prints `Error: ` and
//!   exits. Bad input is an error with etcdctl's text, never a panic.
//! - A request runs before its response is printed; a format the response lacks is an
//!   error after the request, as in etcdctl.

mod auth;
mod check;
mod endpoint;
mod error;
mod global;
mod gotext;
mod kv;
mod lease;
mod lock;
mod maintenance;
mod member;
mod mirror;
mod print;
mod progress;
mod snapshot;
mod txn;
mod watch;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::error::{exit, CtlError};
use crate::global::GlobalFlags;

/// A simple command line client for etcd3.
#[derive(Debug, Parser)]
#[command(name = "oxcdctl", version = None, disable_version_flag = true, args_override_self = true,
    arg_required_else_help = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalFlags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Gets the key or a range of keys
    Get(kv::GetArgs),
    /// Puts the given key into the store
    Put(kv::PutArgs),
    /// Removes the specified key or range of keys [key, range_end)
    Del(kv::DelArgs),
    /// Txn processes all the requests in one transaction
    Txn(txn::TxnArgs),
    /// Compacts the event history in etcd
    Compaction(kv::CompactionArgs),
    /// Alarm related commands
    #[command(subcommand)]
    Alarm(maintenance::AlarmCommand),
    /// Defragments the storage of the etcd members with given endpoints
    Defrag(maintenance::DefragArgs),
    /// Endpoint related commands
    Endpoint(endpoint::EndpointArgs),
    /// Transfers leadership to another etcd cluster member.
    MoveLeader(maintenance::MoveLeaderArgs),
    /// Watches events stream on keys or prefixes
    Watch(watch::WatchArgs),
    /// Prints the version of etcdctl
    Version,
    /// Lease related commands
    #[command(subcommand)]
    Lease(lease::LeaseCommand),
    /// Membership related commands
    #[command(subcommand)]
    Member(member::MemberCommand),
    /// Makes a mirror at the destination etcd cluster
    MakeMirror(mirror::MakeMirrorArgs),
    /// commands for checking properties of the etcd cluster
    #[command(subcommand)]
    Check(check::CheckCommand),
    /// Manages etcd node snapshots
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Acquires a named lock
    Lock(lock::LockArgs),
    /// Observes and participates in leader election
    Elect(lock::ElectArgs),
    /// Enable or disable authentication
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// User related commands
    #[command(subcommand)]
    User(auth::UserCommand),
    /// Role related commands
    #[command(subcommand)]
    Role(auth::RoleCommand),
}

/// The etcd version etcdctl 3.4.23 reports, and its API version.
const VERSION: &str = "3.4.23";
const API_VERSION: &str = "3.4";

async fn run(cli: Cli) -> Result<(), CtlError> {
    let g = &cli.global;
    match cli.command {
        Command::Get(a) => kv::get(g, a).await,
        Command::Put(a) => kv::put(g, a).await,
        Command::Del(a) => kv::del(g, a).await,
        Command::Txn(a) => txn::run(g, a).await,
        Command::Compaction(a) => kv::compaction(g, a).await,
        Command::Alarm(c) => maintenance::alarm(g, c).await,
        Command::Defrag(a) => maintenance::defrag(g, a).await,
        Command::Endpoint(a) => endpoint::run(g, a).await,
        Command::MoveLeader(a) => maintenance::move_leader(g, a).await,
        Command::Watch(a) => watch::run(g, a).await,
        Command::Version => {
            print::println(&format!("etcdctl version: {VERSION}"));
            print::println(&format!("API version: {API_VERSION}"));
            Ok(())
        }
        Command::Lease(c) => lease::run(g, c).await,
        Command::Member(c) => member::run(g, c).await,
        Command::MakeMirror(a) => mirror::run(g, a).await,
        Command::Check(c) => check::run(g, c).await,
        Command::Snapshot(c) => snapshot::run(g, c).await,
        Command::Lock(a) => lock::lock(g, a).await,
        Command::Elect(a) => lock::elect(g, a).await,
        Command::Auth(c) => auth::auth(g, c).await,
        Command::User(c) => auth::user(g, c).await,
        Command::Role(c) => auth::role(g, c).await,
    }
}

/// Reports a command line clap refused as cobra does (`Error: unknown flag: --x`,
/// `Error: invalid argument "v" for "--f" flag: ...`, exit 1; help on stdout, exit 0).
fn command_line_error(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ErrorKind};
    let context = |kind| e.get(kind).map(|v| v.to_string()).unwrap_or_default();
    let message = match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            print::println(e.render().to_string().trim_end());
            std::process::exit(0);
        }
        ErrorKind::UnknownArgument => {
            let arg = context(ContextKind::InvalidArg);
            match arg.strip_prefix('-') {
                Some(short) if !short.starts_with('-') => format!(
                    "unknown shorthand flag: '{}' in {arg}",
                    short.chars().next().unwrap_or('?')
                ),
                _ => format!("unknown flag: {}", arg.split('=').next().unwrap_or(&arg)),
            }
        }
        ErrorKind::InvalidSubcommand => format!(
            "unknown command {} for \"oxcdctl\"\nRun 'oxcdctl --help' for usage.",
            gotext::quote(context(ContextKind::InvalidSubcommand).as_bytes())
        ),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue
            if context(ContextKind::InvalidValue).is_empty() =>
        {
            let arg = context(ContextKind::InvalidArg);
            let flag = arg.split([' ', '=']).next().unwrap_or(&arg);
            format!("flag needs an argument: {flag}")
        }
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let arg = context(ContextKind::InvalidArg);
            let flag = arg.split([' ', '=']).next().unwrap_or(&arg);
            let source = std::error::Error::source(&e)
                .map(|s| s.to_string())
                .unwrap_or_else(|| e.kind().to_string());
            format!(
                "invalid argument {} for {} flag: {source}",
                gotext::quote(context(ContextKind::InvalidValue).as_bytes()),
                gotext::quote(flag.as_bytes())
            )
        }
        _ => {
            let text = e.render().to_string();
            let text = text.trim_end();
            text.strip_prefix("error: ").unwrap_or(text).to_string()
        }
    };
    print::eprintln(&format!("Error: {message}"));
    std::process::exit(exit::ERROR);
}

fn main() {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => command_line_error(e),
    };
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => command_line_error(e),
    };
    cli.global.command_timeout_set = global::was_set(&matches, "command_timeout");
    let result = global::check_env(&matches).and_then(|()| {
        // `check` drives many clients at a fixed rate: it gets every core, so the
        // latencies it reports are the server's, not this process's scheduling.
        let mut rt = if matches!(cli.command, Command::Check(_)) {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let rt = rt
            .enable_all()
            .build()
            .map_err(|e| CtlError::error(e.to_string()))?;
        rt.block_on(run(cli))
    });
    if let Err(e) = result {
        if !e.message.is_empty() {
            print::eprintln(&format!("Error: {}", e.message));
        }
        std::process::exit(e.code);
    }
}

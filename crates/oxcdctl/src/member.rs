//! `member add [--peer-urls --learner]`, `remove`, `update [--peer-urls]`, `list` and
//! `promote`, with etcdctl's argument texts; `member add` in the simple format also prints
//! the ETCD_* settings the new member starts with.

use clap::{Args, Subcommand};
use oxcd_client::proto::etcdserverpb::MemberAddResponse;

use crate::error::{exit, CtlError};
use crate::global::GlobalFlags;
use crate::gotext::quote;
use crate::kv::parse_uint;
use crate::print::{println, Format};

/// `member <subcommand>`.
#[derive(Debug, Clone, Subcommand)]
pub enum MemberCommand {
    /// Adds a member into the cluster
    Add(AddArgs),
    /// Removes a member from the cluster
    Remove(IdArgs),
    /// Updates a member in the cluster
    Update(UpdateArgs),
    /// Lists all members in the cluster
    List(IdArgs),
    /// Promotes a non-voting member in the cluster
    Promote(IdArgs),
}

/// `member add <memberName> [options]`.
#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    /// comma separated peer URLs for the new member.
    #[arg(long = "peer-urls", default_value = "")]
    pub peer_urls: String,
    /// indicates if the new member is raft learner
    #[arg(long)]
    pub learner: bool,
    /// <memberName>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `member update <memberID> [options]`.
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// comma separated peer URLs for the updated member.
    #[arg(long = "peer-urls", default_value = "")]
    pub peer_urls: String,
    /// <memberID>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `<memberID>` (or nothing, for list).
#[derive(Debug, Clone, Args)]
pub struct IdArgs {
    /// <memberID>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// The member ID argument in hex.
fn member_id(args: &[String]) -> Result<u64, CtlError> {
    let [id] = args else {
        return Err(CtlError::bad_args("member ID is not provided"));
    };
    parse_uint(id, 16)
        .map_err(|e| CtlError::bad_args(format!("bad member ID arg ({e}), expecting ID in Hex")))
}

fn failed(e: oxcd_client::Error) -> CtlError {
    CtlError::client(exit::ERROR, &e)
}

/// Runs a `member` subcommand.
pub async fn run(g: &GlobalFlags, c: MemberCommand) -> Result<(), CtlError> {
    match c {
        MemberCommand::Add(a) => add(g, a).await,
        MemberCommand::Remove(a) => {
            let id = member_id(&a.args)?;
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .cluster()
                .member_remove(id)
                .await
                .map_err(failed)?;
            printer.member_change("removed from", id, &r.header, &r.members, &r)
        }
        MemberCommand::Update(a) => {
            let id = member_id(&a.args)?;
            if a.peer_urls.is_empty() {
                return Err(CtlError::bad_args("member peer urls not provided"));
            }
            let urls: Vec<String> = a.peer_urls.split(',').map(str::to_string).collect();
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .cluster()
                .member_update(id, &urls)
                .await
                .map_err(failed)?;
            printer.member_change("updated in", id, &r.header, &r.members, &r)
        }
        MemberCommand::List(_) => {
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .cluster()
                .member_list()
                .await
                .map_err(failed)?;
            printer.member_list(&r)
        }
        MemberCommand::Promote(a) => {
            let id = member_id(&a.args)?;
            let printer = g.printer()?;
            let r = g
                .client()
                .await?
                .cluster()
                .member_promote(id)
                .await
                .map_err(failed)?;
            printer.member_change("promoted in", id, &r.header, &r.members, &r)
        }
    }
}

async fn add(g: &GlobalFlags, a: AddArgs) -> Result<(), CtlError> {
    let name = match a.args.as_slice() {
        [] => return Err(CtlError::bad_args("member name not provided")),
        [name] => name.clone(),
        many => {
            let mut ev = String::from("too many arguments");
            for s in many {
                if s.to_lowercase().starts_with("http") {
                    ev.push_str(&format!(", did you mean --peer-urls={s}"));
                }
            }
            return Err(CtlError::bad_args(ev));
        }
    };
    if a.peer_urls.is_empty() {
        return Err(CtlError::bad_args("member peer urls not provided"));
    }
    let urls: Vec<String> = a.peer_urls.split(',').map(str::to_string).collect();
    let printer = g.printer()?;
    let cluster = g.client().await?.cluster();
    let r = if a.learner {
        cluster.member_add_as_learner(&urls).await
    } else {
        cluster.member_add(&urls).await
    }
    .map_err(failed)?;
    printer.member_add(&r)?;
    if printer.format == Format::Simple {
        print_settings(&name, &a.peer_urls, &r);
    }
    Ok(())
}

/// The ETCD_* lines a new member is started with.
fn print_settings(name: &str, peer_urls: &str, r: &MemberAddResponse) {
    let new_id = r.member.as_ref().map_or(0, |m| m.id);
    let mut conf = Vec::new();
    for m in &r.members {
        let n = if m.id == new_id { name } else { &m.name };
        for u in &m.peer_ur_ls {
            conf.push(format!("{n}={u}"));
        }
    }
    println("");
    println(&format!("ETCD_NAME={}", quote(name.as_bytes())));
    println(&format!(
        "ETCD_INITIAL_CLUSTER={}",
        quote(conf.join(",").as_bytes())
    ));
    println(&format!(
        "ETCD_INITIAL_ADVERTISE_PEER_URLS={}",
        quote(peer_urls.as_bytes())
    ));
    println("ETCD_INITIAL_CLUSTER_STATE=\"existing\"");
}

//! `lease grant`, `revoke`, `timetolive [--keys]`, `list` and `keep-alive [--once]`, with
//! etcdctl's argument texts and its exit codes (timetolive, list and keep-alive fail with
//! exit 2, grant and revoke with 1 and their "failed to ... lease" wording).

use std::time::Duration;

use clap::{Args, Subcommand};
use oxcd_client::{Code, Error};

use crate::error::{exit, CtlError};
use crate::global::GlobalFlags;
use crate::kv::parse_int;
use crate::print::{println, Format};

/// `lease <subcommand>`.
#[derive(Debug, Clone, Subcommand)]
pub enum LeaseCommand {
    /// Creates leases
    Grant(Positional),
    /// Revokes leases
    Revoke(Positional),
    /// Get lease information
    Timetolive(TimeToLiveArgs),
    /// List all active leases
    List(Positional),
    /// Keeps leases alive (renew)
    KeepAlive(KeepAliveArgs),
}

/// Positional arguments only.
#[derive(Debug, Clone, Args)]
#[command(allow_negative_numbers = true)]
pub struct Positional {
    /// arguments
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `lease timetolive <leaseID> [options]`.
#[derive(Debug, Clone, Args)]
pub struct TimeToLiveArgs {
    /// Get keys attached to this lease
    #[arg(long)]
    pub keys: bool,
    /// <leaseID>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `lease keep-alive [options] <leaseID>`.
#[derive(Debug, Clone, Args)]
pub struct KeepAliveArgs {
    /// Resets the keep-alive time to its original value and exits immediately
    #[arg(long)]
    pub once: bool,
    /// <leaseID>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// A lease ID argument in hex (etcdctl's leaseFromArgs).
pub fn lease_from_arg(arg: &str) -> Result<i64, CtlError> {
    parse_int(arg, 16)
        .map_err(|e| CtlError::bad_args(format!("bad lease ID arg ({e}), expecting ID in Hex")))
}

fn one_arg<'a>(args: &'a [String], msg: &str) -> Result<&'a str, CtlError> {
    match args {
        [one] => Ok(one),
        _ => Err(CtlError::bad_args(msg)),
    }
}

/// Runs a `lease` subcommand.
pub async fn run(g: &GlobalFlags, c: LeaseCommand) -> Result<(), CtlError> {
    match c {
        LeaseCommand::Grant(a) => {
            let ttl = one_arg(&a.args, "lease grant command needs TTL argument")?;
            let ttl =
                parse_int(ttl, 10).map_err(|e| CtlError::bad_args(format!("bad TTL ({e})")))?;
            let printer = g.printer()?;
            let resp = g.client().await?.lease().grant(ttl, 0).await.map_err(|e| {
                CtlError::error(format!(
                    "failed to grant lease ({})",
                    crate::error::client_error_text(&e)
                ))
            })?;
            printer.grant(&resp)
        }
        LeaseCommand::Revoke(a) => {
            let id = lease_from_arg(one_arg(&a.args, "lease revoke command needs 1 argument")?)?;
            let printer = g.printer()?;
            let resp = g.client().await?.lease().revoke(id).await.map_err(|e| {
                CtlError::error(format!(
                    "failed to revoke lease ({})",
                    crate::error::client_error_text(&e)
                ))
            })?;
            printer.revoke(id, &resp)
        }
        LeaseCommand::Timetolive(a) => {
            let id = one_arg(
                &a.args,
                "lease timetolive command needs lease ID as argument",
            )?;
            let printer = g.printer()?;
            let client = g.client().await?;
            let id = lease_from_arg(id)?;
            let resp = client
                .lease()
                .time_to_live(id, a.keys)
                .await
                .map_err(|e| CtlError::client(exit::BAD_CONNECTION, &e))?;
            printer.time_to_live(&resp, a.keys)
        }
        LeaseCommand::List(_) => {
            let printer = g.printer()?;
            let resp = g
                .client()
                .await?
                .lease()
                .leases()
                .await
                .map_err(|e| CtlError::client(exit::BAD_CONNECTION, &e))?;
            printer.leases(&resp)
        }
        LeaseCommand::KeepAlive(a) => {
            let id = one_arg(
                &a.args,
                "lease keep-alive command needs lease ID as argument",
            )?;
            let id = lease_from_arg(id)?;
            let printer = g.printer()?;
            let client = g.client().await?;
            let lease = client.lease();
            if a.once {
                let resp = lease
                    .keep_alive_once(id)
                    .await
                    .map_err(|e| CtlError::client(exit::BAD_CONNECTION, &e))?;
                return printer.keep_alive(&resp);
            }
            // As clientv3's KeepAlive: renew now, then every TTL/3, until the lease is gone;
            // other failures are retried.
            loop {
                match lease.keep_alive_once(id).await {
                    Ok(resp) => {
                        printer.keep_alive(&resp)?;
                        let third = Duration::from_millis(resp.ttl.max(1) as u64 * 1000 / 3);
                        tokio::time::sleep(third.max(Duration::from_millis(500))).await;
                    }
                    Err(Error::Status(st)) if st.code() == Code::NotFound => break,
                    Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
            if printer.format == Format::Simple {
                println(&format!("lease {id:016x} expired or revoked."));
            }
            Ok(())
        }
    }
}

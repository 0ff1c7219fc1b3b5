//! `endpoint health`, `status` and `hashkv [--rev]`, over `--endpoints` or, with
//! `--cluster`, over every client URL of the member list. Health asks each endpoint with a
//! client of its own (a linearizable get of "health"; permission denied counts as
//! healthy); status and hashkv ask each member by name through one client.

use std::time::Instant;

use clap::{Args, Subcommand};
use oxcd_client::{Code, GetOptions};

use crate::error::{client_error_text, exit, CtlError};
use crate::global::GlobalFlags;
use crate::gotext::duration;
use crate::print::{eprintln, EpHealth};

/// `endpoint <subcommand> [--cluster]`.
#[derive(Debug, Clone, Args)]
pub struct EndpointArgs {
    /// use all endpoints from the cluster member list
    #[arg(long, global = true)]
    pub cluster: bool,
    #[command(subcommand)]
    command: EndpointCommand,
}

#[derive(Debug, Clone, Subcommand)]
enum EndpointCommand {
    /// Checks the healthiness of endpoints specified in `--endpoints` flag
    Health,
    /// Prints out the status of endpoints specified in `--endpoints` flag
    Status,
    /// Prints the KV history hash for each endpoint in --endpoints
    Hashkv {
        /// maximum revision to hash (default: all revisions)
        #[arg(long, default_value_t = 0, allow_negative_numbers = true,
              value_parser = crate::kv::go_i64)]
        rev: i64,
    },
}

/// The endpoints a command runs over: `--endpoints`, or with `cluster` the member list's
/// client URLs (fetched without credentials, as etcdctl does).
pub async fn endpoints(g: &GlobalFlags, cluster: bool) -> Result<Vec<String>, CtlError> {
    let eps = g.endpoint_list();
    if !cluster {
        return Ok(eps);
    }
    let mut options = g.connect_options(&eps)?;
    options.user = None;
    let client = oxcd_client::Client::connect(&eps, options)
        .await
        .map_err(|e| CtlError::client(exit::ERROR, &e))?;
    let members = client.cluster().member_list().await.map_err(|e| {
        CtlError::error(format!(
            "failed to fetch endpoints from etcd cluster member list: {}",
            client_error_text(&e)
        ))
    })?;
    Ok(members
        .members
        .into_iter()
        .flat_map(|m| m.client_ur_ls)
        .collect())
}

/// Runs an `endpoint` subcommand.
pub async fn run(g: &GlobalFlags, a: EndpointArgs) -> Result<(), CtlError> {
    match a.command {
        EndpointCommand::Health => health(g, a.cluster).await,
        EndpointCommand::Status => status(g, a.cluster).await,
        EndpointCommand::Hashkv { rev } => hashkv(g, a.cluster, rev).await,
    }
}

async fn check(g: &GlobalFlags, ep: String) -> EpHealth {
    let client = match g.client_of(std::slice::from_ref(&ep)).await {
        Ok(c) => c,
        Err(e) => {
            return EpHealth {
                ep,
                health: false,
                took: String::new(),
                error: e.message,
            }
        }
    };
    let start = Instant::now();
    let res = client.kv().get("health", GetOptions::new()).await;
    let took = duration(start.elapsed());
    let error = match res {
        Ok(_) => String::new(),
        Err(e) if e.code() == Some(Code::PermissionDenied) => String::new(),
        Err(e) => client_error_text(&e),
    };
    EpHealth {
        ep,
        health: error.is_empty(),
        took,
        error,
    }
}

async fn health(g: &GlobalFlags, cluster: bool) -> Result<(), CtlError> {
    let printer = g.printer()?;
    let eps = endpoints(g, cluster).await?;
    let checks = eps.into_iter().map(|ep| check(g, ep));
    let list: Vec<EpHealth> = futures::future::join_all(checks).await;
    printer.endpoint_health(&list)?;
    if list.iter().any(|h| !h.error.is_empty()) {
        return Err(CtlError::error("unhealthy cluster"));
    }
    Ok(())
}

async fn status(g: &GlobalFlags, cluster: bool) -> Result<(), CtlError> {
    let printer = g.printer()?;
    let client = g.client().await?;
    let mut list = Vec::new();
    let mut failed = false;
    for ep in endpoints(g, cluster).await? {
        match client.maintenance().status(&ep).await {
            Ok(s) => list.push((ep, s)),
            Err(e) => {
                failed = true;
                eprintln(&format!(
                    "Failed to get the status of endpoint {ep} ({})",
                    client_error_text(&e)
                ));
            }
        }
    }
    printer.endpoint_status(&list)?;
    if failed {
        return Err(CtlError::silent(exit::ERROR));
    }
    Ok(())
}

async fn hashkv(g: &GlobalFlags, cluster: bool, rev: i64) -> Result<(), CtlError> {
    let printer = g.printer()?;
    let client = g.client().await?;
    let mut list = Vec::new();
    let mut last = None;
    for ep in endpoints(g, cluster).await? {
        match client.maintenance().hash_kv(&ep, rev).await {
            Ok(h) => list.push((ep, h)),
            Err(e) => {
                eprintln(&format!(
                    "Failed to get the hash of endpoint {ep} ({})",
                    client_error_text(&e)
                ));
                last = Some(e);
            }
        }
    }
    printer.endpoint_hashkv(&list)?;
    match last {
        Some(e) => Err(CtlError::client(exit::ERROR, &e)),
        None => Ok(()),
    }
}

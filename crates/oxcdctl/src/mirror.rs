//! `make-mirror [options] <destination>`: copies the source's keys (under `--prefix`) at one
//! revision to the destination cluster, then watches the source from that revision + 1 and
//! applies its changes, one destination Txn per source revision; every 30 s it prints the
//! number of keys synced so far, as etcdctl does.
//!
//! # Resuming (oxcdctl only)
//! etcdctl copies everything again after a restart. oxcdctl keeps its resume point on the
//! destination, in the key [`marker_key`] `__oxcd_mirror/<source cluster id, 16 hex
//! digits>/<source prefix> -> <destination prefix>`, whose value is the last source
//! revision applied (decimal):
//! - after the base copy, a Put of the marker records the copy's revision;
//! - each source revision's events are applied in ONE Txn that also puts the marker, so
//!   the marker is exactly the state the destination holds (a revision with more than
//!   [`TXN_OPS`] events is split into several Txns, the marker in the last one: a crash
//!   in between replays that revision, which is idempotent).
//!
//! On start, a marker makes the mirror skip the copy and watch from marker + 1. If the
//! source has compacted past that revision the command fails (exit 1) and says so; delete
//! the marker on the destination to copy everything again. A crash during the base copy
//! leaves no marker, so the next start copies again (Puts of the same values).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Args};
use oxcd_client::{Client, Error, EventType, GetOptions, PutOptions, TxnOp, WatchOptions};

use crate::error::{exit, CtlError};
use crate::global::GlobalFlags;
use crate::print::println;

/// Keys per Range of the base copy (clientv3/mirror's batchLimit).
const BATCH_LIMIT: i64 = 1000;

/// At most this many operations in one destination Txn (etcd's default `--max-txn-ops`
/// is 128; one is kept for the marker).
const TXN_OPS: usize = 127;

/// How often the count of synced keys is printed.
const PRINT_EVERY: Duration = Duration::from_secs(30);

/// `make-mirror [options] <destination>`.
#[derive(Debug, Clone, Args)]
pub struct MakeMirrorArgs {
    /// Key-value prefix to mirror
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// destination prefix to mirror a prefix to a different prefix in the destination cluster
    #[arg(long = "dest-prefix", default_value = "")]
    pub dest_prefix: String,
    /// mirror key-values to the root of the destination cluster
    #[arg(long = "no-dest-prefix", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false")]
    pub no_dest_prefix: bool,
    /// Identify secure client using this TLS certificate file for the destination cluster
    #[arg(long = "dest-cert")]
    pub dest_cert: Option<String>,
    /// Identify secure client using this TLS key file
    #[arg(long = "dest-key")]
    pub dest_key: Option<String>,
    /// Verify certificates of TLS enabled secure servers using this CA bundle
    #[arg(long = "dest-cacert")]
    pub dest_cacert: Option<String>,
    /// Disable transport security for client connections
    #[arg(long = "dest-insecure-transport", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true")]
    pub dest_insecure_transport: bool,
    /// <destination>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// The destination key holding the last source revision a mirror of `prefix` from the
/// cluster `cluster_id` to `dest_prefix` applied (two mirrors of one source into one
/// destination under different prefixes keep apart).
pub fn marker_key(cluster_id: u64, prefix: &[u8], dest_prefix: &[u8]) -> Vec<u8> {
    let mut key = format!("__oxcd_mirror/{cluster_id:016x}/").into_bytes();
    key.extend_from_slice(prefix);
    key.extend_from_slice(b" -> ");
    key.extend_from_slice(dest_prefix);
    key
}

/// Go's `strings.Replace(key, prefix, dest, 1)`: the first occurrence of `prefix` (an
/// empty one matches at the start) becomes `dest`.
fn modify_prefix(key: &[u8], prefix: &[u8], dest: &[u8]) -> Vec<u8> {
    let at = if prefix.is_empty() {
        Some(0)
    } else {
        key.windows(prefix.len()).position(|w| w == prefix)
    };
    match at {
        Some(i) => [&key[..i], dest, &key[i + prefix.len()..]].concat(),
        None => key.to_vec(),
    }
}

/// A client error as `make-mirror` ends with it (exit 1).
fn failed(e: &Error) -> CtlError {
    CtlError::client(exit::ERROR, e)
}

/// The mirror's state: both clients, the key mapping and the synced-keys counter.
struct Mirror {
    src: Client,
    dst: Client,
    prefix: Vec<u8>,
    dest_prefix: Vec<u8>,
    marker: Vec<u8>,
    total: Arc<AtomicI64>,
}

impl Mirror {
    /// Copies the keys under the prefix at `rev` (puts, one per key, as etcdctl), then
    /// records `rev` in the marker.
    async fn sync_base(&self, rev: i64) -> Result<(), CtlError> {
        let (mut key, end) = if self.prefix.is_empty() {
            (vec![0u8], vec![0u8])
        } else {
            (self.prefix.clone(), oxcd_client::prefix_end(&self.prefix))
        };
        loop {
            let opts = GetOptions::new()
                .with_limit(BATCH_LIMIT)
                .with_revision(rev)
                .with_range_end(end.clone());
            let resp = self
                .src
                .kv()
                .get(key.clone(), opts)
                .await
                .map_err(|e| failed(&e))?;
            for kv in &resp.kvs {
                let k = modify_prefix(&kv.key, &self.prefix, &self.dest_prefix);
                self.dst
                    .kv()
                    .put(k, kv.value.clone(), PutOptions::default())
                    .await
                    .map_err(|e| failed(&e))?;
                self.total.fetch_add(1, Ordering::Relaxed);
            }
            match resp.kvs.last() {
                Some(last) if resp.more => {
                    key = last.key.to_vec();
                    key.push(0);
                }
                _ => break,
            }
        }
        self.dst
            .kv()
            .put(self.marker.clone(), rev.to_string(), PutOptions::default())
            .await
            .map_err(|e| failed(&e))?;
        Ok(())
    }

    /// Applies `ops` (one source revision's events) and records `rev` in the marker, in
    /// as few Txns as `TXN_OPS` allows, the marker in the last.
    async fn apply(&self, mut ops: Vec<TxnOp>, rev: i64) -> Result<(), CtlError> {
        loop {
            let rest = ops.split_off(ops.len().min(TXN_OPS));
            let last = rest.is_empty();
            if last {
                ops.push(TxnOp::put(
                    self.marker.clone(),
                    rev.to_string(),
                    PutOptions::default(),
                ));
            }
            self.dst
                .kv()
                .txn()
                .and_then(ops)
                .commit()
                .await
                .map_err(|e| failed(&e))?;
            if last {
                return Ok(());
            }
            ops = rest;
        }
    }

    /// A watch error: a compaction past a resume point says so; anything else (a
    /// compaction during a fresh mirror included) is etcdctl's error text.
    fn watch_error(&self, e: &Error, resumed_at: Option<i64>) -> CtlError {
        match (e, resumed_at) {
            (Error::Compacted(c), Some(from)) => CtlError::error(format!(
                "etcdserver: mvcc: required revision has been compacted: the source is compacted at revision {c}, past this mirror's resume revision {from} (kept in {} on the destination); delete that key to copy everything again",
                crate::gotext::quote(&self.marker)
            )),
            (Error::Compacted(_), None) => {
                CtlError::error("etcdserver: mvcc: required revision has been compacted")
            }
            _ => failed(e),
        }
    }

    /// Watches the source from `from` and applies every event, grouped by revision.
    /// `resumed` says whether `from` came from the marker.
    async fn sync_updates(&self, from: i64, resumed: bool) -> Result<(), CtlError> {
        let resumed_at = resumed.then_some(from);
        let opts = WatchOptions {
            prefix: true,
            start_revision: from,
            ..WatchOptions::default()
        };
        let mut watcher = self
            .src
            .watch(self.prefix.clone(), opts)
            .await
            .map_err(|e| self.watch_error(&e, resumed_at))?;
        while let Some(resp) = watcher.next().await {
            let resp = resp.map_err(|e| self.watch_error(&e, resumed_at))?;
            let mut ops = Vec::new();
            let mut rev = 0;
            for ev in resp.events {
                let Some(kv) = ev.kv else { continue };
                if rev != 0 && kv.mod_revision > rev {
                    self.apply(std::mem::take(&mut ops), rev).await?;
                }
                rev = kv.mod_revision;
                let key = modify_prefix(&kv.key, &self.prefix, &self.dest_prefix);
                ops.push(if ev.r#type == EventType::Delete as i32 {
                    TxnOp::delete(key, Default::default())
                } else {
                    TxnOp::put(key, kv.value, PutOptions::default())
                });
                self.total.fetch_add(1, Ordering::Relaxed);
            }
            if !ops.is_empty() {
                self.apply(ops, rev).await?;
            }
        }
        Ok(())
    }
}

/// `make-mirror`.
pub async fn run(g: &GlobalFlags, a: MakeMirrorArgs) -> Result<(), CtlError> {
    if a.args.len() != 1 {
        return Err(CtlError::bad_args(
            "make-mirror takes one destination argument",
        ));
    }
    let dest_flags = GlobalFlags {
        endpoints: vec![a.args[0].clone()],
        cert: a.dest_cert.clone().filter(|s| !s.is_empty()),
        key: a.dest_key.clone().filter(|s| !s.is_empty()),
        cacert: a.dest_cacert.clone().filter(|s| !s.is_empty()),
        insecure_transport: a.dest_insecure_transport,
        insecure_skip_tls_verify: false,
        user: None,
        password: None,
        ..g.clone()
    };
    let dst = dest_flags.client().await?;
    let src = g.client().await?;

    let total = Arc::new(AtomicI64::new(0));
    let printer = {
        let total = total.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PRINT_EVERY).await;
                println(&total.load(Ordering::Relaxed).to_string());
            }
        })
    };

    // etcdctl's SyncBase: the revision to copy at comes from a Get of "foo".
    let head = src
        .kv()
        .get("foo", GetOptions::new())
        .await
        .map_err(|e| failed(&e))?
        .header
        .unwrap_or_default();

    if a.no_dest_prefix && !a.dest_prefix.is_empty() {
        return Err(CtlError::bad_args(
            "`--dest-prefix` and `--no-dest-prefix` cannot be set at the same time, choose one",
        ));
    }
    let dest_prefix = if !a.no_dest_prefix && a.dest_prefix.is_empty() {
        a.prefix.clone()
    } else {
        a.dest_prefix.clone()
    };
    let mirror = Mirror {
        marker: marker_key(head.cluster_id, a.prefix.as_bytes(), dest_prefix.as_bytes()),
        src,
        dst,
        prefix: a.prefix.into_bytes(),
        dest_prefix: dest_prefix.into_bytes(),
        total,
    };

    let resume = mirror
        .dst
        .kv()
        .get(mirror.marker.clone(), GetOptions::new())
        .await
        .map_err(|e| failed(&e))?
        .kvs
        .first()
        .and_then(|kv| std::str::from_utf8(&kv.value).ok()?.parse::<i64>().ok());
    let from = match resume {
        Some(rev) => rev + 1,
        None => {
            mirror.sync_base(head.revision).await?;
            head.revision + 1
        }
    };
    let result = mirror.sync_updates(from, resume.is_some()).await;
    printer.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_replaced_as_go_strings_replace() {
        assert_eq!(modify_prefix(b"a/k", b"a/", b"b/"), b"b/k");
        assert_eq!(modify_prefix(b"a/k", b"a/", b""), b"k");
        assert_eq!(modify_prefix(b"k", b"", b"x/"), b"x/k");
        assert_eq!(modify_prefix(b"k", b"", b""), b"k");
    }

    #[test]
    fn the_marker_names_the_source_cluster_and_prefix() {
        assert_eq!(
            marker_key(0xab, b"p/", b"q/"),
            b"__oxcd_mirror/00000000000000ab/p/ -> q/"
        );
    }
}

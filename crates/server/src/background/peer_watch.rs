//! Follows membership changes: resets the peer stream of a member whose peer URLs changed
//! or that was removed, and reports this member's own removal (the server then stops, as
//! etcd does).

use std::collections::HashMap;
use std::sync::Arc;

use oxcd_peer::GrpcTransport;
use tokio::sync::watch;

use crate::members::Members;

/// Starts the task; the returned channel turns true when this member was removed.
pub fn start(
    members: Arc<Members>,
    member_id: u64,
    transport: GrpcTransport,
) -> watch::Receiver<bool> {
    let (removed_tx, removed_rx) = watch::channel(false);
    let mut changes = members.subscribe();
    tokio::spawn(async move {
        let mut known: HashMap<u64, Vec<String>> = members
            .list()
            .into_iter()
            .map(|m| (m.id, m.peer_ur_ls))
            .collect();
        while changes.changed().await.is_ok() {
            let now: HashMap<u64, Vec<String>> = members
                .list()
                .into_iter()
                .map(|m| (m.id, m.peer_ur_ls))
                .collect();
            for (id, urls) in &known {
                if now.get(id) != Some(urls) {
                    transport.reset_peer(*id);
                }
            }
            known = now;
            if members.is_removed(member_id) {
                let _ = removed_tx.send(true);
                return;
            }
        }
    });
    removed_rx
}

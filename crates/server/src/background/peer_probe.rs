//! Probes every peer's round trip every few seconds (etcd's rafthttp prober), for
//! `etcd_network_peer_round_trip_time_seconds`.

use std::sync::Arc;
use std::time::Duration;

use oxcd_peer::{PeerHost, Prober};

/// Interval between probes of all peers.
const INTERVAL: Duration = Duration::from_secs(5);

/// Starts the probing task.
pub fn start(host: Arc<dyn PeerHost>, tls: Option<oxcd_tls::ClientTls>) {
    tokio::spawn(async move {
        let mut prober = Prober::new(host, tls);
        loop {
            tokio::time::sleep(INTERVAL).await;
            prober.probe_all().await;
        }
    });
}

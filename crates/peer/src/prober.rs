//! [`Prober`]: measures the round trip to every peer now and then (etcd's rafthttp
//! prober), feeding `etcd_network_peer_round_trip_time_seconds{To}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_proto::oxcdpb::raft_peer_client::RaftPeerClient;
use oxcd_proto::oxcdpb::MembersRequest;
use tonic::transport::Channel;

use crate::config::TransportConfig;
use crate::host::PeerHost;
use crate::metrics;

/// How long one probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Probes every other member of the cluster.
pub struct Prober {
    host: Arc<dyn PeerHost>,
    clients: HashMap<u64, (Vec<String>, RaftPeerClient<Channel>)>,
    tls: Option<oxcd_tls::ClientTls>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("peers", &self.clients.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Prober {
    /// A prober for the member `host` describes, dialing with `tls` for `https://` URLs.
    pub fn new(host: Arc<dyn PeerHost>, tls: Option<oxcd_tls::ClientTls>) -> Self {
        Self {
            host,
            clients: HashMap::new(),
            tls,
        }
    }

    /// Probes every peer once; returns the measured round trips.
    pub async fn probe_all(&mut self) -> Vec<(u64, Duration)> {
        let me = self.host.member_id();
        let peers: Vec<(u64, Vec<String>)> = self
            .host
            .members()
            .into_iter()
            .filter(|m| m.id != me && !m.peer_ur_ls.is_empty())
            .map(|m| (m.id, m.peer_ur_ls))
            .collect();
        self.clients
            .retain(|id, _| peers.iter().any(|(p, _)| p == id));
        let mut out = Vec::new();
        for (id, urls) in peers {
            if let Some(rtt) = self.probe(id, &urls).await {
                metrics::ROUND_TRIP
                    .with_label_values(&[&metrics::id_label(id)])
                    .observe(rtt.as_secs_f64());
                out.push((id, rtt));
            }
        }
        out
    }

    async fn probe(&mut self, id: u64, urls: &[String]) -> Option<Duration> {
        let stale = self
            .clients
            .get(&id)
            .is_none_or(|(u, _)| u.as_slice() != urls);
        if stale {
            let cfg = TransportConfig {
                connect_timeout: PROBE_TIMEOUT,
                tls: self.tls.clone(),
                ..TransportConfig::default()
            };
            let client = crate::stream::connect_any(urls, 0, &cfg).await.ok()?;
            self.clients.insert(id, (urls.to_vec(), client));
        }
        let (_, client) = self.clients.get_mut(&id)?;
        let started = Instant::now();
        match tokio::time::timeout(PROBE_TIMEOUT, client.members(MembersRequest {})).await {
            Ok(Ok(_)) => Some(started.elapsed()),
            _ => {
                self.clients.remove(&id);
                None
            }
        }
    }
}

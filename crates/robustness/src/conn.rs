//! [`Endpoints`] and [`Conn`]: one lazily connected gRPC channel per member, with the
//! service clients a robustness client or watcher uses.

use std::time::Duration;

use oxcd_proto::etcdserverpb::{
    kv_client::KvClient, lease_client::LeaseClient, maintenance_client::MaintenanceClient,
    watch_client::WatchClient,
};
use tonic::transport::{Channel, Endpoint};

/// How long a connection attempt may take before the call fails (and the client moves on).
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(700);

/// The client URLs of the cluster's members, by member index.
#[derive(Debug, Clone)]
pub struct Endpoints(pub Vec<String>);

impl Endpoints {
    /// Number of members.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A lazily connected channel to member `i` (reconnects by itself after a member dies).
    pub fn channel(&self, i: usize) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.0[i]))
            .expect("endpoint URL")
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .connect_lazy()
    }

    /// Service clients for every member.
    pub fn conns(&self) -> Vec<Conn> {
        (0..self.len())
            .map(|i| Conn::new(self.channel(i)))
            .collect()
    }
}

/// The service clients of one member.
#[derive(Debug, Clone)]
pub struct Conn {
    /// KV.
    pub kv: KvClient<Channel>,
    /// Lease.
    pub lease: LeaseClient<Channel>,
    /// Watch.
    pub watch: WatchClient<Channel>,
    /// Maintenance.
    pub maintenance: MaintenanceClient<Channel>,
}

impl Conn {
    /// Clients over `ch`.
    pub fn new(ch: Channel) -> Self {
        Conn {
            kv: KvClient::new(ch.clone()),
            lease: LeaseClient::new(ch.clone()),
            watch: WatchClient::new(ch.clone()),
            maintenance: MaintenanceClient::new(ch),
        }
    }
}

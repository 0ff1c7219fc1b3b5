//! gRPC connections to the servers under test.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// Opens `n` (at least one) connections, round-robin over the comma-separated
/// `host:port` list in `endpoints`.
pub async fn connect(endpoints: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let eps: Vec<String> = endpoints
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| format!("http://{e}"))
        .collect();
    if eps.is_empty() {
        anyhow::bail!("--endpoints is empty");
    }
    let mut out = Vec::with_capacity(n.max(1));
    for i in 0..n.max(1) {
        let ep = Endpoint::from_shared(eps[i % eps.len()].clone())?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5));
        out.push(ep.connect().await?);
    }
    Ok(out)
}

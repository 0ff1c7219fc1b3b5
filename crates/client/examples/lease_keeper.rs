//! Attaches a key to a 2-second lease kept alive in the background by a [`LeaseKeeper`]:
//! the key outlives the TTL twice over, then goes with the lease when it is revoked.
//!
//! `cargo run -p oxcd-client --example lease_keeper -- [endpoint]` (default `127.0.0.1:2379`).
//!
//! [`LeaseKeeper`]: oxcd_client::LeaseKeeper

use std::time::Duration;

use oxcd_client::{Client, ConnectOptions, GetOptions, KeeperState, PutOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), oxcd_client::Error> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect(&[endpoint], ConnectOptions::default()).await?;
    let lease = client.lease().grant(2, 0).await?.id;
    let put = PutOptions {
        lease,
        ..PutOptions::default()
    };
    client.kv().put("worker/1", "alive", put).await?;
    let mut keeper = client.lease().keep_alive(lease);

    tokio::time::sleep(Duration::from_secs(4)).await;
    let count = client.kv().get("worker/1", GetOptions::new()).await?.count;
    let alive = matches!(keeper.state(), KeeperState::Alive(_));
    println!(
        "after 4 s: keeper alive = {alive}, worker/1 present = {}",
        count == 1
    );

    client.lease().revoke(lease).await?;
    keeper.lost().await;
    let count = client.kv().get("worker/1", GetOptions::new()).await?.count;
    println!(
        "revoked: keeper lost = {}, worker/1 present = {}",
        keeper.is_lost(),
        count == 1
    );
    Ok(())
}

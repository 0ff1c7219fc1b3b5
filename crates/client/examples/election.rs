//! Two candidates campaign in one election; an observer follows the leader as the first
//! resigns and the second takes over.
//!
//! `cargo run -p oxcd-client --example election -- [endpoint]` (default `127.0.0.1:2379`).

use std::time::Duration;

use oxcd_client::{Client, ConnectOptions, Election, Observer, Session};

async fn print_leader(observer: &mut Observer) -> Result<(), oxcd_client::Error> {
    let leader = observer.next().await?;
    println!("leader: {}", String::from_utf8_lossy(&leader.kvs[0].value));
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), oxcd_client::Error> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect(&[endpoint], ConnectOptions::default()).await?;
    let alpha = Session::new(&client, 10).await?;
    let beta = Session::new(&client, 10).await?;
    let mut observer = Election::observe(&client, "demo-election");

    let mut first = Election::campaign(&alpha, "demo-election", "alpha").await?;
    print_leader(&mut observer).await?;
    let second = tokio::spawn(async move {
        let elected = Election::campaign(&beta, "demo-election", "beta").await;
        (elected, beta)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("alpha resigns");
    first.resign().await?;
    print_leader(&mut observer).await?;
    let (elected, _beta) = second.await.expect("the second candidate");
    elected?.resign().await?;
    Ok(())
}

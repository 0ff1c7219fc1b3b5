//! Two sessions take the same distributed lock: the second waits until the first releases
//! it. The lock's keys are Go's (`demo-lock/<lease in hex>`), so `etcdctl lock demo-lock`
//! excludes them too.
//!
//! `cargo run -p oxcd-client --example lock -- [endpoint]` (default `127.0.0.1:2379`).

use std::time::Duration;

use oxcd_client::{Client, ConnectOptions, Mutex, Session};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), oxcd_client::Error> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect(&[endpoint], ConnectOptions::default()).await?;
    let first = Session::new(&client, 10).await?;
    let second = Session::new(&client, 10).await?;

    let mut held = Mutex::lock(&first, "demo-lock").await?;
    println!("first holds the lock");
    let waiter = tokio::spawn(async move {
        let lock = Mutex::lock(&second, "demo-lock").await;
        println!("second holds the lock");
        (lock, second)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("first releases the lock");
    held.unlock().await?;
    let (lock, _second) = waiter.await.expect("the waiter task");
    lock?.unlock().await?;
    Ok(())
}

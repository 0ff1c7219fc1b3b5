//! Puts `greeting = hello` and reads it back.
//!
//! `cargo run -p oxcd-client --example put_get -- [endpoint]` (default `127.0.0.1:2379`).

use oxcd_client::{Client, ConnectOptions, GetOptions, PutOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), oxcd_client::Error> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect(&[endpoint], ConnectOptions::default()).await?;
    let put = client
        .kv()
        .put("greeting", "hello", PutOptions::default())
        .await?;
    let revision = put.header.map_or(0, |h| h.revision);
    println!("put greeting at revision {revision}");
    let got = client.kv().get("greeting", GetOptions::new()).await?;
    for kv in got.kvs {
        println!(
            "{} = {}",
            String::from_utf8_lossy(&kv.key),
            String::from_utf8_lossy(&kv.value)
        );
    }
    Ok(())
}

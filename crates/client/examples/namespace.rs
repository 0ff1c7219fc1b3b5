//! Two applications share a cluster, each in its own namespace: both write `config`, each
//! reads back its own, and a plain client sees the prefixed keys.
//!
//! `cargo run -p oxcd-client --example namespace -- [endpoint]` (default `127.0.0.1:2379`).

use oxcd_client::{Client, ConnectOptions, GetOptions, PutOptions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), oxcd_client::Error> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect(&[endpoint], ConnectOptions::default()).await?;
    for (app, value) in [("app-a/", "red"), ("app-b/", "blue")] {
        let ns = client.with_namespace(app);
        ns.kv().put("config", value, PutOptions::default()).await?;
    }
    for app in ["app-a/", "app-b/"] {
        let ns = client.with_namespace(app);
        let all = ns.kv().get("", GetOptions::new().with_prefix()).await?;
        for kv in all.kvs {
            let (key, value) = (
                String::from_utf8_lossy(&kv.key),
                String::from_utf8_lossy(&kv.value),
            );
            println!("{app} sees {key} = {value}");
        }
    }
    let plain = client
        .kv()
        .get("app-", GetOptions::new().with_prefix())
        .await?;
    for kv in plain.kvs {
        let (key, value) = (
            String::from_utf8_lossy(&kv.key),
            String::from_utf8_lossy(&kv.value),
        );
        println!("a plain client sees {key} = {value}");
    }
    Ok(())
}

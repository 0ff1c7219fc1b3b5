//! Five concurrent transfers of 10 from alice to bob, each an STM transaction (serializable
//! snapshot isolation, Go's default): conflicting attempts are retried, so no transfer is
//! lost and the total stays 150.
//!
//! `cargo run -p oxcd-client --example stm -- [endpoint]` (default `127.0.0.1:2379`).

use oxcd_client::{Client, ConnectOptions, Error, GetOptions, PutOptions, Stm, StmOptions};

/// A balance as stored (a decimal string; a missing account has 0).
fn balance(value: Option<Vec<u8>>) -> i64 {
    value.map_or(0, |v| String::from_utf8_lossy(&v).parse().unwrap_or(0))
}

/// Moves `amount` from alice to bob in one transaction.
async fn transfer(client: Client, amount: i64) -> Result<(), Error> {
    Stm::run(&client, StmOptions::default(), |stm| {
        Box::pin(async move {
            let alice = balance(stm.get("account/alice").await?);
            let bob = balance(stm.get("account/bob").await?);
            stm.put(
                "account/alice",
                (alice - amount).to_string(),
                PutOptions::default(),
            );
            stm.put(
                "account/bob",
                (bob + amount).to_string(),
                PutOptions::default(),
            );
            Ok::<(), Error>(())
        })
    })
    .await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect(&[endpoint], ConnectOptions::default()).await?;
    client
        .kv()
        .put("account/alice", "100", PutOptions::default())
        .await?;
    client
        .kv()
        .put("account/bob", "50", PutOptions::default())
        .await?;

    let transfers: Vec<_> = (0..5)
        .map(|_| tokio::spawn(transfer(client.clone(), 10)))
        .collect();
    for t in transfers {
        t.await.expect("a transfer task")?;
    }
    let accounts = client
        .kv()
        .get("account/", GetOptions::new().with_prefix())
        .await?;
    let mut total = 0;
    for kv in &accounts.kvs {
        let value = balance(Some(kv.value.to_vec()));
        println!("{} = {value}", String::from_utf8_lossy(&kv.key));
        total += value;
    }
    println!("total = {total}");
    Ok(())
}

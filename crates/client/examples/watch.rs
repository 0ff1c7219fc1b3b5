//! Watches the prefix `demo/`, stops, and resumes where it left off: the put made while no
//! watch was open is delivered, and nothing is delivered twice. (A [`Watcher`] also resumes
//! by itself when its connection breaks; this shows the same from the caller's side, with
//! [`Watcher::next_revision`].)
//!
//! `cargo run -p oxcd-client --example watch -- [endpoint]` (default `127.0.0.1:2379`).

use oxcd_client::{Client, ConnectOptions, Event, PutOptions, WatchOptions, Watcher};

fn show(ev: &Event) {
    let kv = ev.kv.as_ref().expect("an event has its key-value");
    println!(
        "{:?} {} = {}",
        ev.r#type(),
        String::from_utf8_lossy(&kv.key),
        String::from_utf8_lossy(&kv.value)
    );
}

/// Prints the events of `w` until `n` have arrived.
async fn print_events(w: &mut Watcher, n: usize) -> Result<(), oxcd_client::Error> {
    let mut seen = 0;
    while seen < n {
        let resp = w.next().await.expect("the watch is open")?;
        resp.events.iter().for_each(show);
        seen += resp.events.len();
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), oxcd_client::Error> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2379".to_string());
    let client = Client::connect(&[endpoint], ConnectOptions::default()).await?;
    let options = WatchOptions {
        prefix: true,
        ..WatchOptions::default()
    };
    let mut watcher = client.watch("demo/", options.clone()).await?;
    client
        .kv()
        .put("demo/a", "1", PutOptions::default())
        .await?;
    client
        .kv()
        .put("demo/b", "2", PutOptions::default())
        .await?;
    print_events(&mut watcher, 2).await?;

    let resume = watcher.next_revision();
    drop(watcher);
    client
        .kv()
        .put("demo/c", "3", PutOptions::default())
        .await?;
    println!("resuming at revision {resume}");
    let options = WatchOptions {
        start_revision: resume,
        ..options
    };
    let mut watcher = client.watch("demo/", options).await?;
    print_events(&mut watcher, 1).await?;
    Ok(())
}

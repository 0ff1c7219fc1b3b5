//! `ConnectOptions::wait_for_ready`: a call to an endpoint nobody listens on waits until the
//! request timeout and fails with `Error::Timeout` (one observed attempt, DeadlineExceeded),
//! while without it the call fails at once with `Unavailable`; and a call that waits goes
//! through once a server comes up on the endpoint within the timeout (etcd 3.4.23 and oxcd).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oxcd_client::{Client, Code, ConnectOptions, Error, GetOptions, PutOptions};
use oxcd_integration_tests::grpc::runtime;
use oxcd_integration_tests::ports::free_port;
use oxcd_integration_tests::{on_both_kinds, start_server, Kind};

on_both_kinds!(waiting_call_goes_through_when_the_server_comes_up);

fn options(wait: bool, seen: Arc<Mutex<Vec<Code>>>) -> ConnectOptions {
    ConnectOptions {
        request_timeout: Duration::from_secs(1),
        wait_for_ready: wait,
        attempt_observer: Some(Arc::new(move |a: &oxcd_client::FailedAttempt<'_>| {
            seen.lock().unwrap().push(a.status.code());
        })),
        ..ConnectOptions::default()
    }
}

#[test]
fn unreachable_endpoint_waits_until_the_timeout() {
    let port = free_port().expect("port");
    let ep = format!("127.0.0.1:{port}");
    runtime().block_on(async {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let client = Client::connect(&[&ep], options(false, seen.clone()))
            .await
            .unwrap();
        let err = client.kv().get("k", GetOptions::new()).await.unwrap_err();
        assert_eq!(err.code(), Some(Code::Unavailable), "{err}");

        let seen = Arc::new(Mutex::new(Vec::new()));
        let client = Client::connect(&[&ep], options(true, seen.clone()))
            .await
            .unwrap();
        let start = Instant::now();
        let err = client
            .kv()
            .put("k", "v", PutOptions::default())
            .await
            .unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, Error::Timeout(_)), "{err}");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(3),
            "{took:?}"
        );
        assert_eq!(*seen.lock().unwrap(), vec![Code::DeadlineExceeded]);
    });
}

fn waiting_call_goes_through_when_the_server_comes_up(kind: Kind) {
    let mut server = start_server(kind, &[]);
    server.stop().expect("stop");
    let ep = server.endpoint();
    let rt = runtime();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut opts = options(true, seen);
    opts.request_timeout = Duration::from_secs(15);
    let client = rt.block_on(Client::connect(&[&ep], opts)).unwrap();
    let put = rt.spawn(async move { client.kv().put("k", "v", PutOptions::default()).await });
    std::thread::sleep(Duration::from_millis(500));
    server.restart().expect("restart");
    let resp = rt
        .block_on(put)
        .expect("join")
        .expect("put after the server came up");
    assert!(resp.header.is_some());
}

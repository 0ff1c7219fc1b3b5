//! `check perf` and `check datascale`: etcdctl's workloads of 1 KiB puts under a prefix
//! from many clients, with its loads (s, m, l, xl), output lines and PASS/FAIL criteria.
//!
//! - perf: puts at the load's rate for 60 s from the load's clients (one connection
//!   each); passes when the throughput is above 90 % of the rate, the slowest request
//!   took at most 0.5 s and the latencies' standard deviation is at most 0.1 s.
//! - datascale: the load's number of puts as fast as the clients go; reports the growth
//!   of the first endpoint's `process_resident_memory_bytes` (from its `/metrics`).
//!
//! Both refuse a prefix that has keys, delete the prefix afterwards, then compact
//! (`--auto-compact`) and defragment (`--auto-defrag`) as asked. etcdctl draws a progress
//! bar on stdout; oxcdctl draws it (indicatif) on stderr, and only when stderr is a
//! terminal, so its stdout is etcdctl's lines alone.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{ArgAction, Args, Subcommand};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use indicatif::{ProgressBar, ProgressStyle};
use oxcd_client::{Client, DeleteOptions, GetOptions, PutOptions};
use tokio::sync::{mpsc, Mutex};

use crate::error::{client_error_text, exit, CtlError};
use crate::global::GlobalFlags;
use crate::gotext::quote;
use crate::print::println;

/// `check <subcommand>`.
#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Check the performance of the etcd cluster
    Perf(PerfArgs),
    /// Check the memory usage of holding data for different workloads on a given server endpoint.
    Datascale(DatascaleArgs),
}

/// The flags both checks share (their defaults differ in `--prefix` only).
#[derive(Debug, Clone, Args)]
pub struct CleanupFlags {
    /// Compact storage with last revision after test is finished.
    #[arg(long = "auto-compact", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false")]
    pub auto_compact: bool,
    /// Defragment storage after test is finished.
    #[arg(long = "auto-defrag", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false")]
    pub auto_defrag: bool,
}

/// `check perf [options]`.
#[derive(Debug, Clone, Args)]
pub struct PerfArgs {
    /// The performance check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)
    #[arg(long, default_value = "s")]
    pub load: String,
    /// The prefix for writing the performance check's keys.
    #[arg(long, default_value = "/etcdctl-check-perf/")]
    pub prefix: String,
    #[command(flatten)]
    pub cleanup: CleanupFlags,
    /// Seconds the check runs instead of the load's 60 (oxcdctl only, for short tests)
    #[arg(long, hide = true)]
    pub duration: Option<u64>,
}

/// `check datascale [options]`.
#[derive(Debug, Clone, Args)]
pub struct DatascaleArgs {
    /// The datascale check's workload model. Accepted workloads: s(small), m(medium), l(large), xl(xLarge)
    #[arg(long, default_value = "s")]
    pub load: String,
    /// The prefix for writing the datascale check's keys.
    #[arg(long, default_value = "/etcdctl-check-datascale/")]
    pub prefix: String,
    #[command(flatten)]
    pub cleanup: CleanupFlags,
}

/// One load: (name, perf writes/s, perf clients, datascale keys, datascale clients).
const LOADS: &[(&str, u32, usize, usize, usize)] = &[
    ("s", 150, 50, 10_000, 50),
    ("m", 1000, 200, 100_000, 200),
    ("l", 8000, 500, 1_000_000, 500),
    ("xl", 15000, 1000, 3_000_000, 1000),
];

/// The perf check's run time, in seconds.
const PERF_SECONDS: u64 = 60;

/// The load `--load` names (its short or long name); etcdctl's error otherwise (exit 4).
fn load(name: &str) -> Result<(u32, usize, usize, usize), CtlError> {
    let short = match name {
        "small" => "s",
        "medium" => "m",
        "large" => "l",
        "xLarge" => "xl",
        other => other,
    };
    LOADS
        .iter()
        .find(|l| l.0 == short)
        .map(|l| (l.1, l.2, l.3, l.4))
        .ok_or_else(|| CtlError::new(exit::BAD_FEATURE, format!("unknown load option {name}")))
}

/// `check`.
pub async fn run(g: &GlobalFlags, c: CheckCommand) -> Result<(), CtlError> {
    match c {
        CheckCommand::Perf(a) => perf(g, a).await,
        CheckCommand::Datascale(a) => datascale(g, a).await,
    }
}

/// What the workers measured (etcd's pkg/report Stats, the parts the checks print).
#[derive(Debug, Default)]
struct Stats {
    /// Latencies of the successful requests, in seconds.
    latencies: Vec<f64>,
    /// Failed requests by error text.
    errors: BTreeMap<String, usize>,
    /// From the start of the run to the last response.
    total: Duration,
}

impl Stats {
    /// Successful requests per second of the run.
    fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.total.as_secs_f64()
    }

    /// The slowest request, in seconds.
    fn slowest(&self) -> f64 {
        self.latencies.iter().copied().fold(0.0, f64::max)
    }

    /// The latencies' (population) standard deviation, in seconds.
    fn stddev(&self) -> f64 {
        let n = self.latencies.len() as f64;
        if n == 0.0 {
            return 0.0;
        }
        let mean = self.latencies.iter().sum::<f64>() / n;
        (self
            .latencies
            .iter()
            .map(|l| (l - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt()
    }

    /// Prints etcdctl's "FAIL: too many errors" lines; true when there were errors.
    fn print_errors(&self) -> bool {
        if self.errors.is_empty() {
            return false;
        }
        println("FAIL: too many errors");
        for (e, n) in &self.errors {
            println(&format!("FAIL: ERROR({e}) -> {n}"));
        }
        true
    }
}

/// One connected client per worker (etcdctl's `mustClient` for each).
async fn clients(g: &GlobalFlags, n: usize) -> Result<Vec<Client>, CtlError> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(g.client().await?);
    }
    Ok(out)
}

/// Fails (exit 3) when `prefix` has a key.
async fn ensure_empty(c: &Client, prefix: &str) -> Result<(), CtlError> {
    let resp = c
        .kv()
        .get(prefix, GetOptions::new().with_prefix().with_limit(1))
        .await
        .map_err(|e| CtlError::client(exit::ERROR, &e))?;
    if resp.kvs.is_empty() {
        return Ok(());
    }
    Err(CtlError::new(
        exit::INVALID_INPUT,
        format!(
            "prefix {} has keys. Delete with etcdctl del --prefix {prefix} first",
            quote(prefix.as_bytes())
        ),
    ))
}

/// `prefix` and a `ksize`-byte key holding the varint of a random non-negative i64 (Go's
/// `binary.PutVarint` of `rand.Int63n(math.MaxInt64)`).
fn random_key(prefix: &str, ksize: usize) -> Vec<u8> {
    let x: i64 = rand::random::<i64>() & i64::MAX;
    let mut ux = (x as u64) << 1;
    let mut key = prefix.as_bytes().to_vec();
    let start = key.len();
    key.resize(start + ksize, 0);
    let mut i = start;
    while ux >= 0x80 {
        key[i] = (ux as u8) | 0x80;
        ux >>= 7;
        i += 1;
    }
    key[i] = ux as u8;
    key
}

/// A progress bar of `len` steps in etcdctl's "Bom !" style, on stderr when stderr is a
/// terminal (hidden otherwise).
fn progress(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{pos} / {len} B{bar:60}! {percent}% {eta}") {
        bar.set_style(style.progress_chars("om "));
    }
    bar
}

/// Runs one worker per client, each putting the keys it takes from `keys` with `value`,
/// until `keys` closes; the stats cover the time from `start` to the last response.
/// `per_request` advances one step per response.
async fn put_all(
    clients: &[Client],
    keys: mpsc::Receiver<Vec<u8>>,
    value: Vec<u8>,
    start: Instant,
    per_request: &ProgressBar,
) -> Stats {
    let keys = Arc::new(Mutex::new(keys));
    let workers: Vec<_> = clients
        .iter()
        .map(|c| {
            let (c, keys, value) = (c.clone(), keys.clone(), value.clone());
            let bar = per_request.clone();
            tokio::spawn(async move {
                let mut stats = Stats::default();
                loop {
                    let Some(key) = keys.lock().await.recv().await else {
                        return stats;
                    };
                    let st = Instant::now();
                    match c.kv().put(key, value.clone(), PutOptions::default()).await {
                        Ok(_) => stats.latencies.push(st.elapsed().as_secs_f64()),
                        Err(e) => *stats.errors.entry(client_error_text(&e)).or_default() += 1,
                    }
                    bar.inc(1);
                }
            })
        })
        .collect();
    let mut all = Stats::default();
    for w in workers {
        if let Ok(s) = w.await {
            all.latencies.extend(s.latencies);
            for (e, n) in s.errors {
                *all.errors.entry(e).or_default() += n;
            }
        }
    }
    all.total = start.elapsed();
    all
}

/// Deletes the prefix, then compacts and defragments as the flags ask, printing
/// etcdctl's lines.
async fn clean_up(
    g: &GlobalFlags,
    c: &Client,
    prefix: &str,
    flags: &CleanupFlags,
) -> Result<(), CtlError> {
    let failed = |e: oxcd_client::Error| CtlError::client(exit::ERROR, &e);
    let resp = c
        .kv()
        .delete(
            prefix,
            DeleteOptions {
                prefix: true,
                ..DeleteOptions::default()
            },
        )
        .await
        .map_err(failed)?;
    if flags.auto_compact {
        let rev = resp.header.map(|h| h.revision).unwrap_or_default();
        println(&format!("Compacting with revision {rev}"));
        c.kv().compact_with(rev, true).await.map_err(failed)?;
        println(&format!("Compacted with revision {rev}"));
    }
    if flags.auto_defrag {
        for ep in g.endpoint_list() {
            let q = quote(ep.as_bytes());
            println(&format!("Defragmenting {q}"));
            c.maintenance().defragment(&ep).await.map_err(failed)?;
            println(&format!("Defragmented {q}"));
        }
    }
    Ok(())
}

/// `check perf`.
async fn perf(g: &GlobalFlags, a: PerfArgs) -> Result<(), CtlError> {
    let (limit, n, _, _) = load(&a.load)?;
    let cs = clients(g, n).await?;
    ensure_empty(&cs[0], &a.prefix).await?;

    let (tx, rx) = mpsc::channel(n);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(a.duration.unwrap_or(PERF_SECONDS));
    let prefix = a.prefix.clone();
    // etcdctl's rate.Limiter: one put every 1/limit s until the deadline. A tick this
    // (single-threaded) process was late for is caught up rather than lost, so the rate
    // measures the server, not the client's scheduling.
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(limit)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        loop {
            tick.tick().await;
            if Instant::now() >= deadline || tx.send(random_key(&prefix, 256)).await.is_err() {
                return;
            }
        }
    });
    let seconds = deadline - start;
    let bar = progress(seconds.as_secs());
    let ticker = {
        let bar = bar.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                bar.inc(1);
            }
        })
    };
    let s = put_all(&cs, rx, vec![0u8; 1024], start, &ProgressBar::hidden()).await;
    ticker.abort();
    bar.finish();
    clean_up(g, &cs[0], &a.prefix, &a.cleanup).await?;

    let mut ok = !s.print_errors();
    let rps = s.rps();
    if rps / f64::from(limit) <= 0.9 {
        println(&format!(
            "FAIL: Throughput too low: {} writes/s",
            rps as i64 + 1
        ));
        ok = false;
    } else {
        println(&format!("PASS: Throughput is {} writes/s", rps as i64 + 1));
    }
    let slowest = s.slowest();
    if slowest > 0.5 {
        println(&format!("Slowest request took too long: {slowest:.6}s"));
        ok = false;
    } else {
        println(&format!("PASS: Slowest request took {slowest:.6}s"));
    }
    let stddev = s.stddev();
    if stddev > 0.1 {
        println(&format!("Stddev too high: {stddev:.6}s"));
        ok = false;
    } else {
        println(&format!("PASS: Stddev is {stddev:.6}s"));
    }
    if ok {
        println("PASS");
        Ok(())
    } else {
        println("FAIL");
        Err(CtlError::silent(exit::ERROR))
    }
}

/// The `process_resident_memory_bytes` of `endpoint`'s `/metrics` (0 after printing
/// etcdctl's line when it cannot be read).
async fn resident_memory(g: &GlobalFlags, endpoint: &str) -> f64 {
    const KEY: &str = "process_resident_memory_bytes";
    let host = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
        endpoint.to_string()
    } else {
        format!("http://{endpoint}")
    };
    let url = format!("{host}/metrics");
    let body = match fetch(g, &url).await {
        Ok(b) => b,
        Err(e) => {
            println(&format!("fetch error: {e}"));
            return 0.0;
        }
    };
    let Some(value) = body
        .lines()
        .find_map(|l| l.strip_prefix(KEY).map(str::trim))
    else {
        println(&format!("could not find: {KEY}"));
        return 0.0;
    };
    value.parse().unwrap_or_else(|e| {
        println(&format!("parse error: {e}"));
        0.0
    })
}

/// The body of `GET url` (HTTP/1.1 over the client's TLS settings for `https://`).
async fn fetch(g: &GlobalFlags, url: &str) -> Result<String, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{e}"))?;
    let dialer = oxcd_tls::Dialer::new(g.tls().map_err(|e| e.message)?, g.dial_timeout);
    let conn = dialer
        .dial(&uri)
        .await
        .map_err(|e| format!("Get {url}: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(conn))
        .await
        .map_err(|e| format!("Get {url}: {e}"))?;
    tokio::spawn(connection);
    let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
    let req = http::Request::get(uri.path())
        .header(http::header::HOST, authority)
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let work = async {
        let resp = sender.send_request(req).await?;
        resp.into_body().collect().await
    };
    let body = tokio::time::timeout(g.command_timeout, work)
        .await
        .map_err(|_| format!("Get {url}: context deadline exceeded"))?
        .map_err(|e| format!("reading {url}: {e}"))?
        .to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// `check datascale`.
async fn datascale(g: &GlobalFlags, a: DatascaleArgs) -> Result<(), CtlError> {
    const KV_SIZE: usize = 1024;
    let (_, _, limit, n) = load(&a.load)?;
    let cs = clients(g, n).await?;
    let endpoint = g.endpoint_list().first().cloned().unwrap_or_default();
    ensure_empty(&cs[0], &a.prefix).await?;

    let before = resident_memory(g, &endpoint).await;
    if before == 0.0 {
        println("FAIL: Could not read process_resident_memory_bytes before the put operations.");
        return Err(CtlError::silent(exit::ERROR));
    }
    println(&format!(
        "Start data scale check for work load [{limit} key-value pairs, {KV_SIZE} bytes per key-value, {n} concurrent clients]."
    ));
    let (tx, rx) = mpsc::channel(n);
    let prefix = a.prefix.clone();
    tokio::spawn(async move {
        for _ in 0..limit {
            if tx.send(random_key(&prefix, KV_SIZE / 2)).await.is_err() {
                return;
            }
        }
    });
    let bar = progress(limit as u64);
    let s = put_all(&cs, rx, vec![0u8; KV_SIZE / 2], Instant::now(), &bar).await;
    bar.finish();

    let after = resident_memory(g, &endpoint).await;
    if after == 0.0 {
        println("FAIL: Could not read process_resident_memory_bytes after the put operations.");
        return Err(CtlError::silent(exit::ERROR));
    }
    clean_up(g, &cs[0], &a.prefix, &a.cleanup).await?;
    if s.print_errors() {
        return Err(CtlError::silent(exit::ERROR));
    }
    let mb = (after - before) / (1024.0 * 1024.0);
    println(&format!(
        "PASS: Approximate system memory used : {mb:.2} MB."
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hold_a_zigzag_varint_then_zeros() {
        let k = random_key("/p/", 256);
        assert_eq!(k.len(), 3 + 256);
        assert!(k.starts_with(b"/p/"));
        assert_eq!(k[3] & 1, 0, "a non-negative zigzag varint is even");
        assert!(k[3 + 10..].iter().all(|b| *b == 0));
    }

    #[test]
    fn stats_are_population_ones() {
        let s = Stats {
            latencies: vec![1.0, 3.0],
            total: Duration::from_secs(2),
            ..Stats::default()
        };
        assert_eq!(s.rps(), 1.0);
        assert_eq!(s.slowest(), 3.0);
        assert_eq!(s.stddev(), 1.0);
    }

    #[test]
    fn loads_have_long_names() {
        assert_eq!(load("xLarge").unwrap().0, 15000);
        assert_eq!(load("q").unwrap_err().code, exit::BAD_FEATURE);
    }
}

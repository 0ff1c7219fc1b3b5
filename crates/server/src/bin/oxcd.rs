//! `oxcd`: the server binary. Parses etcd's flags and runs a member until SIGINT/SIGTERM.
//! `oxcd snapshot status|restore ...` reads and restores etcd-format snapshots instead
//! (see `oxcd_server::snapshot::cli`).

use oxcd_server::Config;

/// jemalloc for every Rust allocation of the server (see the workspace Cargo.toml for why).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("snapshot") {
        std::process::exit(oxcd_server::snapshot::cli::run(&args[1..]));
    }
    let config = match Config::parse(args, |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("oxcd: {e}");
            std::process::exit(e.exit_code());
        }
    };
    if config.print_version {
        println!("oxcd Version: {}", env!("CARGO_PKG_VERSION"));
        println!("etcd API Version: {}", oxcd_server::context::SERVER_VERSION);
        return;
    }
    if config.print_help {
        print!("{}", oxcd_server::config::help_text());
        return;
    }
    // Failpoints (`FAILPOINTS=name=action;...`, the robustness suite's crash points) are
    // honoured by builds with the `failpoints` feature and refused by the others.
    if std::env::var_os("FAILPOINTS").is_some() && !fail::has_failpoints() {
        eprintln!("oxcd: FAILPOINTS is set but this build has no failpoints (build with --features failpoints)");
        std::process::exit(2);
    }
    let _failpoints = fail::FailScenario::setup();
    if let Err(e) = oxcd_server::logging::init(&config) {
        // As etcd's failure to open a log sink: a flag verification error.
        eprintln!("oxcd: {e}");
        std::process::exit(e.exit_code());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("oxcd: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let logger = config.logger;
    let result = runtime.block_on(oxcd_server::run(config, shutdown_signal()));
    if let Err(e) = result {
        match logger {
            // As etcd's last (fatal) line: a JSON line like every other one.
            oxcd_server::config::Logger::Zap => {
                tracing::error!(error = %format!("{e:#}"), "oxcd stopped on an error")
            }
            oxcd_server::config::Logger::Capnslog => eprintln!("oxcd: {e:#}"),
        }
        std::process::exit(1);
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

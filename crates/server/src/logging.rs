//! The process log as etcd's flags set it: the level (`--log-level`, `--debug`), where it
//! goes (`--log-outputs`: `default` and `stderr` are standard error, `stdout`, or file
//! paths, each appended to), and its form (`--logger`): `capnslog` writes text lines
//! (3.4's default), `zap` writes one JSON object a line with zap's keys (`level`, `ts`,
//! `caller`, `msg`, then the event's fields), which log pipelines built for etcd parse.
//! The flags are checked in `config` as etcd checks them; here a sink that cannot be
//! opened is refused as etcd refuses it (`open sink "<path>": ...`, exit 1). zap has no
//! trace level: trace events (`RUST_LOG`) are written with level `debug`.

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, ConfigError, Logger};

/// Every `--log-outputs` destination; a line goes to all of them.
struct Outputs(Vec<Box<dyn Write + Send>>);

impl Write for Outputs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for out in &mut self.0 {
            out.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.iter_mut().try_for_each(|out| out.flush())
    }
}

fn open_outputs(names: &[String]) -> Result<Outputs, ConfigError> {
    let mut outs: Vec<Box<dyn Write + Send>> = Vec::new();
    for name in names {
        outs.push(match name.as_str() {
            "default" | "stderr" => Box::new(io::stderr()),
            "stdout" => Box::new(io::stdout()),
            path => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| ConfigError::Verify(format!("open sink {path:?}: {e}")))?,
            ),
        });
    }
    Ok(Outputs(outs))
}

/// The tracing level of an etcd `--log-level` (one of [`crate::config::LOG_LEVELS`]).
fn tracing_level(level: &str) -> &'static str {
    match level {
        "debug" => "debug",
        "info" => "info",
        "warn" => "warn",
        _ => "error",
    }
}

/// Installs the global logger. `RUST_LOG`, when set, overrides the level.
pub fn init(cfg: &Config) -> Result<(), ConfigError> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(tracing_level(&cfg.log_level)));
    let outputs = open_outputs(&cfg.log_outputs)?;
    let to_terminal = {
        use std::io::IsTerminal;
        cfg.log_outputs
            .iter()
            .all(|o| o == "default" || o == "stderr")
            && io::stderr().is_terminal()
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(outputs));
    let installed = match cfg.logger {
        Logger::Capnslog => builder.with_ansi(to_terminal).try_init(),
        Logger::Zap => builder.event_format(ZapJson).try_init(),
    };
    installed.map_err(|e| ConfigError::Verify(format!("cannot install the logger: {e}")))?;
    if cfg.debug {
        // etcd 3.4 prints this (as text, to standard error); here it is a log line.
        tracing::warn!("Deprecated '--debug' flag is set to true (use '--log-level=debug' instead");
    }
    Ok(())
}

/// zap's production JSON encoding, as etcd configures it.
struct ZapJson;

impl<S, N> FormatEvent<S, N> for ZapJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let caller = match (meta.file(), meta.line()) {
            (Some(file), Some(n)) => format!("{file}:{n}"),
            _ => meta.target().to_string(),
        };
        // zap's key order: level, ts, caller, msg, then the fields as logged.
        let head: [(&str, Value); 4] = [
            ("level", zap_level(*meta.level()).into()),
            ("ts", timestamp().into()),
            ("caller", caller.into()),
            ("msg", fields.message.unwrap_or_default().into()),
        ];
        let mut line = String::from("{");
        let pairs = head
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .chain(fields.rest);
        for (i, (key, value)) in pairs.enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&Value::String(key).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        }
        line.push('}');
        writeln!(writer, "{line}")
    }
}

/// zap's name of a level (zap has no trace level: trace is written as `debug`).
fn zap_level(level: tracing::Level) -> &'static str {
    match level {
        tracing::Level::ERROR => "error",
        tracing::Level::WARN => "warn",
        tracing::Level::INFO => "info",
        tracing::Level::DEBUG | tracing::Level::TRACE => "debug",
    }
}

/// The current time as zap's ISO 8601 encoder writes it (UTC, milliseconds).
fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// An event's message and fields, as JSON values, in the order they were logged.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    rest: Vec<(String, Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(s) => s,
                other => other.to_string(),
            });
        } else {
            self.rest.push((field.name().to_string(), value));
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zap_lines_carry_etcds_keys() {
        let path = std::env::temp_dir().join(format!("oxcd-zap-{}.log", std::process::id()));
        let outputs = open_outputs(&[path.display().to_string()]).unwrap();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Mutex::new(outputs))
            .with_max_level(tracing::Level::TRACE)
            .event_format(ZapJson)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                took_ms = 120u64,
                member = "m0",
                "apply request took too long"
            );
            tracing::trace!("a trace event");
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(line["level"], "warn");
        assert_eq!(line["msg"], "apply request took too long");
        assert_eq!(line["took_ms"], 120);
        assert_eq!(line["member"], "m0");
        let raw = text.lines().next().unwrap();
        assert!(raw.starts_with(r#"{"level":"warn","ts":""#), "{raw}");
        assert!(
            raw.contains(r#""msg":"apply request took too long","took_ms":120,"member":"m0"}"#),
            "{raw}"
        );
        assert!(line["caller"].as_str().unwrap().contains("logging.rs:"));
        let trace: Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(
            (&trace["level"], &trace["msg"]),
            (&"debug".into(), &"a trace event".into())
        );
        let ts = line["ts"].as_str().unwrap();
        assert_eq!((ts.len(), &ts[10..11], &ts[23..]), (24, "T", "Z"), "{ts}");
    }

    #[test]
    fn unknown_output_paths_are_refused_clearly() {
        let err = open_outputs(&["/nonexistent-dir/x.log".into()])
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            text.starts_with("error verifying flags, open sink \"/nonexistent-dir/x.log\": "),
            "{text}"
        );
        assert_eq!(err.exit_code(), 1);
    }
}

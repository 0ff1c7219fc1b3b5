//! The output printers: one [`Printer`] method per kind of response, each writing the
//! response in the format `-w` chose, exactly as etcdctl 3.4's printer of that format
//! (`printer_simple.go`, `printer_fields.go`, `printer_json.go`, `printer_table.go`,
//! `printer_protobuf.go`). A format etcdctl lacks for a response fails with its
//! "<format> not supported as output format" (exit 4) after the request ran, as etcdctl
//! does.
//!
//! The format files (`simple.rs`, `fields.rs`, `json.rs`, `table.rs`) hold each format's
//! pieces; the group files hold the methods, each saying which format supports its
//! response: `kv.rs` (get, put, del, txn, watch), `lease.rs`, `cluster.rs` (members,
//! endpoints, alarms, move-leader) and `auth.rs` (users and roles). This file holds the
//! [`Format`], the [`Printer`] and what the methods share.

mod auth;
mod cluster;
pub mod fields;
pub mod json;
mod kv;
mod lease;
pub mod simple;
pub mod table;

use std::io::Write;

use oxcd_client::proto::etcdserverpb::AlarmType;
use oxcd_client::ResponseHeader;
use prost::Message;

use crate::error::{exit, CtlError};
use fields::line;
use json::Obj;

/// An output format (`-w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text (the default).
    Simple,
    /// `"Name" : value` lines.
    Fields,
    /// Go's encoding/json of the response.
    Json,
    /// The response's protobuf encoding.
    Protobuf,
    /// A table (member list and endpoint commands only).
    Table,
}

impl Format {
    /// The format named `s`, if etcdctl knows it.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s {
            "simple" => Format::Simple,
            "fields" => Format::Fields,
            "json" => Format::Json,
            "protobuf" => Format::Protobuf,
            "table" => Format::Table,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Format::Simple => "simple",
            Format::Fields => "fields",
            Format::Json => "json",
            Format::Protobuf => "protobuf",
            Format::Table => "table",
        }
    }
}

/// The name etcdctl prints for an event type (mvccpb.Event_EventType's String).
pub fn event_type(t: i32) -> &'static str {
    match t {
        0 => "PUT",
        1 => "DELETE",
        _ => "UNKNOWN",
    }
}

pub(crate) fn alarm_name(a: i32) -> &'static str {
    match AlarmType::try_from(a) {
        Ok(AlarmType::None) => "NONE",
        Ok(AlarmType::Nospace) => "NOSPACE",
        Ok(AlarmType::Corrupt) => "CORRUPT",
        Err(_) => "UNKNOWN",
    }
}

pub(crate) fn perm_name(t: i32) -> &'static str {
    match t {
        0 => "READ",
        1 => "WRITE",
        2 => "READWRITE",
        _ => "UNKNOWN",
    }
}

/// What one print writes: standard output and standard error.
#[derive(Debug, Default)]
pub struct Out {
    /// Bytes for stdout.
    pub out: Vec<u8>,
    /// Bytes for stderr.
    pub err: Vec<u8>,
}

/// The format this print lacks.
pub(crate) struct Unsupported;

pub(crate) type Shown = Result<(), Unsupported>;

/// The outcome of one endpoint's health check (`endpoint health`).
#[derive(Debug, Clone)]
pub struct EpHealth {
    /// The endpoint as given.
    pub ep: String,
    /// Whether a read succeeded (or was refused for permission only).
    pub health: bool,
    /// How long the read took, as Go prints a duration ("" if no client was made).
    pub took: String,
    /// The error, "" when healthy.
    pub error: String,
}

/// Prints responses in one format.
#[derive(Debug, Clone)]
pub struct Printer {
    /// The format.
    pub format: Format,
    /// `--hex`: keys and values as `\xHH` (simple format only).
    pub hex: bool,
    /// `--print-value-only`: values without keys (simple format only).
    pub value_only: bool,
}

pub(crate) fn pb(o: &mut Out, m: &impl Message) -> Shown {
    o.out.extend_from_slice(&m.encode_to_vec());
    Ok(())
}

pub(crate) fn json_line(o: &mut Out, s: String) -> Shown {
    o.out.extend_from_slice(s.as_bytes());
    o.out.push(b'\n');
    Ok(())
}

pub(crate) fn header_pb(o: &mut Out, h: &Option<ResponseHeader>) -> Shown {
    pb(o, &h.unwrap_or_default())
}

impl Printer {
    /// Runs `f` and writes what it printed (stdout flushed: a watch prints as it goes), or
    /// fails with etcdctl's error for a format the response lacks.
    pub(crate) fn emit(&self, f: impl FnOnce(&mut Out) -> Shown) -> Result<(), CtlError> {
        let mut o = Out::default();
        match f(&mut o) {
            Ok(()) => {
                write_all(&o);
                Ok(())
            }
            Err(Unsupported) => Err(self.unsupported()),
        }
    }

    /// etcdctl's error for a response the format cannot print.
    pub fn unsupported(&self) -> CtlError {
        CtlError::new(
            exit::BAD_FEATURE,
            format!("{} not supported as output format", self.format.name()),
        )
    }
}

/// The members of a header embedded by pointer in a clientv3 struct (none if absent).
pub(crate) fn flat_header(h: &Option<ResponseHeader>) -> Obj {
    match h {
        Some(h) => json::header_members(Obj::new(), h),
        None => Obj::new(),
    }
}

pub(crate) fn cluster_id(h: &Option<ResponseHeader>) -> u64 {
    h.as_ref().map_or(0, |h| h.cluster_id)
}

pub(crate) fn rows_simple(o: &mut Vec<u8>, rows: &[Vec<String>]) {
    for r in rows {
        line(o, &r.join(", "));
    }
}

/// Writes a print's output and flushes (write errors, e.g. a closed pipe, are ignored
/// as Go's fmt ignores them).
pub fn write_all(o: &Out) {
    if !o.out.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&o.out);
        let _ = out.flush();
    }
    if !o.err.is_empty() {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(&o.err);
        let _ = err.flush();
    }
}

/// Writes `line` and a newline to stdout, flushed.
pub fn println(text: &str) {
    let mut o = Out::default();
    line(&mut o.out, text);
    write_all(&o);
}

/// Writes `line` and a newline to stderr, flushed.
pub fn eprintln(text: &str) {
    let mut o = Out::default();
    line(&mut o.err, text);
    write_all(&o);
}

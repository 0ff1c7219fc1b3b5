//! `put`, `get`, `del` and `compaction`: their flags, etcdctl's argument checks (in
//! etcdctl's order, with its texts), and the requests they make. `txn.rs` reuses the
//! request builders for the operations of a transaction.

use std::io::Read;

use clap::Args;
use oxcd_client::proto::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};
use oxcd_client::{DeleteOptions, GetOptions, PutOptions, SortOrder, SortTarget};

use crate::error::{exit, CtlError};
use crate::global::GlobalFlags;
use crate::gotext::quote;
use crate::print::{println, Format};

/// `put [options] <key> <value>` (the value can also come from stdin).
#[derive(Debug, Clone, Args)]
#[command(allow_negative_numbers = true)]
pub struct PutArgs {
    /// lease ID (in hexadecimal) to attach to the key
    #[arg(long, default_value = "0")]
    pub lease: String,
    /// return the previous key-value pair before modification
    #[arg(long = "prev-kv")]
    pub prev_kv: bool,
    /// updates the key using its current value
    #[arg(long = "ignore-value")]
    pub ignore_value: bool,
    /// updates the key using its current lease
    #[arg(long = "ignore-lease")]
    pub ignore_lease: bool,
    /// <key> <value>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `get [options] <key> [range_end]`.
#[derive(Debug, Clone, Args)]
#[command(allow_negative_numbers = true)]
pub struct GetArgs {
    /// Linearizable(l) or Serializable(s)
    #[arg(long, default_value = "l")]
    pub consistency: String,
    /// Order of results; ASCEND or DESCEND (ASCEND by default)
    #[arg(long, default_value = "")]
    pub order: String,
    /// Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION
    #[arg(long = "sort-by", default_value = "")]
    pub sort_by: String,
    /// Maximum number of results
    #[arg(long, default_value_t = 0, value_parser = go_i64)]
    pub limit: i64,
    /// Get keys with matching prefix
    #[arg(long)]
    pub prefix: bool,
    /// Get keys that are greater than or equal to the given key using byte compare
    #[arg(long = "from-key")]
    pub from_key: bool,
    /// Specify the kv revision
    #[arg(long, default_value_t = 0, value_parser = go_i64)]
    pub rev: i64,
    /// Get only the keys
    #[arg(long = "keys-only")]
    pub keys_only: bool,
    /// Only write values when using the "simple" output format
    #[arg(long = "print-value-only")]
    pub print_value_only: bool,
    /// <key> [range_end]
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `del [options] <key> [range_end]`.
#[derive(Debug, Clone, Args)]
pub struct DelArgs {
    /// delete keys with matching prefix
    #[arg(long)]
    pub prefix: bool,
    /// return deleted key-value pairs
    #[arg(long = "prev-kv")]
    pub prev_kv: bool,
    /// delete keys that are greater than or equal to the given key using byte compare
    #[arg(long = "from-key")]
    pub from_key: bool,
    /// <key> [range_end]
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// `compaction [options] <revision>`.
#[derive(Debug, Clone, Args)]
#[command(allow_negative_numbers = true)]
pub struct CompactionArgs {
    /// 'true' to wait for compaction to physically remove all old revisions
    #[arg(long)]
    pub physical: bool,
    /// <revision>
    #[arg(num_args = 0..)]
    pub args: Vec<String>,
}

/// A decimal int64 flag value as pflag parses it (Go's error text).
pub fn go_i64(s: &str) -> Result<i64, String> {
    parse_int(s, 10)
}

/// Go's `strconv.ParseInt(s, base, 64)`, with Go's error text.
pub fn parse_int(s: &str, base: u32) -> Result<i64, String> {
    i64::from_str_radix(s, base).map_err(|e| go_num_error("ParseInt", s, &e))
}

/// Go's `strconv.ParseUint(s, base, 64)`, with Go's error text.
pub fn parse_uint(s: &str, base: u32) -> Result<u64, String> {
    if s.starts_with('+') {
        return Err(format!(
            "strconv.ParseUint: parsing {}: invalid syntax",
            quote(s.as_bytes())
        ));
    }
    u64::from_str_radix(s, base).map_err(|e| go_num_error("ParseUint", s, &e))
}

fn go_num_error(func: &str, s: &str, e: &std::num::ParseIntError) -> String {
    use std::num::IntErrorKind::{NegOverflow, PosOverflow};
    let why = match e.kind() {
        PosOverflow | NegOverflow => "value out of range",
        _ => "invalid syntax",
    };
    format!("strconv.{func}: parsing {}: {why}", quote(s.as_bytes()))
}

/// The PutRequest of `put` (etcdctl's getPutOp). `stdin` supplies a missing value.
pub fn put_request(
    a: &PutArgs,
    stdin: impl FnOnce() -> Option<Vec<u8>>,
) -> Result<PutRequest, CtlError> {
    let needs = "put command needs 1 argument and input from stdin or 2 arguments";
    let Some(key) = a.args.first() else {
        return Err(CtlError::bad_args(needs));
    };
    if a.ignore_value && a.args.len() > 1 {
        return Err(CtlError::bad_args(
            "put command needs only 1 argument when 'ignore-value' is set",
        ));
    }
    let value = if a.ignore_value {
        Vec::new()
    } else if let Some(v) = a.args.get(1) {
        v.clone().into_bytes()
    } else {
        match stdin() {
            Some(v) if !v.is_empty() => v,
            _ => return Err(CtlError::bad_args(needs)),
        }
    };
    let lease = parse_int(&a.lease, 16)
        .map_err(|e| CtlError::bad_args(format!("bad lease ID ({e}), expecting ID in Hex")))?;
    let options = PutOptions {
        lease,
        prev_kv: a.prev_kv,
        ignore_value: a.ignore_value,
        ignore_lease: a.ignore_lease,
    };
    Ok(options.request(key.clone(), value))
}

/// The RangeRequest of `get` (etcdctl's getGetOp).
pub fn get_request(a: &GetArgs) -> Result<RangeRequest, CtlError> {
    let Some(key) = a.args.first() else {
        return Err(CtlError::bad_args(
            "get command needs one argument as key and an optional argument as range_end",
        ));
    };
    if a.prefix && a.from_key {
        return Err(CtlError::bad_args(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    let mut options = GetOptions::new();
    match a.consistency.as_str() {
        "s" => options = options.with_serializable(),
        "l" => {}
        other => {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!("unknown consistency flag {}", quote(other.as_bytes())),
            ))
        }
    }
    if let Some(end) = a.args.get(1) {
        if a.prefix || a.from_key {
            return Err(CtlError::bad_args(
                "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
            ));
        }
        options = options.with_range_end(end.clone());
    }
    options = options.with_limit(a.limit);
    if a.rev > 0 {
        options = options.with_revision(a.rev);
    }
    let mut order = match a.order.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!("bad sort order {}", a.order),
            ))
        }
    };
    let target = match a.sort_by.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => {
            return Err(CtlError::new(
                exit::BAD_FEATURE,
                format!("bad sort target {}", a.sort_by),
            ))
        }
    };
    // clientv3's WithSort: keys come sorted ascending anyway.
    if target == SortTarget::Key && order == SortOrder::Ascend {
        order = SortOrder::None;
    }
    options = options.with_sort(target, order);
    if a.prefix {
        options = options.with_prefix();
    }
    if a.from_key {
        options = options.with_from_key();
    }
    if a.keys_only {
        options = options.with_keys_only();
    }
    Ok(options.request(key.clone()))
}

/// The DeleteRangeRequest of `del` (etcdctl's getDelOp).
pub fn del_request(a: &DelArgs) -> Result<DeleteRangeRequest, CtlError> {
    if a.args.is_empty() || a.args.len() > 2 {
        return Err(CtlError::bad_args(
            "del command needs one argument as key and an optional argument as range_end",
        ));
    }
    if a.prefix && a.from_key {
        return Err(CtlError::bad_args(
            "`--prefix` and `--from-key` cannot be set at the same time, choose one",
        ));
    }
    let range_end = match a.args.get(1) {
        Some(_) if a.prefix || a.from_key => return Err(CtlError::bad_args(
            "too many arguments, only accept one argument when `--prefix` or `--from-key` is set",
        )),
        Some(end) => Some(end.clone().into_bytes()),
        None => None,
    };
    let options = DeleteOptions {
        prefix: a.prefix,
        prev_kv: a.prev_kv,
        from_key: a.from_key,
        range_end,
    };
    Ok(options.request(a.args[0].clone()))
}

/// All of stdin, or `None` if it cannot be read.
pub fn read_stdin() -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin().read_to_end(&mut buf).ok().map(|_| buf)
}

/// `put`.
pub async fn put(g: &GlobalFlags, a: PutArgs) -> Result<(), CtlError> {
    let req = put_request(&a, read_stdin)?;
    let printer = g.printer()?;
    let client = g.client().await?;
    let resp = client
        .kv()
        .put_request(req)
        .await
        .map_err(|e| CtlError::client(exit::ERROR, &e))?;
    printer.put(&resp)
}

/// `get`.
pub async fn get(g: &GlobalFlags, a: GetArgs) -> Result<(), CtlError> {
    let req = get_request(&a)?;
    let mut printer = g.printer()?;
    let client = g.client().await?;
    let resp = client
        .kv()
        .range(req)
        .await
        .map_err(|e| CtlError::client(exit::ERROR, &e))?;
    if a.print_value_only {
        if printer.format != Format::Simple {
            return Err(CtlError::bad_args(
                "print-value-only is only for `--write-out=simple`",
            ));
        }
        printer.value_only = true;
    }
    printer.get(&resp)
}

/// `del`.
pub async fn del(g: &GlobalFlags, a: DelArgs) -> Result<(), CtlError> {
    let req = del_request(&a)?;
    let printer = g.printer()?;
    let client = g.client().await?;
    let resp = client
        .kv()
        .delete_request(req)
        .await
        .map_err(|e| CtlError::client(exit::ERROR, &e))?;
    printer.del(&resp)
}

/// `compaction`.
pub async fn compaction(g: &GlobalFlags, a: CompactionArgs) -> Result<(), CtlError> {
    if a.args.len() != 1 {
        return Err(CtlError::bad_args("compaction command needs 1 argument"));
    }
    let rev = parse_int(&a.args[0], 10).map_err(CtlError::error)?;
    g.printer()?;
    let client = g.client().await?;
    client
        .kv()
        .compact_with(rev, a.physical)
        .await
        .map_err(|e| CtlError::client(exit::ERROR, &e))?;
    println(&format!("compacted revision {rev}"));
    Ok(())
}

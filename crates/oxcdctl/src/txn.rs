//! `txn`: the transaction read from stdin in etcdctl's syntax: compares, a blank line,
//! success operations, a blank line, failure operations, a blank line. A compare is
//! `<target>("<key>") <op> "<value>"` (targets ver/version, c/create, m/mod, val/value,
//! lease; ops `=`, `!=`, `>`, `<`); an operation is a `put`, `get` or `del` command line
//! with its flags, split into words as etcdctl's `argify` does.

use std::io::BufRead;

use clap::{Args, Parser};
use oxcd_client::proto::etcdserverpb::request_op::Request;
use oxcd_client::proto::etcdserverpb::RequestOp;
use oxcd_client::{Compare, CompareOp, TxnOp};

use crate::error::{exit, CtlError};
use crate::global::GlobalFlags;
use crate::gotext::{quote, unquote_prefix};
use crate::kv::{self, parse_int};
use crate::print::println;

/// `txn [options]`.
#[derive(Debug, Clone, Args)]
pub struct TxnArgs {
    /// Input transaction in interactive mode
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// (no arguments are accepted)
    #[arg(num_args = 0.., hide = true)]
    pub args: Vec<String>,
}

/// One operation line of a transaction, parsed with the flags of the command it names.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
enum OpLine {
    Put(kv::PutArgs),
    Get(kv::GetArgs),
    Del(kv::DelArgs),
}

/// Splits a line into words as etcdctl's `argify`: `"double quoted"` (Go escapes),
/// `'single quoted'` and bare words. etcdctl cuts a single-quoted word as
/// `word[1 : len(words)-1]` (sic: the number of words, not the word's length); oxcdctl
/// does the same, so that lines mean what they mean to etcdctl.
pub fn argify(s: &str) -> Result<Vec<String>, CtlError> {
    let b = s.as_bytes();
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c);
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let end = match c {
            b'"' => {
                let mut j = i + 1;
                let mut close = None;
                while j < b.len() {
                    match b[j] {
                        b'\\' if j + 1 < b.len() => j += 2,
                        b'"' => {
                            close = Some(j + 1);
                            break;
                        }
                        _ => j += 1,
                    }
                }
                close
            }
            b'\'' => s[i + 1..].find('\'').map(|k| i + 1 + k + 1),
            c if is_space(c) => None,
            _ => Some(
                s[i..]
                    .find(|ch: char| ch.is_ascii() && is_space(ch as u8))
                    .map_or(b.len(), |k| i + k),
            ),
        };
        match end {
            Some(e) => {
                words.push(&s[i..e]);
                i = e;
            }
            None => i += s[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    let n = words.len();
    words
        .into_iter()
        .map(|w| {
            if let Some(rest) = w.strip_prefix('\'') {
                let _ = rest;
                w.get(1..n.saturating_sub(1))
                    .filter(|_| n >= 2)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        CtlError::new(
                            exit::INVALID_INPUT,
                            format!("cannot cut {w} as etcdctl's argify does"),
                        )
                    })
            } else if w.starts_with('"') {
                unquote_prefix(w)
                    .map(|(v, _)| String::from_utf8_lossy(&v).into_owned())
                    .ok_or_else(|| CtlError::new(exit::INVALID_INPUT, "invalid syntax"))
            } else {
                Ok(w.to_string())
            }
        })
        .collect()
}

/// Parses one compare line (etcdctl's parseCompare).
pub fn parse_compare(line: &str) -> Result<Compare, CtlError> {
    let bad = |msg: String| CtlError::new(exit::INVALID_INPUT, msg);
    let Some((target, rest)) = line.split_once('(') else {
        return Err(bad(format!("malformed comparison: {line}")));
    };
    // Sscanf(rest, "%q) %s %q", &key, &op, &val)
    let mut key = Vec::new();
    let mut op = String::new();
    let mut val = Vec::new();
    let mut n = 0;
    if let Some((k, r)) = unquote_prefix(rest) {
        key = k;
        // Go's Sscanf wants at least one space where the format has one.
        if let Some(r) = r
            .strip_prefix(')')
            .filter(|r| r.starts_with(char::is_whitespace))
        {
            let r = r.trim_start();
            let o: String = r.chars().take_while(|c| !c.is_whitespace()).collect();
            if !o.is_empty() {
                op = o;
                n = 2;
                if let Some((v, _)) = unquote_prefix(&r[op.len()..]) {
                    val = v;
                    n = 3;
                }
            } else {
                n = 1;
            }
        } else {
            n = 1;
        }
    }
    if n != 3 {
        return Err(bad(format!(
            "malformed comparison: {line}; got {target}({}) {op} {}",
            quote(&key),
            quote(&val)
        )));
    }
    let cmp_op = match op.as_str() {
        "=" => CompareOp::Equal,
        "!=" => CompareOp::NotEqual,
        ">" => CompareOp::Greater,
        "<" => CompareOp::Less,
        _ => {
            return Err(bad(format!(
                "malformed comparison: {line} (unknown result op {op})"
            )))
        }
    };
    let invalid = || bad(format!("invalid txn compare request: {line}"));
    let int = || parse_int(&String::from_utf8_lossy(&val), 10).map_err(|_| invalid());
    Ok(match target {
        "ver" | "version" => Compare::version(key, cmp_op, int()?),
        "c" | "create" => Compare::create_revision(key, cmp_op, int()?),
        "m" | "mod" => Compare::mod_revision(key, cmp_op, int()?),
        "val" | "value" => Compare::value(key, cmp_op, val),
        "lease" => Compare::lease(key, cmp_op, int()?),
        _ => {
            return Err(bad(format!(
                "malformed comparison: {line} (unknown target {target})"
            )))
        }
    })
}

/// Parses one operation line (etcdctl's parseRequestUnion).
pub fn parse_op(line: &str) -> Result<TxnOp, CtlError> {
    let args = argify(line)?;
    if args.len() < 2 {
        return Err(CtlError::new(
            exit::INVALID_INPUT,
            format!("invalid txn compare request: {line}"),
        ));
    }
    let parsed = OpLine::try_parse_from(&args)
        .map_err(|_| CtlError::new(exit::INVALID_INPUT, format!("invalid txn request: {line}")))?;
    let request = match parsed {
        OpLine::Put(a) => Request::RequestPut(kv::put_request(&a, || None)?),
        OpLine::Get(a) => Request::RequestRange(kv::get_request(&a)?),
        OpLine::Del(a) => Request::RequestDeleteRange(kv::del_request(&a)?),
    };
    Ok(TxnOp::from_proto(RequestOp {
        request: Some(request),
    }))
}

/// Reads lines up to a blank one; a line without its newline (end of input) is etcdctl's
/// `EOF` error.
fn read_section<T>(
    input: &mut impl BufRead,
    parse: impl Fn(&str) -> Result<T, CtlError>,
) -> Result<Vec<T>, CtlError> {
    let mut items = Vec::new();
    loop {
        let mut raw = Vec::new();
        let n = input
            .read_until(b'\n', &mut raw)
            .map_err(|e| CtlError::new(exit::INVALID_INPUT, e.to_string()))?;
        if n == 0 || raw.last() != Some(&b'\n') {
            return Err(CtlError::new(exit::INVALID_INPUT, "EOF"));
        }
        let line = String::from_utf8_lossy(&raw);
        let line = line.trim();
        if line.is_empty() {
            return Ok(items);
        }
        items.push(parse(line)?);
    }
}

/// `txn`.
pub async fn run(g: &GlobalFlags, a: TxnArgs) -> Result<(), CtlError> {
    if !a.args.is_empty() {
        return Err(CtlError::bad_args("txn command does not accept argument"));
    }
    let printer = g.printer()?;
    let client = g.client().await?;
    let prompt = |s: &str| {
        if a.interactive {
            println(s);
        }
    };
    let mut input = std::io::stdin().lock();
    prompt("compares:");
    let compares = read_section(&mut input, parse_compare)?;
    prompt("success requests (get, put, del):");
    let success = read_section(&mut input, parse_op)?;
    prompt("failure requests (get, put, del):");
    let failure = read_section(&mut input, parse_op)?;
    drop(input);
    let resp = client
        .kv()
        .txn()
        .when(compares)
        .and_then(success)
        .or_else(failure)
        .commit()
        .await
        .map_err(|e| CtlError::client(exit::ERROR, &e))?;
    printer.txn(&resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argify_as_etcdctl() {
        assert_eq!(
            argify(r#"put foo "bar baz""#).unwrap(),
            vec!["put", "foo", "bar baz"]
        );
        assert_eq!(
            argify("get  a --prefix").unwrap(),
            vec!["get", "a", "--prefix"]
        );
        // etcdctl's cut of a single-quoted word: [1 : number of words - 1].
        assert_eq!(argify("put k 'v'").unwrap(), vec!["put", "k", "v"]);
        assert_eq!(argify("put k 'hello'").unwrap(), vec!["put", "k", "h"]);
    }

    #[test]
    fn compares_parse_as_etcdctl() {
        assert!(parse_compare(r#"value("foo") = "bar""#).is_ok());
        assert!(parse_compare(r#"mod("foo") > "3""#).is_ok());
        let e = parse_compare(r#"value("foo")="bar""#).unwrap_err();
        assert_eq!(
            e.message,
            r#"malformed comparison: value("foo")="bar"; got value("foo")  """#
        );
        let e = parse_compare(r#"ver("foo") = "x""#).unwrap_err();
        assert_eq!(
            e.message,
            r#"invalid txn compare request: ver("foo") = "x""#
        );
        let e = parse_compare(r#"nope("foo") = "1""#).unwrap_err();
        assert_eq!(
            e.message,
            r#"malformed comparison: nope("foo") = "1" (unknown target nope)"#
        );
    }
}

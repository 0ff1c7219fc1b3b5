//! [`TokenSpec`]: etcd's `--auth-token` value (`auth/store.go` `decomposeOpts` and
//! `NewTokenProvider`, `auth/options.go`), and [`token_provider`], which builds the
//! provider it names.
//!
//! The value is `TYPE[,KEY=VALUE]...`: `simple` (options ignored), `jwt` with `sign-method`
//! (required), `pub-key`, `priv-key` (key file paths) and `ttl` (a Go duration such as
//! `5m` or `1h30m`, default 5m), or empty (no tokens at all). An option that is not exactly
//! one `KEY=VALUE`, or a repeated key, is refused for every type; an empty value counts as
//! absent. Unknown JWT keys are accepted and listed in [`JwtOptions::unknown`] (etcd only
//! warns about them).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use super::{JwtTokens, NopTokens, SimpleTokens, TokenProvider, DEFAULT_JWT_TTL};
use crate::error::AuthError;

/// The sign methods JWT tokens accept (jsonwebtoken's; etcd 3.4 also has ES512, and only
/// etcd 3.5 has EdDSA).
const SIGN_METHODS: &str = "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, \
                            HS256, HS384, HS512";

/// A parsed `--auth-token` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSpec {
    /// Empty: no token is issued or accepted ([`NopTokens`]).
    Nop,
    /// `simple`: [`SimpleTokens`].
    Simple,
    /// `jwt,...`: [`JwtTokens`].
    Jwt(JwtOptions),
}

/// The options of `--auth-token=jwt,...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtOptions {
    /// `sign-method`.
    pub sign_method: Algorithm,
    /// `pub-key`: the public key file.
    pub pub_key: Option<PathBuf>,
    /// `priv-key`: the private key file (the shared secret for HS*).
    pub priv_key: Option<PathBuf>,
    /// `ttl`: how long a token is valid after it is issued.
    pub ttl: Duration,
    /// Option keys etcd does not know, sorted (ignored; worth a warning).
    pub unknown: Vec<String>,
}

fn invalid(msg: String) -> AuthError {
    AuthError::InvalidAuthOpts(msg)
}

impl TokenSpec {
    /// Parses an `--auth-token` value. Reads no file.
    pub fn parse(spec: &str) -> Result<TokenSpec, AuthError> {
        let mut parts = spec.split(',');
        let kind = parts.next().unwrap_or_default();
        let mut opts: Vec<(&str, &str)> = Vec::new();
        for opt in parts {
            let (key, value) = match opt.split('=').collect::<Vec<_>>()[..] {
                [key, value] => (key, value),
                _ => return Err(invalid(format!("option {opt:?} is not KEY=VALUE"))),
            };
            if opts.iter().any(|(k, _)| *k == key) {
                return Err(invalid(format!("option {key:?} is given twice")));
            }
            opts.push((key, value));
        }
        match kind {
            "" => Ok(TokenSpec::Nop),
            "simple" => Ok(TokenSpec::Simple),
            "jwt" => JwtOptions::from_pairs(&opts).map(TokenSpec::Jwt),
            other => Err(invalid(format!(
                "unknown token type {other:?} (want simple or jwt)"
            ))),
        }
    }

    /// Builds the provider (reading the JWT key files). `simple_ttl` is
    /// `--auth-token-ttl`; zero means etcd's 300 s.
    pub fn build(&self, simple_ttl: Duration) -> Result<Arc<dyn TokenProvider>, AuthError> {
        Ok(match self {
            TokenSpec::Nop => Arc::new(NopTokens),
            TokenSpec::Simple => Arc::new(SimpleTokens::new(simple_ttl)),
            TokenSpec::Jwt(opts) => Arc::new(opts.load()?),
        })
    }
}

impl JwtOptions {
    fn from_pairs(opts: &[(&str, &str)]) -> Result<JwtOptions, AuthError> {
        let get = |key: &str| {
            opts.iter()
                .find(|(k, v)| *k == key && !v.is_empty())
                .map(|(_, v)| *v)
        };
        let ttl = match get("ttl") {
            None => DEFAULT_JWT_TTL,
            Some(v) => parse_go_duration(v).map_err(|e| invalid(format!("ttl {v:?}: {e}")))?,
        };
        let sign_method = match get("sign-method") {
            None => {
                return Err(invalid(format!(
                    "jwt needs sign-method (one of {SIGN_METHODS})"
                )))
            }
            Some(m @ ("ES512" | "none")) => {
                return Err(invalid(format!("sign-method {m} is not supported")))
            }
            Some(m) => Algorithm::from_str(m).map_err(|_| {
                invalid(format!(
                    "invalid auth signature method {m:?} (one of {SIGN_METHODS})"
                ))
            })?,
        };
        let mut unknown: Vec<String> = opts
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !matches!(*k, "sign-method" | "pub-key" | "priv-key" | "ttl"))
            .map(str::to_owned)
            .collect();
        unknown.sort();
        Ok(JwtOptions {
            sign_method,
            pub_key: get("pub-key").map(PathBuf::from),
            priv_key: get("priv-key").map(PathBuf::from),
            ttl,
            unknown,
        })
    }

    /// Reads the key files and builds the provider.
    pub fn load(&self) -> Result<JwtTokens, AuthError> {
        let read = |what: &str, path: &Option<PathBuf>| {
            path.as_ref()
                .map(|p| {
                    std::fs::read(p)
                        .map_err(|e| invalid(format!("cannot read {what} {}: {e}", p.display())))
                })
                .transpose()
        };
        let public = read("pub-key", &self.pub_key)?;
        let private = read("priv-key", &self.priv_key)?;
        JwtTokens::new(
            self.sign_method,
            public.as_deref(),
            private.as_deref(),
            self.ttl,
        )
    }
}

/// Parses etcd's `--auth-token` value and `--auth-token-ttl` and builds the provider:
/// `"simple"` -> [`SimpleTokens`] with that TTL;
/// `"jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256,ttl=5m"` -> [`JwtTokens`] (reading
/// the key files now); `""` -> [`NopTokens`]. Anything else is
/// [`AuthError::InvalidAuthOpts`] (or a key error: [`AuthError::MissingKey`],
/// [`AuthError::InvalidKey`], [`AuthError::KeyMismatch`]).
pub fn token_provider(
    spec: &str,
    simple_ttl: Duration,
) -> Result<Arc<dyn TokenProvider>, AuthError> {
    TokenSpec::parse(spec)?.build(simple_ttl)
}

/// Go's `time.ParseDuration`, for a positive duration: `[+]N[.F]UNIT...` with units ns,
/// us (µs, μs), ms, s, m, h, e.g. `300s`, `1.5h`, `1h30m`. etcd's duration flags and
/// options take this form; the server parses its own flags with it too.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Err("must be positive".into());
    }
    if rest.is_empty() {
        return Err("not a duration".into());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let whole_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (whole, after) = rest.split_at(whole_len);
        let (frac, after) = match after.strip_prefix('.') {
            Some(f) => f.split_at(f.bytes().take_while(u8::is_ascii_digit).count()),
            None => ("", after),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err("not a duration".into());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err("missing unit".into()),
            other => return Err(format!("unknown unit {other:?}")),
        };
        let too_long = || "out of range".to_string();
        // Go's int64 nanoseconds bound the value; digits past that overflow as in Go.
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_long())?
        };
        let mut part = whole.checked_mul(unit_nanos).ok_or_else(too_long)?;
        // Fraction digits beyond nanosecond precision change nothing.
        let frac = &frac[..frac.len().min(18)];
        if !frac.is_empty() {
            let f: u128 = frac.parse().map_err(|_| too_long())?;
            part += f * unit_nanos / 10u128.pow(frac.len() as u32);
        }
        total = total.checked_add(part).ok_or_else(too_long)?;
        if total > i64::MAX as u128 {
            return Err(too_long());
        }
        rest = after;
    }
    if total == 0 || negative {
        return Err("must be positive".into());
    }
    Ok(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::parse_go_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        let ok = |s: &str| parse_go_duration(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("300s"), Duration::from_secs(300));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("5.s"), Duration::from_secs(5));
        assert_eq!(ok("+2ms"), Duration::from_millis(2));
        assert_eq!(ok("10us"), Duration::from_micros(10));
        assert_eq!(ok("10µs"), Duration::from_micros(10));
        assert_eq!(ok("7ns"), Duration::from_nanos(7));
        assert_eq!(ok("1m0.5s"), Duration::from_millis(60_500));
        for bad in [
            "",
            "0",
            "0s",
            "-5m",
            "5",
            "m",
            ".",
            "5x",
            "5mm",
            "1h-5m",
            "9999999999h",
        ] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} parsed");
        }
    }
}

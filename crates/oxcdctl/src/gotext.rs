//! Go's text forms that etcdctl's output is made of: `%q` quoting (`strconv.Quote`), the
//! string escaping of `encoding/json`, reading a Go quoted string (`%q` in `Sscanf`,
//! `strconv.Unquote`), `time.Duration`'s `String`, go-humanize's `Bytes` and zap's ISO-8601
//! timestamps.

use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whether Go's `strconv.IsPrint` holds for `c`, approximated: letters, marks, numbers,
/// punctuation, symbols and the ASCII space are printable; control and format characters,
/// other spaces, private-use characters and noncharacters are not.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFEFF
        | 0xFFA0 | 0xFFF0..=0xFFFB | 0xE000..=0xF8FF | 0xFDD0..=0xFDEF
        | 0xF0000..=0x10FFFF)
        && (c as u32) & 0xFFFE != 0xFFFE
}

/// Go's `%q` of a byte string (`strconv.Quote`): printable UTF-8 kept, `"` and `\`
/// escaped, the usual C escapes, `\xHH` for other bytes below 0x80 and invalid UTF-8,
/// `\uHHHH`/`\UHHHHHHHH` for other runes.
pub fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\x07' => s.push_str("\\a"),
                '\x08' => s.push_str("\\b"),
                '\x0c' => s.push_str("\\f"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                '\x0b' => s.push_str("\\v"),
                c if is_print(c) => s.push(c),
                c if (c as u32) < 0x80 => {
                    let _ = write!(s, "\\x{:02x}", c as u32);
                }
                c if (c as u32) < 0x10000 => {
                    let _ = write!(s, "\\u{:04x}", c as u32);
                }
                c => {
                    let _ = write!(s, "\\U{:08x}", c as u32);
                }
            }
        }
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s.push('"');
    s
}

/// A string as Go's `encoding/json` writes it (HTML-safe: `<`, `>`, `&` escaped; invalid
/// UTF-8 as U+FFFD).
pub fn json_string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// Reads a Go quoted string at the start of `s` (after leading spaces), as `%q` in Go's
/// `Sscanf`: a back-quoted raw string or a double-quoted one with Go's escapes. Returns
/// the bytes and the rest of `s`, or `None` if `s` does not start with one.
pub fn unquote_prefix(s: &str) -> Option<(Vec<u8>, &str)> {
    let s = s.trim_start();
    let mut chars = s.char_indices();
    match chars.next()? {
        (_, '`') => {
            let end = s[1..].find('`')? + 1;
            Some((s.as_bytes()[1..end].to_vec(), &s[end + 1..]))
        }
        (_, '"') => {
            let mut out = Vec::new();
            let b = s.as_bytes();
            let mut i = 1;
            while i < b.len() {
                match b[i] {
                    b'"' => return Some((out, &s[i + 1..])),
                    b'\n' => return None,
                    b'\\' => {
                        let (bytes, used) = unescape(&s[i + 1..])?;
                        out.extend_from_slice(&bytes);
                        i += 1 + used;
                    }
                    c => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            None
        }
        _ => None,
    }
}

/// One escape after a backslash: its bytes and how many characters it used.
fn unescape(s: &str) -> Option<(Vec<u8>, usize)> {
    let b = s.as_bytes();
    let simple = |c: u8| Some((vec![c], 1));
    let hex = |n: usize| -> Option<u32> {
        let digits = s.get(1..1 + n)?;
        if !digits.bytes().all(|d| d.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    };
    match *b.first()? {
        b'a' => simple(0x07),
        b'b' => simple(0x08),
        b'f' => simple(0x0c),
        b'n' => simple(b'\n'),
        b'r' => simple(b'\r'),
        b't' => simple(b'\t'),
        b'v' => simple(0x0b),
        b'\\' => simple(b'\\'),
        b'"' => simple(b'"'),
        b'\'' => None,
        b'x' => Some((vec![hex(2)? as u8], 3)),
        b'u' => Some((char::from_u32(hex(4)?)?.to_string().into_bytes(), 5)),
        b'U' => Some((char::from_u32(hex(8)?)?.to_string().into_bytes(), 9)),
        b'0'..=b'7' => {
            let digits = s.get(0..3)?;
            let v = u32::from_str_radix(digits, 8).ok()?;
            (v <= 255).then(|| (vec![v as u8], 3))
        }
        _ => None,
    }
}

/// Go's `time.Duration.String()`: `1.181727ms`, `2.5s`, `1m30s`, `0s`.
pub fn duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    let frac = |v: u128, unit: u128, suffix: &str| -> String {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            return format!("{whole}{suffix}");
        }
        let width = unit.ilog10() as usize;
        let digits = format!("{rest:0width$}");
        format!("{whole}.{}{suffix}", digits.trim_end_matches('0'))
    };
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return frac(ns, 1_000, "µs");
    }
    if ns < 1_000_000_000 {
        return frac(ns, 1_000_000, "ms");
    }
    let secs = ns / 1_000_000_000;
    let sub = ns % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        let _ = write!(out, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(out, "{m}m");
    }
    out.push_str(&frac(s * 1_000_000_000 + sub, 1_000_000_000, "s"));
    out
}

/// Parses a Go duration (`5s`, `1m30s`, `500ms`, `1.5h`, `0`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("time: invalid duration {}", quote(s.as_bytes()));
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// go-humanize's `Bytes`: SI units (`20 kB`, `1.5 MB`, `512 B`), as etcdctl prints sizes.
pub use oxcd_snapshot::status::humanize_bytes as human_bytes;

/// Now as zap's ISO-8601 UTC timestamp with milliseconds (`2024-01-02T03:04:05.678Z`).
pub fn zap_timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (days, day_secs) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        day_secs / 3600,
        (day_secs / 60) % 60,
        day_secs % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_as_go() {
        assert_eq!(quote(b"foo"), "\"foo\"");
        assert_eq!(quote(b"a\"b\\c\n\x00\xff"), "\"a\\\"b\\\\c\\n\\x00\\xff\"");
        assert_eq!(
            quote("h\u{e9}llo \u{2603}".as_bytes()),
            "\"h\u{e9}llo \u{2603}\""
        );
        assert_eq!(quote("\u{200b}".as_bytes()), "\"\\u200b\"");
    }

    #[test]
    fn json_strings_as_go() {
        assert_eq!(
            json_string(b"a<b>&\"\n\x01"),
            "\"a\\u003cb\\u003e\\u0026\\\"\\n\\u0001\""
        );
    }

    #[test]
    fn unquote_reads_go_quoted_strings() {
        assert_eq!(
            unquote_prefix(r#" "a\"b\x41\n") rest"#),
            Some((b"a\"bA\n".to_vec(), ") rest"))
        );
        assert_eq!(unquote_prefix("`raw\\n`x"), Some((b"raw\\n".to_vec(), "x")));
        assert_eq!(unquote_prefix("noquote"), None);
        assert_eq!(unquote_prefix("\"open"), None);
    }

    #[test]
    fn durations_as_go() {
        assert_eq!(duration(Duration::from_nanos(1_181_727)), "1.181727ms");
        assert_eq!(duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_nanos(999)), "999ns");
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("5").is_err());
    }

    #[test]
    fn human_bytes_as_go_humanize() {
        assert_eq!(human_bytes(20480), "20 kB");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_bytes(5), "5 B");
        assert_eq!(human_bytes(999), "999 B");
    }
}

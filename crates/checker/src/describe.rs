//! One-line descriptions of operations, key-values and events, for violation messages.

use crate::history::{Call, Event, EventKind, Kv, Op, Outcome};

/// Bytes as a quoted, escaped string.
pub(crate) fn bytes(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

/// A key-value: `"v" (mod 3, create 2, ver 2, lease 0)`.
pub(crate) fn kv(kv: &Kv) -> String {
    format!(
        "{} (mod {}, create {}, ver {}, lease {})",
        bytes(&kv.value),
        kv.mod_revision,
        kv.create_revision,
        kv.version,
        kv.lease
    )
}

/// An optional key-value: `none` for absent.
pub(crate) fn opt_kv(value: Option<&Kv>) -> String {
    value.map_or_else(|| "none".to_owned(), kv)
}

/// A request.
pub(crate) fn call(call: &Call) -> String {
    match call {
        Call::Put { key, value, lease } if *lease != 0 => {
            format!("put({}, {}, lease {lease})", bytes(key), bytes(value))
        }
        Call::Put { key, value, .. } => format!("put({}, {})", bytes(key), bytes(value)),
        Call::Get {
            key,
            serializable: true,
        } => format!("serializable get({})", bytes(key)),
        Call::Get { key, .. } => format!("get({})", bytes(key)),
        Call::Delete { key } => format!("delete({})", bytes(key)),
        Call::Cas {
            key,
            expect_mod_revision,
            value,
        } => format!(
            "cas({}, expect mod {expect_mod_revision}, {})",
            bytes(key),
            bytes(value)
        ),
        Call::LeaseGrant { ttl } => format!("lease-grant(ttl {ttl})"),
        Call::LeaseRevoke { id } => format!("lease-revoke({id})"),
    }
}

/// An answer.
pub(crate) fn outcome(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Unknown => "unknown".to_owned(),
        Outcome::Failed(why) => format!("failed ({why})"),
        Outcome::Put { revision, prev } => {
            format!("ok rev {revision}, prev {}", opt_kv(prev.as_ref()))
        }
        Outcome::Get {
            revision,
            kv: value,
        } => {
            format!("ok header rev {revision}, {}", opt_kv(value.as_ref()))
        }
        Outcome::Delete { revision, prev } => {
            format!("ok rev {revision}, prev {}", opt_kv(prev.as_ref()))
        }
        Outcome::Cas {
            revision,
            succeeded: true,
            ..
        } => format!("ok succeeded rev {revision}"),
        Outcome::Cas {
            revision, current, ..
        } => {
            format!(
                "ok not succeeded header rev {revision}, current {}",
                opt_kv(current.as_ref())
            )
        }
        Outcome::LeaseGrant { id, revision } => format!("ok lease {id} rev {revision}"),
        Outcome::LeaseRevoke { revision } => format!("ok rev {revision}"),
    }
}

/// An operation: `op#3 (client 1, member 0, t=10..20) put("k", "1.0") -> ok rev 5, prev none`.
pub(crate) fn op(index: usize, op: &Op) -> String {
    let ret = op.ret.map_or_else(|| "?".to_owned(), |t| t.to_string());
    format!(
        "op#{index} (client {}, member {}, t={}..{ret}) {} -> {}",
        op.client,
        op.member,
        op.invoke,
        call(&op.call),
        outcome(&op.outcome)
    )
}

/// A watch event: `put "k" = "v" (mod 5, ...)` or `delete "k" at rev 6`.
pub(crate) fn event(event: &Event) -> String {
    match event.kind {
        EventKind::Put => format!("put {} = {}", bytes(&event.key), kv(&event.kv)),
        EventKind::Delete => {
            format!(
                "delete {} at rev {}",
                bytes(&event.key),
                event.kv.mod_revision
            )
        }
    }
}

/// At most `cap` items joined with `, `, then how many were left out.
pub(crate) fn list(items: impl IntoIterator<Item = String>, cap: usize) -> String {
    let mut out = Vec::new();
    let mut left = 0usize;
    for item in items {
        if out.len() < cap {
            out.push(item);
        } else {
            left += 1;
        }
    }
    let mut text = out.join(", ");
    if left > 0 {
        text.push_str(&format!(" and {left} more"));
    }
    text
}

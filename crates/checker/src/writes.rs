//! What the client writes did: which op wrote each value, and the revision each write took
//! effect at, when known. Shared by the checkers that reason about writes.
//!
//! An acknowledged write that created a revision (a put, a delete that deleted something,
//! a CAS that succeeded) took effect at the revision it reported. An unknown-outcome put or
//! CAS took effect exactly when its (run-unique) value shows up: in the timeline, or else in
//! any response that carried it (a get, a prev-kv, a failed CAS's current value); its
//! revision is then that value's `mod_revision`. Otherwise it is unresolved and may have
//! never happened. Unknown-outcome deletes and lease revokes are never resolved here.

use std::collections::HashMap;

use crate::history::{Call, EventKind, History, Kv, Op, Outcome};
use crate::timeline::Timeline;

/// The key an op reads or writes (none for lease ops).
pub(crate) fn key_of(call: &Call) -> Option<&[u8]> {
    match call {
        Call::Put { key, .. }
        | Call::Get { key, .. }
        | Call::Delete { key }
        | Call::Cas { key, .. } => Some(key),
        Call::LeaseGrant { .. } | Call::LeaseRevoke { .. } => None,
    }
}

/// The value a put or CAS writes.
pub(crate) fn value_of(call: &Call) -> Option<&[u8]> {
    match call {
        Call::Put { value, .. } | Call::Cas { value, .. } => Some(value),
        _ => None,
    }
}

/// The key-values an op's response carried: a get's kv, a put's or delete's prev, a failed
/// CAS's current value.
pub(crate) fn observed(op: &Op) -> Option<&Kv> {
    match &op.outcome {
        Outcome::Get { kv, .. } => kv.as_ref(),
        Outcome::Put { prev, .. } | Outcome::Delete { prev, .. } => prev.as_ref(),
        Outcome::Cas { current, .. } => current.as_ref(),
        _ => None,
    }
}

/// Whether the outcome is one this call can have.
pub(crate) fn outcome_fits(op: &Op) -> bool {
    matches!(
        (&op.call, &op.outcome),
        (_, Outcome::Unknown | Outcome::Failed(_))
            | (Call::Put { .. }, Outcome::Put { .. })
            | (Call::Get { .. }, Outcome::Get { .. })
            | (Call::Delete { .. }, Outcome::Delete { .. })
            | (Call::Cas { .. }, Outcome::Cas { .. })
            | (Call::LeaseGrant { .. }, Outcome::LeaseGrant { .. })
            | (Call::LeaseRevoke { .. }, Outcome::LeaseRevoke { .. })
    )
}

/// The revision an acknowledged write created, if it created one.
pub(crate) fn acknowledged_revision(op: &Op) -> Option<i64> {
    match (&op.call, &op.outcome) {
        (Call::Put { .. }, Outcome::Put { revision, .. })
        | (
            Call::Delete { .. },
            Outcome::Delete {
                revision,
                prev: Some(_),
            },
        )
        | (
            Call::Cas { .. },
            Outcome::Cas {
                revision,
                succeeded: true,
                ..
            },
        ) => Some(*revision),
        _ => None,
    }
}

/// The header revision of a linearizable read: a linearizable get, a delete that found
/// nothing, a CAS whose compare failed.
pub(crate) fn linearizable_read_revision(op: &Op) -> Option<i64> {
    match (&op.call, &op.outcome) {
        (
            Call::Get {
                serializable: false,
                ..
            },
            Outcome::Get { revision, .. },
        )
        | (
            Call::Delete { .. },
            Outcome::Delete {
                revision,
                prev: None,
            },
        )
        | (
            Call::Cas { .. },
            Outcome::Cas {
                revision,
                succeeded: false,
                ..
            },
        ) => Some(*revision),
        _ => None,
    }
}

/// The writes of a history.
pub(crate) struct Writes<'h> {
    /// Per op: the revision its write took effect at, when known (acknowledged, or an
    /// unknown-outcome put/CAS resolved from its value).
    pub revision: Vec<Option<i64>>,
    /// The op whose call writes each value (whatever its outcome).
    pub writer: HashMap<&'h [u8], usize>,
}

impl<'h> Writes<'h> {
    /// Classifies the writes of `history`, resolving unknown outcomes against `timeline`
    /// and the values the responses carried.
    pub fn new(history: &'h History, timeline: &Timeline) -> Self {
        let mut writer = HashMap::new();
        for (i, op) in history.ops.iter().enumerate() {
            if let Some(value) = value_of(&op.call) {
                writer.entry(value).or_insert(i);
            }
        }
        // (key, value) -> mod_revision, timeline first.
        let mut seen: HashMap<(&[u8], &[u8]), i64> = HashMap::new();
        for change in timeline.changes() {
            if change.event.kind == EventKind::Put {
                seen.entry((&change.event.key, &change.event.kv.value))
                    .or_insert(change.revision);
            }
        }
        let mut from_responses: HashMap<(&[u8], &[u8]), i64> = HashMap::new();
        for op in &history.ops {
            if let (Some(key), Some(kv)) = (key_of(&op.call), observed(op)) {
                from_responses
                    .entry((key, &kv.value))
                    .or_insert(kv.mod_revision);
            }
        }
        let revision = history
            .ops
            .iter()
            .map(|op| match (&op.outcome, &op.call) {
                (Outcome::Unknown, Call::Put { key, value, .. } | Call::Cas { key, value, .. }) => {
                    let k = (key.as_slice(), value.as_slice());
                    seen.get(&k).or_else(|| from_responses.get(&k)).copied()
                }
                _ => acknowledged_revision(op),
            })
            .collect();
        Writes { revision, writer }
    }
}

//! One lease in memory (`Lease`, crate-private) and the values the lessor hands out
//! ([`LeaseInfo`], [`LeaseTtl`]).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::record::LeaseRecord;

/// A granted lease, as returned by [`crate::Lessor::grant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseInfo {
    /// The lease id (never 0).
    pub id: i64,
    /// The granted TTL in seconds, after the minimum TTL was applied.
    pub ttl: i64,
}

/// What `LeaseTimeToLive` reports, as returned by [`crate::Lessor::time_to_live`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseTtl {
    /// The lease id.
    pub id: i64,
    /// Seconds left, rounded up; never negative (0 once expired and not yet revoked).
    /// On the primary this counts down from the expiry; elsewhere it is the checkpointed
    /// remaining TTL, or the granted TTL when there is none.
    pub ttl_remaining_secs: i64,
    /// The TTL the lease was granted with.
    pub granted_ttl: i64,
    /// The attached keys, sorted; empty unless asked for.
    pub keys: Vec<Vec<u8>>,
}

/// A lease in the lessor's table.
#[derive(Debug)]
pub(crate) struct Lease {
    pub id: i64,
    /// Granted TTL, seconds. Persisted.
    pub ttl: i64,
    /// Remaining TTL recorded by the last applied checkpoint (0 = none). Persisted by
    /// [`crate::Lessor::apply_checkpoint`]; cleared in memory only by a renew on the
    /// leader (which then proposes a clearing checkpoint, see `checkpoint_dirty`).
    pub remaining_ttl: i64,
    /// When the lease expires; `None` means "forever" (not the primary, or too far away
    /// to represent). Leader-local.
    pub expiry: Option<Instant>,
    /// Attached keys (in memory only; the server re-attaches them after a restart).
    pub keys: BTreeSet<Vec<u8>>,
    /// Leader-local: the replicated remaining TTL may be stale (a renew cleared it, or a
    /// checkpoint older than the last renew was applied); the next checkpoint for this
    /// lease is due at once and corrects it.
    pub checkpoint_dirty: bool,
}

impl Lease {
    pub fn from_record(rec: LeaseRecord) -> Lease {
        Lease {
            id: rec.id,
            ttl: rec.ttl,
            remaining_ttl: rec.remaining_ttl.max(0),
            expiry: None,
            keys: BTreeSet::new(),
            checkpoint_dirty: false,
        }
    }

    pub fn record(&self) -> LeaseRecord {
        LeaseRecord {
            id: self.id,
            ttl: self.ttl,
            remaining_ttl: self.remaining_ttl,
        }
    }

    /// The TTL a new leader starts this lease from: the checkpointed remaining TTL if
    /// there is one, otherwise the granted TTL.
    pub fn restart_ttl(&self) -> i64 {
        if self.remaining_ttl > 0 {
            self.remaining_ttl
        } else {
            self.ttl
        }
    }

    /// Whether the lease has expired at `now` (never when it does not tick).
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expiry.is_some_and(|e| e <= now)
    }

    /// Seconds left at `now`, rounded up and never negative; `None` when not ticking.
    /// (Checkpoints round up, as etcd's do.)
    pub fn remaining_secs(&self, now: Instant) -> Option<i64> {
        self.expiry
            .map(|e| ceil_secs(e.saturating_duration_since(now)))
    }

    /// Whole seconds left at `now`, truncated (what etcd's TimeToLive reports:
    /// `int64(remaining.Seconds())`); `None` when not ticking.
    pub fn remaining_whole_secs(&self, now: Instant) -> Option<i64> {
        self.expiry
            .map(|e| i64::try_from(e.saturating_duration_since(now).as_secs()).unwrap_or(i64::MAX))
    }
}

/// `d` in whole seconds, rounded up, saturating.
pub(crate) fn ceil_secs(d: Duration) -> i64 {
    let secs = d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0));
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// `now + secs + extend`, or `None` ("forever") if that is not representable.
pub(crate) fn deadline(now: Instant, secs: i64, extend: Duration) -> Option<Instant> {
    let secs = Duration::from_secs(u64::try_from(secs.max(0)).unwrap_or(0));
    now.checked_add(secs)?.checked_add(extend)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_secs_rounds_up() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_nanos(1)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1000)), 1);
        assert_eq!(ceil_secs(Duration::from_millis(1001)), 2);
        assert_eq!(ceil_secs(Duration::MAX), i64::MAX);
    }

    #[test]
    fn deadline_saturates_to_forever() {
        let now = Instant::now();
        assert_eq!(
            deadline(now, 2, Duration::from_secs(1)),
            Some(now + Duration::from_secs(3))
        );
        assert_eq!(deadline(now, -4, Duration::ZERO), Some(now));
        assert_eq!(deadline(now, 1, Duration::MAX), None);
    }
}

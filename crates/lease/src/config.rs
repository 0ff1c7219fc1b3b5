//! [`LessorConfig`] and the constants derived from etcd's.

use std::time::Duration;

/// Largest TTL a grant may ask for, in seconds (etcd `MaxLeaseTTL`).
pub const MAX_LEASE_TTL_SECS: i64 = 9_000_000_000;

/// How often the leader records each long lease's remaining TTL through raft
/// (etcd's default checkpoint interval).
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(300);

/// The shortest interval between two checkpoints of one lease.
pub const MIN_CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Most checkpoints one LeaseCheckpoint proposal should carry (etcd `maxLeaseCheckpointBatchSize`).
pub const CHECKPOINT_BATCH_LIMIT: usize = 1000;

/// Most leases the server should revoke per second (etcd `defaultLeaseRevokeRate`).
pub const LEASE_REVOKE_RATE: usize = 1000;

/// Most LeaseRevoke proposals the server should have in flight at once.
pub const MAX_PENDING_REVOKES: usize = 16;

/// After [`crate::Lessor::expired`] returns a lease, it is not returned again for this
/// long unless it is renewed (it cannot be) or revoked (then it is gone). If its revoke
/// was lost, the lease comes back after this interval (etcd `expiredLeaseRetryInterval`).
pub const EXPIRED_RETRY_INTERVAL: Duration = Duration::from_secs(3);

/// How many leases [`crate::Lessor::promote`] lets expire per one-second window: three
/// quarters of [`LEASE_REVOKE_RATE`], so a pile of leases that all expire together does
/// not eat the whole revoke budget of leases that expire on their own.
pub const PROMOTE_EXPIRIES_PER_SECOND: usize = LEASE_REVOKE_RATE * 3 / 4;

/// Lessor settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LessorConfig {
    /// Grants below this TTL are raised to it: ceil(1.5 x election timeout), 2 s with
    /// etcd's defaults. Values below 1 are treated as 1.
    pub min_ttl_secs: i64,
    /// The longest interval between two checkpoints of a lease's remaining TTL
    /// (`Duration::ZERO` turns checkpoints off). Unlike etcd, which checkpoints only
    /// leases longer than this interval, a lease is checkpointed every quarter of its TTL
    /// (at least [`MIN_CHECKPOINT_INTERVAL`], at most this), so after a leader change
    /// every lease expires within a quarter TTL of when it would have, not a full TTL later.
    pub checkpoint_interval: Duration,
    /// Grants above this TTL fail with [`crate::LeaseError::TtlTooLarge`].
    pub max_ttl_secs: i64,
}

impl LessorConfig {
    /// etcd's settings for a cluster with this election timeout:
    /// `min_ttl_secs = ceil(1.5 x election_timeout)`, a 5-minute checkpoint interval and
    /// [`MAX_LEASE_TTL_SECS`].
    pub fn for_election_timeout(election_timeout: Duration) -> Self {
        let millis = election_timeout.as_millis().saturating_mul(3).div_ceil(2);
        let secs = millis.div_ceil(1000);
        LessorConfig {
            min_ttl_secs: i64::try_from(secs).unwrap_or(i64::MAX).max(1),
            checkpoint_interval: DEFAULT_CHECKPOINT_INTERVAL,
            max_ttl_secs: MAX_LEASE_TTL_SECS,
        }
    }

    /// The minimum TTL actually applied (at least 1 s).
    pub(crate) fn effective_min_ttl(&self) -> i64 {
        self.min_ttl_secs.max(1)
    }
}

impl Default for LessorConfig {
    /// etcd's defaults (election timeout 1 s, so a minimum TTL of 2 s).
    fn default() -> Self {
        Self::for_election_timeout(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_ttl_is_ceil_of_one_and_a_half_election_timeouts() {
        let cfg = |ms| LessorConfig::for_election_timeout(Duration::from_millis(ms)).min_ttl_secs;
        assert_eq!(cfg(1000), 2);
        assert_eq!(cfg(100), 1);
        assert_eq!(cfg(2000), 3);
        assert_eq!(cfg(5000), 8);
        assert_eq!(cfg(0), 1);
        assert_eq!(LessorConfig::default().min_ttl_secs, 2);
        assert_eq!(LessorConfig::default().max_ttl_secs, 9_000_000_000);
        assert_eq!(
            LessorConfig::default().checkpoint_interval,
            Duration::from_secs(300)
        );
    }
}

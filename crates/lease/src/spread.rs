//! Spreading mass expiry on promote (etcd's anti-thundering-herd rule, reimplemented).
//!
//! After a leader change every lease gets `now + remaining + extend`, so leases granted
//! together (or restored together) expire together, and the new leader would propose
//! thousands of revokes in the same second. `spread_expiries` walks the leases in
//! expiry order and packs them into consecutive, disjoint windows of `window` length,
//! each holding at most `per_window` expiries:
//!
//! - a window opens at the expiry of the first lease that does not fit the current one;
//! - when the current window is full, the next window opens right after it
//!   (`start + window`) and the overflow leases are pushed to its start.
//!
//! So expiries only ever move later, never by more than the backlog ahead of them needs,
//! the relative order of leases is kept, and with `per_window` =
//! [`crate::PROMOTE_EXPIRIES_PER_SECOND`] (750) each one-second window holds at most 750
//! expiries, under the revoker's 1000/s. The result depends only on the input.

use std::time::{Duration, Instant};

/// Rewrites the instants of `expiries` (pairs of expiry and lease id) as described in the
/// module docs, and leaves the slice sorted by (new expiry, id).
pub(crate) fn spread_expiries(
    expiries: &mut [(Instant, i64)],
    per_window: usize,
    window: Duration,
) {
    let per_window = per_window.max(1);
    expiries.sort_unstable();
    let mut current: Option<(Instant, usize)> = None; // (window start, leases in it)
    for (at, _) in expiries.iter_mut() {
        // An end past the last representable instant means "the window never ends".
        let (mut start, mut count) = match current {
            Some((start, count)) if start.checked_add(window).is_none_or(|end| *at < end) => {
                (start, count)
            }
            _ => (*at, 0),
        };
        if count == per_window {
            if let Some(next) = start.checked_add(window) {
                start = next;
                count = 0;
            }
        }
        if *at < start {
            *at = start;
        }
        current = Some((start, count + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    fn max_in_any_window(v: &[(Instant, i64)], base: Instant, secs: u64) -> usize {
        (0..secs)
            .map(|s| {
                let lo = base + SEC * s as u32;
                v.iter()
                    .filter(|(at, _)| *at >= lo && *at < lo + SEC)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn pile_is_spread_over_consecutive_seconds() {
        let t = Instant::now();
        let mut v: Vec<_> = (0..2000i64).map(|id| (t, id)).collect();
        spread_expiries(&mut v, 750, SEC);
        assert!(v.iter().all(|(at, _)| *at >= t));
        assert_eq!(v.iter().filter(|(at, _)| *at == t).count(), 750);
        assert_eq!(v.iter().filter(|(at, _)| *at == t + SEC).count(), 750);
        assert_eq!(v.iter().filter(|(at, _)| *at == t + SEC * 2).count(), 500);
        // Lower ids keep the earlier slots.
        assert_eq!(v[0].1, 0);
        assert_eq!(v[1999].1, 1999);
    }

    #[test]
    fn sparse_expiries_are_untouched() {
        let t = Instant::now();
        let orig: Vec<_> = (0..100i64).map(|id| (t + SEC * id as u32, id)).collect();
        let mut v = orig.clone();
        spread_expiries(&mut v, 750, SEC);
        assert_eq!(v, orig);
    }

    #[test]
    fn overflow_merges_with_later_leases_without_exceeding_the_rate() {
        let t = Instant::now();
        // 1500 at t, 600 at t + 1.5 s, 300 at t + 10 s.
        let mut v: Vec<(Instant, i64)> = (0..1500).map(|id| (t, id)).collect();
        v.extend((1500..2100).map(|id| (t + SEC + SEC / 2, id)));
        v.extend((2100..2400).map(|id| (t + SEC * 10, id)));
        let before = v.clone();
        spread_expiries(&mut v, 750, SEC);
        // Windows are [t, t+1), [t+1, t+2) (full: 750 of the pile), then the 600
        // opened at t+1.5 s cannot fit so they open [t+2, t+3), ...
        for w in 0..12u64 {
            let lo = t + SEC * w as u32;
            let n = v
                .iter()
                .filter(|(at, _)| *at >= lo && *at < lo + SEC)
                .count();
            assert!(n <= 750, "window {w} has {n}");
        }
        assert!(max_in_any_window(&v, t, 12) <= 750);
        // Nothing moved earlier.
        let mut by_id_before = before.clone();
        by_id_before.sort_by_key(|&(_, id)| id);
        let mut by_id_after = v.clone();
        by_id_after.sort_by_key(|&(_, id)| id);
        for (b, a) in by_id_before.iter().zip(&by_id_after) {
            assert!(a.0 >= b.0);
        }
        // The late group is untouched.
        assert_eq!(v.iter().filter(|(at, _)| *at == t + SEC * 10).count(), 300);
    }
}

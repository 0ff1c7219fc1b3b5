//! [`Tally`]: what one watcher received, to find lost, duplicated and out-of-order events.

/// One watcher's record: which puts (by operation number) it saw, and the order.
#[derive(Debug, Clone)]
pub struct Tally {
    seen: Vec<u64>,
    puts: usize,
    /// Events received for the first time.
    pub distinct: usize,
    /// Events received again.
    pub duplicated: usize,
    /// Events whose mod_revision was not above the previous event's.
    pub out_of_order: usize,
    last_revision: i64,
}

/// How [`Tally::record`] classified an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The first event of this put.
    First,
    /// This put's event was already received.
    Duplicate,
    /// The operation number is not one of the run's puts.
    Unknown,
}

impl Tally {
    /// An empty record for a run of `puts` puts.
    pub fn new(puts: usize) -> Tally {
        Tally {
            seen: vec![0; puts.div_ceil(64)],
            puts,
            distinct: 0,
            duplicated: 0,
            out_of_order: 0,
            last_revision: 0,
        }
    }

    /// Records the event of put `put` at `mod_revision`.
    pub fn record(&mut self, put: usize, mod_revision: i64) -> Seen {
        if put >= self.puts {
            return Seen::Unknown;
        }
        let word = &mut self.seen[put / 64];
        let bit = 1u64 << (put % 64);
        if *word & bit != 0 {
            self.duplicated += 1;
            return Seen::Duplicate;
        }
        *word |= bit;
        self.distinct += 1;
        if mod_revision <= self.last_revision {
            self.out_of_order += 1;
        }
        self.last_revision = mod_revision;
        Seen::First
    }

    /// Whether put `put`'s event was received.
    pub fn has(&self, put: usize) -> bool {
        self.seen
            .get(put / 64)
            .is_some_and(|w| w & (1u64 << (put % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_events() {
        let mut t = Tally::new(100);
        assert_eq!(t.record(0, 10), Seen::First);
        assert_eq!(t.record(5, 12), Seen::First);
        assert_eq!(t.record(5, 12), Seen::Duplicate);
        assert_eq!(t.record(3, 11), Seen::First);
        assert_eq!(t.record(100, 13), Seen::Unknown);
        assert_eq!((t.distinct, t.duplicated, t.out_of_order), (3, 1, 1));
        assert!(t.has(3) && t.has(5) && !t.has(4) && !t.has(1000));
    }
}

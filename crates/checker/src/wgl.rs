//! The Wing–Gong–Lowe linearizability search, as porcupine does it: the calls and returns
//! of the operations in time order on a doubly linked list; a depth-first search that
//! linearizes a pending call whose model step succeeds (lifting it and its return out of
//! the list) and backtracks when it meets the return of an operation it has not linearized;
//! a cache of (set of linearized operations, model state) pairs already explored.
//!
//! Operations may be optional (effects that may never have happened): a linearization need
//! not include them, and their returns do not stop the search. The search is bounded by a
//! step budget.

use std::collections::HashMap;
use std::hash::Hash;

/// When an operation was invoked and when it returned, and whether it may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interval {
    /// Invoke time.
    pub invoke: u64,
    /// Return time, `u64::MAX` if it never returned.
    pub ret: u64,
    /// An effect that may never have happened: a linearization need not include it.
    pub optional: bool,
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict<S> {
    /// Every operation can be linearized.
    Linearizable,
    /// No linearization exists. The longest linearizable prefix found, in order, the
    /// state after it, and the operation whose return it could not get past.
    Violation {
        prefix: Vec<usize>,
        state: S,
        stuck: usize,
    },
    /// The step budget ran out first.
    Inconclusive { steps: u64 },
}

/// A set of operation indexes.
struct Bits(Vec<u64>);

impl Bits {
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// The list of calls and returns: nodes `0..n` are calls, `n..2n` returns, then the head
/// and tail sentinels.
struct Entries {
    n: usize,
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Entries {
    fn new(intervals: &[Interval]) -> Self {
        let n = intervals.len();
        let mut order: Vec<(u64, u8, usize)> = Vec::with_capacity(2 * n);
        for (i, iv) in intervals.iter().enumerate() {
            // Calls before returns at equal times: touching operations count as concurrent.
            order.push((iv.invoke, 0, i));
            order.push((iv.ret, 1, n + i));
        }
        order.sort_unstable();
        let (head, tail) = (2 * n, 2 * n + 1);
        let mut next = vec![tail; 2 * n + 2];
        let mut prev = vec![head; 2 * n + 2];
        let mut last = head;
        for &(_, _, node) in &order {
            next[last] = node;
            prev[node] = last;
            last = node;
        }
        next[last] = tail;
        prev[tail] = last;
        Entries { n, next, prev }
    }

    fn head(&self) -> usize {
        2 * self.n
    }

    fn first(&self) -> usize {
        self.next[self.head()]
    }

    fn remove(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn restore(&mut self, x: usize) {
        let (p, n) = (self.prev[x], self.next[x]);
        self.next[p] = x;
        self.prev[n] = x;
    }

    /// Takes call `i` and its return out of the list.
    fn lift(&mut self, i: usize) {
        self.remove(i);
        self.remove(self.n + i);
    }

    /// Undoes the last `lift(i)`.
    fn unlift(&mut self, i: usize) {
        self.restore(self.n + i);
        self.restore(i);
    }
}

/// Searches for a linearization of the operations with these `intervals` from `init`;
/// `step(state, op)` is the state after operation `op`, `None` if it cannot happen.
pub(crate) fn search<S, F>(intervals: &[Interval], init: S, budget: u64, mut step: F) -> Verdict<S>
where
    S: Clone + Eq + Hash,
    F: FnMut(&S, usize) -> Option<S>,
{
    let n = intervals.len();
    let mut entries = Entries::new(intervals);
    let mut bits = Bits(vec![0; n.div_ceil(64)]);
    let mut cache: HashMap<Vec<u64>, Vec<S>> = HashMap::new();
    let mut required = intervals.iter().filter(|iv| !iv.optional).count();
    // (linearized op, state before it)
    let mut stack: Vec<(usize, S)> = Vec::new();
    let mut state = init;
    let mut node = entries.first();
    let mut best: Option<(Vec<usize>, S, usize)> = None;
    let mut steps = 0u64;
    loop {
        steps += 1;
        if steps > budget {
            return Verdict::Inconclusive { steps: budget };
        }
        if required == 0 {
            return Verdict::Linearizable;
        }
        if node < n {
            let i = node;
            let mut moved = false;
            if let Some(next) = step(&state, i) {
                bits.set(i);
                let known = cache
                    .get(bits.0.as_slice())
                    .is_some_and(|states| states.contains(&next));
                if known {
                    bits.clear(i);
                } else {
                    cache.entry(bits.0.clone()).or_default().push(next.clone());
                    stack.push((i, std::mem::replace(&mut state, next)));
                    entries.lift(i);
                    required -= usize::from(!intervals[i].optional);
                    moved = true;
                }
            }
            node = if moved {
                entries.first()
            } else {
                entries.next[node]
            };
        } else if node < 2 * n && intervals[node - n].optional {
            // An optional operation need not take effect before it returns.
            node = entries.next[node];
        } else {
            // The return of a required operation not linearized yet: backtrack.
            let stuck = if node < 2 * n {
                node - n
            } else {
                (0..n)
                    .find(|&i| !intervals[i].optional && bits.0[i / 64] & (1 << (i % 64)) == 0)
                    .unwrap_or(0)
            };
            if best
                .as_ref()
                .is_none_or(|(prefix, _, _)| stack.len() > prefix.len())
            {
                let prefix = stack.iter().map(|&(i, _)| i).collect();
                best = Some((prefix, state.clone(), stuck));
            }
            let Some((i, before)) = stack.pop() else {
                let (prefix, state, stuck) = best.unwrap_or((Vec::new(), state, stuck));
                return Verdict::Violation {
                    prefix,
                    state,
                    stuck,
                };
            };
            bits.clear(i);
            entries.unlift(i);
            required += usize::from(!intervals[i].optional);
            state = before;
            node = entries.next[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register: ops are writes (`Some(v)`) and reads (`None` reads `expect`).
    fn register(ops: &[(u64, u64, Option<u8>, u8)]) -> Verdict<u8> {
        let intervals: Vec<_> = ops
            .iter()
            .map(|&(invoke, ret, _, _)| Interval {
                invoke,
                ret,
                optional: false,
            })
            .collect();
        search(&intervals, 0u8, 1_000, |state, i| match ops[i] {
            (_, _, Some(v), _) => Some(v),
            (_, _, None, expect) => (*state == expect).then_some(*state),
        })
    }

    #[test]
    fn optional_operations_may_be_left_out() {
        // A write of 1 that may not have happened, then a read of 0 and a read of 1.
        let ops = [(0, u64::MAX, Some(1), 0), (5, 6, None, 0)];
        let mut intervals: Vec<_> = ops
            .iter()
            .map(|&(invoke, ret, _, _)| Interval {
                invoke,
                ret,
                optional: false,
            })
            .collect();
        let step = |state: &u8, i: usize| match ops[i] {
            (_, _, Some(v), _) => Some(v),
            (_, _, None, expect) => (*state == expect).then_some(*state),
        };
        // Required, it may still come last.
        assert_eq!(search(&intervals, 0u8, 1_000, step), Verdict::Linearizable);
        // Optional with a finite return, it may be left out.
        intervals[0] = Interval {
            invoke: 0,
            ret: 1,
            optional: true,
        };
        assert_eq!(search(&intervals, 0u8, 1_000, step), Verdict::Linearizable);
        intervals[0].optional = false;
        assert!(matches!(
            search(&intervals, 0u8, 1_000, step),
            Verdict::Violation { .. }
        ));
    }

    #[test]
    fn register_histories() {
        // Sequential write 1 then read 1.
        assert_eq!(
            register(&[(0, 1, Some(1), 0), (2, 3, None, 1)]),
            Verdict::Linearizable
        );
        // A concurrent read may see either value.
        assert_eq!(
            register(&[(0, 10, Some(1), 0), (2, 3, None, 0)]),
            Verdict::Linearizable
        );
        assert_eq!(
            register(&[(0, 10, Some(1), 0), (2, 3, None, 1)]),
            Verdict::Linearizable
        );
        // Negative control: a read after the write returned must see it.
        let verdict = register(&[(0, 1, Some(1), 0), (2, 3, None, 0)]);
        assert!(
            matches!(verdict, Verdict::Violation { stuck: 1, .. }),
            "{verdict:?}"
        );
        // A read that saw 1 then a read that saw 0 after it, with the write concurrent.
        let verdict = register(&[(0, 100, Some(1), 0), (1, 2, None, 1), (3, 4, None, 0)]);
        assert!(matches!(verdict, Verdict::Violation { .. }), "{verdict:?}");
        // Never returning ops may come last.
        assert_eq!(
            register(&[(0, u64::MAX, Some(1), 0), (5, 6, None, 0)]),
            Verdict::Linearizable
        );
    }

    #[test]
    fn budget_bounds_the_search() {
        let ops: Vec<_> = (0..40)
            .map(|i| (0, 1000, Some(i as u8), 0))
            .chain([(1001, 1002, None, 200)])
            .collect();
        assert!(matches!(register(&ops), Verdict::Inconclusive { .. }));
    }
}

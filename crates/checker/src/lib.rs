//! oxcd-checker: recorded histories of an etcd-compatible cluster, and the checkers that
//! judge them. Used by the robustness suite (`oxcd-robustness`, `make chaos`).
//!
//! [`check`] runs every checker over a [`History`] and returns a [`Report`]; each checker is
//! also a function of its own, taking the history and the [`Timeline`] built from it.
//!
//! # Layout
//! - [`history`]: [`History`] — client operations with invoke/return times and outcomes,
//!   and watch sessions with every response received.
//! - [`report`]: [`Report`] — the [`Violation`]s found and the inconclusive [`Note`]s, by
//!   [`Checker`].
//! - [`timeline`]: [`Timeline`] — every change of the store by revision, merged from the
//!   watchers ("watchers disagree" otherwise), and each key's state at each revision.
//! - `writes` (private): which op wrote each value, and the revision each write took
//!   effect at (unknown outcomes resolved from the values seen), shared by the checkers.
//! - `wgl` (private): the Wing–Gong–Lowe (porcupine-style) linearizability search.
//! - [`linearizability`]: per-key linearizability, with a model that knows revisions.
//! - [`revisions`]: revisions are unique and follow real time.
//! - [`snapshots`]: reads, prev-kvs and watch events match the state at their revision.
//! - [`watch`]: ordered, unique, reliable, atomic, resumable, bookmarkable watches.
//! - [`lost_writes`]: no acknowledged write lost, no write from nowhere.
//! - `describe` (private): one-line descriptions of ops, key-values and events.
//! - `testkit` (tests only): a correct sequential store, hand-built histories, and a
//!   seeded random generator of valid histories for the negative controls.
//!
//! # Invariants
//! - A CHECKER NEVER ASSUMES A WRITE WITH AN UNKNOWN OUTCOME HAPPENED OR DID NOT: it may
//!   take effect at any time after its invoke, or never.
//! - EVERY CHECKER HAS A NEGATIVE CONTROL: a unit test that mangles a valid history and
//!   sees the checker fail.
//! - A CHECKER THAT CANNOT DECIDE SAYS SO: a search over budget or revisions the watchers
//!   did not cover are inconclusive notes, never a pass or a hang.

mod describe;
pub mod history;
pub mod linearizability;
pub mod lost_writes;
pub mod report;
pub mod revisions;
pub mod snapshots;
#[cfg(test)]
mod testkit;
pub mod timeline;
pub mod watch;
mod wgl;
mod writes;

pub use history::{
    Call, Event, EventKind, History, Kv, Op, Outcome, WatchResponse, WatchSession, Watcher,
};
pub use linearizability::check_linearizability;
pub use lost_writes::check_lost_writes;
pub use report::{Checker, Note, Report, Violation};
pub use revisions::check_revision_order;
pub use snapshots::check_snapshots;
pub use timeline::{Change, Timeline};
pub use watch::check_watch;

/// Runs every checker over `history`: builds the [`Timeline`], then checks
/// linearizability, revision order, snapshots, watch guarantees and lost writes.
pub fn check(history: &History) -> Report {
    let (timeline, mut report) = Timeline::build(history);
    for (i, op) in history.ops.iter().enumerate() {
        if !writes::outcome_fits(op) {
            report.inconclusive(
                Checker::Timeline,
                format!(
                    "{}: the outcome does not fit the call; the op is ignored",
                    describe::op(i, op)
                ),
            );
        }
    }
    report.merge(check_linearizability(history, &timeline));
    report.merge(check_revision_order(history, &timeline));
    report.merge(check_snapshots(history, &timeline));
    report.merge(check_watch(history, &timeline));
    report.merge(check_lost_writes(history, &timeline));
    report
}

#[cfg(test)]
mod tests;

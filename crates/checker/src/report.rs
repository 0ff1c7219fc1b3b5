//! What the checkers conclude: a [`Report`] of [`Violation`]s (the history is wrong) and
//! inconclusive [`Note`]s (something could not be checked, which is neither a pass nor a
//! failure).

use std::fmt;

/// How many lines of each kind [`Report`]'s `Display` prints before summarizing the rest.
const DISPLAY_CAP: usize = 20;

/// The checker that found something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Checker {
    /// The reference timeline merged from the watchers ("watchers disagree"), and the
    /// shape of the history (an outcome that does not fit its call).
    Timeline,
    /// Per-key linearizability of the client operations.
    Linearizability,
    /// Real-time order of the revisions the operations reported.
    RevisionOrder,
    /// Reads, prev-kvs and watch events agree with the state at their revision.
    Snapshots,
    /// Watch guarantees: ordered, unique, reliable, atomic, resumable, bookmarkable.
    Watch,
    /// No acknowledged write lost, no write from nowhere, no failed write applied.
    LostWrites,
}

impl Checker {
    /// The checker's short name, as printed.
    pub fn name(self) -> &'static str {
        match self {
            Checker::Timeline => "timeline",
            Checker::Linearizability => "linearizability",
            Checker::RevisionOrder => "revision-order",
            Checker::Snapshots => "snapshots",
            Checker::Watch => "watch",
            Checker::LostWrites => "lost-writes",
        }
    }
}

impl fmt::Display for Checker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken guarantee: the history cannot have come from a correct store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Who found it.
    pub checker: Checker,
    /// One line naming the operations and events involved.
    pub description: String,
}

/// Something a checker could not decide (a search over budget, revisions the watchers did
/// not cover): neither a pass nor a violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Who could not decide.
    pub checker: Checker,
    /// One line saying what was not checked and why.
    pub description: String,
}

/// Everything the checkers found in one history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The broken guarantees.
    pub violations: Vec<Violation>,
    /// What could not be checked.
    pub inconclusive: Vec<Note>,
}

/// Descriptions are printed one per line.
fn one_line(description: String) -> String {
    if description.contains('\n') {
        description.replace('\n', " ")
    } else {
        description
    }
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// No violations (inconclusive notes do not count).
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// Records a violation.
    pub fn violation(&mut self, checker: Checker, description: impl Into<String>) {
        let description = one_line(description.into());
        self.violations.push(Violation {
            checker,
            description,
        });
    }

    /// Records an inconclusive note.
    pub fn inconclusive(&mut self, checker: Checker, description: impl Into<String>) {
        let description = one_line(description.into());
        self.inconclusive.push(Note {
            checker,
            description,
        });
    }

    /// Appends everything `other` found.
    pub fn merge(&mut self, other: Report) {
        self.violations.extend(other.violations);
        self.inconclusive.extend(other.inconclusive);
    }

    /// The violations one checker found.
    pub fn violations_of(&self, checker: Checker) -> impl Iterator<Item = &Violation> {
        self.violations.iter().filter(move |v| v.checker == checker)
    }

    /// Whether `checker` found at least one violation.
    pub fn has_violation(&self, checker: Checker) -> bool {
        self.violations_of(checker).next().is_some()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.violations.is_empty() && self.inconclusive.is_empty() {
            return writeln!(f, "ok: no violations");
        }
        for v in self.violations.iter().take(DISPLAY_CAP) {
            writeln!(f, "violation [{}]: {}", v.checker, v.description)?;
        }
        if self.violations.len() > DISPLAY_CAP {
            writeln!(
                f,
                "... and {} more violations",
                self.violations.len() - DISPLAY_CAP
            )?;
        }
        for n in self.inconclusive.iter().take(DISPLAY_CAP) {
            writeln!(f, "inconclusive [{}]: {}", n.checker, n.description)?;
        }
        if self.inconclusive.len() > DISPLAY_CAP {
            let more = self.inconclusive.len() - DISPLAY_CAP;
            writeln!(f, "... and {more} more inconclusive notes")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_caps_long_output() {
        let mut report = Report::new();
        assert!(report.is_ok());
        assert_eq!(report.to_string(), "ok: no violations\n");
        for i in 0..25 {
            report.violation(Checker::Watch, format!("v{i}\nsecond line"));
        }
        report.inconclusive(Checker::Linearizability, "over budget");
        assert!(!report.is_ok());
        let text = report.to_string();
        assert_eq!(text.lines().count(), 20 + 1 + 1);
        assert!(text.starts_with("violation [watch]: v0 second line\n"));
        assert!(text.contains("... and 5 more violations\n"));
        assert!(text.ends_with("inconclusive [linearizability]: over budget\n"));
        assert!(report.has_violation(Checker::Watch));
        assert!(!report.has_violation(Checker::Snapshots));
    }
}

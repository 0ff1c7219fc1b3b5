//! [`Outcomes`]: what the inputs of a run led to, counted by label ("Range: ok",
//! "Put: EmptyKey", "KvStore::open: Corrupt", ...). The driver reports how many distinct
//! labels a run saw and the most frequent ones.

use std::collections::HashMap;
use std::fmt::{self, Debug, Write};

/// Labels longer than this are cut (an error's payload is not part of its label).
const MAX_LABEL: usize = 64;

/// Counts of outcome labels.
#[derive(Debug, Default, Clone)]
pub struct Outcomes {
    counts: HashMap<String, u64>,
    scratch: String,
}

impl Outcomes {
    /// Counts one `label`.
    pub fn add(&mut self, label: &str) {
        match self.counts.get_mut(label) {
            Some(n) => *n += 1,
            None => {
                self.counts.insert(label.to_string(), 1);
            }
        }
    }

    /// Counts `what: <variant of err>`: `err`'s `Debug` form up to its first string or
    /// number, so nested variants stay (`Mvcc(Compacted)`) and payloads do not.
    pub fn add_err(&mut self, what: &str, err: &dyn Debug) {
        let mut label = std::mem::take(&mut self.scratch);
        label.clear();
        label.push_str(what);
        label.push_str(": ");
        let start = label.len();
        let _ = write!(Bounded(&mut label, start + MAX_LABEL), "{err:?}");
        if let Some(cut) = label[start..].find(|c: char| c == '"' || c.is_ascii_digit()) {
            label.truncate(start + cut);
        }
        let kept = label.trim_end_matches(['(', '{', ' ', ':', ',']).len();
        label.truncate(kept);
        self.add(&label);
        self.scratch = label;
    }

    /// Counts `what: ok` or `what: <error variant>`.
    pub fn add_result<T, E: Debug>(&mut self, what: &str, r: &Result<T, E>) {
        match r {
            Ok(_) => {
                let mut label = std::mem::take(&mut self.scratch);
                label.clear();
                label.push_str(what);
                label.push_str(": ok");
                self.add(&label);
                self.scratch = label;
            }
            Err(e) => self.add_err(what, e),
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Outcomes) {
        for (label, n) in &other.counts {
            match self.counts.get_mut(label) {
                Some(m) => *m += n,
                None => {
                    self.counts.insert(label.clone(), *n);
                }
            }
        }
    }

    /// Number of distinct labels.
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// The count of `label` (0 if never seen).
    pub fn count(&self, label: &str) -> u64 {
        self.counts.get(label).copied().unwrap_or(0)
    }

    /// Every label with its count, most frequent first (ties by label).
    pub fn sorted(&self) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.counts.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}

/// A `fmt::Write` that stops (with an error, which ends formatting) at `limit` bytes.
struct Bounded<'a>(&'a mut String, usize);

impl Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.1.saturating_sub(self.0.len());
        if s.len() <= room {
            self.0.push_str(s);
            return Ok(());
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.0.push_str(&s[..cut]);
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    enum E {
        Corrupt(String),
        Plain,
    }

    #[test]
    fn labels_are_variants() {
        let mut o = Outcomes::default();
        o.add_err("open", &E::Corrupt("x".repeat(10_000)));
        o.add_err("open", &E::Corrupt("y".into()));
        o.add_err("open", &E::Plain);
        o.add_err("open", &Some(E::Plain));
        o.add_result::<(), E>("put", &Ok(()));
        assert_eq!(o.count("open: Corrupt"), 2);
        assert_eq!(o.count("open: Plain"), 1);
        assert_eq!(o.count("put: ok"), 1);
        assert_eq!(o.count("open: Some(Plain)"), 1);
        assert_eq!(o.distinct(), 4);
        assert_eq!(o.sorted()[0], ("open: Corrupt", 2));
    }
}

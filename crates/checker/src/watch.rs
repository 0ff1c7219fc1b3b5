//! Watch guarantees, per watcher across its sessions:
//! - *ordered*: event revisions increase across responses and do not decrease within one;
//! - *unique*: no (revision, key) is delivered twice;
//! - *atomic*: all events of a revision arrive in one response;
//! - *resumable*: a session delivers nothing below its start revision, and a resumed
//!   session starts right after what the watcher has seen (the last delivered revision + 1,
//!   or up to the last bookmark + 1; anything after a compaction cancel);
//! - *reliable*: a session delivers every timeline change from its start revision up to
//!   the last revision it delivered or was bookmarked at;
//! - *bookmarkable*: a progress notification at P comes after every change <= P, and no
//!   event <= P comes after it.
//!
//! A cancel ends its session; a cancel with `compact_revision` > 0 (compaction) lets the
//! next session skip ahead. That the events themselves agree with the other watchers and
//! with the states around them is checked by the timeline and the snapshot checker.

use std::collections::HashMap;

use crate::describe;
use crate::history::{History, WatchSession};
use crate::report::{Checker, Report};
use crate::timeline::Timeline;

/// How many missing changes one violation lists.
const LIST_CAP: usize = 5;

/// Checks the watch guarantees of every watcher. See the module docs.
pub fn check_watch(history: &History, timeline: &Timeline) -> Report {
    let mut report = Report::new();
    for (w, watcher) in history.watchers.iter().enumerate() {
        let mut state = WatcherState::default();
        for (s, session) in watcher.sessions.iter().enumerate() {
            if s > 0 {
                state.check_resume(&mut report, w, s, session);
            }
            state.check_session(&mut report, timeline, w, s, session);
        }
    }
    report
}

/// What one watcher has seen so far, across its sessions.
#[derive(Default)]
struct WatcherState<'h> {
    /// Where each (revision, key) was delivered: (session, response).
    delivered: HashMap<(i64, &'h [u8]), (usize, usize)>,
    /// The highest event revision delivered.
    last_delivered: Option<i64>,
    /// The highest revision delivered or bookmarked, and the first session's start - 1.
    last_covered: Option<i64>,
    /// The previous session ended with a compaction cancel.
    compacted: bool,
}

impl<'h> WatcherState<'h> {
    fn check_resume(&self, report: &mut Report, w: usize, s: usize, session: &WatchSession) {
        let start = session.start_revision;
        let last = self
            .last_delivered
            .map_or_else(|| "nothing".to_owned(), |r| format!("up to revision {r}"));
        let at = format!(
            "watcher {w} session {s} (member {}) resumes at revision {start}",
            session.member
        );
        if let Some(last_delivered) = self.last_delivered.filter(|&r| start <= r) {
            report.violation(
                Checker::Watch,
                format!(
                    "{at} but the watcher already delivered {last}: it must resume at {}",
                    last_delivered + 1
                ),
            );
        } else if let Some(covered) = self
            .last_covered
            .filter(|&c| !self.compacted && start > c + 1)
        {
            report.violation(
                Checker::Watch,
                format!(
                    "{at} after delivering {last} and being bookmarked up to revision {covered}: \
                     revisions {}..{} are skipped (a gap)",
                    covered + 1,
                    start - 1
                ),
            );
        }
    }

    fn check_session(
        &mut self,
        report: &mut Report,
        timeline: &Timeline,
        w: usize,
        s: usize,
        session: &'h WatchSession,
    ) {
        let start = session.start_revision;
        let name = format!(
            "watcher {w} session {s} (member {}, start {start})",
            session.member
        );
        // Where each (revision, key) is first delivered in this session.
        let mut arrives: HashMap<(i64, &[u8]), usize> = HashMap::new();
        for (r, response) in session.responses.iter().enumerate() {
            for event in &response.events {
                arrives
                    .entry((event.kv.mod_revision, event.key.as_slice()))
                    .or_insert(r);
            }
        }
        // (revision, response index) of the last event delivered in this session.
        let mut last: Option<(i64, usize)> = None;
        let mut bookmark: Option<(i64, usize)> = None;
        let mut hi = start - 1;
        let mut canceled = false;
        self.compacted = false;
        if self.last_covered.is_none() {
            self.last_covered = Some(start - 1);
        }
        for (r, response) in session.responses.iter().enumerate() {
            let at = format!("{name} response {r} (t={})", response.at);
            if canceled {
                report.violation(
                    Checker::Watch,
                    format!("{at} arrives after the session was canceled"),
                );
                break;
            }
            if response.canceled {
                canceled = true;
                self.compacted = response.compact_revision > 0;
                continue;
            }
            if response.progress {
                let p = response.revision;
                // Changes delivered only after the bookmark (those never delivered are
                // reported once, as unreliable, below).
                let late: Vec<_> = timeline
                    .changes_between(start, p)
                    .iter()
                    .filter(|c| {
                        arrives
                            .get(&(c.revision, c.event.key.as_slice()))
                            .is_some_and(|&a| a > r)
                    })
                    .collect();
                if !late.is_empty() {
                    let list =
                        describe::list(late.iter().map(|c| describe::event(&c.event)), LIST_CAP);
                    report.violation(
                        Checker::Watch,
                        format!("{at} is a progress notification at revision {p}, but these were delivered only after it: {list}"),
                    );
                }
                bookmark =
                    Some(bookmark.map_or((p, r), |(b, br)| if p > b { (p, r) } else { (b, br) }));
                hi = hi.max(p);
            }
            for event in &response.events {
                let rev = event.kv.mod_revision;
                let what = format!("{at} delivers {}", describe::event(event));
                if rev < start {
                    report.violation(
                        Checker::Watch,
                        format!("{what}, below the session's start revision"),
                    );
                }
                if let Some(&(s0, r0)) = self.delivered.get(&(rev, event.key.as_slice())) {
                    report.violation(
                        Checker::Watch,
                        format!("{what}, which watcher {w} already delivered in session {s0} response {r0} (duplicate)"),
                    );
                    continue;
                }
                if let Some((b, br)) = bookmark.filter(|&(b, _)| rev <= b) {
                    report.violation(
                        Checker::Watch,
                        format!("{what} after the progress notification at revision {b} (response {br})"),
                    );
                }
                match last {
                    Some((l, lr)) if lr == r && rev < l => report.violation(
                        Checker::Watch,
                        format!("{what} after an event of revision {l} in the same response (out of order)"),
                    ),
                    Some((l, lr)) if lr != r && rev == l => report.violation(
                        Checker::Watch,
                        format!("{what}, but revision {l} was already delivered in response {lr} (not atomic)"),
                    ),
                    Some((l, lr)) if lr != r && rev < l => report.violation(
                        Checker::Watch,
                        format!("{what} after response {lr} delivered revision {l} (out of order)"),
                    ),
                    _ => {}
                }
                self.delivered.insert((rev, event.key.as_slice()), (s, r));
                if last.is_none_or(|(l, _)| rev >= l) {
                    last = Some((rev, r));
                }
                self.last_delivered = Some(self.last_delivered.map_or(rev, |l| l.max(rev)));
                hi = hi.max(rev);
            }
        }
        let missing: Vec<_> = timeline
            .changes_between(start, hi)
            .iter()
            .filter(|c| !arrives.contains_key(&(c.revision, c.event.key.as_slice())))
            .collect();
        if !missing.is_empty() {
            let list = describe::list(missing.iter().map(|c| describe::event(&c.event)), LIST_CAP);
            report.violation(
                Checker::Watch,
                format!("{name} delivered or was bookmarked up to revision {hi} but never delivered: {list}"),
            );
        }
        self.last_covered = self.last_covered.max(Some(hi));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::WatchResponse;
    use crate::testkit::{self, Config};

    /// A valid random history whose watchers have several sessions, bookmarks and
    /// multi-key revisions.
    fn valid() -> History {
        let history = testkit::random(&Config {
            ops: 400,
            sessions: 3,
            ..Config::default()
        });
        assert!(watch(&history).is_ok(), "{}", watch(&history));
        history
    }

    fn watch(history: &History) -> Report {
        let (timeline, report) = Timeline::build(history);
        assert!(report.is_ok(), "{report}");
        check_watch(history, &timeline)
    }

    fn expect(history: &History, needle: &str) {
        let report = watch(history);
        assert!(report.has_violation(Checker::Watch), "expected {needle:?}");
        assert!(
            report.to_string().contains(needle),
            "expected {needle:?} in {report}"
        );
    }

    /// The first session's responses that carry events.
    fn event_responses(history: &History) -> Vec<usize> {
        let session = &history.watchers[0].sessions[0];
        (0..session.responses.len())
            .filter(|&r| !session.responses[r].events.is_empty())
            .collect()
    }

    #[test]
    fn duplicated_event() {
        let mut history = valid();
        let r = event_responses(&history)[3];
        let session = &mut history.watchers[0].sessions[0];
        let event = session.responses[r].events[0].clone();
        session.responses[r].events.push(event);
        expect(&history, "(duplicate)");
    }

    #[test]
    fn duplicated_response() {
        let mut history = valid();
        let r = event_responses(&history)[3];
        let session = &mut history.watchers[0].sessions[0];
        let response = session.responses[r].clone();
        session.responses.insert(r + 1, response);
        expect(&history, "(duplicate)");
    }

    #[test]
    fn reordered_events() {
        let mut history = valid();
        let rs = event_responses(&history);
        history.watchers[0].sessions[0].responses.swap(rs[2], rs[3]);
        expect(&history, "(out of order)");
    }

    #[test]
    fn event_split_across_responses() {
        let mut history = valid();
        let (s, r, e) = history.watchers[0]
            .sessions
            .iter()
            .enumerate()
            .flat_map(|(s, session)| {
                session
                    .responses
                    .iter()
                    .enumerate()
                    .map(move |(r, response)| (s, r, response))
            })
            .find_map(|(s, r, response)| {
                let events = &response.events;
                (1..events.len())
                    .find(|&e| events[e].kv.mod_revision == events[e - 1].kv.mod_revision)
                    .map(|e| (s, r, e))
            })
            .expect("the random history has a multi-key revision");
        let session = &mut history.watchers[0].sessions[s];
        let mut tail = session.responses[r].clone();
        tail.events = session.responses[r].events.split_off(e);
        session.responses.insert(r + 1, tail);
        expect(&history, "(not atomic)");
    }

    #[test]
    fn bookmark_ahead_of_an_undelivered_event() {
        let mut history = valid();
        let r = event_responses(&history)[4];
        let session = &mut history.watchers[0].sessions[0];
        let revision = session.responses[r].events[0].kv.mod_revision;
        let at = session.responses[r].at;
        let progress = WatchResponse {
            at,
            revision,
            events: vec![],
            progress: true,
            canceled: false,
            compact_revision: 0,
        };
        session.responses.insert(r, progress);
        expect(&history, &format!("is a progress notification at revision {revision}, but these were delivered only after it"));
        expect(
            &history,
            &format!("after the progress notification at revision {revision}"),
        );
    }

    #[test]
    fn resume_with_a_gap() {
        let mut history = valid();
        let sessions = &mut history.watchers[0].sessions;
        assert!(sessions.len() >= 2, "the random history resumes watcher 0");
        let start = sessions[1].start_revision;
        sessions[1].start_revision += 1;
        for response in &mut sessions[1].responses {
            response.events.retain(|e| e.kv.mod_revision != start);
        }
        expect(
            &history,
            &format!("revisions {start}..{start} are skipped (a gap)"),
        );
    }

    #[test]
    fn resume_that_redelivers() {
        let mut history = valid();
        let sessions = &mut history.watchers[0].sessions;
        sessions[1].start_revision -= 1;
        expect(&history, "the watcher already delivered");
    }

    #[test]
    fn dropped_response() {
        let mut history = valid();
        let r = event_responses(&history)[2];
        history.watchers[0].sessions[0].responses.remove(r);
        expect(&history, "never delivered");
    }

    #[test]
    fn compaction_cancel_ends_the_session() {
        let mut history = valid();
        let sessions = &mut history.watchers[0].sessions;
        let cancel = WatchResponse {
            at: 0,
            revision: 0,
            events: vec![],
            progress: false,
            canceled: true,
            compact_revision: 3,
        };
        sessions[0].responses.push(cancel.clone());
        assert!(watch(&history).is_ok(), "{}", watch(&history));
        history.watchers[0].sessions[0].responses.push(cancel);
        expect(&history, "arrives after the session was canceled");
    }
}

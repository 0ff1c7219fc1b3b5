//! Test support: a correct sequential store, hand-built histories, and a seeded random
//! generator of valid concurrent histories (clients, unknown outcomes, leases, watchers
//! with several sessions and bookmarks).

use std::collections::{BTreeMap, HashSet};

use crate::history::{
    Call, Event, EventKind, History, Kv, Op, Outcome, WatchResponse, WatchSession, Watcher,
};

/// splitmix64.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent`%.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A put event as a watcher delivers it (no prev).
pub(crate) fn put_event(
    key: &[u8],
    value: &[u8],
    revision: i64,
    create: i64,
    version: i64,
) -> Event {
    let kv = Kv {
        value: value.to_vec(),
        mod_revision: revision,
        create_revision: create,
        version,
        lease: 0,
    };
    Event {
        kind: EventKind::Put,
        key: key.to_vec(),
        kv,
        prev: None,
    }
}

/// A correct sequential etcd store that records its changes.
pub(crate) struct Store {
    pub base: i64,
    pub rev: i64,
    state: BTreeMap<Vec<u8>, Kv>,
    versions: BTreeMap<Vec<u8>, Vec<(i64, Option<Kv>)>>,
    /// Every change, in order.
    pub events: Vec<Event>,
}

impl Store {
    pub fn new(base: i64) -> Self {
        Store {
            base,
            rev: base,
            state: BTreeMap::new(),
            versions: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    pub fn get(&self, key: &[u8]) -> Option<Kv> {
        self.state.get(key).cloned()
    }

    /// The key's state at `revision`.
    pub fn get_at(&self, key: &[u8], revision: i64) -> Option<Kv> {
        let versions = self.versions.get(key)?;
        let at = versions.partition_point(|(r, _)| *r <= revision);
        at.checked_sub(1).and_then(|i| versions[i].1.clone())
    }

    fn record(&mut self, key: &[u8], state: Option<Kv>) {
        self.versions
            .entry(key.to_vec())
            .or_default()
            .push((self.rev, state));
    }

    /// Puts (any lease id is accepted); returns (revision, prev).
    pub fn put(&mut self, key: &[u8], value: &[u8], lease: i64) -> (i64, Option<Kv>) {
        self.rev += 1;
        let prev = self.get(key);
        let kv = Kv {
            value: value.to_vec(),
            mod_revision: self.rev,
            create_revision: prev.as_ref().map_or(self.rev, |p| p.create_revision),
            version: prev.as_ref().map_or(1, |p| p.version + 1),
            lease,
        };
        self.events.push(Event {
            kind: EventKind::Put,
            key: key.to_vec(),
            kv: kv.clone(),
            prev: prev.clone(),
        });
        self.state.insert(key.to_vec(), kv.clone());
        self.record(key, Some(kv));
        (self.rev, prev)
    }

    fn delete_at_rev(&mut self, key: &[u8]) -> Option<Kv> {
        let prev = self.state.remove(key)?;
        let kv = Kv {
            value: vec![],
            mod_revision: self.rev,
            create_revision: 0,
            version: 0,
            lease: 0,
        };
        self.events.push(Event {
            kind: EventKind::Delete,
            key: key.to_vec(),
            kv,
            prev: Some(prev.clone()),
        });
        self.record(key, None);
        Some(prev)
    }

    /// Deletes; returns (revision, prev): the delete's revision, or the current one if
    /// there was nothing to delete.
    pub fn delete(&mut self, key: &[u8]) -> (i64, Option<Kv>) {
        if !self.state.contains_key(key) {
            return (self.rev, None);
        }
        self.rev += 1;
        let prev = self.delete_at_rev(key);
        (self.rev, prev)
    }

    /// Compare-and-swap; returns (revision, succeeded, current on failure).
    pub fn cas(&mut self, key: &[u8], expect: i64, value: &[u8]) -> (i64, bool, Option<Kv>) {
        let current = self.get(key);
        if current.as_ref().map_or(0, |kv| kv.mod_revision) != expect {
            return (self.rev, false, current);
        }
        let (rev, _) = self.put(key, value, 0);
        (rev, true, None)
    }

    /// Deletes every key attached to `lease` in one revision (none if no key is); returns
    /// the revision after.
    pub fn expire(&mut self, lease: i64) -> i64 {
        let keys: Vec<Vec<u8>> = self
            .state
            .iter()
            .filter(|(_, kv)| kv.lease == lease)
            .map(|(k, _)| k.clone())
            .collect();
        if !keys.is_empty() {
            self.rev += 1;
            for key in keys {
                self.delete_at_rev(&key);
            }
        }
        self.rev
    }

    /// The changes grouped by revision.
    fn revisions(&self) -> Vec<(i64, Vec<Event>)> {
        let mut groups: Vec<(i64, Vec<Event>)> = Vec::new();
        for event in &self.events {
            match groups.last_mut() {
                Some((r, events)) if *r == event.kv.mod_revision => events.push(event.clone()),
                _ => groups.push((event.kv.mod_revision, vec![event.clone()])),
            }
        }
        groups
    }

    /// One session from `base + 1`, one response per revision, a final bookmark.
    pub fn watcher(&self) -> Watcher {
        let mut responses: Vec<WatchResponse> = self
            .revisions()
            .into_iter()
            .enumerate()
            .map(|(i, (revision, events))| response(i as u64, revision, events))
            .collect();
        responses.push(progress(responses.len() as u64, self.rev));
        Watcher {
            sessions: vec![WatchSession {
                member: 0,
                start_revision: self.base + 1,
                responses,
            }],
        }
    }

    /// `sessions` sessions (fewer if there are not enough revisions), 1-3 revisions per
    /// response, random bookmarks, a final bookmark.
    pub fn random_watcher(&self, rng: &mut Rng, sessions: usize) -> Watcher {
        let groups = self.revisions();
        let mut cuts: Vec<usize> = (0..sessions.saturating_sub(1))
            .map(|_| 1 + rng.below(groups.len().max(2) as u64 - 1) as usize)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts.retain(|&c| c < groups.len());
        let bounds: Vec<usize> = std::iter::once(0)
            .chain(cuts)
            .chain(std::iter::once(groups.len()))
            .collect();
        let mut at = 0u64;
        let mut out = Vec::new();
        for (s, pair) in bounds.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            let start_revision = if a == 0 {
                self.base + 1
            } else {
                groups[a - 1].0 + 1
            };
            let mut responses = Vec::new();
            let mut i = a;
            while i < b {
                let end = (i + 1 + rng.below(3) as usize).min(b);
                let events: Vec<Event> =
                    groups[i..end].iter().flat_map(|(_, e)| e.clone()).collect();
                responses.push(response(at, groups[end - 1].0, events));
                at += 1;
                if rng.chance(15) {
                    responses.push(progress(at, groups[end - 1].0));
                    at += 1;
                }
                i = end;
            }
            if s + 2 == bounds.len() {
                responses.push(progress(at, self.rev));
            } else if rng.chance(50) && b > a {
                responses.push(progress(at, groups[b - 1].0));
            }
            at += 1;
            out.push(WatchSession {
                member: rng.below(3) as usize,
                start_revision,
                responses,
            });
        }
        Watcher { sessions: out }
    }
}

fn response(at: u64, revision: i64, events: Vec<Event>) -> WatchResponse {
    WatchResponse {
        at,
        revision,
        events,
        progress: false,
        canceled: false,
        compact_revision: 0,
    }
}

fn progress(at: u64, revision: i64) -> WatchResponse {
    WatchResponse {
        at,
        revision,
        events: vec![],
        progress: true,
        canceled: false,
        compact_revision: 0,
    }
}

/// An acknowledged put applied to `store`.
pub(crate) fn put_op(
    store: &mut Store,
    client: usize,
    (invoke, ret): (u64, u64),
    key: &[u8],
    value: &[u8],
    lease: i64,
) -> Op {
    let (revision, prev) = store.put(key, value, lease);
    let call = Call::Put {
        key: key.to_vec(),
        value: value.to_vec(),
        lease,
    };
    Op {
        client,
        member: 0,
        invoke,
        ret: Some(ret),
        call,
        outcome: Outcome::Put { revision, prev },
    }
}

/// A linearizable get of `store`'s current state.
pub(crate) fn get_op(store: &Store, client: usize, (invoke, ret): (u64, u64), key: &[u8]) -> Op {
    let call = Call::Get {
        key: key.to_vec(),
        serializable: false,
    };
    let outcome = Outcome::Get {
        revision: store.rev,
        kv: store.get(key),
    };
    Op {
        client,
        member: 0,
        invoke,
        ret: Some(ret),
        call,
        outcome,
    }
}

/// The case: put(k, A) -> 10; put(j, X) -> 11; put(k, B) [100..200] -> 12;
/// get(k) [110..190] -> A (mod 10) with header revision `header` (11 is correct).
pub(crate) fn bug_case(header: i64) -> History {
    let mut store = Store::new(9);
    let mut ops = vec![
        put_op(&mut store, 0, (0, 10), b"k", b"A", 0),
        put_op(&mut store, 1, (20, 30), b"j", b"X", 0),
    ];
    let mut get = get_op(&store, 2, (110, 190), b"k");
    if let Outcome::Get { revision, .. } = &mut get.outcome {
        *revision = header;
    }
    ops.push(put_op(&mut store, 0, (100, 200), b"k", b"B", 0));
    ops.push(get);
    History {
        ops,
        watchers: vec![store.watcher()],
        base_revision: 9,
    }
}

/// put(k, A) -> 1 [0..10]; put(k, B) -> 2 [20..30]; get(k) [40..50] -> A at header
/// revision 1: a stale read (consistent with the snapshot it names).
pub(crate) fn stale_read_case() -> History {
    let mut store = Store::new(0);
    let mut ops = vec![put_op(&mut store, 0, (0, 10), b"k", b"A", 0)];
    let stale = get_op(&store, 1, (40, 50), b"k");
    ops.push(put_op(&mut store, 0, (20, 30), b"k", b"B", 0));
    ops.push(stale);
    History {
        ops,
        watchers: vec![store.watcher()],
        base_revision: 0,
    }
}

/// put(k1, A) [0..10] -> 11; put(k2, B) [20..30] -> 10: invoked after A returned, yet
/// at a smaller revision.
pub(crate) fn reordered_writes_case() -> History {
    let mut store = Store::new(9);
    let b = put_op(&mut store, 1, (20, 30), b"k2", b"B", 0);
    let a = put_op(&mut store, 0, (0, 10), b"k1", b"A", 0);
    History {
        ops: vec![a, b],
        watchers: vec![store.watcher()],
        base_revision: 9,
    }
}

/// What [`random`] generates.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub seed: u64,
    pub keys: usize,
    pub clients: usize,
    pub ops: usize,
    /// Percent of ops with an unknown outcome (half of the writes among them apply).
    pub unknown_pct: u64,
    /// Percent of gets that are serializable (and may read a few revisions back).
    pub serializable_pct: u64,
    pub leases: bool,
    pub watchers: usize,
    /// Sessions per watcher.
    pub sessions: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 7,
            keys: 5,
            clients: 8,
            ops: 2000,
            unknown_pct: 5,
            serializable_pct: 20,
            leases: true,
            watchers: 2,
            sessions: 3,
        }
    }
}

/// A valid history: each op takes effect at a random point inside its interval, in a
/// correct sequential store; the watchers see that store's changes.
pub(crate) fn random(config: &Config) -> History {
    let mut rng = Rng::new(config.seed);
    let base = 100;
    let mut store = Store::new(base);
    // (effect time, client, invoke, return)
    let mut schedule = Vec::new();
    for client in 0..config.clients {
        let mut t = rng.below(50);
        for _ in
            0..(config.ops / config.clients + usize::from(client < config.ops % config.clients))
        {
            let invoke = t;
            let effect = invoke + 1 + rng.below(60);
            let ret = effect + 1 + rng.below(60);
            schedule.push((effect, client, invoke, ret));
            t = ret + 1 + rng.below(20);
        }
    }
    schedule.sort_unstable();
    let mut ops = Vec::new();
    let mut seq = vec![0usize; config.clients];
    let mut leases: Vec<(i64, bool)> = Vec::new(); // (id, live)
    let mut revealed: HashSet<(Vec<u8>, i64)> = HashSet::new();
    for (_, client, invoke, ret) in schedule {
        let key = format!("k{}", rng.below(config.keys as u64)).into_bytes();
        seq[client] += 1;
        let value = format!("{client}.{}", seq[client]).into_bytes();
        let unknown = rng.chance(config.unknown_pct);
        let apply = !unknown || rng.chance(50);
        let member = rng.below(3) as usize;
        let roll = rng.below(100);
        let (call, outcome) = if roll < 35 {
            let lease = if config.leases && !leases.is_empty() && rng.chance(50) {
                // Mostly the newest lease, so that leases hold several keys.
                let newest = leases.len() - 1;
                leases[if rng.chance(70) {
                    newest
                } else {
                    rng.below(leases.len() as u64) as usize
                }]
            } else {
                (0, true)
            };
            let call = Call::Put {
                key: key.clone(),
                value: value.clone(),
                lease: lease.0,
            };
            if !lease.1 {
                (call, Outcome::Failed("lease not found".to_owned()))
            } else if apply {
                let (revision, prev) = store.put(&key, &value, lease.0);
                (call, Outcome::Put { revision, prev })
            } else {
                (call, Outcome::Unknown)
            }
        } else if roll < 65 {
            let serializable = rng.chance(config.serializable_pct);
            let call = Call::Get {
                key: key.clone(),
                serializable,
            };
            let revision = if serializable {
                (store.rev - rng.below(4) as i64).max(base)
            } else {
                store.rev
            };
            (
                call,
                Outcome::Get {
                    revision,
                    kv: store.get_at(&key, revision),
                },
            )
        } else if roll < 75 {
            let call = Call::Delete { key: key.clone() };
            if apply {
                let (revision, prev) = store.delete(&key);
                (call, Outcome::Delete { revision, prev })
            } else {
                (call, Outcome::Unknown)
            }
        } else if roll < 90 {
            // Clients only know the revisions some response revealed.
            let current = store.get(&key).map_or(0, |kv| kv.mod_revision);
            let known = if current == 0 || revealed.contains(&(key.clone(), current)) {
                current
            } else {
                revealed
                    .iter()
                    .filter(|(k, _)| *k == key)
                    .map(|&(_, r)| r)
                    .max()
                    .unwrap_or(0)
            };
            let expect = match rng.below(4) {
                0 => 0,
                1 => known - 1,
                _ => known,
            };
            let call = Call::Cas {
                key: key.clone(),
                expect_mod_revision: expect,
                value: value.clone(),
            };
            if apply {
                let (revision, succeeded, current) = store.cas(&key, expect, &value);
                (
                    call,
                    Outcome::Cas {
                        revision,
                        succeeded,
                        current,
                    },
                )
            } else {
                (call, Outcome::Unknown)
            }
        } else if roll < 95 || !config.leases {
            let id = 1000 + leases.len() as i64;
            leases.push((id, true));
            (
                Call::LeaseGrant { ttl: 5 },
                Outcome::LeaseGrant {
                    id,
                    revision: store.rev,
                },
            )
        } else {
            let pick = if leases.is_empty() {
                None
            } else {
                Some(rng.below(leases.len() as u64) as usize)
            };
            let id = pick.map_or(999, |i| leases[i].0);
            let live = pick.is_some_and(|i| leases[i].1);
            let outcome = if !live {
                Outcome::Failed("lease not found".to_owned())
            } else if apply {
                leases[pick.unwrap_or_default()].1 = false;
                Outcome::LeaseRevoke {
                    revision: store.expire(id),
                }
            } else {
                Outcome::Unknown
            };
            (Call::LeaseRevoke { id }, outcome)
        };
        let (outcome, ret) = if unknown {
            (Outcome::Unknown, None)
        } else {
            (outcome, Some(ret))
        };
        let revision = match &outcome {
            Outcome::Put { revision, .. }
            | Outcome::Cas {
                revision,
                succeeded: true,
                ..
            } => Some(*revision),
            Outcome::Get { kv: Some(kv), .. }
            | Outcome::Delete { prev: Some(kv), .. }
            | Outcome::Cas {
                current: Some(kv), ..
            } => Some(kv.mod_revision),
            _ => None,
        };
        revealed.extend(revision.map(|r| (key.clone(), r)));
        ops.push(Op {
            client,
            member,
            invoke,
            ret,
            call,
            outcome,
        });
        if config.leases && rng.chance(2) {
            let live: Vec<usize> = (0..leases.len()).filter(|&i| leases[i].1).collect();
            if !live.is_empty() {
                let i = live[rng.below(live.len() as u64) as usize];
                leases[i].1 = false;
                store.expire(leases[i].0);
            }
        }
    }
    let watchers = (0..config.watchers)
        .map(|_| store.random_watcher(&mut rng, config.sessions))
        .collect();
    History {
        ops,
        watchers,
        base_revision: base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_histories_have_multi_key_revisions() {
        let history = random(&Config {
            ops: 400,
            sessions: 3,
            ..Config::default()
        });
        let mut per_revision: BTreeMap<i64, usize> = BTreeMap::new();
        for response in history.watchers[0]
            .sessions
            .iter()
            .flat_map(|s| &s.responses)
        {
            for event in &response.events {
                *per_revision.entry(event.kv.mod_revision).or_default() += 1;
            }
        }
        let multi = per_revision.values().filter(|&&n| n > 1).count();
        eprintln!(
            "{} revisions, {multi} with several keys",
            per_revision.len()
        );
        assert!(multi > 0);
        assert_eq!(history.watchers[0].sessions.len(), 3);
    }
}

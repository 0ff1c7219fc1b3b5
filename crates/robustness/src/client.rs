//! One recorded client: issues one operation at a time against one member, moves to the
//! next member after an error, and records every operation with its invoke and return time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oxcd_checker::{Call, Op, Outcome};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::conn::{Conn, Endpoints};
use crate::ops::{execute, is_write, keepalive, outcome_of_error};
use crate::recorder::Recorder;

/// The operation mix and limits of a client.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    /// The client's number (also its first member: `id % members`).
    pub id: usize,
    /// The keys it works on (shared with the other clients, so they contend).
    pub keys: Arc<Vec<Vec<u8>>>,
    /// When to stop issuing operations.
    pub until: Instant,
    /// How long one operation may take before its outcome is unknown.
    pub op_timeout: Duration,
    /// Seed of the client's random choices.
    pub seed: u64,
    /// Runner-level negative control: answer this fraction of linearizable gets from the
    /// client's own cache of an earlier answer instead of asking the server (a stale read
    /// the checkers MUST catch).
    pub stale_read_fraction: f64,
}

/// What a client did, for the run's summary line.
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientStats {
    /// Operations recorded.
    pub ops: usize,
    /// Writes with an unknown outcome.
    pub unknown: usize,
    /// Operations that failed (reads, or deterministic rejections).
    pub failed: usize,
}

struct State {
    rng: StdRng,
    seq: u64,
    /// The last mod revision this client saw per key (for CAS expectations).
    seen: HashMap<Vec<u8>, i64>,
    leases: Vec<i64>,
    /// Last linearizable get answer per key (for the stale-read negative control).
    cached_gets: HashMap<Vec<u8>, Outcome>,
}

/// Runs a client until `plan.until`.
pub async fn run(plan: ClientPlan, endpoints: Endpoints, rec: Arc<Recorder>) -> ClientStats {
    let mut conns: Vec<Conn> = endpoints.conns();
    let mut member = plan.id % conns.len();
    let mut st = State {
        rng: StdRng::seed_from_u64(plan.seed),
        seq: 0,
        seen: HashMap::new(),
        leases: Vec::new(),
        cached_gets: HashMap::new(),
    };
    let mut stats = ClientStats::default();
    while Instant::now() < plan.until {
        if !st.leases.is_empty() && st.rng.gen_bool(0.05) {
            let id = st.leases[st.rng.gen_range(0..st.leases.len())];
            let _ = tokio::time::timeout(plan.op_timeout, keepalive(&mut conns[member], id)).await;
        }
        let call = pick(&plan, &mut st);
        if let Some(cached) = stale_answer(&plan, &mut st, &call) {
            let t = rec.now();
            rec.push(Op {
                client: plan.id,
                member,
                invoke: t,
                ret: Some(t + 1),
                call,
                outcome: cached,
            });
            stats.ops += 1;
            continue;
        }
        let invoke = rec.now();
        let answer =
            tokio::time::timeout(plan.op_timeout, execute(&mut conns[member], &call)).await;
        let (outcome, ok) = match answer {
            Ok(Ok(outcome)) => (outcome, true),
            Ok(Err(status)) => (outcome_of_error(&call, &status), false),
            Err(_) if is_write(&call) => (Outcome::Unknown, false),
            Err(_) => (Outcome::Failed("timeout".into()), false),
        };
        let ret = match outcome {
            Outcome::Unknown => None,
            _ => Some(rec.now()),
        };
        learn(&mut st, &call, &outcome);
        match outcome {
            Outcome::Unknown => stats.unknown += 1,
            Outcome::Failed(_) => stats.failed += 1,
            _ => {}
        }
        stats.ops += 1;
        rec.push(Op {
            client: plan.id,
            member,
            invoke,
            ret,
            call,
            outcome,
        });
        if !ok {
            // The member may be dead, stopped or partitioned: try the next one.
            member = (member + 1) % conns.len();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    stats
}

fn pick(plan: &ClientPlan, st: &mut State) -> Call {
    let key = plan.keys[st.rng.gen_range(0..plan.keys.len())].clone();
    st.seq += 1;
    let value = format!("{}.{}", plan.id, st.seq).into_bytes();
    let roll = st.rng.gen_range(0..100);
    match roll {
        0..=29 => Call::Put {
            key,
            value,
            lease: 0,
        },
        30..=54 => Call::Get {
            key,
            serializable: false,
        },
        55..=64 => Call::Get {
            key,
            serializable: true,
        },
        65..=79 => Call::Cas {
            expect_mod_revision: st.seen.get(&key).copied().unwrap_or(0),
            key,
            value,
        },
        80..=86 => Call::Delete { key },
        87..=91 if !st.leases.is_empty() => Call::Put {
            key,
            value,
            lease: st.leases[st.rng.gen_range(0..st.leases.len())],
        },
        92..=95 if st.leases.len() < 3 => Call::LeaseGrant {
            ttl: st.rng.gen_range(2..6),
        },
        96..=99 if !st.leases.is_empty() => {
            let i = st.rng.gen_range(0..st.leases.len());
            Call::LeaseRevoke {
                id: st.leases.swap_remove(i),
            }
        }
        _ => Call::Put {
            key,
            value,
            lease: 0,
        },
    }
}

/// The negative control: a cached earlier answer for a linearizable get, if this one is
/// to be stale.
fn stale_answer(plan: &ClientPlan, st: &mut State, call: &Call) -> Option<Outcome> {
    if plan.stale_read_fraction <= 0.0 {
        return None;
    }
    let Call::Get {
        key,
        serializable: false,
    } = call
    else {
        return None;
    };
    if !st.rng.gen_bool(plan.stale_read_fraction) {
        return None;
    }
    st.cached_gets.get(key).cloned()
}

/// Remembers what the answer says about keys and leases.
fn learn(st: &mut State, call: &Call, outcome: &Outcome) {
    match (call, outcome) {
        (Call::Get { key, serializable }, Outcome::Get { kv, .. }) => {
            st.seen
                .insert(key.clone(), kv.as_ref().map_or(0, |kv| kv.mod_revision));
            if !serializable {
                st.cached_gets.insert(key.clone(), outcome.clone());
            }
        }
        (Call::Put { key, .. }, Outcome::Put { revision, .. }) => {
            st.seen.insert(key.clone(), *revision);
        }
        (
            Call::Cas { key, .. },
            Outcome::Cas {
                revision,
                succeeded,
                current,
            },
        ) => {
            let rev = if *succeeded {
                *revision
            } else {
                current.as_ref().map_or(0, |kv| kv.mod_revision)
            };
            st.seen.insert(key.clone(), rev);
        }
        (Call::Delete { key }, Outcome::Delete { .. }) => {
            st.seen.insert(key.clone(), 0);
        }
        (Call::LeaseGrant { .. }, Outcome::LeaseGrant { id, .. }) => st.leases.push(*id),
        _ => {}
    }
}

//! [`Members`]: cluster membership as this member applied it, persisted in
//! `Column::Members` of the state machine's backend.
//!
//! Membership changes arrive through raft (conf changes carry the encoded `Member`; name
//! and client URLs are published by each member with a normal entry; MemberUpdate is a
//! normal entry too). Every change is staged into the SAME write batch as the applied
//! index, so membership never disagrees with the applied log position.
//!
//! # Keys (column `Members`)
//! - 8-byte big-endian ID: the encoded `etcdserverpb.Member`.
//! - `r` + 8-byte ID: a removed member (its ID can never come back).
//! - `Meta/cluster_id`: the cluster ID.

use std::collections::{BTreeMap, BTreeSet};

use oxcd_backend::{Backend, Column, WriteBatch};
use oxcd_proto::etcdserverpb::Member;
use parking_lot::RwLock;
use prost::Message;
use tokio::sync::watch;

use crate::error::ServerError;

/// Meta key of this member's own ID: member-local, never taken from a snapshot.
pub const LOCAL_ID_KEY: &[u8] = b"local_member_id";
/// Meta key of the cluster ID.
pub const CLUSTER_ID_KEY: &[u8] = b"cluster_id";
/// Key prefix of removed member IDs.
pub const REMOVED_PREFIX: u8 = b'r';

#[derive(Debug, Default, Clone)]
struct State {
    members: BTreeMap<u64, Member>,
    removed: BTreeSet<u64>,
}

/// The members of the cluster.
#[derive(Debug)]
pub struct Members {
    cluster_id: u64,
    local_id: u64,
    state: RwLock<State>,
    /// Bumped after every change (transport resets, removal of this member).
    version: watch::Sender<u64>,
}

/// The `Column::Members` key that marks `id` removed.
pub fn removed_key(id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(9);
    k.push(REMOVED_PREFIX);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn load_state(backend: &dyn Backend) -> Result<State, ServerError> {
    let mut st = State::default();
    for item in backend.scan(Column::Members, &[], None, false)? {
        let (k, v) = item?;
        match k.len() {
            8 => {
                let m = Member::decode(&*v).map_err(|e| ServerError::Internal(e.to_string()))?;
                st.members.insert(m.id, m);
            }
            9 if k[0] == REMOVED_PREFIX => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&k[1..]);
                st.removed.insert(u64::from_be_bytes(b));
            }
            _ => return Err(ServerError::Internal("corrupt membership key".into())),
        }
    }
    Ok(st)
}

impl Members {
    /// Loads membership from `backend`, or bootstraps it with `initial` and `cluster_id` on a
    /// fresh data directory. `local_id` is this member.
    pub fn load_or_bootstrap(
        backend: &dyn Backend,
        initial: Vec<Member>,
        cluster_id: u64,
        local_id: u64,
    ) -> Result<Self, ServerError> {
        let (cluster_id, state) = match backend.get(Column::Meta, CLUSTER_ID_KEY)? {
            Some(v) => {
                let cid = u64::from_be_bytes(
                    v.as_slice()
                        .try_into()
                        .map_err(|_| ServerError::Internal("corrupt cluster id".into()))?,
                );
                (cid, load_state(backend)?)
            }
            None => {
                let mut batch = WriteBatch::new();
                batch.put(Column::Meta, CLUSTER_ID_KEY, cluster_id.to_be_bytes());
                let mut st = State::default();
                for m in initial {
                    batch.put(Column::Members, m.id.to_be_bytes(), m.encode_to_vec());
                    st.members.insert(m.id, m);
                }
                backend.write(batch, true)?;
                (cluster_id, st)
            }
        };
        Ok(Self {
            cluster_id,
            local_id,
            state: RwLock::new(state),
            version: watch::channel(0).0,
        })
    }

    /// Reloads everything from `backend` (after a snapshot replaced the state machine).
    pub fn reload(&self, backend: &dyn Backend) -> Result<(), ServerError> {
        let st = load_state(backend)?;
        *self.state.write() = st;
        self.bump();
        Ok(())
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// The cluster ID.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// This member's ID.
    pub fn local_id(&self) -> u64 {
        self.local_id
    }

    /// Every member, ordered by ID.
    pub fn list(&self) -> Vec<Member> {
        self.state.read().members.values().cloned().collect()
    }

    /// One member.
    pub fn get(&self, id: u64) -> Option<Member> {
        self.state.read().members.get(&id).cloned()
    }

    /// Whether `id` was removed from the cluster.
    pub fn is_removed(&self, id: u64) -> bool {
        self.state.read().removed.contains(&id)
    }

    /// The peer URLs of `id` (`None` if unknown or removed).
    pub fn peer_urls(&self, id: u64) -> Option<Vec<String>> {
        self.state
            .read()
            .members
            .get(&id)
            .map(|m| m.peer_ur_ls.clone())
    }

    /// The member (other than `except`) that uses any of `urls` as a peer URL.
    pub fn peer_url_owner(&self, urls: &[String], except: u64) -> Option<u64> {
        self.state
            .read()
            .members
            .values()
            .find(|m| m.id != except && m.peer_ur_ls.iter().any(|u| urls.contains(u)))
            .map(|m| m.id)
    }

    /// Subscribes to membership changes (the value is a change counter).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn stage(batch: &mut WriteBatch, m: &Member) {
        batch.put(Column::Members, m.id.to_be_bytes(), m.encode_to_vec());
    }

    /// Applies an added member (voter or learner). An existing member keeps its published
    /// name and client URLs unless `m` carries new ones.
    pub fn apply_add(&self, m: Member, batch: &mut WriteBatch) {
        let mut st = self.state.write();
        let merged = match st.members.get(&m.id) {
            Some(old) => Member {
                name: if m.name.is_empty() {
                    old.name.clone()
                } else {
                    m.name.clone()
                },
                client_ur_ls: if m.client_ur_ls.is_empty() {
                    old.client_ur_ls.clone()
                } else {
                    m.client_ur_ls.clone()
                },
                ..m
            },
            None => m,
        };
        Self::stage(batch, &merged);
        st.members.insert(merged.id, merged);
        drop(st);
        self.bump();
    }

    /// Applies the removal of `id`.
    pub fn apply_remove(&self, id: u64, batch: &mut WriteBatch) {
        let mut st = self.state.write();
        st.members.remove(&id);
        st.removed.insert(id);
        batch.delete(Column::Members, id.to_be_bytes());
        batch.put(Column::Members, removed_key(id), Vec::new());
        drop(st);
        self.bump();
    }

    /// Applies the promotion of learner `id`.
    pub fn apply_promote(&self, id: u64, batch: &mut WriteBatch) {
        self.modify(id, batch, |m| m.is_learner = false);
    }

    /// Applies a member's published name and client URLs.
    pub fn apply_attributes(
        &self,
        id: u64,
        name: &str,
        client_urls: &[String],
        batch: &mut WriteBatch,
    ) {
        self.modify(id, batch, |m| {
            m.name = name.to_string();
            m.client_ur_ls = client_urls.to_vec();
        });
    }

    /// Applies new peer URLs of `id`.
    pub fn apply_peer_urls(&self, id: u64, urls: &[String], batch: &mut WriteBatch) {
        self.modify(id, batch, |m| m.peer_ur_ls = urls.to_vec());
    }

    fn modify(&self, id: u64, batch: &mut WriteBatch, f: impl FnOnce(&mut Member)) {
        let mut st = self.state.write();
        if let Some(m) = st.members.get_mut(&id) {
            f(m);
            Self::stage(batch, m);
            drop(st);
            self.bump();
        }
    }
}

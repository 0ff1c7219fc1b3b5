//! [`Members`]: cluster membership as this member knows it, persisted in `Column::Members`.

use oxcd_backend::{Backend, Column, WriteBatch};
use oxcd_proto::etcdserverpb::Member;
use parking_lot::RwLock;
use prost::Message;

use crate::error::ServerError;

/// Meta key of the cluster ID.
const CLUSTER_ID_KEY: &[u8] = b"cluster_id";

/// The members of the cluster.
#[derive(Debug)]
pub struct Members {
    cluster_id: u64,
    members: RwLock<Vec<Member>>,
}

impl Members {
    /// Loads membership from `backend`, or bootstraps it with `initial` and `cluster_id` on a
    /// fresh data directory. Returns the effective membership.
    pub fn load_or_bootstrap(
        backend: &dyn Backend,
        initial: Vec<Member>,
        cluster_id: u64,
    ) -> Result<Self, ServerError> {
        if let Some(v) = backend.get(Column::Meta, CLUSTER_ID_KEY)? {
            let cid = u64::from_be_bytes(
                v.as_slice()
                    .try_into()
                    .map_err(|_| ServerError::Internal("corrupt cluster id".into()))?,
            );
            let mut members = Vec::new();
            for item in backend.scan(Column::Members, &[], None, false)? {
                let (_, v) = item?;
                members
                    .push(Member::decode(&*v).map_err(|e| ServerError::Internal(e.to_string()))?);
            }
            return Ok(Self {
                cluster_id: cid,
                members: RwLock::new(members),
            });
        }
        let mut batch = WriteBatch::new();
        batch.put(Column::Meta, CLUSTER_ID_KEY, cluster_id.to_be_bytes());
        for m in &initial {
            batch.put(Column::Members, m.id.to_be_bytes(), m.encode_to_vec());
        }
        backend.write(batch, true)?;
        Ok(Self {
            cluster_id,
            members: RwLock::new(initial),
        })
    }

    /// The cluster ID.
    pub fn cluster_id(&self) -> u64 {
        self.cluster_id
    }

    /// Every member, ordered by ID.
    pub fn list(&self) -> Vec<Member> {
        let mut v = self.members.read().clone();
        v.sort_by_key(|m| m.id);
        v
    }

    /// One member.
    pub fn get(&self, id: u64) -> Option<Member> {
        self.members.read().iter().find(|m| m.id == id).cloned()
    }
}

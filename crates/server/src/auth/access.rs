//! What each request needs permission for, as etcd 3.4 decides it (`apply_auth.go`), in
//! one place for the receiving member's checks and the apply path's.
//!
//! - Range: read on `[key, range_end)`.
//! - Put: write on the key; write on every key already attached to its lease (a user who
//!   could not revoke the lease may not attach to it); read on the key with `prev_kv`.
//! - DeleteRange: write on the range; read on it with `prev_kv`.
//! - Txn: read for every compare and range op, write for every put and delete, read for a
//!   delete's `prev_kv`; nested txns are walked too (etcd 3.4 skipped them, 3.5 does not:
//!   a permission hole is not worth copying).
//! - LeaseRevoke: write on every attached key.
//! - Auth management: the root role.

use oxcd_auth::{Access, AuthError, AuthState};
use oxcd_proto::etcdserverpb::{
    request_op::Request, DeleteRangeRequest, PutRequest, RequestOp, TxnRequest,
};

use super::Caller;

/// Permission checks for one caller against one published auth state.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    state: &'a AuthState,
    user: &'a str,
    revision: u64,
    /// Nothing to check: the member's own request, or auth is off.
    open: bool,
}

impl<'a> Check<'a> {
    /// Checks of `caller`'s requests against `state`.
    pub fn new(state: &'a AuthState, caller: &'a Caller) -> Self {
        let (user, revision) = caller.user_and_revision();
        Check {
            state,
            user,
            revision,
            open: matches!(caller, Caller::System) || !state.enabled(),
        }
    }

    fn may(&self, key: &[u8], range_end: &[u8], access: Access) -> Result<(), AuthError> {
        if self.open {
            return Ok(());
        }
        self.state
            .check(self.user, self.revision, key, range_end, access)
    }

    /// Read on `[key, range_end)` (Range, Watch).
    pub fn range(&self, key: &[u8], range_end: &[u8]) -> Result<(), AuthError> {
        self.may(key, range_end, Access::Read)
    }

    /// A Put; `lease_keys` lists the keys attached to its lease (called only with a lease).
    pub fn put(
        &self,
        p: &PutRequest,
        lease_keys: impl FnOnce(i64) -> Vec<Vec<u8>>,
    ) -> Result<(), AuthError> {
        if self.open {
            return Ok(());
        }
        self.may(&p.key, &[], Access::Write)?;
        if p.lease != 0 {
            self.keys_writable(&lease_keys(p.lease))?;
        }
        if p.prev_kv {
            self.may(&p.key, &[], Access::Read)?;
        }
        Ok(())
    }

    /// A DeleteRange.
    pub fn delete_range(&self, d: &DeleteRangeRequest) -> Result<(), AuthError> {
        self.may(&d.key, &d.range_end, Access::Write)?;
        if d.prev_kv {
            self.may(&d.key, &d.range_end, Access::Read)?;
        }
        Ok(())
    }

    /// A Txn: compares, then both branches, nested txns included.
    pub fn txn(&self, t: &TxnRequest) -> Result<(), AuthError> {
        if self.open {
            return Ok(());
        }
        for c in &t.compare {
            self.may(&c.key, &c.range_end, Access::Read)?;
        }
        self.ops(&t.success)?;
        self.ops(&t.failure)
    }

    fn ops(&self, ops: &[RequestOp]) -> Result<(), AuthError> {
        for op in ops {
            match &op.request {
                Some(Request::RequestRange(r)) => self.may(&r.key, &r.range_end, Access::Read)?,
                Some(Request::RequestPut(p)) => self.may(&p.key, &[], Access::Write)?,
                Some(Request::RequestDeleteRange(d)) => {
                    if d.prev_kv {
                        self.may(&d.key, &d.range_end, Access::Read)?;
                    }
                    self.may(&d.key, &d.range_end, Access::Write)?;
                }
                Some(Request::RequestTxn(n)) => self.txn(n)?,
                None => {}
            }
        }
        Ok(())
    }

    /// Write on each of `keys` (LeaseRevoke, and a Put's lease).
    pub fn keys_writable(&self, keys: &[Vec<u8>]) -> Result<(), AuthError> {
        keys.iter()
            .try_for_each(|k| self.may(k, &[], Access::Write))
    }

    /// Root-only operations.
    pub fn admin(&self) -> Result<(), AuthError> {
        if self.open {
            return Ok(());
        }
        self.state.check_admin(self.user, self.revision)
    }
}

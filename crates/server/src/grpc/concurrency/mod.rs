//! etcd's `clientv3/concurrency` run in-process, for the Lock and Election services.
//!
//! etcd's v3lock and v3election servers run the concurrency package's Mutex and Election
//! through an in-process client; these modules do the same over this member's own KV,
//! Lease and Watch services, with the same key layout, so `etcdctl lock` / `etcdctl elect`
//! (which run the client side themselves) and the RPCs exclude and see each other.
//!
//! # Layout
//! - `keys.rs`: the key layout (`<name>/<lease in lowercase hex>`) and the compare and
//!   request builders both services use.
//! - `in_process.rs`: [`InProcess`] (session leases, txns, deletes, waiting for deletes),
//!   [`Watcher`], and [`ReleaseGuard`] (a contender key is removed if its caller goes away).

mod in_process;
mod keys;

pub(crate) use in_process::{InProcess, ReleaseGuard};
pub(crate) use keys::{
    by_create, create_rev_is, delete_op, first_kv_at, get_op, prefix_end, prefix_of, put_op,
    session_key,
};

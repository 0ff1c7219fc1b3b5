//! oxcd-robustness: the robustness suite (`make chaos`), in the spirit of etcd's
//! `tests/robustness` and Jepsen. Each run starts a fresh cluster of real processes (oxcd,
//! or etcd 3.4.23 to show the suite judges fairly), drives it with concurrent recorded
//! clients and watchers while it injects faults, heals it, checks that the members
//! converge, and hands the recorded history to [`oxcd_checker::check`].
//!
//! # Layout
//! - [`conn`]: [`conn::Endpoints`] and [`conn::Conn`], lazily connected gRPC clients per member.
//! - [`ops`]: executing one recorded call and classifying its answer.
//! - [`recorder`]: [`recorder::Recorder`], the run's clock and operation log.
//! - [`client`]: one client's loop (put with prev_kv, linearizable and serializable get,
//!   compare-and-swap on mod_revision, delete with prev_kv, lease grant / put with lease /
//!   keepalive / revoke), switching members after errors.
//! - [`watcher`]: one watcher over the run's prefix, resuming after the last delivered
//!   revision on another member whenever its stream breaks; progress requests (bookmarks).
//! - [`faults`]: [`faults::Fault`]s (kill -9, SIGSTOP/SIGCONT of the leader or a random
//!   member, restart of all members at once, partitions, member replacement) injected one
//!   at a time and healed. Partitions need network namespaces (root) or the peer proxy
//!   ([`run::Network`]).
//! - [`run`]: one run ([`run::run`]) and its [`run::RunReport`].
//! - [`suite`]: N seeds and the closing `N passed, M failed` line.
//!
//! # Invariants
//! - EVERY PROCESS A RUN STARTS IS KILLED BY PID when the run ends (the cluster harness's
//!   guarantee); every wait is bounded.
//! - A WRITE WITH AN ERROR IS RECORDED AS UNKNOWN unless the error proves it was not applied.
//! - A RUN PASSES ONLY IF THE CHECKERS FIND NO VIOLATION AND NOTHING ELSE WENT WRONG: the
//!   cluster healed, every watcher caught up with the final revision, and every member has
//!   the same HashKV at it.

pub mod client;
pub mod conn;
pub mod faults;
pub mod ops;
pub mod recorder;
pub mod run;
pub mod suite;
pub mod watcher;

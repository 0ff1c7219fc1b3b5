//! oxcd-proto: the etcd v3 wire protocol and oxcd's internal protocols as
//! Rust types, generated at build time from the `.proto` files beside this
//! crate.
//!
//! The etcd files are written for oxcd and are wire-compatible with etcd
//! field for field: package, service, method and message names, field
//! numbers, types and enum values all match, so Go clients and `etcdctl` reach
//! the same gRPC paths (`/etcdserverpb.KV/Range`, `/v3lockpb.Lock/Lock`,
//! `/v3electionpb.Election/Campaign`, ...).
//!
//! # Layout
//!
//! - [`mvccpb`]: `KeyValue`, `Event` (`event::EventType`).
//! - [`authpb`]: `User`, `UserAddOptions`, `Permission` (`permission::Type`),
//!   `Role`.
//! - [`etcdserverpb`]: every KV, Watch, Lease, Cluster, Maintenance and Auth
//!   message, plus the tonic services: `kv_server::{Kv, KvServer}`,
//!   `kv_client::KvClient`, and likewise `watch_*`, `lease_*`, `cluster_*`,
//!   `maintenance_*`, `auth_*`.
//! - [`v3lockpb`]: `lock_server::{Lock, LockServer}`, `lock_client::LockClient`.
//! - [`v3electionpb`]: `election_server::{Election, ElectionServer}`,
//!   `election_client::ElectionClient`.
//! - [`oxcdpb`]: oxcd-internal messages: `InternalRequest` (the raft log
//!   entry payload) and the `RaftPeer` member-to-member service
//!   (`raft_peer_server`, `raft_peer_client`).
//! - [`grpc_go`]: grpc-go's status-code names, which etcd's clients print.
//! - [`watch_wire`]: `WatchResponseWire`, a `WatchResponse` with pre-encoded events, and
//!   [`watch_wire_server`], the Watch service that sends it.
//! - [`FILE_DESCRIPTOR_SET`]: the encoded descriptors of all of the above,
//!   for gRPC reflection.
//!
//! # Naming quirks of the generated code
//!
//! prost turns proto names into Rust conventions, so:
//! - service `KV` becomes `kv_server::Kv` / `KvServer` / `kv_client::KvClient`;
//!   `HashKV` becomes the method `hash_kv` and the message `HashKvRequest`.
//! - capitalised fields become snake case: `LeaseGrantRequest { ttl, id }`,
//!   `Member { id, peer_ur_ls, client_ur_ls, is_learner }`,
//!   `StatusResponse { db_size, raft_index, .. }`, `Event { r#type, .. }`.
//! - oneofs are enums in a module named after the message:
//!   `request_op::Request`, `response_op::Response`,
//!   `compare::TargetUnion`, `watch_request::RequestUnion`,
//!   `internal_request::Op`.
//! - enum fields are stored as `i32`; use the generated `field()` /
//!   `set_field()` accessors or `EnumType::try_from(i32)`.
//! - `bytes` fields are `Vec<u8>`, except `mvccpb.KeyValue`'s key and value
//!   (`bytes::Bytes`).
//!
//! # JSON
//!
//! Every etcd message also implements `serde::Serialize` and
//! `serde::Deserialize` in proto3 JSON as etcd's HTTP gateway speaks it:
//! output uses the original proto field names (`create_revision`,
//! `raft_term`, `ID`, `TTL`, `peerURLs`); 64-bit integers are quoted
//! strings; bytes are base64; enums are names; default values are omitted.
//! Input accepts both proto names and lowerCamel JSON names, numbers or
//! strings for 64-bit integers, and ignores unknown fields.
//!
//! # Invariants
//!
//! - THE ETCD `.proto` FILES ARE A WIRE CONTRACT: never renumber, retype or
//!   rename an existing field, message, enum value, service or method.
//! - `oxcdpb.InternalRequest` IS STORED IN THE RAFT LOG: new operations get
//!   new field numbers; numbers are never reused.

/// Stored key-value pairs and watch events (proto package `mvccpb`).
#[allow(missing_docs, clippy::all, rust_2018_idioms, unused_qualifications)]
pub mod mvccpb {
    include!(concat!(env!("OUT_DIR"), "/mvccpb.rs"));
    include!(concat!(env!("OUT_DIR"), "/mvccpb.serde.rs"));
}

/// Auth store records (proto package `authpb`).
#[allow(missing_docs, clippy::all, rust_2018_idioms, unused_qualifications)]
pub mod authpb {
    include!(concat!(env!("OUT_DIR"), "/authpb.rs"));
    include!(concat!(env!("OUT_DIR"), "/authpb.serde.rs"));
}

/// The etcd v3 client API (proto package `etcdserverpb`).
#[allow(missing_docs, clippy::all, rust_2018_idioms, unused_qualifications)]
pub mod etcdserverpb {
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.rs"));
    include!(concat!(env!("OUT_DIR"), "/etcdserverpb.serde.rs"));
}

/// The lock service (proto package `v3lockpb`).
#[allow(missing_docs, clippy::all, rust_2018_idioms, unused_qualifications)]
pub mod v3lockpb {
    include!(concat!(env!("OUT_DIR"), "/v3lockpb.rs"));
    include!(concat!(env!("OUT_DIR"), "/v3lockpb.serde.rs"));
}

/// The election service (proto package `v3electionpb`).
#[allow(missing_docs, clippy::all, rust_2018_idioms, unused_qualifications)]
pub mod v3electionpb {
    include!(concat!(env!("OUT_DIR"), "/v3electionpb.rs"));
    include!(concat!(env!("OUT_DIR"), "/v3electionpb.serde.rs"));
}

/// oxcd-internal messages: raft log payloads and the peer transport
/// (proto package `oxcdpb`).
#[allow(missing_docs, clippy::all, rust_2018_idioms, unused_qualifications)]
pub mod oxcdpb {
    include!(concat!(env!("OUT_DIR"), "/oxcdpb.rs"));
}

pub mod grpc_go;
pub mod watch_wire;

/// `etcdserverpb.Watch` served with [`watch_wire::WatchResponseWire`] responses: the same
/// service name, method and wire bytes as `etcdserverpb::watch_server`, but events are
/// encoded once per revision instead of once per watcher.
#[allow(missing_docs, clippy::all, rust_2018_idioms, unused_qualifications)]
pub mod watch_wire_server {
    include!(concat!(env!("OUT_DIR"), "/wire/etcdserverpb.Watch.rs"));
}

/// The encoded `google.protobuf.FileDescriptorSet` of every file compiled
/// into this crate (with imports and source info), for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/oxcd_descriptor.bin"));

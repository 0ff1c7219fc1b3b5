//! Compiles the `.proto` files under this directory into Rust.
//!
//! 1. `protox` (pure Rust, no `protoc`) parses every file into one
//!    `FileDescriptorSet`, which is also written to
//!    `$OUT_DIR/oxcd_descriptor.bin` for `FILE_DESCRIPTOR_SET`.
//! 2. `tonic_prost_build` generates prost messages plus tonic clients and
//!    servers, one `$OUT_DIR/<package>.rs` per proto package.
//! 3. `tonic_build::manual` generates a second `etcdserverpb.Watch` server into
//!    `$OUT_DIR/wire/`, whose response type is `watch_wire::WatchResponseWire`.
//! 4. `pbjson_build` generates proto3-JSON serde impls for the etcd packages,
//!    one `$OUT_DIR/<package>.serde.rs` each, printing the original proto
//!    field names as etcd's gateway does.

use std::error::Error;
use std::path::PathBuf;

/// Every file compiled, relative to the include root (this directory).
const PROTO_FILES: &[&str] = &[
    "etcd/api/mvccpb/kv.proto",
    "etcd/api/authpb/auth.proto",
    "etcd/api/etcdserverpb/rpc.proto",
    "etcd/api/v3lock/v3lock.proto",
    "etcd/api/v3election/v3election.proto",
    "internal/raft_request.proto",
    "internal/peer.proto",
];

/// Packages that get serde (proto3 JSON) impls: the ones the HTTP gateway
/// serves. The internal `oxcdpb` package never travels as JSON.
const JSON_PACKAGES: &[&str] = &[
    ".mvccpb",
    ".authpb",
    ".etcdserverpb",
    ".v3lockpb",
    ".v3electionpb",
];

fn main() -> Result<(), Box<dyn Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=etcd");
    println!("cargo:rerun-if-changed=internal");

    let mut compiler = protox::Compiler::new([&root])?;
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(PROTO_FILES)?;
    let descriptor_set = compiler.file_descriptor_set();
    let encoded = compiler.encode_file_descriptor_set();
    std::fs::write(out_dir.join("oxcd_descriptor.bin"), &encoded)?;

    // KeyValue's key and value are `bytes::Bytes`: one event fans out to many watchers
    // (and one read to many responses) by reference count, not by copy.
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .bytes(".mvccpb.KeyValue")
        .compile_fds(descriptor_set)?;

    // A second server for `etcdserverpb.Watch` whose responses carry pre-encoded events
    // (`watch_wire::WatchResponseWire`, byte-identical to `WatchResponse` on the wire).
    let method = tonic_prost_build::manual::Method::builder()
        .name("watch")
        .route_name("Watch")
        .input_type("crate::etcdserverpb::WatchRequest")
        .output_type("crate::watch_wire::WatchResponseWire")
        .codec_path("tonic_prost::ProstCodec")
        .client_streaming()
        .server_streaming()
        .build();
    let service = tonic_prost_build::manual::Service::builder()
        .name("Watch")
        .package("etcdserverpb")
        .method(method)
        .build();
    let wire_dir = out_dir.join("wire");
    std::fs::create_dir_all(&wire_dir)?;
    tonic_prost_build::manual::Builder::new()
        .build_client(false)
        .out_dir(&wire_dir)
        .compile(&[service]);

    pbjson_build::Builder::new()
        .register_descriptors(&encoded)?
        .preserve_proto_field_names()
        .ignore_unknown_fields()
        .build(JSON_PACKAGES)?;

    Ok(())
}

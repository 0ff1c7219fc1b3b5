//! oxcd-gateway: etcd's HTTP/JSON gRPC-gateway, hand-written.
//!
//! [`GatewayBuilder`] produces an [`axum::Router`] serving `POST /v3/<service>/<rpc>`
//! (and the same paths under `/v3beta`, which etcd 3.4 rewrites to `/v3`).
//! Each route decodes the proto3-JSON body into the prost request type
//! (serde impls from `oxcd-proto`), calls the tonic service trait
//! implementation in-process, and answers with proto3 JSON, exactly as etcd
//! 3.4.23's grpc-gateway v1 does:
//!
//! - unary: the response message as JSON (original proto field names,
//!   defaults omitted, 64-bit integers quoted, bytes base64);
//! - streaming (watch, lease keepalive, snapshot, election observe):
//!   newline-delimited `{"result":{…}}` lines, flushed as they arrive, and at
//!   most one final `{"error":{"grpc_code":…,"http_code":…,"message":…,"http_status":…}}`;
//! - errors: `{"error":"<msg>","message":"<msg>","code":<grpc code>}` with the
//!   HTTP status of [`http_status_for`] (InvalidArgument/OutOfRange 400,
//!   NotFound 404, FailedPrecondition 412, …);
//! - a known path with another method: 405 `Method Not Allowed` (text/plain);
//!   `/v3alpha/...` and unmounted services: 404.
//!
//! # Layout
//!
//! - `builder`: [`GatewayBuilder`], the route table per service.
//! - `unary`: the unary route.
//! - `streaming`: server-streaming and bidi routes.
//! - `input_stream`: in-process `tonic::Streaming` request streams ([`input_stream`]).
//! - `ndjson`: the NDJSON streaming answer.
//! - `json_body`: request body → message(s) ([`decode_one`], [`decode_all`]).
//! - `response`: JSON, error body and stream chunk rendering.
//! - `status_map`: [`http_status_for`].
//! - `metadata`: [`request_metadata`], HTTP headers → gRPC metadata.
//! - `state`: what the routes of one gateway share (interceptor, CORS);
//!   [`GatewayCall`], the call kind the interceptor finds in the extensions.
//! - `cors`: [`CorsPolicy`] and its middleware.
//! - `error`: [`GatewayError`].
//!
//! # Invariants
//!
//! - EVERY RPC ROUTE IS POST WITH A JSON BODY; an empty body is the default
//!   message (`{}`); unknown fields are ignored (the proto crate's pbjson
//!   impls are built with `ignore_unknown_fields`, as grpc-gateway v1 allows
//!   them); malformed JSON is InvalidArgument (HTTP 400).
//! - THE SERVICE SEES THE SAME `tonic::Request` A gRPC CLIENT WOULD PRODUCE:
//!   metadata `token` (and `authorization`) from the `Authorization` header
//!   (or a `token` header), `Grpc-Metadata-<k>` headers as `<k>`, and the
//!   configured interceptor applied. Tonic layers (metrics, the gRPC auth
//!   interceptor) do NOT run for gateway calls unless passed to
//!   [`GatewayBuilder::interceptor`].
//! - BIDI INPUTS ARE REAL `tonic::Streaming` VALUES built from the body's JSON
//!   values. LeaseKeepAlive's input ends after the body; Watch's input ends
//!   only when the HTTP client disconnects (or the response stream ends).
//! - A STREAM'S HTTP STATUS IS DECIDED BY ITS FIRST ITEM: an error first is
//!   answered with that error's HTTP status; later errors end a 200 stream.
//! - Every answer carries etcd's CORS headers unless [`CorsPolicy::Disabled`];
//!   `OPTIONS` is answered 200 with an empty body.

mod builder;
mod cors;
mod error;
mod input_stream;
mod json_body;
mod metadata;
mod ndjson;
mod response;
mod state;
mod status_map;
mod streaming;
mod unary;

pub use builder::{GatewayBuilder, DEFAULT_MAX_BODY_BYTES};
pub use cors::CorsPolicy;
pub use error::GatewayError;
pub use input_stream::input_stream;
pub use json_body::{decode_all, decode_one};
pub use metadata::request_metadata;
pub use response::status_response;
pub use state::GatewayCall;
pub use status_map::http_status_for;

//! The token providers: simple tokens (format, TTL, invalidation), JWT tokens (keys,
//! signatures, expiry, claims) and etcd's `--auth-token` values.

mod jwt;
mod simple;
mod spec;

//! oxcd-middleware (placeholder while the crate is written).

//! oxcd-gateway (placeholder while the crate is written).

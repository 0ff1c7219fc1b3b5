//! oxcd-integration-tests (placeholder while the crate is written).

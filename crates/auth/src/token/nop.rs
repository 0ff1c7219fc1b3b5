//! [`NopTokens`]: what etcd runs with an empty `--auth-token` (`auth/nop.go`).

use super::{TokenInfo, TokenProvider};
use crate::error::AuthError;

/// No tokens: Authenticate fails with [`AuthError::AuthFailed`] and no token resolves.
#[derive(Debug, Default, Clone, Copy)]
pub struct NopTokens;

impl TokenProvider for NopTokens {
    fn prepare(&self) -> String {
        String::new()
    }

    fn assign(
        &self,
        _user: &str,
        _revision: u64,
        _prepared: &str,
        _index: u64,
    ) -> Result<String, AuthError> {
        Err(AuthError::AuthFailed)
    }

    fn info(&self, _token: &str, _current_revision: u64) -> Result<TokenInfo, AuthError> {
        Err(AuthError::InvalidAuthToken)
    }

    fn invalidate_user(&self, _user: &str) {}

    fn invalidate_all(&self) {}
}

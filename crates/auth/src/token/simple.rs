//! [`SimpleTokens`]: etcd's `simple` tokens (`auth/simple_token.go`), `<16 random
//! letters>.<raft index>`, remembered in memory with a TTL that each use slides.
//!
//! etcd expires them from a background ticker (1 s resolution); here expiry is checked
//! when a token is resolved, and expired tokens are swept whenever a new one is assigned,
//! so memory stays bounded by the tokens issued within one TTL without a thread.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

use super::{TokenInfo, TokenProvider};
use crate::error::AuthError;

/// etcd's `--auth-token-ttl` default (and what a zero TTL means): 300 seconds.
pub const DEFAULT_SIMPLE_TTL: Duration = Duration::from_secs(300);

/// How many random letters start a simple token (etcd's `defaultSimpleTokenLength`).
pub const SIMPLE_TOKEN_LETTERS: usize = 16;

/// The alphabet of the random part, as etcd's.
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// One remembered token.
#[derive(Debug)]
struct Entry {
    user: String,
    expires: Instant,
}

/// Simple tokens: unsigned, remembered by every member that applied their Authenticate.
#[derive(Debug)]
pub struct SimpleTokens {
    ttl: Duration,
    tokens: Mutex<HashMap<String, Entry>>,
}

impl SimpleTokens {
    /// Tokens that live `ttl` after their last use ([`DEFAULT_SIMPLE_TTL`] if zero, as
    /// etcd treats a non-positive `--auth-token-ttl`).
    pub fn new(ttl: Duration) -> SimpleTokens {
        SimpleTokens {
            ttl: if ttl.is_zero() {
                DEFAULT_SIMPLE_TTL
            } else {
                ttl
            },
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The TTL each assign or successful resolve grants.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How many tokens are held, including expired ones not yet swept.
    pub fn len(&self) -> usize {
        self.tokens.lock().len()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The raft index a simple token names: the part after its only dot (etcd's
/// `isValidSimpleToken` format check). `None` for anything else.
fn token_index(token: &str) -> Option<u64> {
    let (_, index) = token.split_once('.')?;
    if index.contains('.') {
        return None;
    }
    index.parse().ok()
}

impl TokenProvider for SimpleTokens {
    fn prepare(&self) -> String {
        let mut rng = rand::rngs::OsRng;
        (0..SIMPLE_TOKEN_LETTERS)
            .map(|_| char::from(LETTERS[rng.gen_range(0..LETTERS.len())]))
            .collect()
    }

    fn assign(
        &self,
        user: &str,
        _revision: u64,
        prepared: &str,
        index: u64,
    ) -> Result<String, AuthError> {
        let token = format!("{prepared}.{index}");
        let now = Instant::now();
        let mut tokens = self.tokens.lock();
        tokens.retain(|_, e| e.expires >= now);
        // The index makes a token unique; re-applying the same entry (a replay after a
        // restart) names the same user, so replacing is harmless (etcd panics instead).
        tokens.insert(
            token.clone(),
            Entry {
                user: user.to_owned(),
                expires: now + self.ttl,
            },
        );
        Ok(token)
    }

    fn info(&self, token: &str, current_revision: u64) -> Result<TokenInfo, AuthError> {
        token_index(token).ok_or(AuthError::InvalidAuthToken)?;
        let now = Instant::now();
        let mut tokens = self.tokens.lock();
        let entry = tokens.get_mut(token).ok_or(AuthError::InvalidAuthToken)?;
        if entry.expires < now {
            tokens.remove(token);
            return Err(AuthError::InvalidAuthToken);
        }
        entry.expires = now + self.ttl;
        Ok(TokenInfo {
            user: entry.user.clone(),
            revision: current_revision,
        })
    }

    fn invalidate_user(&self, user: &str) {
        self.tokens.lock().retain(|_, e| e.user != user);
    }

    fn invalidate_all(&self) {
        self.tokens.lock().clear();
    }

    fn required_index(&self, token: &str) -> Option<u64> {
        token_index(token)
    }
}

#[cfg(test)]
mod tests {
    use super::token_index;

    #[test]
    fn index_is_the_part_after_the_only_dot() {
        assert_eq!(token_index("abc.42"), Some(42));
        assert_eq!(token_index(".7"), Some(7));
        assert_eq!(token_index("abc"), None);
        assert_eq!(token_index("abc.x"), None);
        assert_eq!(token_index("a.b.3"), None);
        assert_eq!(token_index("abc.-3"), None);
        assert_eq!(token_index("abc."), None);
    }
}

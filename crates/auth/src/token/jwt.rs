//! [`JwtTokens`]: etcd's `jwt` tokens (`auth/jwt.go`), signed JWTs with the claims
//! `username` (string), `revision` (number) and `exp` (seconds since the epoch).
//!
//! Nothing is remembered: any member holding the key verifies a token, so a token survives
//! restarts and works on every member; invalidating a user or disabling auth leaves issued
//! tokens valid until `exp` (the revision they carry goes stale instead), as in etcd.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Deserializer, Serialize};

use super::keys;
use super::{TokenInfo, TokenProvider};
use crate::error::AuthError;

/// etcd's JWT `ttl` default: 5 minutes.
pub const DEFAULT_JWT_TTL: Duration = Duration::from_secs(5 * 60);

/// The claims etcd signs (in the order Go's map encoding writes them).
#[derive(Serialize)]
struct Claims<'a> {
    exp: u64,
    revision: u64,
    username: &'a str,
}

/// The claims read back. `exp` is checked by jsonwebtoken's validation.
#[derive(Deserialize)]
struct ReadClaims {
    username: String,
    #[serde(deserialize_with = "json_number")]
    revision: u64,
}

/// etcd reads `revision` as a JSON number of any form (Go's float64): accept an integer,
/// or a non-negative float, truncated.
fn json_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    if let Some(n) = n.as_u64() {
        return Ok(n);
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f >= 0.0 => Ok(f as u64),
        _ => Err(serde::de::Error::custom(
            "revision is not a non-negative number",
        )),
    }
}

/// JWT tokens signed and verified with one key (pair), shared by the members.
pub struct JwtTokens {
    method: Algorithm,
    ttl: Duration,
    sign: Option<EncodingKey>,
    verify: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtTokens")
            .field("method", &self.method)
            .field("ttl", &self.ttl)
            .field("verify_only", &self.sign.is_none())
            .finish_non_exhaustive()
    }
}

impl JwtTokens {
    /// Tokens signed with `method`, valid `ttl` after issue, from the contents of the
    /// `pub-key` and `priv-key` files: PEM keys as etcd reads them (RS*/PS*: PKCS#1 or
    /// PKCS#8 private, PKIX or PKCS#1 public, up to 4096 bits; ES256/ES384: SEC1 or PKCS#8
    /// private, PKIX public; EdDSA: PKCS#8 private, PKIX public; HS*: the private file's
    /// raw bytes are the secret). Without `private` (RS*, PS*, ES*, EdDSA) the member only
    /// verifies: `assign` fails with [`AuthError::VerifyOnly`]. No key at all is
    /// [`AuthError::MissingKey`]; a `public` that is not `private`'s half is
    /// [`AuthError::KeyMismatch`]; an unreadable key is [`AuthError::InvalidKey`].
    pub fn new(
        method: Algorithm,
        public: Option<&[u8]>,
        private: Option<&[u8]>,
        ttl: Duration,
    ) -> Result<JwtTokens, AuthError> {
        if ttl.is_zero() {
            return Err(AuthError::InvalidAuthOpts("ttl must be positive".into()));
        }
        let keys = keys::load(method, public, private)?;
        // As jwt-go's MapClaims checks (which etcd uses): exp and nbf when present, to the
        // second, no leeway, nothing required; `aud` is not etcd's business.
        let mut validation = Validation::new(method);
        validation.leeway = 0;
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        Ok(JwtTokens {
            method,
            ttl,
            sign: keys.sign,
            verify: keys.verify,
            validation,
        })
    }

    /// The sign method.
    pub fn method(&self) -> Algorithm {
        self.method
    }

    /// How long a token is valid after it is issued.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether this member holds the private key (can issue tokens, not just verify).
    pub fn can_sign(&self) -> bool {
        self.sign.is_some()
    }
}

impl TokenProvider for JwtTokens {
    fn prepare(&self) -> String {
        String::new()
    }

    fn assign(
        &self,
        user: &str,
        revision: u64,
        _prepared: &str,
        _index: u64,
    ) -> Result<String, AuthError> {
        let key = self.sign.as_ref().ok_or(AuthError::VerifyOnly)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let claims = Claims {
            exp: (now + self.ttl).as_secs(),
            revision,
            username: user,
        };
        jsonwebtoken::encode(&Header::new(self.method), &claims, key)
            .map_err(|e| AuthError::SignToken(e.to_string()))
    }

    fn info(&self, token: &str, _current_revision: u64) -> Result<TokenInfo, AuthError> {
        let data = jsonwebtoken::decode::<ReadClaims>(token, &self.verify, &self.validation)
            .map_err(|_| AuthError::InvalidAuthToken)?;
        Ok(TokenInfo {
            user: data.claims.username,
            revision: data.claims.revision,
        })
    }

    fn invalidate_user(&self, _user: &str) {}

    fn invalidate_all(&self) {}
}

//! The keys of [`JwtTokens`](super::JwtTokens): PEM files read as etcd reads them
//! (`auth/options.go`), into what jsonwebtoken signs and verifies with.
//!
//! - RS*/PS*: a PKCS#1 or PKCS#8 private key, a PKIX or PKCS#1 public key (at most 4096
//!   bits: the `rsa` crate's limit, which jsonwebtoken's verifier shares).
//! - ES256 / ES384: a SEC1 or PKCS#8 private key on P-256 / P-384, a PKIX public key.
//! - EdDSA: a PKCS#8 Ed25519 private key, a PKIX public key (etcd 3.5's addition).
//! - HS*: the private key file's bytes, as they are, are the shared secret.
//!
//! Certificates and encrypted PEM files are not read (etcd reads a certificate's public key).
//!
//! With only a public key the member verifies but cannot sign. With a private key it
//! verifies with the public half it derives; a public key given too must be that half.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use crate::error::AuthError;

/// What a [`JwtTokens`](super::JwtTokens) signs and verifies with.
pub(crate) struct Keys {
    /// `None` on a verify-only member (no private key).
    pub(crate) sign: Option<EncodingKey>,
    pub(crate) verify: DecodingKey,
}

/// ES256 and ES384 differ only in their curve crate (`p256`, `p384`).
macro_rules! ec_keys {
    ($curve:ident, $name:literal, $public:expr, $private:expr) => {{
        use $curve::elliptic_curve::sec1::ToEncodedPoint;
        use $curve::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
        use $curve::{PublicKey, SecretKey};

        let private = $private
            .map(|pem: &[u8]| {
                let pem = text(pem, "priv-key")?;
                SecretKey::from_sec1_pem(pem)
                    .or_else(|_| SecretKey::from_pkcs8_pem(pem))
                    .map_err(|_| {
                        AuthError::InvalidKey(
                            concat!(
                                "priv-key is not a PEM ",
                                $name,
                                " private key (SEC1 or PKCS#8)"
                            )
                            .into(),
                        )
                    })
            })
            .transpose()?;
        let public = $public
            .map(|pem: &[u8]| {
                let pem = text(pem, "pub-key")?;
                PublicKey::from_public_key_pem(pem).map_err(|_| {
                    AuthError::InvalidKey(
                        concat!("pub-key is not a PEM ", $name, " public key (PKIX)").into(),
                    )
                })
            })
            .transpose()?;
        let (private, public) = pick(private, public, SecretKey::public_key)?;
        let sign = private
            .map(|k| {
                k.to_pkcs8_der()
                    .map(|der| EncodingKey::from_ec_der(der.as_bytes()))
            })
            .transpose()
            .map_err(encoding)?;
        let verify = DecodingKey::from_ec_der(public.to_encoded_point(false).as_bytes());
        Ok(Keys { sign, verify })
    }};
}

/// Reads the keys `method` needs from the contents of the `pub-key` and `priv-key` files.
pub(crate) fn load(
    method: Algorithm,
    public: Option<&[u8]>,
    private: Option<&[u8]>,
) -> Result<Keys, AuthError> {
    match method {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => match private {
            Some(secret) if !secret.is_empty() => Ok(Keys {
                sign: Some(EncodingKey::from_secret(secret)),
                verify: DecodingKey::from_secret(secret),
            }),
            _ => Err(AuthError::MissingKey),
        },
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => rsa_keys(public, private),
        Algorithm::ES256 => ec_keys!(p256, "P-256", public, private),
        Algorithm::ES384 => ec_keys!(p384, "P-384", public, private),
        Algorithm::EdDSA => ed_keys(public, private),
    }
}

/// The key file's text, if it is PEM at all.
fn text<'a>(bytes: &'a [u8], what: &str) -> Result<&'a str, AuthError> {
    std::str::from_utf8(bytes).map_err(|_| AuthError::InvalidKey(format!("{what} is not PEM")))
}

/// Which private key to sign with and which public key to verify with: the private
/// key's own public half when there is one (and a given public key must equal it).
fn pick<P, K: PartialEq>(
    private: Option<P>,
    public: Option<K>,
    public_of: impl FnOnce(&P) -> K,
) -> Result<(Option<P>, K), AuthError> {
    match (private, public) {
        (None, None) => Err(AuthError::MissingKey),
        (None, Some(public)) => Ok((None, public)),
        (Some(private), given) => {
            let derived = public_of(&private);
            if given.is_some_and(|given| given != derived) {
                return Err(AuthError::KeyMismatch);
            }
            Ok((Some(private), derived))
        }
    }
}

/// A re-encoding failure of a key that was just decoded (not expected to happen).
fn encoding(e: impl std::fmt::Display) -> AuthError {
    AuthError::InvalidKey(format!("cannot re-encode the key: {e}"))
}

fn rsa_keys(public: Option<&[u8]>, private: Option<&[u8]>) -> Result<Keys, AuthError> {
    use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
    use rsa::{RsaPrivateKey, RsaPublicKey};

    let bad_private =
        || AuthError::InvalidKey("priv-key is not a PEM RSA private key (PKCS#1 or PKCS#8)".into());
    let bad_public =
        || AuthError::InvalidKey("pub-key is not a PEM RSA public key (PKIX or PKCS#1)".into());
    let private = private
        .map(|pem| {
            let pem = text(pem, "priv-key")?;
            RsaPrivateKey::from_pkcs1_pem(pem)
                .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
                .map_err(|_| bad_private())
        })
        .transpose()?;
    let public = public
        .map(|pem| {
            let pem = text(pem, "pub-key")?;
            RsaPublicKey::from_public_key_pem(pem)
                .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
                .map_err(|_| bad_public())
        })
        .transpose()?;
    let (private, public) = pick(private, public, RsaPrivateKey::to_public_key)?;
    let sign = private
        .map(|k| {
            k.to_pkcs1_der()
                .map(|der| EncodingKey::from_rsa_der(der.as_bytes()))
        })
        .transpose()
        .map_err(encoding)?;
    let verify = DecodingKey::from_rsa_der(public.to_pkcs1_der().map_err(encoding)?.as_bytes());
    Ok(Keys { sign, verify })
}

fn ed_keys(public: Option<&[u8]>, private: Option<&[u8]>) -> Result<Keys, AuthError> {
    use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
    use ed25519_dalek::{SigningKey, VerifyingKey};

    let private = private
        .map(|pem| {
            let pem = text(pem, "priv-key")?;
            SigningKey::from_pkcs8_pem(pem).map_err(|_| {
                AuthError::InvalidKey("priv-key is not a PEM Ed25519 private key (PKCS#8)".into())
            })
        })
        .transpose()?;
    let public = public
        .map(|pem| {
            let pem = text(pem, "pub-key")?;
            VerifyingKey::from_public_key_pem(pem).map_err(|_| {
                AuthError::InvalidKey("pub-key is not a PEM Ed25519 public key (PKIX)".into())
            })
        })
        .transpose()?;
    let (private, public) = pick(private, public, SigningKey::verifying_key)?;
    let sign = private
        .map(|k| {
            k.to_pkcs8_der()
                .map(|der| EncodingKey::from_ed_der(der.as_bytes()))
        })
        .transpose()
        .map_err(encoding)?;
    let verify = DecodingKey::from_ed_der(public.as_bytes());
    Ok(Keys { sign, verify })
}

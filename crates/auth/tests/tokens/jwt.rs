//! [`JwtTokens`]: signed with one key, verified by every member holding it; expiry,
//! forged and foreign tokens, the key formats etcd reads.

use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, EncodingKey, Header};
use oxcd_auth::token::Algorithm;
use oxcd_auth::{token_provider, AuthError, JwtTokens, TokenInfo, TokenProvider};
use rcgen::{KeyPair, SignatureAlgorithm};
use serde_json::{json, Value};

const TTL: Duration = Duration::from_secs(300);
/// A throwaway RSA key made with `openssl genrsa -traditional 2048` (rcgen cannot make
/// RSA keys with ring, and making one at test time is slow in a debug build).
const RSA_PKCS1: &str = include_str!("test-rsa-2048.pem");

fn key(alg: &'static SignatureAlgorithm) -> KeyPair {
    KeyPair::generate_for(alg).expect("generate key")
}

fn p256() -> KeyPair {
    key(&rcgen::PKCS_ECDSA_P256_SHA256)
}

/// A provider holding both halves of `kp`.
fn signer(method: Algorithm, kp: &KeyPair) -> JwtTokens {
    JwtTokens::new(
        method,
        Some(kp.public_key_pem().as_bytes()),
        Some(kp.serialize_pem().as_bytes()),
        TTL,
    )
    .expect("load keys")
}

/// A provider holding only the public half of `kp`.
fn verifier(method: Algorithm, kp: &KeyPair) -> JwtTokens {
    JwtTokens::new(method, Some(kp.public_key_pem().as_bytes()), None, TTL).expect("load key")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn claims(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .expect("decode")
        .claims
}

fn alice(revision: u64) -> Result<TokenInfo, AuthError> {
    Ok(TokenInfo {
        user: "alice".into(),
        revision,
    })
}

/// A token signed with `kp` (PKCS#8 DER) over arbitrary claims.
fn crafted(method: Algorithm, kp: &KeyPair, claims: &Value) -> String {
    let der = kp.serialize_der();
    let key = match method {
        Algorithm::EdDSA => EncodingKey::from_ed_der(&der),
        _ => EncodingKey::from_ec_der(&der),
    };
    encode(&Header::new(method), claims, &key).expect("encode")
}

#[test]
fn sign_then_verify_each_curve() {
    for (method, alg) in [
        (Algorithm::ES256, &rcgen::PKCS_ECDSA_P256_SHA256),
        (Algorithm::ES384, &rcgen::PKCS_ECDSA_P384_SHA384),
        (Algorithm::EdDSA, &rcgen::PKCS_ED25519),
    ] {
        let kp = key(alg);
        let tokens = signer(method, &kp);
        assert_eq!(tokens.prepare(), "", "{method:?}");
        let token = tokens.assign("alice", 42, "", 7).expect("assign");
        // The revision comes from the claim, not the store's current one.
        assert_eq!(tokens.info(&token, 99), alice(42), "{method:?}");
        assert_eq!(tokens.required_index(&token), None);
    }
}

#[test]
fn claims_are_etcds() {
    let tokens = signer(Algorithm::ES256, &p256());
    let before = now();
    let token = tokens.assign("alice", 5, "", 1).expect("assign");
    let c = claims(&token);
    assert_eq!(c["username"], json!("alice"));
    assert_eq!(c["revision"], json!(5));
    let exp = c["exp"].as_u64().expect("exp is an integer");
    assert!(
        (before + 300..=now() + 300).contains(&exp),
        "exp {exp} is not now + 300 s"
    );
    let header = jsonwebtoken::decode_header(&token).expect("header");
    assert_eq!(header.alg, Algorithm::ES256);
}

#[test]
fn another_key_is_refused() {
    let tokens = signer(Algorithm::ES256, &p256());
    let other = signer(Algorithm::ES256, &p256());
    let token = other.assign("alice", 1, "", 1).expect("assign");
    assert_eq!(tokens.info(&token, 1), Err(AuthError::InvalidAuthToken));
    assert_eq!(other.info(&token, 1), alice(1));
}

#[test]
fn expired_tokens_are_refused() {
    let kp = p256();
    let tokens = signer(Algorithm::ES256, &kp);
    let fresh = json!({"username": "alice", "revision": 3, "exp": now() + 60});
    assert_eq!(
        tokens.info(&crafted(Algorithm::ES256, &kp, &fresh), 1),
        alice(3)
    );
    let stale = json!({"username": "alice", "revision": 3, "exp": now() - 2});
    assert_eq!(
        tokens.info(&crafted(Algorithm::ES256, &kp, &stale), 1),
        Err(AuthError::InvalidAuthToken)
    );
}

#[test]
fn a_token_dies_with_its_ttl() {
    let kp = p256();
    let tokens = JwtTokens::new(
        Algorithm::ES256,
        None,
        Some(kp.serialize_pem().as_bytes()),
        Duration::from_secs(1),
    )
    .expect("load");
    let token = tokens.assign("alice", 1, "", 1).expect("assign");
    assert_eq!(tokens.info(&token, 1), alice(1));
    // exp is whole seconds and valid through its second: 2.1 s is always past it.
    sleep(Duration::from_millis(2100));
    assert_eq!(tokens.info(&token, 1), Err(AuthError::InvalidAuthToken));
}

#[test]
fn malformed_claims_are_refused() {
    let kp = p256();
    let tokens = signer(Algorithm::ES256, &kp);
    let exp = now() + 60;
    for bad in [
        json!({"username": "alice", "revision": 1, "exp": "99999999999"}),
        json!({"username": "alice", "revision": 1, "exp": exp, "nbf": "99999999999"}),
        json!({"username": "alice", "revision": 1, "exp": exp, "nbf": exp + 60}),
        json!({"revision": 1, "exp": exp}),
        json!({"username": 7, "revision": 1, "exp": exp}),
        json!({"username": "alice", "exp": exp}),
        json!({"username": "alice", "revision": "1", "exp": exp}),
        json!({"username": "alice", "revision": -1, "exp": exp}),
    ] {
        let token = crafted(Algorithm::ES256, &kp, &bad);
        assert_eq!(
            tokens.info(&token, 1),
            Err(AuthError::InvalidAuthToken),
            "{bad}"
        );
    }
    // etcd reads the revision as a float64 and requires no exp (jwt-go's MapClaims).
    let float = json!({"username": "alice", "revision": 4.0, "exp": exp});
    assert_eq!(
        tokens.info(&crafted(Algorithm::ES256, &kp, &float), 1),
        alice(4)
    );
    let no_exp = json!({"username": "alice", "revision": 2});
    assert_eq!(
        tokens.info(&crafted(Algorithm::ES256, &kp, &no_exp), 1),
        alice(2)
    );
}

#[test]
fn garbage_and_forgeries_are_refused() {
    let kp = p256();
    let tokens = signer(Algorithm::ES256, &kp);
    let token = tokens.assign("alice", 1, "", 1).expect("assign");
    let (head, sig) = token.rsplit_once('.').expect("three parts");
    let mut flipped = sig.as_bytes().to_vec();
    flipped[3] = if flipped[3] == b'A' { b'B' } else { b'A' };
    let flipped = format!("{head}.{}", String::from_utf8(flipped).expect("ascii"));
    // Claims swapped under the original signature.
    let (_, rest) = token.split_once('.').expect("parts");
    let (_, sig_only) = rest.split_once('.').expect("parts");
    let forged_body = crafted(
        Algorithm::ES256,
        &p256(),
        &json!({"username": "root", "revision": 1}),
    );
    let (forged_head, forged_rest) = forged_body.split_once('.').expect("parts");
    let (forged_claims, _) = forged_rest.split_once('.').expect("parts");
    let spliced = format!("{forged_head}.{forged_claims}.{sig_only}");
    // The public key used as an HMAC secret (the classic algorithm confusion).
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &json!({"username": "root", "revision": 1, "exp": now() + 60}),
        &EncodingKey::from_secret(kp.public_key_pem().as_bytes()),
    )
    .expect("encode");
    for bad in [
        "",
        "abc",
        "a.b.c",
        "abcdefghijklmnop.4",
        head,
        &flipped,
        &spliced,
        &confused,
    ] {
        assert_eq!(
            tokens.info(bad, 1),
            Err(AuthError::InvalidAuthToken),
            "{bad:?}"
        );
    }
}

#[test]
fn another_sign_method_is_refused() {
    let kp = p256();
    let es256 = signer(Algorithm::ES256, &kp);
    let token = es256.assign("alice", 1, "", 1).expect("assign");
    let ed = signer(Algorithm::EdDSA, &key(&rcgen::PKCS_ED25519));
    assert_eq!(ed.info(&token, 1), Err(AuthError::InvalidAuthToken));
}

#[test]
fn a_public_key_only_verifies() {
    let kp = p256();
    let tokens = verifier(Algorithm::ES256, &kp);
    assert!(!tokens.can_sign());
    assert_eq!(tokens.assign("alice", 1, "", 1), Err(AuthError::VerifyOnly));
    let token = signer(Algorithm::ES256, &kp)
        .assign("alice", 8, "", 1)
        .expect("assign");
    assert_eq!(tokens.info(&token, 1), alice(8));
}

#[test]
fn a_private_key_alone_signs_and_verifies() {
    for (method, alg) in [
        (Algorithm::ES256, &rcgen::PKCS_ECDSA_P256_SHA256),
        (Algorithm::ES384, &rcgen::PKCS_ECDSA_P384_SHA384),
        (Algorithm::EdDSA, &rcgen::PKCS_ED25519),
    ] {
        let kp = key(alg);
        let tokens =
            JwtTokens::new(method, None, Some(kp.serialize_pem().as_bytes()), TTL).expect("load");
        assert!(tokens.can_sign());
        let token = tokens.assign("alice", 2, "", 1).expect("assign");
        assert_eq!(tokens.info(&token, 1), alice(2), "{method:?}");
        assert_eq!(
            verifier(method, &kp).info(&token, 1),
            alice(2),
            "{method:?}"
        );
    }
}

#[test]
fn sec1_ec_private_keys_load() {
    use p256::pkcs8::{DecodePrivateKey, LineEnding};
    let kp = p256();
    let sec1 = p256::SecretKey::from_pkcs8_pem(&kp.serialize_pem())
        .expect("pkcs8")
        .to_sec1_pem(LineEnding::LF)
        .expect("sec1");
    assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let tokens = JwtTokens::new(
        Algorithm::ES256,
        Some(kp.public_key_pem().as_bytes()),
        Some(sec1.as_bytes()),
        TTL,
    )
    .expect("load SEC1");
    let token = tokens.assign("alice", 1, "", 1).expect("assign");
    assert_eq!(verifier(Algorithm::ES256, &kp).info(&token, 1), alice(1));
}

#[test]
fn rsa_keys_in_each_pem_form() {
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let key = rsa::RsaPrivateKey::from_pkcs1_pem(RSA_PKCS1).expect("fixture");
    let pkcs8 = key.to_pkcs8_pem(LineEnding::LF).expect("pkcs8");
    let pkix = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("pkix");
    let pkcs1_pub = key
        .to_public_key()
        .to_pkcs1_pem(LineEnding::LF)
        .expect("pkcs1");
    for method in [Algorithm::RS256, Algorithm::PS384] {
        let pkcs1_signer = JwtTokens::new(
            method,
            Some(pkix.as_bytes()),
            Some(RSA_PKCS1.as_bytes()),
            TTL,
        )
        .expect("PKCS#1 private key");
        let pkcs8_signer =
            JwtTokens::new(method, None, Some(pkcs8.as_bytes()), TTL).expect("PKCS#8 key");
        let pkcs1_verifier =
            JwtTokens::new(method, Some(pkcs1_pub.as_bytes()), None, TTL).expect("PKCS#1 pub");
        let a = pkcs1_signer.assign("alice", 6, "", 1).expect("assign");
        let b = pkcs8_signer.assign("alice", 6, "", 1).expect("assign");
        for token in [&a, &b] {
            assert_eq!(pkcs1_verifier.info(token, 1), alice(6), "{method:?}");
            assert_eq!(pkcs1_signer.info(token, 1), alice(6), "{method:?}");
        }
    }
}

#[test]
fn hmac_uses_the_private_key_file_as_secret() {
    let secret = b"a shared secret\n";
    let tokens = JwtTokens::new(Algorithm::HS256, None, Some(secret), TTL).expect("load");
    let token = tokens.assign("alice", 1, "", 1).expect("assign");
    assert_eq!(tokens.info(&token, 1), alice(1));
    let other =
        JwtTokens::new(Algorithm::HS256, None, Some(b"a shared secret"), TTL).expect("load");
    assert_eq!(other.info(&token, 1), Err(AuthError::InvalidAuthToken));
    assert_eq!(
        JwtTokens::new(Algorithm::HS512, Some(secret), None, TTL).map(|_| ()),
        Err(AuthError::MissingKey)
    );
}

#[test]
fn bad_keys_are_refused() {
    let a = p256();
    let b = p256();
    let load = |method, public: Option<String>, private: Option<String>| {
        JwtTokens::new(
            method,
            public.as_deref().map(str::as_bytes),
            private.as_deref().map(str::as_bytes),
            TTL,
        )
        .map(|_| ())
    };
    assert_eq!(
        load(Algorithm::ES256, None, None),
        Err(AuthError::MissingKey)
    );
    assert_eq!(
        load(
            Algorithm::ES256,
            Some(a.public_key_pem()),
            Some(b.serialize_pem())
        ),
        Err(AuthError::KeyMismatch)
    );
    let ed = key(&rcgen::PKCS_ED25519);
    for (method, public, private) in [
        (Algorithm::ES256, None, Some(ed.serialize_pem())),
        (Algorithm::ES256, Some(ed.public_key_pem()), None),
        (Algorithm::ES384, None, Some(a.serialize_pem())),
        (Algorithm::EdDSA, None, Some(a.serialize_pem())),
        (Algorithm::RS256, None, Some(a.serialize_pem())),
        (Algorithm::RS256, Some(a.public_key_pem()), None),
        (Algorithm::ES256, None, Some("not a key".to_string())),
    ] {
        let got = load(method, public, private);
        assert!(
            matches!(got, Err(AuthError::InvalidKey(_))),
            "{method:?}: {got:?}"
        );
    }
    assert_eq!(
        JwtTokens::new(Algorithm::ES256, None, Some(b"\xff\xfe"), TTL).map(|_| ()),
        Err(AuthError::InvalidKey("priv-key is not PEM".into()))
    );
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write key");
    path
}

#[test]
fn members_sharing_key_files_accept_each_others_tokens() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kp = key(&rcgen::PKCS_ED25519);
    let public = write(dir.path(), "jwt.pub", &kp.public_key_pem());
    let private = write(dir.path(), "jwt.key", &kp.serialize_pem());
    let spec = format!(
        "jwt,pub-key={},priv-key={},sign-method=EdDSA,ttl=10m",
        public.display(),
        private.display()
    );
    let one = token_provider(&spec, Duration::ZERO).expect("member one");
    let two = token_provider(&spec, Duration::ZERO).expect("member two");
    let watcher = token_provider(
        &format!("jwt,pub-key={},sign-method=EdDSA", public.display()),
        Duration::ZERO,
    )
    .expect("verify-only member");
    let t1 = one.assign("alice", 11, &one.prepare(), 1).expect("assign");
    let t2 = two.assign("alice", 12, &two.prepare(), 2).expect("assign");
    for member in [&one, &two, &watcher] {
        assert_eq!(member.info(&t1, 1), alice(11));
        assert_eq!(member.info(&t2, 1), alice(12));
    }
    let exp = claims(&t1)["exp"].as_u64().expect("exp");
    assert!(
        (now() + 590..=now() + 600).contains(&exp),
        "ttl=10m: exp {exp}"
    );
    // Invalidation is a no-op for JWT, as in etcd.
    one.invalidate_user("alice");
    one.invalidate_all();
    assert_eq!(one.info(&t1, 1), alice(11));
}

//! etcd's `--auth-token` values: what each builds, and the values refused.

use std::path::PathBuf;
use std::time::Duration;

use oxcd_auth::token::{Algorithm, DEFAULT_JWT_TTL};
use oxcd_auth::{token_provider, AuthError, JwtOptions, TokenSpec};

fn refused(spec: &str) -> String {
    match TokenSpec::parse(spec) {
        Err(AuthError::InvalidAuthOpts(msg)) => msg,
        other => panic!("{spec:?} gave {other:?}"),
    }
}

#[test]
fn simple_and_empty() {
    assert_eq!(TokenSpec::parse("simple"), Ok(TokenSpec::Simple));
    // etcd parses but ignores options of a simple token.
    assert_eq!(TokenSpec::parse("simple,ttl=5m"), Ok(TokenSpec::Simple));
    assert_eq!(TokenSpec::parse(""), Ok(TokenSpec::Nop));

    let simple = token_provider("simple", Duration::from_secs(30)).expect("simple");
    let prepared = simple.prepare();
    assert_eq!(prepared.len(), 16);
    let token = simple.assign("alice", 1, &prepared, 3).expect("assign");
    assert_eq!(token, format!("{prepared}.3"));
    assert_eq!(simple.info(&token, 2).map(|i| i.user), Ok("alice".into()));

    let nop = token_provider("", Duration::ZERO).expect("nop");
    assert_eq!(nop.prepare(), "");
    assert_eq!(nop.assign("alice", 1, "", 1), Err(AuthError::AuthFailed));
    assert_eq!(nop.info("x.1", 1), Err(AuthError::InvalidAuthToken));
}

#[test]
fn jwt_options() {
    assert_eq!(
        TokenSpec::parse("jwt,pub-key=/k/a.pub,priv-key=/k/a,sign-method=RS256,ttl=1h30m"),
        Ok(TokenSpec::Jwt(JwtOptions {
            sign_method: Algorithm::RS256,
            pub_key: Some(PathBuf::from("/k/a.pub")),
            priv_key: Some(PathBuf::from("/k/a")),
            ttl: Duration::from_secs(5400),
            unknown: vec![],
        }))
    );
    // ttl defaults to 5 minutes; an empty value is absent; unknown keys are listed.
    assert_eq!(
        TokenSpec::parse("jwt,sign-method=ES256,pub-key=,zeta=1,alpha=2,ttl="),
        Ok(TokenSpec::Jwt(JwtOptions {
            sign_method: Algorithm::ES256,
            pub_key: None,
            priv_key: None,
            ttl: DEFAULT_JWT_TTL,
            unknown: vec!["alpha".into(), "zeta".into()],
        }))
    );
    assert_eq!(DEFAULT_JWT_TTL, Duration::from_secs(300));
    for method in [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
        "HS384", "HS512",
    ] {
        match TokenSpec::parse(&format!("jwt,sign-method={method}")) {
            Ok(TokenSpec::Jwt(o)) => assert_eq!(format!("{:?}", o.sign_method), method),
            other => panic!("{method}: {other:?}"),
        }
    }
}

#[test]
fn bad_values_are_refused_with_a_reason() {
    assert!(refused("bogus").contains("unknown token type \"bogus\""));
    assert!(refused("Simple").contains("unknown token type"));
    assert!(refused("jwt").contains("needs sign-method"));
    assert!(refused("jwt,priv-key=/k").contains("needs sign-method"));
    assert!(refused("jwt,sign-method=").contains("needs sign-method"));
    assert!(refused("jwt,sign-method=rs256").contains("invalid auth signature method"));
    assert!(refused("jwt,sign-method=XX256").contains("invalid auth signature method"));
    assert!(refused("jwt,sign-method=ES512").contains("not supported"));
    assert!(refused("jwt,sign-method=none").contains("not supported"));
    assert!(refused("jwt,sign-method=RS256,ttl=abc").contains("ttl \"abc\""));
    assert!(refused("jwt,sign-method=RS256,ttl=5").contains("missing unit"));
    assert!(refused("jwt,sign-method=RS256,ttl=-5m").contains("positive"));
    assert!(refused("jwt,sign-method=RS256,ttl=0").contains("positive"));
    assert!(refused("simple,foo").contains("not KEY=VALUE"));
    assert!(refused("simple,").contains("not KEY=VALUE"));
    assert!(refused("jwt,priv-key=a=b,sign-method=RS256").contains("not KEY=VALUE"));
    assert!(refused("jwt,sign-method=RS256,sign-method=RS256").contains("given twice"));
    let e = TokenSpec::parse("bogus").expect_err("bogus");
    assert!(
        e.to_string().starts_with("auth: invalid auth options: "),
        "{e}"
    );
}

#[test]
fn key_files_are_read_when_built() {
    assert_eq!(
        token_provider("jwt,sign-method=ES256", Duration::ZERO).map(|_| ()),
        Err(AuthError::MissingKey)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("absent.key");
    let spec = format!("jwt,sign-method=ES256,priv-key={}", missing.display());
    // Parsing reads nothing; building does.
    assert!(TokenSpec::parse(&spec).is_ok());
    match token_provider(&spec, Duration::ZERO) {
        Err(AuthError::InvalidAuthOpts(msg)) => {
            assert!(msg.contains("cannot read priv-key"), "{msg}");
            assert!(msg.contains("absent.key"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

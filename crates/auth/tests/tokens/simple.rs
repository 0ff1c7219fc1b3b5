//! [`SimpleTokens`]: etcd's `<16 letters>.<index>` tokens with a sliding TTL.

use std::thread::sleep;
use std::time::Duration;

use oxcd_auth::token::{DEFAULT_SIMPLE_TTL, SIMPLE_TOKEN_LETTERS};
use oxcd_auth::{AuthError, SimpleTokens, TokenInfo, TokenProvider};

fn info(user: &str, revision: u64) -> Result<TokenInfo, AuthError> {
    Ok(TokenInfo {
        user: user.into(),
        revision,
    })
}

#[test]
fn prepare_is_sixteen_random_letters() {
    let tokens = SimpleTokens::new(DEFAULT_SIMPLE_TTL);
    let a = tokens.prepare();
    let b = tokens.prepare();
    assert_eq!(SIMPLE_TOKEN_LETTERS, 16);
    for p in [&a, &b] {
        assert_eq!(p.len(), 16, "{p}");
        assert!(p.bytes().all(|c| c.is_ascii_alphabetic()), "{p}");
    }
    assert_ne!(a, b, "two prepares gave the same letters");
}

#[test]
fn assign_then_info_roundtrip() {
    let tokens = SimpleTokens::new(DEFAULT_SIMPLE_TTL);
    let prepared = tokens.prepare();
    let token = tokens.assign("alice", 3, &prepared, 17).expect("assign");
    assert_eq!(token, format!("{prepared}.17"));
    assert_eq!(tokens.required_index(&token), Some(17));
    // The revision is the store's current one, not the one at assign.
    assert_eq!(tokens.info(&token, 9), info("alice", 9));
    assert_eq!(tokens.info(&token, 10), info("alice", 10));
}

#[test]
fn every_member_assigns_the_same_token() {
    let proposer = SimpleTokens::new(DEFAULT_SIMPLE_TTL);
    let follower = SimpleTokens::new(DEFAULT_SIMPLE_TTL);
    let prepared = proposer.prepare();
    let token = proposer.assign("bob", 1, &prepared, 5).expect("assign");
    assert_eq!(follower.assign("bob", 1, &prepared, 5), Ok(token.clone()));
    assert_eq!(follower.info(&token, 1), info("bob", 1));
}

#[test]
fn unknown_or_malformed_tokens_are_invalid() {
    let tokens = SimpleTokens::new(DEFAULT_SIMPLE_TTL);
    let token = tokens
        .assign("alice", 1, "abcdefghijklmnop", 4)
        .expect("assign");
    for bad in [
        "",
        "abcdefghijklmnop",
        "abcdefghijklmnop.5",
        "abcdefghijklmnop.4.4",
        "abcdefghijklmnop.x",
        "ABCDEFGHIJKLMNOP.4",
    ] {
        assert_eq!(
            tokens.info(bad, 1),
            Err(AuthError::InvalidAuthToken),
            "{bad:?}"
        );
    }
    assert_eq!(tokens.required_index("abcdefghijklmnop"), None);
    assert_eq!(tokens.required_index("a.b.4"), None);
    assert_eq!(tokens.info(&token, 1), info("alice", 1));
}

#[test]
fn a_token_expires_after_its_ttl() {
    let tokens = SimpleTokens::new(Duration::from_millis(50));
    let token = tokens
        .assign("alice", 1, &tokens.prepare(), 1)
        .expect("assign");
    assert_eq!(tokens.info(&token, 1), info("alice", 1));
    sleep(Duration::from_millis(120));
    assert_eq!(tokens.info(&token, 1), Err(AuthError::InvalidAuthToken));
    assert!(tokens.is_empty(), "the expired token is dropped");
}

#[test]
fn each_use_slides_the_ttl() {
    let tokens = SimpleTokens::new(Duration::from_millis(500));
    let token = tokens
        .assign("alice", 1, &tokens.prepare(), 1)
        .expect("assign");
    // 5 x 150 ms = 750 ms, past the TTL, but each use renews it.
    for _ in 0..5 {
        sleep(Duration::from_millis(150));
        assert_eq!(tokens.info(&token, 1), info("alice", 1));
    }
    sleep(Duration::from_millis(700));
    assert_eq!(tokens.info(&token, 1), Err(AuthError::InvalidAuthToken));
}

#[test]
fn assign_sweeps_expired_tokens() {
    let tokens = SimpleTokens::new(Duration::from_millis(50));
    for index in 1..=3 {
        tokens
            .assign("alice", 1, &tokens.prepare(), index)
            .expect("assign");
    }
    assert_eq!(tokens.len(), 3);
    sleep(Duration::from_millis(120));
    let fresh = tokens
        .assign("bob", 1, &tokens.prepare(), 4)
        .expect("assign");
    assert_eq!(tokens.len(), 1, "expired tokens are swept on assign");
    assert_eq!(tokens.info(&fresh, 1), info("bob", 1));
}

#[test]
fn invalidate_user_kills_only_that_users_tokens() {
    let tokens = SimpleTokens::new(DEFAULT_SIMPLE_TTL);
    let a1 = tokens
        .assign("alice", 1, &tokens.prepare(), 1)
        .expect("assign");
    let a2 = tokens
        .assign("alice", 1, &tokens.prepare(), 2)
        .expect("assign");
    let b = tokens
        .assign("bob", 1, &tokens.prepare(), 3)
        .expect("assign");
    tokens.invalidate_user("alice");
    assert_eq!(tokens.info(&a1, 1), Err(AuthError::InvalidAuthToken));
    assert_eq!(tokens.info(&a2, 1), Err(AuthError::InvalidAuthToken));
    assert_eq!(tokens.info(&b, 1), info("bob", 1));
    // A new Authenticate works again.
    let a3 = tokens
        .assign("alice", 2, &tokens.prepare(), 4)
        .expect("assign");
    assert_eq!(tokens.info(&a3, 2), info("alice", 2));
}

#[test]
fn invalidate_all_kills_every_token() {
    let tokens = SimpleTokens::new(DEFAULT_SIMPLE_TTL);
    let a = tokens
        .assign("alice", 1, &tokens.prepare(), 1)
        .expect("assign");
    let b = tokens
        .assign("bob", 1, &tokens.prepare(), 2)
        .expect("assign");
    tokens.invalidate_all();
    assert!(tokens.is_empty());
    assert_eq!(tokens.info(&a, 1), Err(AuthError::InvalidAuthToken));
    assert_eq!(tokens.info(&b, 1), Err(AuthError::InvalidAuthToken));
}

#[test]
fn zero_ttl_means_etcds_default() {
    assert_eq!(
        SimpleTokens::new(Duration::ZERO).ttl(),
        Duration::from_secs(300)
    );
    assert_eq!(
        SimpleTokens::new(Duration::from_secs(7)).ttl(),
        Duration::from_secs(7)
    );
}

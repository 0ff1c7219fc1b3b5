//! Member, cluster and request identifiers, derived the way etcd derives them so that the
//! same flags give the same IDs: a member ID is the first 8 bytes (big-endian) of
//! SHA-1(sorted peer URLs joined + cluster token); the cluster ID is the first 8 bytes of
//! SHA-1 over the sorted member IDs; request IDs are `member(16) | millis(40) | counter(8)`
//! and then count up, so they are unique per member across restarts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};

/// The ID of a member with these peer URLs in the cluster named by `token`.
pub fn member_id(peer_urls: &[String], token: &str) -> u64 {
    let mut urls: Vec<&str> = peer_urls.iter().map(String::as_str).collect();
    urls.sort_unstable();
    let mut h = Sha1::new();
    h.update(urls.concat().as_bytes());
    h.update(token.as_bytes());
    first_u64(&h.finalize())
}

/// The cluster ID of a cluster with these members.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut h = Sha1::new();
    for id in ids {
        h.update(id.to_be_bytes());
    }
    first_u64(&h.finalize())
}

fn first_u64(digest: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(b)
}

/// Generates request IDs unique to one member.
#[derive(Debug)]
pub struct RequestIds {
    next: AtomicU64,
}

impl RequestIds {
    /// A generator for `member_id`, seeded from the wall clock.
    pub fn new(member_id: u64) -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let prefix = (member_id & 0xffff) << 48;
        let ts = (millis & 0xff_ffff_ffff) << 8;
        Self {
            next: AtomicU64::new(prefix | ts),
        }
    }

    /// The next request ID.
    pub fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_order_independent() {
        let a = member_id(&["http://b:2380".into(), "http://a:2380".into()], "tok");
        let b = member_id(&["http://a:2380".into(), "http://b:2380".into()], "tok");
        assert_eq!(a, b);
        assert_ne!(a, member_id(&["http://a:2380".into()], "tok"));
        assert_eq!(cluster_id(&[3, 1, 2]), cluster_id(&[1, 2, 3]));
    }

    #[test]
    fn request_ids_are_unique() {
        let g = RequestIds::new(7);
        let a = g.next();
        let b = g.next();
        assert!(b > a);
        assert_eq!(a >> 48, 7);
    }
}

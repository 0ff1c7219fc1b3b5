//! Key and value construction shared by the workloads.

/// The key for index `i`: `size` bytes (at least 1), the low bytes of `i` big-endian,
/// right-aligned and zero-padded on the left.
pub fn key_bytes(i: usize, size: usize) -> Vec<u8> {
    let size = size.max(1);
    let n = (i as u64).to_be_bytes();
    let mut k = vec![0u8; size];
    let take = size.min(n.len());
    k[size - take..].copy_from_slice(&n[n.len() - take..]);
    k
}

/// `prefix` followed by [`key_bytes`]`(i, size)`.
pub fn prefixed_key(prefix: &[u8], i: usize, size: usize) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(&key_bytes(i, size));
    k
}

/// The end of the range holding every key that starts with `prefix` (etcd's
/// `WithPrefix`): `prefix` with its last byte below 0xff incremented and the rest cut.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte is 0xff (or the prefix is empty): the range runs to the end of the key space.
    vec![0]
}

/// A value of `size` bytes (at least 8) that starts with the big-endian operation
/// number `i`, so a watch event names the put that caused it.
pub fn tagged_value(i: usize, size: usize) -> Vec<u8> {
    let mut v = vec![b'x'; size.max(8)];
    v[..8].copy_from_slice(&(i as u64).to_be_bytes());
    v
}

/// The operation number a [`tagged_value`] carries, if the value is long enough.
pub fn value_tag(value: &[u8]) -> Option<usize> {
    let head: [u8; 8] = value.get(..8)?.try_into().ok()?;
    usize::try_from(u64::from_be_bytes(head)).ok()
}

/// A random prefix `/oxcd-bench/<what>/<hex>/`, so runs do not see each other's keys.
pub fn random_prefix(what: &str) -> Vec<u8> {
    format!("/oxcd-bench/{what}/{:08x}/", rand::random::<u32>()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_distinct_and_sized() {
        assert_eq!(key_bytes(1, 8), vec![0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(key_bytes(0x0102, 1), vec![0x02]);
        assert_eq!(key_bytes(7, 10).len(), 10);
        assert_ne!(key_bytes(1, 2), key_bytes(2, 2));
    }

    #[test]
    fn prefix_end_covers_the_prefix() {
        assert_eq!(prefix_end(b"ab"), b"ac".to_vec());
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b".to_vec());
        assert_eq!(prefix_end(&[0xff]), vec![0]);
    }

    #[test]
    fn tagged_values_round_trip() {
        let v = tagged_value(123_456, 32);
        assert_eq!(v.len(), 32);
        assert_eq!(value_tag(&v), Some(123_456));
        assert_eq!(value_tag(b"short"), None);
    }
}

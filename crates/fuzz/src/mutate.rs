//! [`Mutator`]: an AFL-style "havoc" mutator without coverage feedback.
//!
//! One mutation stacks 2 to 32 random edits on a corpus entry: bit flips, random bytes,
//! "interesting" integers (boundaries, sign flips, etcd limits) at every width and both
//! byte orders, small additions, block deletes, copies and inserts, dictionary tokens,
//! protobuf varints (random lengths), splices from another corpus entry, truncation and
//! extension. The result never exceeds the target's `max_len`.

use crate::rng::Rng;

const INTERESTING_8: [i8; 9] = [-128, -1, 0, 1, 16, 32, 64, 100, 127];
const INTERESTING_16: [i16; 10] = [-32768, -129, 128, 255, 256, 512, 1000, 1024, 4096, 32767];
const INTERESTING_32: [i32; 8] = [
    i32::MIN,
    -100_663_046,
    -32769,
    32768,
    65535,
    65536,
    100_663_045,
    i32::MAX,
];
const INTERESTING_64: [u64; 12] = [
    0,
    1,
    u64::MAX,
    i64::MAX as u64,
    i64::MIN as u64,
    1 << 32,
    (1 << 32) - 1,
    1 << 53,
    1 << 63,
    9_000_000_000,
    9_000_000_001,
    128,
];

/// A havoc mutator for one target.
#[derive(Debug, Clone, Copy)]
pub struct Mutator<'a> {
    /// Tokens worth inserting whole (JSON field names, magic bytes, ...).
    pub dict: &'a [&'a [u8]],
    /// Upper bound on the length of a mutated input.
    pub max_len: usize,
}

impl Mutator<'_> {
    /// Mutates `input` in place; `other` is another corpus entry for splices.
    pub fn mutate(&self, rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
        if !other.is_empty() && rng.one_in(8) {
            let cut_a = rng.below(input.len() + 1);
            let cut_b = rng.below(other.len());
            input.truncate(cut_a);
            input.extend_from_slice(&other[cut_b..]);
        }
        let edits = 1usize << (1 + rng.below(5));
        for _ in 0..edits {
            self.edit(rng, input, other);
            if input.len() > self.max_len {
                input.truncate(self.max_len);
            }
        }
    }

    fn edit(&self, rng: &mut Rng, buf: &mut Vec<u8>, other: &[u8]) {
        match rng.below(18) {
            0 => flip_bit(rng, buf),
            1 => {
                if let Some(i) = pos(rng, buf) {
                    buf[i] = rng.byte();
                }
            }
            2 => {
                let v = INTERESTING_8[rng.below(INTERESTING_8.len())] as u8;
                overwrite(rng, buf, &[v]);
            }
            3 => {
                let v = INTERESTING_16[rng.below(INTERESTING_16.len())];
                let b = if rng.one_in(2) {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                overwrite(rng, buf, &b);
            }
            4 => {
                let v = INTERESTING_32[rng.below(INTERESTING_32.len())];
                let b = if rng.one_in(2) {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                overwrite(rng, buf, &b);
            }
            5 => {
                let v = INTERESTING_64[rng.below(INTERESTING_64.len())];
                let b = if rng.one_in(2) {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                overwrite(rng, buf, &b);
            }
            6 => {
                if let Some(i) = pos(rng, buf) {
                    let d = 1 + rng.below(35) as u8;
                    buf[i] = if rng.one_in(2) {
                        buf[i].wrapping_add(d)
                    } else {
                        buf[i].wrapping_sub(d)
                    };
                }
            }
            7 => add_wide(rng, buf),
            8 => {
                if buf.len() > 1 {
                    let len = rng.small_len(buf.len() - 1);
                    let at = rng.below(buf.len() - len + 1);
                    buf.drain(at..at + len);
                }
            }
            9 => {
                if !buf.is_empty() {
                    let len = rng.small_len(buf.len());
                    let from = rng.below(buf.len() - len + 1);
                    let block = buf[from..from + len].to_vec();
                    insert(rng, buf, &block);
                }
            }
            10 => {
                let len = rng.small_len(self.max_len.min(256));
                let block: Vec<u8> = if rng.one_in(2) {
                    vec![rng.byte(); len]
                } else {
                    (0..len).map(|_| rng.byte()).collect()
                };
                insert(rng, buf, &block);
            }
            11 => {
                if buf.len() > 1 {
                    let len = rng.small_len(buf.len() / 2);
                    let from = rng.below(buf.len() - len + 1);
                    let block = buf[from..from + len].to_vec();
                    overwrite(rng, buf, &block);
                }
            }
            12 | 13 => {
                if !self.dict.is_empty() {
                    let token = self.dict[rng.below(self.dict.len())];
                    if rng.one_in(2) {
                        insert(rng, buf, token);
                    } else {
                        overwrite(rng, buf, token);
                    }
                }
            }
            14 => {
                if !other.is_empty() {
                    let len = rng.small_len(other.len());
                    let from = rng.below(other.len() - len + 1);
                    insert(rng, buf, &other[from..from + len]);
                }
            }
            15 => {
                if !buf.is_empty() {
                    let at = rng.below(buf.len());
                    buf.truncate(at);
                }
            }
            16 => {
                let len = rng.small_len(64);
                for _ in 0..len {
                    buf.push(rng.byte());
                }
            }
            _ => {
                let v = if rng.one_in(2) {
                    INTERESTING_64[rng.below(INTERESTING_64.len())]
                } else {
                    rng.next_u64() >> rng.below(64)
                };
                let mut b = Vec::with_capacity(10);
                varint(v, &mut b);
                if rng.one_in(2) {
                    insert(rng, buf, &b);
                } else {
                    overwrite(rng, buf, &b);
                }
            }
        }
    }
}

/// Appends `v` as a protobuf varint.
pub fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn pos(rng: &mut Rng, buf: &[u8]) -> Option<usize> {
    (!buf.is_empty()).then(|| rng.below(buf.len()))
}

fn flip_bit(rng: &mut Rng, buf: &mut [u8]) {
    if let Some(i) = pos(rng, buf) {
        buf[i] ^= 1 << rng.below(8);
    }
}

fn overwrite(rng: &mut Rng, buf: &mut Vec<u8>, bytes: &[u8]) {
    if buf.len() < bytes.len() {
        insert(rng, buf, bytes);
        return;
    }
    let at = rng.below(buf.len() - bytes.len() + 1);
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

fn insert(rng: &mut Rng, buf: &mut Vec<u8>, bytes: &[u8]) {
    let at = rng.below(buf.len() + 1);
    buf.splice(at..at, bytes.iter().copied());
}

fn add_wide(rng: &mut Rng, buf: &mut [u8]) {
    let width = if rng.one_in(2) { 2 } else { 4 };
    if buf.len() < width {
        return;
    }
    let at = rng.below(buf.len() - width + 1);
    let delta = 1 + rng.below(35) as u32;
    let sub = rng.one_in(2);
    let be = rng.one_in(2);
    let slot = &mut buf[at..at + width];
    let mut v: u32 = 0;
    for (i, b) in slot.iter().enumerate() {
        let shift = if be { 8 * (width - 1 - i) } else { 8 * i };
        v |= u32::from(*b) << shift;
    }
    v = if sub {
        v.wrapping_sub(delta)
    } else {
        v.wrapping_add(delta)
    };
    for (i, b) in slot.iter_mut().enumerate() {
        let shift = if be { 8 * (width - 1 - i) } else { 8 * i };
        *b = (v >> shift) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn respects_max_len_and_is_deterministic() {
        let m = Mutator {
            dict: &[b"\"key\"", b"{}"],
            max_len: 100,
        };
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut out = Vec::new();
            for _ in 0..200 {
                let mut input = b"{\"key\":\"Zm9v\"}".to_vec();
                m.mutate(&mut rng, &mut input, b"other entry");
                assert!(input.len() <= 100);
                out.push(input);
            }
            out
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }

    #[test]
    fn varint_encoding() {
        let mut b = Vec::new();
        varint(300, &mut b);
        assert_eq!(b, [0xac, 0x02]);
    }
}

//! [`Rng`]: a small deterministic generator (SplitMix64), so that an input is a pure
//! function of `(seed, target, index)` on every platform and every `rand` version.

/// SplitMix64: fast, full-period, good enough to drive mutations.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// The generator of input `index` of the target named `target` under `seed`.
    pub fn for_input(seed: u64, target: &str, index: u64) -> Self {
        let mut h = Rng::new(seed ^ 0x6a09_e667_f3bc_c908);
        for b in target.bytes() {
            h.state ^= u64::from(b);
            h.next_u64();
        }
        Rng::new(h.next_u64() ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (0 when `n == 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// A length in `1..=max`, biased towards small values (half of them below 8).
    pub fn small_len(&mut self, max: usize) -> usize {
        let max = max.max(1);
        let cap = match self.below(4) {
            0 | 1 => 8,
            2 => 64,
            _ => max,
        };
        1 + self.below(cap.min(max))
    }

    /// A random byte.
    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct_per_input() {
        let a: Vec<u64> = (0..4).map(|_| Rng::new(7).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let x = Rng::for_input(1, "grpc-decode", 0).next_u64();
        let y = Rng::for_input(1, "grpc-decode", 1).next_u64();
        let z = Rng::for_input(1, "gateway-json", 0).next_u64();
        assert!(x != y && x != z && y != z);
        assert_eq!(x, Rng::for_input(1, "grpc-decode", 0).next_u64());
    }

    #[test]
    fn bounds_hold() {
        let mut r = Rng::new(3);
        for _ in 0..1000 {
            assert!(r.below(10) < 10);
            let l = r.small_len(5);
            assert!((1..=5).contains(&l));
        }
        assert_eq!(r.below(0), 0);
    }
}

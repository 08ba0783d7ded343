//! The seeded generator behind every split and random search: MT19937 with numpy's legacy
//! seeding and its legacy `permutation`, so that `random:0.8` and `kfold:5` with seed 42 give
//! exactly the peers' saved ML-100K split (`numpy.random.RandomState(42).permutation(n)`).
//!
//! We keep our own 60 lines instead of the `rand` crate for two reasons: the peers' splits are
//! numpy's, and a split must stay the same across dependency upgrades (rand documents that its
//! `StdRng` may change between versions), or saved experiment figures stop being comparable.

/// Mersenne Twister MT19937 (Matsumoto and Nishimura, 1998), numpy `RandomState` flavour.
#[derive(Clone)]
pub(crate) struct Mt19937 {
    mt: [u32; N],
    pos: usize,
}

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER: u32 = 0x8000_0000;
const LOWER: u32 = 0x7fff_ffff;

impl Mt19937 {
    /// The generator of `numpy.random.RandomState(seed)`. Seeds of 2^32 and more (which
    /// numpy refuses as a plain int) seed like `RandomState([low 32 bits, high 32 bits])`.
    pub(crate) fn new(seed: u64) -> Self {
        match u32::try_from(seed) {
            Ok(s) => Self::from_u32(s),
            Err(_) => Self::from_key(&[seed as u32, (seed >> 32) as u32]),
        }
    }

    fn from_u32(seed: u32) -> Self {
        let mut mt = [0u32; N];
        mt[0] = seed;
        for i in 1..N {
            mt[i] = 1_812_433_253u32.wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { mt, pos: N }
    }

    /// `init_by_array` of the reference implementation.
    fn from_key(key: &[u32]) -> Self {
        let mut g = Self::from_u32(19_650_218);
        let mt = &mut g.mt;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525)).wrapping_add(key[j]).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        g
    }

    fn twist(&mut self) {
        for k in 0..N {
            let y = (self.mt[k] & UPPER) | (self.mt[(k + 1) % N] & LOWER);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.mt[k] = self.mt[(k + M) % N] ^ (y >> 1) ^ mag;
        }
        self.pos = 0;
    }

    /// The next 32 random bits.
    pub(crate) fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.twist();
        }
        let mut y = self.mt[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A uniform integer in `0..=max`, by numpy's masked rejection (`random_interval`).
    pub(crate) fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for s in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> s;
        }
        loop {
            let v = if max <= u32::MAX as u64 {
                self.next_u32() as u64 & mask
            } else {
                ((self.next_u32() as u64) << 32 | self.next_u32() as u64) & mask
            };
            if v <= max {
                return v;
            }
        }
    }

    /// A uniform float in [0, 1) with 53 random bits (numpy's `random_sample`).
    pub(crate) fn next_f64(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `numpy.random.RandomState(seed).permutation(n)`: a Fisher-Yates shuffle from the end.
    pub(crate) fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u64) as usize;
            p.swap(i, j);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_mt19937_outputs() {
        // The first outputs of init_genrand(5489), the reference implementation's default
        // seed, as published with mt19937ar.c and std::mt19937.
        let mut g = Mt19937::new(5489);
        assert_eq!(g.next_u32(), 3_499_211_612);
        assert_eq!(g.next_u32(), 581_869_302);
        assert_eq!(g.next_u32(), 3_890_346_734);
        // std::mt19937's 10,000th output is 4123659995 (C++ standard, [rand.predef]).
        let mut g = Mt19937::new(5489);
        let last = (0..10_000).map(|_| g.next_u32()).last();
        assert_eq!(last, Some(4_123_659_995));
    }

    #[test]
    fn init_by_array_matches_mt19937ar() {
        // mt19937ar.c's test program seeds with {0x123, 0x234, 0x345, 0x456}; its first
        // output is 1067595299.
        let mut g = Mt19937::from_key(&[0x123, 0x234, 0x345, 0x456]);
        assert_eq!(g.next_u32(), 1_067_595_299);
    }

    #[test]
    fn permutation_is_a_permutation_and_seeded() {
        let a = Mt19937::new(7).permutation(1000);
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..1000).collect::<Vec<_>>());
        assert_eq!(a, Mt19937::new(7).permutation(1000));
        assert_ne!(a, Mt19937::new(8).permutation(1000));
    }

    #[test]
    fn floats_and_intervals_stay_in_range() {
        let mut g = Mt19937::new(1);
        for _ in 0..10_000 {
            let x = g.next_f64();
            assert!((0.0..1.0).contains(&x));
            assert!(g.interval(6) <= 6);
            assert!(g.interval(1 << 40) <= 1 << 40);
        }
    }
}

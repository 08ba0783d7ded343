//! Walker's alias method: O(1) draws from a fixed discrete distribution.
//!
//! Popularity is drawn tens of millions of times from a table of up to a million movies, so a
//! draw must not cost a binary search over a CDF (log2(60k) = 16 cache misses per draw).
//! Built with Vose's stable variant.
use crate::rng::Xoshiro;
use rand::RngCore;

/// A table answering "draw index i with probability w[i] / sum(w)".
#[derive(Debug, Clone)]
pub(crate) struct AliasTable {
    /// Keep-probability of each column, scaled to 2^32 (so 1.0 is 2^32 and always keeps).
    keep: Vec<u64>,
    /// The other index of each column.
    alias: Vec<u32>,
}

impl AliasTable {
    /// Builds the table. Returns `None` when `weights` is empty, has more than `u32::MAX`
    /// entries, or does not sum to a positive finite number.
    pub(crate) fn new(weights: &[f64]) -> Option<Self> {
        let n = weights.len();
        if n == 0 || n > u32::MAX as usize {
            return None;
        }
        let sum: f64 = weights.iter().sum();
        if !(sum.is_finite() && sum > 0.0) || weights.iter().any(|w| w.is_nan() || *w < 0.0) {
            return None;
        }
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / sum).collect();
        let mut keep = vec![1u64 << 32; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<u32>, Vec<u32>) =
            (0..n as u32).partition(|&i| scaled[i as usize] < 1.0);
        while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
            let (su, lu) = (s as usize, l as usize);
            keep[su] = (scaled[su] * (1u64 << 32) as f64) as u64;
            alias[su] = l;
            scaled[lu] -= 1.0 - scaled[su];
            if scaled[lu] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left (in either list, through rounding) keeps its own column: it already
        // does, as keep defaults to 1.0 and alias to itself.
        Some(AliasTable { keep, alias })
    }

    /// Number of outcomes.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keep.len()
    }

    /// Draws one index.
    #[inline]
    pub(crate) fn sample(&self, rng: &mut Xoshiro) -> usize {
        let r = rng.next_u64();
        let i = (((r >> 32) * self.keep.len() as u64) >> 32) as usize;
        if (r & 0xFFFF_FFFF) < self.keep[i] {
            i
        } else {
            self.alias[i] as usize
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Stream;

    #[test]
    fn rejects_bad_weights() {
        assert!(AliasTable::new(&[]).is_none());
        assert!(AliasTable::new(&[0.0, 0.0]).is_none());
        assert!(AliasTable::new(&[1.0, -1.0, 3.0]).is_none());
        assert!(AliasTable::new(&[1.0, f64::NAN]).is_none());
        assert!(AliasTable::new(&[1.0, f64::INFINITY]).is_none());
    }

    #[test]
    fn frequencies_follow_weights() {
        let w = [5.0, 1.0, 0.0, 3.0, 1.0];
        let t = AliasTable::new(&w).expect("valid weights");
        assert_eq!(t.len(), 5);
        let mut rng = Xoshiro::for_stream(1, Stream::Movies, 0);
        let n = 200_000;
        let mut hits = [0u32; 5];
        for _ in 0..n {
            hits[t.sample(&mut rng)] += 1;
        }
        assert_eq!(hits[2], 0, "a zero weight is never drawn");
        for (i, wi) in w.iter().enumerate() {
            let expect = wi / 10.0;
            let got = f64::from(hits[i]) / f64::from(n);
            assert!((got - expect).abs() < 0.01, "index {i}: {got} vs {expect}");
        }
    }
}

//! Sets and maps keyed by id, fast for the dense positive ids MovieLens uses.
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for `i64` keys: one multiply-xorshift round (the splitmix64 finaliser).
///
/// SipHash (the std default) protects against crafted collisions, which costs time per
/// lookup and buys nothing for ids read from a file we are loading anyway.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_i64(&mut self, i: i64) {
        let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.0 = z ^ (z >> 31);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type IdBuild = BuildHasherDefault<IdHasher>;
pub(crate) type IdHashSet = HashSet<i64, IdBuild>;
pub(crate) type IdHashMap<V> = HashMap<i64, V, IdBuild>;

/// Ids below this live in a bitmap (8 MiB at most); larger ones in a hash set.
const DENSE_LIMIT: i64 = 1 << 26;

/// A set of ids with a bitmap for small ones: one load and a bit test per lookup on the
/// ratings hot path.
#[derive(Debug, Default, Clone)]
pub(crate) struct IdSet {
    bits: Vec<u64>,
    sparse: IdHashSet,
}

impl IdSet {
    /// Adds `id`; returns whether it was new.
    pub(crate) fn insert(&mut self, id: i64) -> bool {
        if (0..DENSE_LIMIT).contains(&id) {
            let (word, bit) = ((id >> 6) as usize, id & 63);
            if self.bits.len() <= word {
                self.bits.resize(word + 1, 0);
            }
            match self.bits.get_mut(word) {
                Some(w) => {
                    let was = *w & (1 << bit) != 0;
                    *w |= 1 << bit;
                    !was
                }
                None => false,
            }
        } else {
            self.sparse.insert(id)
        }
    }

    #[inline]
    pub(crate) fn contains(&self, id: i64) -> bool {
        if (0..DENSE_LIMIT).contains(&id) {
            self.bits
                .get((id >> 6) as usize)
                .is_some_and(|w| w & (1 << (id & 63)) != 0)
        } else {
            self.sparse.contains(&id)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn id_set_small_and_large() {
        let mut s = IdSet::default();
        assert!(s.insert(1));
        assert!(!s.insert(1));
        assert!(s.insert(DENSE_LIMIT + 5));
        assert!(s.insert(-3));
        assert!(s.insert(i64::MAX));
        assert!(
            s.contains(1) && s.contains(DENSE_LIMIT + 5) && s.contains(-3) && s.contains(i64::MAX)
        );
        assert!(!s.contains(2) && !s.contains(1 << 40) && !s.contains(0));
    }

    #[test]
    fn hash_set_works_with_the_id_hasher() {
        let mut s = IdHashSet::default();
        for i in 0..10_000 {
            assert!(s.insert(i * 7));
        }
        assert!(s.contains(&700) && !s.contains(&701));
    }
}

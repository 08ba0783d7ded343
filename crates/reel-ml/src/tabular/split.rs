//! Stratified hold-out splits and stratified k-fold, seeded.
//!
//! Each class's rows are shuffled (SplitMix64 with the seed) and dealt out: for a hold-out
//! split the first `round(n_c * test_fraction)` of class `c` are test; for k folds the row
//! at shuffled position `j` of its class goes to fold `(offset_c + j) % k`, where the offsets
//! continue from class to class so fold sizes differ by at most one. Regression targets
//! (no classes) are shuffled as one group.
use super::rng::Rng;
use crate::{Error, Result};

/// Train and test row indices, each sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowSplit {
    /// Training rows.
    pub train: Vec<usize>,
    /// Held-out rows.
    pub test: Vec<usize>,
}

fn groups(classes: Option<&[usize]>, n: usize) -> Vec<Vec<usize>> {
    match classes {
        Some(y) => {
            let k = y.iter().copied().max().map_or(0, |m| m + 1);
            let mut g = vec![Vec::new(); k];
            for (r, &c) in y.iter().enumerate() {
                g[c].push(r);
            }
            g
        }
        None => vec![(0..n).collect()],
    }
}

/// A stratified hold-out split of `n` rows (class of each row in `classes`, if any).
pub fn stratified_split(n: usize, classes: Option<&[usize]>, test_fraction: f64, seed: u64) -> Result<RowSplit> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::Data(format!("test fraction {test_fraction} is not between 0 and 1 (exclusive); e.g. 0.2")));
    }
    let mut rng = Rng::new(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for g in groups(classes, n) {
        let perm = rng.permutation(g.len());
        let n_test = (g.len() as f64 * test_fraction).round() as usize;
        for (j, &p) in perm.iter().enumerate() {
            if j < n_test { test.push(g[p]) } else { train.push(g[p]) }
        }
    }
    train.sort_unstable();
    test.sort_unstable();
    if train.is_empty() || test.is_empty() {
        return Err(Error::Data(format!(
            "{n} rows are too few to hold out {test_fraction} of them; pass --test FILE or use more rows"
        )));
    }
    Ok(RowSplit { train, test })
}

/// `k` stratified folds: split `f` holds out fold `f`.
pub fn stratified_kfold(n: usize, classes: Option<&[usize]>, k: usize, seed: u64) -> Result<Vec<RowSplit>> {
    if k < 2 || k > n {
        return Err(Error::Data(format!("{k} folds of {n} rows: choose between 2 and {n} folds")));
    }
    let mut rng = Rng::new(seed);
    let mut fold = vec![0usize; n];
    let mut offset = 0usize;
    for g in groups(classes, n) {
        let perm = rng.permutation(g.len());
        for (j, &p) in perm.iter().enumerate() {
            fold[g[p]] = (offset + j) % k;
        }
        offset += g.len();
    }
    Ok((0..k)
        .map(|f| RowSplit {
            train: (0..n).filter(|&r| fold[r] != f).collect(),
            test: (0..n).filter(|&r| fold[r] == f).collect(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_out_keeps_class_shares() {
        let y: Vec<usize> = (0..1000).map(|r| usize::from(r % 4 == 0)).collect();
        let s = stratified_split(1000, Some(&y), 0.2, 42).expect("valid");
        assert_eq!(s.test.len(), 200);
        assert_eq!(s.test.iter().filter(|&&r| y[r] == 1).count(), 50);
        let again = stratified_split(1000, Some(&y), 0.2, 42).expect("valid");
        assert_eq!(s, again, "seeded");
        assert!(stratified_split(10, None, 1.5, 1).is_err());
    }

    #[test]
    fn folds_partition_the_rows_and_stratify() {
        let y: Vec<usize> = (0..103).map(|r| r % 3).collect();
        let f = stratified_kfold(103, Some(&y), 5, 7).expect("valid");
        let mut seen = vec![0; 103];
        for s in &f {
            for &r in &s.test {
                seen[r] += 1;
            }
            assert_eq!(s.train.len() + s.test.len(), 103);
            assert!((20..=21).contains(&s.test.len()), "{}", s.test.len());
        }
        assert!(seen.iter().all(|&c| c == 1));
        assert!(stratified_kfold(3, None, 5, 1).is_err());
    }
}

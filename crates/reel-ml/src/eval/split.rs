//! Train/test splits of [`Ratings`], as row indices.
//!
//! | spec | rule |
//! |---|---|
//! | `random:F` | `p = numpy.random.RandomState(seed).permutation(n)`; rows `p[..n - round(F·n)]` are test |
//! | `temporal:F` | per user, rows ordered by (timestamp, row); the first `max(1, round(F·n_u))` train, the rest test |
//! | `leave-last-out` | per user with ≥ 2 ratings, the last row by (timestamp, row) is test |
//! | `kfold:K` | the same permutation `p`; row `p[j]` is in fold `j mod K` |
//!
//! With seed 42, `random:0.8` and `kfold:5` give exactly the peers' saved ML-100K split
//! (`train.csv`/`test.csv`, `folds5.csv`) from `u.data` in its original order.
//! Every split lists its rows ascending, so `Ratings::select` keeps the original order.
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::rng::Mt19937;
use crate::data::Ratings;
use crate::{Error, Result};

/// One train/test split: row indices into the ratings it was made from, each ascending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Split {
    /// Training rows.
    pub train: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

impl Split {
    /// A split from a per-row "is test" flag.
    pub fn from_mask(is_test: &[bool]) -> Split {
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (k, &t) in is_test.iter().enumerate() {
            if t { test.push(k) } else { train.push(k) }
        }
        Split { train, test }
    }

    /// The (train, test) ratings. Refuses indices outside `ratings`, e.g. a split made from
    /// another data set.
    pub fn apply(&self, ratings: &Ratings) -> Result<(Ratings, Ratings)> {
        ratings.check()?;
        let n = ratings.len();
        if let Some(&bad) = self.train.iter().chain(&self.test).find(|&&k| k >= n) {
            return Err(Error::Data(format!(
                "the split refers to row {bad} but the ratings have {n} rows; make the split from these ratings"
            )));
        }
        Ok((ratings.select(&self.train), ratings.select(&self.test)))
    }
}

/// Fold numbers per row, 0..k, every fold non-empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Folds {
    fold: Vec<u32>,
    k: usize,
}

impl Folds {
    /// Folds from one fold number per row. Refuses fewer than 2 folds and gaps (a fold
    /// number with no row), which would make an empty test set.
    pub fn try_new(fold: Vec<u32>) -> Result<Folds> {
        let k = fold.iter().max().map_or(0, |&m| m as usize + 1);
        if k < 2 {
            return Err(Error::Data(format!(
                "k-fold needs at least 2 folds but the fold numbers give {k}; number the folds 0, 1, ..."
            )));
        }
        // More folds than rows would leave one empty; checking first also keeps a stray
        // fold number like 4294967295 from allocating a vector of that size.
        if k > fold.len() {
            return Err(Error::Data(format!(
                "the fold numbers go up to {} but there are only {} rows, so some fold is empty; number the folds 0 to k-1 without gaps",
                k - 1,
                fold.len()
            )));
        }
        let mut seen = vec![false; k];
        for &f in &fold {
            seen[f as usize] = true;
        }
        if let Some(empty) = seen.iter().position(|s| !s) {
            return Err(Error::Data(format!(
                "fold {empty} has no rows (folds go up to {}); number the folds 0 to k-1 without gaps",
                k - 1
            )));
        }
        Ok(Folds { fold, k })
    }

    /// Number of folds.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The fold of each row.
    pub fn folds(&self) -> &[u32] {
        &self.fold
    }

    /// Fold `f` as test, the others as train (`f` must be below [`Folds::k`]; a larger one
    /// gives an empty test set).
    pub fn split(&self, f: usize) -> Split {
        let is_test: Vec<bool> = self.fold.iter().map(|&x| x as usize == f).collect();
        Split::from_mask(&is_test)
    }

    /// All `k` splits, fold 0 first.
    pub fn splits(&self) -> Vec<Split> {
        (0..self.k).map(|f| self.split(f)).collect()
    }
}

fn check_fraction(train_fraction: f64) -> Result<()> {
    if !(train_fraction > 0.0 && train_fraction < 1.0) {
        return Err(Error::Data(format!(
            "the train fraction must be between 0 and 1 (exclusive), got {train_fraction}; e.g. 0.8 keeps 80% for training"
        )));
    }
    Ok(())
}

/// How many of `n` go to training at `fraction`: `round(fraction · n)`, rounding half away
/// from zero. `round` and not `floor`/`ceil` so that 0.7 · 10 = 7.000000000000001 gives 7.
fn n_train(fraction: f64, n: usize) -> usize {
    ((fraction * n as f64).round() as usize).min(n)
}

/// A random split: `n - round(F·n)` rows to test, chosen as the first ones of
/// `numpy.random.RandomState(seed).permutation(n)` (deterministic for a seed).
pub fn random(ratings: &Ratings, train_fraction: f64, seed: u64) -> Result<Split> {
    ratings.check()?;
    check_fraction(train_fraction)?;
    let n = ratings.len();
    let n_test = n - n_train(train_fraction, n);
    let perm = Mt19937::new(seed).permutation(n);
    let mut is_test = vec![false; n];
    for &k in &perm[..n_test] {
        is_test[k] = true;
    }
    Ok(Split::from_mask(&is_test))
}

/// Row indices per user, each list ordered by (timestamp, row): oldest first.
fn rows_by_user_in_time(ratings: &Ratings) -> Vec<Vec<usize>> {
    let mut by_user: std::collections::HashMap<i64, Vec<usize>> = std::collections::HashMap::new();
    for (k, &u) in ratings.user.iter().enumerate() {
        by_user.entry(u).or_default().push(k);
    }
    let mut lists: Vec<Vec<usize>> = by_user.into_values().collect();
    for rows in &mut lists {
        // Rows are pushed ascending, so a stable sort by timestamp breaks ties by row.
        rows.sort_by_key(|&k| ratings.timestamp[k]);
    }
    lists
}

/// A per-user temporal split: each user's ratings ordered by (timestamp, row); the first
/// `max(1, round(F·n_u))` stay in train and the later ones go to test. A user therefore
/// always keeps at least one training rating, and users with few ratings may have no test
/// rating (with F = 0.8: 1 or 2 ratings give none, 3 to 7 give one).
pub fn temporal(ratings: &Ratings, train_fraction: f64) -> Result<Split> {
    ratings.check()?;
    check_fraction(train_fraction)?;
    let mut is_test = vec![false; ratings.len()];
    for rows in rows_by_user_in_time(ratings) {
        let keep = n_train(train_fraction, rows.len()).max(1);
        for &k in &rows[keep..] {
            is_test[k] = true;
        }
    }
    Ok(Split::from_mask(&is_test))
}

/// Leave-last-out: each user's latest rating by (timestamp, row) goes to test; users with a
/// single rating stay in train.
pub fn leave_last_out(ratings: &Ratings) -> Result<Split> {
    ratings.check()?;
    let mut is_test = vec![false; ratings.len()];
    for rows in rows_by_user_in_time(ratings) {
        if rows.len() >= 2
            && let Some(&last) = rows.last()
        {
            is_test[last] = true;
        }
    }
    Ok(Split::from_mask(&is_test))
}

/// K-fold: row `p[j]` of `p = numpy.random.RandomState(seed).permutation(n)` gets fold
/// `j mod k`, so folds differ in size by at most one.
pub fn kfold(ratings: &Ratings, k: usize, seed: u64) -> Result<Folds> {
    ratings.check()?;
    if k < 2 || k > ratings.len() {
        return Err(Error::Data(format!(
            "k-fold needs 2 <= k <= the number of ratings ({}), got k = {k}",
            ratings.len()
        )));
    }
    let mut fold = vec![0u32; ratings.len()];
    for (j, &row) in Mt19937::new(seed).permutation(ratings.len()).iter().enumerate() {
        fold[row] = (j % k) as u32;
    }
    Folds::try_new(fold)
}

/// A split as the command line names it: `random:0.8`, `temporal:0.8`, `leave-last-out`,
/// `kfold:5`. The fractions are the share kept for training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SplitSpec {
    /// [`random`].
    Random {
        /// Share of rows for training.
        train: f64,
    },
    /// [`temporal`].
    Temporal {
        /// Share of each user's rows for training.
        train: f64,
    },
    /// [`leave_last_out`].
    LeaveLastOut,
    /// [`kfold`].
    KFold {
        /// Number of folds.
        k: usize,
    },
}

/// The accepted forms, for error messages and `--help`.
pub const SPLIT_FORMS: &str = "random:<train fraction> (e.g. random:0.8), temporal:<train fraction> (e.g. temporal:0.8), \
leave-last-out, kfold:<k> (e.g. kfold:5)";

impl SplitSpec {
    /// The splits of `ratings`: one, or k for k-fold. `seed` matters for random and k-fold.
    pub fn split(&self, ratings: &Ratings, seed: u64) -> Result<Vec<Split>> {
        Ok(match *self {
            SplitSpec::Random { train } => vec![random(ratings, train, seed)?],
            SplitSpec::Temporal { train } => vec![temporal(ratings, train)?],
            SplitSpec::LeaveLastOut => vec![leave_last_out(ratings)?],
            SplitSpec::KFold { k } => kfold(ratings, k, seed)?.splits(),
        })
    }
}

impl fmt::Display for SplitSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitSpec::Random { train } => write!(f, "random:{train}"),
            SplitSpec::Temporal { train } => write!(f, "temporal:{train}"),
            SplitSpec::LeaveLastOut => f.write_str("leave-last-out"),
            SplitSpec::KFold { k } => write!(f, "kfold:{k}"),
        }
    }
}

impl FromStr for SplitSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: String| Error::Data(format!("bad split {s:?}: {why}; accepted forms: {SPLIT_FORMS}"));
        let t = s.trim().to_ascii_lowercase();
        let (name, arg) = match t.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim())),
            None => (t.as_str(), None),
        };
        let fraction = |a: Option<&str>| -> Result<f64> {
            let a = a.ok_or_else(|| bad(format!("{name} needs a train fraction")))?;
            let x: f64 = a.parse().map_err(|_| bad(format!("{a:?} is not a number")))?;
            check_fraction(x).map_err(|_| bad(format!("the train fraction {a} is not between 0 and 1 (exclusive)")))?;
            Ok(x)
        };
        match name {
            "random" => Ok(SplitSpec::Random { train: fraction(arg)? }),
            "temporal" => Ok(SplitSpec::Temporal { train: fraction(arg)? }),
            "leave-last-out" | "leave_last_out" | "loo" => match arg {
                None => Ok(SplitSpec::LeaveLastOut),
                Some(a) => Err(bad(format!("leave-last-out takes no argument, got {a:?}"))),
            },
            "kfold" | "k-fold" => {
                let a = arg.ok_or_else(|| bad("kfold needs a number of folds".into()))?;
                let k: usize = a.parse().map_err(|_| bad(format!("{a:?} is not a whole number of folds")))?;
                if k < 2 {
                    return Err(bad(format!("kfold needs at least 2 folds, got {k}")));
                }
                Ok(SplitSpec::KFold { k })
            }
            _ => Err(bad(format!("unknown split kind {name:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Ratings {
        let mut r = Ratings::default();
        // user 1: ts 5, 3, 9, 9 (rows 0..4); user 2: one rating; user 3: two with equal ts.
        for (u, i, t) in [(1, 10, 5), (1, 11, 3), (1, 12, 9), (1, 13, 9), (2, 10, 1), (3, 10, 4), (3, 11, 4)] {
            r.push(u, i, 4.0, t);
        }
        r
    }

    #[test]
    fn numpy_permutation_of_ten_with_seed_42() {
        // numpy.random.RandomState(42).permutation(10)
        assert_eq!(Mt19937::new(42).permutation(10), vec![8, 1, 5, 0, 7, 2, 9, 4, 3, 6]);
    }

    #[test]
    fn leave_last_out_takes_the_latest_and_breaks_ties_by_row() {
        let s = leave_last_out(&tiny()).expect("valid");
        // user 1: rows 2 and 3 share ts 9, the later row (3) is the latest; user 2 keeps its
        // only rating; user 3: equal ts, row 6 is later.
        assert_eq!(s.test, vec![3, 6]);
        assert_eq!(s.train, vec![0, 1, 2, 4, 5]);
    }

    #[test]
    fn temporal_keeps_the_oldest_in_train() {
        let s = temporal(&tiny(), 0.5).expect("valid");
        // user 1 by time: rows 1 (3), 0 (5), 2 (9), 3 (9) -> keep 2: rows 1, 0.
        // user 2: one rating, kept. user 3: round(1.0) = 1 kept (row 5), row 6 test.
        assert_eq!(s.test, vec![2, 3, 6]);
    }

    #[test]
    fn fractions_round_not_truncate() {
        assert_eq!(n_train(0.7, 10), 7);
        assert_eq!(n_train(0.8, 100_000), 80_000);
        assert_eq!(n_train(0.8, 2), 2);
        assert_eq!(n_train(0.8, 3), 2);
    }

    #[test]
    fn spec_parses_every_form() {
        assert_eq!("random:0.8".parse::<SplitSpec>().expect("ok"), SplitSpec::Random { train: 0.8 });
        assert_eq!(" Temporal:0.75 ".parse::<SplitSpec>().expect("ok"), SplitSpec::Temporal { train: 0.75 });
        assert_eq!("leave-last-out".parse::<SplitSpec>().expect("ok"), SplitSpec::LeaveLastOut);
        assert_eq!("kfold:5".parse::<SplitSpec>().expect("ok"), SplitSpec::KFold { k: 5 });
        for s in ["random:0.8", "temporal:0.5", "leave-last-out", "kfold:3"] {
            assert_eq!(s.parse::<SplitSpec>().expect("ok").to_string(), s);
        }
    }

    #[test]
    fn spec_refuses_bad_forms_with_the_accepted_ones() {
        for s in ["", "random", "random:1.0", "random:0", "random:x", "temporal:-0.2", "kfold:1", "kfold:2.5", "kfold", "leave-last-out:3", "holdout:0.8", "random:NaN"] {
            let e = s.parse::<SplitSpec>().expect_err(s).to_string();
            assert!(e.contains("accepted forms") && e.contains("kfold:<k>") && e.contains("leave-last-out"), "{s}: {e}");
        }
    }

    #[test]
    fn kfold_and_folds_check_their_input() {
        assert!(kfold(&tiny(), 1, 0).is_err());
        assert!(kfold(&tiny(), 8, 0).is_err());
        assert!(Folds::try_new(vec![0, 0]).is_err());
        assert!(Folds::try_new(vec![0, u32::MAX]).is_err(), "a stray fold number is refused, not allocated");
        let e = Folds::try_new(vec![0, 2, 2]).expect_err("fold 1 empty").to_string();
        assert!(e.contains("fold 1 has no rows"), "{e}");
    }

    #[test]
    fn apply_refuses_foreign_rows() {
        let s = Split { train: vec![0], test: vec![99] };
        assert!(s.apply(&tiny()).is_err());
    }
}

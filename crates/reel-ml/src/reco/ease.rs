//! EASE (Steck 2019, "Embarrassingly shallow autoencoders"): an item×item weight matrix with
//! a closed form, the strongest simple top-N model on small catalogues.
//!
//! ```text
//!  X  = users × items, 1 where the user rated the item (at or above min_rating), else 0
//!  P  = (XᵀX + λI)⁻¹                                  dense, items × items, f64
//!  B  = I − P·diagMat(1/diag(P))   i.e. B_ij = −P_ij / P_jj,  B_jj = 0
//!  score(u, j) = Σ_{i rated by u} B_ij
//! ```
//!
//! The cost is in the dense inverse: O(n³) time and three n×n f64 matrices at once (the
//! Gramian, its Cholesky factor, the inverse), where n counts items with at least one
//! positive (catalogue-only items have a zero column and are left out). So EASE refuses data
//! with more than [`EASE_MAX_ITEMS`] such items (10,000: about 2.4 GB and a minute on two
//! cores); iALS is the model for bigger catalogues.
//!
//! The inverse comes from `faer` (Cholesky, then the inverse from the factor), which runs
//! SIMD kernels picked at run time and rayon: about 0.1 s for ML-100K's 1,500 items. A
//! hand-written Cholesky and triangular inverse in portable Rust, the alternative, took 2.5 s
//! for the same size on one core; blocking and threads would win some of that back, not 20×.
//!
//! An unknown user gets the popularity order (declared), and so does a known user without any
//! positive; an unknown item scores 0.
use faer::linalg::solvers::DenseSolveCore;
use faer::{Mat, Side};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::{Dataset, IdMap, Scale};
use crate::model::{Fallback, FitObserver, Model, ModelKind, Score, top_k};
use crate::reco::Algorithm;
use crate::reco::ials::{axpy, check_f32, positive_counts};
use crate::{Error, Result};

/// The largest number of items (with at least one positive) EASE accepts.
pub const EASE_MAX_ITEMS: usize = 10_000;

/// Parameters of [`EaseModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EaseParams {
    /// L2 regularisation λ added to the diagonal of XᵀX, above 0 and at most 1e7.
    pub lambda: f32,
    /// Only ratings at or above this value are positives (0: every rating is).
    pub min_rating: f32,
}

impl Default for EaseParams {
    /// λ 300 and `min_rating` 4, chosen on a seeded 90/10 validation split of the ML-100K
    /// training split (`examples/implicit_speed.rs grid ease`); Steck reports λ in the
    /// hundreds for MovieLens too.
    fn default() -> Self {
        EaseParams {
            lambda: 300.0,
            min_rating: 4.0,
        }
    }
}

/// Checked [`EaseParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEaseParams(EaseParams);

const ALGO: &str = "ease";

impl EaseParams {
    /// Checks every parameter.
    pub fn check(&self) -> Result<ValidEaseParams> {
        if !(self.lambda.is_finite() && self.lambda > 0.0 && self.lambda <= 1e7) {
            return Err(Error::param(
                ALGO,
                "lambda",
                self.lambda,
                "expected a number above 0 and at most 10000000",
            ));
        }
        check_f32(ALGO, "min_rating", self.min_rating, 0.0, 1e6)?;
        Ok(ValidEaseParams(self.clone()))
    }
}

/// Positives per user as CSR over dense item indices (`offsets` has `users + 1` entries).
fn positives(data: &Dataset, min_rating: f32) -> (Vec<usize>, Vec<u32>) {
    let by_user = data.by_user();
    let mut offsets = Vec::with_capacity(data.n_users() + 1);
    let mut items = Vec::new();
    offsets.push(0);
    for u in 0..data.n_users() {
        let (cols, vals) = by_user.row(u);
        items.extend(cols.iter().zip(vals).filter(|(_, r)| **r >= min_rating).map(|(i, _)| *i));
        offsets.push(items.len());
    }
    (offsets, items)
}

impl ValidEaseParams {
    /// Builds XᵀX, inverts it and derives B.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<EaseModel> {
        let p = &self.0;
        let (offsets, pos) = positives(data, p.min_rating);
        let counts = positive_counts(data, p.min_rating);
        // Dense columns only for items with a positive.
        let mut col = vec![u32::MAX; data.n_items()];
        let mut n = 0usize;
        for (i, &c) in counts.iter().enumerate() {
            if c > 0.0 {
                col[i] = n as u32;
                n += 1;
            }
        }
        if n == 0 {
            return Err(Error::Data(format!(
                "ease found no rating at or above min_rating = {}; lower min_rating",
                p.min_rating
            )));
        }
        if n > EASE_MAX_ITEMS {
            return Err(Error::Data(format!(
                "ease needs a dense {n}×{n} item matrix, above its limit of {EASE_MAX_ITEMS} items \
                 (memory and time grow as n² and n³); use ials for this catalogue, or raise min_rating"
            )));
        }
        // G = XᵀX + λI, one row per item: row a = Σ over a's users of their positives. Rows
        // are independent, so they fill in parallel without locks.
        let mut users_of: Vec<Vec<u32>> = vec![Vec::new(); n];
        for u in 0..data.n_users() {
            for &i in &pos[offsets[u]..offsets[u + 1]] {
                users_of[col[i as usize] as usize].push(u as u32);
            }
        }
        let mut g = vec![0f64; n * n];
        g.par_chunks_mut(n).enumerate().for_each(|(a, row)| {
            for &u in &users_of[a] {
                for &i in &pos[offsets[u as usize]..offsets[u as usize + 1]] {
                    row[col[i as usize] as usize] += 1.0;
                }
            }
            row[a] += f64::from(p.lambda);
        });
        drop(users_of);
        if !obs.keep_going() {
            return Err(Error::Cancelled);
        }
        let gm = Mat::<f64>::from_fn(n, n, |r, c| g[r * n + c]);
        drop(g);
        let llt = gm.llt(Side::Lower).map_err(|e| {
            Error::Internal(format!(
                "XᵀX + λI is positive definite for λ > 0, yet its Cholesky failed: {e:?}"
            ))
        })?;
        drop(gm);
        let inv = llt.inverse();
        drop(llt);
        // B_ij = −P_ij / P_jj, stored row-major as f32 (scores are sums of rows).
        let mut b = vec![0f32; n * n];
        b.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
            for (j, v) in row.iter_mut().enumerate() {
                *v = if i == j { 0.0 } else { (-inv[(i, j)] / inv[(j, j)]) as f32 };
            }
        });
        obs.on_epoch(1, 1, None);
        Ok(EaseModel {
            params: p.clone(),
            users: data.users().clone(),
            items: data.items().clone(),
            scale: data.scale(),
            n,
            col,
            b,
            user_offsets: offsets,
            user_items: pos,
            counts,
        })
    }
}

/// The EASE item×item weights and each user's positives.
#[derive(Debug, Clone)]
pub struct EaseModel {
    params: EaseParams,
    users: IdMap,
    items: IdMap,
    scale: Scale,
    /// Items with a column in `b`.
    n: usize,
    /// Item index → column of `b`, `u32::MAX` for items without a positive.
    col: Vec<u32>,
    /// `n × n`, row-major.
    b: Vec<f32>,
    user_offsets: Vec<usize>,
    user_items: Vec<u32>,
    counts: Vec<f32>,
}

impl EaseModel {
    /// Rebuilds the model from an artifact, checking every index so that a damaged (but
    /// checksummed) file cannot make scoring read out of bounds.
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let params: EaseParams = a.params()?;
        let col = a.take_u32("col", Some(items.len()))?;
        let n = col.iter().filter(|&&c| c != u32::MAX).count();
        let mut seen = vec![false; n];
        for &c in col.iter().filter(|&&c| c != u32::MAX) {
            match seen.get_mut(c as usize) {
                Some(s) if !*s => *s = true,
                _ => return Err(Error::artifact(format!("ease column {c} is out of range or repeated"))),
            }
        }
        let b = a.take_f32("b", Some(n * n))?;
        let offsets = a.take_i64("user_offsets", Some(users.len() + 1))?;
        let user_items = a.take_u32("user_items", None)?;
        let user_offsets = checked_offsets(&offsets, user_items.len())?;
        if user_items.iter().any(|&i| i as usize >= items.len()) {
            return Err(Error::artifact("an ease user item is out of range"));
        }
        let counts = a.take_f32("counts", Some(items.len()))?;
        Ok(EaseModel {
            params,
            users,
            items,
            scale: a.header.scale,
            n,
            col,
            b,
            user_offsets,
            user_items,
            counts,
        })
    }
}

impl EaseModel {
    fn has_positives(&self, u: u32) -> bool {
        self.user_offsets.get(u as usize..u as usize + 2).is_some_and(|o| o[1] > o[0])
    }
}

/// CSR offsets from an artifact: non-decreasing from 0 to `len`.
pub(crate) fn checked_offsets(offsets: &[i64], len: usize) -> Result<Vec<usize>> {
    let ok = offsets.first() == Some(&0)
        && offsets.windows(2).all(|w| w[0] <= w[1])
        && offsets.last().is_some_and(|&l| usize::try_from(l).ok() == Some(len));
    if !ok {
        return Err(Error::artifact("row offsets are not a valid index"));
    }
    Ok(offsets.iter().map(|&o| o as usize).collect())
}

const FALLBACK: &str = "popularity (number of positives; 0 for an unknown item)";

impl Model for EaseModel {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Ease
    }
    fn kind(&self) -> ModelKind {
        ModelKind::Ranking
    }
    fn params(&self) -> serde_json::Value {
        serde_json::to_value(&self.params).unwrap_or_default()
    }
    fn users(&self) -> &IdMap {
        &self.users
    }
    fn items(&self) -> &IdMap {
        &self.items
    }
    fn scale(&self) -> Scale {
        self.scale
    }
    fn score(&self, u: Option<u32>, i: Option<u32>) -> Score {
        let fallback = Fallback::for_unknown(u, i, FALLBACK);
        let value = match (u.filter(|&u| self.has_positives(u)), i) {
            (_, None) => 0.0,
            (None, Some(i)) => self.counts.get(i as usize).copied().unwrap_or(0.0),
            (Some(u), Some(i)) => match (self.col.get(i as usize), self.user_offsets.get(u as usize..u as usize + 2)) {
                (Some(&cj), Some(o)) if cj != u32::MAX => self.user_items[o[0]..o[1]]
                    .iter()
                    .filter_map(|&k| self.col.get(k as usize).filter(|&&c| c != u32::MAX))
                    .map(|&ck| self.b[ck as usize * self.n + cj as usize])
                    .sum(),
                _ => 0.0,
            },
        };
        Score { value, fallback }
    }
    fn score_items(&self, u: Option<u32>, out: &mut [f32]) {
        let Some(o) = u
            .filter(|&u| self.has_positives(u))
            .and_then(|u| self.user_offsets.get(u as usize..u as usize + 2))
        else {
            out.iter_mut().zip(&self.counts).for_each(|(o, &c)| *o = c);
            return;
        };
        let mut dense = vec![0f32; self.n];
        for &k in &self.user_items[o[0]..o[1]] {
            if let Some(&ck) = self.col.get(k as usize).filter(|&&c| c != u32::MAX) {
                axpy(1.0, &self.b[ck as usize * self.n..(ck as usize + 1) * self.n], &mut dense);
            }
        }
        for (o, &c) in out.iter_mut().zip(&self.col) {
            *o = if c == u32::MAX { 0.0 } else { dense[c as usize] };
        }
    }
    /// The items `j` with the largest weights `B_ij`: the ones item `i` most raises.
    fn similar(&self, i: u32, k: usize) -> Option<Vec<(u32, f32)>> {
        let ci = *self.col.get(i as usize)?;
        if ci == u32::MAX {
            return Some(Vec::new());
        }
        let row = &self.b[ci as usize * self.n..(ci as usize + 1) * self.n];
        let cands = self
            .col
            .iter()
            .enumerate()
            .filter(|&(j, &c)| j != i as usize && c != u32::MAX)
            .map(|(j, &c)| (j as u32, row[c as usize]));
        Some(top_k(cands, k, &self.items))
    }
    fn write(&self, out: &mut ArtifactWriter) {
        out.u32s("col", self.col.clone());
        out.f32s("b", self.b.clone());
        out.i64s("user_offsets", self.user_offsets.iter().map(|&o| o as i64).collect());
        out.u32s("user_items", self.user_items.clone());
        out.f32s("counts", self.counts.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Ratings;
    use crate::model::{Quiet, recommend};

    #[test]
    fn b_matches_the_closed_form_on_a_tiny_case() {
        // Two users, three items: X = [[1,1,0],[0,1,1]], λ = 1.
        let mut r = Ratings::default();
        for (u, i) in [(1, 10), (1, 11), (2, 11), (2, 12)] {
            r.push(u, i, 5.0, 0);
        }
        let d = Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect("valid");
        let m = EaseParams {
            lambda: 1.0,
            min_rating: 0.0,
        }
        .check()
        .expect("valid")
        .fit(&d, &mut Quiet)
        .expect("fits");
        // G = [[2,1,0],[1,3,1],[0,1,2]], P = G⁻¹ = [[5,-2,1],[-2,4,-2],[1,-2,5]] / 8.
        let want = [[0.0, 0.5, -0.2], [0.4, 0.0, 0.4], [-0.2, 0.5, 0.0]];
        for (i, row) in want.iter().enumerate() {
            for (j, &w) in row.iter().enumerate() {
                assert!((m.b[i * 3 + j] - w).abs() < 1e-6, "B[{i}][{j}] = {} want {w}", m.b[i * 3 + j]);
            }
        }
        // User 1 (items 10, 11) gets item 12 with score B[0][2] + B[1][2] = 0.2.
        let (top, _) = recommend(&m, 1, 1, &|i| i < 2);
        assert_eq!(top[0].item, 12);
        assert!((top[0].score - 0.2).abs() < 1e-6);
    }

    #[test]
    fn too_many_items_is_refused_naming_ials() {
        let mut r = Ratings::default();
        for i in 0..(EASE_MAX_ITEMS as i64 + 1) {
            r.push(i % 7, i, 4.0, 0);
        }
        let d = Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect("valid");
        let e = EaseParams::default()
            .check()
            .expect("valid")
            .fit(&d, &mut Quiet)
            .expect_err("too big");
        assert!(e.to_string().contains("ials"), "{e}");
    }

    #[test]
    fn bad_parameters_are_named() {
        for (p, name) in [
            (
                EaseParams {
                    lambda: 0.0,
                    ..Default::default()
                },
                "lambda",
            ),
            (
                EaseParams {
                    lambda: f32::NAN,
                    ..Default::default()
                },
                "lambda",
            ),
            (
                EaseParams {
                    min_rating: -2.0,
                    ..Default::default()
                },
                "min_rating",
            ),
        ] {
            let e = p.check().expect_err(name);
            assert!(e.to_string().contains(name), "{e}");
        }
    }
}

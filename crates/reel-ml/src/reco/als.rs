//! Explicit ALS: alternating least squares on the ratings themselves (not the implicit
//! confidence form), with optional biases and Spark's ALS-WR weighting of the regularisation.
//!
//! ```text
//!  estimate(u, i) = mu + b_u + b_i + q_i . p_u         (biased = false: q_i . p_u)
//!  users:  [p_u, b_u] = argmin sum_i (r_ui - mu - b_i - [q_i, 1] . [p_u, b_u])^2 + lambda_u |[p_u, b_u]|^2
//!  items:  [q_i, b_i] = the same with the users fixed
//!  lambda_u = reg * n_u (weighted, ALS-WR, Spark's regParam) or reg
//! ```
//!
//! Each half-iteration solves one small ridge system per user (item): a Gram matrix built
//! from the rows of what they rated (vectorised rank-4 updates, `f32`), then a Cholesky
//! solve in `f64` (our own, `solve_spd`; the systems are at most 1025 x 1025).
//! Users (items) are solved in parallel with rayon; every solve is independent, so the result
//! does not depend on the thread count. Turned down: conjugate gradient (inexact unless
//! iterated to convergence) and a BLAS/LAPACK dependency.
use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use crate::artifact::Artifact;
use crate::data::{Csr, Dataset, IdMap};
use crate::model::FitObserver;
use crate::reco::Algorithm;
use crate::reco::svd::{Factors, Layout, Rng, UserVector, check_epochs, check_factors, check_reg, dot, factor_model, stored};
use crate::{Error, Result};

/// Parameters of [`AlsModel`]. Defaults are the peers' Spark setting (rank 50, 20 iterations,
/// regParam 0.1 scaled by each user's and item's number of ratings), plus biases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlsParams {
    /// Number of latent factors (Spark `rank`).
    pub factors: usize,
    /// Alternations of a user pass and an item pass (Spark `maxIter`).
    pub iterations: usize,
    /// Regularisation (Spark `regParam`).
    pub reg: f32,
    /// Multiply `reg` by the number of ratings of each user and item (ALS-WR, what Spark does).
    pub weighted: bool,
    /// Learn a bias per user and per item on top of the global mean (Spark has none).
    pub biased: bool,
    /// Standard deviation of the initial item factors.
    pub init_std: f32,
    /// Seed of the initial item factors.
    pub seed: u64,
}

impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 50,
            iterations: 20,
            reg: 0.1,
            weighted: true,
            biased: true,
            init_std: 0.1,
            seed: 0,
        }
    }
}

/// Checked [`AlsParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidAlsParams(AlsParams);

impl AlsParams {
    /// Checks every parameter.
    pub fn check(&self) -> Result<ValidAlsParams> {
        const A: &str = "als";
        check_factors(A, "factors", self.factors)?;
        check_epochs(A, "iterations", self.iterations)?;
        check_reg(A, "reg", self.reg)?;
        if !(self.init_std.is_finite() && self.init_std > 0.0 && self.init_std <= 10.0) {
            return Err(Error::param(
                A,
                "init_std",
                self.init_std,
                "expected a standard deviation above 0 and at most 10 (e.g. 0.1)",
            ));
        }
        Ok(ValidAlsParams(self.clone()))
    }
}

/// Dot product in `f64` with four partial sums (so that LLVM can vectorise it).
fn dot64(a: &[f64], b: &[f64]) -> f64 {
    let (ac, ar) = a.as_chunks::<4>();
    let (bc, br) = b.as_chunks::<4>();
    let mut acc = [0f64; 4];
    for (x, y) in ac.iter().zip(bc) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ar.iter().zip(br).map(|(x, y)| x * y).sum();
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

/// Solves `a x = b` for a symmetric positive definite `a` (`n x n`, row-major; only the lower
/// triangle is read) by Cholesky, in place: `b` becomes `x`, `a` is overwritten by the factor.
/// Returns false (and leaves `b` unspecified) when `a` is not positive definite or the sizes
/// do not match.
///
/// Right-looking: after each column, the trailing rows are updated by contiguous `axpy`s,
/// which vectorise (turned down: the dot-product form, whose many short reductions ran 5x
/// slower and took 40% of an ALS fit).
pub(crate) fn solve_spd(a: &mut [f64], n: usize, b: &mut [f64]) -> bool {
    if a.len() < n * n || b.len() < n {
        return false;
    }
    let mut col = vec![0f64; n];
    for j in 0..n {
        let d = a[j * n + j];
        if !(d > 0.0 && d.is_finite()) {
            return false;
        }
        let l = d.sqrt();
        a[j * n + j] = l;
        let inv = 1.0 / l;
        for i in j + 1..n {
            a[i * n + j] *= inv;
            col[i] = a[i * n + j];
        }
        for i in j + 1..n {
            let lij = col[i];
            for (x, &c) in a[i * n + j + 1..=i * n + i].iter_mut().zip(&col[j + 1..=i]) {
                *x -= lij * c;
            }
        }
    }
    // L y = b.
    for i in 0..n {
        let s = dot64(&a[i * n..i * n + i], &b[..i]);
        b[i] = (b[i] - s) / a[i * n + i];
    }
    // L^T x = y, column by column so that the inner loop runs along rows of L.
    for i in (0..n).rev() {
        b[i] /= a[i * n + i];
        let xi = b[i];
        for (y, &l) in b[..i].iter_mut().zip(&a[i * n..i * n + i]) {
            *y -= l * xi;
        }
    }
    true
}

/// Scratch buffers of one solver thread.
struct Scratch {
    gram: Vec<f32>,
    rhs: Vec<f32>,
    a: Vec<f64>,
    b: Vec<f64>,
    /// Four gathered feature rows, `d` each.
    x: Vec<f32>,
    /// Their targets.
    t: [f32; 4],
}

impl Scratch {
    fn new(d: usize) -> Scratch {
        Scratch {
            gram: vec![0.0; d * d],
            rhs: vec![0.0; d],
            a: vec![0.0; d * d],
            b: vec![0.0; d],
            x: vec![0.0; 4 * d],
            t: [0.0; 4],
        }
    }
}

/// One half-iteration: solves every row of `solve` (users or items, `by` their ratings) with
/// `fixed` the other side's rows. `other_one` is the lane of the fixed rows that holds their
/// constant 1 (which the solved side's bias multiplies), `other_bias` the lane of their bias.
#[allow(clippy::too_many_arguments)]
fn half_step(solve: &mut [f32], fixed: &[f32], by: &Csr, lay: &Layout, mu: f32, reg: f32, weighted: bool, user_side: bool) {
    let w = lay.width;
    let k = lay.k;
    let d = k + usize::from(lay.biased);
    // Where the fixed side keeps its bias and its constant 1, and where the solved side keeps
    // its bias and its constant.
    let (fixed_bias, own_bias, own_one) = if user_side {
        (w - 1, w - 2, w - 1)
    } else {
        (w - 2, w - 1, w - 2)
    };
    solve.par_chunks_mut(w).enumerate().for_each_init(
        || Scratch::new(d),
        |sc, (r, row)| {
            let (cols, vals) = by.row(r);
            sc.gram.fill(0.0);
            sc.rhs.fill(0.0);
            // Rank-4 updates of the upper triangle: each Gram entry is loaded and stored once
            // per four ratings instead of once per rating (a third faster than rank-1).
            let n = cols.len();
            for start in (0..n).step_by(4) {
                let m = (n - start).min(4);
                for j in 0..4 {
                    let x = &mut sc.x[j * d..(j + 1) * d];
                    if j < m {
                        let c = cols[start + j] as usize;
                        let f = &fixed[c * w..(c + 1) * w];
                        x[..k].copy_from_slice(&f[..k]);
                        sc.t[j] = vals[start + j] - mu;
                        if lay.biased {
                            x[k] = 1.0;
                            sc.t[j] -= f[fixed_bias];
                        }
                    } else {
                        x.fill(0.0);
                        sc.t[j] = 0.0;
                    }
                }
                let (x0, rest) = sc.x.split_at(d);
                let (x1, rest) = rest.split_at(d);
                let (x2, x3) = rest.split_at(d);
                let t = sc.t;
                for s in 0..d {
                    let (a0, a1, a2, a3) = (x0[s], x1[s], x2[s], x3[s]);
                    sc.rhs[s] += (a0 * t[0] + a1 * t[1]) + (a2 * t[2] + a3 * t[3]);
                    let g = &mut sc.gram[s * d + s..(s + 1) * d];
                    for ((((g, &b0), &b1), &b2), &b3) in g.iter_mut().zip(&x0[s..]).zip(&x1[s..]).zip(&x2[s..]).zip(&x3[s..]) {
                        *g += (a0 * b0 + a1 * b1) + (a2 * b2 + a3 * b3);
                    }
                }
            }
            let lam = reg as f64 * if weighted { cols.len() as f64 } else { 1.0 };
            for s in 0..d {
                for c in 0..=s {
                    // Lower triangle from the upper one.
                    sc.a[s * d + c] = sc.gram[c * d + s] as f64;
                }
                // The floor keeps rows without ratings (catalogue items) solvable: they get 0.
                sc.a[s * d + s] += lam + 1e-9;
                sc.b[s] = sc.rhs[s] as f64;
            }
            let ok = solve_spd(&mut sc.a, d, &mut sc.b);
            row.fill(0.0);
            if ok {
                for (o, &v) in row[..k].iter_mut().zip(&sc.b[..k]) {
                    *o = v as f32;
                }
            }
            if lay.biased {
                row[own_bias] = if ok { sc.b[k] as f32 } else { 0.0 };
                row[own_one] = 1.0;
            }
        },
    );
}

impl ValidAlsParams {
    /// The parameters as given.
    pub fn params(&self) -> &AlsParams {
        &self.0
    }

    /// Trains the model.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<AlsModel> {
        let pr = &self.0;
        let lay = Layout::new(pr.factors, pr.biased);
        let w = lay.width;
        let mu = if pr.biased { data.mean() as f32 } else { 0.0 };
        let mut rng = Rng::new(pr.seed);
        let mut q = lay.init_rows(&mut rng, data.n_items(), true, 0.0, pr.init_std);
        let mut p = vec![0f32; data.n_users() * w];
        for it in 0..pr.iterations {
            if !obs.keep_going() {
                return Err(Error::Cancelled);
            }
            half_step(&mut p, &q, data.by_user(), &lay, mu, pr.reg, pr.weighted, true);
            half_step(&mut q, &p, data.by_item(), &lay, mu, pr.reg, pr.weighted, false);
            let se: f64 = (0..data.n_users())
                .into_par_iter()
                .map(|u| {
                    let (items, ratings) = data.by_user().row(u);
                    let pu = &p[u * w..(u + 1) * w];
                    items
                        .iter()
                        .zip(ratings)
                        .map(|(&i, &r)| ((r - mu - dot(pu, &q[i as usize * w..(i as usize + 1) * w])) as f64).powi(2))
                        .sum::<f64>()
                })
                .collect::<Vec<f64>>()
                .iter()
                .sum();
            obs.on_epoch(it + 1, pr.iterations, Some((se / data.len() as f64).sqrt()));
        }
        Ok(AlsModel {
            params: self.0.clone(),
            f: Factors::new(data, lay, p, q),
        })
    }
}

/// A fitted ALS model.
#[derive(Debug, Clone)]
pub struct AlsModel {
    params: AlsParams,
    f: Factors,
}

factor_model!(AlsModel, Algorithm::Als, "p", fold_in);

impl AlsModel {
    /// Rebuilds the model from an artifact.
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let params: AlsParams = a.params()?;
        stored(params.check())?;
        let lay = Layout::new(params.factors, params.biased);
        Ok(AlsModel {
            f: Factors::read(users, items, a, lay, "p")?,
            params,
        })
    }

    /// The trained vector of user index `u`, if known.
    pub fn user_vector(&self, u: u32) -> Option<UserVector> {
        self.f.user_vector(u)
    }

    /// Folds in a user: exactly ALS's user step for the given `(item index, rating)` pairs
    /// with the items fixed (a closed-form ridge solve), so a trained user's own ratings give
    /// back their trained vector up to rounding.
    ///
    /// An item index outside the model or a rating that is not a number is an error.
    pub fn fold_in(&self, ratings: &[(u32, f32)]) -> Result<UserVector> {
        self.f
            .fold_in(ratings, self.params.reg, self.params.reg, self.params.weighted)
    }

    /// Scores every item for an ad-hoc user (e.g. from [`AlsModel::fold_in`]) into `out`.
    /// Raw scores, like [`crate::model::Model::score_items`].
    pub fn score_items_with(&self, user: &UserVector, out: &mut [f32]) {
        self.f.score_items_with(user, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_known_system() {
        // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, -1, 2] -> b = A x.
        let mut a = vec![4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let mut b = vec![2.0, -1.0, 5.0];
        assert!(solve_spd(&mut a, 3, &mut b));
        for (x, want) in b.iter().zip([1.0, -1.0, 2.0]) {
            assert!((x - want).abs() < 1e-12, "{b:?}");
        }
    }

    #[test]
    fn cholesky_refuses_an_indefinite_matrix() {
        let mut a = vec![1.0, 2.0, 2.0, 1.0];
        let mut b = vec![1.0, 1.0];
        assert!(!solve_spd(&mut a, 2, &mut b));
        assert!(!solve_spd(&mut [1.0], 2, &mut [1.0, 2.0]), "sizes that do not match");
    }
}

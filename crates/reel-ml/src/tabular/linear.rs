//! Linear models fit by L-BFGS: logistic regression (binary, and multinomial for three or
//! more classes) with L2 and class weights, and ridge regression.
//!
//! The objective is scikit-learn's, divided by the total sample weight `W`:
//!
//! ```text
//!  ( Σ_i w_i loss(x_i, y_i) + ||coef||² / (2C) ) / W        (the intercepts are not penalised)
//! ```
//!
//! so `C = 1` here is `LogisticRegression(C=1)` there, and `class_weight = balanced` gives
//! class `c` the weight `n / (classes * n_c)`, as there. The features can be dense
//! ([`Matrix`]) or sparse ([`Csr`], the TF-IDF rows of the sentiment model): both implement
//! [`Design`]. The loss and gradient are summed over row blocks in parallel (rayon).
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::prep::Matrix;
use crate::optim::{LbfgsOptions, minimize};

/// Rows of features a linear model can read.
pub trait Design: Sync {
    /// Number of rows.
    fn rows(&self) -> usize;
    /// Number of features.
    fn cols(&self) -> usize;
    /// `out[c] += Σ_j x[r][j] * w[j * k + c]` for `c < k`.
    fn dot_row(&self, r: usize, w: &[f64], k: usize, out: &mut [f64]);
    /// `grad[j * k + c] += x[r][j] * coef[c]` for every feature `j` of row `r`.
    fn add_row(&self, r: usize, coef: &[f64], k: usize, grad: &mut [f64]);
    /// The transpose as compressed rows (one row per feature), for designs where the
    /// gradient is better read column by column (sparse ones); `None` for the others.
    fn transpose(&self) -> Option<Csr> {
        None
    }
}

impl Design for Matrix {
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn dot_row(&self, r: usize, w: &[f64], k: usize, out: &mut [f64]) {
        for (j, &x) in self.row(r).iter().enumerate() {
            if x != 0.0 {
                let wj = &w[j * k..(j + 1) * k];
                for c in 0..k {
                    out[c] += x * wj[c];
                }
            }
        }
    }
    fn add_row(&self, r: usize, coef: &[f64], k: usize, grad: &mut [f64]) {
        for (j, &x) in self.row(r).iter().enumerate() {
            if x != 0.0 {
                let gj = &mut grad[j * k..(j + 1) * k];
                for c in 0..k {
                    gj[c] += x * coef[c];
                }
            }
        }
    }
}

/// A sparse matrix in compressed sparse rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Csr {
    /// Number of columns.
    pub cols: usize,
    /// Row `r` is `indptr[r]..indptr[r + 1]` of `indices` / `values`.
    pub indptr: Vec<usize>,
    /// Column of each stored value.
    pub indices: Vec<u32>,
    /// The stored values.
    pub values: Vec<f32>,
}

impl Csr {
    /// Row `r` as (columns, values).
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// The transpose (`cols` rows of this one's columns), by a counting sort: O(nnz).
    pub fn transposed(&self) -> Csr {
        let rows = self.indptr.len().saturating_sub(1);
        let mut indptr = vec![0usize; self.cols + 1];
        for &j in &self.indices {
            indptr[j as usize + 1] += 1;
        }
        for j in 0..self.cols {
            indptr[j + 1] += indptr[j];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; self.indices.len()];
        let mut values = vec![0f32; self.values.len()];
        for r in 0..rows {
            let (idx, val) = self.row(r);
            for (&j, &v) in idx.iter().zip(val) {
                let at = &mut next[j as usize];
                indices[*at] = r as u32;
                values[*at] = v;
                *at += 1;
            }
        }
        Csr { cols: rows, indptr, indices, values }
    }
}

impl Design for Csr {
    fn transpose(&self) -> Option<Csr> {
        // Row ids are u32 in the transpose.
        (self.indptr.len() <= u32::MAX as usize).then(|| self.transposed())
    }
    fn rows(&self) -> usize {
        self.indptr.len().saturating_sub(1)
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn dot_row(&self, r: usize, w: &[f64], k: usize, out: &mut [f64]) {
        let (idx, val) = self.row(r);
        if k == 3 {
            // The sentiment model's case, unrolled: three classes per stored value.
            let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
            for (&j, &x) in idx.iter().zip(val) {
                let j = j as usize * 3;
                let x = x as f64;
                if let Some(wj) = w.get(j..j + 3) {
                    a += x * wj[0];
                    b += x * wj[1];
                    c += x * wj[2];
                }
            }
            out[0] += a;
            out[1] += b;
            out[2] += c;
            return;
        }
        for (&j, &x) in idx.iter().zip(val) {
            let j = j as usize;
            let wj = &w[j * k..(j + 1) * k];
            for c in 0..k {
                out[c] += x as f64 * wj[c];
            }
        }
    }
    fn add_row(&self, r: usize, coef: &[f64], k: usize, grad: &mut [f64]) {
        let (idx, val) = self.row(r);
        if k == 3 {
            let (a, b, c) = (coef[0], coef[1], coef[2]);
            for (&j, &x) in idx.iter().zip(val) {
                let j = j as usize * 3;
                let x = x as f64;
                if let Some(gj) = grad.get_mut(j..j + 3) {
                    gj[0] += x * a;
                    gj[1] += x * b;
                    gj[2] += x * c;
                }
            }
            return;
        }
        for (&j, &x) in idx.iter().zip(val) {
            let j = j as usize;
            let gj = &mut grad[j * k..(j + 1) * k];
            for c in 0..k {
                gj[c] += x as f64 * coef[c];
            }
        }
    }
}

/// The loss of a linear model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Binary logistic: one output, the log-odds of the positive class.
    Logistic,
    /// Multinomial logistic (softmax): one output per class.
    Softmax,
    /// Squared error (ridge regression): one output.
    Squared,
}

/// Class weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every row weighs 1.
    #[default]
    None,
    /// Class `c` weighs `n / (classes * n_c)`.
    Balanced,
}

impl std::str::FromStr for ClassWeight {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<ClassWeight> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "" => Ok(ClassWeight::None),
            "balanced" => Ok(ClassWeight::Balanced),
            _ => Err(crate::Error::Data(format!("class weight {s:?} is not none or balanced"))),
        }
    }
}

impl ClassWeight {
    /// The weight of each row of class indices `y` among `classes` classes.
    pub fn row_weights(self, y: &[usize], classes: usize) -> Vec<f64> {
        match self {
            ClassWeight::None => vec![1.0; y.len()],
            ClassWeight::Balanced => {
                let mut count = vec![0usize; classes];
                for &c in y {
                    count[c] += 1;
                }
                let n = y.len() as f64;
                let w: Vec<f64> = count.iter().map(|&m| if m == 0 { 0.0 } else { n / (classes as f64 * m as f64) }).collect();
                y.iter().map(|&c| w[c]).collect()
            }
        }
    }
}

/// A fitted linear model: `scores = x · coef + intercept` (`coef` is features × outputs).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearModel {
    /// The loss it was fit with.
    pub loss: Loss,
    /// Outputs (1, or the number of classes for softmax).
    pub outputs: usize,
    /// `features * outputs`, feature-major.
    pub coef: Vec<f64>,
    /// One per output.
    pub intercept: Vec<f64>,
    /// L-BFGS iterations used.
    pub iterations: usize,
    /// Whether L-BFGS met its tolerance.
    pub converged: bool,
}

/// Targets of a linear fit.
#[derive(Debug, Clone, Copy)]
pub enum Targets<'a> {
    /// Class indices (`Logistic`: 1 = positive).
    Classes(&'a [usize]),
    /// Real values (`Squared`).
    Values(&'a [f64]),
}

/// What to fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearFit {
    /// The loss.
    pub loss: Loss,
    /// Inverse regularisation strength (scikit-learn's `C`; ridge uses `alpha = 1 / C`).
    pub c: f64,
    /// Solver limits.
    pub opts: LbfgsOptions,
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// `log(1 + exp(z))` without overflow.
fn log1pexp(z: f64) -> f64 {
    if z > 30.0 { z } else if z < -30.0 { z.exp() } else { z.exp().ln_1p() }
}

/// Adds the L2 penalty on `coef` (not the intercepts, the tail of `grad`) to the summed
/// loss `value` and its gradient, and divides both by the total weight.
fn penalised(value: f64, coef: &[f64], grad: &mut [f64], l2: f64, wsum: f64) -> f64 {
    let mut pen = 0.0;
    for (gj, cj) in grad.iter_mut().zip(coef) {
        pen += cj * cj;
        *gj += l2 * cj;
    }
    for gj in grad.iter_mut() {
        *gj /= wsum;
    }
    (value + 0.5 * l2 * pen) / wsum
}

/// Row `r`'s weighted loss for scores `z`; its weighted residuals (the loss's gradient in
/// the scores) go to `d`.
fn row_loss(loss: Loss, y: Targets<'_>, r: usize, wr: f64, z: &[f64], d: &mut [f64]) -> f64 {
    match (loss, y) {
        (Loss::Logistic, Targets::Classes(yc)) => {
            let t = if yc[r] == 1 { 1.0 } else { 0.0 };
            d[0] = wr * (sigmoid(z[0]) - t);
            wr * (log1pexp(z[0]) - t * z[0])
        }
        (Loss::Softmax, Targets::Classes(yc)) => {
            let k = z.len();
            let m = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for c in 0..k {
                d[c] = (z[c] - m).exp();
                sum += d[c];
            }
            for c in 0..k {
                d[c] = wr * (d[c] / sum - if c == yc[r] { 1.0 } else { 0.0 });
            }
            wr * (sum.ln() + m - z[yc[r]])
        }
        (Loss::Squared, Targets::Values(yv)) => {
            let err = z[0] - yv[r];
            d[0] = wr * err;
            wr * 0.5 * err * err
        }
        _ => {
            d.iter_mut().for_each(|x| *x = 0.0);
            0.0
        }
    }
}

impl LinearFit {
    /// Fits on `x` with targets `y`, row weights `w` and `classes` classes (softmax).
    pub fn fit(&self, x: &dyn Design, y: Targets<'_>, w: &[f64], classes: usize) -> LinearModel {
        let p = x.cols();
        let n = x.rows();
        let k = if self.loss == Loss::Softmax { classes.max(2) } else { 1 };
        let wsum: f64 = w.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let l2 = 1.0 / self.c;
        let dim = p * k + k;
        let loss = self.loss;
        let mut x0 = vec![0.0; dim];
        if let (Loss::Squared, Targets::Values(yv)) = (loss, y) {
            x0[p * k] = yv.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() / wsum;
        }
        // Sparse designs: the gradient X^T D is read from the transpose, one disjoint run
        // of features per thread, instead of each thread scattering into its own copy of the
        // whole gradient and adding the copies up (for the sentiment model's 300K weights
        // that was most of an evaluation).
        let r = if let Some(xt) = x.transpose() {
            let mut dz = vec![0.0; n * k];
            let rows_per = (n / (4 * rayon::current_num_threads().max(1))).max(256);
            let feats_per = (p / (4 * rayon::current_num_threads().max(1))).max(256);
            let f = move |theta: &[f64], grad: &mut [f64]| -> f64 {
                let (coef, icpt) = theta.split_at(p * k);
                // Scores and residuals per row.
                let value: f64 = dz
                    .par_chunks_mut(rows_per * k)
                    .enumerate()
                    .map(|(b, out)| {
                        let mut v = 0.0;
                        let mut z = vec![0.0; k];
                        for (i, d) in out.chunks_mut(k).enumerate() {
                            let r = b * rows_per + i;
                            if w[r] == 0.0 {
                                d.iter_mut().for_each(|x| *x = 0.0);
                                continue;
                            }
                            z.copy_from_slice(icpt);
                            x.dot_row(r, coef, k, &mut z);
                            v += row_loss(loss, y, r, w[r], &z, d);
                        }
                        v
                    })
                    .sum();
                // grad[j] = sum over the rows of feature j of x[r][j] * d[r], plus the penalty.
                let (gcoef, gicpt) = grad.split_at_mut(p * k);
                gcoef.par_chunks_mut(feats_per * k).enumerate().for_each(|(b, out)| {
                    for (i, g) in out.chunks_mut(k).enumerate() {
                        let j = b * feats_per + i;
                        g.iter_mut().for_each(|x| *x = 0.0);
                        let (rows, vals) = xt.row(j);
                        if k == 3 {
                            let (mut a, mut b, mut c) = (0.0, 0.0, 0.0);
                            for (&r, &v) in rows.iter().zip(vals) {
                                let v = v as f64;
                                if let Some(d) = dz.get(r as usize * 3..r as usize * 3 + 3) {
                                    a += v * d[0];
                                    b += v * d[1];
                                    c += v * d[2];
                                }
                            }
                            g[0] = a;
                            g[1] = b;
                            g[2] = c;
                            continue;
                        }
                        for (&r, &v) in rows.iter().zip(vals) {
                            let d = &dz[r as usize * k..(r as usize + 1) * k];
                            for c in 0..k {
                                g[c] += v as f64 * d[c];
                            }
                        }
                    }
                });
                gicpt.iter_mut().for_each(|x| *x = 0.0);
                for d in dz.chunks(k) {
                    for c in 0..k {
                        gicpt[c] += d[c];
                    }
                }
                penalised(value, coef, grad, l2, wsum)
            };
            minimize(f, x0, &self.opts)
        } else {
            // Threads pay off only on large designs: waking rayon's workers costs tens of
            // microseconds per evaluation, more than a whole pass over a 5,000 x 50 matrix.
            let work = n.saturating_mul(p.max(1)).saturating_mul(k);
            let block = if work < 4_000_000 { n.max(1) } else { (n / (4 * rayon::current_num_threads().max(1))).max(256) };
            let starts: Vec<usize> = (0..n).step_by(block).collect();
            let f = |theta: &[f64], grad: &mut [f64]| -> f64 {
                let (coef, icpt) = theta.split_at(p * k);
                let one = |s: usize| {
                        let e = (s + block).min(n);
                        let mut g = vec![0.0; dim];
                        let mut v = 0.0;
                        let mut z = vec![0.0; k];
                        let mut d = vec![0.0; k];
                        for r in s..e {
                            if w[r] == 0.0 {
                                continue;
                            }
                            z.copy_from_slice(icpt);
                            x.dot_row(r, coef, k, &mut z);
                            v += row_loss(loss, y, r, w[r], &z, &mut d);
                            x.add_row(r, &d, k, &mut g);
                            for c in 0..k {
                                g[p * k + c] += d[c];
                            }
                        }
                        (v, g)
                    };
                let parts: Vec<(f64, Vec<f64>)> = if starts.len() <= 1 { starts.iter().map(|&s| one(s)).collect() } else { starts.par_iter().map(|&s| one(s)).collect() };
                grad.iter_mut().for_each(|g| *g = 0.0);
                let mut value = 0.0;
                for (v, g) in parts {
                    value += v;
                    for (a, b) in grad.iter_mut().zip(&g) {
                        *a += b;
                    }
                }
                penalised(value, coef, grad, l2, wsum)
            };
            minimize(f, x0, &self.opts)
        };
        let (coef, icpt) = r.x.split_at(p * k);
        LinearModel { loss, outputs: k, coef: coef.to_vec(), intercept: icpt.to_vec(), iterations: r.iterations, converged: r.converged }
    }
}

impl LinearModel {
    /// Number of features.
    pub fn features(&self) -> usize {
        self.coef.len() / self.outputs.max(1)
    }

    /// Raw scores (`rows * outputs`).
    pub fn decision(&self, x: &dyn Design) -> Vec<f64> {
        let k = self.outputs;
        let mut out = vec![0.0; x.rows() * k];
        out.par_chunks_mut(k).enumerate().for_each(|(r, z)| {
            z.copy_from_slice(&self.intercept);
            x.dot_row(r, &self.coef, k, z);
        });
        out
    }

    /// Class probabilities (`rows * classes`; two columns for the logistic loss), or the
    /// predicted values for the squared loss (one column).
    pub fn predict(&self, x: &dyn Design) -> Vec<f64> {
        let z = self.decision(x);
        match self.loss {
            Loss::Squared => z,
            Loss::Logistic => z.iter().flat_map(|&v| {
                let p = sigmoid(v);
                [1.0 - p, p]
            }).collect(),
            Loss::Softmax => {
                let k = self.outputs;
                let mut out = z;
                for row in out.chunks_mut(k) {
                    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let mut s = 0.0;
                    for v in row.iter_mut() {
                        *v = (*v - m).exp();
                        s += *v;
                    }
                    row.iter_mut().for_each(|v| *v /= s);
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> (Matrix, Vec<usize>) {
        // Two features; class 1 when x0 + x1 > 0 (with a margin), deterministic.
        let mut data = Vec::new();
        let mut y = Vec::new();
        for i in 0..200 {
            let a = ((i * 37) % 101) as f64 / 50.0 - 1.0;
            let b = ((i * 53) % 97) as f64 / 48.0 - 1.0;
            data.extend_from_slice(&[a, b]);
            y.push(usize::from(a + b > 0.0));
        }
        (Matrix { rows: 200, cols: 2, data }, y)
    }

    #[test]
    fn logistic_separates_a_linear_rule_and_matches_sklearns_objective() {
        let (x, y) = blobs();
        let fit = LinearFit { loss: Loss::Logistic, c: 1.0, opts: LbfgsOptions::default() };
        let m = fit.fit(&x, Targets::Classes(&y), &vec![1.0; 200], 2);
        assert!(m.converged);
        let p = m.predict(&x);
        let acc = (0..200).filter(|&r| (p[2 * r + 1] >= 0.5) == (y[r] == 1)).count();
        assert!(acc >= 190, "{acc}");
        assert!((m.coef[0] - m.coef[1]).abs() < 0.5 * m.coef[0].abs(), "symmetric rule: {:?}", m.coef);
        // Stronger regularisation shrinks the weights.
        let weak = LinearFit { c: 0.01, ..fit }.fit(&x, Targets::Classes(&y), &vec![1.0; 200], 2);
        assert!(weak.coef[0].abs() < m.coef[0].abs());
    }

    #[test]
    fn softmax_with_sparse_rows_learns_three_classes() {
        // Class c has feature c set (plus noise feature 3).
        let mut csr = Csr { cols: 4, indptr: vec![0], ..Csr::default() };
        let mut y = Vec::new();
        for i in 0..90 {
            let c = i % 3;
            csr.indices.extend_from_slice(&[c as u32, 3]);
            csr.values.extend_from_slice(&[1.0, 0.5]);
            csr.indptr.push(csr.indices.len());
            y.push(c);
        }
        let fit = LinearFit { loss: Loss::Softmax, c: 10.0, opts: LbfgsOptions::default() };
        let m = fit.fit(&csr, Targets::Classes(&y), &vec![1.0; 90], 3);
        let p = m.predict(&csr);
        for r in 0..90 {
            let best = (0..3).max_by(|&a, &b| p[3 * r + a].total_cmp(&p[3 * r + b])).expect("3 classes");
            assert_eq!(best, y[r]);
        }
    }

    /// The sparse path (gradient from the transpose) minimises the same objective as the
    /// dense one: the same data as a `Matrix` and as a `Csr` give the same weights, for 2
    /// (logistic), 3 (unrolled softmax) and 4 classes, with weighted and zero-weight rows.
    #[test]
    fn sparse_and_dense_designs_fit_the_same_model() {
        let (rows, cols) = (700, 40);
        let mut dense = vec![0.0; rows * cols];
        let mut csr = Csr { cols, indptr: vec![0], ..Csr::default() };
        for r in 0..rows {
            for j in 0..cols {
                let h = (r * 7919 + j * 104_729) % 1000;
                if h < 120 {
                    let v = (h as f32 / 120.0) + 0.1;
                    dense[r * cols + j] = v as f64;
                    csr.indices.push(j as u32);
                    csr.values.push(v);
                }
            }
            csr.indptr.push(csr.indices.len());
        }
        let x = Matrix { rows, cols, data: dense };
        assert_eq!(csr.transposed().transposed(), csr);
        for classes in [2usize, 3, 4] {
            let y: Vec<usize> = (0..rows).map(|r| (r * 31 + (r / 7)) % classes).collect();
            let mut w = ClassWeight::Balanced.row_weights(&y, classes);
            w[5] = 0.0;
            let loss = if classes == 2 { Loss::Logistic } else { Loss::Softmax };
            let fit = LinearFit { loss, c: 0.5, opts: LbfgsOptions { gtol: 1e-9, ..LbfgsOptions::default() } };
            let a = fit.fit(&x, Targets::Classes(&y), &w, classes);
            let b = fit.fit(&csr, Targets::Classes(&y), &w, classes);
            assert!(a.converged && b.converged, "{classes}: {} / {}", a.iterations, b.iterations);
            for (u, v) in a.coef.iter().chain(&a.intercept).zip(b.coef.iter().chain(&b.intercept)) {
                assert!((u - v).abs() <= 1e-5 * (1.0 + u.abs()), "{classes} classes: {u} vs {v}");
            }
        }
    }

    #[test]
    fn ridge_recovers_a_line() {
        let data: Vec<f64> = (0..50).map(|i| i as f64 / 10.0).collect();
        let y: Vec<f64> = data.iter().map(|x| 2.0 * x + 1.0).collect();
        let x = Matrix { rows: 50, cols: 1, data };
        let fit = LinearFit { loss: Loss::Squared, c: 1e6, opts: LbfgsOptions { gtol: 1e-10, ..LbfgsOptions::default() } };
        let m = fit.fit(&x, Targets::Values(&y), &vec![1.0; 50], 1);
        assert!((m.coef[0] - 2.0).abs() < 1e-3 && (m.intercept[0] - 1.0).abs() < 1e-3, "{m:?}");
    }

    #[test]
    fn balanced_weights_are_sklearns() {
        let w = ClassWeight::Balanced.row_weights(&[0, 0, 0, 1], 2);
        assert_eq!(w, vec![4.0 / 6.0, 4.0 / 6.0, 4.0 / 6.0, 2.0]);
    }
}

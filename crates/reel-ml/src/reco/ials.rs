//! Implicit ALS (Hu, Koren & Volinsky 2008): every rating is a positive with a confidence,
//! everything unrated is a zero with confidence 1, and user and item factors are solved in
//! turn by weighted least squares.
//!
//! ```text
//!  minimise  Σ_(u,i) c_ui (p_ui − x_u·y_i)²  +  reg (Σ|x_u|² + Σ|y_i|²)
//!            p_ui = 1 and c_ui = confidence(r_ui) for a rating, p_ui = 0 and c_ui = 1 otherwise
//!  half-iteration (users; items are the same with the roles swapped):
//!      G = YᵀY + reg·I                              once, f×f (the Gramian trick)
//!      for every user u, in parallel:                (G + Σ_i∈u (c_ui−1) y_i y_iᵀ) x_u = Σ_i∈u c_ui y_i
//!          cg_steps of conjugate gradient, warm-started from the previous x_u
//! ```
//!
//! Conjugate gradient (Takács, Pilászy & Tikk 2011) instead of a Cholesky solve per row: a CG
//! step costs O(f² + n_u·f) against O(f³ + n_u·f²) for building and factoring the f×f system,
//! and because x_u moves little between iterations, three warm-started steps are as good as an
//! exact solve for ranking. The unrated pairs never appear: their contribution is G.
//!
//! Scores rank items, they are not ratings ([`ModelKind::Ranking`]). An unknown user gets the
//! popularity order (number of positives per item), declared as a fallback; so does a known
//! user without any positive (all their ratings below `min_rating`), whose factors are zero.
//! An unknown item scores 0. Items no one rated (catalogue-only) get zero factors and score 0.
//!
//! Speed: before its CG passes, each row copies its positives' factor rows into one contiguous
//! block (independent loads the CPU overlaps, instead of a cache miss per row in every pass),
//! and the passes run in SIMD picked at run time (`pulp`: AVX2 + FMA where present, since the
//! portable build assumes only SSE2). On 25M ratings (163k users × 59k items), 64 factors and
//! every rating a positive, an iteration costs about 5 CPU-seconds (`examples/implicit_speed.rs
//! 25m`); rows are solved in parallel with rayon, so two idle cores take about half that.
//!
//! This file also holds the small numeric helpers the other factor models share (`dot`,
//! `axpy`, a seeded `SplitMix64`, cosine neighbours).
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::{Csr, Dataset, IdMap, Scale};
use crate::model::{Fallback, FitObserver, Model, ModelKind, Score, top_k};
use crate::reco::Algorithm;
use crate::{Error, Result};

/// How a rating turns into a confidence `c ≥ 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// `1 + alpha·r` (Hu et al.'s linear form, with the rating as the "count").
    Linear,
    /// `1 + alpha·ln(1 + r/eps)` (Hu et al.'s log form; flattens large counts).
    Log,
    /// `1 + alpha` for every positive: the rating only decides positive or not.
    Binary,
}

/// Parameters of [`IalsModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IalsParams {
    /// Latent factors, 1 to 1024.
    pub factors: usize,
    /// Alternating iterations (one users half + one items half each), 1 to 1000.
    pub iterations: usize,
    /// L2 regularisation of every factor vector, 0 to 1e6.
    pub reg: f32,
    /// Confidence slope, 0 to 1e6 (0 weighs positives like the unrated zeros).
    pub alpha: f32,
    /// The form of the confidence.
    pub confidence: Confidence,
    /// The `eps` of [`Confidence::Log`], above 0.
    pub eps: f32,
    /// Conjugate-gradient steps per row and half-iteration, 1 to 64.
    pub cg_steps: usize,
    /// Only ratings at or above this value are positives (0: every rating is).
    pub min_rating: f32,
    /// Seed of the initial factors.
    pub seed: u64,
}

impl Default for IalsParams {
    /// 64 factors, 15 iterations, 3 CG steps; `alpha` 2 (linear), `reg` 50 and `min_rating` 4
    /// were chosen on a seeded 90/10 validation split of the ML-100K training split
    /// (`examples/implicit_speed.rs grid ials ...`). `min_rating` 4 keeps the "liked" ratings
    /// on a 1–5 or 0.5–5 scale, what top-N evaluation calls relevant; use 0 for play or
    /// click counts.
    fn default() -> Self {
        IalsParams {
            factors: 64,
            iterations: 15,
            reg: 50.0,
            alpha: 2.0,
            confidence: Confidence::Linear,
            eps: 1.0,
            cg_steps: 3,
            min_rating: 4.0,
            seed: 42,
        }
    }
}

/// Checked [`IalsParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidIalsParams(IalsParams);

const ALGO: &str = "ials";

/// Refuses a float outside `[lo, hi]` (or NaN) for parameter `name`.
pub(crate) fn check_f32(algo: &'static str, name: &'static str, x: f32, lo: f32, hi: f32) -> Result<()> {
    if !(x.is_finite() && x >= lo && x <= hi) {
        return Err(Error::param(algo, name, x, format!("expected a number from {lo} to {hi}")));
    }
    Ok(())
}

/// Refuses an integer outside `[lo, hi]` for parameter `name`.
pub(crate) fn check_usize(algo: &'static str, name: &'static str, x: usize, lo: usize, hi: usize) -> Result<()> {
    if x < lo || x > hi {
        return Err(Error::param(algo, name, x, format!("expected an integer from {lo} to {hi}")));
    }
    Ok(())
}

impl IalsParams {
    /// Checks every parameter.
    pub fn check(&self) -> Result<ValidIalsParams> {
        check_usize(ALGO, "factors", self.factors, 1, 1024)?;
        check_usize(ALGO, "iterations", self.iterations, 1, 1000)?;
        check_f32(ALGO, "reg", self.reg, 0.0, 1e6)?;
        check_f32(ALGO, "alpha", self.alpha, 0.0, 1e6)?;
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(Error::param(ALGO, "eps", self.eps, "expected a number above 0"));
        }
        check_usize(ALGO, "cg_steps", self.cg_steps, 1, 64)?;
        check_f32(ALGO, "min_rating", self.min_rating, 0.0, 1e6)?;
        Ok(ValidIalsParams(self.clone()))
    }
}

/// Rating → confidence, `None` when the rating is not a positive.
#[derive(Debug, Clone, Copy)]
struct Conf {
    form: Confidence,
    alpha: f32,
    eps: f32,
    min: f32,
}

impl Conf {
    #[inline(always)]
    fn of(&self, r: f32) -> Option<f32> {
        if r < self.min {
            return None;
        }
        Some(match self.form {
            Confidence::Linear => 1.0 + self.alpha * r,
            Confidence::Log => 1.0 + self.alpha * (r / self.eps).ln_1p(),
            Confidence::Binary => 1.0 + self.alpha,
        })
    }
}

impl ValidIalsParams {
    /// Fits user and item factors.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<IalsModel> {
        let p = &self.0;
        let f = p.factors;
        let conf = Conf {
            form: p.confidence,
            alpha: p.alpha,
            eps: p.eps,
            min: p.min_rating,
        };
        let (nu, ni) = (data.n_users(), data.n_items());
        let counts = positive_counts(data, p.min_rating);
        if counts.iter().all(|&c| c == 0.0) {
            return Err(Error::Data(format!(
                "ials found no rating at or above min_rating = {}; lower min_rating",
                p.min_rating
            )));
        }
        let mut rng = SplitMix64::new(p.seed);
        // Small uniform start (std 0.1/√f, as Rendle et al. 2021 use): large enough to break
        // symmetry, small enough that the first half-iteration is dominated by the data.
        let scale = 0.1 * 3f32.sqrt() / (f as f32).sqrt();
        let mut x: Vec<f32> = (0..nu * f).map(|_| (rng.next_f32() * 2.0 - 1.0) * scale).collect();
        let mut y: Vec<f32> = (0..ni * f).map(|_| (rng.next_f32() * 2.0 - 1.0) * scale).collect();
        let steps = p.cg_steps;
        for it in 0..p.iterations {
            if !obs.keep_going() {
                return Err(Error::Cancelled);
            }
            half_step(&mut x, &y, data.by_user(), f, p.reg, conf, steps);
            half_step(&mut y, &x, data.by_item(), f, p.reg, conf, steps);
            obs.on_epoch(it + 1, p.iterations, None);
        }
        Ok(IalsModel {
            params: p.clone(),
            users: data.users().clone(),
            items: data.items().clone(),
            scale: data.scale(),
            x,
            y,
            counts,
        })
    }
}

/// Number of positives per item: the unknown-user fallback of the implicit models.
pub(crate) fn positive_counts(data: &Dataset, min_rating: f32) -> Vec<f32> {
    let mut counts = vec![0f32; data.n_items()];
    for (k, &i) in data.i.iter().enumerate() {
        if data.r[k] >= min_rating {
            counts[i as usize] += 1.0;
        }
    }
    counts
}

/// Per-thread buffers of [`half_step`].
#[derive(Default)]
struct Scratch {
    /// The factor rows of the current row's positives, gathered contiguously.
    rows: Vec<f32>,
    /// Their confidences.
    conf: Vec<f32>,
    /// CG vectors r, p and A·p, `3 × f`.
    cg: Vec<f32>,
}

/// Solves every row of `x` (one per CSR row of `rows`) against the fixed `other` factors.
fn half_step(x: &mut [f32], other: &[f32], rows: &Csr, f: usize, reg: f32, conf: Conf, steps: usize) {
    let arch = pulp::Arch::new();
    let mut g = gramian(other, f, arch);
    for k in 0..f {
        g[k * f + k] += reg;
    }
    x.par_chunks_mut(f)
        .enumerate()
        .for_each_init(Scratch::default, |s, (row, xr)| {
            let (cols, vals) = if row < rows.rows() {
                rows.row(row)
            } else {
                (&[][..], &[][..])
            };
            // Gather the positives' factor rows first: the copies are independent loads the CPU
            // overlaps, while the 1 + cg_steps passes below then run on a contiguous, cached
            // block. Reading `other` in place in every pass (the first version) stalled on a cache
            // miss per row and ran twice as slow on 25M ratings, where the factors outgrow L3.
            s.rows.clear();
            s.conf.clear();
            for (&j, &v) in cols.iter().zip(vals) {
                if let (Some(c), Some(y)) = (conf.of(v), other.get(j as usize * f..(j as usize + 1) * f)) {
                    s.rows.extend_from_slice(y);
                    s.conf.push(c);
                }
            }
            if s.conf.is_empty() {
                // No positive: b = 0, so the exact solution is 0 (CG would only approach it).
                xr.fill(0.0);
                return;
            }
            s.cg.resize(3 * f, 0.0);
            // Compiled for the best SIMD level of this CPU (AVX2 + FMA where present): the
            // portable build only assumes SSE2, and `#[target_feature]` alone needs `unsafe`.
            arch.dispatch(CgSolve {
                g: &g,
                rows: &s.rows,
                conf: &s.conf,
                f,
                steps,
                x: xr,
                cg: &mut s.cg,
            });
        });
}

/// `Σ_rows y yᵀ` of a row-major `n × f` matrix, in parallel over blocks of rows.
fn gramian(m: &[f32], f: usize, arch: pulp::Arch) -> Vec<f32> {
    // Blocks of 2048 rows: few enough partial f×f sums to add up, many enough to balance.
    m.par_chunks(f * 2048)
        .map(|block| {
            let mut g = vec![0f32; f * f];
            arch.dispatch(Gramian { block, f, g: &mut g });
            g
        })
        // Collected in block order and summed serially, so the sum (and the model) does not
        // depend on how rayon split the work; a `reduce` would add in a varying order.
        .collect::<Vec<_>>()
        .into_iter()
        .fold(vec![0f32; f * f], |mut a, b| {
            a.iter_mut().zip(&b).for_each(|(s, t)| *s += t);
            a
        })
}

/// `g += Σ y yᵀ` over the rows of `block`.
struct Gramian<'a> {
    block: &'a [f32],
    f: usize,
    g: &'a mut [f32],
}

impl pulp::WithSimd for Gramian<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Gramian { block, f, g } = self;
        for y in block.chunks_exact(f) {
            for (gk, &yk) in g.chunks_exact_mut(f).zip(y) {
                if yk != 0.0 {
                    simd_axpy(simd, yk, y, gk);
                }
            }
        }
    }
}

/// A few warm-started conjugate-gradient steps on
/// `(G + Σ_j (c_j − 1) y_j y_jᵀ) x = Σ_j c_j y_j` over one row's positives `j`, whose factor
/// rows are `rows` (`n × f`) and confidences `conf`.
struct CgSolve<'a> {
    g: &'a [f32],
    rows: &'a [f32],
    conf: &'a [f32],
    f: usize,
    steps: usize,
    x: &'a mut [f32],
    cg: &'a mut [f32],
}

impl pulp::WithSimd for CgSolve<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let CgSolve {
            g,
            rows,
            conf,
            f,
            steps,
            x,
            cg,
        } = self;
        let (r, rest) = cg.split_at_mut(f);
        let (p, ap) = rest.split_at_mut(f);
        // r = b − A x = −G x + Σ_j (c_j − (c_j − 1) y_j·x) y_j
        for (rk, gk) in r.iter_mut().zip(g.chunks_exact(f)) {
            *rk = -simd_dot(simd, gk, x);
        }
        for (y, &c) in rows.chunks_exact(f).zip(conf) {
            let s = simd_dot(simd, y, x);
            simd_axpy(simd, c - (c - 1.0) * s, y, r);
        }
        p.copy_from_slice(r);
        let mut rs = simd_dot(simd, r, r);
        for _ in 0..steps {
            if rs < 1e-20 {
                break;
            }
            // ap = A p
            for (ak, gk) in ap.iter_mut().zip(g.chunks_exact(f)) {
                *ak = simd_dot(simd, gk, p);
            }
            for (y, &c) in rows.chunks_exact(f).zip(conf) {
                let s = simd_dot(simd, y, p);
                simd_axpy(simd, (c - 1.0) * s, y, ap);
            }
            let pap = simd_dot(simd, p, ap);
            if pap <= 0.0 || !pap.is_finite() {
                break;
            }
            let a = rs / pap;
            simd_axpy(simd, a, p, x);
            simd_axpy(simd, -a, ap, r);
            let rs_new = simd_dot(simd, r, r);
            let beta = rs_new / rs;
            p.iter_mut().zip(r.iter()).for_each(|(pk, &rk)| *pk = rk + beta * *pk);
            rs = rs_new;
        }
    }
}

/// Dot product in SIMD registers with four accumulators (one would be a serial chain of
/// dependent adds).
#[inline(always)]
fn simd_dot<S: pulp::Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    let (av, at) = S::as_simd_f32s(a);
    let (bv, bt) = S::as_simd_f32s(b);
    let (a4, ar) = pulp::as_arrays::<4, _>(av);
    let (b4, br) = pulp::as_arrays::<4, _>(bv);
    let z = simd.splat_f32s(0.0);
    let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
    for (x, y) in a4.iter().zip(b4) {
        s0 = simd.mul_add_e_f32s(x[0], y[0], s0);
        s1 = simd.mul_add_e_f32s(x[1], y[1], s1);
        s2 = simd.mul_add_e_f32s(x[2], y[2], s2);
        s3 = simd.mul_add_e_f32s(x[3], y[3], s3);
    }
    for (x, y) in ar.iter().zip(br) {
        s0 = simd.mul_add_e_f32s(*x, *y, s0);
    }
    let mut t = simd.reduce_sum_f32s(simd.add_f32s(simd.add_f32s(s0, s1), simd.add_f32s(s2, s3)));
    for (x, y) in at.iter().zip(bt) {
        t += x * y;
    }
    t
}

/// `y += a·x` in SIMD registers.
#[inline(always)]
fn simd_axpy<S: pulp::Simd>(simd: S, a: f32, x: &[f32], y: &mut [f32]) {
    let va = simd.splat_f32s(a);
    let (xv, xt) = S::as_simd_f32s(x);
    let (yv, yt) = S::as_mut_simd_f32s(y);
    for (yk, xk) in yv.iter_mut().zip(xv) {
        *yk = simd.mul_add_e_f32s(va, *xk, *yk);
    }
    for (yk, xk) in yt.iter_mut().zip(xt) {
        *yk += a * xk;
    }
}

/// Dot product with sixteen independent partial sums, so the compiler can keep them in SIMD
/// lanes, two or four registers wide, and overlap the adds (a plain fold is one serial chain
/// it may not reorder).
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..16 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut h = [0f32; 8];
    for k in 0..8 {
        h[k] = acc[k] + acc[k + 8];
    }
    let mut s = (h[0] + h[4]) + (h[1] + h[5]) + (h[2] + h[6]) + (h[3] + h[7]);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// `y += a·x`.
#[inline]
pub(crate) fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    y.iter_mut().zip(x).for_each(|(yk, &xk)| *yk += a * xk);
}

/// A seeded 64-bit generator (SplitMix64): tiny, fast, and reproducible across platforms,
/// which is all factor initialisation and negative sampling need. `rand` was turned down to
/// keep the crate's dependency list short.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `0..n` (`n > 0`), by Lemire's multiply-shift.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// The `k` items whose factor rows are closest to item `i`'s by cosine, best first; items
/// with zero factors have similarity 0.
pub(crate) fn cosine_neighbours(y: &[f32], f: usize, i: u32, k: usize, items: &IdMap) -> Vec<(u32, f32)> {
    let n = y.len() / f.max(1);
    let i = i as usize;
    if i >= n || f == 0 {
        return Vec::new();
    }
    let yi = &y[i * f..(i + 1) * f];
    let ni = dot(yi, yi).sqrt();
    let cands = y.chunks_exact(f).enumerate().filter(|&(j, _)| j != i).map(|(j, yj)| {
        let d = ni * dot(yj, yj).sqrt();
        (j as u32, if d > 0.0 { dot(yi, yj) / d } else { 0.0 })
    });
    top_k(cands, k, items)
}

/// User and item factors from implicit ALS.
#[derive(Debug, Clone)]
pub struct IalsModel {
    params: IalsParams,
    users: IdMap,
    items: IdMap,
    scale: Scale,
    x: Vec<f32>,
    y: Vec<f32>,
    counts: Vec<f32>,
}

impl IalsModel {
    /// Rebuilds the model from an artifact.
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let params: IalsParams = a.params()?;
        params
            .check()
            .map_err(|e| Error::artifact(format!("stored parameters are invalid: {e}")))?;
        let f = params.factors;
        let x = a.take_f32("x", Some(users.len() * f))?;
        let y = a.take_f32("y", Some(items.len() * f))?;
        let counts = a.take_f32("counts", Some(items.len()))?;
        Ok(IalsModel {
            params,
            users,
            items,
            scale: a.header.scale,
            x,
            y,
            counts,
        })
    }

    /// Factors of user `u`, `None` for a user without positives (zero factors): they are
    /// answered by popularity like an unknown user.
    fn taste(&self, u: Option<u32>) -> Option<&[f32]> {
        u.and_then(|u| self.user_factors(u)).filter(|x| x.iter().any(|&v| v != 0.0))
    }

    /// Factors of user `u` (dense index).
    pub fn user_factors(&self, u: u32) -> Option<&[f32]> {
        let f = self.params.factors;
        self.x.get(u as usize * f..(u as usize + 1) * f)
    }

    /// Factors of item `i` (dense index).
    pub fn item_factors(&self, i: u32) -> Option<&[f32]> {
        let f = self.params.factors;
        self.y.get(i as usize * f..(i as usize + 1) * f)
    }
}

const FALLBACK: &str = "popularity (number of positives; 0 for an unknown item)";

impl Model for IalsModel {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Ials
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
        let value = match (self.taste(u), i) {
            (_, None) => 0.0,
            (Some(xu), Some(i)) => self.item_factors(i).map_or(0.0, |yi| dot(xu, yi)),
            (None, Some(i)) => self.counts.get(i as usize).copied().unwrap_or(0.0),
        };
        Score {
            value,
            fallback: Fallback::for_unknown(u, i, FALLBACK),
        }
    }
    fn score_items(&self, u: Option<u32>, out: &mut [f32]) {
        match self.taste(u) {
            Some(xu) => out
                .iter_mut()
                .zip(self.y.chunks_exact(self.params.factors))
                .for_each(|(o, yi)| *o = dot(xu, yi)),
            None => out.iter_mut().zip(&self.counts).for_each(|(o, &c)| *o = c),
        }
    }
    fn similar(&self, i: u32, k: usize) -> Option<Vec<(u32, f32)>> {
        Some(cosine_neighbours(&self.y, self.params.factors, i, k, &self.items))
    }
    fn write(&self, out: &mut ArtifactWriter) {
        out.f32s("x", self.x.clone());
        out.f32s("y", self.y.clone());
        out.f32s("counts", self.counts.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Ratings;
    use crate::model::Quiet;

    /// Two taste groups: users 0..20 rate items 0..10, users 20..40 rate items 10..20, each
    /// missing one item of their group.
    fn blocks() -> Dataset {
        let mut r = Ratings::default();
        for u in 0..40i64 {
            let base = if u < 20 { 0 } else { 10 };
            for i in 0..10i64 {
                if i != u % 10 {
                    r.push(u, base + i, 4.0, 0);
                }
            }
        }
        Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect("valid")
    }

    #[test]
    fn cg_matches_a_direct_solve() {
        // 2×2 system: G = [[2, .5], [.5, 1]] + one positive y = (1, 1) with c = 3.
        let g = vec![2.0, 0.5, 0.5, 1.0];
        let mut x = vec![0.0, 0.0];
        let mut cg = vec![0.0; 6];
        pulp::Arch::new().dispatch(CgSolve {
            g: &g,
            rows: &[1.0, 1.0],
            conf: &[3.0],
            f: 2,
            steps: 2,
            x: &mut x,
            cg: &mut cg,
        });
        // A = [[4, 2.5], [2.5, 3]], b = (3, 3): x = (6/23, 18/23); CG is exact in 2 steps.
        assert!((x[0] - 6.0 / 23.0).abs() < 1e-5 && (x[1] - 18.0 / 23.0).abs() < 1e-5, "{x:?}");
    }

    #[test]
    fn recovers_the_missing_item_of_each_group() {
        let d = blocks();
        // reg 1: with 0.1 the 8 factors memorise each user's gap and item cosines get noisy.
        let m = IalsParams {
            factors: 8,
            iterations: 10,
            reg: 1.0,
            ..IalsParams::default()
        }
        .check()
        .expect("valid")
        .fit(&d, &mut Quiet)
        .expect("fits");
        for u in [0i64, 7, 25, 33] {
            let (top, fb) = crate::model::recommend(&m, u, 1, &|i| {
                d.by_user().row(m.users.get(u).map_or(0, |x| x as usize)).0.contains(&i)
            });
            let want = if u < 20 { u % 10 } else { 10 + u % 10 };
            assert!(fb.is_none());
            assert_eq!(top[0].item, want, "user {u}");
        }
        let sim = crate::model::similar(&m, 0, 5).expect("has similar");
        assert!(sim.iter().all(|s| s.item < 10), "{sim:?}");
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let bad = [
            IalsParams {
                factors: 0,
                ..Default::default()
            },
            IalsParams {
                iterations: 0,
                ..Default::default()
            },
            IalsParams {
                reg: -1.0,
                ..Default::default()
            },
            IalsParams {
                alpha: f32::NAN,
                ..Default::default()
            },
            IalsParams {
                eps: 0.0,
                ..Default::default()
            },
            IalsParams {
                cg_steps: 0,
                ..Default::default()
            },
            IalsParams {
                min_rating: -1.0,
                ..Default::default()
            },
        ];
        let names = ["factors", "iterations", "reg", "alpha", "eps", "cg_steps", "min_rating"];
        for (p, name) in bad.iter().zip(names) {
            let e = p.check().expect_err(name);
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn same_seed_same_model() {
        let d = blocks();
        let p = IalsParams {
            factors: 4,
            iterations: 3,
            ..IalsParams::default()
        }
        .check()
        .expect("valid");
        let a = p.fit(&d, &mut Quiet).expect("fits");
        let b = p.fit(&d, &mut Quiet).expect("fits");
        assert_eq!(a.x, b.x);
        assert_eq!(a.y, b.y);
    }
}

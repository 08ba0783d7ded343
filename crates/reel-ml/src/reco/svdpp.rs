//! SVD++: SVD plus an implicit term from the set of items each user rated (Koren 2008),
//! Surprise's `SVDpp` with its knobs and defaults.
//!
//! ```text
//!  estimate(u, i) = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)
//! ```
//!
//! **Same updates as Surprise, at the cost of SVD.** Surprise recomputes the implicit sum
//! `z_u = |N(u)|^-1/2 sum y_j` for every rating and then updates every `y_j` of the user:
//! O(|N(u)|^2 k) per user and epoch, hence its 10 s on ML-100K. Here, all `y_j` of a user
//! receive the same update `y_j <- a y_j + c_t q_i` (with `a = 1 - lr_yj reg_yj`), so after
//! `t` of the user's ratings `y_j = a^t y_j(0) + D_t` for one shared vector `D_t`, and
//! `z <- a z + lr_yj err q_i` exactly. We keep `z` up to date per rating (O(k)), recover
//! `D = (z - a^t z(0)) |N(u)|^-1/2` at the end of the user, and write every `y_j` once:
//! O(|N(u)| k) per user. This is Surprise's per-rating semantics, not the common "update y
//! once per user with the summed gradient" shortcut (turned down: it changes the algorithm),
//! up to float rounding.
//!
//! Ratings are visited user by user, as in Surprise (the implicit sum is per user). Training
//! is single-threaded: every user writes `y_j` for all the items they rated, so users cannot
//! be split into blocks that share no item (turned down: Hogwild, racy and not
//! reproducible). The epoch runs in SIMD chosen at run time, like SVD's kernel (AVX2 + FMA
//! where present, rows padded to whole vectors; see `svd`): 22 ns an update and a 39 ms fit
//! for the defaults on ML-100K (35 ns and 52 to 62 ms with the SSE2 build it replaced).
//!
//! The model keeps each user's effective vector `p_u + z_u`, so scoring costs what SVD's does
//! and needs no training data.
use serde::{Deserialize, Serialize};

use crate::artifact::Artifact;
use crate::data::{Csr, Dataset, IdMap};
use crate::model::FitObserver;
use crate::reco::Algorithm;
use crate::reco::svd::{
    Factors, Layout, Rates, Rng, check_epochs, check_factors, check_init, check_lr, check_reg, factor_model, narrow_rows,
    simd_lanes, stored, with_best_simd,
};
use crate::{Error, Result};

/// Parameters of [`SvdppModel`]. Defaults are Surprise's `SVDpp` defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SvdppParams {
    /// Number of latent factors (Surprise `n_factors`).
    pub factors: usize,
    /// Passes over the training ratings (Surprise `n_epochs`).
    pub epochs: usize,
    /// Mean of the normal distribution the factors start from.
    pub init_mean: f32,
    /// Standard deviation of that distribution (Surprise `init_std_dev`).
    pub init_std: f32,
    /// Learning rate of every term (Surprise `lr_all`).
    pub lr: f32,
    /// Regularisation of every term (Surprise `reg_all`).
    pub reg: f32,
    /// Learning rate of the user biases, overriding `lr`.
    pub lr_bu: Option<f32>,
    /// Learning rate of the item biases, overriding `lr`.
    pub lr_bi: Option<f32>,
    /// Learning rate of the user factors, overriding `lr`.
    pub lr_pu: Option<f32>,
    /// Learning rate of the item factors, overriding `lr`.
    pub lr_qi: Option<f32>,
    /// Learning rate of the implicit item factors, overriding `lr`.
    pub lr_yj: Option<f32>,
    /// Regularisation of the user biases, overriding `reg`.
    pub reg_bu: Option<f32>,
    /// Regularisation of the item biases, overriding `reg`.
    pub reg_bi: Option<f32>,
    /// Regularisation of the user factors, overriding `reg`.
    pub reg_pu: Option<f32>,
    /// Regularisation of the item factors, overriding `reg`.
    pub reg_qi: Option<f32>,
    /// Regularisation of the implicit item factors, overriding `reg`.
    pub reg_yj: Option<f32>,
    /// Seed of the initial factors (Surprise `random_state`).
    pub seed: u64,
}

impl Default for SvdppParams {
    fn default() -> Self {
        SvdppParams {
            factors: 20,
            epochs: 20,
            init_mean: 0.0,
            init_std: 0.1,
            lr: 0.007,
            reg: 0.02,
            lr_bu: None,
            lr_bi: None,
            lr_pu: None,
            lr_qi: None,
            lr_yj: None,
            reg_bu: None,
            reg_bi: None,
            reg_pu: None,
            reg_qi: None,
            reg_yj: None,
            seed: 0,
        }
    }
}

/// Checked [`SvdppParams`], with every per-term rate resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSvdppParams {
    params: SvdppParams,
    rates: Rates,
    lr_yj: f32,
    reg_yj: f32,
}

impl SvdppParams {
    /// Checks every parameter and resolves the per-term overrides.
    pub fn check(&self) -> Result<ValidSvdppParams> {
        const A: &str = "svdpp";
        check_factors(A, "factors", self.factors)?;
        check_epochs(A, "epochs", self.epochs)?;
        check_init(A, self.init_mean, self.init_std)?;
        let rates = Rates::resolve(
            A,
            (self.lr, [self.lr_bu, self.lr_bi, self.lr_pu, self.lr_qi]),
            (self.reg, [self.reg_bu, self.reg_bi, self.reg_pu, self.reg_qi]),
        )?;
        let lr_of = |name, v: Option<f32>| v.map_or(Ok(self.lr), |x| check_lr(A, name, x));
        let reg_of = |name, v: Option<f32>| v.map_or(Ok(self.reg), |x| check_reg(A, name, x));
        Ok(ValidSvdppParams {
            params: self.clone(),
            rates,
            lr_yj: lr_of("lr_yj", self.lr_yj)?,
            reg_yj: reg_of("reg_yj", self.reg_yj)?,
        })
    }
}

/// Per-update constants for rows laid out by a training [`Layout`]: as SVD's (`keep` and
/// `lr` of p and q), plus the implicit sum's decay and rate (a rate of 0 in the bias lanes,
/// which `z` must not touch).
#[derive(Debug, Clone)]
struct Coef {
    keep_p: f32,
    lr_p: f32,
    keep_q: f32,
    lr_q: f32,
    keep_z: f32,
    lr_z: f32,
    /// Row width.
    width: usize,
    /// keep_p, lr_p, keep_q, lr_q and lr_z of every lane of a row: five runs of `width`.
    lanes: Vec<f32>,
}

impl Coef {
    fn new(lay: &Layout, r: &Rates, lr_yj: f32, reg_yj: f32) -> Coef {
        let (keep_p, keep_q) = (1.0 - r.lr_pu * r.reg_pu, 1.0 - r.lr_qi * r.reg_qi);
        let w = lay.width;
        let mut lanes = vec![0f32; 5 * w];
        for pos in 0..w {
            let lane = if pos < lay.k {
                [keep_p, r.lr_pu, keep_q, r.lr_qi, lr_yj]
            } else if pos == w - 2 {
                [1.0 - r.lr_bu * r.reg_bu, r.lr_bu, 1.0, 0.0, 0.0]
            } else if pos == w - 1 {
                [1.0, 0.0, 1.0 - r.lr_bi * r.reg_bi, r.lr_bi, 0.0]
            } else {
                [0.0; 5]
            };
            for (t, v) in lane.into_iter().enumerate() {
                lanes[t * w + pos] = v;
            }
        }
        Coef {
            keep_p,
            lr_p: r.lr_pu,
            keep_q,
            lr_q: r.lr_qi,
            keep_z: 1.0 - lr_yj * reg_yj,
            lr_z: lr_yj,
            width: w,
            lanes,
        }
    }
}

/// [`Coef`] in SIMD registers: the uniform constants splatted, and the per-lane constants of
/// the vectors from `first` on (those holding the bias lanes).
struct SimdCoef<S: pulp::Simd> {
    keep_p: S::f32s,
    keep_q: S::f32s,
    keep_z: S::f32s,
    lr_p: f32,
    lr_q: f32,
    lr_z: f32,
    /// keep_p, lr_p, keep_q, lr_q, lr_z of vector `first + t`, `t < 2`.
    tail: [[S::f32s; 5]; 2],
}

impl<S: pulp::Simd> SimdCoef<S> {
    #[inline(always)]
    fn new(simd: S, c: &Coef, first: usize) -> Self {
        let l = S::F32_LANES;
        let nv = c.width / l;
        let zero = simd.splat_f32s(0.0);
        let mut tail = [[zero; 5]; 2];
        for (t, row) in tail.iter_mut().enumerate().take(nv.saturating_sub(first)) {
            for (x, v) in row.iter_mut().enumerate() {
                let at = x * c.width + (first + t) * l;
                *v = S::as_simd_f32s(&c.lanes[at..at + l]).0.first().copied().unwrap_or(zero);
            }
        }
        SimdCoef {
            keep_p: simd.splat_f32s(c.keep_p),
            keep_q: simd.splat_f32s(c.keep_q),
            keep_z: simd.splat_f32s(c.keep_z),
            lr_p: c.lr_p,
            lr_q: c.lr_q,
            lr_z: c.lr_z,
            tail,
        }
    }
}

/// One SVD++ update for rating `r` (minus the mean) of the current user: `p` the user's row,
/// `z` the implicit sum (bias lanes 0), `q` the item's row, `v` scratch. Returns the error.
/// `first` is the first vector with per-lane constants.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn step<S: pulp::Simd>(
    simd: S,
    p: &mut [S::f32s],
    z: &mut [S::f32s],
    q: &mut [S::f32s],
    v: &mut [S::f32s],
    r: f32,
    c: &SimdCoef<S>,
    first: usize,
) -> f32 {
    let zero = simd.splat_f32s(0.0);
    let mut acc = [zero; 4];
    for (j, ((v, &a), (&b, &y))) in v.iter_mut().zip(p.iter()).zip(z.iter().zip(q.iter())).enumerate() {
        *v = simd.add_f32s(a, b);
        acc[j % 4] = simd.mul_add_e_f32s(*v, y, acc[j % 4]);
    }
    let err = r - simd.reduce_sum_f32s(simd.add_f32s(simd.add_f32s(acc[0], acc[1]), simd.add_f32s(acc[2], acc[3])));
    let (gp, gq, gz) = (simd.splat_f32s(c.lr_p * err), simd.splat_f32s(c.lr_q * err), simd.splat_f32s(c.lr_z * err));
    let first = first.min(p.len());
    for (((x, y), w), &vv) in p[..first].iter_mut().zip(q[..first].iter_mut()).zip(z[..first].iter_mut()).zip(&v[..first]) {
        let qo = *y;
        *x = simd.mul_add_e_f32s(gp, qo, simd.mul_f32s(c.keep_p, *x));
        *y = simd.mul_add_e_f32s(gq, vv, simd.mul_f32s(c.keep_q, qo));
        *w = simd.mul_add_e_f32s(gz, qo, simd.mul_f32s(c.keep_z, *w));
    }
    let e = simd.splat_f32s(err);
    for ((((x, y), w), &vv), [kp, lp, kq, lq, lz]) in
        p[first..].iter_mut().zip(q[first..].iter_mut()).zip(z[first..].iter_mut()).zip(&v[first..]).zip(c.tail)
    {
        let qo = *y;
        *x = simd.mul_add_e_f32s(simd.mul_f32s(lp, e), qo, simd.mul_f32s(kp, *x));
        *y = simd.mul_add_e_f32s(simd.mul_f32s(lq, e), vv, simd.mul_f32s(kq, qo));
        *w = simd.mul_add_e_f32s(simd.mul_f32s(lz, e), qo, simd.mul_f32s(c.keep_z, *w));
    }
    err
}

/// One epoch over every user (see [`epoch_simd`]).
struct Epoch<'a> {
    by_user: &'a Csr,
    mu: f32,
    p: &'a mut [f32],
    q: &'a mut [f32],
    y: &'a mut [f32],
    c: &'a Coef,
    /// Three rows: z0, z and v.
    scratch: &'a mut [f32],
}

impl pulp::WithSimd for Epoch<'_> {
    type Output = f64;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> f64 {
        macro_rules! vectors {
            ($($n:literal)*) => {
                match self.c.width / S::F32_LANES {
                    $($n => epoch_simd(simd, self, $n),)*
                    n => epoch_simd(simd, self, n),
                }
            };
        }
        // Each arm passes a constant, so its loops unroll.
        vectors!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }
}

/// One epoch over every user, rows `nv` vectors wide. Returns the sum of squared errors.
#[inline(always)]
fn epoch_simd<S: pulp::Simd>(simd: S, e: Epoch<'_>, nv: usize) -> f64 {
    let first = ((nv * S::F32_LANES).saturating_sub(2) / S::F32_LANES).min(nv.saturating_sub(1));
    let c = SimdCoef::new(simd, e.c, first);
    let (p, _) = S::as_mut_simd_f32s(e.p);
    let (q, _) = S::as_mut_simd_f32s(e.q);
    let (y, _) = S::as_mut_simd_f32s(e.y);
    let (scratch, _) = S::as_mut_simd_f32s(e.scratch);
    let (z0, rest) = scratch.split_at_mut(nv);
    let (z, rest) = rest.split_at_mut(nv);
    let v = &mut rest[..nv];
    let zero = simd.splat_f32s(0.0);
    let mut loss = 0f64;
    for u in 0..e.by_user.rows() {
        let (items, ratings) = e.by_user.row(u);
        let Some(pu) = p.get_mut(u * nv..(u + 1) * nv) else { continue };
        if items.is_empty() {
            continue;
        }
        let isq = 1.0 / (items.len() as f32).sqrt();
        z0.fill(zero);
        for &j in items {
            if let Some(yj) = y.get(j as usize * nv..(j as usize + 1) * nv) {
                for (a, &b) in z0.iter_mut().zip(yj) {
                    *a = simd.add_f32s(*a, b);
                }
            }
        }
        let s = simd.splat_f32s(isq);
        for a in z0.iter_mut() {
            *a = simd.mul_f32s(*a, s);
        }
        z.copy_from_slice(z0);
        let mut decay = 1f32;
        let mut ul = 0f32;
        for (&i, &r) in items.iter().zip(ratings) {
            if let Some(qi) = q.get_mut(i as usize * nv..(i as usize + 1) * nv) {
                let err = step(simd, pu, z, qi, v, r - e.mu, &c, first);
                ul += err * err;
                decay *= e.c.keep_z;
            }
        }
        loss += ul as f64;
        // y_j = decay * y_j + D for every j, with D recovered from the tracked sum.
        let d = simd.splat_f32s(decay);
        for ((o, &a), &b) in v.iter_mut().zip(z.iter()).zip(z0.iter()) {
            *o = simd.mul_f32s(simd.sub_f32s(a, simd.mul_f32s(d, b)), s);
        }
        for &j in items {
            if let Some(yj) = y.get_mut(j as usize * nv..(j as usize + 1) * nv) {
                for (a, &o) in yj.iter_mut().zip(v.iter()) {
                    *a = simd.mul_add_e_f32s(d, *a, o);
                }
            }
        }
    }
    loss
}

impl ValidSvdppParams {
    /// The parameters as given.
    pub fn params(&self) -> &SvdppParams {
        &self.params
    }

    /// Trains the model.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<SvdppModel> {
        let pr = &self.params;
        let lay = Layout::new(pr.factors, true);
        // Training rows are a whole number of SIMD vectors wide.
        let tl = Layout::padded(pr.factors, true, simd_lanes());
        let w = tl.width;
        let mu = data.mean() as f32;
        let mut rng = Rng::new(pr.seed);
        // Surprise's order of draws: p, then q, then y.
        let mut p = tl.init_rows(&mut rng, data.n_users(), false, pr.init_mean, pr.init_std);
        let mut q = tl.init_rows(&mut rng, data.n_items(), true, pr.init_mean, pr.init_std);
        // y in the same layout with bias lanes 0, so that z adds to p lane by lane.
        let mut y = tl.init_rows(&mut rng, data.n_items(), true, pr.init_mean, pr.init_std);
        for row in y.chunks_exact_mut(w) {
            row[w - 2] = 0.0;
        }
        let coef = Coef::new(&tl, &self.rates, self.lr_yj, self.reg_yj);
        let total = data.len() as f64;
        // Each user's ratings in a seeded random order, fixed for all epochs (Surprise walks
        // them in file order, which is as good as random; the ascending item order of the
        // dataset's rows made the RMSE vary more between seeds).
        let mut order = data.by_user().clone();
        let mut pairs: Vec<(u32, f32)> = Vec::new();
        for u in 0..order.rows() {
            let (a, b) = (order.offsets[u], order.offsets[u + 1]);
            pairs.clear();
            pairs.extend(order.idx[a..b].iter().copied().zip(order.val[a..b].iter().copied()));
            rng.shuffle(&mut pairs);
            for (k, &(i, r)) in pairs.iter().enumerate() {
                order.idx[a + k] = i;
                order.val[a + k] = r;
            }
        }
        let mut scratch = vec![0f32; 3 * w];
        for epoch in 0..pr.epochs {
            if !obs.keep_going() {
                return Err(Error::Cancelled);
            }
            let loss = with_best_simd(Epoch {
                by_user: &order,
                mu,
                p: &mut p,
                q: &mut q,
                y: &mut y,
                c: &coef,
                scratch: &mut scratch,
            });
            obs.on_epoch(epoch + 1, pr.epochs, Some((loss / total).sqrt()));
        }
        // The effective user rows p_u + z_u.
        let by_user = data.by_user();
        for u in 0..data.n_users() {
            let (items, _) = by_user.row(u);
            if items.is_empty() {
                continue;
            }
            let isq = 1.0 / (items.len() as f32).sqrt();
            let pu = &mut p[u * w..(u + 1) * w];
            for &j in items {
                let yj = &y[j as usize * w..(j as usize + 1) * w];
                for (a, &b) in pu[..lay.k].iter_mut().zip(yj) {
                    *a += isq * b;
                }
            }
        }
        let (p, q) = (narrow_rows(p, &tl, &lay), narrow_rows(q, &tl, &lay));
        Ok(SvdppModel {
            params: self.params.clone(),
            f: Factors::new(data, lay, p, q),
        })
    }
}

/// A fitted SVD++ model. The user rows hold the effective vector `p_u + z_u`.
#[derive(Debug, Clone)]
pub struct SvdppModel {
    params: SvdppParams,
    f: Factors,
}

factor_model!(SvdppModel, Algorithm::Svdpp, "p_implicit");

impl SvdppModel {
    /// Rebuilds the model from an artifact.
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let params: SvdppParams = a.params()?;
        stored(params.check())?;
        let lay = Layout::new(params.factors, true);
        Ok(SvdppModel {
            f: Factors::read(users, items, a, lay, "p_implicit")?,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reco::svd::SimdLevel;

    /// Surprise's SVD++ epoch, in f64 and O(|N(u)|^2 k) per user: `p`, `q`, `y` are `k` wide,
    /// `bu`, `bi` the biases.
    #[allow(clippy::too_many_arguments)]
    fn reference_epoch(
        by_user: &Csr,
        mu: f64,
        k: usize,
        p: &mut [f64],
        q: &mut [f64],
        y: &mut [f64],
        bu: &mut [f64],
        bi: &mut [f64],
        r: &Rates,
        lr_yj: f64,
        reg_yj: f64,
    ) -> f64 {
        let mut loss = 0.0;
        for u in 0..by_user.rows() {
            let (items, ratings) = by_user.row(u);
            let isq = 1.0 / (items.len() as f64).sqrt();
            for (&i, &rating) in items.iter().zip(ratings) {
                let i = i as usize;
                let mut z = vec![0f64; k];
                for &j in items {
                    for f in 0..k {
                        z[f] += y[j as usize * k + f] * isq;
                    }
                }
                let dot: f64 = (0..k).map(|f| q[i * k + f] * (p[u * k + f] + z[f])).sum();
                let err = rating as f64 - (mu + bu[u] + bi[i] + dot);
                loss += err * err;
                bu[u] += r.lr_bu as f64 * (err - r.reg_bu as f64 * bu[u]);
                bi[i] += r.lr_bi as f64 * (err - r.reg_bi as f64 * bi[i]);
                for f in 0..k {
                    let (pf, qf) = (p[u * k + f], q[i * k + f]);
                    p[u * k + f] += r.lr_pu as f64 * (err * qf - r.reg_pu as f64 * pf);
                    q[i * k + f] += r.lr_qi as f64 * (err * (pf + z[f]) - r.reg_qi as f64 * qf);
                    for &j in items {
                        let yj = &mut y[j as usize * k + f];
                        *yj += lr_yj * (err * qf * isq - reg_yj * *yj);
                    }
                }
            }
        }
        loss
    }

    #[test]
    fn the_simd_epoch_makes_surprises_updates() {
        let params = SvdppParams { lr: 0.05, reg: 0.1, lr_bi: Some(0.03), reg_yj: Some(0.3), ..SvdppParams::default() };
        let v = params.check().expect("valid");
        // Three users, four items; user 2 has a single rating.
        let by_user = Csr {
            offsets: vec![0, 3, 5, 6],
            idx: vec![2, 0, 3, 1, 2, 0],
            val: vec![4.0, 2.0, 5.0, 3.0, 1.0, 4.0],
        };
        let mu = 3.0f32;
        for level in SimdLevel::available() {
            for k in [3, 20, 70] {
                let (lay, tl) = (Layout::new(k, true), Layout::padded(k, true, level.lanes()));
                let mut rng = Rng::new(k as u64);
                let mut draw = |n: usize| (0..n).map(|_| rng.uniform() - 0.5).collect::<Vec<f64>>();
                let (mut pf, mut qf, mut yf) = (draw(3 * k), draw(4 * k), draw(4 * k));
                let (mut bu, mut bi) = (vec![0.1, -0.2, 0.3], vec![0.25, -0.05, 0.0, 0.1]);
                let as32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                let wide = |rows: Vec<f32>| {
                    let mut out = vec![0f32; rows.len() / lay.width * tl.width];
                    for (o, r) in out.chunks_exact_mut(tl.width).zip(rows.chunks_exact(lay.width)) {
                        o[..k].copy_from_slice(&r[..k]);
                        o[tl.width - 2..].copy_from_slice(&r[lay.width - 2..]);
                    }
                    out
                };
                let mut p = wide(lay.from_parts(&as32(&pf), &as32(&bu), false));
                let mut q = wide(lay.from_parts(&as32(&qf), &as32(&bi), true));
                let mut y = wide(lay.from_parts(&as32(&yf), &[0.0; 4], true));
                for row in y.chunks_exact_mut(tl.width) {
                    row[tl.width - 2] = 0.0;
                }
                let c = Coef::new(&tl, &v.rates, v.lr_yj, v.reg_yj);
                let mut scratch = vec![0f32; 3 * tl.width];
                let (mut loss, mut want) = (0.0, 0.0);
                for _ in 0..2 {
                    loss += level.run(Epoch {
                        by_user: &by_user,
                        mu,
                        p: &mut p,
                        q: &mut q,
                        y: &mut y,
                        c: &c,
                        scratch: &mut scratch,
                    });
                    want += reference_epoch(
                        &by_user,
                        mu as f64,
                        k,
                        &mut pf,
                        &mut qf,
                        &mut yf,
                        &mut bu,
                        &mut bi,
                        &v.rates,
                        v.lr_yj as f64,
                        v.reg_yj as f64,
                    );
                }
                assert!((loss - want).abs() < 1e-4 * want.max(1.0), "{level:?} k {k}: loss {loss} vs {want}");
                let w = tl.width;
                for (rows, f, b, name) in [(&p, &pf, Some(&bu), "p"), (&q, &qf, Some(&bi), "q"), (&y, &yf, None, "y")] {
                    for (x, row) in rows.chunks_exact(w).enumerate() {
                        for j in 0..k {
                            assert!((row[j] as f64 - f[x * k + j]).abs() < 1e-5, "{level:?} k {k} {name} row {x} lane {j}");
                        }
                        assert!(row[k..w - 2].iter().all(|&z| z == 0.0), "{level:?} {name}: padding stays zero");
                        match b {
                            Some(b) => {
                                let (bias, one) = if name == "q" { (row[w - 1], row[w - 2]) } else { (row[w - 2], row[w - 1]) };
                                assert_eq!(one, 1.0, "{level:?} {name}: constant lane");
                                assert!((bias as f64 - b[x]).abs() < 1e-5, "{level:?} k {k} {name} bias {bias} vs {}", b[x]);
                            }
                            None => assert!(row[w - 2..].iter().all(|&z| z == 0.0), "{level:?}: y has no bias lanes"),
                        }
                    }
                }
            }
        }
    }
}

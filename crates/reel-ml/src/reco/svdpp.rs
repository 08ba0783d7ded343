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
//! reproducible). It still fits ML-100K in tens of milliseconds.
//!
//! The model keeps each user's effective vector `p_u + z_u`, so scoring costs what SVD's does
//! and needs no training data.
use serde::{Deserialize, Serialize};

use crate::artifact::Artifact;
use crate::data::{Csr, Dataset, IdMap};
use crate::model::FitObserver;
use crate::reco::Algorithm;
use crate::reco::svd::{
    Factors, Layout, Rates, Rng, check_epochs, check_factors, check_init, check_lr, check_reg, dot, factor_model, stored,
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
        let lr = check_lr(A, "lr", self.lr)?;
        let reg = check_reg(A, "reg", self.reg)?;
        let lr_of = |name, v: Option<f32>| v.map_or(Ok(lr), |x| check_lr(A, name, x));
        let reg_of = |name, v: Option<f32>| v.map_or(Ok(reg), |x| check_reg(A, name, x));
        let rates = Rates {
            lr_bu: lr_of("lr_bu", self.lr_bu)?,
            lr_bi: lr_of("lr_bi", self.lr_bi)?,
            lr_pu: lr_of("lr_pu", self.lr_pu)?,
            lr_qi: lr_of("lr_qi", self.lr_qi)?,
            reg_bu: reg_of("reg_bu", self.reg_bu)?,
            reg_bi: reg_of("reg_bi", self.reg_bi)?,
            reg_pu: reg_of("reg_pu", self.reg_pu)?,
            reg_qi: reg_of("reg_qi", self.reg_qi)?,
        };
        Ok(ValidSvdppParams {
            params: self.clone(),
            rates,
            lr_yj: lr_of("lr_yj", self.lr_yj)?,
            reg_yj: reg_of("reg_yj", self.reg_yj)?,
        })
    }
}

/// Per-update constants: as SVD's (`keep`, `lr` for p and q, per lane in the last chunk),
/// plus the implicit sum's decay and rate (0 in the bias lanes, which `z` must not touch).
#[derive(Debug, Clone, Copy)]
struct Coef {
    /// Per lane of a whole row: keep_p, lr_p, keep_q, lr_q, lr_z.
    lanes: [[f32; 5]; 4],
    keep_p: f32,
    lr_p: f32,
    keep_q: f32,
    lr_q: f32,
    keep_z: f32,
    lr_z: f32,
}

impl Coef {
    fn new(lay: &Layout, r: &Rates, lr_yj: f32, reg_yj: f32) -> Coef {
        let (keep_p, keep_q) = (1.0 - r.lr_pu * r.reg_pu, 1.0 - r.lr_qi * r.reg_qi);
        let w = lay.width;
        let mut lanes = [[0f32; 5]; 4];
        for (l, lane) in lanes.iter_mut().enumerate() {
            let pos = w - 4 + l;
            *lane = if pos < lay.k {
                [keep_p, r.lr_pu, keep_q, r.lr_qi, lr_yj]
            } else if pos == w - 2 {
                [1.0 - r.lr_bu * r.reg_bu, r.lr_bu, 1.0, 0.0, 0.0]
            } else if pos == w - 1 {
                [1.0, 0.0, 1.0 - r.lr_bi * r.reg_bi, r.lr_bi, 0.0]
            } else {
                [0.0; 5]
            };
        }
        Coef {
            lanes,
            keep_p,
            lr_p: r.lr_pu,
            keep_q,
            lr_q: r.lr_qi,
            keep_z: 1.0 - lr_yj * reg_yj,
            lr_z: lr_yj,
        }
    }
}

/// One SVD++ update for rating `r` (minus the mean) of the current user: `p` the user's row,
/// `z` the implicit sum (bias lanes 0), `q` the item's row. Returns the error.
#[inline(always)]
fn step(p: &mut [f32], z: &mut [f32], q: &mut [f32], v: &mut [f32], r: f32, c: &Coef) -> f32 {
    for ((v, &a), &b) in v.iter_mut().zip(p.iter()).zip(z.iter()) {
        *v = a + b;
    }
    let err = r - dot(v, q);
    let (gp, gq, gz) = (c.lr_p * err, c.lr_q * err, c.lr_z * err);
    let cut = p.len().saturating_sub(4);
    for (((x, y), w), &vv) in p[..cut]
        .iter_mut()
        .zip(q[..cut].iter_mut())
        .zip(z[..cut].iter_mut())
        .zip(&v[..cut])
    {
        let qo = *y;
        *x = c.keep_p * *x + gp * qo;
        *y = c.keep_q * qo + gq * vv;
        *w = c.keep_z * *w + gz * qo;
    }
    for l in 0..4.min(p.len() - cut) {
        let j = cut + l;
        let [kp, lp, kq, lq, lz] = c.lanes[l];
        let qo = q[j];
        p[j] = kp * p[j] + (lp * err) * qo;
        q[j] = kq * qo + (lq * err) * v[j];
        z[j] = c.keep_z * z[j] + (lz * err) * qo;
    }
    err
}

/// One epoch over every user, rows `w` wide. Returns the sum of squared errors.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn epoch_rows(by_user: &Csr, mu: f32, p: &mut [f32], q: &mut [f32], y: &mut [f32], w: usize, c: &Coef) -> f64 {
    let mut z0 = vec![0f32; w];
    let mut z = vec![0f32; w];
    let mut v = vec![0f32; w];
    let mut loss = 0f64;
    for u in 0..by_user.rows() {
        let (items, ratings) = by_user.row(u);
        if items.is_empty() {
            continue;
        }
        let isq = 1.0 / (items.len() as f32).sqrt();
        z0.fill(0.0);
        for &j in items {
            let yj = &y[j as usize * w..(j as usize + 1) * w];
            for (a, &b) in z0.iter_mut().zip(yj) {
                *a += b;
            }
        }
        for a in z0.iter_mut() {
            *a *= isq;
        }
        z.copy_from_slice(&z0);
        let mut decay = 1f32;
        let pu = &mut p[u * w..(u + 1) * w];
        let mut ul = 0f32;
        for (&i, &r) in items.iter().zip(ratings) {
            let qi = &mut q[i as usize * w..(i as usize + 1) * w];
            let err = step(pu, &mut z, qi, &mut v, r - mu, c);
            ul += err * err;
            decay *= c.keep_z;
        }
        loss += ul as f64;
        // y_j = decay * y_j + D for every j, with D recovered from the tracked sum.
        for ((d, &a), &b) in v.iter_mut().zip(&z).zip(&z0) {
            *d = (a - decay * b) * isq;
        }
        for &j in items {
            let yj = &mut y[j as usize * w..(j as usize + 1) * w];
            for (a, &d) in yj.iter_mut().zip(&v) {
                *a = decay * *a + d;
            }
        }
    }
    loss
}

/// [`epoch_rows`] with the row width known at compile time (so the loops unroll).
fn epoch_fixed<const W: usize>(data: &Csr, mu: f32, p: &mut [f32], q: &mut [f32], y: &mut [f32], c: &Coef) -> f64 {
    epoch_rows(data, mu, p, q, y, W, c)
}

fn run_epoch(data: &Csr, mu: f32, p: &mut [f32], q: &mut [f32], y: &mut [f32], w: usize, c: &Coef) -> f64 {
    macro_rules! widths {
        ($($w:literal)*) => {
            match w {
                $($w => epoch_fixed::<$w>(data, mu, p, q, y, c),)*
                _ => epoch_rows(data, mu, p, q, y, w, c),
            }
        };
    }
    widths!(4 8 12 16 20 24 28 32 36 40 44 48 52 56 60 64)
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
        let w = lay.width;
        let mu = data.mean() as f32;
        let mut rng = Rng::new(pr.seed);
        // Surprise's order of draws: p, then q, then y.
        let mut p = lay.init_rows(&mut rng, data.n_users(), false, pr.init_mean, pr.init_std);
        let mut q = lay.init_rows(&mut rng, data.n_items(), true, pr.init_mean, pr.init_std);
        let ylay = Layout::new(pr.factors, false);
        let y0 = ylay.init_rows(&mut rng, data.n_items(), true, pr.init_mean, pr.init_std);
        // y in the wide layout, bias lanes 0, so that z adds to p lane by lane.
        let mut y = vec![0f32; data.n_items() * w];
        for (dst, src) in y.chunks_exact_mut(w).zip(y0.chunks_exact(ylay.width)) {
            dst[..lay.k].copy_from_slice(&src[..lay.k]);
        }
        drop(y0);
        let coef = Coef::new(&lay, &self.rates, self.lr_yj, self.reg_yj);
        let total = data.len() as f64;
        // Each user's ratings in a seeded random order, fixed for all epochs (Surprise walks
        // them in file order, which is as good as random; the ascending item order of the
        // dataset's rows made the RMSE vary more between seeds).
        let mut order = data.by_user().clone();
        for u in 0..order.rows() {
            let (a, b) = (order.offsets[u], order.offsets[u + 1]);
            let mut pairs: Vec<(u32, f32)> = order.idx[a..b].iter().copied().zip(order.val[a..b].iter().copied()).collect();
            rng.shuffle(&mut pairs);
            for (k, (i, r)) in pairs.into_iter().enumerate() {
                order.idx[a + k] = i;
                order.val[a + k] = r;
            }
        }
        for epoch in 0..pr.epochs {
            if !obs.keep_going() {
                return Err(Error::Cancelled);
            }
            let loss = run_epoch(&order, mu, &mut p, &mut q, &mut y, w, &coef);
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

//! Bayesian personalised ranking (Rendle et al. 2009): matrix factorisation trained so that
//! every positive item outranks a random other item for the same user.
//!
//! ```text
//!  each epoch: as many steps as positives; one step:
//!      (u, i) a uniformly drawn positive, j a uniformly drawn item u has not rated positively
//!      x_uij = x_u·(y_i − y_j) + b_i − b_j,   g = σ(−x_uij)
//!      x_u += lr (g (y_i − y_j) − reg x_u)     y_i += lr (g x_u − reg y_i)
//!      y_j += lr (−g x_u − reg y_j)             b_i += lr (g − reg b_i),  b_j += lr (−g − reg b_j)
//! ```
//!
//! Plain serial SGD with a seeded generator, so a fit is reproducible. Hogwild-style parallel
//! updates were turned down: without `unsafe` they need atomics on every factor, and at the
//! sizes BPR is meant for here (ML-100K/1M) one core trains in well under a second; iALS is
//! the model for big data.
//!
//! An unknown user gets the popularity order (declared); a known user without any positive
//! ranks by the item biases alone. An unknown item scores 0.
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::{Dataset, IdMap, Scale};
use crate::model::{Fallback, FitObserver, Model, ModelKind, Score};
use crate::reco::Algorithm;
use crate::reco::ials::{SplitMix64, check_f32, check_usize, cosine_neighbours, dot, positive_counts};
use crate::{Error, Result};

/// Parameters of [`BprModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BprParams {
    /// Latent factors, 1 to 1024.
    pub factors: usize,
    /// Passes over the positives, 1 to 10000.
    pub epochs: usize,
    /// SGD learning rate, above 0 and at most 10.
    pub lr: f32,
    /// L2 regularisation, 0 to 10.
    pub reg: f32,
    /// Only ratings at or above this value are positives (0: every rating is).
    pub min_rating: f32,
    /// Seed of the initial factors and the sampling.
    pub seed: u64,
}

impl Default for BprParams {
    /// `lr` 0.02, `reg` 0.001, 100 epochs and `min_rating` 4, chosen on a seeded 90/10
    /// validation split of the ML-100K training split (`examples/implicit_speed.rs grid bpr`).
    fn default() -> Self {
        BprParams {
            factors: 64,
            epochs: 100,
            lr: 0.02,
            reg: 0.001,
            min_rating: 4.0,
            seed: 42,
        }
    }
}

/// Checked [`BprParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidBprParams(BprParams);

const ALGO: &str = "bpr";

impl BprParams {
    /// Checks every parameter.
    pub fn check(&self) -> Result<ValidBprParams> {
        check_usize(ALGO, "factors", self.factors, 1, 1024)?;
        check_usize(ALGO, "epochs", self.epochs, 1, 10_000)?;
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return Err(Error::param(ALGO, "lr", self.lr, "expected a number above 0 and at most 10"));
        }
        check_f32(ALGO, "reg", self.reg, 0.0, 10.0)?;
        check_f32(ALGO, "min_rating", self.min_rating, 0.0, 1e6)?;
        Ok(ValidBprParams(self.clone()))
    }
}

impl ValidBprParams {
    /// Trains the factors by SGD on sampled (user, positive, negative) triples.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<BprModel> {
        let p = &self.0;
        let f = p.factors;
        let (nu, ni) = (data.n_users(), data.n_items());
        // Positives by user, ascending (CSR rows are sorted), for the rejection test.
        let by_user = data.by_user();
        let mut offsets = Vec::with_capacity(nu + 1);
        let mut pos: Vec<u32> = Vec::new();
        let mut owner: Vec<u32> = Vec::new();
        offsets.push(0usize);
        for u in 0..nu {
            let (cols, vals) = by_user.row(u);
            for (&i, &r) in cols.iter().zip(vals) {
                if r >= p.min_rating {
                    pos.push(i);
                    owner.push(u as u32);
                }
            }
            offsets.push(pos.len());
        }
        if pos.is_empty() {
            return Err(Error::Data(format!(
                "bpr found no rating at or above min_rating = {}; lower min_rating",
                p.min_rating
            )));
        }
        let mut rng = SplitMix64::new(p.seed);
        let scale = 0.1 / (f as f32).sqrt();
        let mut x: Vec<f32> = (0..nu * f).map(|_| (rng.next_f32() * 2.0 - 1.0) * scale).collect();
        let mut y: Vec<f32> = (0..ni * f).map(|_| (rng.next_f32() * 2.0 - 1.0) * scale).collect();
        let mut b = vec![0f32; ni];
        let mut xu_old = vec![0f32; f];
        for epoch in 0..p.epochs {
            if !obs.keep_going() {
                return Err(Error::Cancelled);
            }
            let mut loss = 0f64;
            for _ in 0..pos.len() {
                let k = rng.below(pos.len());
                let (u, i) = (owner[k] as usize, pos[k] as usize);
                let mine = &pos[offsets[u]..offsets[u + 1]];
                if mine.len() >= ni {
                    continue; // the user rated everything: no negative exists
                }
                // Rejection sampling: a handful of tries find a negative for any user who
                // has not rated most of the catalogue.
                let mut j = rng.below(ni);
                let mut tries = 0;
                while mine.binary_search(&(j as u32)).is_ok() && tries < 32 {
                    j = rng.below(ni);
                    tries += 1;
                }
                if mine.binary_search(&(j as u32)).is_ok() {
                    continue;
                }
                let (xu, yi, yj) = (u * f, i * f, j * f);
                let xuij = b[i] - b[j] + dot(&x[xu..xu + f], &y[yi..yi + f]) - dot(&x[xu..xu + f], &y[yj..yj + f]);
                let g = 1.0 / (1.0 + xuij.exp()); // σ(−x_uij)
                loss += -f64::from(1.0 - g).max(1e-12).ln();
                xu_old.copy_from_slice(&x[xu..xu + f]);
                for k in 0..f {
                    let (wi, wj) = (y[yi + k], y[yj + k]);
                    x[xu + k] += p.lr * (g * (wi - wj) - p.reg * xu_old[k]);
                    y[yi + k] += p.lr * (g * xu_old[k] - p.reg * wi);
                    y[yj + k] += p.lr * (-g * xu_old[k] - p.reg * wj);
                }
                b[i] += p.lr * (g - p.reg * b[i]);
                b[j] += p.lr * (-g - p.reg * b[j]);
            }
            obs.on_epoch(epoch + 1, p.epochs, Some(loss / pos.len() as f64));
        }
        // Users without a positive were never sampled: drop their random start, so that
        // they rank by the item biases (a learned popularity) rather than by noise.
        for u in 0..nu {
            if offsets[u] == offsets[u + 1] {
                x[u * f..(u + 1) * f].fill(0.0);
            }
        }
        Ok(BprModel {
            params: p.clone(),
            users: data.users().clone(),
            items: data.items().clone(),
            scale: data.scale(),
            x,
            y,
            b,
            counts: positive_counts(data, p.min_rating),
        })
    }
}

/// User and item factors and item biases trained by BPR.
#[derive(Debug, Clone)]
pub struct BprModel {
    params: BprParams,
    users: IdMap,
    items: IdMap,
    scale: Scale,
    x: Vec<f32>,
    y: Vec<f32>,
    b: Vec<f32>,
    counts: Vec<f32>,
}

impl BprModel {
    /// Rebuilds the model from an artifact.
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let params: BprParams = a.params()?;
        params
            .check()
            .map_err(|e| Error::artifact(format!("stored parameters are invalid: {e}")))?;
        let f = params.factors;
        let x = a.take_f32("x", Some(users.len() * f))?;
        let y = a.take_f32("y", Some(items.len() * f))?;
        let b = a.take_f32("bias", Some(items.len()))?;
        let counts = a.take_f32("counts", Some(items.len()))?;
        Ok(BprModel {
            params,
            users,
            items,
            scale: a.header.scale,
            x,
            y,
            b,
            counts,
        })
    }

    fn user(&self, u: u32) -> Option<&[f32]> {
        let f = self.params.factors;
        self.x.get(u as usize * f..(u as usize + 1) * f)
    }
}

const FALLBACK: &str = "popularity (number of positives; 0 for an unknown item)";

impl Model for BprModel {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Bpr
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
        let f = self.params.factors;
        let value = match (u.and_then(|u| self.user(u)), i) {
            (_, None) => 0.0,
            (Some(xu), Some(i)) => match (self.y.get(i as usize * f..(i as usize + 1) * f), self.b.get(i as usize)) {
                (Some(yi), Some(bi)) => bi + dot(xu, yi),
                _ => 0.0,
            },
            (None, Some(i)) => self.counts.get(i as usize).copied().unwrap_or(0.0),
        };
        Score {
            value,
            fallback: Fallback::for_unknown(u, i, FALLBACK),
        }
    }
    fn score_items(&self, u: Option<u32>, out: &mut [f32]) {
        match u.and_then(|u| self.user(u)) {
            Some(xu) => out
                .iter_mut()
                .zip(self.y.chunks_exact(self.params.factors).zip(&self.b))
                .for_each(|(o, (yi, bi))| *o = bi + dot(xu, yi)),
            None => out.iter_mut().zip(&self.counts).for_each(|(o, &c)| *o = c),
        }
    }
    fn similar(&self, i: u32, k: usize) -> Option<Vec<(u32, f32)>> {
        Some(cosine_neighbours(&self.y, self.params.factors, i, k, &self.items))
    }
    fn write(&self, out: &mut ArtifactWriter) {
        out.f32s("x", self.x.clone());
        out.f32s("y", self.y.clone());
        out.f32s("bias", self.b.clone());
        out.f32s("counts", self.counts.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Ratings;
    use crate::model::{Quiet, recommend};

    #[test]
    fn learns_two_taste_groups() {
        let mut r = Ratings::default();
        for u in 0..40i64 {
            let base = if u < 20 { 0 } else { 10 };
            for i in 0..10i64 {
                if i != u % 10 {
                    r.push(u, base + i, 4.0, 0);
                }
            }
        }
        let d = Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect("valid");
        let m = BprParams {
            factors: 8,
            epochs: 200,
            ..BprParams::default()
        }
        .check()
        .expect("valid")
        .fit(&d, &mut Quiet)
        .expect("fits");
        for u in [3i64, 28] {
            let ui = d.users().get(u).expect("known") as usize;
            let (top, _) = recommend(&m, u, 1, &|i| d.by_user().row(ui).0.contains(&i));
            let want = if u < 20 { u % 10 } else { 10 + u % 10 };
            assert_eq!(top[0].item, want, "user {u}");
        }
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let cases = [
            (
                BprParams {
                    factors: 0,
                    ..Default::default()
                },
                "factors",
            ),
            (
                BprParams {
                    epochs: 0,
                    ..Default::default()
                },
                "epochs",
            ),
            (
                BprParams {
                    lr: 0.0,
                    ..Default::default()
                },
                "lr",
            ),
            (
                BprParams {
                    reg: -0.1,
                    ..Default::default()
                },
                "reg",
            ),
            (
                BprParams {
                    min_rating: f32::INFINITY,
                    ..Default::default()
                },
                "min_rating",
            ),
        ];
        for (p, name) in cases {
            let e = p.check().expect_err(name);
            assert!(e.to_string().contains(name), "{e}");
        }
    }
}

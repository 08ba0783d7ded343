//! Baselines: `b_ui = mu + b_u + b_i`, Surprise's `BaselineOnly`, fit by ALS or SGD.
//!
//! The same biases are the starting point of the neighbourhood models ([`crate::reco::knn`]):
//! `KNNBaseline` predicts `b_ui` plus a weighted mean of neighbours' residuals, and the
//! `pearson_baseline` similarity centres ratings on them.
//!
//! Both methods follow `surprise/prediction_algorithms/optimize_baselines.pyx` step for step,
//! in `f64` like Surprise, so predictions agree with it to about 1e-12:
//! - ALS (default; 10 epochs, `reg_u` 15, `reg_i` 10): each epoch sets every
//!   `b_i = sum(r - mu - b_u) / (reg_i + |R(i)|)` from the current user biases, then every
//!   `b_u = sum(r - mu - b_i) / (reg_u + |R(u)|)` from the new item biases. Each half-step only
//!   reads the other side's biases, so it runs in parallel with the same result.
//! - SGD (20 epochs, `reg` 0.02, `learning_rate` 0.005): one pass per epoch over the ratings in
//!   Surprise's order (users in order of first appearance, each user's ratings in input
//!   order), `err = r - b_ui; b_u += lr (err - reg b_u); b_i += lr (err - reg b_i)`. The order
//!   changes the result, which is why it is reproduced rather than shuffled.
//!
//! Unknown users or items contribute a bias of 0, as in Surprise: an unknown user gets
//! `mu + b_i`, an unknown item `mu + b_u`, both unknown `mu`.
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::{Csr, Dataset, IdMap, Scale};
use crate::model::{Fallback, FitObserver, Model, ModelKind, Score};
use crate::reco::Algorithm;
use crate::{Error, Result};

/// How the biases are fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaselineMethod {
    /// Alternating least squares (Surprise's default).
    Als,
    /// Stochastic gradient descent.
    Sgd,
}

/// Parameters of [`BaselineModel`] (Surprise's `bsl_options`).
///
/// `reg_u` and `reg_i` are used by ALS only; `reg` and `learning_rate` by SGD only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BaselineParams {
    /// `als` or `sgd`.
    pub method: BaselineMethod,
    /// Passes over the data; `None` means Surprise's default for the method (ALS 10, SGD 20).
    pub n_epochs: Option<usize>,
    /// ALS: regularisation of user biases.
    pub reg_u: f64,
    /// ALS: regularisation of item biases.
    pub reg_i: f64,
    /// SGD: regularisation of both biases.
    pub reg: f64,
    /// SGD: step size.
    pub learning_rate: f64,
}

impl Default for BaselineParams {
    fn default() -> Self {
        BaselineParams {
            method: BaselineMethod::Als,
            n_epochs: None,
            reg_u: 15.0,
            reg_i: 10.0,
            reg: 0.02,
            learning_rate: 0.005,
        }
    }
}

/// Checked [`BaselineParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidBaselineParams {
    params: BaselineParams,
    epochs: usize,
}

/// Largest accepted `n_epochs`: a bound that catches typos (10000 for 10) without limiting
/// any real use; the biases converge in tens of passes.
const MAX_EPOCHS: usize = 10_000;

impl BaselineParams {
    /// Checks the parameters. `algorithm` names the model in messages (`baseline`, or
    /// `item-knn` whose `bsl_*` parameters these are) and `names` the parameters there.
    pub(crate) fn check_as(&self, algorithm: &'static str, names: &BaselineNames) -> Result<ValidBaselineParams> {
        let epochs = self.n_epochs.unwrap_or(match self.method {
            BaselineMethod::Als => 10,
            BaselineMethod::Sgd => 20,
        });
        if epochs == 0 || epochs > MAX_EPOCHS {
            return Err(Error::param(
                algorithm,
                names.n_epochs,
                epochs,
                format!("expected an integer from 1 to {MAX_EPOCHS}"),
            ));
        }
        let non_negative = |name: &'static str, v: f64| -> Result<()> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::param(algorithm, name, v, "expected a finite number of 0 or more"))
            }
        };
        non_negative(names.reg_u, self.reg_u)?;
        non_negative(names.reg_i, self.reg_i)?;
        non_negative(names.reg, self.reg)?;
        // A step of 1 or more overshoots on every rating; 0 never moves.
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate < 1.0) {
            return Err(Error::param(
                algorithm,
                names.learning_rate,
                self.learning_rate,
                "expected a number above 0 and below 1",
            ));
        }
        Ok(ValidBaselineParams {
            params: self.clone(),
            epochs,
        })
    }

    /// Checks the parameters.
    pub fn check(&self) -> Result<ValidBaselineParams> {
        self.check_as("baseline", &BaselineNames::PLAIN)
    }
}

/// The names the baseline parameters have in error messages (they are `bsl_*` in kNN).
#[derive(Debug)]
pub(crate) struct BaselineNames {
    pub n_epochs: &'static str,
    pub reg_u: &'static str,
    pub reg_i: &'static str,
    pub reg: &'static str,
    pub learning_rate: &'static str,
}

impl BaselineNames {
    const PLAIN: BaselineNames = BaselineNames {
        n_epochs: "n_epochs",
        reg_u: "reg_u",
        reg_i: "reg_i",
        reg: "reg",
        learning_rate: "learning_rate",
    };
}

/// Fitted biases: `b_ui = mu + b_u + b_i`, in `f64` like Surprise.
#[derive(Debug, Clone, PartialEq)]
pub struct Biases {
    /// The mean training rating.
    pub mu: f64,
    /// User biases, by user index.
    pub bu: Vec<f64>,
    /// Item biases, by item index.
    pub bi: Vec<f64>,
}

impl Biases {
    /// `mu + b_u + b_i`, leaving out the bias of an unknown side (added in Surprise's order,
    /// so that the sums agree to the last bit).
    pub fn estimate(&self, u: Option<u32>, i: Option<u32>) -> f64 {
        let mut est = self.mu;
        if let Some(u) = u {
            est += self.bu[u as usize];
        }
        if let Some(i) = i {
            est += self.bi[i as usize];
        }
        est
    }

    pub(crate) fn write(&self, out: &mut ArtifactWriter) {
        out.f64s("mu", vec![self.mu]);
        out.f64s("bu", self.bu.clone());
        out.f64s("bi", self.bi.clone());
    }

    pub(crate) fn read(users: usize, items: usize, a: &mut Artifact) -> Result<Biases> {
        let mu = a.take_f64("mu", Some(1))?[0];
        let bu = a.take_f64("bu", Some(users))?;
        let bi = a.take_f64("bi", Some(items))?;
        if !mu.is_finite() || !bu.iter().chain(&bi).all(|b| b.is_finite()) {
            return Err(Error::artifact("a bias is not a finite number"));
        }
        Ok(Biases { mu, bu, bi })
    }
}

impl ValidBaselineParams {
    /// The number of epochs the fit will run.
    pub fn epochs(&self) -> usize {
        self.epochs
    }

    /// Fits the biases, reporting epochs `first..first + epochs` of `total` to `obs`.
    pub(crate) fn fit_biases(&self, data: &Dataset, obs: &mut dyn FitObserver, first: usize, total: usize) -> Result<Biases> {
        let p = &self.params;
        let mu = data.mean();
        let mut bu = vec![0f64; data.n_users()];
        let mut bi = vec![0f64; data.n_items()];
        // SGD visits ratings in Surprise's order: by user (index = order of first appearance),
        // each user's ratings in input order. A stable counting sort of the row numbers gives
        // it; the CSR rows are sorted by item instead, which would change the result.
        let order = match p.method {
            BaselineMethod::Sgd => rows_by_user(data),
            BaselineMethod::Als => Vec::new(),
        };
        for epoch in 0..self.epochs {
            if !obs.keep_going() {
                return Err(Error::Cancelled);
            }
            match p.method {
                BaselineMethod::Als => {
                    als_half_step(data.by_item(), mu, &bu, p.reg_i, &mut bi);
                    als_half_step(data.by_user(), mu, &bi, p.reg_u, &mut bu);
                }
                BaselineMethod::Sgd => {
                    let (lr, reg) = (p.learning_rate, p.reg);
                    for &k in &order {
                        let (u, i) = (data.u[k as usize] as usize, data.i[k as usize] as usize);
                        let err = data.r[k as usize] as f64 - (mu + bu[u] + bi[i]);
                        bu[u] += lr * (err - reg * bu[u]);
                        bi[i] += lr * (err - reg * bi[i]);
                    }
                }
            }
            obs.on_epoch(first + epoch, total, None);
        }
        if !bu.iter().chain(&bi).all(|b| b.is_finite()) {
            return Err(Error::Data(format!(
                "the {:?} baselines diverged to a non-finite value; lower learning_rate or raise the regularisation",
                p.method
            )));
        }
        Ok(Biases { mu, bu, bi })
    }

    /// Fits the biases.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<BaselineModel> {
        let biases = self.fit_biases(data, obs, 1, self.epochs)?;
        Ok(BaselineModel {
            params: self.params.clone(),
            users: data.users().clone(),
            items: data.items().clone(),
            scale: data.scale(),
            biases,
        })
    }
}

/// One ALS half-step: `out[x] = sum over row x of (r - mu - other[y]) / (reg + |row x|)`.
/// A row without ratings (a catalogue-only item) keeps a bias of 0 instead of 0/0 when
/// `reg` is 0.
fn als_half_step(rows: &Csr, mu: f64, other: &[f64], reg: f64, out: &mut [f64]) {
    out.par_iter_mut().enumerate().with_min_len(256).for_each(|(x, b)| {
        let (idx, val) = rows.row(x);
        if idx.is_empty() {
            *b = 0.0;
            return;
        }
        let mut dev = 0f64;
        for (&y, &r) in idx.iter().zip(val) {
            dev += r as f64 - mu - other[y as usize];
        }
        *b = dev / (reg + idx.len() as f64);
    });
}

/// Row numbers grouped by user index, input order within a user.
fn rows_by_user(data: &Dataset) -> Vec<u32> {
    let mut start = vec![0usize; data.n_users() + 1];
    for &u in &data.u {
        start[u as usize + 1] += 1;
    }
    for k in 0..data.n_users() {
        start[k + 1] += start[k];
    }
    let mut order = vec![0u32; data.len()];
    for (k, &u) in data.u.iter().enumerate() {
        order[start[u as usize]] = k as u32;
        start[u as usize] += 1;
    }
    order
}

/// Predicts `mu + b_u + b_i`.
#[derive(Debug, Clone)]
pub struct BaselineModel {
    params: BaselineParams,
    users: IdMap,
    items: IdMap,
    scale: Scale,
    biases: Biases,
}

impl BaselineModel {
    /// Rebuilds the model from an artifact (sections `mu`, `bu`, `bi`, all `f64`).
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let params: BaselineParams = a.params()?;
        let biases = Biases::read(users.len(), items.len(), a)?;
        Ok(BaselineModel {
            params,
            users,
            items,
            scale: a.header.scale,
            biases,
        })
    }

    /// The fitted biases.
    pub fn biases(&self) -> &Biases {
        &self.biases
    }
}

/// The fallback answer of every baseline-based model.
pub(crate) const BASELINE_FALLBACK: &str = "baseline (global mean + the bias of the known side, if any)";

impl Model for BaselineModel {
    fn algorithm(&self) -> Algorithm {
        Algorithm::Baseline
    }
    fn kind(&self) -> ModelKind {
        ModelKind::Rating
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
        Score {
            value: self.biases.estimate(u, i) as f32,
            fallback: Fallback::for_unknown(u, i, BASELINE_FALLBACK),
        }
    }
    fn score_items(&self, u: Option<u32>, out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.biases.estimate(u, Some(i as u32)) as f32;
        }
    }
    fn write(&self, out: &mut ArtifactWriter) {
        self.biases.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Ratings;
    use crate::model::Quiet;

    fn data() -> Dataset {
        let mut r = Ratings::default();
        for (u, i, x) in [
            (1, 10, 5.0),
            (1, 11, 3.0),
            (2, 10, 4.0),
            (3, 10, 2.0),
            (3, 12, 1.0),
            (2, 11, 4.0),
        ] {
            r.push(u, i, x, 0);
        }
        Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect("valid")
    }

    #[test]
    fn als_with_no_regularisation_and_one_epoch_is_the_item_mean_offset() {
        let p = BaselineParams {
            n_epochs: Some(1),
            reg_i: 0.0,
            reg_u: 1e9,
            ..Default::default()
        };
        let m = p.check().expect("valid").fit(&data(), &mut Quiet).expect("fits");
        let b = m.biases();
        let mu = 19.0 / 6.0;
        // Item 10 has ratings 5, 4, 2 and the user biases start at 0.
        assert!((b.bi[0] - (11.0 / 3.0 - mu)).abs() < 1e-12);
        assert!(b.bu.iter().all(|x| x.abs() < 1e-6), "huge reg_u keeps user biases at 0");
    }

    #[test]
    fn sgd_follows_surprise_order_by_hand() {
        // Two ratings, one epoch: the update order is (u1,i10) then (u1,i11).
        let mut r = Ratings::default();
        r.push(1, 10, 5.0, 0);
        r.push(1, 11, 1.0, 0);
        let d = Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect("valid");
        let p = BaselineParams {
            method: BaselineMethod::Sgd,
            n_epochs: Some(1),
            ..Default::default()
        };
        let m = p.check().expect("valid").fit(&d, &mut Quiet).expect("fits");
        let (lr, reg, mu) = (0.005, 0.02, 3.0);
        let (mut bu, mut bi0, mut bi1) = (0f64, 0f64, 0f64);
        let e = 5.0 - (mu + bu + bi0);
        bu += lr * (e - reg * bu);
        bi0 += lr * (e - reg * bi0);
        let e = 1.0 - (mu + bu + bi1);
        bu += lr * (e - reg * bu);
        bi1 += lr * (e - reg * bi1);
        assert_eq!(m.biases().bu, vec![bu]);
        assert_eq!(m.biases().bi, vec![bi0, bi1]);
    }

    #[test]
    fn unknown_sides_drop_their_bias() {
        let m = BaselineParams::default()
            .check()
            .expect("valid")
            .fit(&data(), &mut Quiet)
            .expect("fits");
        let b = m.biases().clone();
        assert_eq!(m.score(None, Some(1)).value, (b.mu + b.bi[1]) as f32);
        assert_eq!(m.score(Some(2), None).value, (b.mu + b.bu[2]) as f32);
        assert_eq!(m.score(None, None).value, b.mu as f32);
        assert!(m.score(None, None).fallback.is_some());
        assert!(m.score(Some(0), Some(0)).fallback.is_none());
    }

    #[test]
    fn catalogue_items_without_ratings_get_zero_bias_even_without_regularisation() {
        let d = data().with_catalogue(&[99]);
        let p = BaselineParams {
            reg_i: 0.0,
            reg_u: 0.0,
            ..Default::default()
        };
        let m = p.check().expect("valid").fit(&d, &mut Quiet).expect("fits");
        assert_eq!(m.biases().bi[3], 0.0);
        assert!(m.biases().bu.iter().all(|b| b.is_finite()));
    }

    #[test]
    fn every_out_of_range_parameter_is_named() {
        let bad: Vec<(BaselineParams, &str)> = vec![
            (
                BaselineParams {
                    n_epochs: Some(0),
                    ..Default::default()
                },
                "n_epochs",
            ),
            (
                BaselineParams {
                    n_epochs: Some(MAX_EPOCHS + 1),
                    ..Default::default()
                },
                "n_epochs",
            ),
            (
                BaselineParams {
                    reg_u: -1.0,
                    ..Default::default()
                },
                "reg_u",
            ),
            (
                BaselineParams {
                    reg_i: f64::NAN,
                    ..Default::default()
                },
                "reg_i",
            ),
            (
                BaselineParams {
                    reg: f64::INFINITY,
                    ..Default::default()
                },
                "reg",
            ),
            (
                BaselineParams {
                    learning_rate: 0.0,
                    ..Default::default()
                },
                "learning_rate",
            ),
            (
                BaselineParams {
                    learning_rate: 1.0,
                    ..Default::default()
                },
                "learning_rate",
            ),
        ];
        for (p, name) in bad {
            let e = p.check().expect_err(name).to_string();
            assert!(e.contains(&format!("parameter {name} ")), "{name}: {e}");
        }
    }
}

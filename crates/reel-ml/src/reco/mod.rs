//! The recommender algorithms, one module each, and the dispatch over them.
//!
//! Every algorithm module has the same shape:
//! - `XParams` (serde, `Default` = the documented defaults, `deny_unknown_fields`) with
//!   `check() -> Result<ValidXParams>` that refuses every out-of-range value;
//! - `ValidXParams::fit(&Dataset, &mut dyn FitObserver) -> Result<XModel>`;
//! - `XModel: Model` and `XModel::read(users, items, &mut Artifact) -> Result<XModel>`.
//!
//! [`Params`] names an algorithm and its parameters; [`fit`], [`save`] and [`load`] work for
//! any of them.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::Dataset;
use crate::model::{FitObserver, Model};
use crate::{Error, Result};

pub mod als;
pub mod baseline;
pub mod blend;
pub mod bpr;
pub mod content;
pub mod ease;
pub mod ials;
pub mod knn;
pub mod mean;
pub mod popularity;
pub mod svd;
pub mod svdpp;

pub use als::{AlsModel, AlsParams};
pub use baseline::{BaselineMethod, BaselineModel, BaselineParams};
pub use blend::{BlendModel, BlendParams};
pub use bpr::{BprModel, BprParams};
pub use content::{ContentModel, ContentParams};
pub use ease::{EaseModel, EaseParams};
pub use ials::{IalsModel, IalsParams};
pub use knn::{ItemKnnModel, ItemKnnParams, KnnVariant, Similarity};
pub use mean::{GlobalMeanModel, GlobalMeanParams};
pub use popularity::{PopularityModel, PopularityParams};
pub use svd::{SvdModel, SvdParams, UserVector};
pub use svdpp::{SvdppModel, SvdppParams};

/// Every algorithm, by its command-line name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// The mean rating.
    GlobalMean,
    /// Popularity (number of ratings).
    Popularity,
    /// `mu + b_u + b_i` (Surprise's BaselineOnly).
    Baseline,
    /// k-nearest neighbours on baselines (Surprise's KNNBaseline; item- or user-based).
    ItemKnn,
    /// Implicit ALS with conjugate-gradient solves.
    Ials,
    /// Bayesian personalised ranking (SGD on sampled pairs).
    Bpr,
    /// EASE, the closed-form item×item model.
    Ease,
    /// TF-IDF content profiles.
    Content,
    /// Biased matrix factorisation by SGD (Surprise's SVD).
    Svd,
    /// SVD with the implicit feedback of who rated what (Surprise's SVDpp).
    Svdpp,
    /// Explicit alternating least squares (Spark's ALS, optionally with biases).
    Als,
    /// A linear blend of rating models, weights fit on held-out ratings.
    Blend,
}

impl Algorithm {
    /// Every algorithm, in the order `reelhouse compare` lists them.
    pub const ALL: &'static [Algorithm] = &[
        Algorithm::GlobalMean,
        Algorithm::Popularity,
        Algorithm::Baseline,
        Algorithm::Svd,
        Algorithm::Svdpp,
        Algorithm::Als,
        Algorithm::ItemKnn,
        Algorithm::Ials,
        Algorithm::Bpr,
        Algorithm::Ease,
        Algorithm::Content,
        Algorithm::Blend,
    ];

    /// The command-line name (`svd`, `item-knn`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::GlobalMean => "global-mean",
            Algorithm::Popularity => "popularity",
            Algorithm::Baseline => "baseline",
            Algorithm::ItemKnn => "item-knn",
            Algorithm::Ials => "ials",
            Algorithm::Bpr => "bpr",
            Algorithm::Ease => "ease",
            Algorithm::Content => "content",
            Algorithm::Svd => "svd",
            Algorithm::Svdpp => "svdpp",
            Algorithm::Als => "als",
            Algorithm::Blend => "blend",
        }
    }

    /// One line for `--help` and `reelhouse models`.
    pub fn describe(self) -> &'static str {
        match self {
            Algorithm::GlobalMean => "the mean training rating for everything (the floor)",
            Algorithm::Popularity => "items by number of ratings, the same list for everyone",
            Algorithm::Baseline => "global mean + user bias + item bias, fit by ALS or SGD (Surprise's BaselineOnly)",
            Algorithm::ItemKnn => "k nearest neighbours on baselines, item- or user-based (Surprise's KNNBaseline)",
            Algorithm::Ials => "implicit ALS: every rating a positive with a confidence; scales to 25M ratings",
            Algorithm::Bpr => "BPR matrix factorisation: positives ranked above sampled negatives",
            Algorithm::Ease => "EASE item-to-item closed form: the best top-N ranker up to 10,000 items",
            Algorithm::Content => "TF-IDF of item text (genres, tags) against each user's rated items",
            Algorithm::Svd => "biased matrix factorisation by parallel SGD (Surprise's SVD, its defaults)",
            Algorithm::Svdpp => "SVD plus the implicit signal of which items a user rated (Surprise's SVDpp)",
            Algorithm::Als => "matrix factorisation by alternating least squares (Spark's ALS-WR, plus biases)",
            Algorithm::Blend => {
                "a weighted blend of rating models (default: SVD++, SVD and ALS), weights fit on held-out ratings"
            }
        }
    }

    /// The default parameters of this algorithm.
    pub fn default_params(self) -> Params {
        match self {
            Algorithm::GlobalMean => Params::GlobalMean(GlobalMeanParams::default()),
            Algorithm::Popularity => Params::Popularity(PopularityParams::default()),
            Algorithm::Baseline => Params::Baseline(BaselineParams::default()),
            Algorithm::ItemKnn => Params::ItemKnn(ItemKnnParams::default()),
            Algorithm::Ials => Params::Ials(IalsParams::default()),
            Algorithm::Bpr => Params::Bpr(BprParams::default()),
            Algorithm::Ease => Params::Ease(EaseParams::default()),
            Algorithm::Content => Params::Content(ContentParams::default()),
            Algorithm::Svd => Params::Svd(SvdParams::default()),
            Algorithm::Svdpp => Params::Svdpp(SvdppParams::default()),
            Algorithm::Als => Params::Als(AlsParams::default()),
            Algorithm::Blend => Params::Blend(BlendParams::default()),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let want = s.trim().to_ascii_lowercase().replace('_', "-");
        Algorithm::ALL.iter().copied().find(|a| a.name() == want).ok_or_else(|| {
            let names: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            Error::Data(format!("unknown algorithm {s:?}; choose one of {}", names.join(", ")))
        })
    }
}

/// An algorithm and its parameters, e.g. `{"algo": "svd", "factors": 50}` in JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algo", rename_all = "kebab-case")]
pub enum Params {
    /// [`mean`].
    GlobalMean(GlobalMeanParams),
    /// [`popularity`].
    Popularity(PopularityParams),
    /// [`baseline`].
    Baseline(BaselineParams),
    /// [`knn`].
    ItemKnn(ItemKnnParams),
    /// [`ials`].
    Ials(IalsParams),
    /// [`bpr`].
    Bpr(BprParams),
    /// [`ease`].
    Ease(EaseParams),
    /// [`content`].
    Content(ContentParams),
    /// [`svd`].
    Svd(SvdParams),
    /// [`svdpp`].
    Svdpp(SvdppParams),
    /// [`als`].
    Als(AlsParams),
    /// [`blend`].
    Blend(BlendParams),
}

impl Params {
    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Params::GlobalMean(_) => Algorithm::GlobalMean,
            Params::Popularity(_) => Algorithm::Popularity,
            Params::Baseline(_) => Algorithm::Baseline,
            Params::ItemKnn(_) => Algorithm::ItemKnn,
            Params::Ials(_) => Algorithm::Ials,
            Params::Bpr(_) => Algorithm::Bpr,
            Params::Ease(_) => Algorithm::Ease,
            Params::Content(_) => Algorithm::Content,
            Params::Svd(_) => Algorithm::Svd,
            Params::Svdpp(_) => Algorithm::Svdpp,
            Params::Als(_) => Algorithm::Als,
            Params::Blend(_) => Algorithm::Blend,
        }
    }

    /// The parameters without the `algo` tag, as JSON.
    pub fn values(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.remove("algo");
        }
        v
    }

    /// The defaults of `algo` with `settings` applied, each `(name, value)` as the user typed
    /// them (`("factors", "50")`, `("biased", "false")`). Names may use `-` or `_`.
    /// Unknown names and values of the wrong type are refused with the list of parameters.
    pub fn with_settings(algo: Algorithm, settings: &[(String, String)]) -> Result<Params> {
        let mut v = serde_json::to_value(algo.default_params()).map_err(|e| Error::Internal(e.to_string()))?;
        let known: Vec<String> = v
            .as_object()
            .map(|m| m.keys().filter(|k| *k != "algo").cloned().collect())
            .unwrap_or_default();
        let Some(map) = v.as_object_mut() else {
            return Err(Error::Internal("parameters are not a JSON object".into()));
        };
        for (name, value) in settings {
            let key = name.trim().replace('-', "_");
            if !known.contains(&key) {
                return Err(Error::Data(format!(
                    "{algo} has no parameter {name:?}; its parameters are: {}",
                    if known.is_empty() {
                        "(none)".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            let parsed = serde_json::from_str::<serde_json::Value>(value.trim())
                .unwrap_or_else(|_| serde_json::Value::String(value.clone()));
            map.insert(key, parsed);
        }
        serde_json::from_value(v).map_err(|e| Error::Data(format!("bad {algo} parameter: {e}")))
    }

    /// Checks the parameters and fits the model.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<Box<dyn Model>> {
        Ok(match self {
            Params::GlobalMean(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Popularity(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Baseline(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::ItemKnn(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Ials(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Bpr(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Ease(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Content(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Svd(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Svdpp(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Als(p) => Box::new(p.check()?.fit(data, obs)?),
            Params::Blend(p) => Box::new(p.check()?.fit(data, obs)?),
        })
    }

    /// Checks the parameters without fitting.
    pub fn check(&self) -> Result<()> {
        match self {
            Params::GlobalMean(p) => p.check().map(|_| ()),
            Params::Popularity(p) => p.check().map(|_| ()),
            Params::Baseline(p) => p.check().map(|_| ()),
            Params::ItemKnn(p) => p.check().map(|_| ()),
            Params::Ials(p) => p.check().map(|_| ()),
            Params::Bpr(p) => p.check().map(|_| ()),
            Params::Ease(p) => p.check().map(|_| ()),
            Params::Content(p) => p.check().map(|_| ()),
            Params::Svd(p) => p.check().map(|_| ()),
            Params::Svdpp(p) => p.check().map(|_| ()),
            Params::Als(p) => p.check().map(|_| ()),
            Params::Blend(p) => p.check().map(|_| ()),
        }
    }
}

/// The artifact bytes of `model` (see [`crate::artifact`]).
pub fn save(model: &dyn Model) -> Vec<u8> {
    let mut w = ArtifactWriter::new(model.algorithm().name(), model.params(), model.scale());
    w.ids("users", model.users());
    w.ids("items", model.items());
    model.write(&mut w);
    w.to_bytes()
}

/// Loads a model saved with [`save`], checking the file first.
pub fn load(bytes: &[u8]) -> Result<Box<dyn Model>> {
    let mut a = Artifact::from_bytes(bytes)?;
    let algo: Algorithm = a
        .header
        .algorithm
        .parse()
        .map_err(|_| Error::artifact(format!("unknown algorithm {:?}", a.header.algorithm)))?;
    let users = a.take_ids("users")?;
    let items = a.take_ids("items")?;
    Ok(match algo {
        Algorithm::GlobalMean => Box::new(GlobalMeanModel::read(users, items, &mut a)?),
        Algorithm::Popularity => Box::new(PopularityModel::read(users, items, &mut a)?),
        Algorithm::Baseline => Box::new(BaselineModel::read(users, items, &mut a)?),
        Algorithm::ItemKnn => Box::new(ItemKnnModel::read(users, items, &mut a)?),
        Algorithm::Ials => Box::new(IalsModel::read(users, items, &mut a)?),
        Algorithm::Bpr => Box::new(BprModel::read(users, items, &mut a)?),
        Algorithm::Ease => Box::new(EaseModel::read(users, items, &mut a)?),
        Algorithm::Content => Box::new(ContentModel::read(users, items, &mut a)?),
        Algorithm::Svd => Box::new(SvdModel::read(users, items, &mut a)?),
        Algorithm::Svdpp => Box::new(SvdppModel::read(users, items, &mut a)?),
        Algorithm::Als => Box::new(AlsModel::read(users, items, &mut a)?),
        Algorithm::Blend => Box::new(BlendModel::read(users, items, &mut a)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Ratings, Scale};
    use crate::model::{Quiet, predict, recommend};

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
        // Item text too, so that the content model can fit on the same data.
        let mut text = crate::data::ItemText::default();
        for (i, t) in [(10, "genre:Drama"), (11, "genre:Comedy"), (12, "genre:Drama")] {
            text.tokens.insert(i, vec![t.to_string()]);
        }
        Dataset::try_new(&r, Scale::ONE_TO_FIVE).expect("valid").with_item_text(text)
    }

    #[test]
    fn every_algorithm_round_trips_through_an_artifact() {
        let d = data();
        for &algo in Algorithm::ALL {
            let m = algo.default_params().fit(&d, &mut Quiet).expect("fits");
            let back = load(&save(m.as_ref())).expect("loads");
            for u in [1, 2, 3, 99] {
                for i in [10, 11, 12, 77] {
                    assert_eq!(predict(m.as_ref(), u, i), predict(back.as_ref(), u, i), "{algo} ({u}, {i})");
                }
            }
        }
    }

    #[test]
    fn popularity_ranks_by_count() {
        let m = Algorithm::Popularity.default_params().fit(&data(), &mut Quiet).expect("fits");
        let (top, _) = recommend(m.as_ref(), 1, 3, &|_| false);
        assert_eq!(top.iter().map(|s| s.item).collect::<Vec<_>>(), vec![10, 11, 12]);
        let (top, fb) = recommend(m.as_ref(), 99, 1, &|_| false);
        assert_eq!(top[0].item, 10);
        assert!(fb.is_some(), "an unknown user is a declared fallback");
    }

    #[test]
    fn settings_are_parsed_and_unknown_names_refused() {
        let p = Params::with_settings(Algorithm::Popularity, &[("min-rating".into(), "4".into())]).expect("valid");
        assert_eq!(p, Params::Popularity(PopularityParams { min_rating: 4.0 }));
        let e = Params::with_settings(Algorithm::Popularity, &[("factors".into(), "4".into())]).expect_err("unknown");
        assert!(e.to_string().contains("min_rating"), "{e}");
        let e = Params::with_settings(Algorithm::Popularity, &[("min_rating".into(), "-1".into())])
            .expect("parses")
            .check()
            .expect_err("negative");
        assert!(e.to_string().contains("min_rating"), "{e}");
        assert!("SVD-nope".parse::<Algorithm>().is_err());
        assert_eq!("global_mean".parse::<Algorithm>().expect("known"), Algorithm::GlobalMean);
    }
}

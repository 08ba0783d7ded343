//! The global mean: every prediction is the mean training rating. The floor every rating
//! model must beat, and the last fallback of the others.
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::{Dataset, IdMap, Scale};
use crate::model::{Fallback, FitObserver, Model, ModelKind, Score};
use crate::reco::Algorithm;

/// Parameters of [`GlobalMeanModel`] (none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalMeanParams {}

/// Checked [`GlobalMeanParams`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidGlobalMeanParams;

impl GlobalMeanParams {
    /// Checks the parameters (there are none to check).
    pub fn check(&self) -> Result<ValidGlobalMeanParams> {
        Ok(ValidGlobalMeanParams)
    }
}

impl ValidGlobalMeanParams {
    /// Takes the mean rating.
    pub fn fit(&self, data: &Dataset, obs: &mut dyn FitObserver) -> Result<GlobalMeanModel> {
        obs.on_epoch(1, 1, None);
        Ok(GlobalMeanModel {
            mean: data.mean() as f32,
            users: data.users().clone(),
            items: data.items().clone(),
            scale: data.scale(),
        })
    }
}

/// Predicts the mean training rating for every pair.
#[derive(Debug, Clone)]
pub struct GlobalMeanModel {
    mean: f32,
    users: IdMap,
    items: IdMap,
    scale: Scale,
}

impl GlobalMeanModel {
    /// Rebuilds the model from an artifact.
    pub fn read(users: IdMap, items: IdMap, a: &mut Artifact) -> Result<Self> {
        let mean = a.take_scalar("mean")?;
        Ok(GlobalMeanModel {
            mean,
            users,
            items,
            scale: a.header.scale,
        })
    }
}

impl Model for GlobalMeanModel {
    fn algorithm(&self) -> Algorithm {
        Algorithm::GlobalMean
    }
    fn kind(&self) -> ModelKind {
        ModelKind::Rating
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({})
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
            value: self.mean,
            fallback: Fallback::for_unknown(u, i, "global mean"),
        }
    }
    fn score_items(&self, _u: Option<u32>, out: &mut [f32]) {
        out.fill(self.mean);
    }
    fn write(&self, out: &mut ArtifactWriter) {
        out.f32s("mean", vec![self.mean]);
    }
}

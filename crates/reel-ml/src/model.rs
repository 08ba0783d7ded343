//! The contract every recommender model meets, and what callers build on it.
//!
//! A model is fit by its checked parameters (`SvdParams::default().check()?.fit(&data, obs)`),
//! then answers through [`Model`]: a raw score for a (user, item) pair in dense indices,
//! scores for every item, and optionally similar items. Unknown users and items are part of
//! the contract: the model still answers and says which fallback it used.
//!
//! The free functions [`predict`], [`recommend`] and [`similar`] work in external ids and
//! are what the CLI and the server call.
//!
//! A minimal implementation (the global mean):
//!
//! ```
//! use reel_ml::model::{Fallback, Model, ModelKind, Score, Unknown};
//! use reel_ml::data::{IdMap, Scale};
//! use reel_ml::artifact::ArtifactWriter;
//! use reel_ml::reco::Algorithm;
//!
//! #[derive(Debug)]
//! struct Mean { mean: f32, users: IdMap, items: IdMap }
//!
//! impl Model for Mean {
//!     fn algorithm(&self) -> Algorithm { Algorithm::GlobalMean }
//!     fn kind(&self) -> ModelKind { ModelKind::Rating }
//!     fn params(&self) -> serde_json::Value { serde_json::json!({}) }
//!     fn users(&self) -> &IdMap { &self.users }
//!     fn items(&self) -> &IdMap { &self.items }
//!     fn scale(&self) -> Scale { Scale::ONE_TO_FIVE }
//!     fn score(&self, u: Option<u32>, i: Option<u32>) -> Score {
//!         Score { value: self.mean, fallback: Fallback::for_unknown(u, i, "global mean") }
//!     }
//!     fn write(&self, out: &mut ArtifactWriter) { out.f32s("mean", vec![self.mean]); }
//! }
//! let m = Mean { mean: 3.5, users: IdMap::new(), items: IdMap::new() };
//! let p = reel_ml::model::predict(&m, 1, 2);
//! assert_eq!(p.value, 3.5);
//! assert!(p.fallback.is_some()); // user 1 and item 2 are unknown
//! ```
use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

use crate::artifact::ArtifactWriter;
use crate::data::{IdMap, Scale};
use crate::reco::{Algorithm, UserVector};

/// What a model's scores mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Scores estimate the rating (SVD, baselines, kNN): RMSE and MAE make sense.
    Rating,
    /// Scores only rank items (popularity, implicit models, content): no rating metrics.
    Ranking,
}

/// Which side of a pair the model has never seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unknown {
    /// The user is not in the training data.
    User,
    /// The item is not in the training data.
    Item,
    /// Neither is.
    UserAndItem,
}

impl Unknown {
    /// The case for a pair of looked-up indices; `None` when both are known.
    pub fn of(u: Option<u32>, i: Option<u32>) -> Option<Unknown> {
        match (u, i) {
            (Some(_), Some(_)) => None,
            (None, Some(_)) => Some(Unknown::User),
            (Some(_), None) => Some(Unknown::Item),
            (None, None) => Some(Unknown::UserAndItem),
        }
    }
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unknown::User => "unknown user",
            Unknown::Item => "unknown item",
            Unknown::UserAndItem => "unknown user and item",
        })
    }
}

/// The declared answer for a pair the model could not score normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback {
    /// What was unknown.
    pub unknown: Unknown,
    /// What the model answered with instead, e.g. "global mean + item bias".
    pub answer: &'static str,
}

impl Fallback {
    /// `Some(Fallback)` when `u` or `i` is unknown, answering with `answer`.
    pub fn for_unknown(u: Option<u32>, i: Option<u32>, answer: &'static str) -> Option<Fallback> {
        Unknown::of(u, i).map(|unknown| Fallback { unknown, answer })
    }
}

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.unknown, self.answer)
    }
}

impl Serialize for Fallback {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A raw (unclipped) score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// The score; for [`ModelKind::Rating`] models an estimated rating.
    pub value: f32,
    /// Set when the user or item was unknown.
    pub fallback: Option<Fallback>,
}

/// A recommender model, fit and ready to answer.
///
/// Implementors guarantee:
/// - [`Model::score`] never panics, for any pair of indices from [`Model::users`] /
///   [`Model::items`] or `None`, and returns a finite value;
/// - when `u` or `i` is `None`, the score is the model's declared fallback and
///   `fallback` is set; when both are known, `fallback` is `None`;
/// - [`Model::write`] stores everything the model's `from_artifact` needs to answer
///   exactly the same scores after a reload (the id maps are stored by the caller).
pub trait Model: Send + Sync + fmt::Debug {
    /// The algorithm that produced it.
    fn algorithm(&self) -> Algorithm;
    /// Whether scores are ratings or only a ranking.
    fn kind(&self) -> ModelKind;
    /// The checked parameters it was fit with, as JSON.
    fn params(&self) -> serde_json::Value;
    /// Users seen in training, by index.
    fn users(&self) -> &IdMap;
    /// Items the model can score, by index.
    fn items(&self) -> &IdMap;
    /// The rating scale of the training data (predictions are clipped to it).
    fn scale(&self) -> Scale;
    /// The raw score of item `i` for user `u` (dense indices; `None` = unknown).
    fn score(&self, u: Option<u32>, i: Option<u32>) -> Score;
    /// Scores of every item for user `u`, written to `out` (`out.len() == items().len()`).
    /// The default calls [`Model::score`] per item; factor models override it.
    fn score_items(&self, u: Option<u32>, out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = self.score(u, Some(i as u32)).value;
        }
    }
    /// The `k` items most similar to item `i`, best first, if the model has a notion of it.
    fn similar(&self, i: u32, k: usize) -> Option<Vec<(u32, f32)>> {
        let _ = (i, k);
        None
    }
    /// Writes the model's learned state (not the id maps) into `out`.
    fn write(&self, out: &mut ArtifactWriter);
    /// The model's fold-in, when it can describe a user by a vector computed from ratings
    /// with the items fixed (SVD, ALS): what a server's speed layer uses for users who
    /// rated after training. `None` (the default) for every other model.
    fn as_fold_in(&self) -> Option<&dyn FoldIn> {
        None
    }
}

/// Users described by a vector computed from their ratings, the items fixed: a model that
/// implements it can answer for users it was not trained on, or whose ratings changed,
/// without retraining.
///
/// Implementors guarantee that [`FoldIn::score_items_with`] and [`FoldIn::score_with`] give
/// the same raw scores as [`Model::score_items`] / [`Model::score`] for a trained user's own
/// trained vector, never panic for any [`UserVector`] (factors of the wrong length score as
/// zeros) and that [`FoldIn::fold_in`] refuses item indices outside [`Model::items`].
pub trait FoldIn: Send + Sync {
    /// The bias and factors of a user with `ratings` as `(item index, rating)` pairs.
    fn fold_in(&self, ratings: &[(u32, f32)]) -> crate::Result<UserVector>;
    /// The raw score of item `i` for an ad-hoc user (`None` when `i` is out of range).
    fn score_with(&self, user: &UserVector, i: u32) -> Option<f32>;
    /// Raw scores of every item for an ad-hoc user, into `out` (one per item).
    fn score_items_with(&self, user: &UserVector, out: &mut [f32]);
}

/// A prediction for a (user, item) pair in external ids.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    /// The score clipped to the rating scale (for ranking models: the raw score).
    pub value: f32,
    /// The unclipped score.
    pub raw: f32,
    /// Set when the user or item was unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
}

/// Predicts the rating of `item` by `user` (external ids), clipped to the scale.
pub fn predict(model: &dyn Model, user: i64, item: i64) -> Prediction {
    let s = model.score(model.users().get(user), model.items().get(item));
    let value = match model.kind() {
        ModelKind::Rating => model.scale().clip(s.value),
        ModelKind::Ranking => s.value,
    };
    Prediction {
        value,
        raw: s.value,
        fallback: s.fallback,
    }
}

/// One recommended or similar item.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scored {
    /// External item id.
    pub item: i64,
    /// The model's raw score (or similarity).
    pub score: f32,
}

/// Top-`k` items for `user` (external id), best first, skipping items for which `exclude`
/// (given the item's dense index) is true. Ties go to the smaller item id, so lists are
/// deterministic. An unknown user gets the model's fallback ranking (the returned flag).
pub fn recommend(model: &dyn Model, user: i64, k: usize, exclude: &dyn Fn(u32) -> bool) -> (Vec<Scored>, Option<Fallback>) {
    let items = model.items();
    let u = model.users().get(user);
    let mut scores = vec![0f32; items.len()];
    model.score_items(u, &mut scores);
    let fallback = u.is_none().then(|| model.score(None, (!items.is_empty()).then_some(0)).fallback).flatten();
    let candidates = scores.iter().enumerate().filter(|(i, _)| !exclude(*i as u32)).map(|(i, &s)| (i as u32, s));
    let top = top_k(candidates, k, items);
    (top.into_iter().map(|(i, s)| Scored { item: items.id(i), score: s }).collect(), fallback)
}

/// The `k` items most similar to `item` (external id), or `None` when the item is unknown
/// or the model has no notion of similarity.
pub fn similar(model: &dyn Model, item: i64, k: usize) -> Option<Vec<Scored>> {
    let items = model.items();
    let i = items.get(item)?;
    let list = model.similar(i, k)?;
    Some(list.into_iter().map(|(j, s)| Scored { item: items.id(j), score: s }).collect())
}

/// The best `k` of `(index, score)` pairs: score descending, ties by the smaller external id,
/// NaN last. O(n log k).
pub fn top_k(candidates: impl Iterator<Item = (u32, f32)>, k: usize, ids: &IdMap) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    // "a before b" when a ranks higher.
    let better = |a: &(u32, f32), b: &(u32, f32)| -> Ordering {
        let (sa, sb) = (if a.1.is_nan() { f32::NEG_INFINITY } else { a.1 }, if b.1.is_nan() { f32::NEG_INFINITY } else { b.1 });
        sb.partial_cmp(&sa).unwrap_or(Ordering::Equal).then_with(|| ids.id(a.0).cmp(&ids.id(b.0)))
    };
    let mut heap: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    for c in candidates {
        if heap.len() < k {
            heap.push(c);
            if heap.len() == k {
                heap.sort_by(better);
            }
            continue;
        }
        // heap is sorted best-first; the last one is the worst kept.
        if better(&c, &heap[k - 1]) == Ordering::Less {
            let pos = heap.partition_point(|h| better(h, &c) == Ordering::Less);
            heap.insert(pos, c);
            heap.pop();
        }
    }
    if heap.len() < k {
        heap.sort_by(better);
    }
    heap
}

/// Told about training progress; can stop training.
pub trait FitObserver {
    /// Called after each epoch (or iteration) with the training loss, if the algorithm has one.
    fn on_epoch(&mut self, epoch: usize, epochs: usize, loss: Option<f64>) {
        let _ = (epoch, epochs, loss);
    }
    /// Asked between epochs; returning false stops training with [`crate::Error::Cancelled`].
    fn keep_going(&self) -> bool {
        true
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl FitObserver for Quiet {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_score_then_smaller_id() {
        let ids = IdMap::try_from_ids(vec![50, 10, 30, 20]).expect("distinct");
        let c = vec![(0u32, 1.0f32), (1, 2.0), (2, 2.0), (3, f32::NAN)];
        let top = top_k(c.clone().into_iter(), 3, &ids);
        assert_eq!(top.iter().map(|p| ids.id(p.0)).collect::<Vec<_>>(), vec![10, 30, 50]);
        let all = top_k(c.into_iter(), 10, &ids);
        assert_eq!(all.iter().map(|p| ids.id(p.0)).collect::<Vec<_>>(), vec![10, 30, 50, 20]);
    }

    #[test]
    fn top_k_matches_a_full_sort() {
        let ids = IdMap::try_from_ids((0..200).map(|x| 1000 - x).collect()).expect("distinct");
        let scores: Vec<(u32, f32)> = (0..200u32).map(|i| (i, ((i * 37) % 11) as f32)).collect();
        let mut full = scores.clone();
        full.sort_by(|a, b| b.1.partial_cmp(&a.1).expect("finite").then(ids.id(a.0).cmp(&ids.id(b.0))));
        assert_eq!(top_k(scores.into_iter(), 15, &ids), full[..15].to_vec());
    }

    #[test]
    fn unknown_cases() {
        assert_eq!(Unknown::of(Some(1), Some(2)), None);
        assert_eq!(Unknown::of(None, Some(2)), Some(Unknown::User));
        assert_eq!(Unknown::of(Some(1), None), Some(Unknown::Item));
        assert_eq!(Unknown::of(None, None), Some(Unknown::UserAndItem));
        let f = Fallback::for_unknown(None, Some(1), "mean + item bias").expect("unknown user");
        assert_eq!(f.to_string(), "unknown user: mean + item bias");
    }
}

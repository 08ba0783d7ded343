//! Rating metrics (RMSE, MAE) and top-N ranking metrics (precision, recall, NDCG, MAP, hit
//! rate, catalogue coverage at k), with the definitions of the peers' benchmark (§2 of
//! `shared/benchmarks/README.md`); `docs/evaluation.md` gives the formulas.
//!
//! ```text
//!  test ratings --rating >= threshold--> relevant(u)            users with |relevant(u)| >= 1
//!  model.score_items(u) + fallback for catalogue items the model does not know
//!      | candidates: catalogue minus u's train items; top_k (score desc, smaller id first)
//!      v
//!  UserTopN { items, hits, n_relevant }  --user_metrics--> P, R, NDCG, AP, hit
//!      | summarize: macro average over users, coverage over the union of the lists
//!      v
//!  RankingMetrics
//! ```
//!
//! Everything is computed in f64 and summed in user order, so results do not depend on the
//! number of threads.
use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::data::{IdMap, Ratings};
use crate::model::{Model, predict, top_k};
use crate::{Error, Result};

/// RMSE and MAE of clipped predictions over every test row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RatingMetrics {
    /// Number of test rows.
    pub n: usize,
    /// sqrt(mean((clip(prediction) - rating)²)).
    pub rmse: f64,
    /// mean(|clip(prediction) - rating|).
    pub mae: f64,
    /// Rows whose user or item the model did not know (they got the model's fallback).
    pub fallbacks: usize,
}

/// RMSE and MAE of `model::predict(..).value` (clipped to the scale for rating models) over
/// every row of `test`, unknown users and items included. Refuses an empty test set.
pub fn rating_metrics(model: &dyn Model, test: &Ratings) -> Result<RatingMetrics> {
    test.check()?;
    if test.is_empty() {
        return Err(Error::Data("the test set is empty; nothing to evaluate (check the split)".into()));
    }
    // Fixed chunks summed in order: the same bits whatever the thread count.
    const CHUNK: usize = 4096;
    let starts: Vec<usize> = (0..test.len()).step_by(CHUNK).collect();
    let parts: Vec<(f64, f64, usize)> = starts
        .par_iter()
        .map(|&start| {
            let (mut se, mut ae, mut fb) = (0f64, 0f64, 0usize);
            for k in start..(start + CHUNK).min(test.len()) {
                let p = predict(model, test.user[k], test.item[k]);
                let err = p.value as f64 - test.rating[k] as f64;
                se += err * err;
                ae += err.abs();
                fb += p.fallback.is_some() as usize;
            }
            (se, ae, fb)
        })
        .collect();
    let (se, ae, fallbacks) = parts.iter().fold((0f64, 0f64, 0usize), |a, p| (a.0 + p.0, a.1 + p.1, a.2 + p.2));
    let n = test.len();
    Ok(RatingMetrics {
        n,
        rmse: (se / n as f64).sqrt(),
        mae: ae / n as f64,
        fallbacks,
    })
}

/// The top-N protocol's two knobs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TopN {
    /// List length.
    pub k: usize,
    /// A test rating at or above this makes the item relevant.
    pub threshold: f32,
}

impl Default for TopN {
    /// The peers' §2 protocol: top 10, relevant when rated 4 or more.
    fn default() -> Self {
        TopN { k: 10, threshold: 4.0 }
    }
}

impl TopN {
    /// Refuses k = 0 and a threshold that is not a number.
    pub fn check(&self) -> Result<()> {
        if self.k == 0 {
            return Err(Error::Data("the list length k must be at least 1, got 0".into()));
        }
        if !self.threshold.is_finite() {
            return Err(Error::Data(format!("the relevance threshold must be a number, got {}", self.threshold)));
        }
        Ok(())
    }
}

/// The items a ranking is evaluated over, e.g. every movie id of `u.item`. Duplicates are
/// dropped (the first occurrence is kept).
#[derive(Debug, Clone)]
pub struct Catalogue {
    ids: IdMap,
}

impl Catalogue {
    /// A catalogue of `ids`.
    pub fn new(ids: impl IntoIterator<Item = i64>) -> Catalogue {
        let mut map = IdMap::new();
        for id in ids {
            map.insert(id);
        }
        Catalogue { ids: map }
    }

    /// Every item id that occurs in any of `sets` (when no item list is at hand).
    pub fn from_ratings(sets: &[&Ratings]) -> Catalogue {
        Catalogue::new(sets.iter().flat_map(|r| r.item.iter().copied()))
    }

    /// The item ids, in catalogue order.
    pub fn ids(&self) -> &[i64] {
        self.ids.ids()
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Relevant items per user: the items `u` rated at or above `threshold` in `test`.
/// Users are sorted by id (so evaluation order, and the output, are deterministic); users
/// with no relevant item are absent.
pub fn relevant_items(test: &Ratings, threshold: f32) -> BTreeMap<i64, HashSet<i64>> {
    let mut rel: BTreeMap<i64, HashSet<i64>> = BTreeMap::new();
    for k in 0..test.len().min(test.item.len()).min(test.rating.len()) {
        if test.rating[k] >= threshold {
            rel.entry(test.user[k]).or_default().insert(test.item[k]);
        }
    }
    rel
}

/// One user's top-N list and what is known about its relevance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserTopN {
    /// External user id.
    pub user: i64,
    /// Recommended item ids, best first (at most k; fewer when there were fewer candidates).
    pub items: Vec<i64>,
    /// `hits[r]`: whether `items[r]` is relevant.
    pub hits: Vec<bool>,
    /// |relevant(u)|.
    pub n_relevant: usize,
}

impl UserTopN {
    /// The list `items` judged against the relevant set.
    pub fn new(user: i64, items: Vec<i64>, relevant: &HashSet<i64>) -> UserTopN {
        let hits = items.iter().map(|i| relevant.contains(i)).collect();
        UserTopN { user, items, hits, n_relevant: relevant.len() }
    }
}

/// One user's scores at k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UserMetrics {
    /// hits / k.
    pub precision: f64,
    /// hits / |relevant|.
    pub recall: f64,
    /// DCG / IDCG with binary gains.
    pub ndcg: f64,
    /// AP@k = Σ_{hit ranks r} precision@r / min(k, |relevant|).
    pub ap: f64,
    /// 1 when at least one hit, else 0.
    pub hit: f64,
}

/// 1 / log2(r + 1) for the 1-based rank r.
fn discount(rank: usize) -> f64 {
    1.0 / ((rank + 1) as f64).log2()
}

/// Scores one list. `hits[r]` says whether rank r + 1 is relevant; only the first `k` count,
/// and ranks missing from a short list are misses. Refuses `n_relevant` = 0 (recall and
/// NDCG are undefined; such users are not evaluated), k = 0, and more hits than relevant
/// items.
pub fn user_metrics(hits: &[bool], n_relevant: usize, k: usize) -> Result<UserMetrics> {
    if k == 0 || n_relevant == 0 {
        return Err(Error::Data(format!(
            "a top-N list needs k >= 1 and at least one relevant item, got k = {k} and {n_relevant} relevant"
        )));
    }
    let hits = &hits[..hits.len().min(k)];
    let n_hits = hits.iter().filter(|&&h| h).count();
    if n_hits > n_relevant {
        return Err(Error::Data(format!(
            "a list has {n_hits} hits but only {n_relevant} relevant items; a list must not repeat an item"
        )));
    }
    let ideal = k.min(n_relevant);
    let idcg: f64 = (1..=ideal).map(discount).sum();
    let (mut dcg, mut ap_sum, mut seen) = (0f64, 0f64, 0usize);
    for (r, _) in hits.iter().enumerate().filter(|(_, h)| **h) {
        seen += 1;
        dcg += discount(r + 1);
        ap_sum += seen as f64 / (r + 1) as f64;
    }
    Ok(UserMetrics {
        precision: n_hits as f64 / k as f64,
        recall: n_hits as f64 / n_relevant as f64,
        ndcg: dcg / idcg,
        ap: ap_sum / ideal as f64,
        hit: if n_hits > 0 { 1.0 } else { 0.0 },
    })
}

/// Macro-averaged top-N metrics.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankingMetrics {
    /// List length.
    pub k: usize,
    /// Number of evaluated users (those with at least one relevant item).
    pub users: usize,
    /// Catalogue size (the denominator of coverage).
    pub catalogue: usize,
    /// Mean precision@k.
    pub precision: f64,
    /// Mean recall@k.
    pub recall: f64,
    /// Mean NDCG@k.
    pub ndcg: f64,
    /// Mean AP@k (MAP@k).
    pub map: f64,
    /// Share of users with at least one hit.
    pub hit_rate: f64,
    /// Distinct items in all the lists / catalogue size.
    pub coverage: f64,
}

/// Averages per-user lists: each metric is the plain mean over the users with at least one
/// relevant item (others are skipped); coverage counts the distinct items of those users'
/// first k ranks. Refuses an empty evaluation and a zero catalogue.
pub fn summarize(lists: &[UserTopN], k: usize, catalogue_size: usize) -> Result<RankingMetrics> {
    if catalogue_size == 0 {
        return Err(Error::Data("the catalogue is empty; pass the item ids to rank over".into()));
    }
    let mut sum = [0f64; 5];
    let mut users = 0usize;
    let mut seen: HashSet<i64> = HashSet::new();
    for l in lists.iter().filter(|l| l.n_relevant > 0) {
        let m = user_metrics(&l.hits, l.n_relevant, k)?;
        for (s, v) in sum.iter_mut().zip([m.precision, m.recall, m.ndcg, m.ap, m.hit]) {
            *s += v;
        }
        users += 1;
        seen.extend(l.items.iter().take(k).copied());
    }
    if users == 0 {
        return Err(Error::Data(
            "no user has a relevant test item, so there is nothing to rank; lower the relevance threshold or check the split".into(),
        ));
    }
    let n = users as f64;
    Ok(RankingMetrics {
        k,
        users,
        catalogue: catalogue_size,
        precision: sum[0] / n,
        recall: sum[1] / n,
        ndcg: sum[2] / n,
        map: sum[3] / n,
        hit_rate: sum[4] / n,
        coverage: seen.len() as f64 / catalogue_size as f64,
    })
}

/// The metrics and every evaluated user's list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankingEvaluation {
    /// The averages.
    pub metrics: RankingMetrics,
    /// One list per evaluated user, by user id.
    pub lists: Vec<UserTopN>,
}

/// Top-N evaluation of `model` by the peers' protocol (§2):
/// - candidates(u) = `catalogue` minus the items u rated in `train`;
/// - relevant(u) = items u rated ≥ `topn.threshold` in `test`; users with none are skipped;
/// - score = the model's raw, unclipped [`Model::score_items`]; catalogue items the model
///   does not know score `model.score(u, None)` (its unknown-item fallback) and stay
///   candidates; an unknown user gets the model's unknown-user scores;
/// - the list is the top `topn.k` by score, ties to the smaller item id ([`top_k`]).
///
/// Users are scored in parallel; the result does not depend on the thread count.
pub fn evaluate_ranking(model: &dyn Model, train: &Ratings, test: &Ratings, catalogue: &Catalogue, topn: &TopN) -> Result<RankingEvaluation> {
    topn.check()?;
    train.check()?;
    test.check()?;
    if catalogue.is_empty() {
        return Err(Error::Data("the catalogue is empty; pass the item ids to rank over".into()));
    }
    let cat = &catalogue.ids;
    let n_cat = cat.len();
    // Catalogue position -> the model's item index, if the model knows the item.
    let model_ix: Vec<Option<u32>> = cat.ids().iter().map(|&id| model.items().get(id)).collect();
    let mut seen_in_train: HashMap<i64, Vec<u32>> = HashMap::new();
    for k in 0..train.len() {
        if let Some(c) = cat.get(train.item[k]) {
            seen_in_train.entry(train.user[k]).or_default().push(c);
        }
    }
    let relevant = relevant_items(test, topn.threshold);
    let users: Vec<(&i64, &HashSet<i64>)> = relevant.iter().collect();
    let n_model_items = model.items().len();

    let lists: Vec<UserTopN> = users
        .par_iter()
        .map_init(
            || (vec![0f32; n_model_items], vec![false; n_cat]),
            |(scores, excluded), &(&user, rel)| {
                let u = model.users().get(user);
                model.score_items(u, scores);
                let unknown_item = model.score(u, None).value;
                let seen = seen_in_train.get(&user).map_or(&[][..], Vec::as_slice);
                for &c in seen {
                    excluded[c as usize] = true;
                }
                let candidates = (0..n_cat as u32)
                    .filter(|&c| !excluded[c as usize])
                    .map(|c| (c, model_ix[c as usize].map_or(unknown_item, |m| scores[m as usize])));
                let top = top_k(candidates, topn.k, cat);
                for &c in seen {
                    excluded[c as usize] = false;
                }
                UserTopN::new(user, top.iter().map(|&(c, _)| cat.id(c)).collect(), rel)
            },
        )
        .collect();
    let metrics = summarize(&lists, topn.k, n_cat)?;
    Ok(RankingEvaluation { metrics, lists })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn one_list_by_hand() {
        // k = 5, hits at ranks 1 and 4, 3 relevant items.
        // P = 2/5; R = 2/3; DCG = 1/log2(2) + 1/log2(5) = 1 + 0.430677 = 1.430677;
        // IDCG = 1 + 1/log2(3) + 1/log2(4) = 1 + 0.630930 + 0.5 = 2.130930; NDCG = 0.671386;
        // AP = (1/1 + 2/4) / min(5, 3) = 0.5.
        let m = user_metrics(&[true, false, false, true, false], 3, 5).expect("valid");
        assert!(close(m.precision, 0.4));
        assert!(close(m.recall, 2.0 / 3.0));
        let ndcg = (1.0 + 1.0 / 5f64.log2()) / (1.0 + 1.0 / 3f64.log2() + 0.5);
        assert!(close(m.ndcg, ndcg) && (m.ndcg - 0.671386).abs() < 1e-6);
        assert!(close(m.ap, 0.5));
        assert_eq!(m.hit, 1.0);
    }

    #[test]
    fn short_lists_count_missing_ranks_as_misses() {
        // 2 candidates only, both relevant, k = 10: P = 2/10, R = 2/2, NDCG = 1 (IDCG over
        // min(10, 2) = 2 ranks), AP = (1 + 1) / 2 = 1.
        let m = user_metrics(&[true, true], 2, 10).expect("valid");
        assert!(close(m.precision, 0.2) && close(m.recall, 1.0) && close(m.ndcg, 1.0) && close(m.ap, 1.0));
        // Ranks beyond k are ignored.
        let m = user_metrics(&[false, true, true], 1, 1).expect("valid");
        assert_eq!((m.precision, m.hit), (0.0, 0.0));
    }

    #[test]
    fn impossible_lists_are_refused() {
        assert!(user_metrics(&[true], 0, 10).is_err());
        assert!(user_metrics(&[true], 1, 0).is_err());
        assert!(user_metrics(&[true, true], 1, 10).is_err());
        assert!(summarize(&[], 10, 5).is_err());
        assert!(summarize(&[], 10, 0).is_err());
        assert!(TopN { k: 0, threshold: 4.0 }.check().is_err());
        assert!(TopN { k: 3, threshold: f32::NAN }.check().is_err());
    }

    proptest::proptest! {
        #[test]
        fn metrics_stay_in_the_unit_interval(hits in proptest::collection::vec(proptest::bool::ANY, 0..30), extra in 0usize..20, k in 1usize..25) {
            let n_hits = hits.iter().take(k).filter(|&&h| h).count();
            let n_rel = (n_hits + extra).max(1);
            let m = user_metrics(&hits, n_rel, k).expect("consistent");
            for v in [m.precision, m.recall, m.ndcg, m.ap, m.hit] {
                proptest::prop_assert!((0.0..=1.0 + 1e-12).contains(&v), "{m:?}");
            }
            // A perfect list scores 1 on NDCG and AP.
            let perfect = vec![true; k.min(n_rel)];
            let p = user_metrics(&perfect, n_rel, k).expect("consistent");
            proptest::prop_assert!((p.ndcg - 1.0).abs() < 1e-12 && (p.ap - 1.0).abs() < 1e-12);
        }
    }
}

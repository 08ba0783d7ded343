//! Fit-and-score on splits: cross-validation of one [`Params`], and the comparison of
//! several models on one train/test split.
//!
//! ```text
//!  Params + splits --per split: Dataset::try_new(train) -> fit -> score test--> FoldScores
//!      | mean ± std over the folds (population std, as Surprise's cross_validate)
//!      v
//!  CvResult
//! ```
//!
//! Folds run one after another: the models parallelise their own fit, and ranking
//! evaluation runs users in parallel, so two levels of rayon would only add contention on
//! small machines.
use std::time::Instant;

use serde::Serialize;

use super::metrics::{Catalogue, RankingMetrics, RatingMetrics, TopN, evaluate_ranking, rating_metrics};
use super::split::Split;
use crate::data::{Dataset, Ratings, Scale};
use crate::model::{ModelKind, Quiet};
use crate::reco::{Algorithm, Params};
use crate::{Error, Result};

/// What to measure, shared by [`cross_validate`], [`compare`] and the searches.
#[derive(Debug, Clone, Default)]
pub struct EvalOptions {
    /// The rating scale; `None` infers it from the training ratings ([`Scale::infer`]).
    pub scale: Option<Scale>,
    /// `Some` adds the top-N metrics with this protocol.
    pub topn: Option<TopN>,
    /// The items to rank over; `None` uses every item of the ratings at hand (all folds, or
    /// train ∪ test). The peers' protocol uses every movie of the items file.
    pub catalogue: Option<Catalogue>,
    /// Also give the catalogue to training ([`Dataset::with_catalogue`]), for models that can
    /// rank items without ratings (content). Off by default: a rating model then treats
    /// test-only items as unknown and uses its declared fallback, as the peers' models do.
    pub fit_with_catalogue: bool,
}

impl EvalOptions {
    /// Rating metrics only, scale inferred.
    pub fn rating() -> Self {
        Self::default()
    }

    /// Adds top-N metrics.
    pub fn with_topn(mut self, topn: TopN) -> Self {
        self.topn = Some(topn);
        self
    }

    /// Sets the catalogue to rank over.
    pub fn with_catalogue(mut self, catalogue: Catalogue) -> Self {
        self.catalogue = Some(catalogue);
        self
    }

    /// Sets the rating scale.
    pub fn with_scale(mut self, scale: Scale) -> Self {
        self.scale = Some(scale);
        self
    }
}

/// A split's ratings and the ways to cut them.
#[derive(Debug, Clone, Copy)]
pub struct CvData<'a> {
    /// All the ratings.
    pub ratings: &'a Ratings,
    /// The splits (k-fold gives k, a holdout one).
    pub splits: &'a [Split],
}

/// The scores of one fitted model on one test set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldScores {
    /// Split number, from 0.
    pub fold: usize,
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Seconds spent in `fit` (not in indexing the data).
    pub fit_seconds: f64,
    /// Seconds spent scoring the test set.
    pub eval_seconds: f64,
    /// RMSE and MAE; `None` for models whose scores are not ratings ([`ModelKind::Ranking`]).
    pub rating: Option<RatingMetrics>,
    /// Top-N metrics, when asked for.
    pub ranking: Option<RankingMetrics>,
}

/// A mean and its population standard deviation (divided by n, as numpy's `std` and
/// Surprise's `cross_validate` report it).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Population standard deviation.
    pub std: f64,
}

impl MeanStd {
    /// Of `xs`; `None` when empty.
    pub fn of(xs: &[f64]) -> Option<MeanStd> {
        if xs.is_empty() {
            return None;
        }
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        Some(MeanStd { mean, std: var.sqrt() })
    }
}

/// Top-N metrics over folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankingCv {
    /// List length.
    pub k: usize,
    /// Precision@k.
    pub precision: MeanStd,
    /// Recall@k.
    pub recall: MeanStd,
    /// NDCG@k.
    pub ndcg: MeanStd,
    /// MAP@k.
    pub map: MeanStd,
    /// Hit rate@k.
    pub hit_rate: MeanStd,
    /// Catalogue coverage@k.
    pub coverage: MeanStd,
}

/// The cross-validated scores of one parameter set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CvResult {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The settings that produced [`CvResult::params`] from the defaults (empty for a
    /// plain cross-validation).
    pub settings: Vec<(String, String)>,
    /// The parameters.
    pub params: Params,
    /// Per fold.
    pub folds: Vec<FoldScores>,
    /// RMSE over folds, for rating models.
    pub rmse: Option<MeanStd>,
    /// MAE over folds, for rating models.
    pub mae: Option<MeanStd>,
    /// Top-N metrics over folds, when asked for.
    pub ranking: Option<RankingCv>,
    /// Total fit seconds over the folds.
    pub fit_seconds: f64,
}

/// What a long evaluation reports as it goes, so the CLI can draw a bar.
#[derive(Debug, Clone, Copy)]
pub enum Progress<'a> {
    /// A fold of a candidate is done.
    Fold {
        /// Candidate number, from 0 (always 0 in [`cross_validate`]).
        candidate: usize,
        /// Number of candidates (1 in [`cross_validate`]).
        candidates: usize,
        /// Fold number, from 0.
        fold: usize,
        /// Number of folds.
        folds: usize,
        /// Its scores.
        scores: &'a FoldScores,
    },
    /// Every fold of a candidate is done.
    Candidate {
        /// Candidate number, from 0.
        candidate: usize,
        /// Number of candidates.
        candidates: usize,
        /// Its scores.
        result: &'a CvResult,
    },
    /// A model of [`compare`] is fitted and scored.
    Model {
        /// Model number, from 0.
        index: usize,
        /// Number of models.
        models: usize,
        /// Its row.
        row: &'a ComparisonRow,
    },
}

/// A progress callback; `&mut |_: &Progress<'_>| {}` ignores everything.
pub type OnProgress<'p> = &'p mut dyn FnMut(&Progress<'_>);

/// A progress callback that ignores everything: `cross_validate(.., &mut no_progress)`.
pub fn no_progress(_: &Progress<'_>) {}

/// Fits `params` on `train` and scores it on `test`.
fn fit_and_score(params: &Params, train: &Ratings, test: &Ratings, catalogue: &Catalogue, opts: &EvalOptions, fold: usize) -> Result<FoldScores> {
    let scale = opts.scale.unwrap_or_else(|| Scale::infer(&train.rating));
    let mut data = Dataset::try_new(train, scale)?;
    if opts.fit_with_catalogue {
        data = data.with_catalogue(catalogue.ids());
    }
    let t = Instant::now();
    let model = params.fit(&data, &mut Quiet)?;
    let fit_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let rating = match model.kind() {
        ModelKind::Rating => Some(rating_metrics(model.as_ref(), test)?),
        ModelKind::Ranking => None,
    };
    let ranking = match &opts.topn {
        Some(topn) => Some(evaluate_ranking(model.as_ref(), train, test, catalogue, topn)?.metrics),
        None => None,
    };
    Ok(FoldScores {
        fold,
        train_rows: train.len(),
        test_rows: test.len(),
        fit_seconds,
        eval_seconds: t.elapsed().as_secs_f64(),
        rating,
        ranking,
    })
}

fn summarize_folds(params: &Params, settings: Vec<(String, String)>, folds: Vec<FoldScores>) -> CvResult {
    let pick = |f: &dyn Fn(&RatingMetrics) -> f64| -> Option<MeanStd> {
        let xs: Option<Vec<f64>> = folds.iter().map(|s| s.rating.as_ref().map(f)).collect();
        xs.and_then(|xs| MeanStd::of(&xs))
    };
    let rmse = pick(&|m| m.rmse);
    let mae = pick(&|m| m.mae);
    let rank: Option<Vec<RankingMetrics>> = folds.iter().map(|s| s.ranking).collect();
    let ranking = rank.filter(|r| !r.is_empty()).and_then(|r| {
        let of = |f: fn(&RankingMetrics) -> f64| MeanStd::of(&r.iter().map(f).collect::<Vec<_>>());
        Some(RankingCv {
            k: r[0].k,
            precision: of(|m| m.precision)?,
            recall: of(|m| m.recall)?,
            ndcg: of(|m| m.ndcg)?,
            map: of(|m| m.map)?,
            hit_rate: of(|m| m.hit_rate)?,
            coverage: of(|m| m.coverage)?,
        })
    });
    CvResult {
        algorithm: params.algorithm(),
        settings,
        params: params.clone(),
        fit_seconds: folds.iter().map(|f| f.fit_seconds).sum(),
        folds,
        rmse,
        mae,
        ranking,
    }
}

fn check_setup(data: &CvData<'_>, opts: &EvalOptions) -> Result<()> {
    data.ratings.check()?;
    if data.splits.is_empty() {
        return Err(Error::Data("no splits to evaluate on; give a split such as kfold:5".into()));
    }
    if let Some(t) = &opts.topn {
        t.check()?;
    }
    Ok(())
}

pub(crate) fn cross_validate_candidate(
    params: &Params,
    settings: Vec<(String, String)>,
    data: &CvData<'_>,
    opts: &EvalOptions,
    (candidate, candidates): (usize, usize),
    progress: OnProgress<'_>,
) -> Result<CvResult> {
    let catalogue = match &opts.catalogue {
        Some(c) => c.clone(),
        None => Catalogue::from_ratings(&[data.ratings]),
    };
    let mut folds = Vec::with_capacity(data.splits.len());
    for (f, split) in data.splits.iter().enumerate() {
        let (train, test) = split.apply(data.ratings)?;
        let scores = fit_and_score(params, &train, &test, &catalogue, opts, f).map_err(|e| match e {
            Error::Data(m) => Error::Data(format!("fold {f}: {m}")),
            other => other,
        })?;
        progress(&Progress::Fold { candidate, candidates, fold: f, folds: data.splits.len(), scores: &scores });
        folds.push(scores);
    }
    let result = summarize_folds(params, settings, folds);
    progress(&Progress::Candidate { candidate, candidates, result: &result });
    Ok(result)
}

/// Cross-validates `params`: for each split, fits on its train rows and scores its test
/// rows; reports every fold and the mean ± std. Parameters are checked before any fit.
pub fn cross_validate(params: &Params, data: CvData<'_>, opts: &EvalOptions, progress: OnProgress<'_>) -> Result<CvResult> {
    check_setup(&data, opts)?;
    params.check()?;
    cross_validate_candidate(params, Vec::new(), &data, opts, (0, 1), progress)
}

/// One model's row of a [`Comparison`]. Flat, so that it prints as a table, CSV or JSON;
/// metrics that do not apply are empty.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonRow {
    /// The caller's label, e.g. `svd factors=50`.
    pub model: String,
    /// The algorithm's name.
    pub algorithm: String,
    /// The parameters as JSON text.
    pub params: String,
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Seconds spent in `fit`.
    pub fit_seconds: f64,
    /// Seconds spent scoring.
    pub eval_seconds: f64,
    /// RMSE (rating models).
    pub rmse: Option<f64>,
    /// MAE (rating models).
    pub mae: Option<f64>,
    /// Test rows that used a fallback (rating models).
    pub fallbacks: Option<usize>,
    /// Top-N list length.
    pub k: Option<usize>,
    /// Users evaluated for top-N.
    pub users: Option<usize>,
    /// Precision@k.
    pub precision: Option<f64>,
    /// Recall@k.
    pub recall: Option<f64>,
    /// NDCG@k.
    pub ndcg: Option<f64>,
    /// MAP@k.
    pub map: Option<f64>,
    /// Hit rate@k.
    pub hit_rate: Option<f64>,
    /// Catalogue coverage@k.
    pub coverage: Option<f64>,
}

impl ComparisonRow {
    fn new(model: String, params: &Params, s: &FoldScores) -> ComparisonRow {
        let r = s.rating.as_ref();
        let t = s.ranking.as_ref();
        ComparisonRow {
            model,
            algorithm: params.algorithm().name().to_string(),
            params: params.values().to_string(),
            train_rows: s.train_rows,
            test_rows: s.test_rows,
            fit_seconds: s.fit_seconds,
            eval_seconds: s.eval_seconds,
            rmse: r.map(|m| m.rmse),
            mae: r.map(|m| m.mae),
            fallbacks: r.map(|m| m.fallbacks),
            k: t.map(|m| m.k),
            users: t.map(|m| m.users),
            precision: t.map(|m| m.precision),
            recall: t.map(|m| m.recall),
            ndcg: t.map(|m| m.ndcg),
            map: t.map(|m| m.map),
            hit_rate: t.map(|m| m.hit_rate),
            coverage: t.map(|m| m.coverage),
        }
    }
}

/// Several models scored on one split, in the order given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// One row per model.
    pub rows: Vec<ComparisonRow>,
}

/// Fits each `(label, params)` on `train` and scores it on `test`. Every parameter set is
/// checked before the first fit, so a typo in the last model fails at once.
pub fn compare(models: &[(String, Params)], train: &Ratings, test: &Ratings, opts: &EvalOptions, progress: OnProgress<'_>) -> Result<Comparison> {
    train.check()?;
    test.check()?;
    if let Some(t) = &opts.topn {
        t.check()?;
    }
    for (label, p) in models {
        p.check().map_err(|e| Error::Data(format!("model {label:?}: {e}")))?;
    }
    let catalogue = match &opts.catalogue {
        Some(c) => c.clone(),
        None => Catalogue::from_ratings(&[train, test]),
    };
    let mut rows = Vec::with_capacity(models.len());
    for (index, (label, params)) in models.iter().enumerate() {
        let s = fit_and_score(params, train, test, &catalogue, opts, 0)?;
        let row = ComparisonRow::new(label.clone(), params, &s);
        progress(&Progress::Model { index, models: models.len(), row: &row });
        rows.push(row);
    }
    Ok(Comparison { rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::split::kfold;

    fn ratings() -> Ratings {
        let mut r = Ratings::default();
        for u in 0..20i64 {
            for i in 0..10i64 {
                if (u + i) % 3 != 0 {
                    r.push(u, i, (1 + (u * i) % 5) as f32, u * 100 + i);
                }
            }
        }
        r
    }

    #[test]
    fn std_is_the_population_one() {
        // The peers' per-fold SVD RMSEs give 0.9334 ± 0.0060 with numpy's std (ddof = 0).
        let m = MeanStd::of(&[0.9359, 0.9375, 0.9245, 0.9408, 0.9284]).expect("five");
        assert!((m.mean - 0.93342).abs() < 1e-9 && (m.std - 0.0060).abs() < 5e-5, "{m:?}");
        assert!(MeanStd::of(&[]).is_none());
    }

    #[test]
    fn cross_validation_reports_every_fold_and_progress() {
        let r = ratings();
        let splits = kfold(&r, 4, 1).expect("valid").splits();
        let mut events = Vec::new();
        let res = cross_validate(
            &Algorithm::GlobalMean.default_params(),
            CvData { ratings: &r, splits: &splits },
            &EvalOptions::rating().with_topn(TopN { k: 3, threshold: 4.0 }),
            &mut |p: &Progress<'_>| {
                events.push(match p {
                    Progress::Fold { fold, .. } => format!("fold {fold}"),
                    Progress::Candidate { .. } => "done".to_string(),
                    Progress::Model { .. } => "model".to_string(),
                })
            },
        )
        .expect("runs");
        assert_eq!(events, ["fold 0", "fold 1", "fold 2", "fold 3", "done"]);
        assert_eq!(res.folds.len(), 4);
        assert_eq!(res.folds.iter().map(|f| f.test_rows).sum::<usize>(), r.len());
        assert!(res.rmse.is_some() && res.ranking.is_some());
    }

    #[test]
    fn ranking_models_have_no_rating_metrics() {
        let r = ratings();
        let s = crate::eval::split::random(&r, 0.8, 3).expect("valid");
        let (train, test) = s.apply(&r).expect("same data");
        let models = vec![
            ("mean".to_string(), Algorithm::GlobalMean.default_params()),
            ("pop".to_string(), Algorithm::Popularity.default_params()),
        ];
        let c = compare(&models, &train, &test, &EvalOptions::rating().with_topn(TopN::default()), &mut |_: &Progress<'_>| {}).expect("runs");
        assert!(c.rows[0].rmse.is_some() && c.rows[1].rmse.is_none());
        assert!(c.rows.iter().all(|row| row.ndcg.is_some()));
        let json = serde_json::to_value(&c).expect("serializes");
        assert_eq!(json["rows"][1]["algorithm"], "popularity");
    }

    #[test]
    fn empty_splits_are_refused() {
        let r = ratings();
        let e = cross_validate(&Algorithm::GlobalMean.default_params(), CvData { ratings: &r, splits: &[] }, &EvalOptions::rating(), &mut no_progress);
        assert!(e.is_err());
    }
}

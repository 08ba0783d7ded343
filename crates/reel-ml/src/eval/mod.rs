//! Evaluation: splits, rating and top-N metrics, cross-validation, hyper-parameter search and
//! model comparison, with definitions exact enough to compare with the peers' figures
//! (`docs/evaluation.md` has every formula).
//!
//! ```text
//!  Ratings --split (SplitSpec: random / temporal / leave-last-out / kfold, or a saved CSV)--> [Split]
//!     | per split: fit reco::Params on train
//!     v
//!  model --metrics::rating_metrics--> RMSE, MAE (clipped predictions, fallbacks counted)
//!        --metrics::evaluate_ranking--> P@k, R@k, NDCG@k, MAP@k, hit rate, coverage
//!     | cv: mean ± std over folds; search: every candidate, best first; compare: a table
//!     v
//!  CvResult / SearchResult / Comparison (serde, for table, CSV or JSON output)
//! ```
//!
//! With seed 42, `random:0.8` and `kfold:5` reproduce the peers' saved ML-100K split row for
//! row, and [`metrics::evaluate_ranking`] with [`metrics::TopN::default`] is their top-N
//! protocol (benchmarks README §2).
//!
//! ```
//! use reel_ml::data::Ratings;
//! use reel_ml::eval::{self, CvData, EvalOptions, Progress, SplitSpec};
//! use reel_ml::reco::Algorithm;
//!
//! let mut r = Ratings::default();
//! for u in 0..10 {
//!     for i in 0..6 {
//!         r.push(u, i, 1.0 + ((u + i) % 5) as f32, i);
//!     }
//! }
//! let splits = "kfold:3".parse::<SplitSpec>()?.split(&r, 42)?;
//! let cv = eval::cross_validate(
//!     &Algorithm::GlobalMean.default_params(),
//!     CvData { ratings: &r, splits: &splits },
//!     &EvalOptions::rating(),
//!     &mut |p: &Progress<'_>| { let _ = p; },
//! )?;
//! assert_eq!(cv.folds.len(), 3);
//! assert!(cv.rmse.expect("a rating model").mean > 0.0);
//! # Ok::<(), reel_ml::Error>(())
//! ```

pub mod cv;
pub mod io;
pub mod metrics;
mod rng;
pub mod search;
pub mod split;

pub use cv::{Comparison, ComparisonRow, CvData, CvResult, EvalOptions, FoldScores, MeanStd, OnProgress, Progress, RankingCv, compare, cross_validate, no_progress};
pub use io::SavedRatings;
pub use metrics::{
    Catalogue, RankingEvaluation, RankingMetrics, RatingMetrics, TopN, UserMetrics, UserTopN, evaluate_ranking, rating_metrics, relevant_items, summarize,
    user_metrics,
};
pub use search::{Draws, Metric, SearchResult, SearchSpace, Settings, Values, grid_search, random_search, search};
pub use split::{Folds, Split, SplitSpec, kfold, leave_last_out, random, temporal};

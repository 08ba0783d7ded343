//! Datasets, splits, metrics and the recommender models of reelhouse.
//!
//! ```text
//!  clean.ratings --(caller reads the table)--> data::Ratings (external ids)
//!      | eval::split (random, per-user temporal, leave-last-out, k-fold, saved CSV)
//!      v
//!  data::Dataset (dense indices, CSR)  --reco::Params::fit-->  Box<dyn model::Model>
//!      |                                                           | model::predict / recommend / similar
//!      |                                                           | reco::save -> artifact bytes (checked on load)
//!      v                                                           v
//!  eval::metrics (RMSE, MAE, P@k, R@k, NDCG@k, MAP@k, hit rate, coverage)
//! ```
//!
//! This crate knows nothing of tables, files or the registry: the caller loads ratings and
//! stores artifacts. It is pure computation, multi-threaded with rayon where it pays.
//!
//! ```
//! use reel_ml::data::{Dataset, Ratings, Scale};
//! use reel_ml::model::{predict, Quiet};
//! use reel_ml::reco::{Algorithm, Params};
//!
//! let mut r = Ratings::default();
//! r.push(1, 10, 4.0, 0);
//! r.push(2, 10, 2.0, 0);
//! let data = Dataset::try_new(&r, Scale::ONE_TO_FIVE)?;
//! let model = Params::with_settings(Algorithm::GlobalMean, &[])?.fit(&data, &mut Quiet)?;
//! assert_eq!(predict(model.as_ref(), 1, 10).value, 3.0);
//! # Ok::<(), reel_ml::Error>(())
//! ```
#![deny(missing_docs)]

pub mod artifact;
pub mod cluster;
pub mod data;
mod error;
pub mod eval;
pub mod model;
pub mod optim;
pub mod reco;
pub mod tabular;
pub mod text;

pub use error::{Error, Result};

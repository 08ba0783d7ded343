//! Learning on any table with a target column: typed columns, preprocessing fitted on the
//! training rows, logistic regression, a random forest and gradient-boosted trees,
//! stratified splits and k-fold CV, metrics, decision thresholds and feature importance.
//!
//! ```text
//!  CSV / lake table ──frame::Frame (numeric | text columns, types inferred)──┐
//!                                                                            v
//!  model::train(train, test?, TrainOptions) ──prep::Preprocessor (fit on train only)──> Matrix
//!       │ linear::LinearFit (L-BFGS)  │ ensemble::fit_forest  │ ensemble::fit_gbt
//!       v
//!  TabularModel ──predict(Frame)──> label + probability per row
//!               ──save / load──> artifact (family "tabular")
//!  TrainReport: metrics::{roc_auc, average_precision, Confusion, ClassReport, calibration,
//!               threshold_table, choose_threshold}, importances, per-column report
//! ```
//!
//! ```
//! use reel_ml::tabular::{Column, Frame, TrainOptions, train};
//! let mut f = Frame::default();
//! let x: Vec<f64> = (0..200).map(|k| (k % 20) as f64).collect();
//! let y: Vec<Option<String>> = x.iter().map(|v| Some(if *v >= 10.0 { "yes" } else { "no" }.to_string())).collect();
//! f.push("x", Column::Numeric(x))?;
//! f.push("churn", Column::Text(y))?;
//! let report = train(f, None, &TrainOptions::new("churn"), &mut reel_ml::model::Quiet)?;
//! assert!(report.metrics.roc_auc.expect("binary") > 0.99);
//! let model = report.model.expect("trained");
//! // What is saved comes back: saving the loaded model gives the same bytes (training
//! // diagnostics such as the solver's iteration count are not part of the artifact).
//! let again = reel_ml::tabular::TabularModel::load(&model.save())?;
//! assert_eq!(again.save(), model.save());
//! # Ok::<(), reel_ml::Error>(())
//! ```
pub mod ensemble;
pub mod frame;
pub mod linear;
pub mod metrics;
pub mod model;
pub mod prep;
pub mod rng;
pub mod split;
pub mod tree;

pub use ensemble::{ForestParams, GbtParams};
pub use frame::{Column, Frame, Inference};
pub use linear::ClassWeight;
pub use metrics::ThresholdRule;
pub use model::{FieldError, Importance, LogregParams, RowPrediction, TabularMetrics, TabularModel, TabularParams, Task, TaskChoice, TrainOptions, TrainReport, train};
pub use prep::{ColumnReport, Matrix, PrepParams, Preprocessor};

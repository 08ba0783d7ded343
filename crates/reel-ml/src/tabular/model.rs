//! A tabular model end to end: target, preprocessing, estimator, threshold, evaluation and
//! the artifact.
//!
//! ```text
//!  Frame (train) ──take target──> features + labels ──Preprocessor::fit──> Matrix
//!     │ k-fold CV (preprocessing refit per fold): out-of-fold scores → CV AUC, threshold rule
//!     │ final fit on every training row (timed: fit_seconds)
//!     v
//!  TabularModel ──score(test)──> ROC AUC, PR AUC, accuracy, P/R/F1 at the threshold,
//!                                confusion, calibration, threshold table, importances
//!               ──save──> artifact (family "tabular")
//! ```
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ensemble::{ForestParams, GbtParams, Target, TreeEnsemble, fit_forest, fit_gbt};
use super::frame::{Column, Frame, format_number, parse_number};
use super::linear::{ClassWeight, LinearFit, LinearModel, Loss, Targets};
use super::metrics::{
    self, CalibrationBin, ClassReport, Confusion, RegressionMetrics, ThresholdRow, ThresholdRule, average_precision, choose_threshold, roc_auc,
};
use super::prep::{ColumnReport, Matrix, PrepParams, Preprocessor};
use super::split::{stratified_kfold, stratified_split};
use super::tree::Tree;
use crate::artifact::{Artifact, ArtifactWriter};
use crate::data::Scale;
use crate::model::FitObserver;
use crate::optim::LbfgsOptions;
use crate::{Error, Result};

/// Logistic (or, for a numeric target, ridge) regression parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogregParams {
    /// Inverse L2 strength (scikit-learn's `C`).
    pub c: f64,
    /// Class weights.
    pub class_weight: ClassWeight,
    /// Quantile bins added for each continuous numeric column (0 = plain features).
    pub bins: usize,
    /// Most L-BFGS iterations.
    pub max_iter: usize,
    /// Stop when the largest gradient component is below this (scikit-learn's `tol`).
    pub tol: f64,
}

impl Default for LogregParams {
    fn default() -> Self {
        LogregParams { c: 1.0, class_weight: ClassWeight::None, bins: 0, max_iter: 1000, tol: 1e-4 }
    }
}

/// An algorithm and its parameters, e.g. `{"algo": "gbt", "learning_rate": 0.05}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algo", rename_all = "kebab-case")]
pub enum TabularParams {
    /// Logistic regression (ridge for a numeric target).
    Logreg(LogregParams),
    /// Random forest.
    Forest(ForestParams),
    /// Gradient-boosted trees.
    Gbt(GbtParams),
}

impl TabularParams {
    /// The defaults of `algo` (`logreg`, `forest`, `gbt`).
    pub fn defaults(algo: &str) -> Result<TabularParams> {
        match algo.trim().to_ascii_lowercase().as_str() {
            "logreg" | "logistic" | "linear" => Ok(TabularParams::Logreg(LogregParams::default())),
            "forest" | "rf" | "random-forest" => Ok(TabularParams::Forest(ForestParams::default())),
            "gbt" | "gbm" | "boosting" => Ok(TabularParams::Gbt(GbtParams::default())),
            _ => Err(Error::Data(format!("unknown algorithm {algo:?}; choose logreg, forest or gbt"))),
        }
    }

    /// The defaults of `algo` with `settings` (`name=value` as typed) applied.
    pub fn with_settings(algo: &str, settings: &[(String, String)]) -> Result<TabularParams> {
        let base = Self::defaults(algo)?;
        let name = base.name();
        let mut v = serde_json::to_value(&base).map_err(|e| Error::Internal(e.to_string()))?;
        let known: Vec<String> = v.as_object().map(|m| m.keys().filter(|k| *k != "algo").cloned().collect()).unwrap_or_default();
        let Some(map) = v.as_object_mut() else { return Err(Error::Internal("parameters are not an object".into())) };
        for (k, val) in settings {
            let key = k.trim().replace('-', "_");
            if !known.contains(&key) {
                return Err(Error::Data(format!("{name} has no parameter {k:?}; its parameters are: {}", known.join(", "))));
            }
            let parsed = serde_json::from_str::<serde_json::Value>(val.trim()).unwrap_or_else(|_| serde_json::Value::String(val.trim().to_string()));
            map.insert(key, parsed);
        }
        let p: TabularParams = serde_json::from_value(v).map_err(|e| Error::Data(format!("bad {name} parameter: {e}")))?;
        p.check()?;
        Ok(p)
    }

    /// The algorithm's name.
    pub fn name(&self) -> &'static str {
        match self {
            TabularParams::Logreg(_) => "logreg",
            TabularParams::Forest(_) => "forest",
            TabularParams::Gbt(_) => "gbt",
        }
    }

    /// Refuses out-of-range values.
    pub fn check(&self) -> Result<()> {
        match self {
            TabularParams::Logreg(p) => {
                if !(p.c > 0.0 && p.c.is_finite()) {
                    return Err(Error::param("logreg", "c", p.c, "expected a positive number such as 1.0"));
                }
                if p.bins == 1 || p.bins > 100 {
                    return Err(Error::param("logreg", "bins", p.bins, "expected 0 (off) or 2 to 100"));
                }
                if p.max_iter == 0 {
                    return Err(Error::param("logreg", "max_iter", 0, "expected at least 1"));
                }
                if !(p.tol > 0.0 && p.tol < 1.0) {
                    return Err(Error::param("logreg", "tol", p.tol, "expected a small positive number such as 1e-4"));
                }
                Ok(())
            }
            TabularParams::Forest(p) => p.check(),
            TabularParams::Gbt(p) => p.check(),
        }
    }

    /// Parameters without the `algo` tag.
    pub fn values(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.remove("algo");
        }
        v
    }

    fn with_seed(&self, seed: u64) -> TabularParams {
        let mut p = self.clone();
        match &mut p {
            TabularParams::Forest(f) => f.seed = seed,
            TabularParams::Gbt(g) => g.seed = seed,
            TabularParams::Logreg(_) => {}
        }
        p
    }
}

/// Classification or regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskChoice {
    /// Text targets, and integer targets with at most 10 values, are classes; other
    /// numbers are regression.
    #[default]
    Auto,
    /// Always classes.
    Classification,
    /// Always a number.
    Regression,
}

impl std::str::FromStr for TaskChoice {
    type Err = Error;
    fn from_str(s: &str) -> Result<TaskChoice> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(TaskChoice::Auto),
            "classification" | "classify" | "classes" => Ok(TaskChoice::Classification),
            "regression" | "regress" => Ok(TaskChoice::Regression),
            _ => Err(Error::Data(format!("task {s:?} is not auto, classification or regression"))),
        }
    }
}

/// Everything a training run needs besides the data.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    /// The target column.
    pub target: String,
    /// Algorithm and parameters.
    pub params: TabularParams,
    /// Preprocessing options (`numeric_bins` is taken from logreg's `bins`).
    pub prep: PrepParams,
    /// Classification or regression.
    pub task: TaskChoice,
    /// The positive class of a binary target (default: a yes-like label, else the rarer one).
    pub positive: Option<String>,
    /// How the decision threshold is chosen (binary targets).
    pub threshold: ThresholdRule,
    /// Folds of the cross-validation on the training rows (0 = none).
    pub cv_folds: usize,
    /// Share of rows held out when no test set is given.
    pub test_fraction: f64,
    /// Seed of the split, the folds and the models.
    pub seed: u64,
}

impl TrainOptions {
    /// Options for `target` with the defaults: logreg, auto task, threshold 0.5, 5 folds.
    pub fn new(target: &str) -> TrainOptions {
        TrainOptions {
            target: target.to_string(),
            params: TabularParams::Logreg(LogregParams::default()),
            prep: PrepParams::default(),
            task: TaskChoice::Auto,
            positive: None,
            threshold: ThresholdRule::Fixed(0.5),
            cv_folds: 5,
            test_fraction: 0.2,
            seed: 42,
        }
    }
}

/// What the model predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case")]
pub enum Task {
    /// Classes, in output order.
    Classification {
        /// Class labels.
        labels: Vec<String>,
        /// Index of the positive class for two classes.
        positive: Option<usize>,
    },
    /// A number.
    Regression,
}

/// The fitted estimator.
#[derive(Debug, Clone, PartialEq)]
pub enum Estimator {
    /// Logistic or ridge regression.
    Linear(LinearModel),
    /// Forest or boosting.
    Trees(TreeEnsemble),
}

/// A feature's share of the model's importance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// The encoded feature (`contract=Two year`).
    pub feature: String,
    /// The input column it comes from.
    pub column: String,
    /// Share (sums to 1 over features): split gain for trees, |coefficient| for linear models.
    pub importance: f64,
}

/// A trained tabular model, ready to score rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularModel {
    /// The target column's name.
    pub target: String,
    /// What it predicts.
    pub task: Task,
    /// Preprocessing fitted on the training rows.
    pub prep: Preprocessor,
    /// What the preprocessing did to each column.
    pub columns: Vec<ColumnReport>,
    /// Algorithm and parameters.
    pub params: TabularParams,
    /// The estimator.
    pub estimator: Estimator,
    /// Decision threshold on the positive class's probability (binary targets).
    pub threshold: Option<f64>,
    /// The rule that chose it.
    pub threshold_rule: ThresholdRule,
}

/// One scored row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RowPrediction {
    /// The predicted class label, or the value as text for regression.
    pub label: String,
    /// Probability of the positive class (binary), or of the predicted class.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// The predicted value (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// Why a JSON row cannot be scored ([`TabularModel::frame_from_json`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("row {row}, field {field}: {message}")]
pub struct FieldError {
    /// The row (0-based).
    pub row: usize,
    /// The field (column) at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Held-out metrics of a tabular model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TabularMetrics {
    /// Rows evaluated.
    pub test_rows: usize,
    /// ROC AUC (binary; macro one-vs-rest for several classes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    /// Average precision (binary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pr_auc: Option<f64>,
    /// Accuracy at the threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Precision of the positive class (binary) or macro precision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    /// Recall of the positive class (binary) or macro recall.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    /// F1 of the positive class (binary) or macro F1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub f1: Option<f64>,
    /// Macro-averaged F1 over the classes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub macro_f1: Option<f64>,
    /// The decision threshold used (binary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Mean absolute error (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Root mean squared error (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    /// R² (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
    /// Cross-validated main metric on the training rows (AUC, macro-F1 or RMSE): mean.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv_mean: Option<f64>,
    /// Its standard deviation over folds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv_std: Option<f64>,
    /// Name of the cross-validated metric.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cv_metric: Option<String>,
}

/// Everything a training run reports.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// Metrics on the held-out rows.
    pub metrics: TabularMetrics,
    /// Per-class report and confusion matrix (classification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassReport>,
    /// Binary counts at the threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion: Option<Confusion>,
    /// The precision/recall/threshold table on the held-out rows (binary).
    pub thresholds: Vec<ThresholdRow>,
    /// Calibration of the positive-class probability (binary).
    pub calibration: Vec<CalibrationBin>,
    /// Features by importance, largest first.
    pub importances: Vec<Importance>,
    /// What was done to each column.
    pub columns: Vec<ColumnReport>,
    /// Whether the threshold rule could be met.
    pub threshold_rule_met: bool,
    /// Seconds of the final fit (preprocessing + estimator).
    pub fit_seconds: f64,
    /// Seconds of the cross-validation.
    pub cv_seconds: f64,
    /// Training rows used.
    pub train_rows: usize,
    /// Rows dropped because the target was missing.
    pub dropped_rows: usize,
    /// Whether the test rows were held out from the training data (no test set given).
    pub held_out_split: bool,
    /// The trained model (not serialised).
    #[serde(skip)]
    pub model: Option<TabularModel>,
}

fn is_integer_valued(v: &[f64]) -> bool {
    v.iter().filter(|x| !x.is_nan()).all(|x| x.fract() == 0.0)
}

/// Target values as text labels (numbers formatted) and rows with a missing target.
fn labels_of(col: &Column) -> (Vec<Option<String>>, usize) {
    let v: Vec<Option<String>> = (0..col.len()).map(|r| col.text_at(r)).collect();
    let missing = v.iter().filter(|x| x.is_none()).count();
    (v, missing)
}

fn sort_labels(labels: &mut [String]) {
    if labels.iter().all(|l| parse_number(l).is_some()) {
        labels.sort_by(|a, b| parse_number(a).unwrap_or(0.0).total_cmp(&parse_number(b).unwrap_or(0.0)));
    } else {
        labels.sort();
    }
}

fn default_positive(labels: &[String], counts: &[usize]) -> usize {
    const YES: &[&str] = &["yes", "y", "true", "1", "positive", "pos", "churn", "churned", "t"];
    if let Some(k) = labels.iter().position(|l| YES.contains(&l.to_ascii_lowercase().as_str())) {
        return k;
    }
    if counts[0] < counts[1] { 0 } else { 1 }
}

/// The task decided for a target column.
fn decide_task(col: &Column, choice: TaskChoice, target: &str) -> Result<bool> {
    Ok(match (choice, col) {
        (TaskChoice::Classification, _) => true,
        (TaskChoice::Regression, Column::Text(v)) => {
            let bad = v.iter().flatten().find(|s| parse_number(s).is_none());
            if let Some(b) = bad {
                return Err(Error::Data(format!("target {target:?} holds text such as {b:?}; regression needs numbers (drop --task regression)")));
            }
            false
        }
        (TaskChoice::Regression, Column::Numeric(_)) => false,
        (TaskChoice::Auto, Column::Text(_)) => true,
        (TaskChoice::Auto, Column::Numeric(v)) => {
            let mut d: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            d.sort_by(f64::total_cmp);
            d.dedup();
            is_integer_valued(v) && d.len() <= 10
        }
    })
}

fn numeric_target(col: &Column) -> Vec<f64> {
    match col {
        Column::Numeric(v) => v.clone(),
        Column::Text(v) => v.iter().map(|s| s.as_deref().and_then(parse_number).unwrap_or(f64::NAN)).collect(),
    }
}

/// Prepared rows: features frame and the encoded target.
struct Rows {
    frame: Frame,
    classes: Vec<usize>,
    values: Vec<f64>,
}

fn encode_target(frame: Frame, col: &Column, task: &Task, what: &str) -> Result<(Rows, usize)> {
    match task {
        Task::Classification { labels, .. } => {
            let (v, _) = labels_of(col);
            let mut keep = Vec::new();
            let mut classes = Vec::new();
            let mut unseen: Vec<String> = Vec::new();
            for (r, l) in v.iter().enumerate() {
                let Some(l) = l else { continue };
                match labels.iter().position(|x| x == l) {
                    Some(c) => {
                        keep.push(r);
                        classes.push(c);
                    }
                    None => {
                        if !unseen.contains(l) {
                            unseen.push(l.clone());
                        }
                    }
                }
            }
            if !unseen.is_empty() {
                return Err(Error::Data(format!(
                    "the {what} rows have target values the training rows do not ({}); the model knows only {}",
                    unseen.iter().take(5).map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "),
                    labels.join(", ")
                )));
            }
            let dropped = col.len() - keep.len();
            Ok((Rows { frame: frame.select(&keep), classes, values: Vec::new() }, dropped))
        }
        Task::Regression => {
            let v = numeric_target(col);
            let keep: Vec<usize> = (0..v.len()).filter(|&r| !v[r].is_nan()).collect();
            let values = keep.iter().map(|&r| v[r]).collect();
            Ok((Rows { frame: frame.select(&keep), classes: Vec::new(), values }, col.len() - keep.len()))
        }
    }
}

fn fit_estimator(params: &TabularParams, x: &Matrix, task: &Task, rows: &Rows, obs: &mut dyn FitObserver) -> Result<Estimator> {
    let target = match task {
        Task::Classification { labels, .. } => Target::Classes { y: &rows.classes, classes: labels.len() },
        Task::Regression => Target::Values(&rows.values),
    };
    Ok(match params {
        TabularParams::Logreg(p) => {
            let (loss, w, t) = match task {
                Task::Classification { labels, .. } => {
                    let loss = if labels.len() == 2 { Loss::Logistic } else { Loss::Softmax };
                    (loss, p.class_weight.row_weights(&rows.classes, labels.len()), Targets::Classes(&rows.classes))
                }
                Task::Regression => (Loss::Squared, vec![1.0; x.rows], Targets::Values(&rows.values)),
            };
            let k = if let Task::Classification { labels, .. } = task { labels.len() } else { 1 };
            let fit = LinearFit { loss, c: p.c, opts: LbfgsOptions { max_iter: p.max_iter, gtol: p.tol, ..LbfgsOptions::default() } };
            let m = fit.fit(x, t, &w, k);
            obs.on_epoch(m.iterations, p.max_iter, None);
            Estimator::Linear(m)
        }
        TabularParams::Forest(p) => {
            let m = fit_forest(x, target, p)?;
            obs.on_epoch(p.trees, p.trees, None);
            Estimator::Trees(m)
        }
        TabularParams::Gbt(p) => {
            let mut cb = |r: usize, n: usize, loss: f64| {
                if r % 10 == 0 || r == n {
                    obs.on_epoch(r, n, Some(loss));
                }
                obs.keep_going()
            };
            Estimator::Trees(fit_gbt(x, target, p, &mut cb)?)
        }
    })
}

fn predict_matrix(est: &Estimator, x: &Matrix) -> Vec<f64> {
    match est {
        Estimator::Linear(m) => m.predict(x),
        Estimator::Trees(t) => t.predict(x),
    }
}

fn prep_params(opts: &TrainOptions) -> PrepParams {
    let mut p = opts.prep.clone();
    if let TabularParams::Logreg(l) = &opts.params {
        p.numeric_bins = l.bins;
    }
    p
}

/// Fits preprocessing and estimator on `rows`; returns them with the seconds taken.
fn fit_all(opts: &TrainOptions, task: &Task, rows: &Rows, obs: &mut dyn FitObserver, seed: u64) -> Result<(Preprocessor, Vec<ColumnReport>, Estimator)> {
    let (prep, reports) = Preprocessor::fit(&rows.frame, &prep_params(opts))?;
    let x = prep.transform(&rows.frame)?;
    let est = fit_estimator(&opts.params.with_seed(seed), &x, task, rows, obs)?;
    Ok((prep, reports, est))
}

/// Every number of the preprocessing plans, in plan order.
fn prep_numbers(p: &Preprocessor) -> Vec<f64> {
    use super::prep::Plan;
    let mut v = Vec::new();
    for (_, plan) in &p.plans {
        match plan {
            Plan::Numeric { median, mean, std, edges, .. } => {
                v.extend_from_slice(&[*median, *mean, *std]);
                v.extend_from_slice(edges);
            }
            Plan::Ordinal { mean, std, .. } => v.extend_from_slice(&[*mean, *std]),
            _ => {}
        }
    }
    v
}

fn set_prep_numbers(p: &mut Preprocessor, v: &[f64]) {
    use super::prep::Plan;
    let mut it = v.iter().copied();
    for (_, plan) in &mut p.plans {
        match plan {
            Plan::Numeric { median, mean, std, edges, .. } => {
                for x in [median, mean, std] {
                    *x = it.next().unwrap_or(*x);
                }
                for e in edges.iter_mut() {
                    *e = it.next().unwrap_or(*e);
                }
            }
            Plan::Ordinal { mean, std, .. } => {
                for x in [mean, std] {
                    *x = it.next().unwrap_or(*x);
                }
            }
            _ => {}
        }
    }
}

fn positive_scores(p: &[f64], k: usize, pos: usize) -> Vec<f64> {
    p.chunks(k).map(|r| r[pos]).collect()
}

fn argmax(row: &[f64]) -> usize {
    (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap_or(0)
}

/// Macro one-vs-rest AUC over classes.
fn ovr_auc(p: &[f64], k: usize, y: &[usize]) -> Option<f64> {
    let mut s = 0.0;
    let mut m = 0;
    for c in 0..k {
        let truth: Vec<bool> = y.iter().map(|&t| t == c).collect();
        if let Some(a) = roc_auc(&truth, &positive_scores(p, k, c)) {
            s += a;
            m += 1;
        }
    }
    (m > 0).then(|| s / m as f64)
}

/// Trains on `train` and evaluates on `test` (or on a stratified hold-out of `train`).
pub fn train(train: Frame, test: Option<Frame>, opts: &TrainOptions, obs: &mut dyn FitObserver) -> Result<TrainReport> {
    opts.params.check()?;
    let (features, target_col) = train.take(&opts.target)?;
    let classify = decide_task(&target_col, opts.task, &opts.target)?;
    let task = if classify {
        let (v, _) = labels_of(&target_col);
        let mut labels: Vec<String> = v.iter().flatten().cloned().collect();
        labels.sort();
        labels.dedup();
        sort_labels(&mut labels);
        let present = v.iter().flatten().count();
        if labels.len() < 2 {
            return Err(Error::Data(match labels.first() {
                Some(only) => format!(
                    "target {:?} has one class ({only:?}) in all {present} training rows with a value; a classifier needs at least two classes: check the target column, or the filter that made the table",
                    opts.target
                ),
                None => format!("target {:?} has no values in the training rows", opts.target),
            }));
        }
        if labels.len() > 200 {
            return Err(Error::Data(format!(
                "target {:?} has {} classes; that looks like a number or an identifier: pass --task regression, or pick another target",
                opts.target,
                labels.len()
            )));
        }
        let positive = if labels.len() == 2 {
            Some(match &opts.positive {
                Some(p) => labels.iter().position(|l| l == p).ok_or_else(|| {
                    Error::Data(format!("--positive {p:?} is not a class of {:?}; the classes are {}", opts.target, labels.join(", ")))
                })?,
                None => {
                    let counts: Vec<usize> = labels.iter().map(|l| v.iter().flatten().filter(|x| *x == l).count()).collect();
                    default_positive(&labels, &counts)
                }
            })
        } else {
            None
        };
        Task::Classification { labels, positive }
    } else {
        Task::Regression
    };
    let (all, dropped) = encode_target(features, &target_col, &task, "training")?;
    let (train_rows, test_rows, held_out) = match test {
        Some(t) => {
            let (tf, tc) = t.take(&opts.target)?;
            let (rows, _) = encode_target(tf, &tc, &task, "test")?;
            (all, rows, false)
        }
        None => {
            let strat = (!all.classes.is_empty()).then_some(all.classes.as_slice());
            let s = stratified_split(all.frame.len(), strat, opts.test_fraction, opts.seed)?;
            let pick = |rows: &[usize]| Rows {
                frame: all.frame.select(rows),
                classes: rows.iter().filter_map(|&r| all.classes.get(r).copied()).collect(),
                values: rows.iter().filter_map(|&r| all.values.get(r).copied()).collect(),
            };
            let (a, b) = (pick(&s.train), pick(&s.test));
            (a, b, true)
        }
    };
    if let Task::Classification { labels, .. } = &task {
        let mut seen = vec![false; labels.len()];
        train_rows.classes.iter().for_each(|&c| seen[c] = true);
        if let Some(c) = seen.iter().position(|s| !s) {
            return Err(Error::Data(format!("class {:?} has no training rows after the split; use more rows or pass --test FILE", labels[c])));
        }
    }
    // Cross-validation: out-of-fold scores on the training rows (preprocessing refit per fold).
    let cv_started = Instant::now();
    let mut oof: Option<Vec<f64>> = None;
    let mut cv_scores = Vec::new();
    let n = train_rows.frame.len();
    let k_out = match &task {
        Task::Classification { labels, .. } => labels.len(),
        Task::Regression => 1,
    };
    if opts.cv_folds >= 2 && n >= 2 * opts.cv_folds {
        let strat = (!train_rows.classes.is_empty()).then_some(train_rows.classes.as_slice());
        let folds = stratified_kfold(n, strat, opts.cv_folds, opts.seed)?;
        let mut scores = vec![0.0; n * k_out];
        for (fi, f) in folds.iter().enumerate() {
            if !obs.keep_going() {
                return Err(Error::Cancelled);
            }
            let sub = Rows {
                frame: train_rows.frame.select(&f.train),
                classes: f.train.iter().filter_map(|&r| train_rows.classes.get(r).copied()).collect(),
                values: f.train.iter().filter_map(|&r| train_rows.values.get(r).copied()).collect(),
            };
            let (prep, _, est) = fit_all(opts, &task, &sub, &mut crate::model::Quiet, opts.seed + fi as u64 + 1)?;
            let x = prep.transform(&train_rows.frame.select(&f.test))?;
            let p = predict_matrix(&est, &x);
            for (j, &r) in f.test.iter().enumerate() {
                scores[r * k_out..(r + 1) * k_out].copy_from_slice(&p[j * k_out..(j + 1) * k_out]);
            }
            let fold_score = match &task {
                Task::Classification { labels, positive } => {
                    let y: Vec<usize> = f.test.iter().map(|&r| train_rows.classes[r]).collect();
                    match positive {
                        Some(pos) => roc_auc(&y.iter().map(|&c| c == *pos).collect::<Vec<_>>(), &positive_scores(&p, 2, *pos)),
                        None => {
                            let pred: Vec<usize> = p.chunks(k_out).map(argmax).collect();
                            Some(ClassReport::new(labels, &y, &pred).macro_avg.f1)
                        }
                    }
                }
                Task::Regression => {
                    let y: Vec<f64> = f.test.iter().map(|&r| train_rows.values[r]).collect();
                    Some(metrics::regression_metrics(&y, &p).rmse)
                }
            };
            cv_scores.extend(fold_score);
            obs.on_epoch(fi + 1, folds.len(), None);
        }
        oof = Some(scores);
    }
    let cv_seconds = cv_started.elapsed().as_secs_f64();
    // The final fit, timed: preprocessing + estimator on every training row.
    let started = Instant::now();
    let (prep, columns, est) = fit_all(opts, &task, &train_rows, obs, opts.seed)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    // Threshold: the rule on out-of-fold scores (training scores without CV).
    let (threshold, rule_met) = match &task {
        Task::Classification { positive: Some(pos), .. } => {
            let y: Vec<bool> = train_rows.classes.iter().map(|&c| c == *pos).collect();
            let s = match &oof {
                Some(o) => positive_scores(o, 2, *pos),
                None => positive_scores(&predict_matrix(&est, &prep.transform(&train_rows.frame)?), 2, *pos),
            };
            let (t, ok) = choose_threshold(&y, &s, opts.threshold);
            (Some(t), ok)
        }
        _ => (None, true),
    };
    let model = TabularModel {
        target: opts.target.clone(),
        task: task.clone(),
        prep,
        columns: columns.clone(),
        params: opts.params.clone(),
        estimator: est,
        threshold,
        threshold_rule: opts.threshold,
    };
    // Held-out evaluation.
    let x = model.prep.transform(&test_rows.frame)?;
    let p = predict_matrix(&model.estimator, &x);
    let mut m = TabularMetrics { test_rows: test_rows.frame.len(), ..TabularMetrics::default() };
    let (mut classes, mut confusion, mut thresholds, mut calibration) = (None, None, Vec::new(), Vec::new());
    match &task {
        Task::Classification { labels, positive } => {
            let k = labels.len();
            let pred: Vec<usize> = match (positive, threshold) {
                (Some(pos), Some(t)) => p.chunks(k).map(|r| if r[*pos] >= t { *pos } else { 1 - *pos }).collect(),
                _ => p.chunks(k).map(argmax).collect(),
            };
            let rep = ClassReport::new(labels, &test_rows.classes, &pred);
            m.accuracy = Some(rep.accuracy);
            m.macro_f1 = Some(rep.macro_avg.f1);
            if let (Some(pos), Some(t)) = (positive, threshold) {
                let y: Vec<bool> = test_rows.classes.iter().map(|&c| c == *pos).collect();
                let s = positive_scores(&p, k, *pos);
                let c = Confusion::at(&y, &s, t);
                m.roc_auc = roc_auc(&y, &s);
                m.pr_auc = average_precision(&y, &s);
                m.precision = Some(c.precision());
                m.recall = Some(c.recall());
                m.f1 = Some(c.f1());
                m.threshold = Some(t);
                confusion = Some(c);
                thresholds = metrics::threshold_table(&y, &s);
                calibration = metrics::calibration(&y, &s);
            } else {
                m.roc_auc = ovr_auc(&p, k, &test_rows.classes);
                m.precision = Some(rep.macro_avg.precision);
                m.recall = Some(rep.macro_avg.recall);
                m.f1 = Some(rep.macro_avg.f1);
            }
            classes = Some(rep);
        }
        Task::Regression => {
            let r: RegressionMetrics = metrics::regression_metrics(&test_rows.values, &p);
            m.mae = Some(r.mae);
            m.rmse = Some(r.rmse);
            m.r2 = Some(r.r2);
        }
    }
    if !cv_scores.is_empty() {
        let mean = cv_scores.iter().sum::<f64>() / cv_scores.len() as f64;
        let var = cv_scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / cv_scores.len() as f64;
        m.cv_mean = Some(mean);
        m.cv_std = Some(var.sqrt());
        m.cv_metric = Some(
            match &task {
                Task::Classification { positive: Some(_), .. } => "roc_auc",
                Task::Classification { .. } => "macro_f1",
                Task::Regression => "rmse",
            }
            .into(),
        );
    }
    Ok(TrainReport {
        metrics: m,
        classes,
        confusion,
        thresholds,
        calibration,
        importances: model.importances(),
        columns,
        threshold_rule_met: rule_met,
        fit_seconds,
        cv_seconds,
        train_rows: train_rows.frame.len(),
        dropped_rows: dropped,
        held_out_split: held_out,
        model: Some(model),
    })
}

impl TabularModel {
    /// The algorithm's name.
    pub fn algorithm(&self) -> &'static str {
        self.params.name()
    }

    /// `classifier` or `regressor`.
    pub fn kind(&self) -> &'static str {
        match self.task {
            Task::Classification { .. } => "classifier",
            Task::Regression => "regressor",
        }
    }

    /// The input columns the model reads.
    pub fn input_columns(&self) -> Vec<&str> {
        self.prep.plans.iter().filter(|(_, p)| !matches!(p, super::prep::Plan::Drop { .. })).map(|(c, _)| c.as_str()).collect()
    }

    /// Features by importance, largest first.
    pub fn importances(&self) -> Vec<Importance> {
        let raw: Vec<f64> = match &self.estimator {
            Estimator::Trees(t) => t.importances.clone(),
            Estimator::Linear(m) => {
                let k = m.outputs;
                (0..m.features()).map(|j| m.coef[j * k..(j + 1) * k].iter().map(|c| c.abs()).sum()).collect()
            }
        };
        let total: f64 = raw.iter().sum::<f64>().max(f64::MIN_POSITIVE);
        let mut out: Vec<Importance> = raw
            .iter()
            .enumerate()
            .map(|(j, v)| Importance {
                feature: self.prep.features.get(j).cloned().unwrap_or_default(),
                column: self.prep.feature_columns.get(j).cloned().unwrap_or_default(),
                importance: v / total,
            })
            .collect();
        out.sort_by(|a, b| b.importance.total_cmp(&a.importance).then(a.feature.cmp(&b.feature)));
        out
    }

    /// Scores every row of `frame` (extra columns, the target included, are ignored).
    pub fn predict(&self, frame: &Frame) -> Result<Vec<RowPrediction>> {
        let x = self.prep.transform(frame)?;
        let p = predict_matrix(&self.estimator, &x);
        Ok(match &self.task {
            Task::Regression => p.iter().map(|&v| RowPrediction { label: format_number((v * 1e6).round() / 1e6), probability: None, value: Some(v) }).collect(),
            Task::Classification { labels, positive } => {
                let k = labels.len();
                p.chunks(k)
                    .map(|r| match (positive, self.threshold) {
                        (Some(pos), Some(t)) => {
                            let c = if r[*pos] >= t { *pos } else { 1 - *pos };
                            RowPrediction { label: labels[c].clone(), probability: Some(r[*pos]), value: None }
                        }
                        _ => {
                            let c = argmax(r);
                            RowPrediction { label: labels[c].clone(), probability: Some(r[c]), value: None }
                        }
                    })
                    .collect()
            }
        })
    }

    /// The label whose probability [`RowPrediction::probability`] reports for binary
    /// targets (the positive class); `None` for regression and several classes (there it is
    /// the predicted label's).
    pub fn positive_label(&self) -> Option<&str> {
        match &self.task {
            Task::Classification { labels, positive: Some(p) } => labels.get(*p).map(String::as_str),
            _ => None,
        }
    }

    /// Builds a frame from JSON rows (column name -> value), as an HTTP client sends them.
    ///
    /// Every column the model reads must be present (`null` is a missing value, imputed as in
    /// training); other keys, the target included, are ignored. A numeric column takes a
    /// number or `null`; a categorical column takes a string, a number (matched as it would
    /// be written in a CSV: `3`, `2.5`) or `null`, and an unseen category encodes like in
    /// [`TabularModel::predict`]. The error names the row and the field.
    ///
    /// ```
    /// use reel_ml::tabular::{Frame, TrainOptions, train};
    /// use reel_ml::model::Quiet;
    /// let names: Vec<String> = ["x", "colour", "y"].iter().map(|s| s.to_string()).collect();
    /// let rows = 40;
    /// let cols = vec![
    ///     (0..rows).map(|i| (i / 2).to_string()).collect(),
    ///     (0..rows).map(|i| if i % 2 == 0 { "red".to_string() } else { "blue".to_string() }).collect(),
    ///     (0..rows).map(|i| if i >= 20 { "yes".to_string() } else { "no".to_string() }).collect(),
    /// ];
    /// let (frame, _) = Frame::from_strings(&names, cols)?;
    /// let mut opts = TrainOptions::new("y");
    /// opts.cv_folds = 0;
    /// let model = train(frame, None, &opts, &mut Quiet)?.model.expect("a model");
    /// let row = serde_json::json!({"x": 35, "colour": "green"});
    /// let frame = model.frame_from_json(&[row.as_object().unwrap()]).map_err(|e| e.to_string())?;
    /// assert_eq!(model.predict(&frame)?[0].label, "yes");
    /// let bad = serde_json::json!({"x": "many", "colour": "red"});
    /// let e = model.frame_from_json(&[bad.as_object().unwrap()]).unwrap_err();
    /// assert_eq!(e.field, "x");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn frame_from_json(&self, rows: &[&serde_json::Map<String, serde_json::Value>]) -> std::result::Result<Frame, FieldError> {
        use super::prep::Plan;
        use serde_json::Value;
        let needed = self.input_columns();
        let mut frame = Frame::with_rows(rows.len());
        for (name, plan) in &self.prep.plans {
            let numeric = match plan {
                Plan::Drop { .. } => continue,
                Plan::Numeric { .. } => true,
                Plan::IndicatorOnly | Plan::OneHot { .. } | Plan::Ordinal { .. } => false,
            };
            let mut nums = Vec::new();
            let mut texts = Vec::new();
            for (r, row) in rows.iter().enumerate() {
                let err = |message: String| FieldError { row: r, field: name.clone(), message };
                let v = row.get(name).ok_or_else(|| {
                    err(format!("is missing; the model reads {} (send null for an unknown value)", needed.join(", ")))
                })?;
                let kind = |v: &Value| match v {
                    Value::Bool(b) => format!("the boolean {b}"),
                    Value::String(s) => format!("the string {s:?}"),
                    Value::Array(_) => "an array".to_string(),
                    Value::Object(_) => "an object".to_string(),
                    Value::Number(n) => format!("the number {n}"),
                    Value::Null => "null".to_string(),
                };
                if numeric {
                    nums.push(match v {
                        Value::Null => f64::NAN,
                        Value::Number(n) => match n.as_f64().filter(|x| x.is_finite()) {
                            Some(x) => x,
                            None => return Err(err(format!("{n} is not a finite number"))),
                        },
                        other => return Err(err(format!("expected a number or null (a numeric column), got {}", kind(other)))),
                    });
                } else {
                    texts.push(match v {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => match n.as_f64().filter(|x| x.is_finite()) {
                            Some(x) => Some(format_number(x)),
                            None => return Err(err(format!("{n} is not a finite number"))),
                        },
                        other => return Err(err(format!("expected a string or null (a categorical column), got {}", kind(other)))),
                    });
                }
            }
            let col = if numeric { Column::Numeric(nums) } else { Column::Text(texts) };
            frame.push(name, col).map_err(|e| FieldError { row: 0, field: name.clone(), message: e.to_string() })?;
        }
        Ok(frame)
    }

    /// The artifact bytes (family `tabular`).
    pub fn save(&self) -> Vec<u8> {
        let mut w = ArtifactWriter::new(self.algorithm(), self.params.values(), Scale { min: 0.0, max: 1.0 });
        w.family("tabular");
        w.meta("target", serde_json::json!(self.target));
        w.meta("task", serde_json::to_value(&self.task).unwrap_or_default());
        w.meta("prep", serde_json::to_value(&self.prep).unwrap_or_default());
        w.meta("columns", serde_json::to_value(&self.columns).unwrap_or_default());
        w.meta("threshold", serde_json::json!(self.threshold));
        w.meta("threshold_rule", serde_json::to_value(self.threshold_rule).unwrap_or_default());
        // JSON numbers may not parse back to the same bits: the exact values travel as f64s.
        w.f64s("prep_numbers", prep_numbers(&self.prep));
        w.f64s("threshold_value", self.threshold.into_iter().collect());
        match &self.estimator {
            Estimator::Linear(m) => {
                w.meta("loss", serde_json::to_value(m.loss).unwrap_or_default());
                w.u32s("outputs", vec![m.outputs as u32]);
                w.f64s("coef", m.coef.clone());
                w.f64s("intercept", m.intercept.clone());
            }
            Estimator::Trees(t) => {
                w.u32s("outputs", vec![t.outputs as u32, u32::from(t.boosted), u32::from(t.classify)]);
                w.f64s("init", t.init.clone());
                w.f64s("importances", t.importances.clone());
                w.u32s("tree_nodes", t.trees.iter().map(|x| x.len() as u32).collect());
                w.u32s("tree_dims", t.trees.iter().map(|x| x.dim as u32).collect());
                w.u32s("feature", t.trees.iter().flat_map(|x| x.feature.iter().copied()).collect());
                w.f64s("threshold", t.trees.iter().flat_map(|x| x.threshold.iter().copied()).collect());
                w.u32s("left", t.trees.iter().flat_map(|x| x.left.iter().copied()).collect());
                w.u32s("right", t.trees.iter().flat_map(|x| x.right.iter().copied()).collect());
                w.f64s("value", t.trees.iter().flat_map(|x| x.value.iter().copied()).collect());
            }
        }
        w.to_bytes()
    }

    /// Loads and checks an artifact written by [`TabularModel::save`].
    pub fn load(bytes: &[u8]) -> Result<TabularModel> {
        let mut a = Artifact::from_bytes(bytes)?;
        if a.header.family.as_deref() != Some("tabular") {
            return Err(Error::artifact(format!("a {} model, not a tabular classifier or regressor", a.header.family.as_deref().unwrap_or("recommender"))));
        }
        let meta = a.header.meta.clone();
        let get = |k: &str| meta.get(k).cloned().ok_or_else(|| Error::artifact(format!("header field {k} is missing")));
        let bad = |k: &str, e: serde_json::Error| Error::artifact(format!("header field {k} is not valid: {e}"));
        let mut pv = a.header.params.clone();
        if let Some(m) = pv.as_object_mut() {
            m.insert("algo".into(), serde_json::json!(a.header.algorithm));
        }
        let params: TabularParams = serde_json::from_value(pv).map_err(|e| bad("params", e))?;
        let task: Task = serde_json::from_value(get("task")?).map_err(|e| bad("task", e))?;
        let prep: Preprocessor = serde_json::from_value(get("prep")?).map_err(|e| bad("prep", e))?;
        let columns: Vec<ColumnReport> = serde_json::from_value(get("columns")?).map_err(|e| bad("columns", e))?;
        let target: String = serde_json::from_value(get("target")?).map_err(|e| bad("target", e))?;
        let mut prep = prep;
        let exact = a.take_f64("prep_numbers", Some(prep_numbers(&prep).len()))?;
        set_prep_numbers(&mut prep, &exact);
        let threshold: Option<f64> = a.take_f64("threshold_value", None)?.first().copied();
        let threshold_rule: ThresholdRule = serde_json::from_value(get("threshold_rule")?).map_err(|e| bad("threshold_rule", e))?;
        let p = prep.width();
        let estimator = match &params {
            TabularParams::Logreg(_) => {
                let loss: Loss = serde_json::from_value(get("loss")?).map_err(|e| bad("loss", e))?;
                let k = a.take_u32("outputs", Some(1))?[0] as usize;
                let coef = a.take_f64("coef", Some(p * k))?;
                let intercept = a.take_f64("intercept", Some(k))?;
                Estimator::Linear(LinearModel { loss, outputs: k, coef, intercept, iterations: 0, converged: true })
            }
            _ => {
                let o = a.take_u32("outputs", Some(3))?;
                let init = a.take_f64("init", None)?;
                let importances = a.take_f64("importances", Some(p))?;
                let nodes = a.take_u32("tree_nodes", None)?;
                let dims = a.take_u32("tree_dims", Some(nodes.len()))?;
                let total: usize = nodes.iter().map(|&x| x as usize).sum();
                let values: usize = nodes.iter().zip(&dims).map(|(&n, &d)| n as usize * d as usize).sum();
                let feature = a.take_u32("feature", Some(total))?;
                let thr = a.take_f64("threshold", Some(total))?;
                let left = a.take_u32("left", Some(total))?;
                let right = a.take_u32("right", Some(total))?;
                let value = a.take_f64("value", Some(values))?;
                let (mut at, mut vat) = (0usize, 0usize);
                let mut trees = Vec::with_capacity(nodes.len());
                for (&nn, &d) in nodes.iter().zip(&dims) {
                    let (nn, d) = (nn as usize, d as usize);
                    let t = Tree {
                        feature: feature[at..at + nn].to_vec(),
                        threshold: thr[at..at + nn].to_vec(),
                        left: left[at..at + nn].to_vec(),
                        right: right[at..at + nn].to_vec(),
                        value: value[vat..vat + nn * d].to_vec(),
                        dim: d,
                    };
                    // A node must point at nodes of its own tree, and split on a known feature.
                    for k in 0..nn {
                        if t.feature[k] != u32::MAX && (t.feature[k] as usize >= p || t.left[k] as usize >= nn || t.right[k] as usize >= nn || t.left[k] as usize <= k || t.right[k] as usize <= k) {
                            return Err(Error::artifact(format!("tree {} node {k} points outside its tree", trees.len())));
                        }
                    }
                    at += nn;
                    vat += nn * d;
                    trees.push(t);
                }
                Estimator::Trees(TreeEnsemble { boosted: o[1] == 1, outputs: o[0] as usize, classify: o[2] == 1, init, trees, importances })
            }
        };
        Ok(TabularModel { target, task, prep, columns, params, estimator, threshold, threshold_rule })
    }
}

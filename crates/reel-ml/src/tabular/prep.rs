//! Preprocessing fitted on the training rows only and saved with the model.
//!
//! For each feature column, [`Preprocessor::fit`] decides one [`Plan`] and reports it
//! ([`ColumnReport`]), in this order of rules:
//!
//! 1. **all missing** → dropped;
//! 2. **constant** (one distinct value and nothing missing) → dropped; one value plus
//!    missing values keeps only the missing indicator;
//! 3. **identifier** (the documented id rule) → dropped when every non-missing value is
//!    distinct and at least one of: the name is `id`, `index`, `rownames`, `row`, `key`,
//!    `uuid` or ends in `_id`/`Id`/` id`; the column is text; or it holds integers that,
//!    sorted, step by exactly 1 (a row number). Text with more distinct values than half the
//!    rows (free text) is dropped by the same rule;
//! 4. **numeric** → missing values imputed with the training median, plus a 0/1 missing
//!    indicator when the training rows had any, then standardised
//!    (`(x - mean) / std`, std 1 when it is 0);
//! 5. **text with at most `max_onehot` categories** → one-hot; a category never seen in
//!    training (or missing when training had no missing values) encodes as all zeros;
//!    missing values seen in training get their own `(missing)` category;
//! 6. **other text** → ordinal: categories coded by training frequency (most frequent 0),
//!    unseen and missing values get the code after the last, then standardised.
//!
//! At prediction time a column that was numeric in training but arrives as text is parsed
//! (values that are not numbers count as missing), and a text column that arrives as
//! numbers is formatted back to text, so a CSV and a lake table of the same data score the
//! same.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::frame::{Column, Frame, format_number, parse_number};
use crate::{Error, Result};

/// A dense row-major matrix of features.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// A zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix { rows, cols, data: vec![0.0; rows * cols] }
    }

    /// Row `r`.
    pub fn row(&self, r: usize) -> &[f64] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }

    /// The rows at `rows`, in that order.
    pub fn select(&self, rows: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(rows.len() * self.cols);
        for &r in rows {
            data.extend_from_slice(self.row(r));
        }
        Matrix { rows: rows.len(), cols: self.cols, data }
    }
}

/// Options of [`Preprocessor::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrepParams {
    /// Text columns with at most this many categories are one-hot encoded (others ordinal).
    pub max_onehot: usize,
    /// Apply the identifier rule (rule 3).
    pub drop_ids: bool,
    /// Columns to drop by name, whatever they hold.
    pub drop: Vec<String>,
    /// Numeric columns with more distinct values than this also get one-hot features of
    /// this many quantile bins (0 = off), so a linear model can bend (scikit-learn's
    /// `KBinsDiscretizer(strategy="quantile")` next to the scaled value).
    pub numeric_bins: usize,
}

impl Default for PrepParams {
    fn default() -> Self {
        PrepParams { max_onehot: 30, drop_ids: true, drop: Vec::new(), numeric_bins: 0 }
    }
}

/// What happens to one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "plan", rename_all = "snake_case")]
pub enum Plan {
    /// Not used.
    Drop {
        /// Why.
        reason: String,
    },
    /// Imputed, standardised, maybe with a missing indicator.
    Numeric {
        /// Training median (the imputed value).
        median: f64,
        /// Mean after imputation.
        mean: f64,
        /// Standard deviation after imputation (1 when it was 0).
        std: f64,
        /// Whether a 0/1 missing-indicator feature follows.
        indicator: bool,
        /// Inner quantile-bin edges; `edges.len() + 1` one-hot bin features follow.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        edges: Vec<f64>,
    },
    /// Only a 0/1 missing indicator (one value plus missing values).
    IndicatorOnly,
    /// One 0/1 feature per category.
    OneHot {
        /// Categories in output order (`(missing)` for missing values when seen).
        categories: Vec<String>,
    },
    /// One standardised code.
    Ordinal {
        /// Categories by training frequency; an unseen value codes as `categories.len()`.
        categories: Vec<String>,
        /// Mean of the training codes.
        mean: f64,
        /// Standard deviation of the training codes.
        std: f64,
    },
}

/// The category that stands for a missing text value seen in training.
pub const MISSING: &str = "(missing)";

/// What was done to one column, for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnReport {
    /// The column.
    pub column: String,
    /// `numeric` or `text`, as read.
    pub kind: String,
    /// `dropped`, `numeric`, `one-hot`, `ordinal`, `indicator`.
    pub action: String,
    /// Missing values in the training rows.
    pub missing: usize,
    /// Distinct non-missing values in the training rows.
    pub distinct: usize,
    /// Output features.
    pub features: usize,
    /// In words: what and why.
    pub detail: String,
}

/// The fitted preprocessing: one plan per input column, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessor {
    /// `(column, plan)` pairs.
    pub plans: Vec<(String, Plan)>,
    /// Output feature names, e.g. `tenure`, `contract=One year`, `total_charges (missing)`.
    pub features: Vec<String>,
    /// For each output feature, the input column it comes from.
    pub feature_columns: Vec<String>,
}

fn id_like_name(name: &str) -> bool {
    let l = name.trim().to_ascii_lowercase();
    ["id", "index", "rownames", "row", "key", "uuid", "unnamed: 0", ""].contains(&l.as_str())
        || l.ends_with("_id")
        || l.ends_with(" id")
        || name.ends_with("Id")
        || name.ends_with("ID")
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt();
    (mean, if std > 1e-12 { std } else { 1.0 })
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}

fn list(cats: &[String], max: usize) -> String {
    let shown: Vec<&str> = cats.iter().take(max).map(String::as_str).collect();
    let more = if cats.len() > max { format!(", ... {} more", cats.len() - max) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

impl Preprocessor {
    /// Fits the plans on `frame` (the training rows, target already removed).
    pub fn fit(frame: &Frame, p: &PrepParams) -> Result<(Preprocessor, Vec<ColumnReport>)> {
        let n = frame.len();
        let mut plans = Vec::new();
        let mut reports = Vec::new();
        for (name, col) in frame.iter() {
            let missing = (0..n).filter(|&r| col.is_missing(r)).count();
            let (plan, distinct, detail) = plan_for(name, col, missing, n, p);
            let (action, features) = match &plan {
                Plan::Drop { .. } => ("dropped", 0),
                Plan::Numeric { indicator, edges, .. } => ("numeric", 1 + usize::from(*indicator) + if edges.is_empty() { 0 } else { edges.len() + 1 }),
                Plan::IndicatorOnly => ("indicator", 1),
                Plan::OneHot { categories } => ("one-hot", categories.len()),
                Plan::Ordinal { .. } => ("ordinal", 1),
            };
            reports.push(ColumnReport {
                column: name.to_string(),
                kind: col.type_name().to_string(),
                action: action.to_string(),
                missing,
                distinct,
                features,
                detail,
            });
            plans.push((name.to_string(), plan));
        }
        let mut features = Vec::new();
        let mut feature_columns = Vec::new();
        for (name, plan) in &plans {
            let mut add = |f: String| {
                features.push(f);
                feature_columns.push(name.clone());
            };
            match plan {
                Plan::Drop { .. } => {}
                Plan::Numeric { indicator, edges, .. } => {
                    add(name.clone());
                    if *indicator {
                        add(format!("{name} (missing)"));
                    }
                    if !edges.is_empty() {
                        for b in 0..=edges.len() {
                            add(format!("{name} (bin {b})"));
                        }
                    }
                }
                Plan::IndicatorOnly => add(format!("{name} (missing)")),
                Plan::OneHot { categories } => categories.iter().for_each(|c| add(format!("{name}={c}"))),
                Plan::Ordinal { .. } => add(format!("{name} (ordinal)")),
            }
        }
        if features.is_empty() {
            let why: Vec<String> = reports.iter().map(|r| format!("{}: {}", r.column, r.detail)).collect();
            return Err(Error::Data(format!(
                "no usable feature column is left after preprocessing ({}); add feature columns or pass fewer --drop columns",
                if why.is_empty() { "the table has only the target".to_string() } else { why.join("; ") }
            )));
        }
        Ok((Preprocessor { plans, features, feature_columns }, reports))
    }

    /// Number of output features.
    pub fn width(&self) -> usize {
        self.features.len()
    }

    /// Encodes `frame` (any rows; extra columns are ignored). A column the model needs but
    /// the frame lacks is an error that names it.
    pub fn transform(&self, frame: &Frame) -> Result<Matrix> {
        let n = frame.len();
        let w = self.width();
        let mut m = Matrix::zeros(n, w);
        let mut at = 0usize;
        for (name, plan) in &self.plans {
            if matches!(plan, Plan::Drop { .. }) {
                continue;
            }
            let col = frame.column(name).ok_or_else(|| {
                Error::Data(format!(
                    "the model needs column {name:?}, which the data does not have (it has: {})",
                    frame.names().join(", ")
                ))
            })?;
            match plan {
                Plan::Drop { .. } => {}
                Plan::Numeric { median, mean, std, indicator, edges } => {
                    let bins_at = at + 1 + usize::from(*indicator);
                    for r in 0..n {
                        let v = numeric_at(col, r);
                        let x = if v.is_nan() { *median } else { v };
                        m.data[r * w + at] = (x - mean) / std;
                        if *indicator {
                            m.data[r * w + at + 1] = if v.is_nan() { 1.0 } else { 0.0 };
                        }
                        if !edges.is_empty() {
                            let b = edges.partition_point(|&e| e <= x);
                            m.data[r * w + bins_at + b] = 1.0;
                        }
                    }
                    at = bins_at + if edges.is_empty() { 0 } else { edges.len() + 1 };
                }
                Plan::IndicatorOnly => {
                    for r in 0..n {
                        m.data[r * w + at] = if col.is_missing(r) { 1.0 } else { 0.0 };
                    }
                    at += 1;
                }
                Plan::OneHot { categories } => {
                    let index: HashMap<&str, usize> = categories.iter().enumerate().map(|(k, c)| (c.as_str(), k)).collect();
                    for r in 0..n {
                        let key = col.text_at(r);
                        let k = match &key {
                            Some(s) => index.get(s.as_str()),
                            None => index.get(MISSING),
                        };
                        if let Some(&k) = k {
                            m.data[r * w + at + k] = 1.0;
                        }
                    }
                    at += categories.len();
                }
                Plan::Ordinal { categories, mean, std } => {
                    let index: HashMap<&str, usize> = categories.iter().enumerate().map(|(k, c)| (c.as_str(), k)).collect();
                    for r in 0..n {
                        let code = col.text_at(r).and_then(|s| index.get(s.as_str()).copied()).unwrap_or(categories.len());
                        m.data[r * w + at] = (code as f64 - mean) / std;
                    }
                    at += 1;
                }
            }
        }
        Ok(m)
    }
}

/// Inner edges of `bins` quantile bins (numpy's linear percentiles), duplicates removed.
fn quantile_edges(v: &[f64], bins: usize) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let mut edges: Vec<f64> = (1..bins)
        .map(|k| {
            let pos = k as f64 / bins as f64 * (n - 1) as f64;
            let i = pos.floor() as usize;
            let frac = pos - i as f64;
            if i + 1 < n { s[i] + frac * (s[i + 1] - s[i]) } else { s[n - 1] }
        })
        .collect();
    edges.dedup();
    edges.retain(|&e| e > s[0] && e <= s[n - 1]);
    edges
}

fn numeric_at(col: &Column, r: usize) -> f64 {
    match col {
        Column::Numeric(v) => v[r],
        Column::Text(v) => v[r].as_deref().and_then(parse_number).unwrap_or(f64::NAN),
    }
}

/// The plan for one column, its distinct count and the report's words.
fn plan_for(name: &str, col: &Column, missing: usize, n: usize, p: &PrepParams) -> (Plan, usize, String) {
    let drop = |reason: String| (Plan::Drop { reason: reason.clone() }, reason);
    if p.drop.iter().any(|d| d == name) {
        let (plan, why) = drop("dropped by request (--drop)".into());
        return (plan, 0, why);
    }
    match col {
        Column::Numeric(v) => {
            let present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
            let mut sorted = present.clone();
            sorted.sort_by(f64::total_cmp);
            sorted.dedup();
            let distinct = sorted.len();
            if present.is_empty() {
                let (plan, why) = drop(format!("every one of the {n} values is missing"));
                return (plan, 0, why);
            }
            if distinct == 1 {
                if missing == 0 {
                    let (plan, why) = drop(format!("constant: every value is {}", format_number(sorted[0])));
                    return (plan, 1, why);
                }
                return (
                    Plan::IndicatorOnly,
                    1,
                    format!("one value ({}) plus {missing} missing: kept as a missing indicator only", format_number(sorted[0])),
                );
            }
            if p.drop_ids && distinct == present.len() && distinct > 1 {
                let integers = sorted.iter().all(|x| x.fract() == 0.0);
                let step_one = integers && sorted.windows(2).all(|w| w[1] - w[0] == 1.0);
                if id_like_name(name) || step_one {
                    let why = if id_like_name(name) { "its name says identifier" } else { "the integers sorted step by 1 (a row number)" };
                    let (plan, why) = drop(format!("identifier: all {distinct} values are distinct and {why}"));
                    return (plan, distinct, why);
                }
            }
            let med = median(present);
            let imputed: Vec<f64> = v.iter().map(|&x| if x.is_nan() { med } else { x }).collect();
            let (mean, std) = mean_std(&imputed);
            let indicator = missing > 0;
            let mut detail = if indicator {
                format!("standardised (mean {mean:.4}, std {std:.4}); {missing} missing imputed with the median {} and flagged", format_number(med))
            } else {
                format!("standardised (mean {mean:.4}, std {std:.4})")
            };
            let edges = if p.numeric_bins >= 2 && distinct > p.numeric_bins { quantile_edges(&imputed, p.numeric_bins) } else { Vec::new() };
            if !edges.is_empty() {
                detail.push_str(&format!("; plus {} quantile-bin one-hots", edges.len() + 1));
            }
            (Plan::Numeric { median: med, mean, std, indicator, edges }, distinct, detail)
        }
        Column::Text(v) => {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for s in v.iter().flatten() {
                *counts.entry(s.as_str()).or_default() += 1;
            }
            let distinct = counts.len();
            let present = n - missing;
            if present == 0 {
                let (plan, why) = drop(format!("every one of the {n} values is missing"));
                return (plan, 0, why);
            }
            if distinct == 1 {
                let only = counts.keys().next().copied().unwrap_or_default().to_string();
                if missing == 0 {
                    let (plan, why) = drop(format!("constant: every value is {only:?}"));
                    return (plan, 1, why);
                }
                return (Plan::IndicatorOnly, 1, format!("one value ({only:?}) plus {missing} missing: kept as a missing indicator only"));
            }
            if p.drop_ids && distinct == present && present > 2 * p.max_onehot.max(1) {
                let (plan, why) = drop(format!("identifier: all {distinct} values are distinct text"));
                return (plan, distinct, why);
            }
            if p.drop_ids && distinct > p.max_onehot && distinct * 2 > present {
                let (plan, why) = drop(format!("free text or identifier: {distinct} distinct values in {present} rows"));
                return (plan, distinct, why);
            }
            // Most frequent first; ties by name, so the order is the same every run.
            let mut cats: Vec<(&str, usize)> = counts.into_iter().collect();
            cats.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let mut names: Vec<String> = cats.iter().map(|(c, _)| c.to_string()).collect();
            if distinct <= p.max_onehot {
                names.sort();
                if missing > 0 {
                    names.push(MISSING.to_string());
                }
                let detail = format!(
                    "one-hot, {} categories ({}){}; unseen values encode as all zeros",
                    names.len(),
                    list(&names, 6),
                    if missing > 0 { format!(", {missing} missing as their own category") } else { String::new() }
                );
                return (Plan::OneHot { categories: names }, distinct, detail);
            }
            let codes: Vec<f64> = (0..n)
                .map(|r| v[r].as_deref().and_then(|s| names.iter().position(|c| c == s)).unwrap_or(names.len()) as f64)
                .collect();
            let (mean, std) = mean_std(&codes);
            let detail = format!(
                "ordinal by frequency, {} categories (most frequent: {}); missing and unseen values get code {}",
                names.len(),
                list(&names, 3),
                names.len()
            );
            names.shrink_to_fit();
            (Plan::Ordinal { categories: names, mean, std }, distinct, detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        let mut f = Frame::default();
        f.push("id", Column::Numeric((0..8).map(|x| x as f64 + 100.0).collect())).expect("id");
        f.push("x", Column::Numeric(vec![1.0, 2.0, f64::NAN, 4.0, 5.0, 6.0, 7.0, 8.0])).expect("x");
        f.push("c", Column::Text(["a", "b", "a", "b", "c", "a", "b", "a"].iter().map(|s| Some(s.to_string())).collect())).expect("c");
        f.push("empty", Column::Text(vec![None; 8])).expect("empty");
        f.push("k", Column::Numeric(vec![3.0; 8])).expect("k");
        f
    }

    #[test]
    fn every_rule_is_applied_and_reported() {
        let (p, rep) = Preprocessor::fit(&frame(), &PrepParams::default()).expect("fits");
        let action: Vec<&str> = rep.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(action, vec!["dropped", "numeric", "one-hot", "dropped", "dropped"]);
        assert!(rep[0].detail.contains("identifier"), "{}", rep[0].detail);
        assert!(rep[1].detail.contains("median 5"), "{}", rep[1].detail);
        assert!(rep[3].detail.contains("missing"), "{}", rep[3].detail);
        assert!(rep[4].detail.contains("constant"), "{}", rep[4].detail);
        assert_eq!(p.features, vec!["x", "x (missing)", "c=a", "c=b", "c=c"]);
    }

    #[test]
    fn transform_imputes_scales_and_handles_unseen_categories() {
        let f = frame();
        let (p, _) = Preprocessor::fit(&f, &PrepParams::default()).expect("fits");
        let m = p.transform(&f).expect("same columns");
        assert_eq!((m.rows, m.cols), (8, 5));
        let xs: Vec<f64> = (0..8).map(|r| m.row(r)[0]).collect();
        let mean = xs.iter().sum::<f64>() / 8.0;
        assert!(mean.abs() < 1e-9, "standardised: {xs:?}");
        assert_eq!(m.row(2)[1], 1.0, "row 2 was missing");
        let mut g = Frame::default();
        g.push("x", Column::Text(vec![Some("3".into()), Some("oops".into())])).expect("x");
        g.push("c", Column::Text(vec![Some("zzz".into()), Some("b".into())])).expect("c");
        let m = p.transform(&g).expect("needed columns present");
        assert_eq!(&m.row(0)[2..], &[0.0, 0.0, 0.0], "unseen category: all zeros");
        assert_eq!(m.row(1)[1], 1.0, "a value that is not a number counts as missing");
        assert_eq!(&m.row(1)[2..], &[0.0, 1.0, 0.0]);
        let mut h = Frame::default();
        h.push("c", Column::Text(vec![Some("a".into())])).expect("c");
        let e = p.transform(&h).expect_err("x is missing");
        assert!(e.to_string().contains("\"x\""), "{e}");
    }

    #[test]
    fn high_cardinality_text_is_ordinal_or_dropped() {
        let mut f = Frame::default();
        let cats: Vec<Option<String>> = (0..200).map(|k| Some(format!("v{}", k % 40))).collect();
        f.push("many", Column::Text(cats)).expect("many");
        let free: Vec<Option<String>> = (0..200).map(|k| Some(format!("text {k}"))).collect();
        f.push("free", Column::Text(free)).expect("free");
        let (p, rep) = Preprocessor::fit(&f, &PrepParams::default()).expect("fits");
        assert_eq!(rep[0].action, "ordinal");
        assert_eq!(rep[1].action, "dropped");
        assert_eq!(p.width(), 1);
    }

    #[test]
    fn nothing_left_is_an_error_that_explains() {
        let mut f = Frame::default();
        f.push("k", Column::Numeric(vec![1.0; 4])).expect("k");
        let e = Preprocessor::fit(&f, &PrepParams::default()).expect_err("nothing left");
        assert!(e.to_string().contains("constant"), "{e}");
    }
}

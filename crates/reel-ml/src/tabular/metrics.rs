//! Classification and regression metrics, with the definitions scikit-learn uses so that
//! figures compare one to one.
//!
//! - ROC AUC: the probability that a random positive scores above a random negative, ties
//!   counting one half (the trapezoidal area under the ROC curve, `roc_auc_score`).
//! - PR AUC: average precision, `Σ (R_k - R_{k-1}) P_k` over the distinct thresholds
//!   (`average_precision_score`; no interpolation).
//! - precision, recall and F1 of the positive class at a threshold (`score >= t` is
//!   positive); 0 when undefined.
//! - the calibration table: 10 equal-width bins of predicted probability with the mean
//!   prediction and the observed positive rate in each.
//! - for several classes, a [`ClassReport`]: per-class precision/recall/F1/support, macro
//!   and support-weighted averages, accuracy and the confusion matrix (rows = truth).
use serde::{Deserialize, Serialize};

/// ROC AUC of scores `s` for labels `y` (true = positive). `None` with one class only.
pub fn roc_auc(y: &[bool], s: &[f64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| s[a].total_cmp(&s[b]));
    let pos = y.iter().filter(|&&v| v).count() as f64;
    let neg = y.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    // Sum of the positives' average ranks (1-based), ties sharing their mean rank.
    let mut rank_sum = 0.0;
    let mut k = 0;
    while k < idx.len() {
        let mut j = k;
        while j + 1 < idx.len() && s[idx[j + 1]] == s[idx[k]] {
            j += 1;
        }
        let avg = (k + j) as f64 / 2.0 + 1.0;
        for &i in &idx[k..=j] {
            if y[i] {
                rank_sum += avg;
            }
        }
        k = j + 1;
    }
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Average precision (PR AUC) of scores `s` for labels `y`. `None` without positives.
pub fn average_precision(y: &[bool], s: &[f64]) -> Option<f64> {
    let pos = y.iter().filter(|&&v| v).count() as f64;
    if pos == 0.0 {
        return None;
    }
    let mut idx: Vec<usize> = (0..y.len()).collect();
    idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    let (mut tp, mut fp, mut ap, mut prev_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut k = 0;
    while k < idx.len() {
        let mut j = k;
        while j + 1 < idx.len() && s[idx[j + 1]] == s[idx[k]] {
            j += 1;
        }
        for &i in &idx[k..=j] {
            if y[i] { tp += 1.0 } else { fp += 1.0 }
        }
        let recall = tp / pos;
        ap += (recall - prev_recall) * tp / (tp + fp);
        prev_recall = recall;
        k = j + 1;
    }
    Some(ap)
}

/// Counts of a binary decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Positives predicted positive.
    pub tp: usize,
    /// Negatives predicted positive.
    pub fp: usize,
    /// Negatives predicted negative.
    pub tn: usize,
    /// Positives predicted negative.
    pub fn_: usize,
}

impl Confusion {
    /// The counts at threshold `t` (`s >= t` is positive).
    pub fn at(y: &[bool], s: &[f64], t: f64) -> Confusion {
        let mut c = Confusion::default();
        for (&yi, &si) in y.iter().zip(s) {
            match (yi, si >= t) {
                (true, true) => c.tp += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
                (true, false) => c.fn_ += 1,
            }
        }
        c
    }

    /// tp / (tp + fp), 0 when nothing is predicted positive.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// tp / (tp + fn), 0 without positives.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }

    /// (tp + tn) / all.
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.tp + self.tn + self.fp + self.fn_)
    }

    /// fp / (fp + tn).
    pub fn false_positive_rate(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// One row of the precision/recall/threshold table (the "cutoff slider").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRow {
    /// The cut-off: a score at or above it is positive.
    pub threshold: f64,
    /// Precision of the positive class.
    pub precision: f64,
    /// Recall (true positive rate).
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// False positive rate.
    pub fpr: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// Rows predicted positive.
    pub predicted_positive: usize,
}

impl ThresholdRow {
    fn of(y: &[bool], s: &[f64], t: f64) -> ThresholdRow {
        let c = Confusion::at(y, s, t);
        ThresholdRow {
            threshold: t,
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
            fpr: c.false_positive_rate(),
            accuracy: c.accuracy(),
            predicted_positive: c.tp + c.fp,
        }
    }
}

/// The table at thresholds 0.05, 0.10, ..., 0.95.
pub fn threshold_table(y: &[bool], s: &[f64]) -> Vec<ThresholdRow> {
    (1..20).map(|k| ThresholdRow::of(y, s, k as f64 / 20.0)).collect()
}

/// How the decision threshold is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", content = "value", rename_all = "kebab-case")]
pub enum ThresholdRule {
    /// A fixed threshold.
    Fixed(f64),
    /// The threshold with the highest F1.
    MaxF1,
    /// The lowest threshold whose precision is at least this (most recall at that precision).
    PrecisionAtLeast(f64),
    /// The highest threshold whose recall is at least this (most precision at that recall).
    RecallAtLeast(f64),
}

impl std::str::FromStr for ThresholdRule {
    type Err = crate::Error;

    /// `0.5`, `max-f1`, `precision>=0.7`, `recall>=0.8`.
    fn from_str(s: &str) -> crate::Result<ThresholdRule> {
        let t = s.trim().to_ascii_lowercase().replace(' ', "");
        let bad = || {
            crate::Error::Data(format!(
                "threshold rule {s:?} is not one of: a number in (0, 1) such as 0.5, max-f1, precision>=P, recall>=R (P, R in (0, 1])"
            ))
        };
        let frac = |v: &str, upper_inclusive: bool| -> crate::Result<f64> {
            let x: f64 = v.parse().map_err(|_| bad())?;
            if x > 0.0 && (x < 1.0 || (upper_inclusive && x == 1.0)) { Ok(x) } else { Err(bad()) }
        };
        if t == "max-f1" || t == "maxf1" || t == "f1" {
            return Ok(ThresholdRule::MaxF1);
        }
        if let Some(v) = t.strip_prefix("precision>=") {
            return Ok(ThresholdRule::PrecisionAtLeast(frac(v, true)?));
        }
        if let Some(v) = t.strip_prefix("recall>=") {
            return Ok(ThresholdRule::RecallAtLeast(frac(v, true)?));
        }
        Ok(ThresholdRule::Fixed(frac(&t, false)?))
    }
}

impl std::fmt::Display for ThresholdRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ThresholdRule::Fixed(t) => write!(f, "{t}"),
            ThresholdRule::MaxF1 => f.write_str("max-f1"),
            ThresholdRule::PrecisionAtLeast(p) => write!(f, "precision>={p}"),
            ThresholdRule::RecallAtLeast(r) => write!(f, "recall>={r}"),
        }
    }
}

/// The threshold `rule` picks on scores `s` with labels `y`, and whether the rule could be
/// met (a precision floor no threshold reaches falls back to the most precise threshold).
pub fn choose_threshold(y: &[bool], s: &[f64], rule: ThresholdRule) -> (f64, bool) {
    if let ThresholdRule::Fixed(t) = rule {
        return (t, true);
    }
    let mut cands: Vec<f64> = s.to_vec();
    cands.sort_by(|a, b| b.total_cmp(a));
    cands.dedup();
    let pos = y.iter().filter(|&&v| v).count();
    if cands.is_empty() || pos == 0 {
        return (0.5, false);
    }
    // Sweep thresholds from high to low, keeping running counts.
    let mut idx: Vec<usize> = (0..s.len()).collect();
    idx.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut k = 0;
    let mut best: Option<(f64, f64)> = None; // (key, threshold)
    let mut last_recall_ok: Option<f64> = None;
    let mut most_precise: (f64, f64) = (-1.0, 0.5);
    while k < idx.len() {
        let t = s[idx[k]];
        while k < idx.len() && s[idx[k]] == t {
            if y[idx[k]] { tp += 1 } else { fp += 1 }
            k += 1;
        }
        let precision = tp as f64 / (tp + fp) as f64;
        let recall = tp as f64 / pos as f64;
        let f1 = 2.0 * tp as f64 / (2 * tp + fp + (pos - tp)) as f64;
        if precision > most_precise.0 {
            most_precise = (precision, t);
        }
        match rule {
            ThresholdRule::MaxF1 => {
                if best.is_none_or(|(b, _)| f1 > b) {
                    best = Some((f1, t));
                }
            }
            ThresholdRule::PrecisionAtLeast(p) => {
                if precision >= p {
                    best = Some((recall, t)); // lower thresholds only add recall
                }
            }
            ThresholdRule::RecallAtLeast(r) => {
                if recall >= r && last_recall_ok.is_none() {
                    last_recall_ok = Some(t);
                }
            }
            ThresholdRule::Fixed(_) => {}
        }
    }
    match rule {
        ThresholdRule::RecallAtLeast(_) => last_recall_ok.map_or((cands[cands.len() - 1], false), |t| (t, true)),
        ThresholdRule::PrecisionAtLeast(_) => best.map_or((most_precise.1, false), |(_, t)| (t, true)),
        _ => best.map_or((0.5, false), |(_, t)| (t, true)),
    }
}

/// One bin of the calibration table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    /// Lower edge of the predicted-probability bin.
    pub from: f64,
    /// Upper edge.
    pub to: f64,
    /// Rows in the bin.
    pub count: usize,
    /// Mean predicted probability in the bin.
    pub mean_predicted: f64,
    /// Observed positive rate in the bin.
    pub observed: f64,
}

/// Calibration in 10 equal-width bins (empty bins omitted).
pub fn calibration(y: &[bool], p: &[f64]) -> Vec<CalibrationBin> {
    let mut bins = [(0usize, 0.0f64, 0usize); 10];
    for (&yi, &pi) in y.iter().zip(p) {
        let b = ((pi * 10.0).floor() as isize).clamp(0, 9) as usize;
        bins[b].0 += 1;
        bins[b].1 += pi;
        bins[b].2 += usize::from(yi);
    }
    bins.iter()
        .enumerate()
        .filter(|(_, b)| b.0 > 0)
        .map(|(k, b)| CalibrationBin {
            from: k as f64 / 10.0,
            to: (k + 1) as f64 / 10.0,
            count: b.0,
            mean_predicted: b.1 / b.0 as f64,
            observed: b.2 as f64 / b.0 as f64,
        })
        .collect()
}

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// The class label.
    pub label: String,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// True rows of this class.
    pub support: usize,
}

/// Averages over classes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Averages {
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
}

/// A classification report like scikit-learn's `classification_report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassReport {
    /// Per class, in label order.
    pub classes: Vec<ClassScores>,
    /// Fraction of rows predicted right.
    pub accuracy: f64,
    /// Unweighted means over classes.
    pub macro_avg: Averages,
    /// Means weighted by support.
    pub weighted_avg: Averages,
    /// `confusion[t][p]`: rows of true class `t` predicted as `p`.
    pub confusion: Vec<Vec<usize>>,
    /// Rows evaluated.
    pub rows: usize,
}

impl ClassReport {
    /// The report for true class indices `truth` and predicted `pred` over `labels`.
    pub fn new(labels: &[String], truth: &[usize], pred: &[usize]) -> ClassReport {
        let k = labels.len();
        let mut cm = vec![vec![0usize; k]; k];
        for (&t, &p) in truth.iter().zip(pred) {
            if t < k && p < k {
                cm[t][p] += 1;
            }
        }
        let n = truth.len();
        let mut classes = Vec::with_capacity(k);
        for c in 0..k {
            let tp = cm[c][c];
            let predicted: usize = (0..k).map(|t| cm[t][c]).sum();
            let support: usize = cm[c].iter().sum();
            classes.push(ClassScores {
                label: labels[c].clone(),
                precision: ratio(tp, predicted),
                recall: ratio(tp, support),
                f1: ratio(2 * tp, predicted + support),
                support,
            });
        }
        let kf = k.max(1) as f64;
        let macro_avg = Averages {
            precision: classes.iter().map(|c| c.precision).sum::<f64>() / kf,
            recall: classes.iter().map(|c| c.recall).sum::<f64>() / kf,
            f1: classes.iter().map(|c| c.f1).sum::<f64>() / kf,
        };
        let total = n.max(1) as f64;
        let weighted_avg = Averages {
            precision: classes.iter().map(|c| c.precision * c.support as f64).sum::<f64>() / total,
            recall: classes.iter().map(|c| c.recall * c.support as f64).sum::<f64>() / total,
            f1: classes.iter().map(|c| c.f1 * c.support as f64).sum::<f64>() / total,
        };
        let correct: usize = (0..k).map(|c| cm[c][c]).sum();
        ClassReport { classes, accuracy: ratio(correct, n), macro_avg, weighted_avg, confusion: cm, rows: n }
    }
}

/// Regression errors.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Coefficient of determination, 1 - SS_res / SS_tot.
    pub r2: f64,
}

/// MAE, RMSE and R² of predictions `p` for truth `y`.
pub fn regression_metrics(y: &[f64], p: &[f64]) -> RegressionMetrics {
    let n = y.len().max(1) as f64;
    let mean = y.iter().sum::<f64>() / n;
    let mae = y.iter().zip(p).map(|(a, b)| (a - b).abs()).sum::<f64>() / n;
    let ss_res: f64 = y.iter().zip(p).map(|(a, b)| (a - b).powi(2)).sum();
    let ss_tot: f64 = y.iter().map(|a| (a - mean).powi(2)).sum();
    RegressionMetrics { mae, rmse: (ss_res / n).sqrt(), r2: if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { 0.0 } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_hand_computed_values() {
        let y = [false, false, true, true];
        assert_eq!(roc_auc(&y, &[0.1, 0.4, 0.35, 0.8]), Some(0.75));
        assert_eq!(roc_auc(&y, &[0.5, 0.5, 0.5, 0.5]), Some(0.5), "ties count one half");
        assert_eq!(roc_auc(&[true, true], &[0.1, 0.2]), None);
        // sklearn: average_precision_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.8333...
        let ap = average_precision(&y, &[0.1, 0.4, 0.35, 0.8]).expect("positives");
        assert!((ap - 0.833_333_333).abs() < 1e-6, "{ap}");
    }

    #[test]
    fn confusion_and_rates() {
        let y = [true, true, false, false, true];
        let s = [0.9, 0.4, 0.6, 0.1, 0.7];
        let c = Confusion::at(&y, &s, 0.5);
        assert_eq!(c, Confusion { tp: 2, fp: 1, tn: 1, fn_: 1 });
        assert!((c.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.recall() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.f1() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(c.accuracy(), 0.6);
    }

    #[test]
    fn threshold_rules_pick_what_they_promise() {
        let y = [true, true, false, true, false, false, true, false];
        let s = [0.95, 0.85, 0.8, 0.7, 0.6, 0.4, 0.3, 0.1];
        let (t, ok) = choose_threshold(&y, &s, ThresholdRule::MaxF1);
        assert!(ok);
        let best = (0..s.len()).map(|k| Confusion::at(&y, &s, s[k]).f1()).fold(0.0, f64::max);
        assert_eq!(Confusion::at(&y, &s, t).f1(), best);
        let (t, ok) = choose_threshold(&y, &s, ThresholdRule::PrecisionAtLeast(0.75));
        assert!(ok);
        assert!(Confusion::at(&y, &s, t).precision() >= 0.75);
        assert_eq!(t, 0.7, "the lowest threshold with precision >= 0.75");
        let (t, ok) = choose_threshold(&y, &s, ThresholdRule::RecallAtLeast(1.0));
        assert!(ok);
        assert_eq!(t, 0.3);
        let (_, ok) = choose_threshold(&[false, true], &[0.9, 0.1], ThresholdRule::PrecisionAtLeast(1.0));
        assert!(!ok, "no threshold reaches precision 1 (0.9 has 0, 0.1 has 0.5)");
    }

    #[test]
    fn rules_parse_and_bad_ones_are_refused() {
        assert_eq!("max-f1".parse::<ThresholdRule>().expect("ok"), ThresholdRule::MaxF1);
        assert_eq!("precision>=0.7".parse::<ThresholdRule>().expect("ok"), ThresholdRule::PrecisionAtLeast(0.7));
        assert_eq!("recall >= 0.8".parse::<ThresholdRule>().expect("ok"), ThresholdRule::RecallAtLeast(0.8));
        assert_eq!("0.3".parse::<ThresholdRule>().expect("ok"), ThresholdRule::Fixed(0.3));
        for bad in ["1.5", "precision>=0", "recall>=x", "best"] {
            let e = bad.parse::<ThresholdRule>().expect_err(bad);
            assert!(e.to_string().contains("max-f1"), "{e}");
        }
    }

    #[test]
    fn class_report_matches_sklearn() {
        // sklearn classification_report(y, p): y=[0,0,1,1,2,2], p=[0,1,1,1,2,0]
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let r = ClassReport::new(&labels, &[0, 0, 1, 1, 2, 2], &[0, 1, 1, 1, 2, 0]);
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert!((r.classes[1].precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.macro_avg.f1 - (0.5 + 0.8 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(r.confusion[2], vec![1, 0, 1]);
    }

    #[test]
    fn regression_metrics_known_answer() {
        let m = regression_metrics(&[1.0, 2.0, 3.0], &[1.0, 2.0, 4.0]);
        assert!((m.mae - 1.0 / 3.0).abs() < 1e-12);
        assert!((m.rmse - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.r2 - 0.5).abs() < 1e-12);
    }

    #[test]
    fn calibration_bins_count_every_row() {
        let y = [true, false, true, false];
        let b = calibration(&y, &[0.05, 0.08, 0.95, 1.0]);
        assert_eq!(b.len(), 2);
        assert_eq!(b.iter().map(|x| x.count).sum::<usize>(), 4);
        assert_eq!(b[1].observed, 0.5);
    }
}

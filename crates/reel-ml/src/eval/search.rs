//! Hyper-parameter search: every candidate cross-validated, sorted best first by one metric.
//!
//! A search space names parameters as the command line does, `name=spec`:
//! - `reg=0.01,0.02,0.05` a list (any strings the parameter accepts; one value fixes it);
//! - `factors=20..200` an integer range, drawn uniformly (both ends included);
//! - `lr=0.002..0.02` a float range, drawn log-uniformly when the low end is above 0 and
//!   uniformly otherwise; draws keep 4 significant digits so that they read well and repeat.
//!
//! Grid search takes the Cartesian product of lists (ranges are refused: they have no
//! finite grid), the last parameter varying fastest. Random search draws `n` distinct
//! candidates with a seed. Every candidate's parameters are checked before the first fit.
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::cv::{CvData, CvResult, EvalOptions, OnProgress, cross_validate_candidate};
use super::rng::Mt19937;
use crate::reco::{Algorithm, Params};
use crate::{Error, Result};

/// Settings as `Params::with_settings` takes them.
pub type Settings = Vec<(String, String)>;

/// Candidate values of one parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Values {
    /// These values.
    List {
        /// The values as typed.
        values: Vec<String>,
    },
    /// Integers from `lo` to `hi`, both included, uniformly.
    Int {
        /// Lowest.
        lo: i64,
        /// Highest.
        hi: i64,
    },
    /// Floats from `lo` to `hi`; log-uniform when `lo > 0`.
    Float {
        /// Lowest.
        lo: f64,
        /// Highest.
        hi: f64,
    },
}

impl Values {
    /// Refuses an empty list and ranges with the ends reversed or not finite (values built
    /// by hand rather than parsed).
    pub fn check(&self) -> Result<()> {
        let ok = match self {
            Values::List { values } => !values.is_empty(),
            Values::Int { lo, hi } => lo <= hi,
            Values::Float { lo, hi } => lo.is_finite() && hi.is_finite() && lo <= hi,
        };
        if ok { Ok(()) } else { Err(Error::Data(format!("bad search values {self:?}: expected a non-empty list or a range with low <= high"))) }
    }
}

const FORMS: &str = "name=v1,v2,... (a list), name=20..200 (integers), name=0.002..0.02 (floats, log-uniform when above 0)";

impl FromStr for Values {
    type Err = Error;

    fn from_str(s: &str) -> Result<Values> {
        let s = s.trim();
        let bad = |why: &str| Error::Data(format!("bad values {s:?}: {why}; accepted forms: {FORMS}"));
        if s.is_empty() {
            return Err(bad("no value"));
        }
        if !s.contains(',')
            && let Some((a, b)) = s.split_once("..")
        {
            let (a, b) = (a.trim(), b.trim());
            if let (Ok(lo), Ok(hi)) = (a.parse::<i64>(), b.parse::<i64>()) {
                if lo > hi {
                    return Err(bad("the low end is above the high end"));
                }
                return Ok(Values::Int { lo, hi });
            }
            let (Ok(lo), Ok(hi)) = (a.parse::<f64>(), b.parse::<f64>()) else {
                return Err(bad("the range ends are not numbers"));
            };
            if !lo.is_finite() || !hi.is_finite() || lo > hi {
                return Err(bad("a range needs finite ends with low <= high"));
            }
            return Ok(Values::Float { lo, hi });
        }
        let values: Vec<String> = s.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err(bad("an empty value in the list"));
        }
        Ok(Values::List { values })
    }
}

/// Parameters to search and their candidate values, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SearchSpace {
    /// `(name, values)`.
    pub params: Vec<(String, Values)>,
}

/// Grids larger than this are refused: at even a second per fit, 5-fold CV of 10,000
/// candidates takes most of a day; use random search instead.
pub const MAX_GRID: usize = 10_000;

/// Rounds to 4 significant digits and prints without trailing zeros.
fn four_digits(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let mag = x.abs().log10().floor() as i32;
    let decimals = (3 - mag).max(0) as usize;
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    // Above 4 digits before the point, round the integer part too (123456 -> 123500).
    if mag > 3 {
        let p = 10f64.powi(mag - 3);
        return format!("{}", (x / p).round() * p);
    }
    s
}

impl SearchSpace {
    /// Parses `name=spec` arguments (see the module docs). Names are checked against the
    /// algorithm later, by `Params::with_settings`.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<SearchSpace> {
        let mut params: Vec<(String, Values)> = Vec::new();
        for a in args {
            let a = a.as_ref();
            let Some((name, spec)) = a.split_once('=') else {
                return Err(Error::Data(format!("bad search parameter {a:?}: expected name=values; accepted forms: {FORMS}")));
            };
            let name = name.trim().to_string();
            if name.is_empty() {
                return Err(Error::Data(format!("bad search parameter {a:?}: no name before '='")));
            }
            if params.iter().any(|(n, _)| *n == name) {
                return Err(Error::Data(format!("the search parameter {name:?} is given twice; give it once with all its values")));
            }
            let values = spec.parse().map_err(|e| Error::Data(format!("{name}: {e}")))?;
            params.push((name, values));
        }
        Ok(SearchSpace { params })
    }

    /// Checks every parameter's values (see [`Values::check`]).
    pub fn check(&self) -> Result<()> {
        for (name, v) in &self.params {
            v.check().map_err(|e| Error::Data(format!("{name}: {e}")))?;
        }
        Ok(())
    }

    /// Every combination of the lists, the last parameter varying fastest. Refuses ranges
    /// and grids above [`MAX_GRID`].
    pub fn grid(&self) -> Result<Vec<Settings>> {
        self.check()?;
        let mut lists: Vec<(&str, &[String])> = Vec::new();
        for (name, v) in &self.params {
            match v {
                Values::List { values } => lists.push((name, values)),
                _ => {
                    return Err(Error::Data(format!(
                        "grid search needs a list of values for {name}, not a range; give values like {name}=a,b,c or use random search"
                    )));
                }
            }
        }
        let size = lists.iter().try_fold(1usize, |acc, (_, v)| acc.checked_mul(v.len()));
        match size {
            Some(n) if n <= MAX_GRID => {}
            _ => {
                return Err(Error::Data(format!(
                    "the grid has more than {MAX_GRID} candidates; use fewer values or random search"
                )));
            }
        }
        let mut out: Vec<Settings> = vec![Vec::new()];
        for (name, values) in lists {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    values.iter().map(move |v| {
                        let mut s = prefix.clone();
                        s.push((name.to_string(), v.clone()));
                        s
                    })
                })
                .collect();
        }
        Ok(out)
    }

    /// `n` distinct random candidates, deterministic for `seed`. Fewer when the space has
    /// fewer than `n` distinct points (e.g. lists only) and repeats keep coming.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<Settings>> {
        if n == 0 {
            return Err(Error::Data("random search needs at least 1 draw, got 0".into()));
        }
        self.check()?;
        let mut rng = Mt19937::new(seed);
        let mut out: Vec<Settings> = Vec::with_capacity(n);
        // A list-only space of 3 points asked for 10 draws must stop: give up after many
        // repeats in a row rather than loop for ever.
        let mut repeats = 0usize;
        while out.len() < n && repeats < 1000 {
            let draw: Settings = self
                .params
                .iter()
                .map(|(name, v)| {
                    let value = match v {
                        Values::List { values } => values[rng.interval(values.len() as u64 - 1) as usize].clone(),
                        Values::Int { lo, hi } => {
                            let span = hi.abs_diff(*lo);
                            lo.wrapping_add_unsigned(rng.interval(span)).to_string()
                        }
                        Values::Float { lo, hi } => {
                            let u = rng.next_f64();
                            let x = if *lo > 0.0 { (lo.ln() + u * (hi.ln() - lo.ln())).exp() } else { lo + u * (hi - lo) };
                            four_digits(x.clamp(*lo, *hi))
                        }
                    };
                    (name.clone(), value)
                })
                .collect();
            if out.contains(&draw) {
                repeats += 1;
            } else {
                repeats = 0;
                out.push(draw);
            }
        }
        Ok(out)
    }
}

/// The metric a search sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// RMSE (lower is better).
    Rmse,
    /// MAE (lower is better).
    Mae,
    /// Precision@k.
    Precision,
    /// Recall@k.
    Recall,
    /// NDCG@k.
    Ndcg,
    /// MAP@k.
    Map,
    /// Hit rate@k.
    HitRate,
    /// Catalogue coverage@k.
    Coverage,
}

impl Metric {
    /// Every metric, by its command-line name.
    pub const ALL: &'static [Metric] =
        &[Metric::Rmse, Metric::Mae, Metric::Precision, Metric::Recall, Metric::Ndcg, Metric::Map, Metric::HitRate, Metric::Coverage];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Rmse => "rmse",
            Metric::Mae => "mae",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::Ndcg => "ndcg",
            Metric::Map => "map",
            Metric::HitRate => "hit-rate",
            Metric::Coverage => "coverage",
        }
    }

    /// True for error metrics (RMSE, MAE).
    pub fn lower_is_better(self) -> bool {
        matches!(self, Metric::Rmse | Metric::Mae)
    }

    /// True for the top-N metrics (they need [`EvalOptions::topn`]).
    pub fn is_ranking(self) -> bool {
        !self.lower_is_better()
    }

    /// The mean over folds in `r`, if measured.
    pub fn mean(self, r: &CvResult) -> Option<f64> {
        let t = r.ranking.as_ref();
        let v = match self {
            Metric::Rmse => r.rmse.map(|m| m.mean),
            Metric::Mae => r.mae.map(|m| m.mean),
            Metric::Precision => t.map(|m| m.precision.mean),
            Metric::Recall => t.map(|m| m.recall.mean),
            Metric::Ndcg => t.map(|m| m.ndcg.mean),
            Metric::Map => t.map(|m| m.map.mean),
            Metric::HitRate => t.map(|m| m.hit_rate.mean),
            Metric::Coverage => t.map(|m| m.coverage.mean),
        };
        v.filter(|x| !x.is_nan())
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = Error;

    fn from_str(s: &str) -> Result<Metric> {
        let want = s.trim().to_ascii_lowercase().replace('_', "-");
        Metric::ALL.iter().copied().find(|m| m.name() == want || (want == "hitrate" && *m == Metric::HitRate)).ok_or_else(|| {
            let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
            Error::Data(format!("unknown metric {s:?}; choose one of {} (k is set by the top-N options)", names.join(", ")))
        })
    }
}

/// Every candidate's scores, best first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResult {
    /// The metric sorted by.
    pub metric: Metric,
    /// Best first; candidates without that metric (e.g. RMSE of a ranking model) last, in
    /// their original order, as are ties.
    pub candidates: Vec<CvResult>,
}

impl SearchResult {
    /// The best candidate, if any has the metric.
    pub fn best(&self) -> Option<&CvResult> {
        self.candidates.first().filter(|c| self.metric.mean(c).is_some())
    }
}

/// Cross-validates each of `candidates` (settings over the defaults of `algo`) and sorts
/// them by `metric`. All settings are parsed and checked before the first fit.
pub fn search(
    algo: Algorithm,
    candidates: &[Settings],
    metric: Metric,
    data: CvData<'_>,
    opts: &EvalOptions,
    progress: OnProgress<'_>,
) -> Result<SearchResult> {
    data.ratings.check()?;
    if data.splits.is_empty() {
        return Err(Error::Data("no splits to evaluate on; give a split such as kfold:5".into()));
    }
    if let Some(t) = &opts.topn {
        t.check()?;
    }
    if metric.is_ranking() && opts.topn.is_none() {
        return Err(Error::Data(format!("sorting by {metric} needs top-N evaluation; turn it on (e.g. k = 10) or sort by rmse")));
    }
    if candidates.is_empty() {
        return Err(Error::Data("the search has no candidates; give at least one parameter value".into()));
    }
    let params: Vec<Params> = candidates
        .iter()
        .map(|s| {
            let p = Params::with_settings(algo, s)?;
            p.check()?;
            Ok(p)
        })
        .collect::<Result<_>>()?;
    let mut results = Vec::with_capacity(params.len());
    for (c, (p, s)) in params.iter().zip(candidates).enumerate() {
        let r = cross_validate_candidate(p, s.clone(), &data, opts, (c, params.len()), progress).map_err(|e| match e {
            Error::Data(m) => {
                let shown: Vec<String> = s.iter().map(|(k, v)| format!("{k}={v}")).collect();
                Error::Data(format!("candidate {c} ({}): {m}", shown.join(" ")))
            }
            other => other,
        })?;
        results.push(r);
    }
    let key = |r: &CvResult| metric.mean(r).map(|x| if metric.lower_is_better() { x } else { -x });
    // Stable: ties keep candidate order. Candidates without the metric go last.
    results.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    Ok(SearchResult { metric, candidates: results })
}

/// Grid search: [`SearchSpace::grid`] then [`search`].
pub fn grid_search(algo: Algorithm, space: &SearchSpace, metric: Metric, data: CvData<'_>, opts: &EvalOptions, progress: OnProgress<'_>) -> Result<SearchResult> {
    search(algo, &space.grid()?, metric, data, opts, progress)
}

/// How many random candidates, and the seed they are drawn with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Draws {
    /// Number of candidates.
    pub n: usize,
    /// Seed.
    pub seed: u64,
}

/// Random search: [`SearchSpace::sample`] then [`search`].
pub fn random_search(
    algo: Algorithm,
    space: &SearchSpace,
    draws: Draws,
    metric: Metric,
    data: CvData<'_>,
    opts: &EvalOptions,
    progress: OnProgress<'_>,
) -> Result<SearchResult> {
    search(algo, &space.sample(draws.n, draws.seed)?, metric, data, opts, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(pairs: &[(&str, &str)]) -> Settings {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn values_parse_lists_and_ranges() {
        assert_eq!("1,2, 3".parse::<Values>().expect("ok"), Values::List { values: vec!["1".into(), "2".into(), "3".into()] });
        assert_eq!("true".parse::<Values>().expect("ok"), Values::List { values: vec!["true".into()] });
        assert_eq!("20..200".parse::<Values>().expect("ok"), Values::Int { lo: 20, hi: 200 });
        assert_eq!("0.002..0.02".parse::<Values>().expect("ok"), Values::Float { lo: 0.002, hi: 0.02 });
        for bad in ["", "1,,2", "5..1", "a..b", "0.1..inf", "0.5..0.1"] {
            let e = bad.parse::<Values>().expect_err(bad).to_string();
            assert!(e.contains("accepted forms"), "{bad}: {e}");
        }
    }

    #[test]
    fn space_refuses_malformed_arguments() {
        assert!(SearchSpace::parse(&["factors"]).is_err());
        assert!(SearchSpace::parse(&["=1"]).is_err());
        assert!(SearchSpace::parse(&["a=1", "a=2"]).is_err());
        let e = SearchSpace::parse(&["lr=0.1..0.01"]).expect_err("reversed").to_string();
        assert!(e.starts_with("lr: "), "{e}");
    }

    #[test]
    fn grid_is_the_product_last_fastest() {
        let g = SearchSpace::parse(&["a=1,2", "b=x,y,z"]).expect("ok").grid().expect("lists");
        assert_eq!(g.len(), 6);
        assert_eq!(g[0], s(&[("a", "1"), ("b", "x")]));
        assert_eq!(g[1], s(&[("a", "1"), ("b", "y")]));
        assert_eq!(g[5], s(&[("a", "2"), ("b", "z")]));
        assert!(SearchSpace::parse(&["a=1..5"]).expect("ok").grid().is_err());
        let big: Vec<String> = (0..5).map(|k| format!("p{k}={}", (0..10).map(|x| x.to_string()).collect::<Vec<_>>().join(","))).collect();
        assert!(SearchSpace::parse(&big).expect("ok").grid().is_err(), "100,000 candidates");
    }

    #[test]
    fn random_draws_are_seeded_in_range_and_distinct() {
        let space = SearchSpace::parse(&["lr=0.002..0.02", "factors=20..200", "biased=true,false"]).expect("ok");
        let a = space.sample(50, 42).expect("ok");
        assert_eq!(a, space.sample(50, 42).expect("ok"));
        assert_ne!(a, space.sample(50, 43).expect("ok"));
        assert_eq!(a.len(), 50);
        let mut below = 0;
        for d in &a {
            let lr: f64 = d[0].1.parse().expect("float");
            let f: i64 = d[1].1.parse().expect("int");
            assert!((0.002..=0.02).contains(&lr) && (20..=200).contains(&f), "{d:?}");
            assert!(d[0].1.trim_start_matches("0.").trim_start_matches('0').len() <= 4, "{d:?}");
            below += (lr < 0.0063246) as usize; // the geometric mean: half the draws when log-uniform
        }
        assert!((15..=35).contains(&below), "{below} of 50 below the geometric mean");
        // A 2-point space cannot give 5 distinct draws.
        assert_eq!(SearchSpace::parse(&["a=1,2"]).expect("ok").sample(5, 1).expect("ok").len(), 2);
        assert!(space.sample(0, 1).is_err());
        let empty = SearchSpace { params: vec![("a".into(), Values::List { values: vec![] })] };
        assert!(empty.sample(3, 1).is_err() && empty.grid().is_err());
        let reversed = SearchSpace { params: vec![("a".into(), Values::Int { lo: 5, hi: 1 })] };
        assert!(reversed.sample(3, 1).is_err());
    }

    #[test]
    fn four_significant_digits() {
        assert_eq!(four_digits(0.0063245553), "0.006325");
        assert_eq!(four_digits(123.456), "123.5");
        assert_eq!(four_digits(0.002), "0.002");
        assert_eq!(four_digits(-1.5), "-1.5");
        assert_eq!(four_digits(1234567.0), "1235000");
    }

    #[test]
    fn metrics_parse_and_know_their_direction() {
        assert_eq!("NDCG".parse::<Metric>().expect("ok"), Metric::Ndcg);
        assert_eq!("hit_rate".parse::<Metric>().expect("ok"), Metric::HitRate);
        assert!(Metric::Rmse.lower_is_better() && !Metric::Ndcg.lower_is_better());
        let e = "auc".parse::<Metric>().expect_err("unknown").to_string();
        assert!(e.contains("rmse") && e.contains("ndcg"), "{e}");
    }
}

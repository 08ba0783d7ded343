//! Report parameters: what the user typed (`--param k=v`), checked against what a report
//! accepts.
use std::collections::BTreeMap;

use serde::Serialize;

use crate::{Error, Result};

/// The type and range of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    /// A whole number in `min..=max`.
    Int {
        /// Smallest allowed.
        min: i64,
        /// Largest allowed.
        max: i64,
    },
    /// `true` or `false`.
    Bool,
    /// One of a fixed list.
    Choice {
        /// The allowed values.
        values: &'static [&'static str],
    },
    /// Any text (used as a case-insensitive substring filter).
    Text,
}

/// One parameter a report accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamSpec {
    /// Its name (`min_votes`).
    pub name: &'static str,
    /// Its type.
    pub kind: ParamKind,
    /// The value when not given (`None`: no filter).
    pub default: Option<&'static str>,
    /// One line for `report list`.
    pub help: &'static str,
}

/// A checked parameter value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// An `Int` parameter.
    Int(i64),
    /// A `Bool` parameter.
    Bool(bool),
    /// A `Choice` or `Text` parameter.
    Text(String),
}

/// Parameters as the user gave them, not yet checked: `name -> value`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportParams {
    values: BTreeMap<String, String>,
}

impl ReportParams {
    /// No parameters (every default).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets one parameter.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.values.insert(name.trim().to_string(), value.trim().to_string());
        self
    }

    /// Parses `NAME=VALUE` strings (from `--param`).
    pub fn try_from_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<Self> {
        let mut p = Self::new();
        for pair in pairs {
            let pair = pair.as_ref();
            let Some((k, v)) = pair.split_once('=') else {
                return Err(Error::BadParam {
                    report: String::new(),
                    message: format!("--param {pair:?} is not NAME=VALUE; write e.g. --param min_votes=100"),
                });
            };
            p = p.with(k, v);
        }
        Ok(p)
    }

    /// Checks every value against `specs` and fills in the defaults.
    pub fn check(&self, report: &str, specs: &[ParamSpec]) -> Result<ValidParams> {
        let bad = |message: String| Error::BadParam { report: report.to_string(), message };
        for name in self.values.keys() {
            if !specs.iter().any(|s| s.name == name) {
                let known: Vec<&str> = specs.iter().map(|s| s.name).collect();
                return Err(bad(format!(
                    "unknown parameter {name:?}; {report} takes {}",
                    if known.is_empty() { "no parameters".to_string() } else { known.join(", ") }
                )));
            }
        }
        let mut values = BTreeMap::new();
        for spec in specs {
            let Some(text) = self.values.get(spec.name).map(String::as_str).or(spec.default) else { continue };
            if text.is_empty() && matches!(spec.kind, ParamKind::Text) {
                continue;
            }
            let value = match spec.kind {
                ParamKind::Int { min, max } => {
                    let v: i64 = text
                        .parse()
                        .map_err(|_| bad(format!("{}={text:?} is not a whole number; pass e.g. {}={min}", spec.name, spec.name)))?;
                    if v < min || v > max {
                        return Err(bad(format!("{}={v} is outside {min}..={max}", spec.name)));
                    }
                    Value::Int(v)
                }
                ParamKind::Bool => match text.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "1" | "on" => Value::Bool(true),
                    "false" | "no" | "0" | "off" => Value::Bool(false),
                    _ => return Err(bad(format!("{}={text:?} is not true or false", spec.name))),
                },
                ParamKind::Choice { values: allowed } => {
                    let t = text.to_ascii_lowercase();
                    if !allowed.contains(&t.as_str()) {
                        return Err(bad(format!("{}={text:?} is not one of {}", spec.name, allowed.join(", "))));
                    }
                    Value::Text(t)
                }
                ParamKind::Text => Value::Text(text.to_string()),
            };
            values.insert(spec.name, value);
        }
        Ok(ValidParams { values })
    }
}

/// Checked parameters with defaults filled in; absent optional filters are missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidParams {
    values: BTreeMap<&'static str, Value>,
}

impl ValidParams {
    /// An `Int` parameter.
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.values.get(name) {
            Some(Value::Int(v)) => Some(*v),
            _ => None,
        }
    }

    /// A `Bool` parameter (false when absent).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Bool(true)))
    }

    /// A `Choice` or `Text` parameter.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(Value::Text(v)) => Some(v),
            _ => None,
        }
    }

    /// `name=value` pairs, for titles and the HTML page.
    pub fn describe(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| match v {
                Value::Int(i) => format!("{k}={i}"),
                Value::Bool(b) => format!("{k}={b}"),
                Value::Text(t) => format!("{k}={t}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A SQL string literal: quotes doubled, so any text is data, never SQL.
pub(crate) fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec { name: "min_votes", kind: ParamKind::Int { min: 1, max: 1000 }, default: Some("50"), help: "" },
        ParamSpec { name: "bayesian", kind: ParamKind::Bool, default: Some("false"), help: "" },
        ParamSpec { name: "agg", kind: ParamKind::Choice { values: &["sum", "avg"] }, default: Some("sum"), help: "" },
        ParamSpec { name: "company", kind: ParamKind::Text, default: None, help: "" },
    ];

    #[test]
    fn defaults_fill_in() {
        let v = ReportParams::new().check("r", SPECS).unwrap();
        assert_eq!(v.int("min_votes"), Some(50));
        assert!(!v.flag("bayesian"));
        assert_eq!(v.text("agg"), Some("sum"));
        assert_eq!(v.text("company"), None);
        assert_eq!(v.describe(), "agg=sum bayesian=false min_votes=50");
    }

    #[test]
    fn values_are_checked() {
        let p = ReportParams::try_from_pairs(&["min_votes=100", "bayesian=yes", "agg=AVG", "company=Pixar"]).unwrap();
        let v = p.check("r", SPECS).unwrap();
        assert_eq!((v.int("min_votes"), v.flag("bayesian"), v.text("agg"), v.text("company")), (Some(100), true, Some("avg"), Some("Pixar")));
        let err = |pairs: &[&str]| ReportParams::try_from_pairs(pairs).and_then(|p| p.check("top-rated", SPECS)).unwrap_err().to_string();
        assert!(err(&["min_votes=abc"]).contains("min_votes=\"abc\" is not a whole number"));
        assert!(err(&["min_votes=0"]).contains("outside 1..=1000"));
        assert!(err(&["bayesian=maybe"]).contains("not true or false"));
        assert!(err(&["agg=median"]).contains("not one of sum, avg"));
        assert!(err(&["minvotes=3"]).contains("unknown parameter \"minvotes\"; top-rated takes min_votes, bayesian, agg, company"));
        assert!(err(&["min_votes"]).contains("not NAME=VALUE"));
    }

    #[test]
    fn text_is_quoted_as_data() {
        assert_eq!(sql_str("O'Brien"), "'O''Brien'");
    }
}

//! Expectation files: `expectations/<zone>.<name>.toml`, parsed and checked with line numbers.
//!
//! ```toml
//! table = "clean.ratings"            # optional: taken from the file name
//! where = "ds = '{{ ds }}'"          # optional: validate only these rows (templated)
//!
//! [[expect]]
//! check = "unique"
//! columns = ["user_id", "movie_id"]
//!
//! [[expect]]
//! check = "between"
//! column = "rating"
//! min = 0.5
//! max = 5.0
//! mostly = 0.999                     # row checks: at least 99.9% of rows must pass
//! severity = "warn"                  # error (default) stops a pipeline's downstream tasks
//! ```
use std::path::{Path, PathBuf};
use std::time::Duration;

use reel_common::TableRef;
use reel_common::template::line_of;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::{Error, Result};

/// How much a failing expectation matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails the validation (and stops a pipeline's downstream tasks).
    Error,
    /// Reported, but the validation passes.
    Warn,
}

impl Severity {
    /// `error` or `warn`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warn => "warn",
        }
    }
}

/// A literal in an `in_set` list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Literal {
    /// A number.
    Number(f64),
    /// A string.
    Text(String),
    /// A boolean.
    Bool(bool),
}

impl Literal {
    /// The literal as SQL.
    pub fn to_sql(&self) -> String {
        match self {
            Literal::Number(n) => number_sql(*n),
            Literal::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Literal::Bool(b) => b.to_string().to_uppercase(),
        }
    }
}

/// A number as a SQL literal (`5`, `0.5`, `1e-9`).
pub(crate) fn number_sql(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 { format!("{n:.1}") } else { format!("{n}") }
}

/// What an expectation checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    /// No nulls in the column.
    NotNull {
        /// The column.
        column: String,
    },
    /// No two rows share the values of these columns (rows with a null in them are ignored).
    Unique {
        /// One or more columns.
        columns: Vec<String>,
    },
    /// Every non-null value is within `[min, max]`.
    Between {
        /// The column.
        column: String,
        /// Lower bound, if any.
        min: Option<f64>,
        /// Upper bound, if any.
        max: Option<f64>,
    },
    /// Every non-null value is one of `values`.
    InSet {
        /// The column.
        column: String,
        /// The allowed values.
        values: Vec<Literal>,
    },
    /// Every non-null value matches the regular expression (anywhere, unless anchored).
    Regex {
        /// The column.
        column: String,
        /// The pattern (Rust `regex` syntax).
        pattern: String,
    },
    /// The number of rows is within `[min, max]`.
    RowCount {
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
    /// An aggregate of the column (`mean`, `stddev` (sample), `min`, `max`) is within bounds.
    Aggregate {
        /// `mean`, `stddev`, `min` or `max`.
        agg: Agg,
        /// The column.
        column: String,
        /// Lower bound.
        min: Option<f64>,
        /// Upper bound.
        max: Option<f64>,
    },
    /// The newest value of a timestamp or date column is at most `max_age` old.
    Freshness {
        /// The column.
        column: String,
        /// The allowed age, relative to the validation's reference time.
        #[serde(with = "duration_text")]
        max_age: Duration,
    },
}

/// The aggregates an expectation can bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Agg {
    /// The mean.
    Mean,
    /// The sample standard deviation.
    Stddev,
    /// The smallest value.
    Min,
    /// The largest value.
    Max,
}

impl Agg {
    /// The check's name and the SQL function.
    pub fn name(self) -> &'static str {
        match self {
            Agg::Mean => "mean",
            Agg::Stddev => "stddev",
            Agg::Min => "min",
            Agg::Max => "max",
        }
    }
    pub(crate) fn sql_fn(self) -> &'static str {
        match self {
            Agg::Mean => "avg",
            Agg::Stddev => "stddev",
            Agg::Min => "min",
            Agg::Max => "max",
        }
    }
}

mod duration_text {
    pub fn serialize<S: serde::Serializer>(d: &std::time::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&reel_common::duration::format(*d))
    }
}

impl Check {
    /// The check's name as written in files (`not_null`, `between`, `mean`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Check::NotNull { .. } => "not_null",
            Check::Unique { .. } => "unique",
            Check::Between { .. } => "between",
            Check::InSet { .. } => "in_set",
            Check::Regex { .. } => "regex",
            Check::RowCount { .. } => "row_count",
            Check::Aggregate { agg, .. } => agg.name(),
            Check::Freshness { .. } => "freshness",
        }
    }

    /// Whether the check is decided row by row (so `mostly` applies and failing rows exist).
    pub fn is_row_check(&self) -> bool {
        matches!(self, Check::NotNull { .. } | Check::Unique { .. } | Check::Between { .. } | Check::InSet { .. } | Check::Regex { .. })
    }

    /// The columns it reads.
    pub fn columns(&self) -> Vec<String> {
        match self {
            Check::Unique { columns } => columns.clone(),
            Check::RowCount { .. } => Vec::new(),
            Check::NotNull { column }
            | Check::Between { column, .. }
            | Check::InSet { column, .. }
            | Check::Regex { column, .. }
            | Check::Aggregate { column, .. }
            | Check::Freshness { column, .. } => vec![column.clone()],
        }
    }

    /// A readable one-line description: `between(rating, 0.5, 5)`.
    pub fn describe(&self) -> String {
        let b = |v: &Option<f64>| v.map_or("-".to_string(), |x| x.to_string());
        match self {
            Check::NotNull { column } => format!("not_null({column})"),
            Check::Unique { columns } => format!("unique({})", columns.join(", ")),
            Check::Between { column, min, max } => format!("between({column}, {}, {})", b(min), b(max)),
            Check::InSet { column, values } => {
                let shown: Vec<String> = values.iter().take(6).map(Literal::to_sql).collect();
                let more = if values.len() > 6 { format!(", ... {} values", values.len()) } else { String::new() };
                format!("in_set({column}, [{}{more}])", shown.join(", "))
            }
            Check::Regex { column, pattern } => format!("regex({column}, {pattern:?})"),
            Check::RowCount { min, max } => format!("row_count({}, {})", b(min), b(max)),
            Check::Aggregate { agg, column, min, max } => format!("{}({column}) in [{}, {}]", agg.name(), b(min), b(max)),
            Check::Freshness { column, max_age } => format!("freshness({column}, {})", reel_common::duration::format(*max_age)),
        }
    }
}

/// One expectation of a suite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    /// Its name: given in the file, or [`Check::describe`].
    pub name: String,
    /// What it checks.
    pub check: Check,
    /// Row checks pass when at least this fraction of rows passes (1.0 by default).
    pub mostly: f64,
    /// `error` or `warn`.
    pub severity: Severity,
    /// The 1-based line of its `[[expect]]` in the file.
    pub line: usize,
}

/// An expectations file, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suite {
    /// The file it came from (or a label for suites built in code).
    pub path: PathBuf,
    /// The table it validates.
    pub table: TableRef,
    /// An optional row filter (SQL, may hold `{{ ds }}` and friends).
    pub filter: Option<String>,
    /// The expectations, in file order.
    pub expectations: Vec<Expectation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    table: Option<Spanned<String>>,
    #[serde(rename = "where")]
    filter: Option<Spanned<String>>,
    description: Option<String>,
    #[serde(default)]
    expect: Vec<Spanned<RawExpect>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    check: String,
    name: Option<String>,
    description: Option<String>,
    column: Option<String>,
    columns: Option<Vec<String>>,
    min: Option<f64>,
    max: Option<f64>,
    values: Option<Vec<toml::Value>>,
    pattern: Option<String>,
    max_age: Option<String>,
    mostly: Option<f64>,
    severity: Option<Severity>,
}

/// The variables an expectations file's `where` may use.
pub const FILTER_VARIABLES: &[&str] = &["ds", "ds_start", "ds_end", "ds_nodash", "prev_ds", "next_ds"];

impl Suite {
    /// Reads and checks an expectations file.
    pub fn from_file(path: &Path) -> Result<Suite> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io { path: path.to_path_buf(), source: e })?;
        Suite::from_toml(path, &text)
    }

    /// The conventional file of `table` in a workspace: `<dir>/expectations/<zone>.<name>.toml`.
    pub fn default_path(workspace: &Path, table: &TableRef) -> PathBuf {
        workspace.join("expectations").join(format!("{table}.toml"))
    }

    /// Parses and checks the text of an expectations file; `path` names it in errors and
    /// gives the table when the file does not.
    pub fn from_toml(path: &Path, text: &str) -> Result<Suite> {
        let invalid = |line: usize, message: String| Error::Invalid { path: path.to_path_buf(), line, message };
        let raw: RawSuite = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(1, |s| line_of(text, s.start));
            invalid(line, e.message().trim().to_string())
        })?;
        let _ = raw.description;
        let table = match &raw.table {
            Some(t) => t.get_ref().parse::<TableRef>().map_err(|e| invalid(line_of(text, t.span().start), e.to_string()))?,
            None => {
                let stem = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".toml")).unwrap_or("");
                stem.parse::<TableRef>().map_err(|_| {
                    invalid(
                        1,
                        format!("no `table = \"zone.name\"` in the file, and its name {stem:?} is not zone.name (e.g. clean.ratings.toml)"),
                    )
                })?
            }
        };
        let filter = match &raw.filter {
            Some(f) => {
                reel_common::template::check(f.get_ref(), &|n| FILTER_VARIABLES.contains(&n), &FILTER_VARIABLES.join(", ")).map_err(
                    |e| invalid(line_of(text, f.span().start), format!("in `where`: {e}")),
                )?;
                Some(f.get_ref().clone())
            }
            None => None,
        };
        if raw.expect.is_empty() {
            return Err(invalid(1, "no expectations: add `[[expect]]` tables, e.g. check = \"not_null\", column = \"user_id\"".into()));
        }
        let mut expectations = Vec::new();
        for e in raw.expect {
            let line = line_of(text, e.span().start);
            expectations.push(expectation(e.into_inner(), line).map_err(|m| invalid(line, m))?);
        }
        Ok(Suite { path: path.to_path_buf(), table, filter, expectations })
    }
}

fn expectation(r: RawExpect, line: usize) -> std::result::Result<Expectation, String> {
    let kind = r.check.trim().to_string();
    let _ = &r.description;
    let column = |r: &RawExpect| -> std::result::Result<String, String> {
        match (&r.column, &r.columns) {
            (Some(c), None) if !c.trim().is_empty() => Ok(c.trim().to_string()),
            (None, Some(cs)) if cs.len() == 1 => Ok(cs[0].trim().to_string()),
            (Some(_), Some(_)) => Err(format!("{kind} takes `column`, not both `column` and `columns`")),
            _ => Err(format!("{kind} needs `column = \"NAME\"`")),
        }
    };
    let bounds = |r: &RawExpect| -> std::result::Result<(Option<f64>, Option<f64>), String> {
        match (r.min, r.max) {
            (None, None) => Err(format!("{kind} needs `min`, `max` or both")),
            (Some(a), Some(b)) if a > b => Err(format!("{kind}: min {a} is above max {b}")),
            (Some(a), _) | (_, Some(a)) if !a.is_finite() => Err(format!("{kind}: bounds must be finite numbers")),
            (a, b) => Ok((a, b)),
        }
    };
    let unused = |r: &RawExpect, allowed: &[&str]| -> std::result::Result<(), String> {
        let given = [
            ("column", r.column.is_some()),
            ("columns", r.columns.is_some()),
            ("min", r.min.is_some()),
            ("max", r.max.is_some()),
            ("values", r.values.is_some()),
            ("pattern", r.pattern.is_some()),
            ("max_age", r.max_age.is_some()),
        ];
        for (k, present) in given {
            if present && !allowed.contains(&k) {
                return Err(format!("{kind} does not take `{k}` (it takes: {})", allowed.join(", ")));
            }
        }
        Ok(())
    };
    let check = match kind.as_str() {
        "not_null" => {
            unused(&r, &["column", "columns"])?;
            Check::NotNull { column: column(&r)? }
        }
        "unique" => {
            unused(&r, &["column", "columns"])?;
            let columns = match (&r.column, &r.columns) {
                (Some(c), None) => vec![c.trim().to_string()],
                (None, Some(cs)) if !cs.is_empty() => cs.iter().map(|c| c.trim().to_string()).collect(),
                _ => return Err("unique needs `column = \"NAME\"` or `columns = [\"A\", \"B\"]`".into()),
            };
            let mut seen = std::collections::HashSet::new();
            if let Some(d) = columns.iter().find(|c| !seen.insert(c.as_str())) {
                return Err(format!("unique lists column {d:?} twice"));
            }
            Check::Unique { columns }
        }
        "between" => {
            unused(&r, &["column", "columns", "min", "max"])?;
            let (min, max) = bounds(&r)?;
            Check::Between { column: column(&r)?, min, max }
        }
        "in_set" => {
            unused(&r, &["column", "columns", "values"])?;
            let values = r.values.as_ref().filter(|v| !v.is_empty()).ok_or("in_set needs `values = [...]` with at least one value")?;
            let values = values
                .iter()
                .map(|v| match v {
                    toml::Value::Integer(i) => Ok(Literal::Number(*i as f64)),
                    toml::Value::Float(f) => Ok(Literal::Number(*f)),
                    toml::Value::String(s) => Ok(Literal::Text(s.clone())),
                    toml::Value::Boolean(b) => Ok(Literal::Bool(*b)),
                    other => Err(format!("in_set values must be numbers, strings or booleans, not {other}")),
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Check::InSet { column: column(&r)?, values }
        }
        "regex" => {
            unused(&r, &["column", "columns", "pattern"])?;
            let pattern = r.pattern.clone().ok_or("regex needs `pattern = '...'` (single quotes keep backslashes)")?;
            regex::Regex::new(&pattern).map_err(|e| format!("regex pattern {pattern:?} does not compile: {e}"))?;
            Check::Regex { column: column(&r)?, pattern }
        }
        "row_count" => {
            unused(&r, &["min", "max"])?;
            let (min, max) = bounds(&r)?;
            Check::RowCount { min, max }
        }
        "mean" | "stddev" | "min" | "max" => {
            unused(&r, &["column", "columns", "min", "max"])?;
            let agg = match kind.as_str() {
                "mean" => Agg::Mean,
                "stddev" => Agg::Stddev,
                "min" => Agg::Min,
                _ => Agg::Max,
            };
            let (min, max) = bounds(&r)?;
            Check::Aggregate { agg, column: column(&r)?, min, max }
        }
        "freshness" => {
            unused(&r, &["column", "columns", "max_age"])?;
            let age = r.max_age.as_deref().ok_or("freshness needs `max_age = \"36h\"`")?;
            let max_age = reel_common::duration::parse(age)?;
            Check::Freshness { column: column(&r)?, max_age }
        }
        other => {
            return Err(format!(
                "unknown check {other:?}; use one of not_null, unique, between, in_set, regex, row_count, mean, stddev, min, max, freshness"
            ));
        }
    };
    let mostly = r.mostly.unwrap_or(1.0);
    if r.mostly.is_some() && !check.is_row_check() {
        return Err(format!("`mostly` applies to row checks (not_null, unique, between, in_set, regex), not to {kind}"));
    }
    if !(mostly > 0.0 && mostly <= 1.0) {
        return Err(format!("mostly = {mostly} is not a fraction in (0, 1]; e.g. mostly = 0.99"));
    }
    Ok(Expectation {
        name: r.name.unwrap_or_else(|| check.describe()),
        check,
        mostly,
        severity: r.severity.unwrap_or(Severity::Error),
        line,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Suite> {
        Suite::from_toml(Path::new("expectations/clean.ratings.toml"), text)
    }

    #[test]
    fn every_check_parses() {
        let s = parse(
            r#"
where = "ds = '{{ ds }}'"
[[expect]]
check = "not_null"
column = "user_id"
[[expect]]
check = "unique"
columns = ["user_id", "movie_id"]
[[expect]]
check = "between"
column = "rating"
min = 0.5
max = 5
mostly = 0.99
severity = "warn"
[[expect]]
check = "in_set"
column = "rating"
values = [1, 2.5, "x", true]
[[expect]]
check = "regex"
column = "title"
pattern = '\(\d{4}\)$'
[[expect]]
check = "row_count"
min = 10
[[expect]]
check = "mean"
column = "rating"
min = 3
max = 4
[[expect]]
check = "stddev"
column = "rating"
max = 2
[[expect]]
check = "freshness"
column = "rated_at"
max_age = "2d"
name = "recent ratings"
"#,
        )
        .unwrap();
        assert_eq!(s.table.to_string(), "clean.ratings", "from the file name");
        assert_eq!(s.filter.as_deref(), Some("ds = '{{ ds }}'"));
        assert_eq!(s.expectations.len(), 9);
        assert_eq!(s.expectations[0].line, 3);
        assert_eq!(s.expectations[1].check, Check::Unique { columns: vec!["user_id".into(), "movie_id".into()] });
        assert_eq!(s.expectations[2].severity, Severity::Warn);
        assert_eq!(s.expectations[2].mostly, 0.99);
        assert_eq!(s.expectations[3].check.describe(), "in_set(rating, [1.0, 2.5, 'x', TRUE])");
        assert_eq!(number_sql(0.5), "0.5");
        assert_eq!(number_sql(1e-9), "0.000000001");
        assert_eq!(s.expectations[8].name, "recent ratings");
        assert_eq!(s.expectations[8].check, Check::Freshness { column: "rated_at".into(), max_age: Duration::from_secs(172_800) });
    }

    #[test]
    fn mistakes_are_refused_with_their_line() {
        let cases = [
            ("[[expect]]\ncheck = \"nul\"\ncolumn = \"a\"\n", 1, "unknown check"),
            ("x = 1\n[[expect]]\ncheck = \"not_null\"\n", 1, "unknown field"),
            ("\n\n[[expect]]\ncheck = \"not_null\"\n", 3, "needs `column"),
            ("[[expect]]\ncheck = \"between\"\ncolumn = \"r\"\n", 1, "min`, `max"),
            ("[[expect]]\ncheck = \"between\"\ncolumn = \"r\"\nmin = 5\nmax = 1\n", 1, "above max"),
            ("[[expect]]\ncheck = \"regex\"\ncolumn = \"r\"\npattern = \"(\"\n", 1, "does not compile"),
            ("[[expect]]\ncheck = \"row_count\"\nmin = 1\nmostly = 0.5\n", 1, "mostly"),
            ("[[expect]]\ncheck = \"not_null\"\ncolumn = \"a\"\nmostly = 1.5\n", 1, "fraction"),
            ("[[expect]]\ncheck = \"not_null\"\ncolumn = \"a\"\nmin = 1\n", 1, "does not take `min`"),
            ("[[expect]]\ncheck = \"freshness\"\ncolumn = \"a\"\nmax_age = \"soon\"\n", 1, "bad duration"),
            ("[[expect]]\ncheck = \"unique\"\ncolumns = [\"a\", \"a\"]\n", 1, "twice"),
            ("where = \"ds = '{{ day }}'\"\n[[expect]]\ncheck = \"not_null\"\ncolumn = \"a\"\n", 1, "unknown template variable"),
            ("table = \"gold.x\"\n[[expect]]\ncheck = \"not_null\"\ncolumn = \"a\"\n", 1, "zone"),
            ("", 1, "no expectations"),
            ("[[expect]\n", 1, ""),
            ("[[expect]]\ncheck = \"in_set\"\ncolumn = \"a\"\nvalues = []\n", 1, "at least one"),
            ("[[expect]]\ncheck = \"not_null\"\ncolumn = \"a\"\n[[expect]]\ncheck = \"mean\"\ncolumn = \"b\"\n", 4, "needs `min`"),
        ];
        for (text, line, needle) in cases {
            let e = parse(text).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with(&format!("expectations/clean.ratings.toml:{line}:")), "{text:?}: {msg}");
            assert!(msg.contains(needle), "{text:?}: {msg}");
        }
    }

    #[test]
    fn a_file_named_otherwise_needs_a_table_key() {
        let e = Suite::from_toml(Path::new("ratings.toml"), "[[expect]]\ncheck = \"not_null\"\ncolumn = \"a\"\n").unwrap_err();
        assert!(e.to_string().contains("table = "), "{e}");
        let s = Suite::from_toml(Path::new("x.toml"), "table = \"curated.top\"\n[[expect]]\ncheck = \"row_count\"\nmin = 1\n").unwrap();
        assert_eq!(s.table.to_string(), "curated.top");
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn generated_between_checks_round_trip(lo in -1e6f64..1e6, width in 0.0f64..1e6, mostly in 0.01f64..1.0) {
            let text = format!("[[expect]]\ncheck = \"between\"\ncolumn = \"c\"\nmin = {lo:?}\nmax = {:?}\nmostly = {mostly:?}\n", lo + width);
            let s = parse(&text).unwrap();
            proptest::prop_assert_eq!(&s.expectations[0].check, &Check::Between { column: "c".into(), min: Some(lo), max: Some(lo + width) });
            proptest::prop_assert_eq!(s.expectations[0].mostly, mostly);
        }
    }
}

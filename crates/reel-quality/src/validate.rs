//! Running a suite: every expectation compiled into ONE aggregate query (one scan), plus a
//! `GROUP BY` scan per uniqueness check the table's order could not settle, plus a `LIMIT`
//! query per failing row check for its examples.
use std::collections::BTreeMap;
use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, Int64Type, SchemaRef, TimeUnit, TimestampMicrosecondType};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, TimeZone, Utc};
use reel_catalog::{ExpectationRecord, ValidationRecord};
use reel_common::RunId;
use reel_sql::SqlSession;
use serde::Serialize;

use crate::suite::{Check, Expectation, Literal, Severity, Suite, number_sql};
use crate::{Error, Result, unique};

/// How to run a validation.
#[derive(Debug, Clone)]
pub struct ValidateOptions {
    /// Values of the `where` template (`ds`, `ds_start`, ...).
    pub vars: BTreeMap<String, String>,
    /// The reference time of freshness checks (now, or the end of the run day).
    pub as_of: DateTime<Utc>,
    /// Failing examples to fetch per failing row check.
    pub examples: usize,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        Self { vars: BTreeMap::new(), as_of: Utc::now(), examples: 5 }
    }
}

impl ValidateOptions {
    /// Options for run day `ds`: the template variables of the day, and freshness measured
    /// from the end of the day (so validating an old day gives the same answer later).
    pub fn for_day(ds: reel_common::Ds) -> Self {
        let start = ds.0.and_hms_opt(0, 0, 0).map(|t| Utc.from_utc_datetime(&t)).unwrap_or_else(Utc::now);
        let end = start + chrono::Duration::days(1);
        let mut vars = BTreeMap::new();
        vars.insert("ds".into(), ds.to_string());
        vars.insert("ds_nodash".into(), ds.0.format("%Y%m%d").to_string());
        vars.insert("ds_start".into(), start.format("%Y-%m-%d %H:%M:%S").to_string());
        vars.insert("ds_end".into(), end.format("%Y-%m-%d %H:%M:%S").to_string());
        vars.insert("prev_ds".into(), (ds.0 - chrono::Duration::days(1)).format("%Y-%m-%d").to_string());
        vars.insert("next_ds".into(), (ds.0 + chrono::Duration::days(1)).format("%Y-%m-%d").to_string());
        Self { vars, as_of: end, examples: 5 }
    }
}

/// The outcome of a validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every expectation held.
    Passed,
    /// Only `warn` expectations failed.
    Warned,
    /// At least one `error` expectation failed.
    Failed,
}

impl Status {
    /// `passed`, `warned` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Warned => "warned",
            Status::Failed => "failed",
        }
    }
}

/// The result of one expectation.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Position in the suite, from 0.
    pub ordinal: usize,
    /// Its name.
    pub name: String,
    /// The check.
    pub kind: String,
    /// Columns read.
    pub columns: Vec<String>,
    /// `error` or `warn`.
    pub severity: Severity,
    /// Line in the expectations file.
    pub line: usize,
    /// Whether it held.
    pub passed: bool,
    /// The observed value(s).
    pub observed: serde_json::Value,
    /// What was observed, in words.
    pub summary: String,
    /// Rows that broke a row check.
    pub failing: Option<i64>,
    /// Rows a row check looked at.
    pub considered: Option<i64>,
    /// A few failing rows (column -> value as text).
    pub examples: Vec<BTreeMap<String, String>>,
    /// The SQL that computed it.
    pub sql: String,
}

/// A validation of one table version.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Its id (also in the catalog).
    pub validation_id: String,
    /// `zone.name`.
    pub table: String,
    /// The Delta version validated.
    pub table_version: i64,
    /// The expectations file.
    pub suite: String,
    /// The row filter, rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The overall result.
    pub status: Status,
    /// Rows validated.
    pub rows: i64,
    /// Table scans used (1 when the table's order settled every uniqueness check).
    pub scans: usize,
    /// Queries run in all (scans plus example look-ups).
    pub queries: usize,
    /// Wall time.
    pub seconds: f64,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: DateTime<Utc>,
    /// The one aggregate query that computed every check.
    pub scan_sql: String,
    /// One per expectation, in suite order.
    pub results: Vec<Outcome>,
}

impl Report {
    /// Error expectations that failed.
    pub fn errors(&self) -> usize {
        self.results.iter().filter(|r| !r.passed && r.severity == Severity::Error).count()
    }

    /// Warn expectations that failed.
    pub fn warnings(&self) -> usize {
        self.results.iter().filter(|r| !r.passed && r.severity == Severity::Warn).count()
    }

    /// The record stored in the catalog; `run` names the pipeline run and task, if any.
    pub fn to_record(&self, run: Option<(&str, &str)>) -> Result<ValidationRecord> {
        let table = self.table.parse().map_err(|e: reel_common::Error| Error::Internal(e.to_string()))?;
        Ok(ValidationRecord {
            validation_id: self.validation_id.clone(),
            table,
            table_version: self.table_version,
            suite: self.suite.clone(),
            run_id: run.map(|r| r.0.to_string()),
            task_id: run.map(|r| r.1.to_string()),
            status: self.status.as_str().to_string(),
            row_count: self.rows,
            scans: self.scans as i64,
            started_at: self.started_at,
            finished_at: self.finished_at,
            results: self
                .results
                .iter()
                .map(|r| ExpectationRecord {
                    ordinal: r.ordinal as i64,
                    expectation: r.name.clone(),
                    kind: r.kind.clone(),
                    columns: r.columns.clone(),
                    severity: r.severity.as_str().to_string(),
                    passed: r.passed,
                    observed: r.observed.clone(),
                    failing: r.failing,
                    considered: r.considered,
                    examples: serde_json::to_value(&r.examples).unwrap_or_default(),
                    sql: r.sql.clone(),
                })
                .collect(),
        })
    }

    /// Stores the report in the catalog.
    pub async fn store(&self, catalog: &reel_catalog::Catalog, run: Option<(&str, &str)>) -> Result<()> {
        catalog.record_validation(&self.to_record(run)?).await?;
        Ok(())
    }

    /// The report as text for people: a header, then one line per expectation with its
    /// observed value, and the failing examples under each failing row check.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}@{} ({}): {} rows, {} expectations in {} scan{}, {:.2} s\n",
            self.table,
            self.table_version,
            self.suite,
            thousands(self.rows),
            self.results.len(),
            self.scans,
            if self.scans == 1 { "" } else { "s" },
            self.seconds
        );
        if let Some(f) = &self.filter {
            s.push_str(&format!("rows where {f}\n"));
        }
        s.push_str(&match self.status {
            Status::Passed => "PASSED: every expectation held\n".to_string(),
            Status::Warned => format!("PASSED with {} warning{}\n", self.warnings(), plural(self.warnings())),
            Status::Failed => format!(
                "FAILED: {} error expectation{} failed{}\n",
                self.errors(),
                plural(self.errors()),
                if self.warnings() > 0 { format!(", {} warning{}", self.warnings(), plural(self.warnings())) } else { String::new() }
            ),
        });
        let width = self.results.iter().map(|r| r.name.chars().count()).max().unwrap_or(10).clamp(11, 48);
        s.push_str(&format!("\n  {:>2}  {:<6}  {:<8}  {:<width$}  observed\n", "#", "result", "severity", "expectation"));
        for r in &self.results {
            let name: String = r.name.chars().take(width).collect();
            let result = if r.passed { "ok" } else if r.severity == Severity::Error { "FAIL" } else { "warn" };
            s.push_str(&format!(
                "  {:>2}  {:<6}  {:<8}  {:<width$}  {}\n",
                r.ordinal + 1,
                result,
                r.severity.as_str(),
                name,
                r.summary
            ));
            for e in &r.examples {
                let mut parts: Vec<String> = r.columns.iter().filter_map(|c| e.get(c).map(|v| format!("{c}={v}"))).collect();
                parts.extend(e.iter().filter(|(k, _)| !r.columns.contains(k)).map(|(k, v)| format!("{k}={v}")));
                let line: String = parts.join(" ").chars().take(110).collect();
                s.push_str(&format!("  {:>2}  {:<6}  {:<8}  e.g. {line}\n", "", "", ""));
            }
        }
        s
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// A column name quoted for SQL.
pub(crate) fn ident(c: &str) -> String {
    format!("\"{}\"", c.replace('"', "\"\""))
}

/// The table quoted for SQL (`clean.ratings` -> `"clean"."ratings"`).
fn table_sql(t: &reel_common::TableRef) -> String {
    format!("{}.{}", ident(t.zone.as_str()), ident(&t.name))
}

/// The select list of the scan, deduplicated: the same expression is computed once.
#[derive(Default)]
struct Select {
    items: Vec<(String, String)>,
}

impl Select {
    fn add(&mut self, expr: String) -> String {
        if let Some((alias, _)) = self.items.iter().find(|(_, e)| *e == expr) {
            return alias.clone();
        }
        let alias = format!("c{}", self.items.len());
        self.items.push((alias.clone(), expr));
        alias
    }
}

/// What the scan computes for one expectation.
enum Plan {
    Rows { failing: String, considered: String, predicate: Option<String>, extra: Vec<(String, String)> },
    Unique { dups: String, considered: String },
    RowCount,
    Value { alias: String },
}

fn bounds_pred(col: &str, min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{col} < {} OR {col} > {}", number_sql(a), number_sql(b)),
        (Some(a), None) => format!("{col} < {}", number_sql(a)),
        (None, Some(b)) => format!("{col} > {}", number_sql(b)),
        (None, None) => "FALSE".into(),
    }
}

fn within(v: f64, min: Option<f64>, max: Option<f64>) -> bool {
    min.is_none_or(|a| v >= a) && max.is_none_or(|b| v <= b)
}

fn bounds_text(min: Option<f64>, max: Option<f64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("[{a}, {b}]"),
        (Some(a), None) => format!(">= {a}"),
        (None, Some(b)) => format!("<= {b}"),
        (None, None) => "any".into(),
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// Checks every expectation's columns against the table's schema.
fn check_columns(suite: &Suite, schema: &SchemaRef) -> Result<()> {
    let names: Vec<String> = schema.fields().iter().map(|f| format!("{} {}", f.name(), f.data_type())).collect();
    for e in &suite.expectations {
        let err = |message: String| Error::Column { path: suite.path.clone(), line: e.line, message };
        for c in e.check.columns() {
            let Ok(field) = schema.field_with_name(&c) else {
                return Err(err(format!("{}: {} has no column {c:?}; its columns are: {}", e.name, suite.table, names.join(", "))));
            };
            let t = field.data_type();
            let ok = match &e.check {
                Check::Between { .. } | Check::Aggregate { .. } => is_numeric(t),
                Check::Freshness { .. } => matches!(t, DataType::Timestamp(..) | DataType::Date32 | DataType::Date64),
                Check::InSet { values, .. } => values.iter().all(|v| match v {
                    Literal::Text(_) => is_string(t),
                    Literal::Number(_) => is_numeric(t),
                    Literal::Bool(_) => matches!(t, DataType::Boolean),
                }),
                _ => true,
            };
            if !ok {
                let want = match &e.check {
                    Check::Freshness { .. } => "a timestamp or date column".to_string(),
                    Check::InSet { .. } => "values of the column's type".to_string(),
                    _ => "a numeric column".to_string(),
                };
                return Err(err(format!("{}: column {c} is {t}, but {} needs {want}", e.name, e.check.kind())));
            }
        }
    }
    Ok(())
}

fn plan_of(e: &Expectation, sel: &mut Select) -> Plan {
    let count_of = |c: &str| format!("count({})", ident(c));
    match &e.check {
        Check::NotNull { column } => {
            let n = sel.add("count(*)".into());
            let nn = sel.add(count_of(column));
            Plan::Rows { failing: format!("{n}-{nn}"), considered: n, predicate: Some(format!("{} IS NULL", ident(column))), extra: vec![] }
        }
        Check::Unique { columns } => {
            let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
            let dups = sel.add(format!("{}({})", unique::NAME, cols.join(", ")));
            let all = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect::<Vec<_>>().join(" AND ");
            let considered = sel.add(format!("count(CASE WHEN {all} THEN 1 END)"));
            Plan::Unique { dups, considered }
        }
        Check::Between { column, min, max } => {
            let c = ident(column);
            let pred = bounds_pred(&c, *min, *max);
            let failing = sel.add(format!("count(CASE WHEN {pred} THEN 1 END)"));
            let considered = sel.add(count_of(column));
            let lo = sel.add(format!("CAST(min({c}) AS DOUBLE)"));
            let hi = sel.add(format!("CAST(max({c}) AS DOUBLE)"));
            Plan::Rows { failing, considered, predicate: Some(pred), extra: vec![("min".into(), lo), ("max".into(), hi)] }
        }
        Check::InSet { column, values } => {
            let c = ident(column);
            let list: Vec<String> = values.iter().map(Literal::to_sql).collect();
            let pred = format!("{c} NOT IN ({})", list.join(", "));
            let failing = sel.add(format!("count(CASE WHEN {pred} THEN 1 END)"));
            Plan::Rows { failing, considered: sel.add(count_of(column)), predicate: Some(pred), extra: vec![] }
        }
        Check::Regex { column, pattern } => {
            let c = format!("CAST({} AS VARCHAR)", ident(column));
            let pred = format!("NOT regexp_like({c}, '{}')", pattern.replace('\'', "''"));
            let failing = sel.add(format!("count(CASE WHEN {pred} THEN 1 END)"));
            Plan::Rows { failing, considered: sel.add(count_of(column)), predicate: Some(pred), extra: vec![] }
        }
        Check::RowCount { .. } => {
            sel.add("count(*)".into());
            Plan::RowCount
        }
        Check::Aggregate { agg, column, .. } => Plan::Value { alias: sel.add(format!("CAST({}({}) AS DOUBLE)", agg.sql_fn(), ident(column))) },
        Check::Freshness { column, .. } => Plan::Value { alias: sel.add(format!("max({})", ident(column))) },
    }
}

/// The values of the scan's single row, by alias.
struct Row<'a> {
    batch: &'a RecordBatch,
}

impl Row<'_> {
    fn col(&self, alias: &str) -> Result<&dyn Array> {
        let k = self.batch.schema().index_of(alias).map_err(|e| Error::Internal(format!("scan column {alias}: {e}")))?;
        Ok(self.batch.column(k).as_ref())
    }
    fn i64(&self, expr: &str) -> Result<Option<i64>> {
        // `a-b` of two aliases (not-null failing rows).
        if let Some((a, b)) = expr.split_once('-') {
            return Ok(match (self.i64(a)?, self.i64(b)?) {
                (Some(x), Some(y)) => Some(x - y),
                _ => None,
            });
        }
        let a = cast(self.col(expr)?, &DataType::Int64).map_err(|e| Error::Internal(e.to_string()))?;
        let a = a.as_primitive::<Int64Type>();
        Ok((a.len() == 1 && a.is_valid(0)).then(|| a.value(0)))
    }
    fn f64(&self, alias: &str) -> Result<Option<f64>> {
        let a = cast(self.col(alias)?, &DataType::Float64).map_err(|e| Error::Internal(e.to_string()))?;
        let a = a.as_primitive::<Float64Type>();
        Ok((a.len() == 1 && a.is_valid(0)).then(|| a.value(0)))
    }
    fn micros(&self, alias: &str) -> Result<Option<i64>> {
        let col = self.col(alias)?;
        let a = cast(col, &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(|e| Error::Internal(e.to_string()))?;
        let a = a.as_primitive::<TimestampMicrosecondType>();
        Ok((a.len() == 1 && a.is_valid(0)).then(|| a.value(0)))
    }
}

async fn run_sql(session: &SqlSession, table: &str, sql: &str) -> Result<Vec<RecordBatch>> {
    let q = |e: datafusion::error::DataFusionError| Error::Query { table: table.into(), message: e.find_root().to_string(), sql: sql.into() };
    let df = session.context().sql(sql).await.map_err(q)?;
    df.collect().await.map_err(q)
}

fn rows_as_text(batches: &[RecordBatch]) -> Vec<BTreeMap<String, String>> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for b in batches {
        let fmts: Vec<Option<ArrayFormatter>> = b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).ok()).collect();
        for r in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (k, f) in b.schema().fields().iter().zip(&fmts) {
                let v = f.as_ref().map(|f| f.value(r).to_string()).unwrap_or_default();
                let v: String = v.chars().take(80).collect();
                row.insert(k.name().clone(), v);
            }
            out.push(row);
        }
    }
    out
}

/// Validates `suite.table` in `session` (which must see the table) and returns the report.
/// Nothing is stored: call [`Report::store`].
pub async fn validate(session: &SqlSession, suite: &Suite, opts: &ValidateOptions) -> Result<Report> {
    let started_at = Utc::now();
    let clock = Instant::now();
    let table = suite.table.to_string();
    let schema = session.schema_of(&table).await.map_err(|_| Error::NoTable {
        table: table.clone(),
        available: if session.table_names().is_empty() { "none".into() } else { session.table_names().join(", ") },
    })?;
    check_columns(suite, &schema)?;
    session.context().register_udaf(unique::udaf());
    let filter = match &suite.filter {
        Some(f) => Some(reel_common::template::render(f, &|n| opts.vars.get(n).cloned()).map_err(|e| Error::Invalid {
            path: suite.path.clone(),
            line: 1,
            message: format!("in `where`: {e} (pass --ds DAY to set the run day)"),
        })?),
        None => None,
    };
    let from = table_sql(&suite.table);
    let where_sql = filter.as_ref().map(|f| format!(" WHERE ({f})")).unwrap_or_default();
    let and_filter = |pred: &str| match &filter {
        Some(f) => format!("({f}) AND ({pred})"),
        None => pred.to_string(),
    };

    let mut sel = Select::default();
    let n_alias = sel.add("count(*)".into());
    let plans: Vec<Plan> = suite.expectations.iter().map(|e| plan_of(e, &mut sel)).collect();
    let list: Vec<String> = sel.items.iter().map(|(a, e)| format!("{e} AS {a}")).collect();
    let scan_sql = format!("SELECT {} FROM {from}{where_sql}", list.join(", "));
    let batches = run_sql(session, &table, &scan_sql).await?;
    let batch = batches.iter().find(|b| b.num_rows() == 1).ok_or_else(|| Error::Internal("the scan returned no row".into()))?;
    let row = Row { batch };
    let rows = row.i64(&n_alias)?.unwrap_or(0);
    let expr_of = |alias: &str| sel.items.iter().find(|(a, _)| a == alias).map(|(_, e)| e.clone()).unwrap_or_default();
    let mut scans = 1usize;
    let mut queries = 1usize;

    let mut results = Vec::with_capacity(plans.len());
    for (ordinal, (e, plan)) in suite.expectations.iter().zip(&plans).enumerate() {
        let mut out = Outcome {
            ordinal,
            name: e.name.clone(),
            kind: e.check.kind().to_string(),
            columns: e.check.columns(),
            severity: e.severity,
            line: e.line,
            passed: true,
            observed: serde_json::Value::Null,
            summary: String::new(),
            failing: None,
            considered: None,
            examples: Vec::new(),
            sql: String::new(),
        };
        let row_pass = |failing: i64, considered: i64| -> bool {
            if considered == 0 || failing == 0 {
                return true;
            }
            let ok = (considered - failing) as f64 / considered as f64;
            ok + 1e-12 >= e.mostly
        };
        match plan {
            Plan::Rows { failing, considered, predicate, extra } => {
                let f = row.i64(failing)?.unwrap_or(0);
                let k = row.i64(considered)?.unwrap_or(0);
                out.failing = Some(f);
                out.considered = Some(k);
                out.passed = row_pass(f, k);
                let mut obs = serde_json::json!({"failing": f, "considered": k});
                for (name, alias) in extra {
                    obs[name] = serde_json::json!(row.f64(alias)?);
                }
                out.observed = obs;
                out.sql = match failing.split_once('-') {
                    Some((a, b)) => format!("{} - {}", expr_of(a), expr_of(b)),
                    None => expr_of(failing),
                };
                let pct = if k > 0 { format!(" ({:.3}%)", 100.0 * f as f64 / k as f64) } else { String::new() };
                out.summary = match &e.check {
                    Check::NotNull { .. } => format!("{} nulls in {} rows{}", thousands(f), thousands(k), if f > 0 { pct.clone() } else { String::new() }),
                    Check::Between { min, max, .. } => {
                        let lo = out.observed["min"].as_f64().map_or("-".into(), |v| v.to_string());
                        let hi = out.observed["max"].as_f64().map_or("-".into(), |v| v.to_string());
                        format!("{} of {} values outside {}{} (min {lo}, max {hi})", thousands(f), thousands(k), bounds_text(*min, *max), if f > 0 { pct.clone() } else { String::new() })
                    }
                    Check::InSet { .. } => format!("{} of {} values not in the set{}", thousands(f), thousands(k), if f > 0 { pct.clone() } else { String::new() }),
                    _ => format!("{} of {} values do not match{}", thousands(f), thousands(k), if f > 0 { pct.clone() } else { String::new() }),
                };
                if e.mostly < 1.0 {
                    out.summary.push_str(&format!("; mostly {}", e.mostly));
                }
                if f > 0 && opts.examples > 0 {
                    if let Some(p) = predicate {
                        let sql = format!("SELECT * FROM {from} WHERE {} LIMIT {}", and_filter(p), opts.examples);
                        out.examples = rows_as_text(&run_sql(session, &table, &sql).await?);
                        queries += 1;
                    }
                }
            }
            Plan::Unique { dups, considered } => {
                let k = row.i64(considered)?.unwrap_or(0);
                let cols: Vec<String> = out.columns.iter().map(|c| ident(c)).collect();
                let keys = cols.join(", ");
                let not_null = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect::<Vec<_>>().join(" AND ");
                let group_sql = format!(
                    "SELECT count(*) AS groups, sum(n) AS rows FROM (SELECT count(*) AS n FROM {from} WHERE {} GROUP BY {keys} HAVING count(*) > 1)",
                    and_filter(&not_null)
                );
                let f = match row.i64(dups)? {
                    Some(f) => {
                        out.sql = format!("{} (sorted-run check, same scan)", expr_of(dups));
                        f
                    }
                    None => {
                        // The table's order could not settle it: the exact GROUP BY, one more scan.
                        let b = run_sql(session, &table, &group_sql).await?;
                        scans += 1;
                        queries += 1;
                        let b = b.iter().find(|b| b.num_rows() == 1).ok_or_else(|| Error::Internal("the GROUP BY returned no row".into()))?;
                        out.sql = group_sql.clone();
                        Row { batch: b }.i64("rows")?.unwrap_or(0)
                    }
                };
                out.failing = Some(f);
                out.considered = Some(k);
                out.passed = row_pass(f, k);
                out.observed = serde_json::json!({"failing": f, "considered": k});
                out.summary = if f == 0 {
                    format!("no duplicates in {} rows", thousands(k))
                } else {
                    format!("{} of {} rows share their key with another row", thousands(f), thousands(k))
                };
                if f > 0 && opts.examples > 0 {
                    let sql = format!(
                        "SELECT {keys}, count(*) AS copies FROM {from} WHERE {} GROUP BY {keys} HAVING count(*) > 1 ORDER BY copies DESC, {keys} LIMIT {}",
                        and_filter(&not_null),
                        opts.examples
                    );
                    out.examples = rows_as_text(&run_sql(session, &table, &sql).await?);
                    queries += 1;
                }
            }
            Plan::RowCount => {
                let Check::RowCount { min, max } = &e.check else { return Err(Error::Internal("row count plan".into())) };
                out.passed = within(rows as f64, *min, *max);
                out.observed = serde_json::json!(rows);
                out.summary = format!("{} rows (expected {})", thousands(rows), bounds_text(*min, *max));
                out.sql = "count(*)".into();
            }
            Plan::Value { alias } => {
                out.sql = expr_of(alias);
                match &e.check {
                    Check::Aggregate { agg, min, max, .. } => {
                        let v = row.f64(alias)?;
                        out.passed = v.is_some_and(|v| within(v, *min, *max));
                        out.observed = serde_json::json!(v);
                        out.summary = match v {
                            Some(v) => format!("{} {} (expected {})", agg.name(), round4(v), bounds_text(*min, *max)),
                            None => format!("no values: {} is undefined", agg.name()),
                        };
                    }
                    Check::Freshness { max_age, .. } => {
                        let newest = row.micros(alias)?.and_then(|us| Utc.timestamp_micros(us).single());
                        match newest {
                            Some(t) => {
                                let age = opts.as_of.signed_duration_since(t);
                                let limit = chrono::Duration::from_std(*max_age).unwrap_or(chrono::Duration::MAX);
                                out.passed = age <= limit;
                                let age_std = age.to_std().unwrap_or_default();
                                out.observed = serde_json::json!({"newest": t.to_rfc3339(), "age_seconds": age.num_seconds(), "as_of": opts.as_of.to_rfc3339()});
                                out.summary = format!(
                                    "newest {} is {} old at {} (max {})",
                                    t.format("%Y-%m-%d %H:%M:%S"),
                                    if age.num_seconds() < 0 { "in the future, 0s".to_string() } else { short_age(age_std.as_secs()) },
                                    opts.as_of.format("%Y-%m-%d %H:%M:%S"),
                                    reel_common::duration::format(*max_age)
                                );
                            }
                            None => {
                                out.passed = false;
                                out.observed = serde_json::Value::Null;
                                out.summary = "no values: the table has no rows with a timestamp".into();
                            }
                        }
                    }
                    _ => return Err(Error::Internal("value plan".into())),
                }
            }
        }
        results.push(out);
    }
    let status = if results.iter().any(|r| !r.passed && r.severity == Severity::Error) {
        Status::Failed
    } else if results.iter().any(|r| !r.passed) {
        Status::Warned
    } else {
        Status::Passed
    };
    Ok(Report {
        validation_id: RunId::new().0,
        table: table.clone(),
        table_version: session.table_version(&table).unwrap_or(-1),
        suite: suite.path.display().to_string(),
        filter,
        status,
        rows,
        scans,
        queries,
        seconds: clock.elapsed().as_secs_f64(),
        started_at,
        finished_at: Utc::now(),
        scan_sql,
        results,
    })
}

/// An age in its two largest units: `3d4h`, `2h5m`, `45s`.
fn short_age(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60, secs % 60);
    if d > 0 {
        format!("{d}d{h}h")
    } else if h > 0 {
        format!("{h}h{m}m")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(25_000_095), "25,000,095");
        assert_eq!(thousands(-1234), "-1,234");
    }

    #[test]
    fn ages_keep_two_units() {
        assert_eq!(short_age(3 * 86_400 + 4 * 3600 + 59), "3d4h");
        assert_eq!(short_age(7500), "2h5m");
        assert_eq!(short_age(45), "45s");
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("user_id"), "\"user_id\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
    }
}

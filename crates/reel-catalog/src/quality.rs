//! Validation results: one row per validation of a table version, one per expectation.
//!
//! ```text
//!  reelhouse validate / a pipeline's validate task
//!    record_validation ──> reel_validations         (table@version, suite, status, rows, run)
//!                          reel_validation_results  (expectation, observed, failing, examples, SQL)
//!  reelhouse validate --history, the dashboard <── validations / validation
//! ```
use chrono::{DateTime, Utc};
use reel_common::TableRef;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::catalog::{parse_ts, ts};
use crate::{Catalog, Error, Result};

/// Statements creating the quality tables; each is idempotent.
pub(crate) const QUALITY_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS reel_validations (
        validation_id TEXT NOT NULL PRIMARY KEY,
        zone TEXT NOT NULL,
        name TEXT NOT NULL,
        table_version BIGINT NOT NULL,
        suite TEXT NOT NULL,
        run_id TEXT,
        task_id TEXT,
        status TEXT NOT NULL,
        row_count BIGINT NOT NULL,
        scans BIGINT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS reel_validations_table ON reel_validations (zone, name, started_at)",
    "CREATE TABLE IF NOT EXISTS reel_validation_results (
        validation_id TEXT NOT NULL,
        ordinal BIGINT NOT NULL,
        expectation TEXT NOT NULL,
        kind TEXT NOT NULL,
        columns TEXT NOT NULL,
        severity TEXT NOT NULL,
        passed BIGINT NOT NULL,
        observed TEXT NOT NULL,
        failing BIGINT,
        considered BIGINT,
        examples TEXT NOT NULL,
        sql_text TEXT NOT NULL,
        PRIMARY KEY (validation_id, ordinal)
    )",
];

/// The result of one expectation, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExpectationRecord {
    /// Position in the suite, from 0.
    pub ordinal: i64,
    /// A readable name (`unique(user_id, movie_id)`).
    pub expectation: String,
    /// The check (`unique`, `between`, ...).
    pub kind: String,
    /// The columns it looks at.
    pub columns: Vec<String>,
    /// `error` or `warn`.
    pub severity: String,
    /// Whether it held.
    pub passed: bool,
    /// The observed value (a number, a timestamp, counts), JSON.
    pub observed: serde_json::Value,
    /// Rows that broke a row check.
    pub failing: Option<i64>,
    /// Rows a row check looked at.
    pub considered: Option<i64>,
    /// A few failing rows, JSON.
    pub examples: serde_json::Value,
    /// The SQL that computed it.
    pub sql: String,
}

/// A validation of one table version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationRecord {
    /// Its id.
    pub validation_id: String,
    /// The table.
    pub table: TableRef,
    /// The Delta version validated.
    pub table_version: i64,
    /// The expectations file.
    pub suite: String,
    /// The pipeline run, when a pipeline validated.
    pub run_id: Option<String>,
    /// The pipeline task, when a pipeline validated.
    pub task_id: Option<String>,
    /// `passed`, `warned` (only `warn` expectations failed) or `failed`.
    pub status: String,
    /// Rows validated.
    pub row_count: i64,
    /// Table scans it took.
    pub scans: i64,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    pub finished_at: DateTime<Utc>,
    /// One entry per expectation, in suite order.
    pub results: Vec<ExpectationRecord>,
}

fn json_col(r: &AnyRow, i: usize, what: &'static str, action: &str) -> Result<serde_json::Value> {
    let text: String = r.try_get(i).map_err(Error::query(action.to_string()))?;
    serde_json::from_str(&text).map_err(|e| Error::BadStoredValue { what, value: text.clone(), reason: e.to_string() })
}

impl Catalog {
    /// Records a validation and its results in one transaction.
    pub async fn record_validation(&self, v: &ValidationRecord) -> Result<()> {
        let action = format!("recording validation {} of {}", v.validation_id, v.table);
        let q = || Error::query(action.clone());
        let mut tx = self.pool().begin().await.map_err(q())?;
        sqlx::query(
            "INSERT INTO reel_validations (validation_id, zone, name, table_version, suite, run_id, task_id, status,
                row_count, scans, started_at, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&v.validation_id)
        .bind(v.table.zone.as_str())
        .bind(v.table.name.as_str())
        .bind(v.table_version)
        .bind(&v.suite)
        .bind(v.run_id.as_deref())
        .bind(v.task_id.as_deref())
        .bind(&v.status)
        .bind(v.row_count)
        .bind(v.scans)
        .bind(ts(v.started_at))
        .bind(ts(v.finished_at))
        .execute(&mut *tx)
        .await
        .map_err(q())?;
        for e in &v.results {
            sqlx::query(
                "INSERT INTO reel_validation_results (validation_id, ordinal, expectation, kind, columns, severity, passed,
                    observed, failing, considered, examples, sql_text)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&v.validation_id)
            .bind(e.ordinal)
            .bind(&e.expectation)
            .bind(&e.kind)
            .bind(serde_json::to_string(&e.columns).unwrap_or_else(|_| "[]".into()))
            .bind(&e.severity)
            .bind(i64::from(e.passed))
            .bind(e.observed.to_string())
            .bind(e.failing)
            .bind(e.considered)
            .bind(e.examples.to_string())
            .bind(&e.sql)
            .execute(&mut *tx)
            .await
            .map_err(q())?;
        }
        tx.commit().await.map_err(q())?;
        Ok(())
    }

    /// The newest `limit` validations (of one table, or of all), newest first, with results.
    pub async fn validations(&self, table: Option<&TableRef>, limit: usize) -> Result<Vec<ValidationRecord>> {
        let action = "listing validations";
        let (zone, name) = table.map(|t| (t.zone.as_str(), t.name.as_str())).unwrap_or(("", ""));
        let rows = sqlx::query(
            "SELECT validation_id, zone, name, table_version, suite, run_id, task_id, status, row_count, scans,
                started_at, finished_at
             FROM reel_validations WHERE ($1 = '' OR (zone = $1 AND name = $2))
             ORDER BY started_at DESC, validation_id DESC LIMIT $3",
        )
        .bind(zone)
        .bind(name)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await
        .map_err(Error::query(action))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let q = || Error::query(action);
            let zone: String = r.try_get(1).map_err(q())?;
            let name: String = r.try_get(2).map_err(q())?;
            let t: TableRef = format!("{zone}.{name}").parse().map_err(|e: reel_common::Error| Error::BadStoredValue {
                what: "table name",
                value: format!("{zone}.{name}"),
                reason: e.to_string(),
            })?;
            let id: String = r.try_get(0).map_err(q())?;
            let results = self.validation_results(&id).await?;
            out.push(ValidationRecord {
                validation_id: id,
                table: t,
                table_version: r.try_get(3).map_err(q())?,
                suite: r.try_get(4).map_err(q())?,
                run_id: r.try_get(5).map_err(q())?,
                task_id: r.try_get(6).map_err(q())?,
                status: r.try_get(7).map_err(q())?,
                row_count: r.try_get(8).map_err(q())?,
                scans: r.try_get(9).map_err(q())?,
                started_at: parse_ts(&r.try_get::<String, _>(10).map_err(q())?)?,
                finished_at: parse_ts(&r.try_get::<String, _>(11).map_err(q())?)?,
                results,
            });
        }
        Ok(out)
    }

    async fn validation_results(&self, id: &str) -> Result<Vec<ExpectationRecord>> {
        let action = format!("reading the results of validation {id}");
        let rows = sqlx::query(
            "SELECT ordinal, expectation, kind, columns, severity, passed, observed, failing, considered, examples, sql_text
             FROM reel_validation_results WHERE validation_id = $1 ORDER BY ordinal",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await
        .map_err(Error::query(action.clone()))?;
        rows.iter()
            .map(|r| {
                let q = || Error::query(action.clone());
                let columns: String = r.try_get(3).map_err(q())?;
                Ok(ExpectationRecord {
                    ordinal: r.try_get(0).map_err(q())?,
                    expectation: r.try_get(1).map_err(q())?,
                    kind: r.try_get(2).map_err(q())?,
                    columns: serde_json::from_str(&columns).map_err(|e| Error::BadStoredValue {
                        what: "expectation columns",
                        value: columns.clone(),
                        reason: e.to_string(),
                    })?,
                    severity: r.try_get(4).map_err(q())?,
                    passed: r.try_get::<i64, _>(5).map_err(q())? != 0,
                    observed: json_col(r, 6, "observed value", &action)?,
                    failing: r.try_get(7).map_err(q())?,
                    considered: r.try_get(8).map_err(q())?,
                    examples: json_col(r, 9, "failing examples", &action)?,
                    sql: r.try_get(10).map_err(q())?,
                })
            })
            .collect()
    }
}

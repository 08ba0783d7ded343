//! Extracts from source databases and their watermarks.
//!
//! ```text
//!  ingest postgres ──> lake commit (version N, commitInfo carries the watermark range)
//!                 ──> record_version(N)                 reel_table_versions
//!                 ──> record_extract(N) in one transaction:
//!                        reel_extracts   (url, source, query, watermark column, (low, high], rows)
//!                        reel_lineage    (kind "postgres": where version N came from)
//!                        reel_watermarks (the table's current high watermark)
//!  next run <── watermark(table): only rows above it are extracted
//! ```
//!
//! The watermark moves only after the lake commit it describes, so a failed load leaves it
//! where it was and the next run reads the same rows again (never twice: the failed load
//! committed nothing). The lake's commit is the source of truth: if the process dies between
//! the commit and this record, the next run finds the newer watermark in the table's Delta
//! log and repairs the catalog.
use chrono::{DateTime, Utc};
use reel_common::TableRef;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::catalog::{parse_ts, ts};
use crate::{Catalog, Error, Result};

/// Statements creating the extract tables; each is idempotent.
pub(crate) const EXTRACT_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS reel_watermarks (
        zone TEXT NOT NULL,
        name TEXT NOT NULL,
        source TEXT NOT NULL,
        column_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        table_version BIGINT NOT NULL,
        run_id TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (zone, name)
    )",
    "CREATE TABLE IF NOT EXISTS reel_extracts (
        zone TEXT NOT NULL,
        name TEXT NOT NULL,
        version BIGINT NOT NULL,
        run_id TEXT NOT NULL,
        url TEXT NOT NULL,
        source TEXT NOT NULL,
        query TEXT NOT NULL,
        watermark_column TEXT,
        watermark_kind TEXT,
        low TEXT,
        high TEXT,
        row_count BIGINT NOT NULL,
        quarantined BIGINT NOT NULL,
        attempts BIGINT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (zone, name, version)
    )",
];

/// A table's current watermark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Watermark {
    /// The lake table loaded incrementally.
    pub table: TableRef,
    /// What it is loaded from (`table public.payment`, `query SELECT ...`).
    pub source: String,
    /// The watermark column.
    pub column: String,
    /// Its kind (`int`, `numeric`, `date`, `timestamp`, `timestamptz`).
    pub kind: String,
    /// The highest value loaded, as text.
    pub value: String,
    /// The table version whose commit loaded it.
    pub table_version: i64,
    /// The run that loaded it.
    pub run_id: String,
    /// When it was recorded.
    pub updated_at: DateTime<Utc>,
}

/// What an extract does to the table's watermark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WatermarkChange {
    /// Leave it as it is (an incremental extract that found no new rows).
    Keep,
    /// Set it to this kind and value.
    Set {
        /// `int`, `timestamp`, ...
        kind: String,
        /// The value as text.
        value: String,
    },
    /// Remove it (a full extract: the next incremental one starts from scratch).
    Clear,
}

/// One extract to record: what [`Catalog::record_extract`] takes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewExtract {
    /// The lake table written.
    pub table: TableRef,
    /// The Delta version the extract committed.
    pub version: i64,
    /// The run.
    pub run_id: String,
    /// The database URL, password masked.
    pub url: String,
    /// `table public.payment` or `query SELECT ...`.
    pub source: String,
    /// The SELECT that ran.
    pub query: String,
    /// The watermark column, for an incremental extract.
    pub watermark_column: Option<String>,
    /// The rows extracted had watermark above this value (`None`: from the start).
    pub low: Option<String>,
    /// ... and at most this one (`None`: no rows).
    pub high: Option<String>,
    /// Rows loaded.
    pub rows: i64,
    /// Rows quarantined.
    pub quarantined: i64,
    /// Attempts it took (1 when no connection broke).
    pub attempts: i64,
    /// The watermark after this extract.
    pub change: WatermarkChange,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A recorded extract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtractEntry {
    /// The lake table.
    pub table: TableRef,
    /// The version it committed.
    pub version: i64,
    /// The run.
    pub run_id: String,
    /// The database, password masked.
    pub url: String,
    /// What was extracted.
    pub source: String,
    /// The SELECT that ran.
    pub query: String,
    /// The watermark column.
    pub watermark_column: Option<String>,
    /// Its kind.
    pub watermark_kind: Option<String>,
    /// Lower bound (exclusive).
    pub low: Option<String>,
    /// Upper bound (inclusive).
    pub high: Option<String>,
    /// Rows loaded.
    pub rows: i64,
    /// Rows quarantined.
    pub quarantined: i64,
    /// Attempts.
    pub attempts: i64,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl NewExtract {
    /// The lineage text: `postgres://u@h/db table public.payment, payment_date in (a, b]`.
    pub fn lineage_source(&self) -> String {
        let mut s = format!("{} {}", self.url, self.source);
        if let Some(c) = &self.watermark_column {
            let low = self.low.as_deref().unwrap_or("-inf");
            match &self.high {
                Some(h) => s.push_str(&format!(", {c} in ({low}, {h}]")),
                None => s.push_str(&format!(", {c} > {low} (no new rows)")),
            }
        }
        s
    }
}

impl Catalog {
    /// Records an extract in one transaction: the extract itself, a `postgres` lineage
    /// entry of its table version, and the change to the table's watermark. Recording the
    /// same version again replaces it.
    pub async fn record_extract(&self, e: &NewExtract) -> Result<()> {
        let t = &e.table;
        let action = format!("recording the extract of {t} version {}", e.version);
        let q = || Error::query(action.clone());
        let kind = match &e.change {
            WatermarkChange::Set { kind, value } => {
                if e.watermark_column.is_none() {
                    return Err(Error::InvalidArgument {
                        what: "watermark change",
                        value: value.clone(),
                        reason: "an extract without a watermark column cannot set a watermark".into(),
                    });
                }
                Some(kind.clone())
            }
            _ => None,
        };
        let mut tx = self.pool().begin().await.map_err(q())?;
        sqlx::query("DELETE FROM reel_extracts WHERE zone = $1 AND name = $2 AND version = $3")
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .bind(e.version)
            .execute(&mut *tx)
            .await
            .map_err(q())?;
        sqlx::query(
            "INSERT INTO reel_extracts (zone, name, version, run_id, url, source, query, watermark_column, watermark_kind,
                low, high, row_count, quarantined, attempts, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(t.zone.as_str())
        .bind(t.name.as_str())
        .bind(e.version)
        .bind(&e.run_id)
        .bind(&e.url)
        .bind(&e.source)
        .bind(&e.query)
        .bind(e.watermark_column.clone())
        .bind(kind)
        .bind(e.low.clone())
        .bind(e.high.clone())
        .bind(e.rows)
        .bind(e.quarantined)
        .bind(e.attempts)
        .bind(ts(e.created_at))
        .execute(&mut *tx)
        .await
        .map_err(q())?;
        sqlx::query("DELETE FROM reel_lineage WHERE zone = $1 AND name = $2 AND version = $3 AND kind = 'postgres'")
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .bind(e.version)
            .execute(&mut *tx)
            .await
            .map_err(q())?;
        let next: Option<i64> = sqlx::query("SELECT MAX(ordinal) FROM reel_lineage WHERE zone = $1 AND name = $2 AND version = $3")
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .bind(e.version)
            .fetch_one(&mut *tx)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(q())?;
        sqlx::query(
            "INSERT INTO reel_lineage (zone, name, version, ordinal, kind, source, source_version, size, sha256, modified_at, ingested_at)
             VALUES ($1, $2, $3, $4, 'postgres', $5, NULL, NULL, NULL, NULL, $6)",
        )
        .bind(t.zone.as_str())
        .bind(t.name.as_str())
        .bind(e.version)
        .bind(next.map_or(0, |n| n + 1))
        .bind(e.lineage_source())
        .bind(ts(e.created_at))
        .execute(&mut *tx)
        .await
        .map_err(q())?;
        match &e.change {
            WatermarkChange::Keep => {}
            WatermarkChange::Clear => {
                sqlx::query("DELETE FROM reel_watermarks WHERE zone = $1 AND name = $2")
                    .bind(t.zone.as_str())
                    .bind(t.name.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(q())?;
            }
            WatermarkChange::Set { kind, value } => {
                let column = e.watermark_column.as_deref().unwrap_or_default();
                sqlx::query(
                    "INSERT INTO reel_watermarks (zone, name, source, column_name, kind, value, table_version, run_id, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                     ON CONFLICT (zone, name) DO UPDATE SET source = excluded.source, column_name = excluded.column_name,
                        kind = excluded.kind, value = excluded.value, table_version = excluded.table_version,
                        run_id = excluded.run_id, updated_at = excluded.updated_at",
                )
                .bind(t.zone.as_str())
                .bind(t.name.as_str())
                .bind(&e.source)
                .bind(column)
                .bind(kind)
                .bind(value)
                .bind(e.version)
                .bind(&e.run_id)
                .bind(ts(e.created_at))
                .execute(&mut *tx)
                .await
                .map_err(q())?;
            }
        }
        tx.commit().await.map_err(q())?;
        Ok(())
    }

    /// The table's current watermark, if it is loaded incrementally.
    pub async fn watermark(&self, t: &TableRef) -> Result<Option<Watermark>> {
        let action = format!("reading the watermark of {t}");
        let row = sqlx::query(
            "SELECT source, column_name, kind, value, table_version, run_id, updated_at FROM reel_watermarks
             WHERE zone = $1 AND name = $2",
        )
        .bind(t.zone.as_str())
        .bind(t.name.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(Error::query(action.clone()))?;
        let Some(r) = row else { return Ok(None) };
        let q = || Error::query(action.clone());
        Ok(Some(Watermark {
            table: t.clone(),
            source: r.try_get(0).map_err(q())?,
            column: r.try_get(1).map_err(q())?,
            kind: r.try_get(2).map_err(q())?,
            value: r.try_get(3).map_err(q())?,
            table_version: r.try_get(4).map_err(q())?,
            run_id: r.try_get(5).map_err(q())?,
            updated_at: parse_ts(&r.try_get::<String, _>(6).map_err(q())?)?,
        }))
    }

    /// Removes a table's watermark; returns whether there was one.
    pub async fn clear_watermark(&self, t: &TableRef) -> Result<bool> {
        let done = sqlx::query("DELETE FROM reel_watermarks WHERE zone = $1 AND name = $2")
            .bind(t.zone.as_str())
            .bind(t.name.as_str())
            .execute(self.pool())
            .await
            .map_err(Error::query(format!("clearing the watermark of {t}")))?;
        Ok(done.rows_affected() > 0)
    }

    /// The extracts recorded for a table, newest version first.
    pub async fn extracts(&self, t: &TableRef) -> Result<Vec<ExtractEntry>> {
        let action = format!("reading the extracts of {t}");
        let rows = sqlx::query(
            "SELECT version, run_id, url, source, query, watermark_column, watermark_kind, low, high, row_count, quarantined,
                    attempts, created_at
             FROM reel_extracts WHERE zone = $1 AND name = $2 ORDER BY version DESC",
        )
        .bind(t.zone.as_str())
        .bind(t.name.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(Error::query(action.clone()))?;
        rows.iter().map(|r| extract_entry(t, r, &action)).collect()
    }
}

fn extract_entry(t: &TableRef, r: &AnyRow, action: &str) -> Result<ExtractEntry> {
    let q = || Error::query(action.to_string());
    Ok(ExtractEntry {
        table: t.clone(),
        version: r.try_get(0).map_err(q())?,
        run_id: r.try_get(1).map_err(q())?,
        url: r.try_get(2).map_err(q())?,
        source: r.try_get(3).map_err(q())?,
        query: r.try_get(4).map_err(q())?,
        watermark_column: r.try_get(5).map_err(q())?,
        watermark_kind: r.try_get(6).map_err(q())?,
        low: r.try_get(7).map_err(q())?,
        high: r.try_get(8).map_err(q())?,
        rows: r.try_get(9).map_err(q())?,
        quarantined: r.try_get(10).map_err(q())?,
        attempts: r.try_get(11).map_err(q())?,
        created_at: parse_ts(&r.try_get::<String, _>(12).map_err(q())?)?,
    })
}

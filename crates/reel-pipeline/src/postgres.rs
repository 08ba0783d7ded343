//! `ingest postgres`: a table or a query of a PostgreSQL database into a lake table, whole
//! or incrementally by a watermark column, with retries that never load a row twice.
//!
//! ```text
//!  effective watermark = the catalog's, or a newer one found in the table's Delta log
//!  attempt 1..=retries+1:
//!     connect ─> plan (types, COPY ... WHERE col > low) ─> COPY TO STDOUT (binary)
//!        batches ──> TableWriter(into)           (+ ds column for raw tables)
//!        bad rows ─> TableWriter(quarantine.<name>)
//!     connection broken? abort both writers (nothing visible), wait, try again
//!  commit quarantine, commit the table (its commitInfo carries the watermark range)
//!  catalog: record_version, record_extract (lineage + the new watermark), finish_run
//! ```
//!
//! Write modes: a full extract replaces the run day's partition of a `raw` table (other
//! zones: the whole table); an incremental one appends; `--full-refresh` replaces the whole
//! table and restarts the watermark.
//!
//! Why no double load: rows become visible only through the lake commit, and the watermark
//! advances only with (and after) it. A failed attempt committed nothing, so the retry reads
//! the same range again; a crash after the commit but before the catalog update is repaired
//! from the commit's own record of its watermark.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::Utc;
use futures::future::BoxFuture;
use reel_catalog::{ColumnEntry, NewExtract, NewTableVersion, RunStatus, WatermarkChange};
use reel_common::{Ds, RunId, TableRef, Zone};
use reel_lake::{TableWriter, WriteMode};
use reel_postgres::{BadRow, ExtractPlan, ExtractRequest, Extraction, MappingOptions, Source, WatermarkValue};
use serde::Serialize;

use crate::{Env, Error, Progress, Result};

/// The commitInfo key under which an extract records its watermark range.
pub const COMMIT_INFO_KEY: &str = "reelhouse_extract";
/// The `application_name` extracts connect with.
pub const APPLICATION_NAME: &str = "reelhouse ingest postgres";

/// Sees an extract as it goes: after each batch written to the lake. For progress
/// displays and for tests that break the connection at a chosen moment.
pub trait ExtractObserver: Send + Sync {
    /// Called after a batch was handed to the lake writer: the attempt (from 1), the rows
    /// written so far in this attempt, and the server process serving the COPY.
    fn after_batch(&self, attempt: u32, rows: u64, backend_pid: i32) -> BoxFuture<'static, ()>;
}

/// What to extract and where to put it.
#[derive(Clone)]
pub struct PgIngestRequest {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// The table or query.
    pub source: Source,
    /// The watermark column, for an incremental extract.
    pub watermark: Option<String>,
    /// The lake table to write.
    pub into: TableRef,
    /// The run day (the partition of a raw table).
    pub ds: Ds,
    /// The command line, for lineage.
    pub command: String,
    /// Rows per Arrow batch.
    pub batch_rows: usize,
    /// Attempts after the first when the connection breaks.
    pub retries: u32,
    /// Wait before the first retry (doubled each time).
    pub retry_delay: Duration,
    /// Type mapping options.
    pub mapping: MappingOptions,
    /// Replace the whole table and restart the watermark.
    pub full_refresh: bool,
    /// Sees every batch.
    pub observer: Option<Arc<dyn ExtractObserver>>,
}

impl std::fmt::Debug for PgIngestRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgIngestRequest")
            .field("url", &reel_postgres::mask_url(&self.url))
            .field("source", &self.source)
            .field("watermark", &self.watermark)
            .field("into", &self.into)
            .field("ds", &self.ds)
            .finish_non_exhaustive()
    }
}

impl PgIngestRequest {
    /// A request with the defaults: today's run day, 64Ki-row batches, 3 retries after
    /// 500 ms, default type mapping.
    pub fn new(url: &str, source: Source, into: TableRef, command: &str) -> Self {
        PgIngestRequest {
            url: url.to_string(),
            source,
            watermark: None,
            into,
            ds: Ds::today(),
            command: command.to_string(),
            batch_rows: 64 * 1024,
            retries: 3,
            retry_delay: Duration::from_millis(500),
            mapping: MappingOptions::default(),
            full_refresh: false,
            observer: None,
        }
    }

    /// The default lake table for a source table: `raw.<name>` (lower case, non-alphanumerics
    /// as `_`).
    pub fn default_into(table: &str) -> Result<TableRef> {
        let last = table.rsplit('.').next().unwrap_or(table).trim_matches('"');
        let mut name: String = last.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            name.insert_str(0, "t_");
        }
        TableRef::try_new(Zone::Raw, &name).map_err(Error::from)
    }
}

/// What an extract did.
#[derive(Debug, Clone, Serialize)]
pub struct PgIngestOutcome {
    /// The run (also in lineage).
    pub run_id: String,
    /// The database, password masked.
    pub url: String,
    /// `table public.payment` or `query ...`.
    pub source: String,
    /// The lake table written.
    pub table: String,
    /// Its new version.
    pub version: i64,
    /// `append`, `replace ds=...` or `overwrite`.
    pub mode: String,
    /// The run day.
    pub ds: String,
    /// Rows written.
    pub rows: u64,
    /// Rows in the table afterwards.
    pub rows_in_table: i64,
    /// Rows sent to quarantine.
    pub quarantined: u64,
    /// The quarantine table, when rows went there.
    pub quarantine_table: Option<String>,
    /// `numeric` values rounded to the mapped scale.
    pub rounded: u64,
    /// The watermark column.
    pub watermark_column: Option<String>,
    /// Rows extracted were above this value.
    pub low: Option<String>,
    /// The highest value loaded (the new watermark).
    pub high: Option<String>,
    /// Attempts made (1 unless the connection broke).
    pub attempts: u32,
    /// Why earlier attempts failed.
    pub retried_errors: Vec<String>,
    /// The source's columns with their PostgreSQL and Arrow types.
    pub columns: Vec<ColumnMapping>,
    /// Bytes of COPY data read in the successful attempt.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
}

/// One column as mapped.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnMapping {
    /// The name.
    pub name: String,
    /// The PostgreSQL type.
    pub pg_type: String,
    /// The Arrow type in the lake.
    pub arrow_type: String,
    /// Whether it may be NULL.
    pub nullable: bool,
}

/// The quarantine columns, the same as the file ingests': source, line (the row's position
/// in the extract), raw (the row as JSON), reason, ds.
fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("ds", DataType::Utf8, false),
    ]))
}

/// The watermark to start from, and where it came from.
#[derive(Debug, Clone)]
struct Start {
    low: Option<WatermarkValue>,
    /// Set when the catalog was behind the lake (repaired) or ignored.
    note: Option<String>,
}

/// Runs an extract (see the module docs).
pub async fn ingest_postgres(env: &Env, req: &PgIngestRequest, progress: &dyn Progress) -> Result<PgIngestOutcome> {
    let run_id = RunId::new();
    env.catalog.start_run(&run_id, &req.command).await?;
    match run(env, req, &run_id, progress).await {
        Ok(outcome) => {
            let summary = serde_json::to_value(&outcome).unwrap_or_default();
            env.catalog.finish_run(&run_id, RunStatus::Succeeded, &summary).await?;
            Ok(outcome)
        }
        Err(e) => {
            let _ = env.catalog.finish_run(&run_id, RunStatus::Failed, &serde_json::json!({ "error": e.to_string() })).await;
            Err(e)
        }
    }
}

fn mode_of(req: &PgIngestRequest) -> WriteMode {
    if req.full_refresh {
        WriteMode::Overwrite
    } else if req.watermark.is_some() {
        WriteMode::Append
    } else if req.into.zone == Zone::Raw {
        WriteMode::ReplacePartition {
            column: "ds".into(),
            value: req.ds.to_string(),
        }
    } else {
        WriteMode::Overwrite
    }
}

fn describe_mode(m: &WriteMode) -> String {
    match m {
        WriteMode::Overwrite => "overwrite".into(),
        WriteMode::Append => "append".into(),
        WriteMode::ReplacePartition { column, value } => format!("replace {column}={value}"),
    }
}

async fn run(env: &Env, req: &PgIngestRequest, run_id: &RunId, progress: &dyn Progress) -> Result<PgIngestOutcome> {
    let started = Instant::now();
    let url = reel_postgres::mask_url(&req.url);
    let label = req.source.describe();
    if let Some(w) = &req.watermark
        && w.trim().is_empty()
    {
        return Err(Error::BadRequest("--watermark is empty; name a column such as last_update".into()));
    }
    let start = effective_start(env, req, &label).await?;
    if let Some(note) = &start.note {
        tracing::warn!(table = %req.into, "{note}");
    }
    let mode = mode_of(req);
    let raw = req.into.zone == Zone::Raw;
    let quarantine_table = TableRef::try_new(Zone::Quarantine, &req.into.name)?;

    let mut retried_errors = Vec::new();
    let mut attempt = 0u32;
    let (plan, outcome) = loop {
        attempt += 1;
        match try_extract(env, req, &start, &mode, raw, &quarantine_table, run_id, attempt, progress).await {
            Ok(done) => break done,
            Err(e) => {
                let retryable = matches!(&e, Error::Postgres(pg) if pg.is_retryable());
                if retryable && attempt <= req.retries {
                    let wait = req.retry_delay * 2u32.saturating_pow(attempt - 1);
                    tracing::warn!(attempt, error = %e, wait_ms = wait.as_millis() as u64, "extract failed; retrying on a new connection");
                    retried_errors.push(e.to_string());
                    tokio::time::sleep(wait).await;
                    continue;
                }
                if retryable {
                    return Err(Error::BadRequest(format!(
                        "{e}; gave up after {attempt} attempts (nothing was committed and the watermark did not move: rerun when the server is back, or raise --retries)"
                    )));
                }
                return Err(e);
            }
        }
    };
    let Attempt { metrics, info, rows, quarantined, rounded, high, bytes, quarantine_written } = outcome;

    // The catalog: the version, then the extract with the new watermark.
    let now = Utc::now();
    let mut tags = BTreeMap::new();
    tags.insert("source".to_string(), "postgres".to_string());
    tags.insert("zone".to_string(), req.into.zone.to_string());
    env.catalog
        .record_version(NewTableVersion {
            table: req.into.clone(),
            version: metrics.version,
            operation: describe_mode(&mode),
            columns: ColumnEntry::from_schema(&info.schema),
            row_count: info.row_count.map(|n| n as i64).unwrap_or(-1),
            partition_columns: info.partition_columns.clone(),
            location: info.location.clone(),
            size_bytes: info.size_bytes as i64,
            num_files: info.num_files as i64,
            run_id: run_id.clone(),
            command: req.command.clone(),
            created_at: now,
            description: Some(format!("Extracted from PostgreSQL ({label})")),
            tags: tags.clone(),
            sources: vec![],
            upstream: vec![],
        })
        .await?;
    let change = match (&req.watermark, high) {
        (Some(_), Some(h)) => WatermarkChange::Set { kind: h.kind().to_string(), value: h.to_string() },
        (Some(_), None) if req.full_refresh => WatermarkChange::Clear,
        (Some(_), None) => WatermarkChange::Keep,
        (None, _) => WatermarkChange::Clear,
    };
    let extract = NewExtract {
        table: req.into.clone(),
        version: metrics.version,
        run_id: run_id.to_string(),
        url: url.clone(),
        source: label.clone(),
        query: plan.select.clone(),
        watermark_column: req.watermark.clone(),
        low: start.low.map(|v| v.to_string()),
        high: high.map(|v| v.to_string()),
        rows: rows as i64,
        quarantined: quarantined as i64,
        attempts: i64::from(attempt),
        change,
        created_at: now,
    };
    env.catalog.record_extract(&extract).await?;
    if let Some((qm, qinfo)) = &quarantine_written {
        env.catalog
            .record_version(NewTableVersion {
                table: quarantine_table.clone(),
                version: qm.version,
                operation: describe_mode(&quarantine_mode(&mode, req)),
                columns: ColumnEntry::from_schema(&qinfo.schema),
                row_count: qinfo.row_count.map(|n| n as i64).unwrap_or(-1),
                partition_columns: qinfo.partition_columns.clone(),
                location: qinfo.location.clone(),
                size_bytes: qinfo.size_bytes as i64,
                num_files: qinfo.num_files as i64,
                run_id: run_id.clone(),
                command: req.command.clone(),
                created_at: now,
                description: Some("Rows of PostgreSQL extracts that could not be loaded: the row as JSON and the reason".into()),
                tags,
                sources: vec![],
                upstream: vec![],
            })
            .await?;
    }

    Ok(PgIngestOutcome {
        run_id: run_id.to_string(),
        url,
        source: label,
        table: req.into.to_string(),
        version: metrics.version,
        mode: describe_mode(&mode),
        ds: req.ds.to_string(),
        rows,
        rows_in_table: info.row_count.map(|n| n as i64).unwrap_or(-1),
        quarantined,
        quarantine_table: (quarantined > 0).then(|| quarantine_table.to_string()),
        rounded,
        watermark_column: req.watermark.clone(),
        low: start.low.map(|v| v.to_string()),
        high: high.map(|v| v.to_string()),
        attempts: attempt,
        retried_errors,
        columns: plan
            .columns
            .iter()
            .map(|c| ColumnMapping {
                name: c.name.clone(),
                pg_type: c.pg_type.clone(),
                arrow_type: c.kind.arrow_type().to_string(),
                nullable: c.nullable,
            })
            .collect(),
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Quarantine rows follow the table: appended for an append, replaced per day otherwise.
fn quarantine_mode(mode: &WriteMode, req: &PgIngestRequest) -> WriteMode {
    match mode {
        WriteMode::Append => WriteMode::Append,
        _ => WriteMode::ReplacePartition {
            column: "ds".into(),
            value: req.ds.to_string(),
        },
    }
}

/// The watermark to extract above: the catalog's, unless the lake holds a newer extract
/// commit (a crash between the commit and the catalog update); none for a full extract.
async fn effective_start(env: &Env, req: &PgIngestRequest, label: &str) -> Result<Start> {
    let Some(column) = &req.watermark else {
        return Ok(Start { low: None, note: None });
    };
    if req.full_refresh {
        return Ok(Start { low: None, note: None });
    }
    let t = &req.into;
    let stored = env.catalog.watermark(t).await?;
    if let Some(w) = &stored
        && (w.source != label || &w.column != column)
    {
        return Err(Error::BadRequest(format!(
            "{t} is loaded incrementally from {} by {}, not from {label} by {column}; pass --full-refresh to reload it from scratch this way, or --into another table",
            w.source, w.column
        )));
    }
    if !env.lake.exists(t).await? {
        let note = stored.as_ref().map(|w| format!("{t} is gone from the lake; its watermark {} {} is ignored and every row is extracted", w.column, w.value));
        return Ok(Start { low: None, note });
    }
    let after = stored.as_ref().map(|w| w.table_version).unwrap_or(-1);
    let mut from_lake = None;
    for c in env.lake.history_after(t, after).await? {
        if let Some(x) = c.metadata.get(COMMIT_INFO_KEY)
            && x.get("source").and_then(|v| v.as_str()) == Some(label)
            && x.get("column").and_then(|v| v.as_str()) == Some(column.as_str())
        {
            if let (Some(kind), Some(high)) = (x.get("kind").and_then(|v| v.as_str()), x.get("high").and_then(|v| v.as_str())) {
                from_lake = Some((c.version, WatermarkValue::parse(kind, high)?));
            }
            break;
        }
    }
    if let Some((version, v)) = from_lake {
        return Ok(Start {
            low: Some(v),
            note: Some(format!(
                "the catalog's watermark of {t} is behind the lake (version {version} of the table was committed with {column} up to {v}); extracting above that"
            )),
        });
    }
    match stored {
        Some(w) => Ok(Start { low: Some(WatermarkValue::parse(&w.kind, &w.value)?), note: None }),
        None => {
            let rows = env.lake.info(t).await?.row_count.unwrap_or(0);
            if rows > 0 {
                return Err(Error::BadRequest(format!(
                    "{t} already holds {rows} rows but has no watermark for {column}: an incremental extract would load them again; pass --full-refresh to replace the table, or --into a new table"
                )));
            }
            Ok(Start { low: None, note: None })
        }
    }
}

struct Attempt {
    metrics: reel_lake::WriteMetrics,
    info: reel_lake::TableInfo,
    rows: u64,
    quarantined: u64,
    rounded: u64,
    high: Option<WatermarkValue>,
    bytes: u64,
    quarantine_written: Option<(reel_lake::WriteMetrics, reel_lake::TableInfo)>,
}

/// One attempt: connect, plan, stream into uncommitted files; commit only when the whole
/// stream arrived. On any error the writers are aborted, so nothing of the attempt shows.
#[allow(clippy::too_many_arguments)]
async fn try_extract(
    env: &Env,
    req: &PgIngestRequest,
    start: &Start,
    mode: &WriteMode,
    raw: bool,
    quarantine_table: &TableRef,
    run_id: &RunId,
    attempt: u32,
    progress: &dyn Progress,
) -> Result<(ExtractPlan, Attempt)> {
    let mut conn = reel_postgres::connect(&req.url, APPLICATION_NAME).await?;
    let plan = reel_postgres::plan(
        &mut conn,
        &ExtractRequest {
            source: req.source.clone(),
            watermark: req.watermark.clone(),
            low: start.low,
            mapping: req.mapping,
        },
    )
    .await?;
    let source_schema = plan.schema();
    if raw && source_schema.field_with_name("ds").is_ok() {
        return Err(Error::BadRequest(format!(
            "{} has a column named ds, which raw tables reserve for the run day; rename it in a query (--query \"SELECT ..., ds AS source_ds FROM ...\") or write to --into clean.NAME",
            plan.source.describe()
        )));
    }
    let schema = if raw {
        let mut fields: Vec<Field> = source_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(Field::new("ds", DataType::Utf8, false));
        Arc::new(Schema::new(fields))
    } else {
        source_schema.clone()
    };
    let pid = reel_postgres::backend_pid(&mut conn).await?;

    let mut writer = env.lake.writer(&req.into, schema.clone()).with_mode(mode.clone());
    if raw {
        writer = writer.with_partition_columns(vec!["ds".into()]);
    }
    let mut quarantine: Option<TableWriter> = None;
    let ds = req.ds.to_string();
    let label = plan.source.describe();

    progress.begin("extracting", None);
    let result: Result<(u64, reel_postgres::DecodeStats, Option<WatermarkValue>)> = async {
        let mut ex = Extraction::start(&mut conn, &plan, req.batch_rows).await?;
        let mut rows = 0u64;
        while let Some(chunk) = ex.next().await? {
            for batch in chunk.batches {
                let n = batch.num_rows() as u64;
                let batch = if raw { with_ds(&schema, batch, &ds)? } else { batch };
                writer.write(batch).await?;
                rows += n;
                progress.advance(n);
                if let Some(obs) = &req.observer {
                    obs.after_batch(attempt, rows, pid).await;
                }
            }
            if !chunk.bad.is_empty() {
                let w = match quarantine.as_mut() {
                    Some(w) => w,
                    None => quarantine.insert(quarantine_writer(env, quarantine_table, mode, req)),
                };
                w.write(bad_batch(&label, &chunk.bad, &ds)?).await?;
            }
        }
        Ok((rows, ex.stats(), ex.high()))
    }
    .await;
    progress.end();
    let (rows, stats, high) = match result {
        Ok(r) => r,
        Err(e) => {
            abort(writer, quarantine).await;
            return Err(e);
        }
    };
    drop(conn);

    // Quarantine first: a crash between the two commits leaves extra quarantine rows
    // (tagged with this run in the log), never rows loaded without their quarantine.
    let mut quarantine_written = None;
    let replace_old_quarantine = *mode != WriteMode::Append && quarantine.is_none() && env.lake.exists(quarantine_table).await?;
    if replace_old_quarantine {
        // A rerun of a day without bad rows clears that day's old ones.
        quarantine = Some(quarantine_writer(env, quarantine_table, mode, req));
    }
    if let Some(q) = quarantine {
        let m = q.commit().await?;
        quarantine_written = Some((m, env.lake.info(quarantine_table).await?));
    }
    let mut info_map = serde_json::Map::new();
    info_map.insert("run_id".into(), run_id.to_string().into());
    info_map.insert("command".into(), req.command.clone().into());
    info_map.insert(
        COMMIT_INFO_KEY.into(),
        serde_json::json!({
            "url": reel_postgres::mask_url(&req.url),
            "source": label,
            "query": plan.select,
            "column": req.watermark,
            "kind": plan.watermark_kind(),
            "low": start.low.map(|v| v.to_string()),
            "high": high.map(|v| v.to_string()),
            "rows": rows,
            "attempt": attempt,
        }),
    );
    let metrics = writer.with_commit_info(info_map).commit().await.map_err(|e| explain_lake(e, req))?;
    let info = env.lake.info(&req.into).await?;
    Ok((
        plan,
        Attempt {
            metrics,
            info,
            rows,
            quarantined: stats.quarantined,
            rounded: stats.rounded,
            high,
            bytes: stats.bytes,
            quarantine_written,
        },
    ))
}

fn quarantine_writer(env: &Env, t: &TableRef, mode: &WriteMode, req: &PgIngestRequest) -> TableWriter {
    env.lake
        .writer(t, quarantine_schema())
        .with_partition_columns(vec!["ds".into()])
        .with_mode(quarantine_mode(mode, req))
}

async fn abort(writer: TableWriter, quarantine: Option<TableWriter>) {
    for w in std::iter::once(writer).chain(quarantine) {
        let t = w.table().clone();
        if let Err(e) = w.abort().await {
            tracing::warn!(table = %t, error = %e, "could not remove the files of an aborted extract");
        }
    }
}

/// A schema change meets an append: say how to get out.
fn explain_lake(e: reel_lake::Error, req: &PgIngestRequest) -> Error {
    match e {
        reel_lake::Error::SchemaMismatch { .. } => Error::BadRequest(format!(
            "{e}; the source's columns changed since the last load: pass --full-refresh to replace {} with the new columns",
            req.into
        )),
        other => Error::Lake(other),
    }
}

fn with_ds(schema: &SchemaRef, batch: RecordBatch, ds: &str) -> Result<RecordBatch> {
    let n = batch.num_rows();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    cols.push(Arc::new(StringArray::from(vec![ds; n])));
    RecordBatch::try_new(schema.clone(), cols).map_err(|e| Error::Internal(format!("adding ds to an extracted batch: {e}")))
}

fn bad_batch(label: &str, bad: &[BadRow], ds: &str) -> Result<RecordBatch> {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![label; bad.len()])),
        Arc::new(Int64Array::from(bad.iter().map(|b| b.row as i64).collect::<Vec<_>>())),
        Arc::new(StringArray::from(bad.iter().map(|b| b.record.as_str()).collect::<Vec<_>>())),
        Arc::new(StringArray::from(bad.iter().map(|b| b.reason.as_str()).collect::<Vec<_>>())),
        Arc::new(StringArray::from(vec![ds; bad.len()])),
    ];
    RecordBatch::try_new(quarantine_schema(), cols).map_err(|e| Error::Internal(format!("building quarantine rows: {e}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn default_tables_are_raw_and_valid() {
        assert_eq!(PgIngestRequest::default_into("payment").unwrap().to_string(), "raw.payment");
        assert_eq!(PgIngestRequest::default_into("public.payment").unwrap().to_string(), "raw.payment");
        assert_eq!(PgIngestRequest::default_into("\"Sales\".\"Order Lines\"").unwrap().to_string(), "raw.order_lines");
        assert_eq!(PgIngestRequest::default_into("2024_sales").unwrap().to_string(), "raw.t_2024_sales");
    }

    #[test]
    fn write_modes_follow_the_request() {
        let t: TableRef = "raw.payment".parse().unwrap();
        let mut r = PgIngestRequest::new("postgres://u@h/db", Source::Table("payment".into()), t, "test");
        r.ds = "2025-01-02".parse().unwrap();
        assert_eq!(describe_mode(&mode_of(&r)), "replace ds=2025-01-02");
        r.watermark = Some("payment_date".into());
        assert_eq!(describe_mode(&mode_of(&r)), "append");
        r.full_refresh = true;
        assert_eq!(describe_mode(&mode_of(&r)), "overwrite");
        r.full_refresh = false;
        r.watermark = None;
        r.into = "clean.payment".parse().unwrap();
        assert_eq!(describe_mode(&mode_of(&r)), "overwrite");
        assert_eq!(describe_mode(&quarantine_mode(&WriteMode::Append, &r)), "append");
        assert!(format!("{r:?}").contains("postgres://u@h/db"));
    }
}

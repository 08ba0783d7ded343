//! `ingest reviews`: one vendor review file into `raw.reviews`, `clean.reviews` and
//! `quarantine.reviews`, each replacing the run day's partition (a rerun of a day replaces
//! that day, so loading the same file twice changes nothing).
//!
//! ```text
//!  FILE ──reel-ingest::reviews──> raw records, checked reviews, bad lines
//!        reviews already loaded on another day ──> quarantine ("already loaded on ds=...")
//!  raw.reviews[ds] ─> quarantine.reviews[ds] ─> clean.reviews[ds]      (one commit each)
//!  catalog: versions with the file (size, sha256) and clean's upstream raw version
//! ```
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use chrono::Utc;
use reel_catalog::{ColumnEntry, NewTableVersion, RunStatus, SourceEntry};
use reel_common::{Ds, RunId, TableRef, Zone};
use reel_ingest::reviews::{self, BadLine, ParsedReviews};
use reel_lake::WriteMode;
use serde::Serialize;

use crate::{Env, Error, Progress, Result};

/// What to load.
#[derive(Debug, Clone)]
pub struct ReviewsRequest {
    /// The vendor file (CSV or JSONL).
    pub path: PathBuf,
    /// The run day: the partition the file's rows replace.
    pub ds: Ds,
    /// The command line, for lineage.
    pub command: String,
}

/// What a review load did.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewsOutcome {
    /// The run.
    pub run_id: String,
    /// The file.
    pub path: String,
    /// `csv` or `jsonl`.
    pub format: String,
    /// Its SHA-256.
    pub sha256: String,
    /// The run day.
    pub ds: String,
    /// Data lines read.
    pub read: u64,
    /// Reviews in `clean.reviews` for the day.
    pub loaded: u64,
    /// Lines quarantined.
    pub quarantined: u64,
    /// Lines superseded by a later line of the same review.
    pub duplicates: u64,
    /// Reviews already loaded on another day (quarantined, counted in `quarantined`).
    pub already_loaded: u64,
    /// Tables written.
    pub tables: Vec<crate::ingest::TableOutcome>,
    /// Wall time.
    pub seconds: f64,
}

/// Loads a review file (see the module docs).
pub async fn ingest_reviews(env: &Env, req: &ReviewsRequest, progress: &dyn Progress) -> Result<ReviewsOutcome> {
    let run_id = RunId::new();
    env.catalog.start_run(&run_id, &req.command).await?;
    match run(env, req, &run_id, progress).await {
        Ok(o) => {
            env.catalog.finish_run(&run_id, RunStatus::Succeeded, &serde_json::to_value(&o).unwrap_or_default()).await?;
            if o.loaded == 0 && o.read > 0 {
                return Err(Error::BadRequest(format!(
                    "no review of {} could be loaded: all {} lines were quarantined; see `reelhouse sql \"SELECT line, reason FROM quarantine.reviews WHERE ds = '{}'\"`",
                    o.path, o.read, o.ds
                )));
            }
            Ok(o)
        }
        Err(e) => {
            let _ = env.catalog.finish_run(&run_id, RunStatus::Failed, &serde_json::json!({ "error": e.to_string() })).await;
            Err(e)
        }
    }
}

async fn run(env: &Env, req: &ReviewsRequest, run_id: &RunId, progress: &dyn Progress) -> Result<ReviewsOutcome> {
    let started = Instant::now();
    let ds = req.ds;
    let path = req.path.clone();
    progress.begin("parsing", None);
    let parsed: ParsedReviews = tokio::task::spawn_blocking(move || reviews::parse_reviews(&path, ds))
        .await
        .map_err(|e| Error::Internal(format!("the review parser thread: {e}")))??;
    progress.end();
    let ParsedReviews { source, format, raw, mut clean, mut bad, read, duplicates } = parsed;

    // Reviews the vendor already sent on another day stay with that day.
    let clean_t = TableRef::known(Zone::Clean, "reviews");
    let mut already_loaded = 0u64;
    if env.lake.exists(&clean_t).await? && !clean.is_empty() {
        let day = ds.to_string().replace('\'', "");
        let (batches, _) = crate::tables::select(&env.lake, &clean_t, None, "review_id, ds", Some(&format!("ds <> '{day}'"))).await?;
        let mut seen: HashMap<i64, String> = HashMap::new();
        for b in &batches {
            let ids = b.column(0).as_primitive::<Int64Type>();
            let days = arrow::compute::cast(b.column(1), &arrow::datatypes::DataType::Utf8)
                .map_err(|e| Error::Read { what: "clean.reviews ds".into(), reason: e.to_string() })?;
            let days = days.as_string::<i32>();
            for i in 0..b.num_rows() {
                seen.insert(ids.value(i), days.value(i).to_string());
            }
        }
        clean.retain(|r| match seen.get(&r.review_id) {
            Some(day) => {
                already_loaded += 1;
                bad.push(BadLine {
                    line: r.line,
                    raw: format!("{},{},{},...", r.review_id, r.customer_id, r.film_id),
                    reason: format!("review_id {} was already loaded on ds={day}", r.review_id),
                });
                false
            }
            None => true,
        });
        bad.sort_by_key(|b| b.line);
    }

    let file = source.name.clone();
    let entry = SourceEntry {
        path: source.path.display().to_string(),
        size: source.size as i64,
        sha256: source.sha256.clone(),
        modified_at: source.modified,
        ingested_at: Utc::now(),
    };
    let replace = WriteMode::ReplacePartition { column: "ds".into(), value: ds.to_string() };
    let mut tables = Vec::new();
    progress.begin("committing", Some(3));
    let raw_t = TableRef::known(Zone::Raw, "reviews");
    let q_t = TableRef::known(Zone::Quarantine, "reviews");
    let raw_v = write(env, req, run_id, &raw_t, reviews::raw_schema(), raw, &replace, vec![entry.clone()], vec![], &mut tables,
        "Vendor review files as read: every record as text, with file and line, partitioned by run day ds").await?;
    progress.advance(1);
    write(env, req, run_id, &q_t, reviews::quarantine_schema(), reviews::quarantine_batch(&file, &bad, ds)?, &replace, vec![entry.clone()], vec![], &mut tables,
        "Review lines that could not be loaded: file, line, raw text and reason").await?;
    progress.advance(1);
    let loaded = clean.len() as u64;
    write(env, req, run_id, &clean_t, reviews::clean_schema(), reviews::clean_batch(&clean, ds)?, &replace, vec![entry], vec![(raw_t.clone(), raw_v)], &mut tables,
        "One row per vendor review: review_id, customer_id, film_id, review_date, rating (1-5, optional), text; partitioned by run day ds").await?;
    progress.advance(1);
    progress.end();

    Ok(ReviewsOutcome {
        run_id: run_id.to_string(),
        path: source.path.display().to_string(),
        format: format.to_string(),
        sha256: source.sha256,
        ds: ds.to_string(),
        read,
        loaded,
        quarantined: bad.len() as u64,
        duplicates,
        already_loaded,
        tables,
        seconds: started.elapsed().as_secs_f64(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn write(
    env: &Env,
    req: &ReviewsRequest,
    run_id: &RunId,
    t: &TableRef,
    schema: arrow::datatypes::SchemaRef,
    batch: RecordBatch,
    mode: &WriteMode,
    sources: Vec<SourceEntry>,
    upstream: Vec<(TableRef, i64)>,
    tables: &mut Vec<crate::ingest::TableOutcome>,
    description: &str,
) -> Result<i64> {
    let mut info = serde_json::Map::new();
    info.insert("run_id".into(), run_id.to_string().into());
    info.insert("command".into(), req.command.clone().into());
    info.insert("source".into(), req.path.display().to_string().into());
    let mut w = env
        .lake
        .writer(t, schema)
        .with_mode(mode.clone())
        .with_partition_columns(vec!["ds".into()])
        .with_commit_info(info);
    w.write(batch).await?;
    let m = w.commit().await?;
    let ti = env.lake.info(t).await?;
    let mut tags = BTreeMap::new();
    tags.insert("source".to_string(), "vendor reviews".to_string());
    tags.insert("zone".to_string(), t.zone.to_string());
    env.catalog
        .record_version(NewTableVersion {
            table: t.clone(),
            version: m.version,
            operation: format!("replace ds={}", req.ds),
            columns: ColumnEntry::from_schema(&ti.schema),
            row_count: ti.row_count.map(|n| n as i64).unwrap_or(-1),
            partition_columns: ti.partition_columns.clone(),
            location: ti.location.clone(),
            size_bytes: ti.size_bytes as i64,
            num_files: ti.num_files as i64,
            run_id: run_id.clone(),
            command: req.command.clone(),
            created_at: Utc::now(),
            description: Some(description.to_string()),
            tags,
            sources,
            upstream,
        })
        .await?;
    tables.push(crate::ingest::TableOutcome {
        table: t.to_string(),
        version: m.version,
        rows_written: m.rows_written,
        rows_in_table: ti.row_count.map(|n| n as i64).unwrap_or(-1),
    });
    Ok(m.version)
}

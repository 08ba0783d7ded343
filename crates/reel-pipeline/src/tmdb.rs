//! Ingesting Kaggle's `movies_metadata.csv` into the `tmdb_*` tables.
//!
//! The same transaction rules as [`crate::ingest`]: every table has its own streaming
//! [`TableWriter`] and is committed only after the whole file was read, so a crash leaves
//! each table at its previous version. `raw.tmdb_movies` and `quarantine.tmdb_movies`
//! replace the partition of the run day; the clean tables are replaced whole.
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use chrono::Utc;
use reel_catalog::{ColumnEntry, NewTableVersion, RunStatus, SourceEntry};
use reel_common::{RunId, TableRef, Zone};
use reel_ingest::Target;
use reel_ingest::tmdb::{self, TmdbOptions};
use reel_lake::{TableWriter, WriteMode};

use crate::ingest::{ChannelSink, ToWriter, IngestOutcome, IngestRequest, LoadCounts, SourceSummary, TableOutcome, abort_all};
use crate::{Env, Error, Progress, Result};

/// Ingests a `movies_metadata.csv` (or a folder holding one). `req.batch_rows` is capped at
/// [`TmdbOptions::DEFAULT_BATCH_ROWS`] (records are wide).
pub async fn ingest_movies_metadata(env: &Env, req: &IngestRequest, progress: &dyn Progress) -> Result<IngestOutcome> {
    let started = Instant::now();
    let path = tmdb::locate(&req.path)?;
    let run_id = RunId::new();
    env.catalog.start_run(&run_id, &req.command).await?;
    tracing::info!(%run_id, path = %path.display(), "movies_metadata ingest started");
    match run_load(env, req, &path, &run_id, progress).await {
        Ok(mut outcome) => {
            outcome.seconds = started.elapsed().as_secs_f64();
            let summary = serde_json::to_value(&outcome).unwrap_or_default();
            env.catalog.finish_run(&run_id, RunStatus::Succeeded, &summary).await?;
            if outcome.counts.first().is_some_and(|c| c.loaded == 0) {
                return Err(Error::NothingLoadedFrom {
                    path: path.display().to_string(),
                    table: "quarantine.tmdb_movies".into(),
                });
            }
            Ok(outcome)
        }
        Err(e) => {
            let summary = serde_json::json!({ "error": e.to_string() });
            // The load's own error matters more than a failure to record it.
            let _ = env.catalog.finish_run(&run_id, RunStatus::Failed, &summary).await;
            Err(e)
        }
    }
}

async fn run_load(
    env: &Env,
    req: &IngestRequest,
    path: &std::path::Path,
    run_id: &RunId,
    progress: &dyn Progress,
) -> Result<IngestOutcome> {
    let ds = req.ds;
    let total_bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let targets = tmdb::targets();
    let mut writers: HashMap<Target, TableWriter> = HashMap::new();
    for t in &targets {
        let mut info = serde_json::Map::new();
        info.insert("run_id".into(), run_id.to_string().into());
        info.insert("command".into(), req.command.clone().into());
        info.insert("source".into(), path.display().to_string().into());
        info.insert("table".into(), t.table_ref().to_string().into());
        let writer = env.lake.writer(&t.table_ref(), tmdb::schema(*t)).with_commit_info(info);
        let writer = match t {
            Target::Clean(_) => writer.with_mode(WriteMode::Overwrite),
            Target::Raw(_) | Target::Quarantine(_) => writer
                .with_partition_columns(vec!["ds".into()])
                .with_mode(WriteMode::ReplacePartition { column: "ds".into(), value: ds.to_string() }),
        };
        writers.insert(*t, writer);
    }

    let (tx, mut rx) = tokio::sync::mpsc::channel::<ToWriter>(4);
    let opts = TmdbOptions { ds, batch_rows: req.batch_rows.clamp(1, TmdbOptions::DEFAULT_BATCH_ROWS) };
    progress.begin("reading", Some(total_bytes));
    let (ptx, prx) = std::sync::mpsc::channel::<u64>();
    let parse_path = path.to_path_buf();
    let handle = tokio::task::spawn_blocking(move || {
        let mut sink = ChannelSink { tx };
        tmdb::ingest(&parse_path, &opts, &mut sink, &|n| {
            let _ = ptx.send(n);
        })
    });
    let mut write_error = None;
    while let Some(msg) = rx.recv().await {
        for n in prx.try_iter() {
            progress.advance(n);
        }
        if write_error.is_some() {
            continue; // drain so the parser can finish
        }
        let (target, batch) = match msg {
            ToWriter::Batch(target, batch) => (target, batch),
            ToWriter::Discard(target) => {
                write_error = Some(reel_lake::Error::Internal(format!(
                    "the metadata parser asked to start {} over, which it never does",
                    target.table_ref()
                )));
                continue;
            }
        };
        match writers.get_mut(&target) {
            Some(w) => {
                if let Err(e) = w.write(batch).await {
                    write_error = Some(e);
                }
            }
            None => {
                write_error = Some(reel_lake::Error::Internal(format!(
                    "the parser emitted {} which was not declared",
                    target.table_ref()
                )))
            }
        }
    }
    for n in prx.try_iter() {
        progress.advance(n);
    }
    progress.end();
    let report = handle.await.map_err(|e| Error::Internal(format!("parser thread: {e}")));
    let report = match (report, write_error) {
        (Ok(Ok(r)), None) => r,
        (Ok(Err(e)), _) => {
            abort_all(writers).await;
            return Err(e.into());
        }
        (_, Some(e)) => {
            abort_all(writers).await;
            return Err(e.into());
        }
        (Err(e), None) => {
            abort_all(writers).await;
            return Err(e);
        }
    };

    progress.begin("committing", Some(targets.len() as u64));
    let mut tables = Vec::new();
    let mut raw_version: Option<(TableRef, i64)> = None;
    for t in targets {
        // Raw is first in `targets`, so clean tables can name the raw version they came from.
        let Some(writer) = writers.remove(&t) else { continue };
        let tref = t.table_ref();
        let metrics = writer.commit().await?;
        let info = env.lake.info(&tref).await?;
        if let Target::Raw(_) = t {
            raw_version = Some((tref.clone(), metrics.version));
        }
        let upstream = match t {
            Target::Clean(_) => raw_version.clone().into_iter().collect(),
            _ => Vec::new(),
        };
        let now = Utc::now();
        let s = &report.source;
        let sources = vec![SourceEntry {
            path: s.path.display().to_string(),
            size: s.size as i64,
            sha256: s.sha256.clone(),
            modified_at: s.modified,
            ingested_at: now,
        }];
        let mut tags = BTreeMap::new();
        tags.insert("source".to_string(), "tmdb".to_string());
        tags.insert("format".to_string(), "movies-metadata".to_string());
        tags.insert("zone".to_string(), tref.zone.to_string());
        env.catalog
            .record_version(NewTableVersion {
                table: tref.clone(),
                version: metrics.version,
                operation: match t {
                    Target::Clean(_) => "overwrite".to_string(),
                    _ => format!("replace ds={ds}"),
                },
                columns: ColumnEntry::from_schema(&info.schema),
                row_count: info.row_count.map(|n| n as i64).unwrap_or(-1),
                partition_columns: info.partition_columns.clone(),
                location: info.location.clone(),
                size_bytes: info.size_bytes as i64,
                num_files: info.num_files as i64,
                run_id: run_id.clone(),
                command: req.command.clone(),
                created_at: now,
                description: Some(describe(&tref).to_string()),
                tags,
                sources,
                upstream,
            })
            .await?;
        tables.push(TableOutcome {
            table: tref.to_string(),
            version: metrics.version,
            rows_written: metrics.rows_written,
            rows_in_table: info.row_count.map(|n| n as i64).unwrap_or(-1),
        });
        progress.advance(1);
    }
    progress.end();

    let m = &report.movies;
    let mut counts = vec![LoadCounts {
        table: m.table.clone(),
        read: m.read,
        loaded: m.loaded,
        quarantined: m.quarantined,
        duplicates: m.duplicates,
    }];
    counts.extend(report.tables.iter().map(|c| LoadCounts {
        table: c.table.clone(),
        read: c.read,
        loaded: c.loaded,
        quarantined: c.quarantined,
        duplicates: c.duplicates,
    }));
    let s = &report.source;
    Ok(IngestOutcome {
        run_id: run_id.to_string(),
        format: "movies-metadata".into(),
        path: path.display().to_string(),
        ds: ds.to_string(),
        sources: vec![SourceSummary {
            name: s.name.clone(),
            path: s.path.display().to_string(),
            size: s.size,
            sha256: s.sha256.clone(),
        }],
        counts,
        tables,
        seconds: 0.0,
        fixes: Some(serde_json::to_value(&report.fixes).unwrap_or_default()),
    })
}

/// The catalog description of each `tmdb_*` table.
fn describe(t: &TableRef) -> &'static str {
    match (t.zone, t.name.as_str()) {
        (Zone::Raw, "tmdb_movies") => "movies_metadata.csv as read: the 24 columns as text, with file and line, partitioned by ingest day ds",
        (Zone::Clean, "tmdb_movies") => "One row per TMDB movie id: typed; budget/revenue 0 (unknown) as null; release_date 1970-01-01 (placeholder) as null; year from release_date",
        (Zone::Clean, "tmdb_genres") => "TMDB genres: id and name",
        (Zone::Clean, "tmdb_movie_genres") => "Bridge table: one row per (movie, genre)",
        (Zone::Clean, "tmdb_companies") => "Production companies: id and name (the first name seen)",
        (Zone::Clean, "tmdb_movie_companies") => "Bridge table: one row per (movie, production company)",
        (Zone::Clean, "tmdb_countries") => "Production countries: ISO 3166-1 code and name",
        (Zone::Clean, "tmdb_movie_countries") => "Bridge table: one row per (movie, production country)",
        (Zone::Clean, "tmdb_languages") => "Spoken languages: ISO 639-1 code and name",
        (Zone::Clean, "tmdb_movie_languages") => "Bridge table: one row per (movie, spoken language)",
        (Zone::Quarantine, _) => "Records of movies_metadata.csv that could not be loaded: file, line, raw text and reason",
        _ => "",
    }
}

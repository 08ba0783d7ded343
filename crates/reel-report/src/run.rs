//! Running reports on a [`SqlSession`].
use std::time::Instant;

use reel_sql::SqlSession;
use serde::Serialize;

use crate::chart::Chart;
use crate::params::{ReportParams, ValidParams};
use crate::report::{ALL, Dataset, ReportId};
use crate::{Error, Result, Table};

/// One report, run.
#[derive(Debug, Clone)]
pub struct ReportRun {
    /// Which report.
    pub id: ReportId,
    /// The parameters it ran with (defaults filled in).
    pub params: ValidParams,
    /// The SQL that ran.
    pub sql: String,
    /// The rows.
    pub table: Table,
    /// Its chart.
    pub chart: Chart,
    /// Wall time of the query (planning, execution, collecting).
    pub seconds: f64,
}

/// A report that `run_all` could not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// The report name.
    pub report: String,
    /// The reason (the missing tables and how to load them).
    pub reason: String,
}

/// The lake tables `ids` read, each once: what [`SqlSession::try_new_for`] should register.
pub fn tables_of(ids: &[ReportId]) -> Vec<reel_common::TableRef> {
    let mut out: Vec<reel_common::TableRef> = Vec::new();
    for id in ids {
        for t in id.tables() {
            // The names are literals of this crate, all valid.
            if let Ok(t) = t.parse::<reel_common::TableRef>() {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// The tables of `id` that `session` lacks, as an error naming the command that loads them.
pub fn check_tables(session: &SqlSession, id: ReportId) -> Result<()> {
    let have = session.table_names();
    let missing: Vec<&str> = id.tables().iter().copied().filter(|t| !have.iter().any(|h| h == t)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let hint = match id.dataset() {
        Dataset::MovieLens => "load MovieLens first: `reelhouse ingest movielens DIR` (or run `reelhouse demo`)",
        Dataset::Tmdb => "load the movie metadata first: `reelhouse ingest movies-metadata movies_metadata.csv`",
    };
    Err(Error::MissingTables { report: id.name().into(), missing: missing.join(", "), hint: hint.into() })
}

/// Runs one report with `params` (checked here).
pub async fn run(session: &SqlSession, id: ReportId, params: &ReportParams) -> Result<ReportRun> {
    let params = params.check(id.name(), id.params())?;
    check_tables(session, id)?;
    let sql = id.sql(&params);
    let started = Instant::now();
    let result = session.query(&sql).await?;
    let seconds = started.elapsed().as_secs_f64();
    let table = Table::try_new(&result)?;
    let chart = id.chart(&table, &params);
    Ok(ReportRun { id, params, sql, table, chart, seconds })
}

/// Runs every report with its defaults; reports whose tables are missing are skipped.
/// `progress` is called after each report.
pub async fn run_all(session: &SqlSession, progress: &(dyn Fn(ReportId) + Sync)) -> Result<(Vec<ReportRun>, Vec<Skipped>)> {
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for id in ALL {
        match check_tables(session, id) {
            Ok(()) => runs.push(run(session, id, &ReportParams::new()).await?),
            Err(e @ Error::MissingTables { .. }) => skipped.push(Skipped { report: id.name().into(), reason: e.to_string() }),
            Err(e) => return Err(e),
        }
        progress(id);
    }
    Ok((runs, skipped))
}

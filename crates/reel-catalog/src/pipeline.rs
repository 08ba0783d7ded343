//! Pipeline runs, task attempts with their logs, and the lock that keeps one run per
//! pipeline-day.
//!
//! ```text
//!  reelhouse run / scheduler
//!    try_lock_pipeline_day(p, ds) ──> reel_pipeline_locks   (one row per pipeline-day; the
//!    (take_over_lock if the holder died)                      primary key is the mutex)
//!    start_pipeline_run ────────────> reel_pipeline_runs    (running)
//!    record_task_run (per attempt) ─> reel_task_runs        (status, log, output, error)
//!    heartbeat_lock every few s
//!    finish_pipeline_run ───────────> reel_pipeline_runs    (succeeded | failed, summary)
//!    release_lock
//! ```
//!
//! The lock lives in the catalog rather than in a file so that it holds across processes and
//! machines sharing a PostgreSQL catalog, and survives restarts: a holder that died is
//! recognised by its owner string and heartbeat (the caller decides what is stale) and its
//! lock is taken over with a compare-and-swap on the run id, so exactly one taker wins.
//!
//! Times are passed in by the caller (the runner's clock), so tests can drive them.
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::catalog::{parse_ts, ts};
use crate::{Catalog, Error, Result};

/// Statements creating the pipeline tables; each is idempotent.
pub(crate) const PIPELINE_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS reel_pipeline_runs (
        run_id TEXT NOT NULL PRIMARY KEY,
        pipeline TEXT NOT NULL,
        ds TEXT NOT NULL,
        status TEXT NOT NULL,
        trigger_kind TEXT NOT NULL,
        attempt_of TEXT,
        owner TEXT NOT NULL,
        params TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        summary TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS reel_pipeline_runs_day ON reel_pipeline_runs (pipeline, ds)",
    "CREATE TABLE IF NOT EXISTS reel_task_runs (
        run_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        attempt BIGINT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        log TEXT NOT NULL,
        output TEXT NOT NULL,
        error TEXT,
        PRIMARY KEY (run_id, task_id, attempt)
    )",
    "CREATE TABLE IF NOT EXISTS reel_pipeline_locks (
        pipeline TEXT NOT NULL,
        ds TEXT NOT NULL,
        run_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        PRIMARY KEY (pipeline, ds)
    )",
];

/// A pipeline run to record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewPipelineRun {
    /// The run id.
    pub run_id: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// The run day, `YYYY-MM-DD`.
    pub ds: String,
    /// Who started it: `manual`, `backfill`, `scheduler`, `rerun`.
    pub trigger: String,
    /// The run this one retries (`--rerun-failed`), if any.
    pub attempt_of: Option<String>,
    /// The process that runs it (`host:pid:token`).
    pub owner: String,
    /// Parameters of the run, JSON.
    pub params: serde_json::Value,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// A recorded pipeline run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineRun {
    /// The run id.
    pub run_id: String,
    /// The pipeline.
    pub pipeline: String,
    /// The run day.
    pub ds: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    /// Who started it.
    pub trigger: String,
    /// The run it retried.
    pub attempt_of: Option<String>,
    /// The process that ran it.
    pub owner: String,
    /// Parameters.
    pub params: serde_json::Value,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, if it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// What it reported.
    pub summary: serde_json::Value,
}

/// One attempt of one task of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRun {
    /// The run.
    pub run_id: String,
    /// The task's id in the pipeline file.
    pub task_id: String,
    /// 1 for the first try, 2 for the first retry, ...
    pub attempt: i64,
    /// `running`, `succeeded`, `failed`, `up_for_retry`, `upstream_failed`, `skipped`,
    /// `reused`, `blocked`.
    pub status: String,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End, if it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// The task's log.
    pub log: String,
    /// What the task produced (tables and versions, model versions, counts), JSON.
    pub output: serde_json::Value,
    /// Why it failed.
    pub error: Option<String>,
}

/// Who holds the lock of a pipeline-day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockHolder {
    /// The pipeline.
    pub pipeline: String,
    /// The day.
    pub ds: String,
    /// The run holding it.
    pub run_id: String,
    /// The process (`host:pid:token`).
    pub owner: String,
    /// When it was taken.
    pub acquired_at: DateTime<Utc>,
    /// The holder's last sign of life.
    pub heartbeat_at: DateTime<Utc>,
}

fn json_text(r: &AnyRow, i: usize, what: &'static str, action: &str) -> Result<serde_json::Value> {
    let text: String = r.try_get(i).map_err(Error::query(action.to_string()))?;
    serde_json::from_str(&text).map_err(|e| Error::BadStoredValue { what, value: text.clone(), reason: e.to_string() })
}

fn opt_ts(r: &AnyRow, i: usize, action: &str) -> Result<Option<DateTime<Utc>>> {
    let v: Option<String> = r.try_get(i).map_err(Error::query(action.to_string()))?;
    v.as_deref().map(parse_ts).transpose()
}

/// The columns of a run row, as a macro so `concat!` keeps the statements `'static`.
macro_rules! run_columns {
    () => {
        "SELECT run_id, pipeline, ds, status, trigger_kind, attempt_of, owner, params, started_at, finished_at, summary FROM reel_pipeline_runs"
    };
}

fn run_from_row(r: &AnyRow, action: &str) -> Result<PipelineRun> {
    let q = || Error::query(action.to_string());
    Ok(PipelineRun {
        run_id: r.try_get(0).map_err(q())?,
        pipeline: r.try_get(1).map_err(q())?,
        ds: r.try_get(2).map_err(q())?,
        status: r.try_get(3).map_err(q())?,
        trigger: r.try_get(4).map_err(q())?,
        attempt_of: r.try_get(5).map_err(q())?,
        owner: r.try_get(6).map_err(q())?,
        params: json_text(r, 7, "run params", action)?,
        started_at: parse_ts(&r.try_get::<String, _>(8).map_err(q())?)?,
        finished_at: opt_ts(r, 9, action)?,
        summary: json_text(r, 10, "run summary", action)?,
    })
}

fn holder_from_row(r: &AnyRow, action: &str) -> Result<LockHolder> {
    let q = || Error::query(action.to_string());
    Ok(LockHolder {
        pipeline: r.try_get(0).map_err(q())?,
        ds: r.try_get(1).map_err(q())?,
        run_id: r.try_get(2).map_err(q())?,
        owner: r.try_get(3).map_err(q())?,
        acquired_at: parse_ts(&r.try_get::<String, _>(4).map_err(q())?)?,
        heartbeat_at: parse_ts(&r.try_get::<String, _>(5).map_err(q())?)?,
    })
}

impl Catalog {
    /// Records that a pipeline run started (status `running`).
    pub async fn start_pipeline_run(&self, r: &NewPipelineRun) -> Result<()> {
        sqlx::query(
            "INSERT INTO reel_pipeline_runs (run_id, pipeline, ds, status, trigger_kind, attempt_of, owner, params,
                started_at, finished_at, summary)
             VALUES ($1, $2, $3, 'running', $4, $5, $6, $7, $8, NULL, '{}')",
        )
        .bind(&r.run_id)
        .bind(&r.pipeline)
        .bind(&r.ds)
        .bind(&r.trigger)
        .bind(r.attempt_of.as_deref())
        .bind(&r.owner)
        .bind(r.params.to_string())
        .bind(ts(r.started_at))
        .execute(self.pool())
        .await
        .map_err(Error::query(format!("recording the start of run {} of pipeline {}", r.run_id, r.pipeline)))?;
        Ok(())
    }

    /// Records how a pipeline run ended.
    pub async fn finish_pipeline_run(&self, run_id: &str, status: &str, summary: &serde_json::Value, at: DateTime<Utc>) -> Result<()> {
        if status == "running" {
            return Err(Error::InvalidArgument {
                what: "final run status",
                value: status.into(),
                reason: "a run finishes as succeeded or failed".into(),
            });
        }
        let done = sqlx::query("UPDATE reel_pipeline_runs SET status = $2, finished_at = $3, summary = $4 WHERE run_id = $1")
            .bind(run_id)
            .bind(status)
            .bind(ts(at))
            .bind(summary.to_string())
            .execute(self.pool())
            .await
            .map_err(Error::query(format!("recording the end of pipeline run {run_id}")))?;
        if done.rows_affected() == 0 {
            return Err(Error::RunNotFound { run_id: run_id.into() });
        }
        Ok(())
    }

    /// Pipeline runs, newest first, optionally of one pipeline and one day.
    pub async fn pipeline_runs(&self, pipeline: Option<&str>, ds: Option<&str>, limit: usize) -> Result<Vec<PipelineRun>> {
        let action = "listing pipeline runs";
        const SQL: &str = concat!(
            run_columns!(),
            " WHERE ($1 = '' OR pipeline = $1) AND ($2 = '' OR ds = $2) ORDER BY started_at DESC, run_id DESC LIMIT $3"
        );
        let rows = sqlx::query(SQL)
            .bind(pipeline.unwrap_or(""))
            .bind(ds.unwrap_or(""))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await
            .map_err(Error::query(action))?;
        rows.iter().map(|r| run_from_row(r, action)).collect()
    }

    /// One pipeline run. `id` may be a unique prefix of the run id (as `runs list` shows).
    pub async fn pipeline_run(&self, id: &str) -> Result<Option<PipelineRun>> {
        let action = format!("reading pipeline run {id}");
        if id.is_empty() || id.contains(['%', '_']) {
            return Err(Error::InvalidArgument { what: "run id", value: id.into(), reason: "give a run id as `reelhouse runs list` prints it".into() });
        }
        const SQL: &str = concat!(run_columns!(), " WHERE run_id LIKE $1 ORDER BY run_id LIMIT 2");
        let rows = sqlx::query(SQL)
            .bind(format!("{id}%"))
            .fetch_all(self.pool())
            .await
            .map_err(Error::query(action.clone()))?;
        match rows.len() {
            0 => Ok(None),
            1 => Ok(Some(run_from_row(&rows[0], &action)?)),
            _ => Err(Error::InvalidArgument {
                what: "run id",
                value: id.into(),
                reason: "several runs start with it; give more characters".into(),
            }),
        }
    }

    /// Every day `pipeline` has a run for (any status), sorted.
    pub async fn pipeline_days(&self, pipeline: &str) -> Result<Vec<String>> {
        let action = format!("listing the run days of pipeline {pipeline}");
        let rows = sqlx::query("SELECT DISTINCT ds FROM reel_pipeline_runs WHERE pipeline = $1 ORDER BY ds")
            .bind(pipeline)
            .fetch_all(self.pool())
            .await
            .map_err(Error::query(action.clone()))?;
        rows.iter().map(|r| r.try_get(0).map_err(Error::query(action.clone()))).collect()
    }

    /// Records (or replaces) one attempt of a task.
    pub async fn record_task_run(&self, t: &TaskRun) -> Result<()> {
        let action = format!("recording attempt {} of task {} of run {}", t.attempt, t.task_id, t.run_id);
        let q = || Error::query(action.clone());
        let mut tx = self.pool().begin().await.map_err(q())?;
        sqlx::query("DELETE FROM reel_task_runs WHERE run_id = $1 AND task_id = $2 AND attempt = $3")
            .bind(&t.run_id)
            .bind(&t.task_id)
            .bind(t.attempt)
            .execute(&mut *tx)
            .await
            .map_err(q())?;
        sqlx::query(
            "INSERT INTO reel_task_runs (run_id, task_id, attempt, status, started_at, finished_at, log, output, error)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&t.run_id)
        .bind(&t.task_id)
        .bind(t.attempt)
        .bind(&t.status)
        .bind(ts(t.started_at))
        .bind(t.finished_at.map(ts))
        .bind(&t.log)
        .bind(t.output.to_string())
        .bind(t.error.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(q())?;
        tx.commit().await.map_err(q())?;
        Ok(())
    }

    /// Every task attempt of a run, in the order they started.
    pub async fn task_runs(&self, run_id: &str) -> Result<Vec<TaskRun>> {
        let action = format!("reading the tasks of run {run_id}");
        let rows = sqlx::query(
            "SELECT run_id, task_id, attempt, status, started_at, finished_at, log, output, error FROM reel_task_runs
             WHERE run_id = $1 ORDER BY started_at, task_id, attempt",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await
        .map_err(Error::query(action.clone()))?;
        rows.iter()
            .map(|r| {
                let q = || Error::query(action.clone());
                Ok(TaskRun {
                    run_id: r.try_get(0).map_err(q())?,
                    task_id: r.try_get(1).map_err(q())?,
                    attempt: r.try_get(2).map_err(q())?,
                    status: r.try_get(3).map_err(q())?,
                    started_at: parse_ts(&r.try_get::<String, _>(4).map_err(q())?)?,
                    finished_at: opt_ts(r, 5, &action)?,
                    log: r.try_get(6).map_err(q())?,
                    output: json_text(r, 7, "task output", &action)?,
                    error: r.try_get(8).map_err(q())?,
                })
            })
            .collect()
    }

    /// Whether `task` of `pipeline` succeeded (or was reused) in some run for `ds`.
    pub async fn task_succeeded_for(&self, pipeline: &str, task: &str, ds: &str) -> Result<bool> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) FROM reel_task_runs t JOIN reel_pipeline_runs r ON r.run_id = t.run_id
             WHERE r.pipeline = $1 AND r.ds = $2 AND t.task_id = $3 AND t.status IN ('succeeded', 'reused')",
        )
        .bind(pipeline)
        .bind(ds)
        .bind(task)
        .fetch_one(self.pool())
        .await
        .and_then(|r| r.try_get(0))
        .map_err(Error::query(format!("checking task {task} of {pipeline} for {ds}")))?;
        Ok(n > 0)
    }

    /// Takes the lock of `pipeline`-`ds` for `run_id`. Returns `None` when taken, or the
    /// current holder when someone else has it.
    pub async fn try_lock_pipeline_day(
        &self,
        pipeline: &str,
        ds: &str,
        run_id: &str,
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<LockHolder>> {
        let action = format!("locking {pipeline} for {ds}");
        let now = ts(at);
        let done = sqlx::query(
            "INSERT INTO reel_pipeline_locks (pipeline, ds, run_id, owner, acquired_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (pipeline, ds) DO NOTHING",
        )
        .bind(pipeline)
        .bind(ds)
        .bind(run_id)
        .bind(owner)
        .bind(&now)
        .execute(self.pool())
        .await
        .map_err(Error::query(action.clone()))?;
        if done.rows_affected() == 1 {
            return Ok(None);
        }
        match self.lock_holder(pipeline, ds).await? {
            Some(h) if h.run_id == run_id => Ok(None),
            Some(h) => Ok(Some(h)),
            // Released between the insert and the read: try once more.
            None => Box::pin(self.try_lock_pipeline_day(pipeline, ds, run_id, owner, at)).await,
        }
    }

    /// The holder of the lock of `pipeline`-`ds`, if any.
    pub async fn lock_holder(&self, pipeline: &str, ds: &str) -> Result<Option<LockHolder>> {
        let action = format!("reading the lock of {pipeline} for {ds}");
        let row = sqlx::query(
            "SELECT pipeline, ds, run_id, owner, acquired_at, heartbeat_at FROM reel_pipeline_locks WHERE pipeline = $1 AND ds = $2",
        )
        .bind(pipeline)
        .bind(ds)
        .fetch_optional(self.pool())
        .await
        .map_err(Error::query(action.clone()))?;
        row.as_ref().map(|r| holder_from_row(r, &action)).transpose()
    }

    /// Every lock held, oldest first.
    pub async fn locks(&self) -> Result<Vec<LockHolder>> {
        let action = "listing pipeline locks";
        let rows = sqlx::query("SELECT pipeline, ds, run_id, owner, acquired_at, heartbeat_at FROM reel_pipeline_locks ORDER BY acquired_at")
            .fetch_all(self.pool())
            .await
            .map_err(Error::query(action))?;
        rows.iter().map(|r| holder_from_row(r, action)).collect()
    }

    /// Moves the lock from a dead holder (`old_run_id`) to `run_id`. Returns whether this
    /// caller won: of several takers, exactly one does.
    pub async fn take_over_lock(
        &self,
        pipeline: &str,
        ds: &str,
        old_run_id: &str,
        run_id: &str,
        owner: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let now = ts(at);
        let done = sqlx::query(
            "UPDATE reel_pipeline_locks SET run_id = $4, owner = $5, acquired_at = $6, heartbeat_at = $6
             WHERE pipeline = $1 AND ds = $2 AND run_id = $3",
        )
        .bind(pipeline)
        .bind(ds)
        .bind(old_run_id)
        .bind(run_id)
        .bind(owner)
        .bind(&now)
        .execute(self.pool())
        .await
        .map_err(Error::query(format!("taking over the lock of {pipeline} for {ds}")))?;
        Ok(done.rows_affected() == 1)
    }

    /// Renews the holder's heartbeat. Returns false if `run_id` no longer holds the lock.
    pub async fn heartbeat_lock(&self, pipeline: &str, ds: &str, run_id: &str, at: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query("UPDATE reel_pipeline_locks SET heartbeat_at = $4 WHERE pipeline = $1 AND ds = $2 AND run_id = $3")
            .bind(pipeline)
            .bind(ds)
            .bind(run_id)
            .bind(ts(at))
            .execute(self.pool())
            .await
            .map_err(Error::query(format!("renewing the lock of {pipeline} for {ds}")))?;
        Ok(done.rows_affected() == 1)
    }

    /// Releases the lock if `run_id` holds it.
    pub async fn release_lock(&self, pipeline: &str, ds: &str, run_id: &str) -> Result<()> {
        sqlx::query("DELETE FROM reel_pipeline_locks WHERE pipeline = $1 AND ds = $2 AND run_id = $3")
            .bind(pipeline)
            .bind(ds)
            .bind(run_id)
            .execute(self.pool())
            .await
            .map_err(Error::query(format!("releasing the lock of {pipeline} for {ds}")))?;
        Ok(())
    }
}

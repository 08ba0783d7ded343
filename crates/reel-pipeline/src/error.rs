//! Errors of the task runner.

/// Errors raised while running a task.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Workspace or config problem.
    #[error(transparent)]
    Common(#[from] reel_common::Error),
    /// Parsing input.
    #[error(transparent)]
    Ingest(#[from] reel_ingest::Error),
    /// Writing or reading the lake.
    #[error(transparent)]
    Lake(#[from] reel_lake::Error),
    /// The catalog database.
    #[error(transparent)]
    Catalog(#[from] reel_catalog::Error),
    /// Nothing at all could be loaded.
    #[error("nothing could be loaded from {path}: every line was quarantined; see `reelhouse sql \"SELECT reason, count(*) FROM quarantine.ratings GROUP BY reason\"`")]
    NothingLoaded {
        /// The input.
        path: String,
    },
    /// Every record of a file was quarantined.
    #[error("nothing could be loaded from {path}: every record was quarantined; see `reelhouse sql \"SELECT reason, count(*) FROM {table} GROUP BY reason\"`")]
    NothingLoadedFrom {
        /// The input.
        path: String,
        /// The quarantine table to look at.
        table: String,
    },
    /// A PostgreSQL source.
    #[error(transparent)]
    Postgres(#[from] reel_postgres::Error),
    /// Training, evaluation or a model artifact.
    #[error(transparent)]
    Ml(#[from] reel_ml::Error),
    /// A table that a task reads does not exist yet.
    #[error("table {table} does not exist; {hint}")]
    MissingTable {
        /// The table.
        table: String,
        /// How to create it.
        hint: String,
    },
    /// Reading a table or file failed.
    #[error("{what}: {reason}")]
    Read {
        /// What was being read.
        what: String,
        /// Why it failed.
        reason: String,
    },
    /// The request cannot be carried out as asked (the message says what to do).
    #[error("{0}")]
    BadRequest(String),
    /// A pipeline file is wrong.
    #[error(transparent)]
    Dag(#[from] crate::dag::DagError),
    /// A validation could not run.
    #[error(transparent)]
    Quality(#[from] reel_quality::Error),
    /// A query failed.
    #[error(transparent)]
    Sql(#[from] reel_sql::Error),
    /// Another live run holds the pipeline-day.
    #[error("{pipeline} is already running for {ds} (run {run_id} by {owner}, since {since}); wait for it, or check it with `reelhouse runs show {run_id}`")]
    AlreadyRunning {
        /// The pipeline.
        pipeline: String,
        /// The day.
        ds: String,
        /// The run holding it.
        run_id: String,
        /// Its process.
        owner: String,
        /// Since when.
        since: String,
    },
    /// A bug: a worker thread died.
    #[error("internal error: {0} (this is a bug in reelhouse; please report it)")]
    Internal(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

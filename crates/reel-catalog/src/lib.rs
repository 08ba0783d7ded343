//! The catalog: every table of the lake with its schema, row count, partitions, versions,
//! description and tags, and its lineage (which source files or upstream table versions,
//! and which run, produced each version); plus the history of runs.
//!
//! It lives in SQLite by default (a file next to the workspace) or in PostgreSQL when
//! several machines share a lake, through sqlx's `Any` driver with one portable schema.
//! The lake (`reel-lake`) holds the data; the catalog is what a write reports after its
//! Delta commit, so a lost catalog can be rebuilt from the lake and the run logs.
//!
//! ```text
//!   ingest / transform run
//!     start_run ───────────────> reel_runs          (running)
//!     lake commit -> version N
//!     record_version(N) ───────> reel_tables         (description, tags, current version)
//!                                reel_table_versions (schema, rows, files, run, command)
//!                                reel_lineage        (source files, upstream tables)
//!     finish_run ──────────────> reel_runs          (succeeded | failed, summary)
//!   reelhouse tables / lineage / SQL catalog.* <── list_tables, versions, lineage, runs
//!   ingest postgres: record_extract ─> reel_extracts, reel_watermarks (see [`Watermark`])
//! ```
//!
//! ```
//! # async fn demo() -> reel_catalog::Result<()> {
//! use reel_catalog::{Catalog, RunStatus};
//! use reel_common::RunId;
//!
//! let catalog = Catalog::connect("sqlite::memory:").await?;
//! let run = RunId::new();
//! catalog.start_run(&run, "reelhouse ingest data/ml-100k").await?;
//! catalog.finish_run(&run, RunStatus::Succeeded, &serde_json::json!({"tables": 3})).await?;
//! assert_eq!(catalog.runs(10).await?[0].status, RunStatus::Succeeded);
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
#![deny(missing_docs)]

mod catalog;
mod error;
mod extract;
mod model;
mod pipeline;
mod quality;
mod registry;

pub use catalog::{Catalog, SCHEMA_VERSION};
pub use error::{Error, Result};
pub use extract::{ExtractEntry, NewExtract, Watermark, WatermarkChange};
pub use registry::{AliasEvent, ModelVersion, NewModelVersion};
pub use pipeline::{LockHolder, NewPipelineRun, PipelineRun, TaskRun};
pub use quality::{ExpectationRecord, ValidationRecord};
pub use model::{
    ColumnEntry, LineageEntry, NewTableVersion, RunEntry, RunStatus, SourceEntry, TableEntry, VersionEntry,
};

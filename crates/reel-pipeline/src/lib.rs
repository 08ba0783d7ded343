//! The glue that runs reelhouse's tasks: it opens a workspace (lake + catalog) and carries
//! data from one crate to the next, recording every table version and its lineage.
//!
//! ```text
//!   files ──> reel-ingest (parse, quarantine) ──batches──> reel-lake (Delta commit per table)
//!                                                              │
//!                                                              └──> reel-catalog (version, lineage)
//! ```
//!
//! Pipelines ([`dag`], [`run`], [`scheduler`], [`airflow`]) chain these tasks per run day:
//!
//! ```text
//!   pipelines/NAME.toml ──dag::load──> Pipeline (checked: cycles, references, templates)
//!        │ run::Runner::run(ds): lock the pipeline-day in the catalog, tasks in parallel,
//!        │ retries with backoff, timeouts, logs and outputs per attempt in the catalog
//!        v
//!   ingest | sql (partition replaced) | validate (reel-quality) | train | evaluate | promote
//!   | report (through the binary's ReportRunner) | shell
//! ```
//!
//! ```no_run
//! # async fn demo() -> reel_pipeline::Result<()> {
//! use reel_pipeline::{Env, ingest::{ingest_movielens, IngestRequest}, NoProgress};
//! let ws = reel_common::Workspace::discover(std::path::Path::new("."))?;
//! let env = Env::open(ws).await?;
//! let req = IngestRequest::new("datasets/movielens-100k", "reelhouse ingest movielens");
//! let outcome = ingest_movielens(&env, &req, &NoProgress).await?;
//! println!("{} tables written", outcome.tables.len());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod airflow;
pub mod classic;
pub mod clock;
pub mod cron;
pub mod dag;
mod env;
mod error;
pub mod ingest;
pub mod postgres;
pub mod reviews;
mod progress;
pub mod run;
pub mod scheduler;
pub mod serving;
pub mod sentiment;
pub mod tables;
mod tasks;
pub mod tmdb;
pub mod train;

pub use env::Env;
pub use error::{Error, Result};
pub use progress::{NoProgress, Progress};

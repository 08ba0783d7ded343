//! SQL over the lake: a DataFusion session that sees every Delta table of the workspace as
//! `zone.name` (`clean.ratings`), plus the catalog itself as `catalog.tables`,
//! `catalog.columns`, `catalog.versions` and `catalog.lineage`.
//!
//! ```text
//!   lake (Delta tables) ──┐
//!                         ├──> SqlSession (DataFusion) ──> batches ──> output (table|csv|json|parquet)
//!   catalog (SQLite/PG) ──┘
//! ```
//!
//! ```no_run
//! # async fn demo(lake: reel_lake::Lake) -> reel_sql::Result<()> {
//! let session = reel_sql::SqlSession::try_new(&lake, None).await?;
//! let result = session.query("SELECT count(*) AS n FROM clean.ratings").await?;
//! let mut out = Vec::new();
//! reel_sql::write_result(&result, reel_sql::OutputFormat::Csv, &mut out)?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
mod output;
mod session;
pub mod shell;

pub use error::{Error, Result};
pub use output::{write_parquet_file, write_result, OutputFormat, QueryResult};
pub use session::SqlSession;

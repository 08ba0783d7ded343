//! Data quality: expectations per table (`expectations/<zone>.<name>.toml`), compiled to SQL
//! and run by DataFusion over the lake, with results kept in the catalog.
//!
//! Every check of a suite becomes one aggregate expression of a single `SELECT ... FROM
//! table`, so ten expectations over 25M rows cost one scan. Uniqueness is settled in the same
//! scan when the table is stored in key order (see [`unique`]); otherwise one exact
//! `GROUP BY` scan per unique key follows. Only failing row checks run more queries, to fetch
//! a few failing rows as examples.
//!
//! ```text
//!  expectations/clean.ratings.toml ──Suite::from_file──> Suite (checked, with line numbers)
//!        │
//!        v  validate(session, suite, options)
//!  SELECT count(*), count("user_id"), reel_dup_rows("user_id","movie_id"),
//!         count(CASE WHEN "rating" < 0.5 OR "rating" > 5.0 THEN 1 END), avg("rating"), ...
//!  FROM "clean"."ratings" [WHERE <filter for the run day>]          -- one scan
//!        │
//!        v
//!  Report: per expectation passed, observed value, failing rows, examples ──store──> catalog
//! ```
//!
//! ```no_run
//! # async fn demo(lake: reel_lake::Lake, catalog: reel_catalog::Catalog) -> Result<(), Box<dyn std::error::Error>> {
//! use reel_quality::{Suite, ValidateOptions, validate};
//! let suite = Suite::from_file(std::path::Path::new("expectations/clean.ratings.toml"))?;
//! let session = reel_sql::SqlSession::try_new(&lake, None).await?;
//! let report = validate(&session, &suite, &ValidateOptions::default()).await?;
//! println!("{}", report.to_text());
//! report.store(&catalog, None).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
pub mod suite;
pub mod unique;
mod validate;

pub use error::{Error, Result};
pub use suite::{Check, Expectation, Severity, Suite};
pub use validate::{Outcome, Report, Status, ValidateOptions, thousands, validate};

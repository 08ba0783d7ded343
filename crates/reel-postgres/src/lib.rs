//! PostgreSQL for reelhouse: the OLTP source (`reelhouse ingest postgres`) and the loader
//! of the generated rental company (`reelhouse generate rental`).
//!
//! This crate talks to PostgreSQL and produces or consumes Arrow and generated rows; it
//! knows nothing of the lake or the catalog. `reel-pipeline` writes the batches to the lake
//! transactionally, keeps the watermark in the catalog and retries broken connections.
//!
//! ```text
//!   source (table | query) ──plan──> ExtractPlan (columns mapped to Arrow, COPY statement,
//!                                     WHERE watermark > low)
//!        COPY ... TO STDOUT (FORMAT binary) ──Decoder──> RecordBatch stream + quarantined rows
//!                                                        + the highest watermark read
//!   reel-gen rental rows ──load_rental──> COPY ... FROM STDIN, keys and indexes, one transaction
//! ```
//!
//! Types are mapped as [`types`] documents (numeric to Decimal128 with the column's precision
//! and scale, timestamptz to Timestamp(µs, UTC), ...); a value without an Arrow form (a NaN
//! numeric, an infinite date) sends its row to quarantine with the reason.
//!
//! ```no_run
//! # async fn demo() -> reel_postgres::Result<()> {
//! use reel_postgres::{ExtractRequest, Extraction, Source, connect, plan};
//! let mut conn = connect("postgres://reel@localhost/dvdrental", "reelhouse").await?;
//! let req = ExtractRequest {
//!     source: Source::Table("payment".into()),
//!     watermark: Some("payment_date".into()),
//!     low: None,
//!     mapping: Default::default(),
//! };
//! let plan = plan(&mut conn, &req).await?;
//! let mut ex = Extraction::start(&mut conn, &plan, 65_536).await?;
//! while let Some(chunk) = ex.next().await? {
//!     for batch in chunk.batches {
//!         println!("{} rows", batch.num_rows());
//!     }
//! }
//! println!("loaded up to {:?}", ex.high());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod binary;
mod error;
mod load;
mod source;
pub mod types;
mod watermark;

pub use binary::{BadRow, DecodeStats, Decoder};
pub use error::{Error, Result};
pub use load::{LoadOptions, LoadReport, RENTAL_TABLES, load_rental};
pub use source::{Chunk, ExtractPlan, ExtractRequest, Extraction, Source, backend_pid, connect, mask_url, plan, quote_ident};
pub use types::{ColumnSpec, DEFAULT_NUMERIC_SCALE, MappingOptions, PgKind};
pub use watermark::WatermarkValue;

/// The sqlx connection type the functions take.
pub use sqlx::postgres::PgConnection;

//! The lake: Delta tables on an object store (a local folder, `memory://` or S3), one
//! transaction per write.
//!
//! Tables live at `<root>/<zone>/<name>` (zones: raw, clean, curated, quarantine). Ingest
//! writes raw and quarantine tables partitioned by the ingest day `ds`, transforms write
//! clean and curated tables, and the SQL layer reads them all through delta-rs's DataFusion
//! provider. The catalog (`reel-catalog`) records what each write produced.
//!
//! ```text
//!   batches ──> TableWriter::write ──> parquet files in <root>/<zone>/<name>/[ds=.../]
//!                                         (invisible: no version references them yet)
//!              TableWriter::commit ──> _delta_log/<version>.json
//!                                         adds the new files, removes the replaced ones:
//!                                         Overwrite          -> every file
//!                                         ReplacePartition   -> the files of ds=<day>
//!                                         Append             -> none
//!   Lake::open / open_version / scan / info / history <── readers see whole versions only
//! ```
//!
//! A write is a single Delta commit: the log entry is written with put-if-absent, so a
//! crash at any moment leaves the table at its previous version or at the new one, never
//! in between. Files written by a crashed or aborted write are orphans that no version
//! references.
//!
//! ```
//! # async fn demo() -> reel_lake::Result<()> {
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, RecordBatch};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use reel_lake::{Lake, WriteMode};
//!
//! let lake = Lake::try_new("memory://", None)?;
//! let table = "clean.ratings".parse().expect("a valid name");
//! let schema = Arc::new(Schema::new(vec![Field::new("rating", DataType::Int64, false)]));
//! let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![4, 5]))])
//!     .expect("columns match the schema");
//!
//! let mut w = lake.writer(&table, schema).with_mode(WriteMode::Overwrite);
//! w.write(batch).await?;
//! let m = w.commit().await?;
//! assert_eq!((m.version, m.rows_written), (0, 2));
//! assert_eq!(lake.info(&table).await?.row_count, Some(2));
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
#![deny(missing_docs)]

mod error;
mod lake;
mod writer;

pub use error::{Error, Result};
pub use lake::{CommitEntry, Lake, TableInfo, scan_table};
pub use writer::{DEFAULT_TARGET_FILE_BYTES, DEFAULT_TARGET_FILE_ROWS, TableWriter, WriteMetrics, WriteMode};

/// The delta-rs crate this lake is built on, for callers that need its types.
pub use deltalake;

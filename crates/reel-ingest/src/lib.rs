//! Parsing MovieLens files, Kaggle's `movies_metadata.csv` and vendor review files
//! ([`reviews`]) into Arrow record batches: the first stage of reelhouse.
//!
//! This crate reads files and nothing else: no lake, no async. It finds which MovieLens
//! release a folder holds, parses its files (in parallel, in big chunks) and hands typed
//! [`RecordBatch`](arrow::record_batch::RecordBatch)es for the raw, clean and quarantine
//! tables to a caller-provided [`Sink`]. The caller (the `reelhouse ingest` command) writes
//! them to the lake.
//!
//! ```text
//!   folder --detect--> Detected --ingest--> Sink::emit(Target, RecordBatch)
//!                                            |  raw.ratings, clean.ratings,
//!                                            |  quarantine.ratings, ...
//!                                            '-> IngestReport (checksums, row counts)
//! ```
//!
//! Bad lines never stop a load: they go to `quarantine.<table>` with a precise reason.
//! See [`movielens`] for the formats, the tables and the cleaning rules, and [`tmdb`] for
//! `movies_metadata.csv` (its Python-literal columns are read by [`tmdb::literal`]).
//!
//! ```
//! use reel_ingest::movielens::{detect, ingest, IngestOptions};
//! use reel_ingest::{Target, VecSink};
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ml-csv");
//! let found = detect(std::path::Path::new(dir))?;
//! let mut sink = VecSink::new();
//! let report = ingest(&found, &IngestOptions::new("2025-04-09".parse()?), &mut sink, &|_| {})?;
//! for t in &report.tables {
//!     println!("{}: {} read, {} loaded, {} quarantined", t.table, t.read, t.loaded, t.quarantined);
//! }
//! assert!(sink.rows(Target::Clean("ratings")) > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod error;
pub mod movielens;
pub mod reviews;
pub mod sink;
pub mod source;
pub mod tmdb;

pub use error::{Error, Result};
pub use sink::{Sink, Target, VecSink};
pub use source::SourceFile;

/// The columns of any table this crate writes (MovieLens or `tmdb_*`).
pub fn schema_of(target: Target) -> arrow::datatypes::SchemaRef {
    if target.name().starts_with("tmdb_") {
        tmdb::schema(target)
    } else {
        movielens::schema(target)
    }
}

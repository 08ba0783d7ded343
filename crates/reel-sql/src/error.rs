//! Errors of the SQL layer.

/// Errors raised while planning, running or printing a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query refers to a table that does not exist.
    #[error("{message}\n  tables in this workspace: {available}")]
    UnknownTable {
        /// DataFusion's message.
        message: String,
        /// The tables that do exist, comma-separated.
        available: String,
    },
    /// Any other planning or execution error; DataFusion's message names the column or
    /// the syntax problem.
    #[error("{message}")]
    Query {
        /// The innermost DataFusion message (the chain repeats it at every level).
        message: String,
    },
    /// Reading a table from the lake failed.
    #[error(transparent)]
    Lake(#[from] reel_lake::Error),
    /// Reading the catalog failed.
    #[error(transparent)]
    Catalog(#[from] reel_catalog::Error),
    /// Formatting output.
    #[error("cannot write the result: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Writing Parquet output.
    #[error("cannot write Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Output I/O.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A format that needs a file was asked for on the terminal.
    #[error("--format parquet writes a binary file; add --out FILE.parquet")]
    ParquetNeedsFile,
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Error::Query {
            message: e.find_root().to_string(),
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

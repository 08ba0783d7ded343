//! Errors of expectation files and validations.
use std::path::PathBuf;

/// Errors raised while reading an expectations file or validating a table.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or an expectation is malformed.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An expectation names a column the table does not have, or one of the wrong type.
    #[error("{path}:{line}: {message}")]
    Column {
        /// The file.
        path: PathBuf,
        /// 1-based line of the expectation.
        line: usize,
        /// What is wrong, with the table's columns.
        message: String,
    },
    /// The table to validate does not exist.
    #[error("table {table} does not exist; tables: {available}")]
    NoTable {
        /// The table.
        table: String,
        /// The tables that do.
        available: String,
    },
    /// The SQL of a check failed in DataFusion.
    #[error("running the checks of {table}: {message}\n  SQL: {sql}")]
    Query {
        /// The table.
        table: String,
        /// DataFusion's message.
        message: String,
        /// The statement.
        sql: String,
    },
    /// Storing results in the catalog.
    #[error(transparent)]
    Catalog(#[from] reel_catalog::Error),
    /// A bug.
    #[error("internal error: {0} (this is a bug in reelhouse; please report it)")]
    Internal(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The crate's error type.

/// Errors of the report pack.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No report has this name.
    #[error("no report named {name:?}; the reports are: {known} (see `reelhouse report list`)")]
    UnknownReport {
        /// What was asked for.
        name: String,
        /// The report names.
        known: String,
    },
    /// A parameter is unknown or its value is out of range.
    #[error("{report}{sep}{message}", sep = if report.is_empty() { "" } else { ": " })]
    BadParam {
        /// The report.
        report: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The tables a report reads are not in the lake.
    #[error("{report} reads {missing}, which the workspace does not have; {hint}")]
    MissingTables {
        /// The report.
        report: String,
        /// The missing tables, comma-separated.
        missing: String,
        /// The command that creates them.
        hint: String,
    },
    /// A chart file name without `.svg` or `.png`.
    #[error("cannot tell the chart format of {path}; name the file .svg or .png")]
    BadChartPath {
        /// The path given.
        path: String,
    },
    /// Running the SQL.
    #[error(transparent)]
    Sql(#[from] reel_sql::Error),
    /// Reading the catalog.
    #[error(transparent)]
    Catalog(#[from] reel_catalog::Error),
    /// Arrow conversions (a bug: every report's columns are known).
    #[error("internal error reading a report's result: {0}; please report this bug")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Drawing a chart.
    #[error("cannot draw the chart: {0}")]
    Chart(String),
    /// Writing a file.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

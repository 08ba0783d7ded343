//! The errors of the lake.
//!
//! "Your input is wrong" variants ([`Error::TableNotFound`], [`Error::SchemaMismatch`], ...)
//! carry the table and the values involved and say what to do. Storage and Delta failures
//! keep their source and say which table and step they happened in.
//! [`Error::Internal`] is a bug in reelhouse and asks for a report.
use reel_common::TableRef;

/// Errors raised by the lake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The lake root is not a folder, `file://`, `memory://` or `s3://` URL.
    #[error("bad lake root {root:?}: {reason}; use an absolute folder, file:///abs/path, memory:// or s3://bucket/prefix")]
    BadRoot {
        /// What was given.
        root: String,
        /// Why it was refused.
        reason: String,
    },

    /// The table has no Delta log.
    #[error("table {table} does not exist (no _delta_log at {location}); write it first, or run `reelhouse tables` to see the tables of this lake")]
    TableNotFound {
        /// The table asked for.
        table: TableRef,
        /// Where it was looked for.
        location: String,
    },

    /// Time travel to a version the table does not have.
    #[error("table {table} has no version {version} (latest is {latest}); pick a version from `reelhouse history {table}`")]
    VersionNotFound {
        /// The table.
        table: TableRef,
        /// The version asked for.
        version: i64,
        /// The newest version of the table.
        latest: i64,
    },

    /// Appending or replacing a partition with data whose schema is not the table's.
    #[error("cannot {mode} {table}: the data's schema differs from the table's.\n  table: {table_schema}\n  data:  {data_schema}\nwrite with WriteMode::Overwrite to replace the table and its schema, or cast the data to the table's schema")]
    SchemaMismatch {
        /// The table.
        table: TableRef,
        /// The write mode (`append`, `replace partition ds=...`).
        mode: String,
        /// The table's schema, one `name: type` per column.
        table_schema: String,
        /// The schema of the data being written.
        data_schema: String,
    },

    /// A batch passed to [`crate::TableWriter::write`] does not have the writer's schema.
    #[error("batch for {table} does not match the writer's schema: {reason}.\n  writer: {expected}\n  batch:  {found}\nbuild the batch with the schema passed to Lake::writer")]
    BatchSchemaMismatch {
        /// The table.
        table: TableRef,
        /// The first difference found.
        reason: String,
        /// The writer's schema.
        expected: String,
        /// The batch's schema.
        found: String,
    },

    /// The write's partition columns differ from the table's.
    #[error("cannot {mode} {table}: it is partitioned by {table_partitions:?} but the write asks for {requested:?}; use the table's partition columns, or WriteMode::Overwrite to repartition the table")]
    PartitionMismatch {
        /// The table.
        table: TableRef,
        /// The write mode.
        mode: String,
        /// The table's partition columns.
        table_partitions: Vec<String>,
        /// The partition columns of the write.
        requested: Vec<String>,
    },

    /// A partition column that is not a column of the data.
    #[error("cannot write {table}: partition column {column:?} is not in the schema ({schema}); partition by one of its columns")]
    PartitionColumnMissing {
        /// The table.
        table: TableRef,
        /// The missing column.
        column: String,
        /// The schema of the data.
        schema: String,
    },

    /// `ReplacePartition` data holding rows of another partition.
    #[error("cannot replace partition {column}={expected} of {table}: the data also holds rows with {column}={found:?}; filter the data to {column}={expected} or use WriteMode::Append")]
    PartitionValueMismatch {
        /// The table.
        table: TableRef,
        /// The partition column.
        column: String,
        /// The partition being replaced.
        expected: String,
        /// A value found in the data (`None` for null).
        found: Option<String>,
    },

    /// A column type Delta cannot store (for example unsigned integers).
    #[error("cannot store {table}: {reason}; cast the column to a supported type (signed integers, float, decimal, string, binary, boolean, date, timestamp, list, struct, map)")]
    UnsupportedSchema {
        /// The table.
        table: TableRef,
        /// The converter's message.
        reason: String,
    },

    /// The write was aborted, or its writer failed earlier.
    #[error("the writer of {table} was aborted or failed earlier ({reason}); nothing was committed, start a new writer")]
    WriterFailed {
        /// The table.
        table: TableRef,
        /// What happened.
        reason: String,
    },

    /// A Delta operation failed.
    #[error("{action} {table}: {source}")]
    Delta {
        /// The table (or lake root) involved.
        table: String,
        /// What we were doing, e.g. "committing version 3 of".
        action: String,
        /// The delta-rs error (boxed: it is large and errors travel far).
        #[source]
        source: Box<deltalake::DeltaTableError>,
    },

    /// Reading or writing the object store failed.
    #[error("{action} {path}: {source}")]
    Store {
        /// What we were doing.
        action: &'static str,
        /// The object or folder.
        path: String,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },

    /// A local folder could not be created.
    #[error("creating the lake folder {path}: {source}")]
    Io {
        /// The folder.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// An Arrow operation failed.
    #[error("{action} {table}: {source}")]
    Arrow {
        /// The table.
        table: TableRef,
        /// What we were doing.
        action: &'static str,
        /// The Arrow error.
        #[source]
        source: arrow::error::ArrowError,
    },

    /// Running a query over a table failed.
    #[error("scanning {table}: {source}")]
    Query {
        /// The table.
        table: TableRef,
        /// The DataFusion error (boxed, as above).
        #[source]
        source: Box<deltalake::datafusion::error::DataFusionError>,
    },

    /// A Delta log entry that cannot be parsed.
    #[error("reading the Delta log of {table}, {path}: {reason}; the table may have been written by a newer tool, please report this with the file attached")]
    BadLog {
        /// The table.
        table: TableRef,
        /// The log file.
        path: String,
        /// What was wrong.
        reason: String,
    },

    /// A bug in reelhouse.
    #[error("internal error: {0}; this is a bug in reelhouse, please report it")]
    Internal(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps a delta-rs error with the table and the step it happened in.
    pub(crate) fn delta(table: impl ToString, action: impl Into<String>) -> impl FnOnce(deltalake::DeltaTableError) -> Error {
        let table = table.to_string();
        let action = action.into();
        move |source| Error::Delta {
            table,
            action,
            source: Box::new(source),
        }
    }

    /// Wraps an object store error with the path and the step it happened in.
    pub(crate) fn store(action: &'static str, path: impl ToString) -> impl FnOnce(object_store::Error) -> Error {
        let path = path.to_string();
        move |source| Error::Store { action, path, source }
    }
}

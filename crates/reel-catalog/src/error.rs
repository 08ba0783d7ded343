//! The errors of the catalog.
use reel_common::TableRef;

/// Errors raised by the catalog.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL is neither SQLite nor PostgreSQL.
    #[error("unsupported catalog URL {url}: use sqlite:///abs/path.db?mode=rwc, sqlite::memory: or postgres://user:pass@host/db")]
    UnsupportedUrl {
        /// The URL, password masked.
        url: String,
    },

    /// The database could not be reached or opened.
    #[error("cannot open the catalog at {url}: {source}; {hint}")]
    Connect {
        /// The URL, password masked.
        url: String,
        /// What to check.
        hint: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The database was set up by a newer reelhouse.
    #[error("the catalog at {url} has schema version {found}, newer than the {supported} this reelhouse knows; upgrade reelhouse")]
    NewerSchema {
        /// The URL, password masked.
        url: String,
        /// The version found in the database.
        found: i64,
        /// The version this build writes.
        supported: i64,
    },

    /// A statement failed.
    #[error("{action}: {source}")]
    Query {
        /// What we were doing, naming the table or run.
        action: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// Setting metadata on a table the catalog has never seen.
    #[error("table {table} is not in the catalog; write it first (its first version registers it), or check the name with `reelhouse tables`")]
    TableNotInCatalog {
        /// The table.
        table: TableRef,
    },

    /// Finishing a run that was never started.
    #[error("run {run_id} is not in the catalog; start it with start_run first")]
    RunNotFound {
        /// The run id.
        run_id: String,
    },

    /// A caller passed a value the catalog cannot store.
    #[error("{what} {value:?} is not valid: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: String,
        /// Why, and what to pass instead.
        reason: String,
    },

    /// A stored value that does not parse (edited by hand, or a bug).
    #[error("the catalog holds a bad {what} {value:?} ({reason}); fix the row by hand or report a bug")]
    BadStoredValue {
        /// Which column.
        what: &'static str,
        /// The stored text.
        value: String,
        /// The parser's message.
        reason: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps a driver error with what we were doing.
    pub(crate) fn query(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let action = action.into();
        move |source| Error::Query { action, source }
    }
}

//! The errors of the PostgreSQL source and loader.

/// Errors raised while talking to PostgreSQL or decoding what it sends.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL does not parse.
    #[error("bad PostgreSQL URL {url}: {reason}; write it as postgres://user:password@host:5432/database")]
    BadUrl {
        /// The URL, password masked.
        url: String,
        /// The parser's message.
        reason: String,
    },

    /// The server could not be reached or refused us.
    #[error("cannot connect to {url}: {source}; check that the server runs, the database exists and the user and password are right")]
    Connect {
        /// The URL, password masked.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// A statement failed.
    #[error("{action}: {}", describe_sqlx(source))]
    Query {
        /// What we were doing.
        action: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The table named by `--table` does not exist.
    #[error("no table or view {table} in the database{}; pass --table SCHEMA.NAME", tables_hint(found))]
    NoSuchTable {
        /// What the caller passed.
        table: String,
        /// Some tables that do exist.
        found: Vec<String>,
    },

    /// A column of a type the source does not map.
    #[error("column {column} has type {pg_type}, which reelhouse does not map to Arrow; cast it in a query, e.g. --query \"SELECT ..., {column}::text AS {column} FROM ...\"")]
    UnsupportedType {
        /// The column.
        column: String,
        /// Its PostgreSQL type, as `format_type` prints it.
        pg_type: String,
    },

    /// The watermark column cannot be used.
    #[error("cannot use {column} as the watermark: {reason}")]
    BadWatermark {
        /// The column.
        column: String,
        /// Why, and what to do instead.
        reason: String,
    },

    /// A stored watermark that does not parse as its type.
    #[error("stored watermark {value:?} is not a valid {kind}; clear it with --full-refresh")]
    BadWatermarkValue {
        /// The stored kind.
        kind: String,
        /// The stored text.
        value: String,
    },

    /// The source has two columns of one name, or a column the lake reserves.
    #[error("column name {column:?} {reason}; rename it in a query (SELECT ... AS other_name)")]
    BadColumnName {
        /// The column.
        column: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The COPY stream broke the binary format: a driver or server bug, or a corrupted
    /// connection.
    #[error("the COPY stream is not valid binary COPY data: {reason} (a bug or a corrupted connection; please report it)")]
    Protocol {
        /// What was wrong.
        reason: String,
    },

    /// The COPY stream ended before its trailer: the connection was cut.
    #[error("the COPY stream ended after {rows} rows without its end marker: the connection was cut")]
    Truncated {
        /// Rows decoded before the end.
        rows: u64,
    },

    /// The generator's target tables already exist.
    #[error("the database already has {tables} in schema {schema}; pass --replace to drop and regenerate the rental tables, or use another database or --pg-schema")]
    TablesExist {
        /// The schema.
        schema: String,
        /// The tables found, comma-separated.
        tables: String,
    },

    /// A bad parameter.
    #[error("{what} {value:?} is not valid: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: String,
        /// Why, and what to pass instead.
        reason: String,
    },

    /// Generating the data.
    #[error(transparent)]
    Gen(#[from] reel_gen::Error),

    /// Building an Arrow batch (a bug: the decoder checks every value first).
    #[error("internal error building an Arrow batch: {0} (this is a bug in reelhouse; please report it)")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps a driver error with what we were doing.
    pub(crate) fn query(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> Error {
        let action = action.into();
        move |source| Error::Query { action, source }
    }

    /// Whether trying again on a new connection may succeed: the connection broke (I/O,
    /// protocol, a terminated backend, a server restarting) or the server asked to retry
    /// (serialization failure, deadlock). Errors in the request itself (syntax, a missing
    /// table, permissions) are not retryable.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { source, .. } | Error::Query { source, .. } => retryable_sqlx(source),
            Error::Truncated { .. } => true,
            _ => false,
        }
    }
}

pub(crate) fn retryable_sqlx(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect
            // now; 40001/40P01: serialization failure, deadlock; 53300: too many connections.
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "40001" | "40P01" | "53300")
        }
        _ => false,
    }
}

/// The driver's message, with the server's SQLSTATE, detail and hint when it sent them.
fn describe_sqlx(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => {
            let mut s = db.message().to_string();
            if let Some(code) = db.code() {
                s.push_str(&format!(" (SQLSTATE {code})"));
            }
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(d) = pg.detail() {
                    s.push_str(&format!("; {d}"));
                }
                if let Some(h) = pg.hint() {
                    s.push_str(&format!("; hint: {h}"));
                }
            }
            s
        }
        other => other.to_string(),
    }
}

fn tables_hint(found: &[String]) -> String {
    if found.is_empty() {
        String::new()
    } else {
        format!(" (it has {})", found.join(", "))
    }
}

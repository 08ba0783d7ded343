//! The crate's error type.
//!
//! Only problems that stop a load are errors: a file that cannot be read, a folder that holds
//! no MovieLens files, a sink that refuses a batch. A bad *line* is never an error; it goes
//! to a quarantine table with its reason.
use std::path::PathBuf;

/// Errors that stop an ingest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file or folder failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing ("opening", "reading", "listing").
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The folder holds none of the MovieLens file sets.
    #[error(
        "no MovieLens files in {dir}: found {found}; expected one of {expected}; \
         pass the folder that holds them (or a file inside it)"
    )]
    NotMovieLens {
        /// The folder that was searched.
        dir: PathBuf,
        /// The file names that were there (shortened).
        found: String,
        /// The file sets that would have matched.
        expected: String,
    },
    /// A [`crate::movielens::Detected`] without the movies or ratings file every load needs.
    #[error(
        "the {format} release in {dir} has no {role} file; build the list with movielens::detect"
    )]
    MissingFile {
        /// The release folder.
        dir: PathBuf,
        /// Its layout (`ml-csv`).
        format: String,
        /// The missing file's role (`ratings`).
        role: String,
    },
    /// Several subfolders hold MovieLens files and none was named.
    #[error("{dir} holds several MovieLens folders ({candidates}); pass one of them")]
    Ambiguous {
        /// The folder that was searched.
        dir: PathBuf,
        /// The matching subfolders.
        candidates: String,
    },
    /// A line so long that the file is surely not a MovieLens text file.
    #[error(
        "{path}: no line break in the {limit_mib} MiB after byte {offset}; \
         is this a MovieLens text file?"
    )]
    LineTooLong {
        /// The file.
        path: PathBuf,
        /// Byte offset where the over-long line starts.
        offset: u64,
        /// The limit, in MiB.
        limit_mib: u64,
    },
    /// A lookup file that defines the layout of another file (ML-100K `u.genre`) is broken.
    #[error(
        "{path} line {line}: {reason}; fix the file or remove it to use the 19 standard genres"
    )]
    BadLookup {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A file that is not a `movies_metadata.csv` (no such file in the folder, or its
    /// header lacks the key columns).
    #[error("{path} is not a movies_metadata.csv: {reason}")]
    NotMoviesMetadata {
        /// The file or folder given.
        path: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The file changed between the two passes over it.
    #[error("{path} changed while it was being read ({reason}); run the ingest again")]
    FileChanged {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// A file that cannot be read as a whole (a review file without its header).
    #[error("{path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong and what the file should look like.
        reason: String,
    },
    /// The caller's sink refused a batch.
    #[error("writing {table}: {source}")]
    Sink {
        /// The table the batch was for (`clean.ratings`).
        table: String,
        /// The sink's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A bug in this crate: please report it.
    #[error("internal error in reel-ingest: {message}; please report this bug")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Wraps a sink's own error, naming the table the batch was for.
    pub fn sink(
        target: crate::Target,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Sink {
            table: target.to_string(),
            source: source.into(),
        }
    }

    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }
}

impl From<arrow::error::ArrowError> for Error {
    /// Arrow errors can only come from building batches wrongly, which is our bug.
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::internal(format!("building a record batch: {e}"))
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! Errors of the data generators.
use std::path::PathBuf;

/// Errors raised while checking generator parameters or writing generated files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Fewer ratings than the generator can shape into a MovieLens-like set.
    #[error(
        "--ratings {value} is below the minimum of {min}: every user has at least 20 ratings, so \
         smaller sets have too few users to look like MovieLens; pass --ratings {min} or more"
    )]
    TooFewRatings {
        /// What the caller asked for.
        value: u64,
        /// The smallest accepted value.
        min: u64,
    },
    /// More ratings than the generator supports (user and movie ids are 32-bit).
    #[error(
        "--ratings {value} is above the maximum of {max}; pass --ratings {max} or fewer \
         (MovieLens 25M is 25000000)"
    )]
    TooManyRatings {
        /// What the caller asked for.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// A number of movies the metadata generator does not make.
    #[error("--movies {value} is outside 1..={max}; pass e.g. --movies 1000000")]
    BadMovies {
        /// What the caller asked for.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// A generator parameter out of its range.
    #[error("{flag} {value} is out of range: {reason}")]
    BadParam {
        /// The flag (`--customers`).
        flag: &'static str,
        /// What the caller passed.
        value: String,
        /// The accepted range.
        reason: String,
    },
    /// A review corpus that cannot be used.
    #[error("cannot use {path} as a review corpus: {reason}")]
    BadCorpus {
        /// The file.
        path: PathBuf,
        /// Why, and what it needs.
        reason: String,
    },
    /// I/O on an output file or folder.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What we were doing ("create folder", "write", ...).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A bug in the generator, not a problem with the input.
    #[error("internal error in the MovieLens generator: {message}; this is a bug, please report it with the --ratings and --seed values")]
    Internal {
        /// What went wrong.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

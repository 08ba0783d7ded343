//! The crate's error type.
//!
//! "Your input is wrong" (a bad parameter, an empty training set, a corrupted artifact) is
//! kept apart from "we have a bug" ([`Error::Internal`]).

/// Errors of training, evaluation and artifacts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter is out of its range; reported before any training starts.
    #[error("invalid {algorithm} parameter {name} = {value}: {expected}")]
    InvalidParam {
        /// The algorithm ("svd", "ials", ...).
        algorithm: &'static str,
        /// The parameter name as the user types it (`factors`, `lr`).
        name: &'static str,
        /// The value that was given.
        value: String,
        /// What would be accepted, e.g. "expected an integer from 1 to 1024".
        expected: String,
    },
    /// The data cannot be used (no ratings, a rating outside the scale, a bad split spec).
    #[error("{0}")]
    Data(String),
    /// A model artifact that cannot be loaded: wrong magic, unknown version, bad checksum,
    /// truncated, or sections that do not match the header.
    #[error("the model artifact is not usable: {reason}; retrain the model or restore the file")]
    Artifact {
        /// What is wrong with it.
        reason: String,
    },
    /// Training was stopped by the caller (see [`crate::model::FitObserver::keep_going`]).
    #[error("training was cancelled")]
    Cancelled,
    /// Reading or writing an artifact failed.
    #[error("{action}: {source}")]
    Io {
        /// What we were doing.
        action: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A bug: an invariant did not hold.
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

impl Error {
    /// An [`Error::Artifact`] with the given reason.
    pub fn artifact(reason: impl Into<String>) -> Self {
        Error::Artifact { reason: reason.into() }
    }

    /// An [`Error::InvalidParam`].
    pub fn param(algorithm: &'static str, name: &'static str, value: impl ToString, expected: impl Into<String>) -> Self {
        Error::InvalidParam {
            algorithm,
            name,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

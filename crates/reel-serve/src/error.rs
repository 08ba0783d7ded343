//! The crate's error type. HTTP responses are built from [`crate::api::ApiError`]; this one
//! is for setting up the server and for the boundaries it calls (model source, event sink).
use std::net::SocketAddr;

/// What can go wrong outside a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A serving parameter is out of range.
    #[error("invalid serve setting {name} = {value}: {expected}")]
    InvalidParam {
        /// The setting (`poll_seconds`, `max_inflight`, ...).
        name: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: String,
    },
    /// A model the server was told to serve has no version under the alias.
    #[error("model {name:?} has no {alias}; {hint}")]
    NoChampion {
        /// The model name.
        name: String,
        /// The alias looked up.
        alias: String,
        /// What to do.
        hint: String,
    },
    /// The caller asked for something that does not exist or is not allowed (a version
    /// that is not registered, a gate that has nothing to compare).
    #[error("{0}")]
    BadRequest(String),
    /// Something named is not there (model, version).
    #[error("{0}")]
    NotFound(String),
    /// The model registry or the artifact store failed.
    #[error("model source: {0}")]
    Source(String),
    /// Writing events to the lake failed.
    #[error("writing events to {table}: {source}")]
    Sink {
        /// The events table.
        table: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Binding or serving the socket failed.
    #[error("serving on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A bug: an invariant did not hold. Please report it.
    #[error("internal error (please report it): {0}")]
    Internal(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

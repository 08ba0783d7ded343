//! Errors of the shared types.
use std::path::PathBuf;

/// Errors raised while parsing names or reading the workspace configuration.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A table name that is not `zone.name`.
    #[error("bad table name {name:?}: {reason}; write it as zone.name, e.g. clean.ratings (zones: raw, clean, curated, quarantine)")]
    BadTableName {
        /// What the user wrote.
        name: String,
        /// Why it was refused.
        reason: String,
    },
    /// A run day that is not `YYYY-MM-DD`.
    #[error("bad run day {value:?}: expected YYYY-MM-DD, e.g. 2025-04-09")]
    BadDs {
        /// What the user wrote.
        value: String,
    },
    /// No `reelhouse.toml` in the directory or its parents.
    #[error("no reelhouse workspace at {dir} or above it (no {file} found); create one with `reelhouse init {dir}` or pass --workspace DIR", file = crate::CONFIG_FILE)]
    NoWorkspace {
        /// Where the search started.
        dir: PathBuf,
    },
    /// `reelhouse init` on a folder that already has a workspace.
    #[error("{path} already exists; this folder is already a workspace (remove the file to start over)")]
    AlreadyInitialised {
        /// The existing config file.
        path: PathBuf,
    },
    /// The config file does not parse.
    #[error("cannot read {path}: {message}")]
    BadConfig {
        /// The config file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
    /// I/O on the workspace folder.
    #[error("{action} {path}: {source}")]
    Io {
        /// What we were doing.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

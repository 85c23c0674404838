//! Typed errors of the store. `StoreError` is for failures of the store itself (I/O, corruption,
//! poisoning, bad configuration); the outcome of a put or a get is a status enum in `result.rs`,
//! never an error, because the broker maps each status to a wire code.

use std::path::PathBuf;

/// Result alias for store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A failure of the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O call on `path` failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A file holds bytes that cannot be what the store wrote.
    #[error("corrupt data in {file} at offset {offset}: {reason}")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Byte offset inside the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// An earlier fsync failed, so nothing written since can be trusted to be durable; writes are
    /// refused until the process restarts and recovers from disk.
    #[error("the store is poisoned by an earlier flush failure; restart to recover")]
    Poisoned,
    /// A configuration value is out of range or inconsistent with another.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
    /// Another process (a Java or Rust broker) holds the store's lock file.
    #[error("store directory is locked by another process: {0}")]
    Locked(PathBuf),
    /// The store has been shut down.
    #[error("the store has been shut down")]
    Shutdown,
}

impl StoreError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }

    /// Builds a corruption error.
    pub fn corrupt(file: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            file: file.into(),
            offset,
            reason: reason.into(),
        }
    }
}

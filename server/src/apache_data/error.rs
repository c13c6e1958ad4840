//! Why an import or export stopped. Every refusal names the file (and, for damage inside
//! a file, the byte offset) so that the user can look at it.

use std::path::{Path, PathBuf};

use crate::storage::epoch::EpochError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Bytes in an Apache file that Apache's own recovery would not accept either.
    #[error("{file}: {what} at offset {offset}")]
    Damaged {
        file: PathBuf,
        offset: u64,
        what: String,
    },
    /// The input as a whole cannot give a complete state (a missing snapshot, a gap in
    /// the log, epochs behind the log), or the output directory is not a fresh one.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Epoch(#[from] EpochError),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> MigrationError + '_ {
    move |source| MigrationError::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(crate) fn damaged(file: &Path, offset: u64, what: impl Into<String>) -> MigrationError {
    MigrationError::Damaged {
        file: file.to_path_buf(),
        offset,
        what: what.into(),
    }
}

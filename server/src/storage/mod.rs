//! Durable storage: the transaction log ([`txnlog`], appended by the group-commit thread in
//! [`writer`], read from a zxid on for a learner, cut back by [`truncate`]), fuzzy snapshots
//! taken in slices by the core ([`snapshot`], [`scheduler`]), recovery at start, and purging
//! of old files. Layout: `<dataDir>/zkrs/` holds snapshots and `<dataLogDir>/zkrs/` log
//! segments; a `FORMAT` file in each names the format version.

pub mod codec;
pub mod direct;
pub mod epoch;
#[cfg(test)]
mod fuzzy_tests;
pub mod purge;
pub mod recovery;
pub mod scheduler;
pub mod snapshot;
pub mod truncate;
pub mod txnlog;
pub mod writer;

use std::path::{Path, PathBuf};

use thiserror::Error;

/// The on-disk format this server writes and reads.
pub const DATA_FORMAT: u32 = 1;
const FORMAT_FILE: &str = "FORMAT";
const FORMAT_PREFIX: &str = "zkrs-data-format ";

#[derive(Debug, Error)]
pub enum StorageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} holds Apache ZooKeeper data (version-2/); zkrs-server keeps its own format and \
         cannot read it: point dataDir at an empty directory"
    )]
    ApacheData(PathBuf),
    #[error("{path}: data format {found} is not one this server reads (it reads {DATA_FORMAT}); refusing to start")]
    UnknownFormat { path: PathBuf, found: String },
    #[error("{0}")]
    Unrecoverable(String),
    #[error("{0}")]
    Refused(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes a directory entry (a new or renamed file) durable.
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Where snapshots and logs live.
#[derive(Debug, Clone)]
pub struct DataDirs {
    pub snap_dir: PathBuf,
    pub log_dir: PathBuf,
}

impl DataDirs {
    pub fn new(data_dir: &Path, data_log_dir: &Path) -> Self {
        DataDirs {
            snap_dir: data_dir.join("zkrs"),
            log_dir: data_log_dir.join("zkrs"),
        }
    }

    /// Creates the directories if needed and checks that what is there is ours, in a
    /// format this server reads.
    pub fn open(data_dir: &Path, data_log_dir: &Path) -> Result<Self, StorageError> {
        let dirs = DataDirs::new(data_dir, data_log_dir);
        for (root, dir) in [(data_dir, &dirs.snap_dir), (data_log_dir, &dirs.log_dir)] {
            if root.join("version-2").is_dir() && !dir.exists() {
                return Err(StorageError::ApacheData(root.to_path_buf()));
            }
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
            check_or_write_format(dir)?;
        }
        Ok(dirs)
    }
}

fn check_or_write_format(dir: &Path) -> Result<(), StorageError> {
    let file = dir.join(FORMAT_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let found = text
                .trim()
                .strip_prefix(FORMAT_PREFIX)
                .unwrap_or(text.trim());
            if found.parse::<u32>() != Ok(DATA_FORMAT) {
                return Err(StorageError::UnknownFormat {
                    path: file,
                    found: found.to_string(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let has_files = std::fs::read_dir(dir)
                .map_err(io_err(dir))?
                .next()
                .is_some();
            if has_files {
                return Err(StorageError::UnknownFormat {
                    path: file,
                    found: "missing".into(),
                });
            }
            std::fs::write(&file, format!("{FORMAT_PREFIX}{DATA_FORMAT}\n"))
                .map_err(io_err(&file))?;
            fsync_dir(dir).map_err(io_err(dir))?;
            Ok(())
        }
        Err(e) => Err(StorageError::Io {
            path: file,
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_checked() {
        let d = tempfile::tempdir().unwrap();
        DataDirs::open(d.path(), d.path()).unwrap();
        DataDirs::open(d.path(), d.path()).unwrap();
        std::fs::write(d.path().join("zkrs/FORMAT"), "zkrs-data-format 7\n").unwrap();
        let e = DataDirs::open(d.path(), d.path()).unwrap_err();
        assert!(e.to_string().contains("format 7"), "{e}");
    }

    #[test]
    fn apache_data_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("version-2")).unwrap();
        let e = DataDirs::open(d.path(), d.path()).unwrap_err();
        assert!(matches!(e, StorageError::ApacheData(_)));
    }
}

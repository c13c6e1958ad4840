//! Apache's data directory layout: `<dataDir>/version-2/` holds `snapshot.<zxid>` files,
//! `<dataLogDir>/version-2/` holds `log.<zxid>` files (the zxid in lower-case hex without
//! padding, `Long.toHexString`), and the snapshot directory holds `acceptedEpoch` and
//! `currentEpoch` of a quorum member.

use std::path::{Path, PathBuf};

use super::error::{io_err, MigrationError};

/// The directory Apache's `FileTxnSnapLog` keeps its files in, under dataDir/dataLogDir.
pub const VERSION_DIR: &str = "version-2";
pub const SNAPSHOT_PREFIX: &str = "snapshot";
pub const LOG_PREFIX: &str = "log";

/// The zxid in a file name, as Apache's `Util.getZxidFromName` reads it: the part after
/// `<prefix>.` up to the next dot, in hex. `None` for other names.
pub fn zxid_from_name(name: &str, prefix: &str) -> Option<i64> {
    let mut parts = name.split('.');
    if parts.next() != Some(prefix) {
        return None;
    }
    i64::from_str_radix(parts.next()?, 16).ok()
}

/// `snapshot.<zxid>` as Apache names it.
pub fn snapshot_name(zxid: i64) -> String {
    format!("{SNAPSHOT_PREFIX}.{zxid:x}")
}

/// `log.<first zxid>` as Apache names it.
pub fn log_name(zxid: i64) -> String {
    format!("{LOG_PREFIX}.{zxid:x}")
}

/// The `version-2` directory of an Apache dataDir (or dataLogDir): `dir/version-2`, or
/// `dir` itself when that is the `version-2` directory.
pub fn version_dir(dir: &Path) -> Result<PathBuf, MigrationError> {
    let inner = dir.join(VERSION_DIR);
    if inner.is_dir() {
        return Ok(inner);
    }
    if dir.file_name().is_some_and(|n| n == VERSION_DIR) && dir.is_dir() {
        return Ok(dir.to_path_buf());
    }
    Err(MigrationError::Refused(format!(
        "{}: no {VERSION_DIR} directory here; pass the dataDir (or dataLogDir) of zoo.cfg",
        dir.display()
    )))
}

/// A file of Apache's: its zxid and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedFile {
    pub zxid: i64,
    pub path: PathBuf,
}

impl NamedFile {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The files named `<prefix>.<zxid>...` in `dir`, by zxid ascending.
pub fn list(dir: &Path, prefix: &str) -> Result<Vec<NamedFile>, MigrationError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let Some(zxid) = name.to_str().and_then(|n| zxid_from_name(n, prefix)) else {
            continue;
        };
        if entry.file_type().map_err(io_err(&entry.path()))?.is_file() {
            files.push(NamedFile {
                zxid,
                path: entry.path(),
            });
        }
    }
    files.sort_by(|a, b| (a.zxid, &a.path).cmp(&(b.zxid, &b.path)));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_and_written_as_apache_does() {
        assert_eq!(zxid_from_name("snapshot.1a", SNAPSHOT_PREFIX), Some(0x1a));
        assert_eq!(
            zxid_from_name("snapshot.100000003.gz", SNAPSHOT_PREFIX),
            Some(0x1_0000_0003)
        );
        assert_eq!(zxid_from_name("log.1a", SNAPSHOT_PREFIX), None);
        assert_eq!(zxid_from_name("snapshot.zz", SNAPSHOT_PREFIX), None);
        assert_eq!(zxid_from_name("snapshot", SNAPSHOT_PREFIX), None);
        assert_eq!(snapshot_name(0x2_0000_0001), "snapshot.200000001");
        assert_eq!(log_name(0), "log.0");
    }

    #[test]
    fn the_version_dir_is_found_from_the_data_dir_or_given_directly() {
        let d = tempfile::tempdir().unwrap();
        assert!(version_dir(d.path()).is_err());
        std::fs::create_dir(d.path().join(VERSION_DIR)).unwrap();
        let v = version_dir(d.path()).unwrap();
        assert_eq!(v, d.path().join(VERSION_DIR));
        assert_eq!(version_dir(&v).unwrap(), v);
    }
}

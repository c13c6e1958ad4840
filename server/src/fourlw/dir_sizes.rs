//! The sizes `dirs` and `conf` print (and the admin server's `dirs` and `server_stats`):
//! the bytes of every file under the snapshot directory and under the log directory,
//! summed as Apache's `ZooKeeperServer.getDirSize` sums them. Apache measures
//! `<dataDir>/version-2` and `<dataLogDir>/version-2`; zkrs's equivalents are the
//! directories its storage keeps there ([`DataDirs`]).
//!
//! This reads the disk: callers on an async runtime run it on a blocking thread.

use std::path::Path;

use crate::storage::DataDirs;

/// Bytes under the snapshot directory and under the log directory (the same directory
/// counts twice when `dataLogDir` is `dataDir`, as in Apache).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirSizes {
    pub data_dir: u64,
    pub data_log: u64,
}

impl DirSizes {
    pub fn of(dirs: &DataDirs) -> Self {
        DirSizes {
            data_dir: dir_size(&dirs.snap_dir),
            data_log: dir_size(&dirs.log_dir),
        }
    }
}

/// The lengths of the files under `path`, recursively (a file counts its own length).
/// What cannot be read counts 0, as Java's `File.length` of a missing file; a symbolic
/// link counts the length of the file it names, and a link to a directory is not
/// followed (no loops).
pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .map(|e| dir_size(&e.path()))
            .fold(0u64, u64::saturating_add)
    } else if meta.file_type().is_symlink() {
        std::fs::metadata(path)
            .ok()
            .filter(|m| m.is_file())
            .map_or(0, |m| m.len())
    } else {
        meta.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn files_in_nested_directories_are_summed() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a"), [0u8; 100]).expect("write");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/b"), [0u8; 23]).expect("write");
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sub/loop")).expect("symlink");
        std::os::unix::fs::symlink(dir.path().join("a"), dir.path().join("link")).expect("symlink");
        assert_eq!(dir_size(dir.path()), 100 + 23 + 100);
        assert_eq!(dir_size(&dir.path().join("a")), 100);
        assert_eq!(dir_size(&dir.path().join("missing")), 0);
    }

    #[test]
    fn the_storage_directories_are_measured() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = format!(
            "dataDir={}\ndataLogDir={}/log\n",
            dir.path().display(),
            dir.path().display()
        );
        let config = Config::parse(&text, "zoo.cfg").expect("config").0;
        let dirs = DataDirs::open(&config.data_dir, &config.data_log_dir).expect("dirs");
        let before = DirSizes::of(&dirs);
        std::fs::write(dirs.snap_dir.join("s"), [0u8; 10]).expect("write");
        std::fs::write(dirs.log_dir.join("l"), [0u8; 7]).expect("write");
        // Anything beside the storage directories is not counted.
        std::fs::write(dir.path().join("myid"), b"1").expect("write");
        let after = DirSizes::of(&dirs);
        assert_eq!(after.data_dir - before.data_dir, 10);
        assert_eq!(after.data_log - before.data_log, 7);
    }
}

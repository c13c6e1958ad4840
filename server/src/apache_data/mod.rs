//! Apache ZooKeeper's data files, and the offline migrations between them and zkrs's data
//! directory (`zkrs-server import-apache` and `export-apache`; docs/migration.md, 'Offline: import and export'
//! is the user's side).
//!
//! | module | job |
//! |---|---|
//! | [`files`] | the `version-2` layout and Apache's file names |
//! | [`checksum`] | Adler-32, Apache's checksum of seals and log records |
//! | [`snapshot`] | snapshot files: read (checked, every part Apache writes) and write |
//! | [`txnlog`] | transaction log files: read (Apache's idea of damage) and write |
//! | [`epochs`] | `acceptedEpoch` / `currentEpoch` as Apache loads them |
//! | [`import`], [`export`] | the two conversions |
//!
//! The bodies reuse what the quorum protocol already speaks: a snapshot file's body is
//! the SNAP stream ([`crate::quorum::wire::snap`]) and a log record is Apache's
//! transaction bytes ([`crate::txn::apache`]). zkrs's side is written and read only
//! through [`crate::storage`].

mod checksum;
mod epochs;
mod error;
mod export;
mod files;
mod import;
mod snapshot;
mod txnlog;

use std::path::{Path, PathBuf};

pub use error::MigrationError;

use error::io_err;

/// Scratch directories the commands make inside their target (and remove).
const STAGING: [&str; 2] = [".import-apache.tmp", ".export-apache.tmp"];

/// `zkrs-server import-apache --snapshots <dataDir> [--logs <dataLogDir>] --to <dir>`:
/// runs the import and returns the report to print.
pub fn import_command(args: &[String]) -> Result<String, MigrationError> {
    const USAGE: &str =
        "usage: zkrs-server import-apache --snapshots <dataDir> [--logs <dataLogDir>] --to <zkrs dataDir>";
    let mut flags = Flags::parse(args, &["--snapshots", "--logs", "--to"], USAGE)?;
    let snapshots = flags.take("--snapshots")?;
    let logs = flags.take_or("--logs", &snapshots);
    let to = flags.take("--to")?;
    import::run(&import::ImportRequest {
        snapshots,
        logs,
        to,
    })
}

/// `zkrs-server export-apache --from <dataDir> [--from-logs <dataLogDir>] --to <dir>`:
/// runs the export and returns the report to print.
pub fn export_command(args: &[String]) -> Result<String, MigrationError> {
    const USAGE: &str =
        "usage: zkrs-server export-apache --from <zkrs dataDir> [--from-logs <zkrs dataLogDir>] --to <Apache dataDir>";
    let mut flags = Flags::parse(args, &["--from", "--from-logs", "--to"], USAGE)?;
    let from = flags.take("--from")?;
    let from_logs = flags.take_or("--from-logs", &from);
    let to = flags.take("--to")?;
    export::run(&export::ExportRequest {
        from,
        from_logs,
        to,
    })
}

/// `--name value` pairs, each at most once, only the names allowed.
struct Flags {
    values: Vec<(String, PathBuf)>,
    usage: &'static str,
}

impl Flags {
    fn parse(
        args: &[String],
        allowed: &[&str],
        usage: &'static str,
    ) -> Result<Flags, MigrationError> {
        let mut values: Vec<(String, PathBuf)> = Vec::new();
        let mut it = args.iter();
        while let Some(name) = it.next() {
            if !allowed.contains(&name.as_str()) {
                return Err(MigrationError::Usage(format!(
                    "unexpected {name:?}\n{usage}"
                )));
            }
            if values.iter().any(|(n, _)| n == name) {
                return Err(MigrationError::Usage(format!(
                    "{name} given twice\n{usage}"
                )));
            }
            let value = it.next().ok_or_else(|| {
                MigrationError::Usage(format!("{name} needs a directory\n{usage}"))
            })?;
            values.push((name.clone(), PathBuf::from(value)));
        }
        Ok(Flags { values, usage })
    }

    fn take(&mut self, name: &str) -> Result<PathBuf, MigrationError> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| MigrationError::Usage(format!("{name} is required\n{}", self.usage)))
    }

    fn take_or(&mut self, name: &str, default: &Path) -> PathBuf {
        self.take(name).unwrap_or_else(|_| default.to_path_buf())
    }
}

/// A target directory must be new or empty: a conversion never mixes its output with
/// other data (and never overwrites a data directory).
fn fresh_target(dir: &Path) -> Result<(), MigrationError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(dir).map_err(io_err(dir));
        }
        Err(e) => return Err(io_err(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        // A scratch directory left by an interrupted run is ours to replace.
        if STAGING.iter().any(|s| name == *s) {
            std::fs::remove_dir_all(entry.path()).map_err(io_err(&entry.path()))?;
            continue;
        }
        return Err(MigrationError::Refused(format!(
            "{}: not empty (it holds {}); the target must be a new or empty directory",
            dir.display(),
            name.to_string_lossy()
        )));
    }
    Ok(())
}

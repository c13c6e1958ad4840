//! Apache's `acceptedEpoch` and `currentEpoch` files as its `QuorumPeer.loadDataBase`
//! reads them from the snapshot directory, read-only: a missing file stands for the
//! epoch of the last zxid, a `currentEpoch` behind the log is taken from
//! `currentEpoch.tmp` if that exists, and what Apache refuses to start from is refused.

use std::path::Path;

use crate::storage::epoch::{ACCEPTED_EPOCH, CURRENT_EPOCH};

use super::error::{io_err, MigrationError};

/// The epochs of a data directory, and whether they were on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceEpochs {
    pub accepted: u64,
    pub current: u64,
    /// Neither file existed (a standalone Apache server keeps none).
    pub derived: bool,
}

pub fn read(dir: &Path, last_zxid: i64) -> Result<SourceEpochs, MigrationError> {
    let of_zxid = (last_zxid as u64) >> 32;
    let accepted_file = read_file(dir, ACCEPTED_EPOCH)?;
    let current_file = read_file(dir, CURRENT_EPOCH)?;
    let derived = accepted_file.is_none() && current_file.is_none();
    let mut current = current_file.unwrap_or(of_zxid);
    if of_zxid > current {
        match read_file(dir, &format!("{CURRENT_EPOCH}.tmp"))? {
            Some(tmp) if tmp >= of_zxid => current = tmp,
            _ => {
                return Err(MigrationError::Refused(format!(
                    "{}: the current epoch, {current}, is older than the epoch of the last \
                     zxid, {last_zxid:#x}; Apache refuses to start from this too",
                    dir.join(CURRENT_EPOCH).display()
                )))
            }
        }
    }
    let accepted = accepted_file.unwrap_or(of_zxid);
    if accepted < current {
        return Err(MigrationError::Refused(format!(
            "{}: the accepted epoch, {accepted}, is less than the current epoch, {current}; \
             Apache refuses to start from this too",
            dir.join(ACCEPTED_EPOCH).display()
        )));
    }
    Ok(SourceEpochs {
        accepted,
        current,
        derived,
    })
}

/// The number on the first line of `dir/name` (`QuorumPeer.readLongFromFile`).
fn read_file(dir: &Path, name: &str) -> Result<Option<u64>, MigrationError> {
    let path = dir.join(name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(&path)(e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next().unwrap_or("").trim();
    match line.parse::<u64>() {
        Ok(e) if e <= i64::MAX as u64 => Ok(Some(e)),
        _ => Err(MigrationError::Refused(format!(
            "{}: {line:?} is not an epoch (a non-negative decimal number)",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_files_stand_for_the_epoch_of_the_last_zxid() {
        let d = tempfile::tempdir().unwrap();
        let e = read(d.path(), 3 << 32 | 7).unwrap();
        assert_eq!((e.accepted, e.current, e.derived), (3, 3, true));
    }

    #[test]
    fn files_are_read_and_checked_as_apache_checks_them() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(ACCEPTED_EPOCH), "4").unwrap();
        std::fs::write(d.path().join(CURRENT_EPOCH), "3\n").unwrap();
        let e = read(d.path(), 3 << 32 | 7).unwrap();
        assert_eq!((e.accepted, e.current, e.derived), (4, 3, false));
        // Behind the log, no tmp file: refused.
        let err = read(d.path(), 4 << 32 | 1).unwrap_err();
        assert!(err.to_string().contains("older than the epoch"), "{err}");
        // A tmp file from a crash before the rename repairs it.
        std::fs::write(d.path().join("currentEpoch.tmp"), "4").unwrap();
        assert_eq!(read(d.path(), 4 << 32 | 1).unwrap().current, 4);
        // Accepted below current: refused.
        std::fs::write(d.path().join(ACCEPTED_EPOCH), "2").unwrap();
        assert!(read(d.path(), 3 << 32).is_err());
        std::fs::write(d.path().join(ACCEPTED_EPOCH), "x").unwrap();
        let err = read(d.path(), 3 << 32).unwrap_err();
        assert!(err.to_string().contains("acceptedEpoch"), "{err}");
    }
}

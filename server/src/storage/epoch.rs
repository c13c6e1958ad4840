//! The `acceptedEpoch` and `currentEpoch` files of ZAB, as Apache's `QuorumPeer` keeps them
//! (`loadDataBase`, `writeLongToFile`, `readLongFromFile`), so that a data directory moves
//! between zkrs and Apache members with its promises intact.
//!
//! - `acceptedEpoch`: the highest epoch this member has promised (LEADERINFO on a learner,
//!   the quorum's proposal on a leader). It is what FOLLOWERINFO carries.
//! - `currentEpoch`: the epoch whose NEWLEADER this member accepted; election advertises it
//!   as the peer epoch.
//!
//! Each file is the value in decimal with no newline, replaced atomically: written to
//! `<name>.tmp`, fsynced, renamed over `<name>`. A crash between the write and the rename
//! leaves `currentEpoch.tmp` behind, which [`load`] uses when `currentEpoch` turns out to be
//! behind the log (the NEWLEADER that the tmp file recorded did happen).

use std::fs;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::ids::Zxid;

/// File name of the accepted epoch (Apache's `ACCEPTED_EPOCH_FILENAME`).
pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
/// File name of the current epoch (Apache's `CURRENT_EPOCH_FILENAME`).
pub const CURRENT_EPOCH: &str = "currentEpoch";
/// Suffix of the file an atomic write goes through (Apache's `AtomicFileOutputStream`).
const TMP_SUFFIX: &str = ".tmp";

#[derive(Debug, Error)]
pub enum EpochError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: found {found:?} where an epoch (a non-negative decimal number) belongs")]
    Malformed { path: PathBuf, found: String },
    #[error(
        "the current epoch, {current}, is older than the epoch of the last zxid, {last_zxid}; \
         refusing to start"
    )]
    CurrentBehindLog { current: u64, last_zxid: Zxid },
    #[error(
        "the accepted epoch, {accepted}, is less than the current epoch, {current}; \
         refusing to start"
    )]
    AcceptedBehindCurrent { accepted: u64, current: u64 },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EpochError + '_ {
    move |source| EpochError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Both epochs, as loaded at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    pub accepted: u64,
    pub current: u64,
}

/// Loads both epochs from `dir` (the snapshot directory) for a history whose last zxid is
/// `last_zxid`, repairing what Apache repairs and refusing what it refuses:
/// - a missing file is created from the epoch of `last_zxid` (a data dir from before the
///   files existed, or a fresh one);
/// - a `currentEpoch` behind `last_zxid`'s epoch is replaced by `currentEpoch.tmp` if that
///   exists (a crash before its rename), and otherwise refused;
/// - an accepted epoch below the current one is refused (a promise cannot be older than
///   what was accepted).
pub fn load(dir: &Path, last_zxid: Zxid) -> Result<Epochs, EpochError> {
    let of_zxid = u64::from(last_zxid.epoch());
    let mut current = match read(&dir.join(CURRENT_EPOCH))? {
        Some(e) => e,
        None => {
            write(dir, CURRENT_EPOCH, of_zxid)?;
            of_zxid
        }
    };
    if of_zxid > current {
        let tmp = dir.join(format!("{CURRENT_EPOCH}{TMP_SUFFIX}"));
        match read(&tmp)? {
            // Apache trusts the tmp file without comparing it again; we also refuse one
            // that is still behind the log, since serving then would break the same rule.
            Some(e) if e >= of_zxid => {
                write(dir, CURRENT_EPOCH, e)?;
                current = e;
            }
            _ => return Err(EpochError::CurrentBehindLog { current, last_zxid }),
        }
    }
    let accepted = match read(&dir.join(ACCEPTED_EPOCH))? {
        Some(e) => e,
        None => {
            write(dir, ACCEPTED_EPOCH, of_zxid)?;
            of_zxid
        }
    };
    if accepted < current {
        return Err(EpochError::AcceptedBehindCurrent { accepted, current });
    }
    Ok(Epochs { accepted, current })
}

/// Records a new accepted epoch durably.
pub fn write_accepted(dir: &Path, epoch: u64) -> Result<(), EpochError> {
    write(dir, ACCEPTED_EPOCH, epoch)
}

/// Records a new current epoch durably.
pub fn write_current(dir: &Path, epoch: u64) -> Result<(), EpochError> {
    write(dir, CURRENT_EPOCH, epoch)
}

/// Announces, durably, the current epoch a learner is about to take: `currentEpoch.tmp`
/// holds it before the learner persists its sync (which may hold transactions of that
/// epoch) and before [`write_current`] renames it into place. A crash in between leaves a
/// log ahead of `currentEpoch`, and [`load`] then takes the epoch from this file instead of
/// refusing to start.
pub fn prepare_current(dir: &Path, epoch: u64) -> Result<(), EpochError> {
    let tmp = dir.join(format!("{CURRENT_EPOCH}{TMP_SUFFIX}"));
    let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(epoch.to_string().as_bytes())
        .map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    super::fsync_dir(dir).map_err(io_err(dir))
}

/// The epoch in `path`, `None` if the file does not exist. Like Apache's reader, only the
/// first line counts (a trailing newline from a hand edit is fine).
fn read(path: &Path) -> Result<Option<u64>, EpochError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next().unwrap_or("");
    // Apache parses a Java long; a negative epoch is never written by a live member, so it
    // is damage, not a value to start from.
    match line.parse::<u64>() {
        Ok(e) if e <= i64::MAX as u64 => Ok(Some(e)),
        _ => Err(EpochError::Malformed {
            path: path.to_path_buf(),
            found: line.to_string(),
        }),
    }
}

/// Replaces `dir/name` with `value` atomically: the tmp file is made durable before the
/// rename, and the directory after it, so a crash leaves either the old or the new value.
fn write(dir: &Path, name: &str, value: u64) -> Result<(), EpochError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let result = (|| {
        let mut f = fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(value.to_string().as_bytes())
            .map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        super::fsync_dir(dir).map_err(io_err(dir))
    })();
    if result.is_err() {
        // As Apache's atomic writer does: a failed write must not leave a tmp file that a
        // later load could take for a value that was recorded.
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announced_current_epoch_repairs_a_crash_before_its_rename() {
        let dir = tempfile::tempdir().unwrap();
        write_current(dir.path(), 1).unwrap();
        write_accepted(dir.path(), 2).unwrap();
        prepare_current(dir.path(), 2).unwrap();
        // The sync of epoch 2 was persisted; the crash came before write_current.
        let e = load(dir.path(), Zxid::new(2, 5)).unwrap();
        assert_eq!((e.accepted, e.current), (2, 2));
        assert_eq!(read(&dir.path().join(CURRENT_EPOCH)).unwrap(), Some(2));
        // A crash before anything of epoch 2 was persisted: the log decides, not the tmp.
        let dir = tempfile::tempdir().unwrap();
        write_current(dir.path(), 1).unwrap();
        write_accepted(dir.path(), 2).unwrap();
        prepare_current(dir.path(), 2).unwrap();
        assert_eq!(load(dir.path(), Zxid::new(1, 9)).unwrap().current, 1);
    }

    fn put(dir: &Path, name: &str, text: &str) {
        fs::write(dir.join(name), text).unwrap();
    }

    fn get(dir: &Path, name: &str) -> String {
        fs::read_to_string(dir.join(name)).unwrap()
    }

    #[test]
    fn files_are_decimal_text_without_a_newline_and_no_tmp_is_left() {
        let d = tempfile::tempdir().unwrap();
        write_accepted(d.path(), 7).unwrap();
        write_current(d.path(), 6).unwrap();
        assert_eq!(get(d.path(), ACCEPTED_EPOCH), "7");
        assert_eq!(get(d.path(), CURRENT_EPOCH), "6");
        assert!(!d.path().join("currentEpoch.tmp").exists());
        assert!(!d.path().join("acceptedEpoch.tmp").exists());
        let e = load(d.path(), Zxid::new(6, 3)).unwrap();
        assert_eq!(
            e,
            Epochs {
                accepted: 7,
                current: 6
            }
        );
    }

    #[test]
    fn missing_files_are_derived_from_the_last_zxid_and_written() {
        let d = tempfile::tempdir().unwrap();
        let e = load(d.path(), Zxid::new(4, 9)).unwrap();
        assert_eq!(
            e,
            Epochs {
                accepted: 4,
                current: 4
            }
        );
        assert_eq!(get(d.path(), ACCEPTED_EPOCH), "4");
        assert_eq!(get(d.path(), CURRENT_EPOCH), "4");
        // A fresh data dir: epoch 0.
        let d = tempfile::tempdir().unwrap();
        assert_eq!(load(d.path(), Zxid::default()).unwrap().current, 0);
    }

    #[test]
    fn only_the_missing_file_is_derived() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), CURRENT_EPOCH, "3");
        // accepted derived from the zxid (2) is below current (3): refused, as Apache does.
        let err = load(d.path(), Zxid::new(2, 1)).unwrap_err();
        assert!(
            matches!(err, EpochError::AcceptedBehindCurrent { .. }),
            "{err}"
        );
        let d = tempfile::tempdir().unwrap();
        put(d.path(), ACCEPTED_EPOCH, "5");
        let e = load(d.path(), Zxid::new(2, 1)).unwrap();
        assert_eq!(
            e,
            Epochs {
                accepted: 5,
                current: 2
            }
        );
    }

    #[test]
    fn a_current_epoch_behind_the_log_is_refused() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), CURRENT_EPOCH, "2");
        put(d.path(), ACCEPTED_EPOCH, "3");
        let err = load(d.path(), Zxid::new(3, 1)).unwrap_err();
        assert!(
            matches!(err, EpochError::CurrentBehindLog { current: 2, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_crash_before_the_rename_is_recovered_from_current_epoch_tmp() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), CURRENT_EPOCH, "2");
        put(d.path(), "currentEpoch.tmp", "3");
        put(d.path(), ACCEPTED_EPOCH, "3");
        let e = load(d.path(), Zxid::new(3, 1)).unwrap();
        assert_eq!(
            e,
            Epochs {
                accepted: 3,
                current: 3
            }
        );
        assert_eq!(get(d.path(), CURRENT_EPOCH), "3");
        assert!(!d.path().join("currentEpoch.tmp").exists());
    }

    #[test]
    fn a_tmp_file_is_ignored_while_current_epoch_is_not_behind() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), CURRENT_EPOCH, "3");
        put(d.path(), "currentEpoch.tmp", "garbage");
        put(d.path(), ACCEPTED_EPOCH, "3");
        assert_eq!(load(d.path(), Zxid::new(3, 1)).unwrap().current, 3);
    }

    #[test]
    fn a_tmp_file_still_behind_the_log_or_damaged_is_refused() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), CURRENT_EPOCH, "1");
        put(d.path(), "currentEpoch.tmp", "2");
        put(d.path(), ACCEPTED_EPOCH, "3");
        let err = load(d.path(), Zxid::new(3, 1)).unwrap_err();
        assert!(matches!(err, EpochError::CurrentBehindLog { .. }), "{err}");
        put(d.path(), "currentEpoch.tmp", "");
        let err = load(d.path(), Zxid::new(3, 1)).unwrap_err();
        assert!(matches!(err, EpochError::Malformed { .. }), "{err}");
    }

    #[test]
    fn accepted_below_current_is_refused() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), CURRENT_EPOCH, "5");
        put(d.path(), ACCEPTED_EPOCH, "4");
        let err = load(d.path(), Zxid::new(5, 0)).unwrap_err();
        assert!(
            matches!(
                err,
                EpochError::AcceptedBehindCurrent {
                    accepted: 4,
                    current: 5
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn damaged_files_are_errors_naming_the_file() {
        for bad in ["", "abc", "-1", "12 13", "99999999999999999999"] {
            let d = tempfile::tempdir().unwrap();
            put(d.path(), CURRENT_EPOCH, bad);
            let err = load(d.path(), Zxid::new(1, 0)).unwrap_err();
            match &err {
                EpochError::Malformed { path, found } => {
                    assert!(path.ends_with(CURRENT_EPOCH));
                    assert_eq!(found, bad);
                }
                other => panic!("{bad:?}: {other}"),
            }
            assert!(err.to_string().contains("currentEpoch"));
        }
    }

    #[test]
    fn a_first_line_with_a_newline_is_read_as_apache_reads_it() {
        let d = tempfile::tempdir().unwrap();
        put(d.path(), CURRENT_EPOCH, "8\n");
        put(d.path(), ACCEPTED_EPOCH, "9\r\nignored");
        let e = load(d.path(), Zxid::new(8, 0)).unwrap();
        assert_eq!(
            e,
            Epochs {
                accepted: 9,
                current: 8
            }
        );
    }

    #[test]
    fn an_unreadable_dir_is_an_io_error() {
        let d = tempfile::tempdir().unwrap();
        let missing = d.path().join("nope");
        let err = write_current(&missing, 1).unwrap_err();
        assert!(matches!(err, EpochError::Io { .. }), "{err}");
    }
}

//! Cutting the log back to a zxid (a learner told TRUNC by its leader drops the proposals
//! the new leader never committed): every record with a greater zxid goes, durably, whole
//! later segments included.

use std::fs::OpenOptions;
use std::path::PathBuf;

use super::snapshot::{covered_through, list_snapshots};
use super::txnlog::{list_segments, scan_segment};
use super::{fsync_dir, io_err, DataDirs, StorageError};

/// What a truncation removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TruncateReport {
    /// Segments removed whole (every record in them was after the zxid).
    pub removed_segments: Vec<PathBuf>,
    /// The segment cut short, and the bytes cut from it.
    pub cut: Option<(PathBuf, u64)>,
    /// Snapshots removed because they hold state after the zxid.
    pub removed_snapshots: Vec<PathBuf>,
}

/// Drops every log record with a zxid above `zxid`. Call it while nothing appends to the
/// log (before the writer thread starts, or after it stopped); a new `FileTxnLog` then
/// starts a fresh segment.
///
/// A snapshot that holds state after `zxid` (a fuzzy snapshot holds state up to the zxid
/// applied when its walk ended) is removed as well, but only if an older snapshot, or a log
/// that starts at the first transaction, still rebuilds the state at `zxid`; otherwise the
/// truncation is refused and nothing is changed, since it would lose committed state (the
/// leader then sends a snapshot instead).
///
/// Order matters for a crash part-way: snapshots and whole segments go newest first and
/// the cut of the segment holding `zxid` comes last, so what is left at any moment is a
/// prefix of the log that recovery replays, and the leader simply truncates again.
pub fn truncate_after(dirs: &DataDirs, zxid: i64) -> Result<TruncateReport, StorageError> {
    let mut report = TruncateReport::default();
    let snaps = list_snapshots(&dirs.snap_dir).map_err(io_err(&dirs.snap_dir))?;
    let segments = list_segments(&dirs.log_dir).map_err(io_err(&dirs.log_dir))?;
    let mut doomed = Vec::new();
    let mut base_left = false;
    for (start, path) in &snaps {
        let through = covered_through(path).map_err(io_err(path))?;
        if through > zxid {
            doomed.push((*start, path.clone()));
        } else {
            base_left = true;
        }
    }
    if !doomed.is_empty() && !base_left {
        let log_from_start = segments.first().is_some_and(|(first, _)| *first <= 1);
        if !log_from_start {
            return Err(StorageError::Refused(format!(
                "truncating the log after zxid {zxid:#x} would lose committed state: the \
                 snapshot {} holds state after it and nothing older rebuilds the state at it",
                doomed[doomed.len() - 1].1.display()
            )));
        }
    }
    for (_, path) in &doomed {
        std::fs::remove_file(path).map_err(io_err(path))?;
        report.removed_snapshots.push(path.clone());
    }
    if !doomed.is_empty() {
        fsync_dir(&dirs.snap_dir).map_err(io_err(&dirs.snap_dir))?;
    }

    for (first, path) in segments.iter().rev() {
        if *first <= zxid {
            break;
        }
        std::fs::remove_file(path).map_err(io_err(path))?;
        report.removed_segments.push(path.clone());
    }
    if !report.removed_segments.is_empty() {
        fsync_dir(&dirs.log_dir).map_err(io_err(&dirs.log_dir))?;
    }

    if let Some((_, path)) = segments.iter().rev().find(|(first, _)| *first <= zxid) {
        let scan = scan_segment(path).map_err(io_err(path))?;
        // The end of the last record at or before `zxid`: records are in zxid order, and
        // the scan's valid prefix is made of whole records.
        let mut keep = None;
        let mut end = scan.valid_len;
        if scan.entries.iter().any(|(h, _)| h.zxid > zxid) {
            let bytes = std::fs::read(path).map_err(io_err(path))?;
            end = super::txnlog::record_end_after(&bytes, zxid);
            keep = Some(end);
        }
        if keep.is_some() || scan.file_len > end {
            let f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(io_err(path))?;
            f.set_len(end).map_err(io_err(path))?;
            f.sync_all().map_err(io_err(path))?;
            report.cut = Some((path.clone(), scan.file_len - end));
        }
    }
    tracing::info!(
        zxid,
        segments = report.removed_segments.len(),
        snapshots = report.removed_snapshots.len(),
        cut = ?report.cut,
        "log truncated"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::recovery::recover;
    use crate::storage::snapshot;
    use crate::storage::txnlog::{FileTxnLog, LogReader};
    use crate::storage::writer::{LogEntry, TxnLog};
    use crate::txn::{CreateKind, Txn, TxnHeader};
    use std::sync::Arc;
    use zkrs_proto::Acl;

    fn create(zxid: i64) -> LogEntry {
        LogEntry {
            hdr: TxnHeader {
                session_id: 1,
                cxid: 0,
                zxid,
                time: 0,
            },
            txn: Arc::new(Txn::Create {
                path: format!("/n{zxid:x}"),
                data: Some(vec![zxid as u8]),
                acl: Acl::open_unsafe(),
                parent_cversion: zxid as i32,
                kind: CreateKind::Create { ephemeral: false },
            }),
        }
    }

    fn dirs() -> (tempfile::TempDir, DataDirs) {
        let d = tempfile::tempdir().unwrap();
        let dirs = DataDirs::open(d.path(), d.path()).unwrap();
        (d, dirs)
    }

    /// Appends each zxid in its own batch to a log of small, preallocated segments.
    fn write(dirs: &DataDirs, zxids: impl IntoIterator<Item = i64>) {
        let mut log = FileTxnLog::new(dirs.log_dir.clone(), 200, true);
        for z in zxids {
            log.append(&[create(z)]).unwrap();
            log.sync().unwrap();
        }
    }

    fn zxids(dirs: &DataDirs) -> Vec<i64> {
        let first = list_segments(&dirs.log_dir).unwrap()[0].0;
        LogReader::open(&dirs.log_dir, first - 1)
            .unwrap()
            .map(|e| e.unwrap().0.zxid)
            .collect()
    }

    #[test]
    fn drops_every_later_record_and_survives_a_restart() {
        let (_d, dirs) = dirs();
        write(&dirs, 1..=12);
        let before = list_segments(&dirs.log_dir).unwrap().len();
        assert!(before >= 3, "several segments: {before}");
        let r = truncate_after(&dirs, 5).unwrap();
        assert!(!r.removed_segments.is_empty());
        assert_eq!(zxids(&dirs), (1..=5).collect::<Vec<_>>());
        assert!(list_segments(&dirs.log_dir)
            .unwrap()
            .iter()
            .all(|(first, _)| *first <= 5));

        // A restart finds the log ending at 5, and appends go on from there.
        let (t, rep) = recover(&dirs).unwrap();
        assert_eq!(t.last_zxid(), 5);
        assert!(rep.cut.is_empty(), "{:?}", rep.cut);
        assert!(t.get("/n6").is_none() && t.get("/n5").is_some());
        write(&dirs, 6..=7);
        let (t, _) = recover(&dirs).unwrap();
        assert_eq!(t.last_zxid(), 7);
        assert_eq!(zxids(&dirs), (1..=7).collect::<Vec<_>>());

        // Truncating at the end, or past it, changes nothing but the zeros ahead.
        truncate_after(&dirs, 7).unwrap();
        truncate_after(&dirs, 100).unwrap();
        assert_eq!(zxids(&dirs), (1..=7).collect::<Vec<_>>());
    }

    #[test]
    fn a_cut_between_epochs_keeps_the_older_epoch() {
        let (_d, dirs) = dirs();
        let e1 = 1i64 << 32;
        let e2 = 2i64 << 32;
        write(&dirs, [e1 + 1, e1 + 2, e2 + 1, e2 + 2]);
        truncate_after(&dirs, e2).unwrap();
        assert_eq!(zxids(&dirs), vec![e1 + 1, e1 + 2]);
    }

    #[test]
    fn snapshots_past_the_cut_go_only_if_older_state_rebuilds_it() {
        let (_d, dirs) = dirs();
        write(&dirs, 1..=8);
        let (t, _) = recover(&dirs).unwrap();
        snapshot::write(&dirs.snap_dir, 8, &snapshot::serialize(&t)).unwrap();
        // The whole log is there: the snapshot at 8 can go.
        let r = truncate_after(&dirs, 6).unwrap();
        assert_eq!(r.removed_snapshots.len(), 1);
        let (t, _) = recover(&dirs).unwrap();
        assert_eq!(t.last_zxid(), 6);

        // The log's start purged: only the snapshot at 6 rebuilds anything; cutting below
        // it is refused and changes nothing.
        snapshot::write(&dirs.snap_dir, 6, &snapshot::serialize(&t)).unwrap();
        write(&dirs, 7..=9);
        let segs = list_segments(&dirs.log_dir).unwrap();
        std::fs::remove_file(&segs[0].1).unwrap();
        let e = truncate_after(&dirs, 4).unwrap_err();
        assert!(matches!(e, StorageError::Refused(_)), "{e}");
        assert_eq!(snapshot::list_snapshots(&dirs.snap_dir).unwrap().len(), 1);
        assert_eq!(recover(&dirs).unwrap().0.last_zxid(), 9);
        // At or above the snapshot, the cut is fine.
        truncate_after(&dirs, 7).unwrap();
        assert_eq!(recover(&dirs).unwrap().0.last_zxid(), 7);
    }
}

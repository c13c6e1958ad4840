//! Recovery at start: the newest snapshot that verifies (older ones if it does not), then
//! the log after it; a torn or corrupt tail is cut off and reported, never served.

use std::fs::OpenOptions;

use crate::tree::DataTree;

use super::snapshot::{covered_through, list_snapshots, load};
use super::txnlog::{list_segments, scan_segment, TailProblem};
use super::{io_err, DataDirs, StorageError};

/// What recovery did, for the startup log.
#[derive(Debug, Default)]
pub struct RecoveryReport {
    pub snapshot_zxid: Option<i64>,
    pub damaged_snapshots: Vec<String>,
    pub replayed: u64,
    /// Human-readable lines about cut log tails and removed segments.
    pub cut: Vec<String>,
}

pub fn recover(dirs: &DataDirs) -> Result<(DataTree, RecoveryReport), StorageError> {
    let mut report = RecoveryReport::default();
    remove_temp_snapshots(dirs);

    for (zxid, path) in list_snapshots(&dirs.snap_dir).map_err(io_err(&dirs.snap_dir))? {
        let tree = match load(&path) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(snapshot = %path.display(), error = %e, "damaged snapshot: trying an older one");
                report
                    .damaged_snapshots
                    .push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        // A fuzzy snapshot holds changes up to the zxid its walk ended at: only a log that
        // reaches that far makes it a consistent state (it always does, unless the log was
        // damaged inside the snapshot's window; then an older snapshot gives the state at
        // the damage).
        let covered = covered_through(&path).map_err(io_err(&path))?;
        report.replayed = 0;
        let tree = replay(dirs, tree, &mut report)?;
        if tree.last_zxid() >= covered {
            report.snapshot_zxid = Some(zxid);
            return Ok(finish(tree, report));
        }
        let why = format!(
            "{}: holds changes up to {covered:#x}, but the log ends at {:#x}",
            path.display(),
            tree.last_zxid()
        );
        tracing::warn!("{why}: trying an older snapshot");
        report.damaged_snapshots.push(why);
    }
    report.replayed = 0;
    let tree = replay(dirs, DataTree::default(), &mut report)?;
    Ok(finish(tree, report))
}

fn finish(tree: DataTree, report: RecoveryReport) -> (DataTree, RecoveryReport) {
    for line in &report.cut {
        tracing::warn!("log recovery: {line}");
    }
    (tree, report)
}

/// Applies the log after the tree's zxid, cutting a damaged tail (and what follows it) off
/// the log for good.
fn replay(
    dirs: &DataDirs,
    mut tree: DataTree,
    report: &mut RecoveryReport,
) -> Result<DataTree, StorageError> {
    let base = tree.last_zxid();

    let segments = list_segments(&dirs.log_dir).map_err(io_err(&dirs.log_dir))?;
    // Segments that may hold zxids after the snapshot: the last one starting at or before
    // base+1, and every later one.
    let start = segments
        .iter()
        .rposition(|(first, _)| *first <= base + 1)
        .unwrap_or(0);
    let mut triggers = Vec::new();
    let mut last = base;
    let mut stop_at: Option<usize> = None;
    for (i, (_, path)) in segments.iter().enumerate().skip(start) {
        let scan = scan_segment(path).map_err(io_err(path))?;
        for (hdr, txn) in &scan.entries {
            if hdr.zxid <= last {
                continue;
            }
            let same_epoch = hdr.zxid >> 32 == last >> 32;
            if same_epoch && hdr.zxid != last + 1 {
                return Err(StorageError::Unrecoverable(format!(
                    "the log jumps from zxid {last:#x} to {:#x} in {}: transactions are missing \
                     (was a snapshot or log segment removed?); refusing to serve an incomplete state",
                    hdr.zxid,
                    path.display()
                )));
            }
            tree.apply(hdr, txn, &mut triggers);
            triggers.clear();
            last = hdr.zxid;
            report.replayed += 1;
        }
        if scan.entries.is_empty() && scan.problem.is_none() {
            // A segment created just before a crash, header only: its name would collide
            // with the segment the next append starts.
            std::fs::remove_file(path).map_err(io_err(path))?;
            report.cut.push(format!(
                "{}: removed segment with no transactions",
                path.display()
            ));
            continue;
        }
        if let Some(problem) = scan.problem {
            let what = match &problem {
                TailProblem::Torn { offset } => format!("torn record at offset {offset}"),
                TailProblem::Corrupt { offset, why } => format!("{why} at offset {offset}"),
                TailProblem::BadHeader { why } => why.clone(),
            };
            let cut_bytes = scan.file_len - scan.valid_len;
            if matches!(problem, TailProblem::BadHeader { .. }) && scan.file_len >= 12 {
                return Err(StorageError::Unrecoverable(format!(
                    "{}: {what}",
                    path.display()
                )));
            }
            if scan.valid_len == 0 {
                std::fs::remove_file(path).map_err(io_err(path))?;
                report.cut.push(format!(
                    "{}: removed empty segment ({what})",
                    path.display()
                ));
            } else {
                let f = OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(io_err(path))?;
                f.set_len(scan.valid_len).map_err(io_err(path))?;
                f.sync_all().map_err(io_err(path))?;
                report.cut.push(format!(
                    "{}: {what}; cut {cut_bytes} bytes after the last good transaction {last:#x}",
                    path.display()
                ));
            }
            stop_at = Some(i);
            break;
        }
    }
    if let Some(i) = stop_at {
        // Nothing after a damaged record can be applied without what it lost.
        for (_, path) in &segments[i + 1..] {
            std::fs::remove_file(path).map_err(io_err(path))?;
            report.cut.push(format!(
                "{}: removed, it follows the damaged record",
                path.display()
            ));
        }
    }
    Ok(tree)
}

fn remove_temp_snapshots(dirs: &DataDirs) {
    if let Ok(rd) = std::fs::read_dir(&dirs.snap_dir) {
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("snapshot.") && name.ends_with(".tmp") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::snapshot;
    use crate::storage::txnlog::FileTxnLog;
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
                path: format!("/n{zxid}"),
                data: Some(vec![zxid as u8]),
                acl: Acl::open_unsafe(),
                kind: CreateKind::Create { ephemeral: false },
                parent_cversion: zxid as i32,
            }),
        }
    }

    fn write_log(dirs: &DataDirs, zxids: std::ops::RangeInclusive<i64>) {
        let mut log = FileTxnLog::new(dirs.log_dir.clone(), 1 << 20, false);
        let entries: Vec<LogEntry> = zxids.map(create).collect();
        log.append(&entries).unwrap();
        log.sync().unwrap();
    }

    fn dirs() -> (tempfile::TempDir, DataDirs) {
        let d = tempfile::tempdir().unwrap();
        let dirs = DataDirs::open(d.path(), d.path()).unwrap();
        (d, dirs)
    }

    #[test]
    fn replays_the_log_after_the_snapshot() {
        let (_d, dirs) = dirs();
        write_log(&dirs, 1..=5);
        let (t, r) = recover(&dirs).unwrap();
        assert_eq!((t.last_zxid(), r.replayed), (5, 5));
        snapshot::write(&dirs.snap_dir, 5, &snapshot::serialize(&t)).unwrap();
        write_log(&dirs, 6..=8);
        let (t, r) = recover(&dirs).unwrap();
        assert_eq!(
            (t.last_zxid(), r.replayed, r.snapshot_zxid),
            (8, 3, Some(5))
        );
        assert!(t.get("/n7").is_some());
    }

    #[test]
    fn torn_tail_is_cut_and_later_segments_removed() {
        let (_d, dirs) = dirs();
        write_log(&dirs, 1..=3);
        write_log(&dirs, 4..=6);
        let segs = list_segments(&dirs.log_dir).unwrap();
        let first = &segs[0].1;
        let len = std::fs::metadata(first).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(first)
            .unwrap()
            .set_len(len - 2)
            .unwrap();
        let (t, r) = recover(&dirs).unwrap();
        assert_eq!(t.last_zxid(), 2);
        assert!(t.get("/n3").is_none());
        assert_eq!(r.cut.len(), 2, "{:?}", r.cut);
        assert_eq!(list_segments(&dirs.log_dir).unwrap().len(), 1);
        // Recovering again finds a clean log.
        let (t, r) = recover(&dirs).unwrap();
        assert_eq!((t.last_zxid(), r.cut.len()), (2, 0));
    }

    /// A fuzzy snapshot whose window the log no longer covers (damage inside it) is not a
    /// consistent state: an older snapshot gives the state at the damage instead.
    #[test]
    fn a_fuzzy_snapshot_the_log_does_not_cover_falls_back_to_an_older_one() {
        let (_d, dirs) = dirs();
        write_log(&dirs, 1..=8);
        let (mut t, _) = recover(&dirs).unwrap();
        snapshot::write(&dirs.snap_dir, 8, &snapshot::serialize(&t)).unwrap();
        write_log(&dirs, 9..=12);
        for z in 9..=10 {
            let e = create(z);
            t.apply(&e.hdr, &e.txn, &mut Vec::new());
        }
        // Started at 10, with 11 and 12 applied while it was being taken.
        let mut stream = snapshot::SnapshotStream::new(&t, 1 << 20);
        stream.step(&t, 1);
        for z in 11..=12 {
            let e = create(z);
            t.apply(&e.hdr, &e.txn, &mut Vec::new());
        }
        while !stream.step(&t, 100) {}
        let mut bytes = Vec::new();
        while let Some(p) = stream.pop_piece() {
            bytes.extend_from_slice(&p);
        }
        snapshot::write(&dirs.snap_dir, stream.zxid(), &bytes).unwrap();
        // The log loses 12: the snapshot at 10 may hold it, so it cannot be used.
        let segs = list_segments(&dirs.log_dir).unwrap();
        let last = &segs[segs.len() - 1].1;
        let len = std::fs::metadata(last).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(last)
            .unwrap()
            .set_len(len - 2)
            .unwrap();
        let (t, r) = recover(&dirs).unwrap();
        assert_eq!((t.last_zxid(), r.snapshot_zxid), (11, Some(8)));
        assert!(t.get("/n11").is_some() && t.get("/n12").is_none());
        assert!(
            r.damaged_snapshots[0].contains("holds changes up to 0xc"),
            "{:?}",
            r.damaged_snapshots
        );
    }

    #[test]
    fn damaged_newest_snapshot_falls_back_to_an_older_one() {
        let (_d, dirs) = dirs();
        write_log(&dirs, 1..=4);
        let (t, _) = recover(&dirs).unwrap();
        snapshot::write(&dirs.snap_dir, 4, &snapshot::serialize(&t)).unwrap();
        write_log(&dirs, 5..=6);
        let (t, _) = recover(&dirs).unwrap();
        let mut bytes = snapshot::serialize(&t);
        bytes[30] ^= 0xff;
        snapshot::write(&dirs.snap_dir, 6, &bytes).unwrap();
        let (t, r) = recover(&dirs).unwrap();
        assert_eq!(r.snapshot_zxid, Some(4));
        assert_eq!(r.damaged_snapshots.len(), 1);
        assert_eq!(
            t.last_zxid(),
            6,
            "the log covers what the damaged snapshot had"
        );
    }

    #[test]
    fn a_gap_is_refused_not_served() {
        let (_d, dirs) = dirs();
        write_log(&dirs, 1..=2);
        write_log(&dirs, 4..=5);
        assert!(matches!(
            recover(&dirs),
            Err(StorageError::Unrecoverable(_))
        ));
    }

    #[test]
    fn a_header_only_segment_is_removed_so_appends_can_start_there() {
        let (_d, dirs) = dirs();
        write_log(&dirs, 1..=2);
        let mut bytes = b"ZKRSLOG1".to_vec();
        bytes.extend_from_slice(&1u32.to_be_bytes());
        std::fs::write(dirs.log_dir.join("log.0000000000000003"), bytes).unwrap();
        let (t, r) = recover(&dirs).unwrap();
        assert_eq!((t.last_zxid(), r.cut.len()), (2, 1));
        // The next append starts a segment at zxid 3 without a name clash.
        write_log(&dirs, 3..=3);
        assert_eq!(recover(&dirs).unwrap().0.last_zxid(), 3);
    }

    #[test]
    fn an_empty_segment_is_removed() {
        let (_d, dirs) = dirs();
        write_log(&dirs, 1..=2);
        std::fs::write(dirs.log_dir.join("log.0000000000000003"), b"").unwrap();
        let (t, r) = recover(&dirs).unwrap();
        assert_eq!(t.last_zxid(), 2);
        assert_eq!(r.cut.len(), 1);
    }
}

//! Purging old snapshots and the log segments only they needed (`autopurge.*`,
//! `zkrs-server purge`, like Apache's `zkCleanup.sh -n N`).

use super::snapshot::list_snapshots;
use super::txnlog::list_segments;
use super::{io_err, DataDirs, StorageError};

/// What a purge removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub snapshots: Vec<String>,
    pub segments: Vec<String>,
}

/// Keeps the `retain` newest snapshots (at least 3, as Apache insists) and every log
/// segment that may hold a transaction after the oldest kept one.
pub fn purge(dirs: &DataDirs, retain: usize) -> Result<PurgeReport, StorageError> {
    let retain = retain.max(3);
    let mut report = PurgeReport::default();
    let snaps = list_snapshots(&dirs.snap_dir).map_err(io_err(&dirs.snap_dir))?;
    if snaps.len() <= retain {
        return Ok(report);
    }
    let oldest_kept = snaps[retain - 1].0;
    for (_, path) in &snaps[retain..] {
        std::fs::remove_file(path).map_err(io_err(path))?;
        report.snapshots.push(path.display().to_string());
    }
    let segs = list_segments(&dirs.log_dir).map_err(io_err(&dirs.log_dir))?;
    // A segment is needed unless the next one starts at or before oldest_kept + 1 (then all
    // of this one is covered by the oldest kept snapshot).
    for w in segs.windows(2) {
        let (_, path) = &w[0];
        let (next_first, _) = &w[1];
        if *next_first <= oldest_kept + 1 {
            std::fs::remove_file(path).map_err(io_err(path))?;
            report.segments.push(path.display().to_string());
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::snapshot;
    use crate::storage::txnlog::segment_name;

    #[test]
    fn keeps_the_newest_and_what_they_need() {
        let d = tempfile::tempdir().unwrap();
        let dirs = DataDirs::open(d.path(), d.path()).unwrap();
        let tree = crate::tree::DataTree::new();
        for z in [10, 20, 30, 40, 50] {
            snapshot::write(&dirs.snap_dir, z, &snapshot::serialize(&tree)).unwrap();
        }
        for first in [1, 15, 25, 35, 45] {
            std::fs::write(dirs.log_dir.join(segment_name(first)), b"").unwrap();
        }
        let r = purge(&dirs, 3).unwrap();
        assert_eq!(r.snapshots.len(), 2);
        // Oldest kept snapshot is 30: segments starting at 1 and 15 only hold zxids < 25.
        assert_eq!(r.segments.len(), 2);
        let left: Vec<i64> = crate::storage::txnlog::list_segments(&dirs.log_dir)
            .unwrap()
            .into_iter()
            .map(|(z, _)| z)
            .collect();
        assert_eq!(left, vec![25, 35, 45]);
    }
}

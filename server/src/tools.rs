//! Offline tools over a data directory: print a log segment or a snapshot (like Apache's
//! `LogFormatter` and `SnapshotFormatter`) and purge old files (like `zkCleanup.sh`); and a
//! measurement of how long a snapshot stops the core.

use std::fmt::Write as _;
use std::path::Path;

use crate::storage::codec::describe;
use crate::storage::purge::{purge, PurgeReport};
use crate::storage::snapshot;
use crate::storage::txnlog::scan_segment;
use crate::storage::{DataDirs, StorageError};

pub use crate::snapshot_pause::measure as measure_snapshot_pause;

/// One line per transaction: zxid, session, cxid, time, op and path; then what stopped the
/// scan, if anything did.
pub fn dump_log(path: &Path) -> std::io::Result<String> {
    let scan = scan_segment(path)?;
    let mut out = String::new();
    for (h, t) in &scan.entries {
        let _ = writeln!(
            out,
            "zxid={:#x} session={:#x} cxid={:#x} time={} {}",
            h.zxid,
            h.session_id,
            h.cxid,
            h.time,
            describe(t)
        );
    }
    let _ = writeln!(out, "{} transactions", scan.entries.len());
    if let Some(p) = scan.problem {
        let _ = writeln!(
            out,
            "stopped at {:?}; {} of {} bytes are valid",
            p, scan.valid_len, scan.file_len
        );
    }
    Ok(out)
}

/// The snapshot's zxid, every node with its Stat, and the sessions with their ephemerals.
pub fn dump_snapshot(path: &Path) -> Result<String, snapshot::SnapshotError> {
    let tree = snapshot::load(path)?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "zxid={:#x} nodes={}",
        tree.last_zxid(),
        tree.node_count()
    );
    let mut nodes: Vec<_> = tree.iter_nodes().collect();
    nodes.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, n) in nodes {
        let s = n.stat();
        let _ = writeln!(
            out,
            "{path} czxid={:#x} mzxid={:#x} pzxid={:#x} version={} cversion={} aversion={} \
             ephemeralOwner={:#x} dataLength={} numChildren={}",
            s.czxid,
            s.mzxid,
            s.pzxid,
            s.version,
            s.cversion,
            s.aversion,
            s.ephemeral_owner,
            s.data_length,
            s.num_children
        );
    }
    let mut sessions: Vec<_> = tree.sessions().collect();
    sessions.sort_by_key(|(id, _)| **id);
    let _ = writeln!(out, "sessions={}", sessions.len());
    for (id, rec) in sessions {
        let eph: Vec<&String> = tree.ephemerals_of(*id).collect();
        let _ = writeln!(
            out,
            "session {id:#x} timeout={} ephemerals={eph:?}",
            rec.timeout_ms
        );
    }
    Ok(out)
}

/// `zkrs-server purge`: keeps `count` snapshots (at least 3) and the logs they need.
pub fn purge_dirs(
    data_dir: &Path,
    data_log_dir: &Path,
    count: usize,
) -> Result<PurgeReport, StorageError> {
    purge(&DataDirs::new(data_dir, data_log_dir), count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::txnlog::{list_segments, FileTxnLog};
    use crate::storage::writer::{LogEntry, TxnLog};
    use crate::txn::{Txn, TxnHeader};
    use std::sync::Arc;

    #[test]
    fn dumps_name_zxids_ops_and_paths() {
        let d = tempfile::tempdir().unwrap();
        let mut log = FileTxnLog::new(d.path().to_path_buf(), 1 << 20, false);
        log.append(&[LogEntry {
            hdr: TxnHeader {
                session_id: 0x10,
                cxid: 1,
                zxid: 0x2a,
                time: 7,
            },
            txn: Arc::new(Txn::Delete {
                path: "/gone".into(),
                container: false,
            }),
        }])
        .unwrap();
        let (_, seg) = list_segments(d.path()).unwrap().remove(0);
        let out = dump_log(&seg).unwrap();
        assert!(out.contains("zxid=0x2a session=0x10"), "{out}");
        assert!(out.contains("delete /gone"), "{out}");

        let tree = crate::tree::DataTree::new();
        let snap = snapshot::write(d.path(), 0, &snapshot::serialize(&tree)).unwrap();
        let out = dump_snapshot(&snap).unwrap();
        assert!(out.starts_with("zxid=0x0 nodes=4"), "{out}");
        assert!(out.contains("/zookeeper/config "), "{out}");
    }
}

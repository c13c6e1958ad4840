//! Offline tools over a data directory: print a log segment or a snapshot (like Apache's
//! `LogFormatter` and `SnapshotFormatter`) and purge old files (like `zkCleanup.sh`); and a
//! measurement of how long a snapshot stops the core.

use std::fmt::Write as _;
use std::path::Path;

use crate::config::Config;
use crate::ids::Zxid;
use crate::quorum::election::{Decision, History, Role};
use crate::quorum::election_net::{self, ElectionNetError, ElectionSetup};
use crate::storage::codec::describe;
use crate::storage::epoch::{self, EpochError};
use crate::storage::purge::{purge, PurgeReport};
use crate::storage::recovery::recover;
use crate::storage::snapshot;
use crate::storage::txnlog::scan_segment;
use crate::storage::{DataDirs, StorageError};
use tokio::sync::watch;

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

/// Why `zkrs-server elect` stopped.
#[derive(Debug, thiserror::Error)]
pub enum ElectError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Epoch(#[from] EpochError),
    #[error(transparent)]
    Net(#[from] ElectionNetError),
}

/// `zkrs-server elect`: runs only leader election for `config`'s member (its `myid`), with
/// the last zxid of the state recovered from its data dirs and its `currentEpoch`, and
/// calls `report` with one line per decision. Keeps answering the other members until the
/// future is dropped. Must run inside a Tokio runtime.
pub async fn elect(config: &Config, mut report: impl FnMut(&str)) -> Result<(), ElectError> {
    let dirs = DataDirs::open(&config.data_dir, &config.data_log_dir)?;
    let (tree, _) = recover(&dirs)?;
    let last_zxid = Zxid::from_raw(tree.last_zxid());
    drop(tree);
    let epochs = epoch::load(&dirs.snap_dir, last_zxid)?;
    let history = History {
        last_zxid,
        current_epoch: epochs.current,
    };
    tracing::info!(zxid = %format_args!("{:#x}", last_zxid.raw()), current_epoch = epochs.current, "electing");
    let setup = ElectionSetup::from_config(config, history)?;
    let (tx, mut rx) = watch::channel(None);
    let run = election_net::run(setup, tx);
    tokio::pin!(run);
    loop {
        tokio::select! {
            r = &mut run => return r.map_err(ElectError::from),
            changed = rx.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let decided = *rx.borrow_and_update();
                if let Some(d) = decided {
                    report(&describe_decision(&d));
                }
            }
        }
    }
}

/// `elected: follow 3 (epoch 0x1, peerEpoch 0x0, zxid 0x0)`: the role, the round (election
/// epoch) it was decided in, and the leader's epoch and zxid.
fn describe_decision(d: &Decision) -> String {
    let role = match d.role {
        Role::Lead => "lead".to_string(),
        Role::Follow(sid) => format!("follow {sid}"),
        Role::Observe(sid) => format!("observe {sid}"),
    };
    format!(
        "elected: {role} (epoch {:#x}, peerEpoch {:#x}, zxid {:#x})",
        d.vote.election_epoch,
        d.vote.peer_epoch,
        d.vote.zxid.raw()
    )
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

//! `zkrs-server import-apache`: Apache ZooKeeper's data directory to a zkrs one, as
//! Apache's own start would load it (`FileTxnSnapLog.restore`): the newest snapshot that
//! verifies (older ones when it does not), then every logged transaction after it, the
//! epochs beside them. The source is only read. The zkrs data directory gets one snapshot
//! of the result at its last zxid, written through zkrs's storage, and the epochs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::storage::{epoch, snapshot as zkrs_snapshot, DataDirs};
use crate::tree::DataTree;
use crate::txn::apache::DIGEST_VERSION;

use super::epochs::{self, SourceEpochs};
use super::error::{io_err, MigrationError};
use super::files::{self, NamedFile, LOG_PREFIX, SNAPSHOT_PREFIX};
use super::snapshot::{self, ZxidDigest};
use super::{fresh_target, txnlog};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    /// Apache's dataDir (or its `version-2` directory).
    pub snapshots: PathBuf,
    /// Apache's dataLogDir (or its `version-2` directory); often the same as `snapshots`.
    pub logs: PathBuf,
    /// The zkrs dataDir to create.
    pub to: PathBuf,
}

/// The state loaded from Apache's files, and what was found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub tree: DataTree,
    pub snapshot: NamedFile,
    pub epochs: SourceEpochs,
    /// One line per thing the user should know (a skipped snapshot, a torn log tail).
    pub notes: Vec<String>,
    pub replayed: u64,
    pub logs_read: Vec<String>,
    pub digests_checked: u64,
}

/// Runs the import and returns what to print.
pub fn run(req: &ImportRequest) -> Result<String, MigrationError> {
    let snap_dir = files::version_dir(&req.snapshots)?;
    let log_dir = files::version_dir(&req.logs)?;
    fresh_target(&req.to)?;
    let loaded = load(&snap_dir, &log_dir)?;
    let written = write_zkrs(&req.to, &loaded)?;
    Ok(report(&snap_dir, &log_dir, &loaded, &written))
}

/// Loads the state Apache would start from out of its `version-2` directories.
pub fn load(snap_dir: &Path, log_dir: &Path) -> Result<Loaded, MigrationError> {
    let snapshots = files::list(snap_dir, SNAPSHOT_PREFIX)?;
    let logs = files::list(log_dir, LOG_PREFIX)?;
    let mut notes = Vec::new();
    for snap in snapshots.iter().rev() {
        let read = match snapshot::read(&snap.path, snap.zxid) {
            Ok(s) => s,
            Err(e @ (MigrationError::Damaged { .. } | MigrationError::Io { .. })) => {
                notes.push(format!(
                    "skipped {e}; using an older snapshot instead, as Apache does"
                ));
                continue;
            }
            Err(e) => return Err(e),
        };
        let needs = read.needs_log_through(snap.zxid);
        let mut replay = Replay::new(read.tree, snap.zxid, read.digest)?;
        for file in logs_after(&logs, snap.zxid) {
            let log = txnlog::read(&file.path)?;
            replay.apply(&log)?;
            if let Some(at) = log.torn_at {
                notes.push(format!(
                    "{}: an incomplete record at offset {at}, followed only by zeros: what a \
                     crash while appending leaves; its transaction was never whole on disk, \
                     so it is not imported (Apache ignores it too)",
                    file.path.display()
                ));
            }
            replay.logs_read.push(file.name());
        }
        if replay.last < needs {
            notes.push(format!(
                "skipped {}: it holds changes up to {needs:#x}, but the log ends at {:#x}; \
                 using an older snapshot instead",
                snap.path.display(),
                replay.last
            ));
            continue;
        }
        notes.extend(replay.mismatch.take());
        let tree = replay.tree;
        let epochs = epochs::read(snap_dir, tree.last_zxid())?;
        return Ok(Loaded {
            tree,
            snapshot: snap.clone(),
            epochs,
            notes,
            replayed: replay.replayed,
            logs_read: replay.logs_read,
            digests_checked: replay.digests_checked,
        });
    }
    let why = if snapshots.is_empty() {
        format!("{}: no snapshot file", snap_dir.display())
    } else {
        format!(
            "{}: no snapshot that verifies ({})",
            snap_dir.display(),
            notes.join("; ")
        )
    };
    Err(MigrationError::Refused(if logs.is_empty() {
        format!("{why}, and no transaction log: nothing to import")
    } else {
        format!(
            "{why}, but {} transaction log files: the state before the first logged \
             transaction is missing; Apache refuses to start from this too",
            logs.len()
        )
    }))
}

/// The log files that may hold transactions after `zxid`: the last one starting at or
/// before `zxid + 1`, and every later one (Apache's `FileTxnIterator` picks the same).
fn logs_after(logs: &[NamedFile], zxid: i64) -> &[NamedFile] {
    let start = logs
        .iter()
        .rposition(|f| f.zxid <= zxid.saturating_add(1))
        .unwrap_or(0);
    &logs[start..]
}

/// The log applied over a snapshot, with Apache's digest checks
/// (`DataTree.compareSnapshotDigests`, `compareDigest`): the snapshot's digest when the
/// replay reaches its zxid, then every transaction's recorded digest after it.
struct Replay {
    tree: DataTree,
    last: i64,
    /// The snapshot's digest, until the replay reaches its zxid.
    pending: Option<ZxidDigest>,
    /// Transactions' digests are compared only past the snapshot's (before it the tree
    /// is in a fuzzy state) and only when the snapshot had one.
    compare_txns: bool,
    replayed: u64,
    logs_read: Vec<String>,
    digests_checked: u64,
    /// The first digest that differed from Apache's record, said to the user.
    mismatch: Option<String>,
}

impl Replay {
    fn new(
        tree: DataTree,
        zxid: i64,
        digest: Option<ZxidDigest>,
    ) -> Result<Replay, MigrationError> {
        // An empty digest (zxid 0: none was computed yet), one taken before the snapshot
        // started, or one of another digest version is not comparable (Apache skips it
        // too).
        let usable = digest.filter(|d| d.zxid > 0 && d.zxid >= zxid && d.version == DIGEST_VERSION);
        let mut replay = Replay {
            tree,
            last: zxid,
            pending: usable,
            compare_txns: false,
            replayed: 0,
            logs_read: Vec::new(),
            digests_checked: 0,
            mismatch: None,
        };
        replay.check_pending(None)?;
        Ok(replay)
    }

    fn check_pending(&mut self, at: Option<(&Path, u64)>) -> Result<(), MigrationError> {
        let Some(d) = self.pending else {
            return Ok(());
        };
        if self.last < d.zxid {
            return Ok(());
        }
        self.pending = None;
        self.compare_txns = true;
        if self.last > d.zxid {
            // The log moved to a new epoch past the digest's zxid: nothing to compare.
            return Ok(());
        }
        self.digests_checked += 1;
        if self.tree.digest() != d.digest {
            let where_ = at.map_or(String::new(), |(p, o)| {
                format!(" (the transaction at offset {o} of {})", p.display())
            });
            self.differs(format!(
                "at zxid {:#x}{where_} the tree's digest is {:#x} where the snapshot records {:#x}",
                d.zxid,
                self.tree.digest(),
                d.digest
            ));
        }
        Ok(())
    }

    /// A digest that differs from Apache's record: Apache's own start logs it ("Digest
    /// mismatch", counted in `digest_mismatches_count`) and goes on, and so does this,
    /// saying so. Later digests cannot match either, so they are not compared.
    fn differs(&mut self, what: String) {
        self.compare_txns = false;
        self.mismatch.get_or_insert(format!(
            "{what}; Apache starts from such a directory too (it logs a digest mismatch): \
             compare the imported tree with what Apache serves before relying on it"
        ));
    }

    fn apply(&mut self, log: &txnlog::LogFile) -> Result<(), MigrationError> {
        let mut triggers = Vec::new();
        for rec in &log.records {
            let hdr = &rec.txn.header;
            if hdr.zxid <= self.last {
                continue;
            }
            if hdr.zxid >> 32 == self.last >> 32 && hdr.zxid != self.last + 1 {
                return Err(MigrationError::Refused(format!(
                    "{}: the log jumps from zxid {:#x} to {:#x} at offset {}: transactions \
                     are missing (a log file removed?)",
                    log.path.display(),
                    self.last,
                    hdr.zxid,
                    rec.offset
                )));
            }
            self.tree.apply(hdr, &rec.txn.txn, &mut triggers);
            triggers.clear();
            self.last = hdr.zxid;
            self.replayed += 1;
            if self.pending.is_some() {
                self.check_pending(Some((&log.path, rec.offset)))?;
            } else if let Some(d) = rec.txn.digest {
                if self.compare_txns && d.version == DIGEST_VERSION {
                    self.digests_checked += 1;
                    if self.tree.digest() != d.tree_digest {
                        self.differs(format!(
                            "{}: after the transaction at offset {} (zxid {:#x}) the tree's \
                             digest is {:#x} where Apache recorded {:#x}",
                            log.path.display(),
                            rec.offset,
                            hdr.zxid,
                            self.tree.digest(),
                            d.tree_digest
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// What was written.
struct Written {
    dir: PathBuf,
    snapshot: PathBuf,
}

/// Writes the zkrs data directory under a temporary name inside `to`, checks that it
/// loads back to the same tree, then renames it into place.
fn write_zkrs(to: &Path, loaded: &Loaded) -> Result<Written, MigrationError> {
    let staging = to.join(".import-apache.tmp");
    std::fs::create_dir_all(&staging).map_err(io_err(&staging))?;
    let dirs = DataDirs::open(&staging, &staging)?;
    let tree = &loaded.tree;
    let bytes = zkrs_snapshot::serialize(tree);
    let snap = zkrs_snapshot::write(&dirs.snap_dir, tree.last_zxid(), &bytes)
        .map_err(io_err(&dirs.snap_dir))?;
    let back = zkrs_snapshot::load(&snap).map_err(|e| {
        MigrationError::Refused(format!("{}: reading it back: {e}", snap.display()))
    })?;
    if back.compute_digest() != tree.digest() || back.node_count() != tree.node_count() {
        return Err(MigrationError::Refused(format!(
            "{}: reads back as a different tree",
            snap.display()
        )));
    }
    epoch::write_accepted(&dirs.snap_dir, loaded.epochs.accepted)?;
    epoch::write_current(&dirs.snap_dir, loaded.epochs.current)?;
    let dir = to.join("zkrs");
    std::fs::rename(&dirs.snap_dir, &dir).map_err(io_err(&dir))?;
    crate::storage::fsync_dir(to).map_err(io_err(to))?;
    std::fs::remove_dir(&staging).map_err(io_err(&staging))?;
    let snapshot = dir.join(snap.file_name().unwrap_or_default());
    Ok(Written { dir, snapshot })
}

fn report(snap_dir: &Path, log_dir: &Path, loaded: &Loaded, written: &Written) -> String {
    let tree = &loaded.tree;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "import-apache: reading {} and {}",
        snap_dir.display(),
        log_dir.display()
    );
    for note in &loaded.notes {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(
        out,
        "snapshot {} (zxid {:#x})",
        loaded.snapshot.name(),
        loaded.snapshot.zxid
    );
    let _ = writeln!(
        out,
        "replayed {} transactions after it from {} log files ({}), up to zxid {:#x}; \
         {} digests checked against Apache's",
        loaded.replayed,
        loaded.logs_read.len(),
        loaded.logs_read.join(", "),
        tree.last_zxid(),
        loaded.digests_checked
    );
    let e = &loaded.epochs;
    let _ = writeln!(
        out,
        "epochs: accepted {}, current {}{}",
        e.accepted,
        e.current,
        if e.derived {
            " (from the last zxid: the source has no epoch files, as a standalone Apache server keeps none)"
        } else {
            ""
        }
    );
    let sessions = tree.sessions().count();
    let _ = writeln!(
        out,
        "wrote {}: {} at zxid {:#x}: {} nodes, {} sessions, {} ephemeral nodes",
        written.dir.display(),
        written
            .snapshot
            .file_name()
            .unwrap_or_default()
            .to_string_lossy(),
        tree.last_zxid(),
        tree.node_count(),
        sessions,
        tree.ephemeral_count()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::apache::{self, TxnDigest};
    use crate::txn::{CreateKind, Txn, TxnHeader};
    use zkrs_proto::Acl;

    fn hdr(zxid: i64) -> TxnHeader {
        TxnHeader {
            session_id: 0x42,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000 + zxid,
        }
    }

    fn create(zxid: i64) -> Txn {
        Txn::Create {
            path: format!("/n{zxid}"),
            data: Some(vec![zxid as u8]),
            acl: Acl::open_unsafe(),
            kind: CreateKind::Create { ephemeral: false },
            parent_cversion: zxid as i32,
        }
    }

    /// An Apache `version-2` directory: a snapshot at `snap_at` and one log of
    /// transactions 1..=`last` carrying the digest after each (`wrong_digest_at` gets a
    /// wrong one).
    fn apache_dir(snap_at: i64, last: i64, wrong_digest_at: Option<i64>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let mut tree = DataTree::new();
        let mut entries = Vec::new();
        for z in 1..=last {
            tree.apply(&hdr(z), &create(z), &mut Vec::new());
            let mut digest = tree.digest();
            if wrong_digest_at == Some(z) {
                digest ^= 1;
            }
            let recorded = Some(TxnDigest {
                version: DIGEST_VERSION,
                tree_digest: digest,
            });
            entries.push(apache::encode(&hdr(z), &create(z), recorded).unwrap());
            if z == snap_at {
                snapshot::write(d.path(), &tree).unwrap();
            }
        }
        std::fs::write(d.path().join("log.1"), txnlog::encode(&entries)).unwrap();
        d
    }

    #[test]
    fn the_log_after_the_snapshot_is_replayed_and_its_digests_checked() {
        let d = apache_dir(3, 8, None);
        let loaded = load(d.path(), d.path()).unwrap();
        assert_eq!(loaded.tree.last_zxid(), 8);
        assert_eq!(loaded.replayed, 5);
        assert_eq!(
            loaded.digests_checked,
            1 + 5,
            "the snapshot's and each transaction's"
        );
        assert!(loaded.tree.get("/n8").is_some());
        assert!(loaded.epochs.derived);
    }

    /// Apache logs a digest that differs from its record and starts anyway; the import
    /// goes on too, and says so.
    #[test]
    fn a_digest_that_differs_from_apaches_is_reported() {
        let d = apache_dir(3, 8, Some(6));
        let loaded = load(d.path(), d.path()).unwrap();
        assert_eq!(loaded.tree.last_zxid(), 8, "the whole log is replayed");
        let notes = loaded.notes.join("\n");
        assert!(notes.contains("zxid 0x6"), "{notes}");
        assert!(notes.contains("digest mismatch"), "{notes}");
        assert_eq!(
            loaded.notes.iter().filter(|n| n.contains("digest")).count(),
            1,
            "the first mismatch only: {notes}"
        );
    }

    /// Cuts the fifth record (zxid 5) out of `dir/log.1`.
    fn cut_fifth_record(dir: &Path) {
        let log = dir.join("log.1");
        let bytes = std::fs::read(&log).unwrap();
        let parsed = txnlog::parse(&log, &bytes).unwrap();
        let (a, b) = (parsed.records[4].offset, parsed.records[5].offset);
        let mut cut = bytes[..a as usize].to_vec();
        cut.extend_from_slice(&bytes[b as usize..]);
        std::fs::write(&log, cut).unwrap();
    }

    #[test]
    fn a_gap_in_the_log_is_refused() {
        let d = apache_dir(3, 8, None);
        cut_fifth_record(d.path());
        let err = load(d.path(), d.path()).unwrap_err();
        assert!(
            err.to_string().contains("jumps from zxid 0x4 to 0x6"),
            "{err}"
        );
    }

    #[test]
    fn the_logs_read_are_those_apache_reads() {
        let f = |zxid| NamedFile {
            zxid,
            path: PathBuf::from(files::log_name(zxid)),
        };
        let logs = [f(1), f(10), f(20)];
        assert_eq!(logs_after(&logs, 0), &logs[..]);
        assert_eq!(logs_after(&logs, 9), &logs[1..]);
        assert_eq!(logs_after(&logs, 15), &logs[1..]);
        assert_eq!(logs_after(&logs, 25), &logs[2..]);
    }

    #[test]
    fn a_target_that_is_not_empty_is_refused_and_nothing_is_written_on_failure() {
        let src = apache_dir(3, 8, None);
        // A log with a transaction cut out: the import fails.
        cut_fifth_record(src.path());
        let to = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join(files::VERSION_DIR)).unwrap();
        for entry in std::fs::read_dir(src.path()).unwrap().flatten() {
            if entry.file_type().unwrap().is_file() {
                let target = src.path().join(files::VERSION_DIR).join(entry.file_name());
                std::fs::rename(entry.path(), target).unwrap();
            }
        }
        let req = ImportRequest {
            snapshots: src.path().to_path_buf(),
            logs: src.path().to_path_buf(),
            to: to.path().join("new"),
        };
        assert!(run(&req).is_err());
        assert!(!req.to.join("zkrs").exists());
        std::fs::write(to.path().join("new/other"), "x").unwrap();
        let err = run(&req).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
    }
}

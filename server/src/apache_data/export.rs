//! `zkrs-server export-apache`: a zkrs data directory to Apache ZooKeeper's `version-2`
//! layout. The state is what a zkrs server would start from: its recovery runs on a copy
//! of the zkrs files (so the source is only read, and a torn log tail is cut in the copy,
//! as the server would cut it). Apache gets a snapshot of that state at its last zxid
//! (tree, Stats, ACLs, sessions, the tree digest), the zkrs log's transactions as one
//! Apache log file, and the epochs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::ids::Zxid;
use crate::storage::recovery::recover;
use crate::storage::txnlog::{list_segments, scan_segment};
use crate::storage::{epoch, DataDirs};
use crate::txn::apache;

use super::error::{io_err, MigrationError};
use super::files::{log_name, VERSION_DIR};
use super::{fresh_target, snapshot, txnlog};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The zkrs dataDir.
    pub from: PathBuf,
    /// The zkrs dataLogDir; usually the same as `from`.
    pub from_logs: PathBuf,
    /// The Apache dataDir to create (`version-2` goes inside).
    pub to: PathBuf,
}

/// Runs the export and returns what to print.
pub fn run(req: &ExportRequest) -> Result<String, MigrationError> {
    for dir in [&req.from, &req.from_logs] {
        if !dir.join("zkrs").is_dir() {
            return Err(MigrationError::Refused(format!(
                "{}: no zkrs directory here: not a zkrs dataDir (or dataLogDir)",
                dir.display()
            )));
        }
    }
    fresh_target(&req.to)?;
    let staging = req.to.join(".export-apache.tmp");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_err(&staging))?;
    }
    let result = export_via(&staging, req);
    // The copy is scratch whatever happened.
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn export_via(staging: &Path, req: &ExportRequest) -> Result<String, MigrationError> {
    let copy_data = staging.join("data");
    let copy_logs = if req.from_logs == req.from {
        copy_data.clone()
    } else {
        staging.join("logs")
    };
    copy_files(&req.from.join("zkrs"), &copy_data.join("zkrs"))?;
    if copy_logs != copy_data {
        copy_files(&req.from_logs.join("zkrs"), &copy_logs.join("zkrs"))?;
    }
    let dirs = DataDirs::open(&copy_data, &copy_logs)?;
    let (tree, recovery) = recover(&dirs)?;
    let epochs = epoch::load(&dirs.snap_dir, Zxid::from_raw(tree.last_zxid()))?;

    let mut records = Vec::new();
    let mut first = None;
    let mut last = i64::MIN;
    for (_, path) in list_segments(&dirs.log_dir).map_err(io_err(&dirs.log_dir))? {
        // Recovery left only whole records behind.
        let scan = scan_segment(&path).map_err(io_err(&path))?;
        for (hdr, txn) in scan.entries {
            if hdr.zxid <= last || hdr.zxid > tree.last_zxid() {
                continue;
            }
            let bytes = apache::encode(&hdr, &txn, None).map_err(|e| {
                MigrationError::Refused(format!(
                    "the transaction {:#x} in {}: {e}",
                    hdr.zxid,
                    path.display()
                ))
            })?;
            records.push(bytes);
            first.get_or_insert(hdr.zxid);
            last = hdr.zxid;
        }
    }

    let out = staging.join(VERSION_DIR);
    std::fs::create_dir_all(&out).map_err(io_err(&out))?;
    let snap = snapshot::write(&out, &tree)?;
    let log = match first {
        Some(first) => {
            let path = out.join(log_name(first));
            write_synced(&path, &txnlog::encode(&records))?;
            Some((path, first))
        }
        None => None,
    };
    epoch::write_accepted(&out, epochs.accepted)?;
    epoch::write_current(&out, epochs.current)?;
    crate::storage::fsync_dir(&out).map_err(io_err(&out))?;
    let dest = req.to.join(VERSION_DIR);
    std::fs::rename(&out, &dest).map_err(io_err(&dest))?;
    crate::storage::fsync_dir(&req.to).map_err(io_err(&req.to))?;

    let mut report = String::new();
    let _ = writeln!(
        report,
        "export-apache: reading {} and {}",
        req.from.join("zkrs").display(),
        req.from_logs.join("zkrs").display()
    );
    for line in recovery.damaged_snapshots.iter().chain(&recovery.cut) {
        let _ = writeln!(
            report,
            "{line} (in the copy; the zkrs server does the same at its next start)"
        );
    }
    let name = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let _ = writeln!(
        report,
        "wrote {}: {} at zxid {:#x}: {} nodes, {} sessions, {} ephemeral nodes",
        dest.display(),
        name(&snap),
        tree.last_zxid(),
        tree.node_count(),
        tree.sessions().count(),
        tree.ephemeral_count()
    );
    match log {
        Some((path, first)) => {
            let _ = writeln!(
                report,
                "wrote {}: {} transactions, zxids {first:#x} to {last:#x}",
                name(&path),
                records.len()
            );
        }
        None => {
            let _ = writeln!(report, "no log file: the zkrs log holds no transactions");
        }
    }
    let _ = writeln!(
        report,
        "epochs: accepted {}, current {} (acceptedEpoch, currentEpoch)",
        epochs.accepted, epochs.current
    );
    Ok(report)
}

/// Copies the regular files of `from` into a new directory `to`.
fn copy_files(from: &Path, to: &Path) -> Result<(), MigrationError> {
    std::fs::create_dir_all(to).map_err(io_err(to))?;
    for entry in std::fs::read_dir(from).map_err(io_err(from))? {
        let entry = entry.map_err(io_err(from))?;
        if entry.file_type().map_err(io_err(&entry.path()))?.is_file() {
            let target = to.join(entry.file_name());
            std::fs::copy(entry.path(), &target).map_err(io_err(&entry.path()))?;
        }
    }
    Ok(())
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), MigrationError> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

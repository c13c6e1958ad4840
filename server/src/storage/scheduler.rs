//! Takes snapshots every `snapCount` transactions (randomised as Apache does, so members
//! of an ensemble do not all snapshot at once). The tree is serialized on the core, which
//! is the only pause writes see; the pieces are written as they come and the file synced on
//! a background thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use rand::Rng;

use crate::tree::DataTree;

use super::snapshot::{self, SnapshotFile};

/// What the core sends the snapshot writer: a snapshot is its zxid, its pieces, its end.
enum Piece {
    Start(i64),
    Bytes(Vec<u8>),
    End,
}

/// Pieces of a snapshot in flight between the core and the writer at most: the core waits
/// when the disk falls behind, rather than holding the snapshot in memory.
const PIECES_IN_FLIGHT: usize = 8;
const PIECE_BYTES: usize = 1 << 20;

pub struct SnapshotScheduler {
    tx: mpsc::SyncSender<Piece>,
    snap_count: u64,
    since: u64,
    threshold: u64,
    busy: Arc<AtomicBool>,
}

fn next_threshold(snap_count: u64) -> u64 {
    let half = (snap_count / 2).max(1);
    half + rand::thread_rng().gen_range(0..half)
}

/// The writer thread's loop: one snapshot file at a time, from its pieces.
fn write_snapshots(
    dir: PathBuf,
    rx: mpsc::Receiver<Piece>,
    after_write: impl Fn(),
    busy: &AtomicBool,
) {
    let mut current: Option<(i64, std::time::Instant, u64, std::io::Result<SnapshotFile>)> = None;
    for piece in rx {
        match piece {
            Piece::Start(zxid) => {
                current = Some((
                    zxid,
                    std::time::Instant::now(),
                    0,
                    SnapshotFile::create(&dir, zxid),
                ))
            }
            Piece::Bytes(bytes) => {
                if let Some((_, _, written, file)) = &mut current {
                    *written += bytes.len() as u64;
                    if let Ok(f) = file {
                        if let Err(e) = f.write(&bytes) {
                            *file = Err(e);
                        }
                    }
                }
            }
            Piece::End => {
                let Some((zxid, started, bytes, file)) = current.take() else {
                    continue;
                };
                match file.and_then(SnapshotFile::finish) {
                    Ok(path) => {
                        tracing::info!(
                            snapshot = %path.display(),
                            bytes,
                            ms = started.elapsed().as_millis() as u64,
                            "snapshot written"
                        );
                        after_write();
                    }
                    Err(e) => tracing::error!(error = %e, zxid, "writing a snapshot failed"),
                }
                busy.store(false, Ordering::Release);
            }
        }
    }
}

impl SnapshotScheduler {
    /// Starts the writer thread. `after_write` runs after each snapshot is durable (the
    /// purge hook).
    pub fn spawn(
        dir: PathBuf,
        snap_count: u32,
        after_write: impl Fn() + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Piece>(PIECES_IN_FLIGHT);
        let busy = Arc::new(AtomicBool::new(false));
        let flag = busy.clone();
        std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || write_snapshots(dir, rx, after_write, &flag))?;
        let snap_count = snap_count.max(2) as u64;
        Ok(SnapshotScheduler {
            tx,
            snap_count,
            since: 0,
            threshold: next_threshold(snap_count),
            busy,
        })
    }

    /// Counts one applied transaction and snapshots when the threshold is reached (unless
    /// the previous snapshot is still being written).
    pub fn applied(&mut self, tree: &DataTree) {
        self.since += 1;
        if self.since < self.threshold || self.busy.load(Ordering::Acquire) {
            return;
        }
        self.take(tree);
    }

    /// Snapshots now: serializes on the caller (the core, which pauses for it) while the
    /// writer thread writes the pieces.
    pub fn take(&mut self, tree: &DataTree) {
        self.busy.store(true, Ordering::Release);
        let started = std::time::Instant::now();
        let mut gone = self.tx.send(Piece::Start(tree.last_zxid())).is_err();
        snapshot::serialize_chunked(tree, PIECE_BYTES, |bytes| {
            gone = gone || self.tx.send(Piece::Bytes(bytes)).is_err();
        });
        gone = gone || self.tx.send(Piece::End).is_err();
        if gone {
            tracing::error!("the snapshot writer is gone");
        }
        tracing::debug!(
            nodes = tree.node_count(),
            pause_ms = started.elapsed().as_millis() as u64,
            "tree serialized for a snapshot"
        );
        self.since = 0;
        self.threshold = next_threshold(self.snap_count);
    }
}

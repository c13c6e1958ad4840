//! Takes snapshots every `snapCount` transactions (randomised as Apache does, so members
//! of an ensemble do not all snapshot at once). The tree is serialized on the core, which
//! is the only pause writes see; the file is written and synced on a background thread.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use rand::Rng;

use crate::tree::DataTree;

use super::snapshot;

pub struct SnapshotScheduler {
    tx: mpsc::Sender<(i64, Vec<u8>)>,
    snap_count: u64,
    since: u64,
    threshold: u64,
    busy: Arc<AtomicBool>,
}

fn next_threshold(snap_count: u64) -> u64 {
    let half = (snap_count / 2).max(1);
    half + rand::thread_rng().gen_range(0..half)
}

impl SnapshotScheduler {
    /// Starts the writer thread. `after_write` runs after each snapshot is durable (the
    /// purge hook).
    pub fn spawn(
        dir: PathBuf,
        snap_count: u32,
        after_write: impl Fn() + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<(i64, Vec<u8>)>();
        let busy = Arc::new(AtomicBool::new(false));
        let flag = busy.clone();
        std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                for (zxid, bytes) in rx {
                    let started = std::time::Instant::now();
                    match snapshot::write(&dir, zxid, &bytes) {
                        Ok(path) => {
                            tracing::info!(
                                snapshot = %path.display(),
                                bytes = bytes.len(),
                                ms = started.elapsed().as_millis() as u64,
                                "snapshot written"
                            );
                            after_write();
                        }
                        Err(e) => tracing::error!(error = %e, zxid, "writing a snapshot failed"),
                    }
                    flag.store(false, Ordering::Release);
                }
            })?;
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

    /// Snapshots now.
    pub fn take(&mut self, tree: &DataTree) {
        self.busy.store(true, Ordering::Release);
        let started = std::time::Instant::now();
        let bytes = snapshot::serialize(tree);
        tracing::debug!(
            nodes = tree.node_count(),
            pause_ms = started.elapsed().as_millis() as u64,
            "tree serialized for a snapshot"
        );
        if self.tx.send((tree.last_zxid(), bytes)).is_err() {
            tracing::error!("the snapshot writer is gone");
        }
        self.since = 0;
        self.threshold = next_threshold(self.snap_count);
    }
}

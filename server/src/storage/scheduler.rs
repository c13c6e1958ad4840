//! Takes snapshots every `snapCount` transactions (randomised as Apache does, so members
//! of an ensemble do not all snapshot at once). The tree is serialized on the core in small
//! slices while transactions go on being applied (a fuzzy snapshot, see
//! [`crate::tree::FuzzyWalk`]): a few hundred nodes with each applied transaction, and a few
//! thousand at a time when the core is idle. The pieces are written and the file synced on a
//! background thread; when the disk falls behind, the core keeps the pieces it has and
//! serializes no further until the writer catches up, instead of waiting for it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use rand::Rng;

use crate::tree::DataTree;

use super::snapshot::{SnapshotFile, SnapshotStream};

/// What the core sends the snapshot writer: a snapshot is its zxid, its pieces, its end.
enum Piece {
    Start(i64),
    Bytes(Vec<u8>),
    End,
}

/// Pieces of a snapshot in flight between the core and the writer at most: past that the
/// core stops serializing until the writer catches up, rather than holding the snapshot in
/// memory.
const PIECES_IN_FLIGHT: usize = 8;
const PIECE_BYTES: usize = 1 << 20;
/// Nodes serialized with each applied transaction: about 20 µs, so a busy core's latency
/// barely moves, and a million nodes take ~4000 transactions.
const NODES_PER_TXN: usize = 256;
/// Nodes serialized in one slice when the core is idle: about 0.3 ms.
const NODES_PER_IDLE_SLICE: usize = 4096;

pub struct SnapshotScheduler {
    tx: mpsc::SyncSender<Piece>,
    snap_count: u64,
    since: u64,
    threshold: u64,
    busy: Arc<AtomicBool>,
    /// The snapshot being taken, and whether its end has been handed to the writer.
    current: Option<SnapshotStream>,
    /// The longest the core spent in one slice of the current snapshot.
    longest_slice: std::time::Duration,
    started: Option<std::time::Instant>,
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
            current: None,
            longest_slice: std::time::Duration::ZERO,
            started: None,
            busy,
        })
    }

    /// Counts one applied transaction, starts a snapshot when the threshold is reached
    /// (unless the previous one is still being written), and serializes a small slice of
    /// the one in progress.
    pub fn applied(&mut self, tree: &DataTree) {
        self.since += 1;
        if self.current.is_none() {
            if self.since < self.threshold || self.busy.load(Ordering::Acquire) {
                return;
            }
            self.start(tree);
        }
        self.advance(tree, NODES_PER_TXN, false);
    }

    /// Whether a snapshot is being taken: the core should then call [`Self::pump`] when it
    /// has nothing else to do.
    pub fn in_progress(&self) -> bool {
        self.current.is_some()
    }

    /// Serializes one slice of the snapshot in progress, for a core with nothing else to
    /// do. If the writer is behind, waits for it to take one piece (about a millisecond of
    /// disk time) rather than spin.
    pub fn pump(&mut self, tree: &DataTree) {
        self.advance(tree, NODES_PER_IDLE_SLICE, true);
    }

    fn start(&mut self, tree: &DataTree) {
        let stream = SnapshotStream::new(tree, PIECE_BYTES);
        self.busy.store(true, Ordering::Release);
        if self.tx.send(Piece::Start(stream.zxid())).is_err() {
            tracing::error!("the snapshot writer is gone");
        }
        self.current = Some(stream);
        self.longest_slice = std::time::Duration::ZERO;
        self.started = Some(std::time::Instant::now());
        self.since = 0;
        self.threshold = next_threshold(self.snap_count);
    }

    /// Hands ready pieces to the writer and, if few are waiting, serializes up to
    /// `max_nodes` more; sends the end once every piece is out.
    fn advance(&mut self, tree: &DataTree, max_nodes: usize, wait: bool) {
        let Some(stream) = self.current.as_mut() else {
            return;
        };
        let t0 = std::time::Instant::now();
        let mut gone = false;
        let mut waited = false;
        let mut hand_on = |stream: &mut SnapshotStream, waited: &mut bool| {
            while let Some(piece) = stream.pop_piece() {
                match self.tx.try_send(Piece::Bytes(piece)) {
                    Ok(()) => {}
                    Err(mpsc::TrySendError::Full(Piece::Bytes(piece))) if wait && !*waited => {
                        *waited = true;
                        gone |= self.tx.send(Piece::Bytes(piece)).is_err();
                    }
                    Err(mpsc::TrySendError::Full(Piece::Bytes(piece))) => {
                        stream.unpop_piece(piece);
                        return;
                    }
                    Err(_) => {
                        gone = true;
                        return;
                    }
                }
            }
        };
        hand_on(stream, &mut waited);
        if stream.pending_pieces() < PIECES_IN_FLIGHT && !stream.is_finished() {
            stream.step(tree, max_nodes);
            hand_on(stream, &mut waited);
        }
        let elapsed = t0.elapsed();
        self.longest_slice = self.longest_slice.max(elapsed);
        if gone {
            tracing::error!("the snapshot writer is gone");
            self.current = None;
            return;
        }
        if stream.is_finished() && stream.pending_pieces() == 0 {
            if self.tx.send(Piece::End).is_err() {
                tracing::error!("the snapshot writer is gone");
            }
            tracing::debug!(
                nodes = stream.nodes(),
                zxid = stream.zxid(),
                through = tree.last_zxid(),
                longest_slice_us = self.longest_slice.as_micros() as u64,
                ms = self.started.map_or(0, |s| s.elapsed().as_millis() as u64),
                "snapshot serialized"
            );
            self.current = None;
        }
    }

    /// The longest time the core spent in one slice of the snapshot in progress or the
    /// last one (for measurements).
    pub fn longest_slice(&self) -> std::time::Duration {
        self.longest_slice
    }

    /// Snapshots now, whole, on the caller (at startup, before serving: no one waits).
    pub fn take(&mut self, tree: &DataTree) {
        let started = std::time::Instant::now();
        let mut stream = SnapshotStream::new(tree, PIECE_BYTES);
        self.busy.store(true, Ordering::Release);
        let mut gone = self.tx.send(Piece::Start(stream.zxid())).is_err();
        while !gone {
            let done = stream.step(tree, NODES_PER_IDLE_SLICE);
            while let Some(piece) = stream.pop_piece() {
                gone = gone || self.tx.send(Piece::Bytes(piece)).is_err();
            }
            if done {
                break;
            }
        }
        gone = gone || self.tx.send(Piece::End).is_err();
        if gone {
            tracing::error!("the snapshot writer is gone");
        }
        tracing::debug!(
            nodes = tree.node_count(),
            ms = started.elapsed().as_millis() as u64,
            "tree serialized for a snapshot"
        );
        self.since = 0;
        self.threshold = next_threshold(self.snap_count);
    }
}

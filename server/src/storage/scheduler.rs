//! Takes snapshots every `snapCount` transactions (randomised as Apache does, so members
//! of an ensemble do not all snapshot at once). The tree is serialized on the core in small
//! slices while transactions go on being applied (a fuzzy snapshot, see
//! [`crate::tree::FuzzyWalk`]): a thousand nodes after each batch of commits, and a few
//! thousand at a time when the core is idle. The pieces are written and the file synced on a
//! background thread; when the disk falls behind, the core keeps the pieces it has and
//! serializes no further until the writer catches up, instead of waiting for it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;

use rand::Rng;
use tokio::sync::Notify;

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
/// Nodes serialized after each batch of commits (one log sync): about 70 µs. Per batch
/// rather than per transaction, because a batch's replies all wait for the batch: at 64
/// sessions a slice per transaction added a millisecond to a batch's last reply (p99 9 ms
/// against 2 ms while snapshots of 1M znodes ran back to back). At a thousand syncs a
/// second a million nodes take about a second, plus what idle slices do.
const NODES_PER_COMMIT_BATCH: usize = 1024;
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
    /// Whether the end of the current snapshot is with the writer.
    end_sent: bool,
    /// Whether the start of the current snapshot is still to be handed to the writer.
    start_pending: bool,
    /// Whether the current snapshot waits for room in the writer's channel.
    stalled: bool,
    /// Told by the writer whenever it takes a piece.
    taken: Arc<Notify>,
}

/// When a core should call [`SnapshotScheduler::pump`]: see [`SnapshotScheduler::work`].
pub struct SnapshotWork(WorkState);

enum WorkState {
    None,
    Ready,
    Stalled(Arc<Notify>),
}

impl SnapshotWork {
    /// No snapshot at all (a core without a scheduler).
    pub fn none() -> Self {
        SnapshotWork(WorkState::None)
    }

    /// Resolves when a pump would make progress: after a yield to the runtime if the
    /// snapshot can go on, when the writer takes a piece if it is behind, never if no
    /// snapshot is in progress.
    pub async fn ready(self) {
        match self.0 {
            WorkState::None => std::future::pending().await,
            WorkState::Ready => tokio::task::yield_now().await,
            WorkState::Stalled(n) => n.notified().await,
        }
    }
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
    taken: &Notify,
) {
    let mut current: Option<(i64, std::time::Instant, u64, std::io::Result<SnapshotFile>)> = None;
    for piece in rx {
        // Room in the channel again: a core that stopped for want of it may go on.
        taken.notify_one();
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
        let taken = Arc::new(Notify::new());
        let (flag, notify) = (busy.clone(), taken.clone());
        std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || write_snapshots(dir, rx, after_write, &flag, &notify))?;
        let snap_count = snap_count.max(2) as u64;
        Ok(SnapshotScheduler {
            tx,
            snap_count,
            since: 0,
            threshold: next_threshold(snap_count),
            current: None,
            longest_slice: std::time::Duration::ZERO,
            started: None,
            end_sent: false,
            start_pending: false,
            stalled: false,
            taken,
            busy,
        })
    }

    /// Counts one applied transaction and starts a snapshot when the threshold is reached
    /// (unless the previous one is still being written).
    pub fn applied(&mut self, tree: &DataTree) {
        self.since += 1;
        if self.current.is_none()
            && self.since >= self.threshold
            && !self.busy.load(Ordering::Acquire)
        {
            self.start(tree);
        }
    }

    /// A batch of commits was applied: serializes a small slice of the snapshot in
    /// progress.
    pub fn after_commits(&mut self, tree: &DataTree) {
        self.advance(tree, NODES_PER_COMMIT_BATCH);
    }

    /// Whether a snapshot is being taken.
    pub fn in_progress(&self) -> bool {
        self.current.is_some()
    }

    /// What the core awaits, between its other events, before calling [`Self::pump`]. The
    /// core never waits for the writer: when the writer is behind, this resolves only once
    /// it has taken a piece.
    pub fn work(&self) -> SnapshotWork {
        SnapshotWork(match (&self.current, self.stalled) {
            (None, _) => WorkState::None,
            (Some(_), false) => WorkState::Ready,
            (Some(_), true) => WorkState::Stalled(self.taken.clone()),
        })
    }

    /// Serializes one slice of the snapshot in progress (a core with nothing else to do).
    pub fn pump(&mut self, tree: &DataTree) {
        self.advance(tree, NODES_PER_IDLE_SLICE);
    }

    fn start(&mut self, tree: &DataTree) {
        let stream = SnapshotStream::new(tree, PIECE_BYTES);
        self.busy.store(true, Ordering::Release);
        // The channel may be full with the previous snapshot's last pieces; the start
        // waits with the pieces (it is sent before the first of them).
        self.current = Some(stream);
        self.end_sent = false;
        self.stalled = false;
        self.start_pending = true;
        self.longest_slice = std::time::Duration::ZERO;
        self.started = Some(std::time::Instant::now());
        self.since = 0;
        self.threshold = next_threshold(self.snap_count);
    }

    /// Hands ready pieces to the writer (never waiting for it) and, if few are waiting,
    /// serializes up to `max_nodes` more; hands on the end once every piece is out.
    fn advance(&mut self, tree: &DataTree, max_nodes: usize) {
        let Some(stream) = self.current.as_mut() else {
            return;
        };
        let t0 = std::time::Instant::now();
        let tx = &self.tx;
        let mut gone = false;
        let mut full = false;
        if self.start_pending {
            match tx.try_send(Piece::Start(stream.zxid())) {
                Ok(()) => self.start_pending = false,
                Err(mpsc::TrySendError::Full(_)) => full = true,
                Err(mpsc::TrySendError::Disconnected(_)) => gone = true,
            }
        }
        let hand_on = |stream: &mut SnapshotStream, full: &mut bool, gone: &mut bool| {
            while !*full && !*gone {
                let Some(piece) = stream.pop_piece() else {
                    return;
                };
                match tx.try_send(Piece::Bytes(piece)) {
                    Ok(()) => {}
                    Err(mpsc::TrySendError::Full(Piece::Bytes(piece))) => {
                        stream.unpop_piece(piece);
                        *full = true;
                    }
                    Err(_) => *gone = true,
                }
            }
        };
        hand_on(stream, &mut full, &mut gone);
        if stream.pending_pieces() < PIECES_IN_FLIGHT && !stream.is_finished() {
            stream.step(tree, max_nodes);
            hand_on(stream, &mut full, &mut gone);
        }
        if !full && !gone && stream.is_finished() && stream.pending_pieces() == 0 {
            match tx.try_send(Piece::End) {
                Ok(()) => self.end_sent = true,
                Err(mpsc::TrySendError::Full(_)) => full = true,
                Err(mpsc::TrySendError::Disconnected(_)) => gone = true,
            }
        }
        self.stalled = full;
        self.longest_slice = self.longest_slice.max(t0.elapsed());
        if gone {
            tracing::error!("the snapshot writer is gone");
            self.current = None;
            self.busy.store(false, Ordering::Release);
            return;
        }
        if self.end_sent {
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

    /// Snapshots now, whole, on the caller (at startup, before serving: no one waits).
    /// Does nothing while a snapshot is being taken in slices.
    pub fn take(&mut self, tree: &DataTree) {
        if self.current.is_some() {
            return;
        }
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

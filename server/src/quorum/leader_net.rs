//! The leader's quorum port: learners connect, and each connection gets a reader thread
//! and a writer thread (Apache's `LearnerHandler`), with blocking I/O and a read timeout.
//!
//! - The reader reads the learner's id from its FOLLOWERINFO/OBSERVERINFO, registers the
//!   connection under it (a reconnecting learner replaces its old connection), and passes
//!   every packet to the core. For an ACKEPOCH it first looks whether this leader's log
//!   holds the learner's last zxid, which decides between DIFF and SNAP.
//! - The writer sends what the core queued for the learner, in order. A sync plan is
//!   carried out in place: DIFF reads the transactions from the log and sends each as
//!   PROPOSAL + COMMIT; SNAP sends the packet, the snapshot and Apache's signature.
//!
//! Nothing a learner sends can panic the leader: packets are bounded by `jute.maxbuffer`,
//! a malformed or unexpected one ends that learner's connection (it reconnects).

use std::collections::HashMap;
use std::io::{BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::core::peer::PeerOut;
use crate::core::{CoreMsg, Input, SyncPlan};
use crate::ids::Zxid;
use crate::storage::txnlog::LogReader;
use crate::txn::apache;

use super::queue_stats::QueueStats;
use super::stream::{read_packet, write_packet};
use super::wire::packet::{LearnerInfo, PacketType, QuorumPacket};
use super::wire::snap;

/// What a learner connection's writer does next.
enum ToWriter {
    Packet(QuorumPacket),
    Sync(SyncPlan),
    Close,
}

struct Route {
    conn: u64,
    tx: std_mpsc::Sender<(ToWriter, Instant)>,
    /// Items queued for the writer and not yet taken.
    queued: Arc<AtomicUsize>,
    stream: TcpStream,
}

impl Route {
    fn send(&self, what: ToWriter) {
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.tx.send((what, Instant::now())).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The learner connections of one leadership.
#[derive(Clone)]
pub struct Learners {
    inner: Arc<Shared>,
}

struct Shared {
    routes: Mutex<HashMap<u64, Route>>,
    role: u64,
    core: mpsc::UnboundedSender<CoreMsg>,
    log_dir: PathBuf,
    max_buffer: usize,
    read_timeout: Duration,
    next_conn: std::sync::atomic::AtomicU64,
    stats: Arc<QueueStats>,
}

impl Learners {
    pub fn new(
        role: u64,
        core: mpsc::UnboundedSender<CoreMsg>,
        log_dir: PathBuf,
        max_buffer: usize,
        read_timeout: Duration,
    ) -> Learners {
        Learners {
            inner: Arc::new(Shared {
                routes: Mutex::new(HashMap::new()),
                role,
                core,
                log_dir,
                max_buffer,
                read_timeout,
                next_conn: std::sync::atomic::AtomicU64::new(1),
                stats: Arc::new(QueueStats::default()),
            }),
        }
    }

    /// The send queues' figures for `mntr`.
    pub fn queue_metrics(&self) -> Vec<(String, crate::fourlw::MetricValue)> {
        self.inner.stats.metrics()
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Route>> {
        // A thread that panicked while holding the lock left the map as it was: keep going.
        self.inner
            .routes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a new learner connection: its threads run until it ends.
    pub fn accept(&self, stream: TcpStream) {
        let this = self.clone();
        let spawned = std::thread::Builder::new()
            .name("learner-reader".into())
            .spawn(move || this.serve(stream));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a learner handler thread");
        }
    }

    /// Carries out what the core asks for one learner. False once the role has ended.
    pub fn dispatch(&self, out: PeerOut) -> Option<PeerOut> {
        match out {
            PeerOut::ToLearner { sid, pkt } => self.send(sid, ToWriter::Packet(pkt)),
            PeerOut::SyncLearner { sid, plan } => self.send(sid, ToWriter::Sync(plan)),
            PeerOut::DropLearner { sid } => {
                if let Some(r) = self.routes().remove(&sid) {
                    r.send(ToWriter::Close);
                    let _ = r.stream.shutdown(Shutdown::Both);
                }
            }
            other => return Some(other),
        }
        None
    }

    fn send(&self, sid: u64, what: ToWriter) {
        if let Some(r) = self.routes().get(&sid) {
            r.send(what);
        }
    }

    /// Closes every learner connection (the leadership ended).
    pub fn close_all(&self) {
        for (_, r) in self.routes().drain() {
            r.send(ToWriter::Close);
            let _ = r.stream.shutdown(Shutdown::Both);
        }
    }

    fn to_core(&self, input: Input) -> bool {
        self.inner
            .core
            .send(CoreMsg::RoleInput {
                role: self.inner.role,
                input,
            })
            .is_ok()
    }

    fn serve(&self, stream: TcpStream) {
        let peer = stream
            .peer_addr()
            .map_or_else(|_| "?".to_string(), |a| a.to_string());
        if let Err(e) = self.serve_inner(stream) {
            tracing::info!(%peer, reason = %e, "learner connection ended");
        }
    }

    fn serve_inner(&self, stream: TcpStream) -> std::io::Result<()> {
        let s = &self.inner;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(s.read_timeout))?;
        let mut reader = BufReader::with_capacity(1 << 16, stream.try_clone()?);
        let first = read_packet(&mut reader, s.max_buffer)?;
        if first.kind != PacketType::FOLLOWERINFO && first.kind != PacketType::OBSERVERINFO {
            return Err(std::io::Error::other(format!(
                "first packet {:?} is not FOLLOWERINFO or OBSERVERINFO",
                first.kind
            )));
        }
        let Some(sid) = LearnerInfo::decode_fields(first.data.as_deref())
            .server_id
            .filter(|&id| id > 0)
        else {
            return Err(std::io::Error::other("a learner without a valid server id"));
        };
        let sid = sid as u64;
        let conn = s
            .next_conn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (tx, rx) = std_mpsc::channel();
        let writer_stream = stream.try_clone()?;
        let queued = Arc::new(AtomicUsize::new(0));
        let queue = WriterQueue {
            sid,
            rx,
            queued: queued.clone(),
            stats: s.stats.clone(),
        };
        let log_dir = s.log_dir.clone();
        std::thread::Builder::new()
            .name("learner-writer".into())
            .spawn(move || write_loop(writer_stream, queue, &log_dir))?;
        let old = self.routes().insert(
            sid,
            Route {
                conn,
                tx,
                queued,
                stream: stream.try_clone()?,
            },
        );
        if let Some(old) = old {
            old.send(ToWriter::Close);
            let _ = old.stream.shutdown(Shutdown::Both);
        }
        let result = self.read_loop(sid, conn, first, &mut reader);
        // Gone: unregister (unless a newer connection of the same learner took over).
        {
            let mut routes = self.routes();
            if routes.get(&sid).is_some_and(|r| r.conn == conn) {
                if let Some(r) = routes.remove(&sid) {
                    r.send(ToWriter::Close);
                }
            }
        }
        let _ = stream.shutdown(Shutdown::Both);
        self.to_core(Input::LearnerGone { sid, conn });
        result
    }

    fn read_loop(
        &self,
        sid: u64,
        conn: u64,
        first: QuorumPacket,
        reader: &mut BufReader<TcpStream>,
    ) -> std::io::Result<()> {
        let s = &self.inner;
        let mut pkt = first;
        loop {
            let diff_possible = pkt.kind == PacketType::ACKEPOCH && log_holds(&s.log_dir, pkt.zxid);
            if !self.to_core(Input::FromLearner {
                sid,
                conn,
                pkt,
                diff_possible,
            }) {
                return Ok(());
            }
            pkt = read_packet(reader, s.max_buffer)?;
        }
    }
}

/// Whether this leader's log holds the transaction `zxid` (so a learner that has it can
/// be brought up to date with a DIFF). A zxid at an epoch's start names no transaction.
fn log_holds(dir: &std::path::Path, zxid: i64) -> bool {
    let z = Zxid::from_raw(zxid);
    if z.counter() == 0 {
        return false;
    }
    match LogReader::open(dir, zxid - 1) {
        Ok(mut r) => matches!(r.next(), Some(Ok((hdr, _))) if hdr.zxid == zxid),
        Err(_) => false,
    }
}

/// A writer's end of its queue, and where it reports what it takes.
struct WriterQueue {
    sid: u64,
    rx: std_mpsc::Receiver<(ToWriter, Instant)>,
    queued: Arc<AtomicUsize>,
    stats: Arc<QueueStats>,
}

impl WriterQueue {
    fn took(&self, item: (ToWriter, Instant)) -> ToWriter {
        let left = self
            .queued
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        self.stats.took(self.sid, left, item.1.elapsed());
        item.0
    }
}

fn write_loop(stream: TcpStream, queue: WriterQueue, log_dir: &std::path::Path) {
    let mut w = BufWriter::with_capacity(1 << 16, stream);
    let result = (|| -> std::io::Result<()> {
        while let Ok(first) = queue.rx.recv() {
            let mut next = Some(queue.took(first));
            // Everything queued now goes out with one flush.
            while let Some(item) = next {
                match item {
                    ToWriter::Packet(p) => write_packet(&mut w, &p)?,
                    ToWriter::Sync(plan) => write_sync(&mut w, plan, log_dir)?,
                    ToWriter::Close => {
                        w.flush()?;
                        return Ok(());
                    }
                }
                next = queue.rx.try_recv().ok().map(|i| queue.took(i));
            }
            w.flush()?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        tracing::debug!(error = %e, "learner writer stopped");
    }
    if let Ok(s) = w.into_inner() {
        let _ = s.shutdown(Shutdown::Both);
    }
}

fn write_sync(
    w: &mut impl Write,
    plan: SyncPlan,
    log_dir: &std::path::Path,
) -> std::io::Result<()> {
    match plan {
        SyncPlan::Diff { after, through } => {
            write_packet(w, &QuorumPacket::new(PacketType::DIFF, through.raw(), None))?;
            if after >= through {
                return Ok(());
            }
            let reader = LogReader::open(log_dir, after.raw())
                .map_err(|e| std::io::Error::other(format!("reading the log for a DIFF: {e}")))?;
            let mut last = after;
            for item in reader {
                let (hdr, txn) =
                    item.map_err(|e| std::io::Error::other(format!("reading the log: {e}")))?;
                if hdr.zxid > through.raw() {
                    break;
                }
                let bytes = apache::encode(&hdr, &txn, None)
                    .map_err(|e| std::io::Error::other(format!("encoding a txn: {e}")))?;
                write_packet(
                    w,
                    &QuorumPacket::new(PacketType::PROPOSAL, hdr.zxid, Some(bytes)),
                )?;
                write_packet(w, &QuorumPacket::new(PacketType::COMMIT, hdr.zxid, None))?;
                last = Zxid::from_raw(hdr.zxid);
            }
            if last < through {
                // The learner would miss transactions: end its connection, it reconnects
                // and the next attempt decides again.
                return Err(std::io::Error::other(format!(
                    "the log ends at {last} before {through}"
                )));
            }
            Ok(())
        }
        SyncPlan::Trunc { to } => {
            write_packet(w, &QuorumPacket::new(PacketType::TRUNC, to.raw(), None))
        }
        SyncPlan::Snap { zxid, tree } => {
            write_packet(w, &QuorumPacket::new(PacketType::SNAP, zxid.raw(), None))?;
            snap::write_snap(&tree, w)?;
            snap::write_signature(w)
        }
    }
}

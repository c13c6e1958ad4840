//! A learner's way into the ensemble, as Apache's `Learner.registerWithLeader` and
//! `syncWithLeader`: connect to the leader's quorum port, agree on the epoch, take the sync
//! (DIFF, TRUNC or SNAP, then the proposals and commits that follow), persist it at
//! NEWLEADER, and start serving at UPTODATE.
//!
//! This runs before the member's core exists, on a blocking thread that owns the tree and
//! the log directly, as Apache's learner owns its database while it syncs. What arrives
//! after NEWLEADER is persisted before the UPTODATE ACK and acknowledged once the core
//! runs (the behaviour of Apache 3.8.5+ learners, which every Apache leader accepts).

use std::collections::VecDeque;
use std::io::{BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::core::reconfig;
use crate::ids::Zxid;
use crate::storage::epoch::{self, Epochs};
use crate::storage::recovery::recover;
use crate::storage::snapshot;
use crate::storage::truncate::truncate_after;
use crate::storage::txnlog::{list_segments, FileTxnLog};
use crate::storage::writer::{LogEntry, TxnLog};
use crate::storage::DataDirs;
use crate::tree::DataTree;
use crate::txn::apache;

use super::config_files::ConfigFiles;
use super::stream::{read_packet, write_packet};
use super::verifier::QuorumVerifier;
use super::wire::packet::{ack_epoch, LearnerInfo, PacketType, QuorumPacket};
use super::wire::snap;

#[derive(Debug, Error)]
pub enum LearnerError {
    #[error("cannot reach the leader at {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("talking to the leader: {0}")]
    Io(#[from] std::io::Error),
    #[error("the leader proposed epoch {proposed}, older than the epoch {accepted} this member accepted")]
    EpochBehind { proposed: u32, accepted: u64 },
    #[error("the leader broke the protocol: {0}")]
    Protocol(String),
    #[error("storage: {0}")]
    Storage(String),
}

/// Who this learner is and whom it follows.
#[derive(Debug, Clone)]
pub struct LearnerSetup {
    pub me: u64,
    pub observer: bool,
    /// The leader's quorum address, `host:port`.
    pub leader_addr: String,
    pub dirs: DataDirs,
    pub tick: Duration,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub max_buffer: usize,
    pub force_sync: bool,
    pub segment_limit: u64,
    /// This member's `QuorumVerifier.toString()`: what it keeps in `/zookeeper/config`,
    /// and its version (the node's mzxid, as Apache writes it).
    pub config_string: Vec<u8>,
    pub config_version: i64,
    /// With reconfig on, where a configuration proposed during the sync is kept
    /// (`zoo.cfg.dynamic.next`) before the transactions are acknowledged.
    pub config_files: Option<ConfigFiles>,
}

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A learner that took its sync: what the core starts from, and the connection.
pub struct Synced {
    pub tree: DataTree,
    pub epoch: u32,
    /// Logged durably, not yet committed, in zxid order.
    pub uncommitted: Vec<LogEntry>,
    /// The configuration NEWLEADER carried (the leader's last seen, `QuorumVerifier`'s
    /// string), or a newer one a reconfig committed during the sync
    /// (COMMITANDACTIVATE, INFORMANDACTIVATE), for the member to take at UPTODATE when it
    /// is newer than its own.
    pub newleader_config: Option<Vec<u8>>,
    pub reader: BufReader<TcpStream>,
    pub writer: TcpStream,
}

/// The first pause between attempts to reach the leader, doubled up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(5);
const RETRY_MAX: Duration = Duration::from_millis(100);

/// Connects to the leader, retrying for `initLimit` ticks (the leader may still be
/// starting its port). After an election this member usually decides at about the time
/// the leader does, and a zkrs leader listens within milliseconds of its decision, so
/// the first retries come quickly; an Apache leader still in its 200 ms finalize wait is
/// reached within one `RETRY_MAX` of opening its port. A refused connection on a
/// reachable host costs next to nothing.
fn connect(setup: &LearnerSetup) -> Result<TcpStream, LearnerError> {
    let deadline = Instant::now() + setup.tick * setup.init_limit.max(1);
    let err = |source| LearnerError::Connect {
        addr: setup.leader_addr.clone(),
        source,
    };
    let mut pause = RETRY_FIRST;
    loop {
        let addrs: Vec<SocketAddr> = setup.leader_addr.to_socket_addrs().map_err(err)?.collect();
        let mut last = std::io::Error::other("no address");
        for a in addrs {
            match TcpStream::connect_timeout(&a, Duration::from_secs(5)) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        if Instant::now() >= deadline {
            return Err(err(last));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(RETRY_MAX);
    }
}

fn storage<E: std::fmt::Display>(e: E) -> LearnerError {
    LearnerError::Storage(e.to_string())
}

/// Registers with the leader and takes its sync. `tree` is this member's state loaded
/// from disk (everything logged), `epochs` its epoch files.
#[cfg(test)]
pub fn sync_with_leader(
    setup: &LearnerSetup,
    tree: DataTree,
    epochs: Epochs,
) -> Result<Synced, LearnerError> {
    sync_with_leader_reporting(setup, tree, epochs, &|_| {})
}

/// [`sync_with_leader`], telling `report_mode` how the leader brings this member up to
/// date (`"diff"`, `"trunc"`, `"snap"`) as soon as it knows (`zk_peer_state`).
pub fn sync_with_leader_reporting(
    setup: &LearnerSetup,
    mut tree: DataTree,
    epochs: Epochs,
    report_mode: &(dyn Fn(&'static str) + Sync),
) -> Result<Synced, LearnerError> {
    let stream = connect(setup)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(setup.tick * setup.init_limit.max(1)))?;
    let mut reader = BufReader::with_capacity(1 << 16, stream.try_clone()?);
    let mut writer = BufWriter::new(stream.try_clone()?);

    // Discovery: our accepted epoch and id; the leader answers with the new epoch.
    let info = LearnerInfo::new(setup.me as i64, 0).encode();
    let kind = if setup.observer {
        PacketType::OBSERVERINFO
    } else {
        PacketType::FOLLOWERINFO
    };
    let accepted = Zxid::new(epochs.accepted as u32, 0).raw();
    write_packet(&mut writer, &QuorumPacket::new(kind, accepted, Some(info)))?;
    writer.flush()?;
    let leader_info = read_packet(&mut reader, setup.max_buffer)?;
    if leader_info.kind != PacketType::LEADERINFO {
        return Err(LearnerError::Protocol(format!(
            "expected LEADERINFO, got {:?}",
            leader_info.kind
        )));
    }
    let new_epoch = Zxid::from_raw(leader_info.zxid).epoch();
    let my_last = tree.last_zxid();
    let current_for_ack = if u64::from(new_epoch) > epochs.accepted {
        epoch::write_accepted(&setup.dirs.snap_dir, u64::from(new_epoch)).map_err(storage)?;
        epochs.current as i32
    } else if u64::from(new_epoch) == epochs.accepted {
        -1
    } else {
        return Err(LearnerError::EpochBehind {
            proposed: new_epoch,
            accepted: epochs.accepted,
        });
    };
    write_packet(&mut writer, &ack_epoch(my_last, current_for_ack))?;
    writer.flush()?;

    let mut sync = SyncState {
        setup,
        mode: "diff",
        snapped: false,
        uncommitted: VecDeque::new(),
        unlogged: Vec::new(),
        log: None,
    };
    let mut newleader_config = None;
    // The configuration of a reconfig that committed during the sync (Apache's learner
    // processes it at once; this one takes it with NEWLEADER's at UPTODATE).
    let mut committed_config: Option<QuorumVerifier> = None;
    loop {
        let pkt = read_packet(&mut reader, setup.max_buffer)?;
        match pkt.kind {
            PacketType::DIFF => {
                sync.mode = "diff";
                report_mode(sync.mode);
            }
            PacketType::TRUNC => {
                sync.mode = "trunc";
                report_mode(sync.mode);
                tracing::info!(to = %Zxid::from_raw(pkt.zxid), "truncating the log as the leader says");
                truncate_after(&setup.dirs, pkt.zxid).map_err(storage)?;
                tree = recover(&setup.dirs).map_err(storage)?.0;
                tree.set_config(&setup.config_string, setup.config_version, wall_ms());
            }
            PacketType::SNAP => {
                sync.mode = "snap";
                report_mode(sync.mode);
                tree = snap::read_snap(&mut reader, pkt.zxid, setup.max_buffer)
                    .map_err(|e| LearnerError::Protocol(format!("bad snapshot: {e}")))?;
                snap::read_signature(&mut reader)
                    .map_err(|e| LearnerError::Protocol(format!("bad snapshot signature: {e}")))?;
                // The leader's copy of `/zookeeper/config` is the leader's: keep our own,
                // as Apache's learner does (ZOOKEEPER-2819).
                tree.set_config(&setup.config_string, setup.config_version, wall_ms());
                sync.snapped = true;
                tracing::info!(zxid = %Zxid::from_raw(pkt.zxid), nodes = tree.node_count(), "snapshot received from the leader");
            }
            PacketType::PROPOSAL => {
                let entry = decode(pkt.data.as_deref())?;
                if let Some(qv) = reconfig::committed_config(&entry) {
                    keep_proposed(setup, &qv)?;
                }
                let last = sync
                    .uncommitted
                    .back()
                    .map_or(tree.last_zxid(), |e: &LogEntry| e.hdr.zxid);
                if entry.hdr.zxid > last {
                    sync.uncommitted.push_back(entry.clone());
                    sync.unlogged.push(entry);
                }
            }
            // A reconfig's commit names the leader under the new configuration first;
            // during the sync only its configuration matters.
            PacketType::COMMIT | PacketType::COMMITANDACTIVATE => {
                let head = sync.uncommitted.front().map(|e| e.hdr.zxid);
                if head == Some(pkt.zxid) {
                    if let Some(e) = sync.uncommitted.pop_front() {
                        if pkt.kind == PacketType::COMMITANDACTIVATE {
                            committed_config = reconfig::committed_config(&e).or(committed_config);
                        }
                        let mut triggers = Vec::new();
                        tree.apply(&e.hdr, &e.txn, &mut triggers);
                    }
                } else if pkt.zxid > tree.last_zxid() {
                    return Err(LearnerError::Protocol(format!(
                        "COMMIT {} without its proposal",
                        Zxid::from_raw(pkt.zxid)
                    )));
                }
            }
            PacketType::INFORM | PacketType::INFORMANDACTIVATE => {
                let data = pkt.data.as_deref().unwrap_or_default();
                let data = if pkt.kind == PacketType::INFORMANDACTIVATE {
                    reconfig::split_activate(data)
                        .ok_or_else(|| {
                            LearnerError::Protocol("INFORMANDACTIVATE without a leader id".into())
                        })?
                        .1
                } else {
                    data
                };
                let entry = decode(Some(data))?;
                if entry.hdr.zxid > tree.last_zxid() {
                    if pkt.kind == PacketType::INFORMANDACTIVATE {
                        committed_config = reconfig::committed_config(&entry).or(committed_config);
                    }
                    let mut triggers = Vec::new();
                    tree.apply(&entry.hdr, &entry.txn, &mut triggers);
                    sync.unlogged.push(entry);
                }
            }
            PacketType::NEWLEADER => {
                newleader_config = pkt.data.clone().filter(|d| d.len() > 1);
                if let Some(qv) = newleader_config
                    .as_deref()
                    .and_then(|d| QuorumVerifier::parse(&String::from_utf8_lossy(d)).ok())
                {
                    keep_proposed(setup, &qv)?;
                }
                // The sync may hold transactions of the new epoch: announce the epoch
                // first, so that a crash before `currentEpoch` is written still restarts.
                epoch::prepare_current(&setup.dirs.snap_dir, u64::from(new_epoch))
                    .map_err(storage)?;
                sync.persist(&tree)?;
                epoch::write_current(&setup.dirs.snap_dir, u64::from(new_epoch))
                    .map_err(storage)?;
                write_packet(
                    &mut writer,
                    &QuorumPacket::new(PacketType::ACK, pkt.zxid, None),
                )?;
                writer.flush()?;
            }
            PacketType::UPTODATE => {
                sync.persist(&tree)?;
                write_packet(
                    &mut writer,
                    &QuorumPacket::new(PacketType::ACK, Zxid::new(new_epoch, 0).raw(), None),
                )?;
                writer.flush()?;
                let stream = writer.into_inner().map_err(|e| e.into_error())?;
                stream.set_read_timeout(Some(setup.tick * setup.sync_limit.max(1)))?;
                tracing::info!(
                    epoch = new_epoch,
                    zxid = %Zxid::from_raw(tree.last_zxid()),
                    mode = sync.mode,
                    "synced with the leader: serving"
                );
                let newleader_config = newer_config(newleader_config, committed_config);
                return Ok(Synced {
                    tree,
                    epoch: new_epoch,
                    uncommitted: sync.uncommitted.into_iter().collect(),
                    newleader_config,
                    reader,
                    writer: stream,
                });
            }
            // Apache's learner ignores pings while it syncs.
            PacketType::PING => {}
            other => {
                tracing::warn!(packet = ?other, "unexpected packet during sync ignored");
            }
        }
    }
}

/// A configuration seen during the sync (a reconfig's proposal, NEWLEADER's) newer than
/// this member's is kept as its last seen before anything is acknowledged, as Apache's
/// learner does: once this member acknowledges the transactions (or NEWLEADER), it may be
/// committed, and a member restarted without it would lead under the old configuration
/// with a log that says otherwise.
fn keep_proposed(setup: &LearnerSetup, qv: &QuorumVerifier) -> Result<(), LearnerError> {
    match &setup.config_files {
        Some(files) if qv.version > setup.config_version => {
            files.write_proposed(qv).map_err(storage)
        }
        _ => Ok(()),
    }
}

/// NEWLEADER's configuration, or the one committed during the sync when it is newer.
fn newer_config(newleader: Option<Vec<u8>>, committed: Option<QuorumVerifier>) -> Option<Vec<u8>> {
    let version = |d: &[u8]| {
        QuorumVerifier::parse(&String::from_utf8_lossy(d)).map_or(i64::MIN, |q| q.version)
    };
    match committed {
        Some(qv) if newleader.as_deref().is_none_or(|d| qv.version > version(d)) => {
            Some(qv.to_string().into_bytes())
        }
        _ => newleader,
    }
}

fn decode(data: Option<&[u8]>) -> Result<LogEntry, LearnerError> {
    let t = apache::decode(data.unwrap_or_default())
        .map_err(|e| LearnerError::Protocol(format!("a transaction that does not decode: {e}")))?;
    Ok(LogEntry {
        hdr: t.header,
        txn: Arc::new(t.txn),
    })
}

struct SyncState<'a> {
    setup: &'a LearnerSetup,
    mode: &'static str,
    /// A SNAP replaced the tree: the old log and snapshots are another history.
    snapped: bool,
    uncommitted: VecDeque<LogEntry>,
    /// Received (committed or not) and not yet in the log, in zxid order.
    unlogged: Vec<LogEntry>,
    log: Option<FileTxnLog>,
}

impl SyncState<'_> {
    /// Makes the sync durable: after a SNAP, the snapshot replaces the old history on disk;
    /// then every transaction received so far goes to the log, with one fsync.
    fn persist(&mut self, tree: &DataTree) -> Result<(), LearnerError> {
        let dirs = &self.setup.dirs;
        if std::mem::take(&mut self.snapped) {
            for (_, path) in list_segments(&dirs.log_dir).map_err(storage)? {
                std::fs::remove_file(&path).map_err(storage)?;
            }
            for (_, path) in snapshot::list_snapshots(&dirs.snap_dir).map_err(storage)? {
                std::fs::remove_file(&path).map_err(storage)?;
            }
            // The snapshot holds what was applied (the SNAP and the commits since); the
            // proposals not yet committed go to the log below.
            let bytes = snapshot::serialize(tree);
            snapshot::write(&dirs.snap_dir, tree.last_zxid(), &bytes).map_err(storage)?;
            self.unlogged.retain(|e| e.hdr.zxid > tree.last_zxid());
        }
        if self.unlogged.is_empty() {
            return Ok(());
        }
        let log = self.log.get_or_insert_with(|| {
            FileTxnLog::new(
                dirs.log_dir.clone(),
                self.setup.segment_limit,
                self.setup.force_sync,
            )
        });
        let entries = std::mem::take(&mut self.unlogged);
        log.append(&entries).map_err(storage)?;
        log.sync().map_err(storage)?;
        Ok(())
    }
}

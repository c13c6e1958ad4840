//! A learner taking its sync, as `quorum::learner::sync_with_leader` does it (that code is
//! blocking I/O, so the simulation plays it): LEADERINFO → ACKEPOCH, then DIFF (as
//! PROPOSAL + COMMIT pairs), TRUNC or SNAP, the proposals and commits that follow,
//! NEWLEADER (persist, write `currentEpoch`, ACK) and UPTODATE (persist, ACK, serve); a
//! reconfig that commits during the sync (COMMITANDACTIVATE, INFORMANDACTIVATE) is taken
//! as a COMMIT or INFORM, its configuration with NEWLEADER's at UPTODATE.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::ids::Zxid;
use crate::quorum::election::Sid;
use crate::quorum::wire::packet::{ack_epoch, PacketType, QuorumPacket, DEFAULT_MAX_BUFFER};
use crate::quorum::wire::snap;
use crate::storage::writer::LogEntry;
use crate::tree::DataTree;
use crate::txn::apache;

use crate::quorum::verifier::QuorumVerifier;

use super::super::reconfig::{committed_config, split_activate};
use super::disk::Disk;

/// What travels from the leader to a learner, in order (one TCP connection).
pub(super) enum Down {
    Pkt(QuorumPacket),
    /// SNAP: the packet, then the tree in Apache's stream. `hist` is the leader's history
    /// through `zxid` (what the tree holds), for the invariants only.
    Snap {
        zxid: i64,
        tree: Arc<DataTree>,
        hist: Vec<LogEntry>,
    },
}

pub(super) struct Learning {
    pub leader: Sid,
    pub observer: bool,
    /// When this member started looking for its leader (connect and read timeouts).
    pub since: u64,
    pub conn: Option<u64>,
    pub last_heard: u64,
    pub tree: DataTree,
    /// The transactions `tree` holds.
    pub hist: Vec<LogEntry>,
    pub epoch: Option<u32>,
    snapped: bool,
    pub uncommitted: VecDeque<LogEntry>,
    unlogged: Vec<LogEntry>,
    /// What this member shows in `/zookeeper/config` (reconfig on): after a SNAP or a
    /// TRUNC it keeps its own, as `quorum::learner` does.
    pub own_config: Option<(Vec<u8>, i64)>,
    /// The configuration NEWLEADER carried.
    pub newleader_config: Option<Vec<u8>>,
    /// The configuration of a reconfig that committed during the sync.
    pub committed_config: Option<QuorumVerifier>,
}

/// What a packet did to the sync.
pub(super) struct Took {
    /// Packets to the leader.
    pub up: Vec<QuorumPacket>,
    /// UPTODATE came: the member follows now.
    pub synced: bool,
    /// The member crashed right after persisting the sync at NEWLEADER, before it wrote
    /// `currentEpoch` (what `quorum::learner` does in two steps).
    pub crashed: bool,
}

fn decode(p: &QuorumPacket) -> Result<LogEntry, String> {
    let t = apache::decode(p.data.as_deref().unwrap_or_default())
        .map_err(|e| format!("a transaction that does not decode: {e}"))?;
    Ok(LogEntry {
        hdr: t.header,
        txn: Arc::new(t.txn),
    })
}

impl Learning {
    pub fn new(
        leader: Sid,
        observer: bool,
        now: u64,
        tree: DataTree,
        hist: Vec<LogEntry>,
    ) -> Learning {
        Learning {
            leader,
            observer,
            since: now,
            conn: None,
            last_heard: now,
            tree,
            hist,
            epoch: None,
            snapped: false,
            uncommitted: VecDeque::new(),
            unlogged: Vec::new(),
            own_config: None,
            newleader_config: None,
            committed_config: None,
        }
    }

    /// Takes one message from the leader. `disk_fails` makes a persist fail (the fsync of
    /// the sync's transactions), which ends the sync as an I/O error would.
    pub fn take(
        &mut self,
        disk: &mut Disk,
        msg: Down,
        disk_fails: bool,
        crash_after_persist: bool,
    ) -> Result<Took, String> {
        let mut up = Vec::new();
        let mut crashed = false;
        let pkt = match msg {
            Down::Snap { zxid, tree, hist } => {
                // Through Apache's stream and back, as the real learner reads it.
                let mut body = Vec::new();
                snap::write_snap(&tree, &mut body).map_err(|e| e.to_string())?;
                self.tree = snap::read_snap(&mut &body[..], zxid, DEFAULT_MAX_BUFFER)
                    .map_err(|e| format!("bad snapshot: {e}"))?;
                self.show_own_config();
                self.hist = hist;
                self.snapped = true;
                return Ok(Took {
                    up,
                    synced: false,
                    crashed,
                });
            }
            Down::Pkt(p) => p,
        };
        let Some(epoch) = self.epoch else {
            if pkt.kind != PacketType::LEADERINFO {
                return Err(format!("expected LEADERINFO, got {:?}", pkt.kind));
            }
            let e = Zxid::from_raw(pkt.zxid).epoch();
            let current = if e > disk.accepted {
                if disk_fails {
                    return Err("cannot write acceptedEpoch".into());
                }
                disk.accepted = e;
                disk.current as i32
            } else if e == disk.accepted {
                -1
            } else {
                return Err(format!("epoch {e} older than accepted {}", disk.accepted));
            };
            self.epoch = Some(e);
            up.push(ack_epoch(self.tree.last_zxid(), current));
            return Ok(Took {
                up,
                synced: false,
                crashed,
            });
        };
        match pkt.kind {
            PacketType::DIFF | PacketType::PING => {}
            PacketType::TRUNC => {
                disk.truncate_after(pkt.zxid)?;
                self.tree = disk.load();
                self.show_own_config();
                self.hist = disk.history();
            }
            PacketType::PROPOSAL => {
                let e = decode(&pkt)?;
                if let Some(qv) = committed_config(&e) {
                    self.keep_proposed(disk, qv);
                }
                let last = self
                    .uncommitted
                    .back()
                    .map_or(self.tree.last_zxid(), |e| e.hdr.zxid);
                if e.hdr.zxid > last {
                    self.uncommitted.push_back(e.clone());
                    self.unlogged.push(e);
                }
            }
            PacketType::COMMIT | PacketType::COMMITANDACTIVATE => {
                if self.uncommitted.front().map(|e| e.hdr.zxid) == Some(pkt.zxid) {
                    if let Some(e) = self.uncommitted.pop_front() {
                        if pkt.kind == PacketType::COMMITANDACTIVATE {
                            self.committed_config =
                                committed_config(&e).or(self.committed_config.take());
                        }
                        self.tree.apply(&e.hdr, &e.txn, &mut Vec::new());
                        self.hist.push(e);
                    }
                } else if pkt.zxid > self.tree.last_zxid() {
                    return Err(format!("COMMIT {:#x} without its proposal", pkt.zxid));
                }
            }
            PacketType::INFORM | PacketType::INFORMANDACTIVATE => {
                let mut pkt = pkt;
                if pkt.kind == PacketType::INFORMANDACTIVATE {
                    let data = pkt.data.take().unwrap_or_default();
                    let (_, txn) =
                        split_activate(&data).ok_or("INFORMANDACTIVATE without a leader id")?;
                    pkt.data = Some(txn.to_vec());
                }
                let e = decode(&pkt)?;
                if e.hdr.zxid > self.tree.last_zxid() {
                    if pkt.kind == PacketType::INFORMANDACTIVATE {
                        self.committed_config =
                            committed_config(&e).or(self.committed_config.take());
                    }
                    self.tree.apply(&e.hdr, &e.txn, &mut Vec::new());
                    self.hist.push(e.clone());
                    self.unlogged.push(e);
                }
            }
            PacketType::NEWLEADER => {
                self.newleader_config = pkt.data.clone().filter(|d| d.len() > 1);
                if let Some(qv) = self
                    .newleader_config
                    .as_deref()
                    .and_then(|d| QuorumVerifier::parse(&String::from_utf8_lossy(d)).ok())
                {
                    self.keep_proposed(disk, qv);
                }
                disk.current_tmp = Some(epoch);
                self.persist(disk, disk_fails)?;
                if crash_after_persist {
                    crashed = true;
                } else {
                    // The rename: the tmp file becomes currentEpoch.
                    disk.current = epoch;
                    disk.current_tmp = None;
                    up.push(QuorumPacket::new(PacketType::ACK, pkt.zxid, None));
                }
            }
            PacketType::UPTODATE => {
                self.persist(disk, disk_fails)?;
                up.push(QuorumPacket::new(
                    PacketType::ACK,
                    Zxid::new(epoch, 0).raw(),
                    None,
                ));
                return Ok(Took {
                    up,
                    synced: true,
                    crashed,
                });
            }
            // Ignored during the sync, as the real learner does.
            _ => {}
        }
        Ok(Took {
            up,
            synced: false,
            crashed,
        })
    }

    /// A configuration newer than this member's, seen in the sync, goes to its disk as
    /// the proposed one before anything is acknowledged (`quorum::learner`).
    fn keep_proposed(&self, disk: &mut Disk, qv: QuorumVerifier) {
        if self
            .own_config
            .as_ref()
            .is_some_and(|(_, version)| qv.version > *version)
        {
            disk.proposed = Some(qv);
        }
    }

    fn show_own_config(&mut self) {
        if let Some((text, version)) = &self.own_config {
            self.tree.set_config(text, *version, 0);
        }
    }

    /// After a SNAP the snapshot replaces the history on disk; then what was received goes
    /// to the log with one fsync.
    fn persist(&mut self, disk: &mut Disk, fails: bool) -> Result<(), String> {
        if std::mem::take(&mut self.snapped) {
            disk.snap = Some((self.tree.clone(), self.hist.clone()));
            disk.log.clear();
            let last = self.tree.last_zxid();
            self.unlogged.retain(|e| e.hdr.zxid > last);
        }
        if self.unlogged.is_empty() {
            return Ok(());
        }
        if fails {
            return Err("fsync of the sync's transactions failed".into());
        }
        disk.log.append(&mut self.unlogged);
        Ok(())
    }
}

//! The leader: ZAB's discovery, synchronisation and broadcast, as Apache's `Leader` and
//! `LearnerHandler` run them, with the packets the learners' connections carry in and out.
//!
//! 1. **Discovery.** Learners connect and send FOLLOWERINFO (OBSERVERINFO) with their
//!    accepted epoch. Once a quorum of voters (this member included) has, the new epoch is
//!    one more than the highest accepted epoch among them; it is written to
//!    `acceptedEpoch` and sent in LEADERINFO. Learners answer ACKEPOCH with their current
//!    epoch and last zxid; until a quorum has, a learner ahead of this leader is refused.
//! 2. **Synchronisation.** With a quorum of ACKEPOCHs the leader writes `currentEpoch`
//!    and brings each learner up to date: a DIFF from its log, a TRUNC of a tail it lacks,
//!    or a SNAP of its tree; then the proposals in flight and NEWLEADER. When a quorum has
//!    ACKed NEWLEADER, each synced learner gets UPTODATE and the leader serves.
//! 3. **Broadcast.** Proposals go to the voting learners; their ACKs count in the
//!    [`Broadcast`](super::broadcast::Broadcast) seam; commits go out as COMMIT to voters
//!    and INFORM (with the transaction) to observers, in zxid order. Learners forward
//!    their clients' writes (REQUEST), report session activity in PING replies, ask
//!    whether a session is valid (REVALIDATE) and ask for `sync`.
//!
//! Liveness: a learner that sends nothing for `syncLimit` ticks stops counting; a leader
//! without a quorum of such learners (or without a synced quorum `initLimit` ticks after it
//! started) ends its role and goes back to election.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use zkrs_proto::{ErrorCode, OpCode, Reader, Request, Writer};

use crate::acl::AuthInfo;
use crate::ids::Zxid;
use crate::quorum::verifier::QuorumVerifier;
use crate::quorum::wire::packet::{
    decode_int_payload, leader_info, LearnerInfo, PacketType, QuorumPacket,
};
use crate::storage::writer::LogEntry;
use crate::txn::{apache, Txn};

use super::broadcast::{Broadcast, Quorum, ServerId};
use super::peer::{EpochFile, LeaderSetup, Mode, PeerOut, SyncPlan};
use super::reconfig;
use super::{Core, Effect};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// Waiting for a quorum of FOLLOWERINFOs to choose the epoch.
    Discovery,
    /// LEADERINFO sent; waiting for a quorum of ACKEPOCHs.
    EpochAcks,
    /// Learners syncing; waiting for a quorum of NEWLEADER ACKs.
    NewLeaderAcks,
    /// Serving.
    Broadcast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// FOLLOWERINFO received.
    Joined,
    /// LEADERINFO sent.
    EpochSent,
    /// ACKEPOCH received; waiting for the epoch quorum before the sync.
    EpochAcked,
    /// Sync and NEWLEADER queued; waiting for its ACK.
    Syncing,
    /// NEWLEADER ACKed.
    Synced,
}

#[derive(Debug)]
struct Learner {
    conn: u64,
    observer: bool,
    accepted_epoch: u32,
    stage: Stage,
    last_heard: Instant,
    /// From ACKEPOCH: its last zxid and whether this leader's log holds it.
    last_zxid: Zxid,
    diff_possible: bool,
    /// Its ACKEPOCH counts toward the epoch quorum (it was not -1).
    counts_for_epoch: bool,
}

impl Learner {
    /// Whether proposals and commits go to it (from its sync on).
    fn gets_broadcast(&self) -> bool {
        self.stage >= Stage::Syncing
    }
}

#[derive(Debug)]
pub struct Leading {
    setup: LeaderSetup,
    quorum: Quorum,
    phase: Phase,
    started: Instant,
    epoch: Option<u32>,
    learners: BTreeMap<ServerId, Learner>,
    /// Forwarded `sync`s: each answered once everything proposed before it has committed,
    /// on the connection it came from (a learner that reconnected asks again).
    syncs: VecDeque<(Zxid, ServerId, u64)>,
    /// The last zxid proposed (what PING carries).
    last_proposed: Zxid,
    /// Sizes of the proposals' transactions, in bytes: last, smallest, largest (`srvr`'s
    /// `Proposal sizes`, -1 until the first).
    proposal_sizes: (i64, i64, i64),
}

impl Leading {
    pub fn epoch(&self) -> Option<u32> {
        self.epoch
    }

    pub fn is_broadcasting(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    /// `mntr`'s leader figures: learners connected, voting followers and observers
    /// synced, forwarded syncs waiting, time since leading.
    pub fn figures(&self, now: Instant) -> crate::stats::LeaderFigures {
        let synced = |observer: bool| {
            self.learners
                .values()
                .filter(|l| l.observer == observer && l.stage == Stage::Synced)
                .count() as u64
        };
        let non_voting = self
            .learners
            .iter()
            .filter(|(sid, l)| {
                !l.observer && l.stage == Stage::Synced && !self.setup.config.is_voter(**sid)
            })
            .count() as u64;
        crate::stats::LeaderFigures {
            learners: self.learners.len() as u64,
            synced_followers: synced(false),
            synced_non_voting_followers: non_voting,
            synced_observers: synced(true),
            pending_syncs: self.syncs.len() as u64,
            uptime_ms: now.saturating_duration_since(self.started).as_millis() as u64,
            proposal_sizes: self.proposal_sizes,
        }
    }

    pub fn voters(&self) -> usize {
        self.setup.config.voters().len()
    }

    /// The committed configuration, and the last one proposed.
    pub fn configs(&self) -> (&QuorumVerifier, &QuorumVerifier) {
        (&self.setup.config, &self.setup.last_seen)
    }

    /// Whether `ids` make a quorum of the committed configuration and, while a newer one
    /// is proposed, of that one too (Apache's `qvAcksetPairs`).
    fn has_quorums(&self, ids: &BTreeSet<ServerId>) -> bool {
        self.quorum.is_quorum(ids)
            && (self.setup.last_seen.version <= self.setup.config.version
                || self.setup.last_seen.contains_quorum(ids))
    }

    /// The learners that follow (not observers) and have synced, and this leader: who
    /// could acknowledge a new configuration now (`Leader.isQuorumSynced`).
    pub(super) fn synced_members(&self, me: ServerId) -> BTreeSet<ServerId> {
        let mut ids: BTreeSet<ServerId> = self
            .learners
            .iter()
            .filter(|(_, x)| !x.observer && x.stage == Stage::Synced)
            .map(|(&sid, _)| sid)
            .collect();
        ids.insert(me);
        ids
    }
}

/// `long sid, bool valid`: the leader's answer to REVALIDATE.
fn revalidate_answer(session_id: i64, valid: bool) -> QuorumPacket {
    let mut w = Writer::new();
    w.write_i64(session_id);
    w.write_bool(valid);
    QuorumPacket::new(PacketType::REVALIDATE, -1, Some(w.into_inner()))
}

impl Core {
    pub(super) fn start_leading(&mut self, setup: LeaderSetup) {
        let me = self.settings.server_id as ServerId;
        let quorum = Quorum::majority(setup.config.voters());
        tracing::info!(
            me,
            accepted_epoch = setup.accepted_epoch,
            zxid = %Zxid::from_raw(self.tree.last_zxid()),
            "leading: waiting for a quorum of followers"
        );
        self.mode = Mode::Leading(Leading {
            quorum,
            phase: Phase::Discovery,
            started: self.now.mono,
            epoch: None,
            learners: BTreeMap::new(),
            syncs: VecDeque::new(),
            last_proposed: Zxid::from_raw(self.tree.last_zxid()),
            proposal_sizes: (-1, -1, -1),
            setup,
        });
        // A leader alone (an ensemble of one voter plus observers) needs nobody.
        self.try_choose_epoch();
    }

    fn leading(&mut self) -> Option<&mut Leading> {
        match &mut self.mode {
            Mode::Leading(l) => Some(l),
            _ => None,
        }
    }

    fn me(&self) -> ServerId {
        self.settings.server_id as ServerId
    }

    fn send_to_learner(&mut self, sid: ServerId, pkt: QuorumPacket) {
        self.effects
            .push(Effect::Peer(PeerOut::ToLearner { sid, pkt }));
    }

    fn drop_learner(&mut self, sid: ServerId, why: &str) {
        tracing::warn!(sid, reason = why, "dropping learner");
        if let Some(l) = self.leading() {
            l.learners.remove(&sid);
        }
        self.effects
            .push(Effect::Peer(PeerOut::DropLearner { sid }));
    }

    pub(super) fn on_learner_packet(
        &mut self,
        sid: ServerId,
        conn: u64,
        pkt: QuorumPacket,
        diff_possible: bool,
    ) {
        let now = self.now.mono;
        let Some(l) = self.leading() else {
            return;
        };
        if pkt.kind == PacketType::FOLLOWERINFO || pkt.kind == PacketType::OBSERVERINFO {
            self.learner_joined(sid, conn, &pkt);
            return;
        }
        match l.learners.get_mut(&sid) {
            Some(learner) if learner.conn == conn => learner.last_heard = now,
            _ => return,
        }
        match pkt.kind {
            PacketType::ACKEPOCH => self.on_ack_epoch(sid, &pkt, diff_possible),
            PacketType::ACK => self.on_learner_ack(sid, Zxid::from_raw(pkt.zxid)),
            PacketType::REQUEST => self.on_learner_request(sid, &pkt),
            PacketType::PING => self.on_learner_ping(pkt.data.as_deref().unwrap_or_default()),
            PacketType::REVALIDATE => self.on_revalidate(sid, pkt.data.as_deref()),
            other => tracing::warn!(
                sid,
                packet = other.name().unwrap_or("unknown"),
                code = other.0,
                "unexpected packet from a learner ignored"
            ),
        }
    }

    pub(super) fn on_learner_gone(&mut self, sid: ServerId, conn: u64) {
        if let Some(l) = self.leading() {
            if l.learners.get(&sid).is_some_and(|x| x.conn == conn) {
                l.learners.remove(&sid);
                tracing::info!(sid, "learner disconnected");
            }
        }
    }

    fn learner_joined(&mut self, sid: ServerId, conn: u64, pkt: &QuorumPacket) {
        let now = self.now.mono;
        let observer = pkt.kind == PacketType::OBSERVERINFO;
        let info = LearnerInfo::decode_fields(pkt.data.as_deref());
        let accepted_epoch = Zxid::from_raw(pkt.zxid).epoch();
        tracing::info!(
            sid,
            observer,
            accepted_epoch,
            protocol = info.protocol_version.unwrap_or(0),
            "learner connected"
        );
        let Some(l) = self.leading() else {
            return;
        };
        let voter = !observer && l.setup.config.is_voter(sid);
        if !observer && !voter {
            tracing::warn!(
                sid,
                "a follower that is not a voter in our config: it syncs but does not count"
            );
        }
        l.learners.insert(
            sid,
            Learner {
                conn,
                // A follower outside the voters (a joiner) gets proposals and commits
                // like any follower; only its acknowledgements do not count.
                observer,
                accepted_epoch,
                stage: Stage::Joined,
                last_heard: now,
                last_zxid: Zxid::from_raw(0),
                diff_possible: false,
                counts_for_epoch: false,
            },
        );
        match l.epoch {
            Some(epoch) => {
                if let Some(x) = l.learners.get_mut(&sid) {
                    x.stage = Stage::EpochSent;
                }
                self.send_to_learner(sid, leader_info(epoch));
            }
            None => self.try_choose_epoch(),
        }
    }

    /// With a quorum of voters joined, the new epoch is one past the highest accepted.
    fn try_choose_epoch(&mut self) {
        let me = self.me();
        let reconfig_enabled = self.settings.prep.reconfig_enabled;
        let Some(l) = self.leading() else {
            return;
        };
        if l.epoch.is_some() {
            return;
        }
        let mut joined: BTreeSet<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| !x.observer)
            .map(|(&sid, _)| sid)
            .collect();
        joined.insert(me);
        // The committed configuration's quorum, as Apache's `getEpochToPropose`: a voter
        // of a proposed one may be ahead of this leader, and it can join only once the
        // epoch is settled (it is then truncated). NEWLEADER needs both quorums.
        if !l.quorum.is_quorum(&joined) {
            return;
        }
        // Every learner that joined raises the epoch past what it accepted (observers too,
        // as in Apache's `getEpochToPropose`); only voters count toward the quorum.
        let highest = l
            .learners
            .values()
            .map(|x| x.accepted_epoch)
            .chain([l.setup.accepted_epoch])
            .max()
            .unwrap_or(0);
        let epoch = highest + 1;
        l.epoch = Some(epoch);
        l.phase = Phase::EpochAcks;
        let quorum = l.quorum.clone();
        let to_tell: Vec<ServerId> = l.learners.keys().copied().collect();
        for sid in &to_tell {
            if let Some(x) = l.learners.get_mut(sid) {
                x.stage = Stage::EpochSent;
            }
        }
        tracing::info!(epoch, "new epoch chosen with a quorum of followers");
        if reconfig_enabled {
            restamp_initial_config(l, epoch);
        }
        self.broadcast = Broadcast::leading(me, quorum, Zxid::new(epoch, 0));
        self.effects.push(Effect::WriteEpoch {
            file: EpochFile::Accepted,
            epoch,
        });
        for sid in to_tell {
            self.send_to_learner(sid, leader_info(epoch));
        }
        self.try_epoch_quorum();
    }

    fn on_ack_epoch(&mut self, sid: ServerId, pkt: &QuorumPacket, diff_possible: bool) {
        let my_last = Zxid::from_raw(self.tree.last_zxid());
        let Some(l) = self.leading() else {
            return;
        };
        let my_current = l.setup.current_epoch;
        let Ok(current) = decode_int_payload(pkt.data.as_deref()) else {
            self.drop_learner(sid, "ACKEPOCH without its epoch");
            return;
        };
        let last = Zxid::from_raw(pkt.zxid);
        // Only while the epoch is being chosen (Apache's `waitForEpochAck` until
        // `electionFinished`): a learner ahead of this leader then means the leader may
        // lack committed transactions. Once a quorum acknowledged the epoch, the leader has
        // every committed transaction, so what a late learner has beyond it was never
        // committed and the sync truncates it (TRUNC), as Apache's `syncFollower` does; a
        // member that led before a reconfig handed leadership over is such a learner.
        if current != -1 && l.phase < Phase::NewLeaderAcks {
            let ahead = (current as i64, last) > (my_current as i64, my_last);
            if ahead {
                self.drop_learner(sid, "learner is ahead of this leader");
                return;
            }
        }
        let Some(x) = l.learners.get_mut(&sid) else {
            return;
        };
        if x.stage != Stage::EpochSent {
            self.drop_learner(sid, "ACKEPOCH out of turn");
            return;
        }
        x.stage = Stage::EpochAcked;
        x.last_zxid = last;
        x.diff_possible = diff_possible;
        x.counts_for_epoch = current != -1;
        if l.phase >= Phase::NewLeaderAcks {
            self.start_sync(sid);
        } else {
            self.try_epoch_quorum();
        }
    }

    fn try_epoch_quorum(&mut self) {
        let me = self.me();
        let Some(l) = self.leading() else {
            return;
        };
        let (Phase::EpochAcks, Some(epoch)) = (l.phase, l.epoch) else {
            return;
        };
        let mut acked: BTreeSet<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| !x.observer && x.stage == Stage::EpochAcked && x.counts_for_epoch)
            .map(|(&sid, _)| sid)
            .collect();
        acked.insert(me);
        // The committed configuration's quorum (Apache's `waitForEpochAck`), for the
        // reason `try_choose_epoch` gives.
        if !l.quorum.is_quorum(&acked) {
            return;
        }
        l.phase = Phase::NewLeaderAcks;
        let waiting: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| x.stage == Stage::EpochAcked)
            .map(|(&sid, _)| sid)
            .collect();
        self.effects.push(Effect::WriteEpoch {
            file: EpochFile::Current,
            epoch,
        });
        for sid in waiting {
            self.start_sync(sid);
        }
        self.try_newleader_quorum();
    }

    /// Chooses how to bring `sid` up to date, queues that, the proposals in flight (for a
    /// voter) and NEWLEADER.
    fn start_sync(&mut self, sid: ServerId) {
        // Found by the cluster simulation: a follower acknowledged proposals, lost its
        // connection, came back ahead of this leader's committed zxid and was truncated;
        // its old acknowledgements still counted, so a proposal committed on a quorum
        // that no longer held it, and was lost when the follower crashed.
        self.broadcast.forget_acks_of(sid);
        let have = Zxid::from_raw(self.tree.last_zxid());
        let Some(l) = self.leading() else {
            return;
        };
        let Some(epoch) = l.epoch else {
            return;
        };
        let Some(x) = l.learners.get_mut(&sid) else {
            return;
        };
        let peer = x.last_zxid;
        let observer = x.observer;
        x.stage = Stage::Syncing;
        // Before serving, NEWLEADER carries the last configuration seen: this epoch
        // commits it when a quorum of it acknowledges NEWLEADER (an interrupted reconfig
        // completes). Once serving, the last seen is a reconfig in flight, which may never
        // commit; the learner takes NEWLEADER's configuration as committed at UPTODATE, so
        // it gets the committed one, and the reconfig's proposal after NEWLEADER like any
        // other (its COMMITANDACTIVATE or INFORMANDACTIVATE activates it).
        let config = if l.phase == Phase::Broadcast {
            l.setup.config.to_string().into_bytes()
        } else {
            l.setup.last_seen.to_string().into_bytes()
        };
        let plan = if peer == have {
            SyncPlan::Diff {
                after: peer,
                through: have,
            }
        } else if peer > have {
            // A tail this leader lacks. Only within one epoch: across epochs the learner's
            // earlier history may differ from ours too, and only a SNAP is safe.
            if peer.epoch() == have.epoch() {
                SyncPlan::Trunc { to: have }
            } else {
                self.snap_plan(have)
            }
        } else if x.diff_possible {
            SyncPlan::Diff {
                after: peer,
                through: have,
            }
        } else {
            self.snap_plan(have)
        };
        tracing::info!(
            sid,
            mode = plan.name(),
            learner_zxid = %peer,
            leader_zxid = %have,
            "synchronising learner"
        );
        self.effects
            .push(Effect::Peer(PeerOut::SyncLearner { sid, plan }));
        self.send_to_learner(
            sid,
            QuorumPacket::new(
                PacketType::NEWLEADER,
                Zxid::new(epoch, 0).raw(),
                Some(config),
            ),
        );
        // The proposals in flight go after NEWLEADER, each before its COMMIT: an Apache
        // 3.8.0-3.8.4 learner forgets what it buffered when NEWLEADER comes, and a COMMIT
        // that then finds no buffered proposal kills its sync (ZOOKEEPER-4394). After
        // NEWLEADER every learner logs proposals and acknowledges them once up to date.
        if !observer {
            let in_flight: Vec<QuorumPacket> = self
                .broadcast
                .in_flight_entries()
                .filter_map(proposal_packet)
                .collect();
            for p in in_flight {
                self.send_to_learner(sid, p);
            }
        }
    }

    fn snap_plan(&self, zxid: Zxid) -> SyncPlan {
        SyncPlan::Snap {
            zxid,
            tree: Arc::new(self.tree.clone()),
        }
    }

    fn on_learner_ack(&mut self, sid: ServerId, zxid: Zxid) {
        let Some(l) = self.leading() else {
            return;
        };
        let Some(epoch) = l.epoch else {
            return;
        };
        if zxid.counter() == 0 {
            // The ACK of NEWLEADER (or of UPTODATE, which carries the same zxid).
            let Some(x) = l.learners.get_mut(&sid) else {
                return;
            };
            if x.stage == Stage::Syncing && zxid == Zxid::new(epoch, 0) {
                x.stage = Stage::Synced;
                tracing::info!(sid, "learner synced");
                if l.phase == Phase::Broadcast {
                    self.send_to_learner(sid, QuorumPacket::new(PacketType::UPTODATE, -1, None));
                } else {
                    self.try_newleader_quorum();
                }
            }
            return;
        }
        // A learner acknowledges proposals only after NEWLEADER; an ACK before its sync
        // started comes from a connection it had before, for a log this sync may cut.
        let syncing_or_synced = |x: &Learner| matches!(x.stage, Stage::Syncing | Stage::Synced);
        if l.learners
            .get(&sid)
            .is_none_or(|x| x.observer || !syncing_or_synced(x))
        {
            return;
        }
        self.broadcast.ack(sid, zxid);
        self.commit_ready();
    }

    fn try_newleader_quorum(&mut self) {
        let me = self.me();
        let last = Zxid::from_raw(self.tree.last_zxid());
        let Some(l) = self.leading() else {
            return;
        };
        if l.phase != Phase::NewLeaderAcks {
            return;
        }
        let mut synced: BTreeSet<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| !x.observer && x.stage == Stage::Synced)
            .map(|(&sid, _)| sid)
            .collect();
        synced.insert(me);
        if !l.has_quorums(&synced) {
            return;
        }
        l.phase = Phase::Broadcast;
        let epoch = l.epoch.unwrap_or(0);
        let ready: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| x.stage == Stage::Synced)
            .map(|(&sid, _)| sid)
            .collect();
        tracing::info!(
            epoch,
            zxid = %last,
            followers = ?synced,
            "a quorum has synced: serving"
        );
        for sid in ready {
            self.send_to_learner(sid, QuorumPacket::new(PacketType::UPTODATE, -1, None));
        }
        self.effects.push(Effect::Peer(PeerOut::Serving { epoch }));
        if self.settings.prep.reconfig_enabled {
            self.activate_last_seen(&synced);
        }
    }

    /// A learner's client request (REQUEST): prepared here with the client's auth ids, as
    /// if the client were connected to the leader.
    fn on_learner_request(&mut self, sid: ServerId, pkt: &QuorumPacket) {
        if !self.serving() {
            return;
        }
        let data = pkt.data.as_deref().unwrap_or_default();
        let mut r = Reader::new(data);
        let (Ok(session_id), Ok(cxid), Ok(op)) = (r.read_i64(), r.read_i32(), r.read_i32()) else {
            tracing::warn!(sid, "malformed REQUEST from a learner ignored");
            return;
        };
        let body = &data[16..];
        let auth = AuthInfo {
            ids: pkt.authinfo.clone().unwrap_or_default(),
        };
        match OpCode::from_code(op) {
            Ok(OpCode::CreateSession) => {
                let timeout_ms = Reader::new(body).read_i32().unwrap_or(0);
                if self
                    .propose(session_id, cxid, Txn::CreateSession { timeout_ms })
                    .is_some()
                {
                    // Tracked from now on, as Apache's leader does when it prepares the
                    // creation: the client's next requests may arrive before the commit.
                    self.learn_session(session_id, timeout_ms);
                    if let Some(s) = self.sessions.get_mut(session_id) {
                        s.owner = Some(sid);
                    }
                }
            }
            Ok(OpCode::CloseSession) => {
                let live = self.sessions.get(session_id).is_some_and(|s| !s.closing);
                if !(live && self.close_session(session_id, cxid)) {
                    self.propose(
                        session_id,
                        cxid,
                        Txn::Error {
                            err: ErrorCode::SessionExpired.code(),
                        },
                    );
                }
            }
            Ok(OpCode::Sync) => {
                let at = self.last_proposed();
                if let Some(l) = self.leading() {
                    if let Some(conn) = l.learners.get(&sid).map(|x| x.conn) {
                        l.syncs.push_back((at, sid, conn));
                    }
                }
                self.answer_learner_syncs();
            }
            _ => {
                let txn = match Request::decode(op, body) {
                    Ok(req) if req.is_write() && !self.owned_by(session_id, sid) => Txn::Error {
                        err: ErrorCode::SessionMoved.code(),
                    },
                    Ok(req) if req.is_write() => {
                        if self.sessions.get(session_id).is_none_or(|s| s.closing) {
                            tracing::debug!(
                                sid,
                                session = format_args!("{session_id:#x}"),
                                known = self.sessions.get(session_id).is_some(),
                                "a learner's request for a session that is not live"
                            );
                            Txn::Error {
                                err: ErrorCode::SessionExpired.code(),
                            }
                        } else {
                            let now = self.now.mono;
                            if let Some(s) = self.sessions.get_mut(session_id) {
                                s.touch(now);
                            }
                            match self.prepare_write(session_id, &auth, &req) {
                                Some(t) => t,
                                None => return,
                            }
                        }
                    }
                    Ok(_) => {
                        tracing::warn!(sid, op, "a learner forwarded a read: ignored");
                        return;
                    }
                    Err(_) => Txn::Error {
                        err: ErrorCode::MarshallingError.code(),
                    },
                };
                self.propose(session_id, cxid, txn);
            }
        }
    }

    /// Whether `member` may act for `session` (Apache's `checkSession` with an owner): the
    /// member that created it or last revalidated it. A session whose owner is not known
    /// (restored from disk by a new leader) takes the first member that acts for it.
    fn owned_by(&mut self, session: i64, member: ServerId) -> bool {
        match self.sessions.get_mut(session) {
            Some(s) => *s.owner.get_or_insert(member) == member,
            None => true,
        }
    }

    fn on_learner_ping(&mut self, data: &[u8]) {
        let now = self.now.mono;
        let mut r = Reader::new(data);
        while let (Ok(session), Ok(_timeout)) = (r.read_i64(), r.read_i32()) {
            if let Some(s) = self.sessions.get_mut(session) {
                s.touch(now);
            }
        }
    }

    fn on_revalidate(&mut self, sid: ServerId, data: Option<&[u8]>) {
        let now = self.now.mono;
        let mut r = Reader::new(data.unwrap_or_default());
        let Ok(session) = r.read_i64() else {
            self.drop_learner(sid, "malformed REVALIDATE");
            return;
        };
        let valid = self.tree.session(session).is_some()
            && self.sessions.get(session).is_some_and(|s| !s.closing);
        if valid {
            if let Some(s) = self.sessions.get_mut(session) {
                s.touch(now);
                s.owner = Some(sid);
            }
        }
        tracing::debug!(
            sid,
            session = format_args!("{session:#x}"),
            valid,
            "session revalidated"
        );
        self.send_to_learner(sid, revalidate_answer(session, valid));
    }

    fn last_proposed(&self) -> Zxid {
        match &self.mode {
            Mode::Leading(l) => l.last_proposed,
            _ => Zxid::from_raw(self.tree.last_zxid()),
        }
    }

    /// Sends a new proposal to every voting learner that gets the broadcast.
    pub(super) fn send_proposal(&mut self, entry: &LogEntry) {
        if self.leading().is_none() {
            return;
        }
        let pkt = proposal_packet(entry);
        let Some(l) = self.leading() else {
            return;
        };
        l.last_proposed = Zxid::from_raw(entry.hdr.zxid);
        if let Some(size) = pkt
            .as_ref()
            .and_then(|p| p.data.as_ref())
            .map(|d| d.len() as i64)
        {
            let (_, min, max) = l.proposal_sizes;
            l.proposal_sizes = (
                size,
                if min < 0 { size } else { min.min(size) },
                max.max(size),
            );
        }
        let to: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| !x.observer && x.gets_broadcast())
            .map(|(&sid, _)| sid)
            .collect();
        let Some(pkt) = pkt else {
            return;
        };
        for sid in to {
            self.send_to_learner(sid, pkt.clone());
        }
    }

    /// A commit: COMMIT to voting learners, INFORM (with the transaction) to observers;
    /// for a reconfig COMMITANDACTIVATE and INFORMANDACTIVATE naming the leader under the
    /// new configuration (this leader, unless it left the voters).
    pub(super) fn tell_learners_committed(&mut self, entry: &LogEntry, acks: &BTreeSet<ServerId>) {
        if let Some(next) = reconfig::committed_config(entry) {
            self.commit_reconfig(entry, next, acks);
            return;
        }
        let Some(l) = self.leading() else {
            return;
        };
        let zxid = entry.hdr.zxid;
        let targets: Vec<(ServerId, bool)> = l
            .learners
            .iter()
            .filter(|(_, x)| x.gets_broadcast())
            .map(|(&sid, x)| (sid, x.observer))
            .collect();
        let mut inform = None;
        for (sid, observer) in targets {
            let pkt = if observer {
                let p = inform.get_or_insert_with(|| {
                    proposal_packet(entry).map(|mut p| {
                        p.kind = PacketType::INFORM;
                        p
                    })
                });
                match p {
                    Some(p) => p.clone(),
                    None => continue,
                }
            } else {
                QuorumPacket::new(PacketType::COMMIT, zxid, None)
            };
            self.send_to_learner(sid, pkt);
        }
    }

    fn commit_reconfig(
        &mut self,
        entry: &LogEntry,
        next: QuorumVerifier,
        acks: &BTreeSet<ServerId>,
    ) {
        let me = self.me();
        let later: Vec<BTreeSet<ServerId>> = self.broadcast.in_flight_acks().cloned().collect();
        let Some(l) = self.leading() else {
            return;
        };
        let designated =
            reconfig::designated_leader(&next, me, l.setup.config.member(me), acks, later.iter());
        let zxid = entry.hdr.zxid;
        tracing::info!(
            version = %format!("{:x}", next.version),
            designated_leader = designated,
            voters = ?next.voters(),
            "reconfig committed"
        );
        let targets: Vec<(ServerId, bool)> = l
            .learners
            .iter()
            .filter(|(_, x)| x.gets_broadcast())
            .map(|(&sid, x)| (sid, x.observer))
            .collect();
        l.setup.config = next.clone();
        l.setup.last_seen = next.clone();
        l.quorum = Quorum::majority(next.voters());
        let commit = reconfig::commit_and_activate(zxid, designated);
        let inform = proposal_packet(entry).map(|p| reconfig::inform_and_activate(&p, designated));
        for (sid, observer) in targets {
            let pkt = if observer {
                match &inform {
                    Some(p) => p.clone(),
                    None => continue,
                }
            } else {
                commit.clone()
            };
            self.send_to_learner(sid, pkt);
        }
        self.broadcast.activate();
        if designated != me {
            // The followers go to the designated leader; nothing more commits here.
            self.broadcast.stop_committing();
        }
        self.effects.push(Effect::Peer(PeerOut::ConfigActivated {
            config: next,
            designated_leader: Some(designated),
        }));
    }

    /// A reconfig is proposed: it and what follows need the new voters too.
    pub(super) fn reconfig_proposed(&mut self, next: &QuorumVerifier) {
        if let Some(l) = self.leading() {
            l.setup.last_seen = next.clone();
        }
        self.effects
            .push(Effect::Peer(PeerOut::ConfigProposed(next.clone())));
    }

    /// At the start of serving: the configuration NEWLEADER carried becomes the committed
    /// one (an interrupted reconfig completes; a version-0 config gets its first version).
    fn activate_last_seen(&mut self, synced: &BTreeSet<ServerId>) {
        let me = self.me();
        let Some(l) = self.leading() else {
            return;
        };
        let next = l.setup.last_seen.clone();
        if next.version <= l.setup.config.version && next == l.setup.config {
            return;
        }
        let designated = reconfig::designated_leader(
            &next,
            me,
            l.setup.config.member(me),
            synced,
            std::iter::empty(),
        );
        l.setup.config = next.clone();
        l.quorum = Quorum::majority(next.voters());
        // The epoch's proposals are counted against it too: the broadcast was set up
        // with the configuration the leader started from.
        let quorum = l.quorum.clone();
        self.broadcast.set_quorum(quorum);
        let now = self.now.wall_ms;
        self.tree
            .set_config(next.to_string().as_bytes(), next.version, now);
        if designated != me {
            self.broadcast.stop_committing();
        }
        self.effects.push(Effect::Peer(PeerOut::ConfigActivated {
            config: next,
            designated_leader: Some(designated),
        }));
    }

    /// Answers every forwarded `sync` whose proposals before it have all committed.
    pub(super) fn answer_learner_syncs(&mut self) {
        let committed = self.broadcast.committed();
        let in_flight = self.broadcast.in_flight();
        let Some(l) = self.leading() else {
            return;
        };
        let mut due = Vec::new();
        while let Some(&(at, sid, conn)) = l.syncs.front() {
            if at > committed && in_flight > 0 {
                break;
            }
            l.syncs.pop_front();
            if l.learners.get(&sid).is_some_and(|x| x.conn == conn) {
                due.push(sid);
            }
        }
        for sid in due {
            self.send_to_learner(sid, QuorumPacket::new(PacketType::SYNC, 0, None));
        }
    }

    /// Half a tick: ping the learners, and step down without a quorum.
    pub(super) fn on_peer_tick(&mut self) {
        let me = self.me();
        let now = self.now.mono;
        let tick = self.settings.tick;
        let (init_limit, sync_limit) = (self.settings.init_limit, self.settings.sync_limit);
        let Some(l) = self.leading() else {
            return;
        };
        if l.phase != Phase::Broadcast {
            if now.saturating_duration_since(l.started) > tick * init_limit.max(1) {
                let why =
                    format!("no quorum of followers synced within initLimit ({init_limit} ticks)");
                self.effects.push(Effect::Peer(PeerOut::Ended(why)));
            }
            return;
        }
        let limit = tick * sync_limit.max(1);
        let mut live: BTreeSet<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| {
                !x.observer
                    && x.stage == Stage::Synced
                    && now.saturating_duration_since(x.last_heard) <= limit
            })
            .map(|(&sid, _)| sid)
            .collect();
        live.insert(me);
        if !l.has_quorums(&live) {
            let why = format!(
                "lost the quorum: only {live:?} heard from within syncLimit ({sync_limit} ticks)"
            );
            self.effects.push(Effect::Peer(PeerOut::Ended(why)));
            return;
        }
        let zxid = l.last_proposed.raw();
        let to: Vec<ServerId> = l
            .learners
            .iter()
            .filter(|(_, x)| x.stage == Stage::Synced)
            .map(|(&sid, _)| sid)
            .collect();
        for sid in to {
            self.send_to_learner(sid, QuorumPacket::new(PacketType::PING, zxid, None));
        }
    }
}

/// PROPOSAL with Apache's bytes for the transaction.
/// ZOOKEEPER-1783: with reconfig on, a configuration still at version 0 (from zoo.cfg) is
/// stamped with the new epoch's first zxid, through NEWLEADER, so that it ranks above the
/// partial configurations of servers that have not joined yet.
fn restamp_initial_config(l: &mut Leading, epoch: u32) {
    if l.setup.config.version == 0 && l.setup.last_seen.version == 0 {
        l.setup.last_seen.version = Zxid::new(epoch, 0).raw();
    }
}

fn proposal_packet(entry: &LogEntry) -> Option<QuorumPacket> {
    match apache::encode(&entry.hdr, &entry.txn, None) {
        Ok(bytes) => Some(QuorumPacket::new(
            PacketType::PROPOSAL,
            entry.hdr.zxid,
            Some(bytes),
        )),
        Err(e) => {
            tracing::error!(zxid = %Zxid::from_raw(entry.hdr.zxid), error = %e, "a transaction Apache's learners cannot read");
            None
        }
    }
}

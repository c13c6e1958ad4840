//! A follower (or observer) in ZAB's broadcast phase, after it synced with its leader.
//!
//! - Reads are served here; writes, session creation and close, and `sync` are forwarded
//!   to the leader as REQUEST packets carrying the client's auth ids. The pending write
//!   waits in its session's reply order, named by (session id, cxid), until the leader's
//!   COMMIT of the transaction with that header comes back.
//! - PROPOSALs are appended to the log and ACKed, one ACK per proposal, once the log made
//!   them durable (group commit: one fsync for all that arrived meanwhile). COMMITs apply
//!   in zxid order. An observer gets INFORM (the committed transaction) instead, logs and
//!   applies it, and never ACKs.
//! - The leader owns session liveness: every session touched here is reported in the reply
//!   to the leader's PING; a client reattaching here is revalidated with the leader
//!   (REVALIDATE) before it is answered, which also makes this member the session's owner.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use zkrs_proto::{ErrorCode, OpCode, Request, Response, Writer};

use crate::config::PeerType;
use crate::ids::Zxid;
use crate::quorum::verifier::QuorumVerifier;
use crate::quorum::wire::packet::{PacketType, QuorumPacket};
use crate::reply::reply_frame;
use crate::storage::writer::LogEntry;
use crate::txn::apache;

use super::order::{Awaiting, Slot};
use super::peer::{FollowerSetup, Mode, PeerOut};
use super::reconfig;
use super::sessions::LiveSession;
use super::{ConnId, Core, Effect};

/// A reattach waiting for the leader's REVALIDATE answer.
#[derive(Debug)]
struct Revalidating {
    conn: ConnId,
    timeout_ms: i32,
    passwd: Vec<u8>,
    read_only: Option<bool>,
}

#[derive(Debug)]
pub struct Following {
    /// PROPOSAL and COMMIT(ANDACTIVATE) packets received (`mntr`'s learner counters).
    pub(super) proposals_received: u64,
    pub(super) commits_received: u64,
    leader: u64,
    observer: bool,
    epoch: u32,
    voters: usize,
    /// The leader's tree digest after each pending proposal, when it sent one (Apache's
    /// leaders do): checked after the commit is applied.
    digests: HashMap<i64, i64>,
    /// Proposals appended (or being appended) and not yet committed, in zxid order.
    pending: VecDeque<LogEntry>,
    /// The highest zxid ACKed to the leader.
    acked: Zxid,
    /// The highest zxid the local log made durable.
    durable: Zxid,
    /// Sessions heard from since the last PING, with their timeouts.
    touched: BTreeMap<i64, i32>,
    revalidating: HashMap<i64, Revalidating>,
    /// Forwarded `sync`s in the order they were sent: the leader answers them in order.
    syncs: VecDeque<(i64, i32, String)>,
    /// The role ended (the member is told through `PeerOut::Ended`): nothing the leader
    /// sends after that is taken. Apache's follower stops reading at the packet that ends
    /// it, so after a COMMITANDACTIVATE that hands leadership over, every follower's log
    /// ends where the designated leader's does; logging proposals read after it would put
    /// followers ahead of that leader, which refuses them (`Follower is ahead`).
    ended: bool,
}

impl Following {
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn voters(&self) -> usize {
        self.voters
    }

    /// Whether every proposal received was committed (the tree then holds the whole log).
    pub fn settled(&self) -> bool {
        self.pending.is_empty()
    }
}

/// REQUEST's payload: session id, cxid, opcode, then the request record.
fn request_packet(session_id: i64, cxid: i32, op: OpCode, body: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    w.write_i64(session_id);
    w.write_i32(cxid);
    w.write_i32(op.code());
    w.write_raw(body);
    w.into_inner()
}

impl Core {
    pub(super) fn start_following(&mut self, setup: FollowerSetup) {
        let last = Zxid::from_raw(self.tree.last_zxid());
        tracing::info!(
            leader = setup.leader,
            observer = setup.observer,
            epoch = setup.epoch,
            pending = setup.uncommitted.len(),
            "following: broadcast phase"
        );
        let mut f = Following {
            proposals_received: 0,
            commits_received: 0,
            leader: setup.leader,
            observer: setup.observer,
            epoch: setup.epoch,
            voters: setup.voters,
            digests: HashMap::new(),
            pending: VecDeque::new(),
            acked: last,
            durable: last,
            touched: BTreeMap::new(),
            revalidating: HashMap::new(),
            syncs: VecDeque::new(),
            ended: false,
        };
        // Logged durably during the sync: acknowledged now, after UPTODATE's ACK.
        let mut acks = Vec::new();
        for e in setup.uncommitted {
            let z = Zxid::from_raw(e.hdr.zxid);
            f.acked = f.acked.max(z);
            f.durable = f.durable.max(z);
            if !f.observer {
                acks.push(QuorumPacket::new(PacketType::ACK, z.raw(), None));
            }
            f.pending.push_back(e);
        }
        self.mode = Mode::Following(f);
        for a in acks {
            self.effects.push(Effect::Peer(PeerOut::ToLeader(a)));
        }
        if let Some(next) = setup.config {
            self.activated_at_uptodate(next, setup.leader);
        }
    }

    /// The configuration NEWLEADER carried becomes this member's (Apache's learner runs
    /// `processReconfig` at UPTODATE): written into `/zookeeper/config`, and the role ends
    /// if it no longer has this member in its place or the leader among the voters.
    fn activated_at_uptodate(&mut self, next: QuorumVerifier, leader: u64) {
        let now = self.now.wall_ms;
        self.tree
            .set_config(next.to_string().as_bytes(), next.version, now);
        if next.is_voter(leader) {
            self.activated(next, leader);
        } else {
            // No designated leader at UPTODATE: a leader outside the voters means an
            // election (Apache's `leaderChange` without a suggested leader).
            self.effects.push(Effect::Peer(PeerOut::ConfigActivated {
                config: next,
                designated_leader: None,
            }));
            self.end_role("changes proposed in reconfig: the leader is not a voter".to_string());
        }
    }

    fn following(&mut self) -> Option<&mut Following> {
        match &mut self.mode {
            Mode::Following(f) => Some(f),
            _ => None,
        }
    }

    fn send_to_leader(&mut self, pkt: QuorumPacket) {
        self.effects.push(Effect::Peer(PeerOut::ToLeader(pkt)));
    }

    /// Forwards a client's request to the leader with the connection's auth ids.
    pub(super) fn forward(&mut self, conn: ConnId, session_id: i64, cxid: i32, req: &Request) {
        let mut body = Writer::new();
        req.write_body(&mut body);
        let auth = self
            .conns
            .get(&conn)
            .map(|c| c.auth.ids.clone())
            .unwrap_or_default();
        let mut pkt = QuorumPacket::new(
            PacketType::REQUEST,
            -1,
            Some(request_packet(
                session_id,
                cxid,
                req.op(),
                &body.into_inner(),
            )),
        );
        pkt.authinfo = Some(auth);
        if let Request::Sync(path) = req {
            if let Some(f) = self.following() {
                f.syncs.push_back((session_id, cxid, path.clone()));
            }
        }
        self.send_to_leader(pkt);
    }

    /// A new session on a follower: the id is allocated here (it carries this member's
    /// id), the leader makes it a transaction.
    pub(super) fn forward_create_session(&mut self, session_id: i64, timeout_ms: i32) {
        let mut w = Writer::new();
        w.write_i32(timeout_ms);
        let mut pkt = QuorumPacket::new(
            PacketType::REQUEST,
            -1,
            Some(request_packet(
                session_id,
                0,
                OpCode::CreateSession,
                &w.into_inner(),
            )),
        );
        pkt.authinfo = Some(Vec::new());
        self.send_to_leader(pkt);
    }

    pub(super) fn forward_close_session(&mut self, session_id: i64, cxid: i32) {
        let mut pkt = QuorumPacket::new(
            PacketType::REQUEST,
            -1,
            Some(request_packet(session_id, cxid, OpCode::CloseSession, &[])),
        );
        pkt.authinfo = Some(Vec::new());
        self.send_to_leader(pkt);
    }

    /// Notes a session heard from here, for the next PING reply.
    pub(super) fn note_touch(&mut self, session_id: i64) {
        let timeout = self
            .sessions
            .get(session_id)
            .map_or(0, |l| l.timeout.as_millis() as i32);
        if let Some(f) = self.following() {
            f.touched.insert(session_id, timeout);
        }
    }

    /// A client reattaches here: the leader decides whether the session is still valid.
    pub(super) fn revalidate(
        &mut self,
        conn: ConnId,
        session_id: i64,
        timeout_ms: i32,
        passwd: Vec<u8>,
        read_only: Option<bool>,
    ) {
        let Some(f) = self.following() else {
            return;
        };
        f.revalidating.insert(
            session_id,
            Revalidating {
                conn,
                timeout_ms,
                passwd,
                read_only,
            },
        );
        let mut w = Writer::new();
        w.write_i64(session_id);
        w.write_i32(timeout_ms);
        self.send_to_leader(QuorumPacket::new(
            PacketType::REVALIDATE,
            -1,
            Some(w.into_inner()),
        ));
    }

    pub(super) fn on_leader_packet(&mut self, pkt: QuorumPacket) {
        if self.following().is_none_or(|f| f.ended) {
            return;
        }
        if let Some(f) = self.following() {
            match pkt.kind {
                PacketType::PROPOSAL => f.proposals_received += 1,
                PacketType::COMMIT | PacketType::COMMITANDACTIVATE => f.commits_received += 1,
                _ => {}
            }
        }
        match pkt.kind {
            PacketType::PROPOSAL => self.on_proposal(&pkt),
            PacketType::COMMIT => self.on_commit(Zxid::from_raw(pkt.zxid)),
            PacketType::INFORM => self.on_inform(&pkt),
            PacketType::COMMITANDACTIVATE => self.on_commit_and_activate(&pkt),
            PacketType::INFORMANDACTIVATE => self.on_inform_and_activate(&pkt),
            PacketType::PING => self.on_leader_ping(pkt.zxid),
            PacketType::SYNC => self.on_sync_answer(),
            PacketType::REVALIDATE => self.on_revalidate_answer(&pkt),
            // Late copies from the sync phase.
            PacketType::UPTODATE | PacketType::NEWLEADER => {}
            other => {
                tracing::warn!(
                    packet = other.name().unwrap_or("unknown"),
                    code = other.0,
                    "unexpected packet from the leader ignored"
                );
            }
        }
    }

    fn decode_txn(&mut self, data: Option<&[u8]>) -> Option<(LogEntry, Option<i64>)> {
        match apache::decode(data.unwrap_or_default()) {
            Ok(t) => Some((
                LogEntry {
                    hdr: t.header,
                    txn: Arc::new(t.txn),
                },
                t.digest.map(|d| d.tree_digest),
            )),
            Err(e) => {
                self.end_role(format!(
                    "the leader sent a transaction that does not decode: {e}"
                ));
                None
            }
        }
    }

    fn end_role(&mut self, why: String) {
        if let Some(f) = self.following() {
            if f.ended {
                return;
            }
            f.ended = true;
        }
        tracing::error!(reason = %why, "leaving the leader");
        self.effects.push(Effect::Peer(PeerOut::Ended(why)));
    }

    fn on_proposal(&mut self, pkt: &QuorumPacket) {
        let Some((entry, digest)) = self.decode_txn(pkt.data.as_deref()) else {
            return;
        };
        let z = Zxid::from_raw(entry.hdr.zxid);
        let last = self
            .following()
            .and_then(|f| f.pending.back().map(|e| Zxid::from_raw(e.hdr.zxid)))
            .unwrap_or_else(|| Zxid::from_raw(self.tree.last_zxid()));
        if z <= last {
            // A proposal this member has already: the sync replayed it.
            return;
        }
        if let Some(next) = reconfig::committed_config(&entry) {
            // Apache's learners keep a proposed configuration as the last one seen.
            self.effects
                .push(Effect::Peer(PeerOut::ConfigProposed(next)));
        }
        if let Some(f) = self.following() {
            if let Some(d) = digest {
                f.digests.insert(entry.hdr.zxid, d);
            }
            f.pending.push_back(entry.clone());
        }
        self.effects.push(Effect::Append(entry));
    }

    /// COMMITANDACTIVATE: the commit of a reconfig, naming who leads under it.
    fn on_commit_and_activate(&mut self, pkt: &QuorumPacket) {
        let Some((leader, _)) = reconfig::split_activate(pkt.data.as_deref().unwrap_or_default())
        else {
            self.end_role("COMMITANDACTIVATE without a leader id".to_string());
            return;
        };
        let zxid = Zxid::from_raw(pkt.zxid);
        let next = self
            .following()
            .and_then(|f| f.pending.front())
            .filter(|e| e.hdr.zxid == zxid.raw())
            .and_then(reconfig::committed_config);
        self.on_commit(zxid);
        match next {
            Some(next) => self.activated(next, leader),
            None => self.end_role(format!(
                "COMMITANDACTIVATE {zxid} is not a pending reconfig"
            )),
        }
    }

    /// INFORMANDACTIVATE: an observer's INFORM of a reconfig, naming who leads under it.
    fn on_inform_and_activate(&mut self, pkt: &QuorumPacket) {
        let Some((leader, txn)) = reconfig::split_activate(pkt.data.as_deref().unwrap_or_default())
        else {
            self.end_role("INFORMANDACTIVATE without a leader id".to_string());
            return;
        };
        let Some((entry, digest)) = self.decode_txn(Some(txn)) else {
            return;
        };
        let next = reconfig::committed_config(&entry);
        if entry.hdr.zxid > self.tree.last_zxid() {
            if self.settings.sync_enabled {
                self.effects.push(Effect::Append(entry.clone()));
            }
            self.apply_committed(entry, digest);
        }
        match next {
            Some(next) => self.activated(next, leader),
            None => self
                .end_role("INFORMANDACTIVATE of a transaction that is not a reconfig".to_string()),
        }
    }

    /// A configuration became active (Apache's `processReconfig` on a learner): the member
    /// keeps it; if this member's role in it or the leader changes, the role ends so the
    /// member can take its new place (Apache: "changes proposed in reconfig").
    fn activated(&mut self, next: QuorumVerifier, leader: u64) {
        let me = self.settings.server_id as u64;
        let Some(f) = self.following() else {
            return;
        };
        let now_observer = next
            .member(me)
            .is_some_and(|s| s.role == PeerType::Observer);
        let role_change = next.member(me).is_some() && now_observer != f.observer;
        let leader_change = leader != f.leader;
        f.voters = next.voters().len();
        tracing::info!(
            version = %format!("{:x}", next.version),
            leader,
            voters = ?next.voters(),
            "configuration activated"
        );
        self.effects.push(Effect::Peer(PeerOut::ConfigActivated {
            config: next,
            designated_leader: Some(leader),
        }));
        if role_change || leader_change {
            self.end_role(format!(
                "changes proposed in reconfig: {}",
                if leader_change {
                    "a new leader"
                } else {
                    "a new role"
                }
            ));
        }
    }

    fn on_commit(&mut self, zxid: Zxid) {
        let Some(f) = self.following() else {
            return;
        };
        let head = f.pending.front().map(|e| Zxid::from_raw(e.hdr.zxid));
        match head {
            Some(h) if h == zxid => {
                let digest = f.digests.remove(&zxid.raw());
                if let Some(entry) = f.pending.pop_front() {
                    self.apply_committed(entry, digest);
                }
            }
            _ if zxid.raw() <= self.tree.last_zxid() => {}
            _ => self.end_role(format!(
                "COMMIT {zxid} without its proposal (next pending: {head:?})"
            )),
        }
    }

    fn on_inform(&mut self, pkt: &QuorumPacket) {
        let Some((entry, digest)) = self.decode_txn(pkt.data.as_deref()) else {
            return;
        };
        if entry.hdr.zxid <= self.tree.last_zxid() {
            return;
        }
        // `syncEnabled=false`: an observer that keeps nothing on disk (it syncs again from
        // the leader after a restart).
        if self.settings.sync_enabled {
            self.effects.push(Effect::Append(entry.clone()));
        }
        self.apply_committed(entry, digest);
    }

    /// Applies a committed transaction and, if the leader sent its tree digest after it,
    /// checks ours against it (as Apache's learners do: a mismatch is counted and logged;
    /// the replica goes on).
    fn apply_committed(&mut self, entry: LogEntry, digest: Option<i64>) {
        let zxid = entry.hdr.zxid;
        self.apply(entry);
        if let Some(expected) = digest {
            let ours = self.tree.digest();
            if ours != expected {
                self.digest_mismatches += 1;
                if self.digest_mismatches.is_power_of_two() {
                    tracing::error!(
                        zxid = %Zxid::from_raw(zxid),
                        leader = expected,
                        ours,
                        mismatches = self.digest_mismatches,
                        "tree digest differs from the leader's after this transaction"
                    );
                }
            }
        }
        if let Some(s) = &mut self.snapshots {
            s.after_commits(&self.tree);
        }
    }

    /// The local log made everything through `zxid` durable: ACK each proposal it covers.
    pub(super) fn follower_durable(&mut self, zxid: Zxid) {
        let Some(f) = self.following() else {
            return;
        };
        f.durable = f.durable.max(zxid);
        if f.observer {
            return;
        }
        let from = f.acked;
        let acks: Vec<Zxid> = f
            .pending
            .iter()
            .map(|e| Zxid::from_raw(e.hdr.zxid))
            .filter(|z| *z > from && *z <= zxid)
            .collect();
        if let Some(&last) = acks.last() {
            f.acked = last;
        }
        for z in acks {
            self.send_to_leader(QuorumPacket::new(PacketType::ACK, z.raw(), None));
        }
    }

    fn on_leader_ping(&mut self, zxid: i64) {
        let Some(f) = self.following() else {
            return;
        };
        let touched = std::mem::take(&mut f.touched);
        let mut w = Writer::new();
        for (sid, timeout) in touched {
            w.write_i64(sid);
            w.write_i32(timeout);
        }
        self.send_to_leader(QuorumPacket::new(
            PacketType::PING,
            zxid,
            Some(w.into_inner()),
        ));
    }

    fn on_sync_answer(&mut self) {
        let Some((sid, xid, path)) = self.following().and_then(|f| f.syncs.pop_front()) else {
            tracing::warn!("SYNC from the leader with no sync pending");
            return;
        };
        let place = self.sessions.get_mut(sid).and_then(|l| l.queue.commit(xid));
        if let Some(place) = place {
            let frame = reply_frame(xid, self.tree.last_zxid(), 0, &Response::Sync(path));
            self.answer(sid, place, frame, true);
        }
    }

    fn on_revalidate_answer(&mut self, pkt: &QuorumPacket) {
        let data = pkt.data.as_deref().unwrap_or_default();
        let (Some(sid), Some(&valid)) = (
            data.get(..8)
                .and_then(|b| b.try_into().ok())
                .map(i64::from_be_bytes),
            data.get(8),
        ) else {
            tracing::warn!("malformed REVALIDATE answer from the leader ignored");
            return;
        };
        let Some(r) = self.following().and_then(|f| f.revalidating.remove(&sid)) else {
            return;
        };
        if !self.conns.contains_key(&r.conn) {
            return;
        }
        if valid != 0 && self.sessions.get(sid).is_some() {
            self.complete_reattach(r.conn, sid, r.timeout_ms, r.passwd, r.read_only);
        } else {
            tracing::info!(
                session = format_args!("{sid:#x}"),
                "the leader says the session is no longer valid"
            );
            self.refuse_session(r.conn, r.read_only);
        }
    }

    /// A forwarded write's pending place, before any zxid exists.
    pub(super) fn await_forwarded(&mut self, sid: i64, conn: ConnId, cxid: i32, op: OpCode) {
        if let Some(l) = self.sessions.get_mut(sid) {
            l.queue.push(Slot::Write {
                cxid,
                conn,
                awaiting: Awaiting::Reply { op },
                received: Some(self.now.mono),
            });
        }
    }

    /// A session created elsewhere became known here through its committed creation.
    pub(super) fn learn_session(&mut self, sid: i64, timeout_ms: i32) {
        if self.sessions.get(sid).is_none() {
            let timeout = std::time::Duration::from_millis(timeout_ms.max(0) as u64);
            self.sessions
                .insert(sid, LiveSession::new(timeout, self.now.mono, None));
        }
    }

    /// Whether writes are refused here for now (a failed log).
    pub(super) fn follower_write_error(&self) -> Option<ErrorCode> {
        self.log_failed.as_ref().map(|_| ErrorCode::SystemError)
    }
}

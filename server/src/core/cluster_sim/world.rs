//! The simulated ensemble: members, their roles, the network, and the random steps.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::ids::Zxid;
use crate::quorum::election::{
    self, Decision, Election, History, Members, Notification, Role as Elected, Sid, Timing,
};
use crate::quorum::wire::packet::{LearnerInfo, PacketType, QuorumPacket};
use crate::storage::writer::LogEntry;
use crate::tree::DataTree;
use crate::txn::apache;

use super::super::peer::{EpochFile, PeerOut, SyncPlan};
use super::super::testkit::{settings, Harness};
use super::super::{Core, CoreSettings, FollowerSetup, Input, LeaderSetup, Now};
use super::clients::Client;
use super::disk::Disk;
use super::learner::{Down, Learning};

pub(super) const TICK_MS: u64 = 500;
const SYNC_LIMIT: u32 = 5;
const INIT_LIMIT: u32 = 10;
const CLIENTS: usize = 4;
const CONFIG: &[u8] = b"version=0";

fn settings_for(sid: Sid) -> CoreSettings {
    CoreSettings {
        server_id: sid as i64,
        tick: Duration::from_millis(TICK_MS),
        min_session_timeout_ms: 1000,
        max_session_timeout_ms: 20_000,
        sync_limit: SYNC_LIMIT,
        init_limit: INIT_LIMIT,
        ..settings()
    }
}

fn timing() -> Timing {
    Timing {
        finalize_wait: 200,
        min_interval: 200,
        max_interval: 1600,
    }
}

#[allow(clippy::large_enum_variant, reason = "one per member")]
pub(super) enum Role {
    /// Crashed.
    Down,
    /// Looking for a leader, with the tree loaded from disk (or kept from the last role).
    Looking(DataTree),
    Leading {
        h: Box<Harness>,
        /// A quorum acked NEWLEADER.
        serving: bool,
    },
    Learning(Box<Learning>),
    Following {
        h: Box<Harness>,
        conn: u64,
        last_heard: u64,
    },
}

pub(super) struct Member {
    pub sid: Sid,
    pub disk: Disk,
    /// Given to the role's log writer, not fsynced yet.
    pub unsynced: VecDeque<LogEntry>,
    pub election: Option<Election>,
    pub timer: Option<u64>,
    pub role: Role,
    /// How many of the transactions this member serves were checked against the committed
    /// sequence (reset when its role changes).
    pub verified: usize,
    /// Its log failed in this role: what was not fsynced is gone.
    pub log_failed: bool,
}

impl Member {
    pub fn harness(&mut self) -> Option<&mut Harness> {
        match &mut self.role {
            Role::Leading { h, .. } | Role::Following { h, .. } => Some(h),
            _ => None,
        }
    }

    pub fn harness_ref(&self) -> Option<&Harness> {
        match &self.role {
            Role::Leading { h, .. } | Role::Following { h, .. } => Some(h),
            _ => None,
        }
    }

    /// The `i`th transaction this member logged: on disk, then given to its log writer.
    pub fn logged_at(&self, i: usize) -> Option<&LogEntry> {
        let d = self.disk.len();
        if i < d {
            self.disk.at(i)
        } else {
            self.unsynced.get(i - d)
        }
    }

    /// The last zxid of the tree it serves clients from, if it serves.
    pub fn served_last(&self) -> Option<i64> {
        match &self.role {
            Role::Leading { h, serving: true } | Role::Following { h, .. } => {
                Some(h.core.tree.last_zxid())
            }
            _ => None,
        }
    }

    pub fn serves(&self) -> bool {
        self.served_last().is_some()
    }

    pub fn alive(&self) -> bool {
        !matches!(self.role, Role::Down)
    }

    fn describe(&self) -> String {
        let role = match &self.role {
            Role::Down => "down".to_string(),
            Role::Looking(_) => "looking".to_string(),
            Role::Leading { serving, h } => format!(
                "leading (serving {serving}) at {:#x}",
                h.core.tree.last_zxid()
            ),
            Role::Learning(l) => format!("learning from {} (conn {:?})", l.leader, l.conn),
            Role::Following { h, conn, .. } => {
                format!("following on conn {conn} at {:#x}", h.core.tree.last_zxid())
            }
        };
        format!(
            "member {}: {role}; disk last {:#x}, epochs {}/{}, {} unsynced",
            self.sid,
            self.disk
                .at(self.disk.len().wrapping_sub(1))
                .map_or(0, |e| e.hdr.zxid),
            self.disk.accepted,
            self.disk.current,
            self.unsynced.len()
        )
    }
}

/// A learner's connection to its leader: packets down and up, in order.
pub(super) struct QLink {
    pub conn: u64,
    pub leader: Sid,
    pub down: VecDeque<Down>,
    pub up: VecDeque<QuorumPacket>,
}

pub(super) struct Sim {
    pub seed: u64,
    pub step: usize,
    pub rng: StdRng,
    /// Members: voters `1..=voters`, then observers up to `n`.
    pub n: usize,
    pub voters: usize,
    pub now_ms: u64,
    origin: Now,
    pub members: Vec<Member>,
    /// Election connections up, as (lower sid, higher sid).
    econn: BTreeSet<(Sid, Sid)>,
    /// Notifications in flight on each direction of a connection.
    elinks: BTreeMap<(Sid, Sid), VecDeque<election::Outgoing>>,
    /// The notification waiting for a connection to be made, per direction.
    epending: BTreeMap<(Sid, Sid), election::Outgoing>,
    /// Learner connections, by learner.
    pub qlinks: BTreeMap<Sid, QLink>,
    pub next_conn: u64,
    /// While a partition lasts: the members cut off from the others.
    island: Option<BTreeSet<Sid>>,
    next_peer_tick: u64,
    pub clients: Vec<Client>,
    /// The committed sequence: every transaction a serving member holds, in order.
    pub committed: Vec<LogEntry>,
    /// Sessions whose close is committed.
    pub closed: BTreeSet<i64>,
    /// Which member served each epoch.
    pub leaders: BTreeMap<u32, Sid>,
    /// Faults are injected (off while the ensemble settles at the end).
    pub faults: bool,
    /// Writes acknowledged to clients.
    pub acked: usize,
    trace: bool,
}

fn pair(a: Sid, b: Sid) -> (Sid, Sid) {
    (a.min(b), a.max(b))
}

impl Sim {
    pub fn new(seed: u64, voters: usize, observers: usize) -> Sim {
        let n = voters + observers;
        let origin = Now {
            mono: Instant::now(),
            wall_ms: 1_700_000_000_000,
        };
        let mut sim = Sim {
            seed,
            step: 0,
            rng: StdRng::seed_from_u64(seed),
            n,
            voters,
            now_ms: 0,
            origin,
            members: Vec::new(),
            econn: BTreeSet::new(),
            elinks: BTreeMap::new(),
            epending: BTreeMap::new(),
            qlinks: BTreeMap::new(),
            next_conn: 1,
            island: None,
            next_peer_tick: TICK_MS / 2,
            clients: (0..CLIENTS).map(|_| Client::default()).collect(),
            committed: Vec::new(),
            closed: BTreeSet::new(),
            leaders: BTreeMap::new(),
            faults: true,
            acked: 0,
            trace: std::env::var("ZKRS_CLUSTER_SIM_TRACE").is_ok(),
        };
        for sid in 1..=n as Sid {
            sim.members.push(Member {
                sid,
                disk: Disk::default(),
                unsynced: VecDeque::new(),
                election: None,
                timer: None,
                role: Role::Down,
                verified: 0,
                log_failed: false,
            });
        }
        for sid in 1..=n as Sid {
            sim.restart(sid);
        }
        sim
    }

    pub fn now(&self) -> Now {
        Now {
            mono: self.origin.mono + Duration::from_millis(self.now_ms),
            wall_ms: self.origin.wall_ms + self.now_ms as i64,
        }
    }

    pub fn m(&mut self, sid: Sid) -> &mut Member {
        &mut self.members[sid as usize - 1]
    }

    pub fn mr(&self, sid: Sid) -> &Member {
        &self.members[sid as usize - 1]
    }

    pub fn log(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("[{} t={}] {}", self.step, self.now_ms, what());
        }
    }

    pub fn state(&self) -> String {
        let mut s: Vec<String> = self.members.iter().map(Member::describe).collect();
        s.push(format!(
            "committed through {:#x} ({} txns), partition {:?}",
            self.committed.last().map_or(0, |e| e.hdr.zxid),
            self.committed.len(),
            self.island
        ));
        s.join("\n  ")
    }

    fn reachable(&self, a: Sid, b: Sid) -> bool {
        self.island
            .as_ref()
            .is_none_or(|i| i.contains(&a) == i.contains(&b))
    }

    fn voters(&self) -> Members {
        Members {
            voters: (1..=self.voters as Sid).collect(),
            observers: (self.voters as Sid + 1..=self.n as Sid).collect(),
        }
    }

    // -----------------------------------------------------------------------------------
    // Election and its network

    fn eapply(&mut self, sid: Sid) {
        for _ in 0..1000 {
            let effects = match self.m(sid).election.as_mut() {
                Some(e) => e.take_effects(),
                None => return,
            };
            if effects.is_empty() {
                return;
            }
            for e in effects {
                match e {
                    election::Effect::Send { to, msg } => self.esend(sid, to, msg),
                    election::Effect::SendToVoters(msg) => {
                        for to in 1..=self.voters as Sid {
                            self.esend(sid, to, msg);
                        }
                    }
                    election::Effect::ConnectAll => {
                        for to in 1..=self.voters as Sid {
                            self.econnect(sid, to);
                        }
                    }
                    election::Effect::ArmTimer { at } => self.m(sid).timer = Some(at),
                    election::Effect::Decided(d) => self.decide(sid, d),
                }
            }
        }
        self.fail(format!("member {sid}'s election never settles"));
    }

    fn esend(&mut self, from: Sid, to: Sid, msg: election::Outgoing) {
        if from == to {
            return;
        }
        if self.econn.contains(&pair(from, to)) {
            // Apache's send queue holds one message: one not yet written is replaced.
            let overwrite = self.faults && self.rng.gen_bool(0.1);
            let q = self.elinks.entry((from, to)).or_default();
            match q.back_mut() {
                Some(last) if overwrite => *last = msg,
                _ => q.push_back(msg),
            }
        } else {
            // The election's network layer dials a peer it has no connection to.
            self.epending.insert((from, to), msg);
            self.econnect(from, to);
        }
    }

    /// Makes the election connection between `a` and `b` if both run and can reach each
    /// other: the pending notifications go first, then each looking side resends its vote.
    pub fn econnect(&mut self, a: Sid, b: Sid) {
        if a == b
            || !self.mr(a).alive()
            || !self.mr(b).alive()
            || !self.reachable(a, b)
            || !self.econn.insert(pair(a, b))
        {
            return;
        }
        for (x, y) in [(a, b), (b, a)] {
            if let Some(msg) = self.epending.remove(&(x, y)) {
                self.elinks.entry((x, y)).or_default().push_back(msg);
            }
        }
        for (x, y) in [(a, b), (b, a)] {
            if let Some(e) = self.m(x).election.as_mut() {
                e.connected(y);
            }
            self.eapply(x);
        }
    }

    pub fn ebreak(&mut self, a: Sid, b: Sid) {
        if !self.econn.remove(&pair(a, b)) {
            return;
        }
        self.elinks.remove(&(a, b));
        self.elinks.remove(&(b, a));
        for (x, y) in [(a, b), (b, a)] {
            if let Some(e) = self.m(x).election.as_mut() {
                e.lost(y);
            }
        }
    }

    pub fn edeliver(&mut self, from: Sid, to: Sid) -> bool {
        let Some(msg) = self
            .elinks
            .get_mut(&(from, to))
            .and_then(VecDeque::pop_front)
        else {
            return false;
        };
        let now = self.now_ms;
        if let Some(e) = self.m(to).election.as_mut() {
            e.receive(
                now,
                Notification {
                    from,
                    state: msg.state,
                    vote: msg.vote,
                },
            );
        }
        self.eapply(to);
        true
    }

    pub fn busy_elinks(&self) -> Vec<(Sid, Sid)> {
        self.elinks
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(k, _)| *k)
            .collect()
    }

    pub fn econns(&self) -> Vec<(Sid, Sid)> {
        self.econn.iter().copied().collect()
    }

    // -----------------------------------------------------------------------------------
    // Roles

    fn decide(&mut self, sid: Sid, d: Decision) {
        let now = self.now();
        let now_ms = self.now_ms;
        let n = self.voters;
        let m = self.m(sid);
        let tree = match std::mem::replace(&mut m.role, Role::Down) {
            Role::Looking(t) => t,
            other => {
                m.role = other;
                return;
            }
        };
        m.verified = 0;
        self.log(|| format!("member {sid} decided {:?}", d.role));
        match d.role {
            Elected::Lead => {
                let m = self.m(sid);
                let setup = LeaderSetup {
                    voters: (1..=n as Sid).collect(),
                    accepted_epoch: m.disk.accepted,
                    current_epoch: m.disk.current,
                    config_string: CONFIG.to_vec(),
                };
                let mut h = Harness::with_settings(settings_for(sid));
                h.now = now;
                h.replace_core(|now| Core::new(settings_for(sid), tree, now).into_leader(setup));
                m.role = Role::Leading {
                    h: Box::new(h),
                    serving: false,
                };
                self.absorb(sid);
            }
            Elected::Follow(leader) | Elected::Observe(leader) => {
                let observer = matches!(d.role, Elected::Observe(_));
                let m = self.m(sid);
                let hist = m.disk.history();
                m.role = Role::Learning(Box::new(Learning::new(
                    leader, observer, now_ms, tree, hist,
                )));
                self.qconnect(sid);
            }
        }
    }

    /// Feeds `input` to `sid`'s core (if it has one) and carries out what it did.
    pub fn feed(&mut self, sid: Sid, input: Input) {
        let now = self.now();
        let Some(h) = self.m(sid).harness() else {
            return;
        };
        h.now = now;
        h.input(input);
        self.absorb(sid);
    }

    /// Carries out the effects of `sid`'s core, in order: appends go to its log writer,
    /// epochs to its disk, frames to its clients, packets to its connections.
    pub fn absorb(&mut self, sid: Sid) {
        let m = self.m(sid);
        let Some(h) = m.harness() else {
            return;
        };
        let appended: Vec<LogEntry> = h.unsynced.drain(..).collect();
        h.appended.clear();
        h.trace.clear();
        let epochs: Vec<(EpochFile, u32)> = h.epochs.drain(..).collect();
        let peer: Vec<PeerOut> = h.peer.drain(..).collect();
        let mut conns: Vec<u64> = h.outboxes.keys().copied().collect();
        conns.sort_unstable();
        let outs: Vec<(u64, Vec<super::super::Outgoing>)> = conns
            .into_iter()
            .map(|c| {
                let o = h.outboxes.get_mut(&c).map(|q| q.drain(..).collect());
                (c, o.unwrap_or_default())
            })
            .collect();
        m.unsynced.extend(appended);
        let mut epoch_failed = None;
        for (file, epoch) in epochs {
            // Writing an epoch file fails now and then: the driver ends the role before
            // anything the core said after it reaches a peer.
            if self.faults && self.rng.gen_bool(0.02) {
                epoch_failed = Some(file);
                break;
            }
            let m = self.m(sid);
            match file {
                EpochFile::Accepted => m.disk.accepted = epoch,
                EpochFile::Current => m.disk.current = epoch,
            }
        }
        self.check_served(sid);
        self.client_outputs(sid, outs);
        if let Some(file) = epoch_failed {
            self.end_role(sid, &format!("cannot write {file:?} epoch"));
            return;
        }
        for out in peer {
            if self.mr(sid).harness_ref().is_none() {
                // The role ended: the rest of what it said goes nowhere.
                break;
            }
            self.route(sid, out);
        }
    }

    fn route(&mut self, sid: Sid, out: PeerOut) {
        match out {
            PeerOut::ToLearner { sid: l, pkt } => {
                if let Some(q) = self.qlinks.get_mut(&l).filter(|q| q.leader == sid) {
                    q.down.push_back(Down::Pkt(pkt));
                }
            }
            PeerOut::SyncLearner { sid: l, plan } => {
                if self.qlinks.get(&l).is_none_or(|q| q.leader != sid) {
                    return;
                }
                self.log(|| format!("leader {sid} syncs {l} by {}", plan.name()));
                match self.sync_downs(sid, plan) {
                    Some(downs) => {
                        if let Some(q) = self.qlinks.get_mut(&l) {
                            q.down.extend(downs);
                        }
                    }
                    None => self.qbreak(l, "the leader's log lacks the DIFF"),
                }
            }
            PeerOut::DropLearner { sid: l } => {
                if self.qlinks.get(&l).is_some_and(|q| q.leader == sid) {
                    self.qbreak(l, "dropped by the leader");
                }
            }
            PeerOut::Serving { epoch } => {
                if let Some(&other) = self.leaders.get(&epoch) {
                    if other != sid {
                        self.fail(format!(
                            "members {other} and {sid} both lead epoch {epoch} with a quorum"
                        ));
                    }
                }
                self.leaders.insert(epoch, sid);
                self.log(|| format!("member {sid} serves epoch {epoch}"));
                let m = self.m(sid);
                if let Role::Leading { serving, .. } = &mut m.role {
                    *serving = true;
                }
                m.verified = 0;
                if let Some(e) = m.election.as_mut() {
                    e.update_peer_epoch(u64::from(epoch));
                }
                self.check_served(sid);
            }
            PeerOut::Ended(why) => self.end_role(sid, &why),
            PeerOut::ToLeader(p) => {
                let conn = match &self.mr(sid).role {
                    Role::Following { conn, .. } => *conn,
                    _ => return,
                };
                if let Some(q) = self.qlinks.get_mut(&sid).filter(|q| q.conn == conn) {
                    q.up.push_back(p);
                }
            }
        }
    }

    /// What `leader_net` writes for a sync plan.
    fn sync_downs(&mut self, leader: Sid, plan: SyncPlan) -> Option<Vec<Down>> {
        let m = self.mr(leader);
        match plan {
            SyncPlan::Diff { after, through } => {
                let mut v = vec![Down::Pkt(QuorumPacket::new(
                    PacketType::DIFF,
                    through.raw(),
                    None,
                ))];
                if after < through {
                    for e in m.disk.diff(after.raw(), through.raw())? {
                        let bytes = apache::encode(&e.hdr, &e.txn, None).ok()?;
                        v.push(Down::Pkt(QuorumPacket::new(
                            PacketType::PROPOSAL,
                            e.hdr.zxid,
                            Some(bytes),
                        )));
                        v.push(Down::Pkt(QuorumPacket::new(
                            PacketType::COMMIT,
                            e.hdr.zxid,
                            None,
                        )));
                    }
                }
                Some(v)
            }
            SyncPlan::Trunc { to } => Some(vec![Down::Pkt(QuorumPacket::new(
                PacketType::TRUNC,
                to.raw(),
                None,
            ))]),
            SyncPlan::Snap { zxid, tree } => {
                let mut hist = Vec::new();
                let mut i = 0;
                while let Some(e) = m.logged_at(i).filter(|e| e.hdr.zxid <= zxid.raw()) {
                    hist.push(e.clone());
                    i += 1;
                }
                Some(vec![Down::Snap {
                    zxid: zxid.raw(),
                    tree,
                    hist,
                }])
            }
        }
    }

    /// The role of `sid` ends: its log writer finishes what it was given (unless the log
    /// failed), its connections close, and it looks for a leader again with the tree its
    /// core kept (when that matches the log) or the one on disk.
    pub fn end_role(&mut self, sid: Sid, why: &str) {
        let m = self.m(sid);
        let old = std::mem::replace(&mut m.role, Role::Down);
        let (tree, was_leader) = match old {
            Role::Down => return,
            Role::Leading { h, .. } | Role::Following { h, .. } => {
                let was_leader = h.core.mode.decides();
                if m.log_failed {
                    m.unsynced.clear();
                } else {
                    let rest: Vec<LogEntry> = m.unsynced.drain(..).collect();
                    m.disk.log.extend(rest);
                }
                let loaded = m.disk.load();
                let tree = match h.core.into_tree_matching_log() {
                    Some(kept) => {
                        if kept.last_zxid() != loaded.last_zxid()
                            || kept.digest() != loaded.digest()
                        {
                            let (a, b) = (kept.last_zxid(), loaded.last_zxid());
                            self.fail(format!(
                                "member {sid} kept a tree at {a:#x} that differs from its log at {b:#x}"
                            ));
                        }
                        kept
                    }
                    None => loaded,
                };
                (tree, was_leader)
            }
            Role::Learning(_) | Role::Looking(_) => (m.disk.load(), false),
        };
        let m = self.m(sid);
        m.log_failed = false;
        m.verified = 0;
        m.role = Role::Looking(tree);
        self.log(|| format!("member {sid} role ended: {why}"));
        self.drop_clients_of(sid);
        if was_leader {
            let learners: Vec<Sid> = self
                .qlinks
                .iter()
                .filter(|(_, q)| q.leader == sid)
                .map(|(l, _)| *l)
                .collect();
            for l in learners {
                self.qbreak(l, "the leader left");
            }
        }
        self.qbreak(sid, "the role ended");
        let now = self.now_ms;
        let m = self.m(sid);
        let Role::Looking(tree) = &m.role else {
            return;
        };
        let history = History {
            last_zxid: Zxid::from_raw(tree.last_zxid()),
            current_epoch: u64::from(m.disk.current),
        };
        if let Some(e) = m.election.as_mut() {
            e.look(now, history);
        }
        self.eapply(sid);
    }

    pub fn crash(&mut self, sid: Sid) {
        self.log(|| format!("member {sid} crashes"));
        let m = self.m(sid);
        m.unsynced.clear();
        m.role = Role::Down;
        m.election = None;
        m.timer = None;
        m.log_failed = false;
        self.drop_clients_of(sid);
        for other in 1..=self.n as Sid {
            self.ebreak(sid, other);
            self.epending.remove(&(sid, other));
            self.epending.remove(&(other, sid));
        }
        let learners: Vec<Sid> = self
            .qlinks
            .iter()
            .filter(|(_, q)| q.leader == sid)
            .map(|(l, _)| *l)
            .collect();
        for l in learners {
            self.qbreak(l, "the leader crashed");
        }
        self.qbreak(sid, "crashed");
    }

    /// Starts `sid` from its disk.
    pub fn restart(&mut self, sid: Sid) {
        let now = self.now_ms;
        let members = self.voters();
        let m = self.m(sid);
        if m.alive() {
            return;
        }
        let tree = m.disk.load();
        let history = History {
            last_zxid: Zxid::from_raw(tree.last_zxid()),
            current_epoch: u64::from(m.disk.current),
        };
        m.role = Role::Looking(tree);
        m.verified = 0;
        m.election = Some(Election::start(now, sid, members, history, timing()));
        self.log(|| format!("member {sid} starts"));
        self.eapply(sid);
        for other in 1..=self.n as Sid {
            self.econnect(sid, other);
        }
    }

    /// The log writer of `sid` fsyncs its next `k` appends, or fails.
    pub fn fsync(&mut self, sid: Sid, k: usize, fail: bool) {
        let m = self.m(sid);
        if m.harness().is_none() || m.unsynced.is_empty() {
            return;
        }
        if fail {
            let first = m.unsynced.front().map_or(0, |e| e.hdr.zxid);
            m.unsynced.clear();
            m.log_failed = true;
            self.log(|| format!("member {sid}: fsync fails at {first:#x}"));
            self.feed(
                sid,
                Input::LogFailed {
                    first_zxid: Zxid::from_raw(first),
                    error: "injected fsync failure".into(),
                },
            );
            return;
        }
        let k = k.min(m.unsynced.len());
        let batch: Vec<LogEntry> = m.unsynced.drain(..k).collect();
        let last = batch.last().map_or(0, |e| e.hdr.zxid);
        m.disk.log.extend(batch);
        self.log(|| format!("member {sid} fsyncs through {last:#x}"));
        self.feed(sid, Input::Durable(Zxid::from_raw(last)));
    }

    // -----------------------------------------------------------------------------------
    // Learner connections

    /// A learning member connects to its leader's quorum port, if that member leads and
    /// can be reached, and sends FOLLOWERINFO.
    pub fn qconnect(&mut self, sid: Sid) {
        let now = self.now_ms;
        let (leader, observer, accepted) = match &self.mr(sid).role {
            Role::Learning(l) if l.conn.is_none() => {
                (l.leader, l.observer, self.mr(sid).disk.accepted)
            }
            _ => return,
        };
        if !self.reachable(sid, leader) || !matches!(self.mr(leader).role, Role::Leading { .. }) {
            return;
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        if let Role::Learning(l) = &mut self.m(sid).role {
            l.conn = Some(conn);
            l.last_heard = now;
        }
        let kind = if observer {
            PacketType::OBSERVERINFO
        } else {
            PacketType::FOLLOWERINFO
        };
        let info = QuorumPacket::new(
            kind,
            Zxid::new(accepted, 0).raw(),
            Some(LearnerInfo::new(sid as i64, 0).encode()),
        );
        self.log(|| format!("member {sid} connects to leader {leader} (conn {conn})"));
        self.qlinks.insert(
            sid,
            QLink {
                conn,
                leader,
                down: VecDeque::new(),
                up: VecDeque::from([info]),
            },
        );
    }

    /// The connection of learner `l` breaks: the leader hears it is gone, the learner's
    /// role ends.
    pub fn qbreak(&mut self, l: Sid, why: &str) {
        let Some(q) = self.qlinks.remove(&l) else {
            return;
        };
        self.log(|| format!("learner {l}'s connection {} breaks: {why}", q.conn));
        if matches!(self.mr(q.leader).role, Role::Leading { .. }) {
            self.feed(
                q.leader,
                Input::LearnerGone {
                    sid: l,
                    conn: q.conn,
                },
            );
        }
        let mine = match &self.mr(l).role {
            Role::Learning(x) => x.conn == Some(q.conn),
            Role::Following { conn, .. } => *conn == q.conn,
            _ => false,
        };
        if mine {
            self.end_role(l, why);
        }
    }

    pub fn qdeliver_up(&mut self, l: Sid) -> bool {
        let Some(q) = self.qlinks.get_mut(&l) else {
            return false;
        };
        let Some(pkt) = q.up.pop_front() else {
            return false;
        };
        let (leader, conn) = (q.leader, q.conn);
        self.log(|| format!("{l} -> {leader}: {:?} {:#x}", pkt.kind.name(), pkt.zxid));
        let diff_possible =
            pkt.kind == PacketType::ACKEPOCH && self.mr(leader).disk.log_holds(pkt.zxid);
        self.feed(
            leader,
            Input::FromLearner {
                sid: l,
                conn,
                pkt,
                diff_possible,
            },
        );
        true
    }

    pub fn qdeliver_down(&mut self, l: Sid) -> bool {
        let Some(q) = self.qlinks.get_mut(&l) else {
            return false;
        };
        let Some(msg) = q.down.pop_front() else {
            return false;
        };
        let (conn, leader) = (q.conn, q.leader);
        if let Down::Pkt(p) = &msg {
            self.log(|| format!("{leader} -> {l}: {:?} {:#x}", p.kind.name(), p.zxid));
        }
        let now = self.now_ms;
        // The fsync at NEWLEADER or UPTODATE fails now and then.
        let disk_fails = self.faults && self.rng.gen_bool(0.05);
        let m = self.m(l);
        match &mut m.role {
            Role::Following {
                conn: c,
                last_heard,
                ..
            } if *c == conn => {
                *last_heard = now;
                match msg {
                    Down::Pkt(p) => self.feed(l, Input::FromLeader(p)),
                    Down::Snap { .. } => self.fail(format!("a SNAP to follower {l}")),
                }
            }
            Role::Learning(x) if x.conn == Some(conn) => {
                x.last_heard = now;
                match x.take(&mut m.disk, msg, disk_fails) {
                    Ok(took) => {
                        if let Some(q) = self.qlinks.get_mut(&l) {
                            q.up.extend(took.up);
                        }
                        if took.synced {
                            self.start_following(l, conn);
                        }
                    }
                    Err(why) => {
                        self.end_role(l, &format!("sync failed: {why}"));
                    }
                }
            }
            _ => {}
        }
        true
    }

    /// UPTODATE came: the learner's core starts following with what the sync left.
    fn start_following(&mut self, sid: Sid, conn: u64) {
        let now = self.now();
        let now_ms = self.now_ms;
        let n = self.voters;
        let m = self.m(sid);
        let Role::Learning(x) = std::mem::replace(&mut m.role, Role::Down) else {
            return;
        };
        let epoch = x.epoch.unwrap_or(0);
        let setup = FollowerSetup {
            leader: x.leader,
            observer: x.observer,
            epoch,
            voters: n,
            uncommitted: x.uncommitted.into_iter().collect(),
        };
        let tree = x.tree;
        let mut h = Harness::with_settings(settings_for(sid));
        h.now = now;
        h.replace_core(|now| Core::new(settings_for(sid), tree, now).into_follower(setup));
        m.role = Role::Following {
            h: Box::new(h),
            conn,
            last_heard: now_ms,
        };
        m.verified = 0;
        if let Some(e) = m.election.as_mut() {
            e.update_peer_epoch(u64::from(epoch));
        }
        self.log(|| format!("member {sid} follows in epoch {epoch}"));
        self.absorb(sid);
    }

    pub fn busy_qlinks(&self) -> Vec<(Sid, bool)> {
        let mut v = Vec::new();
        for (l, q) in &self.qlinks {
            if !q.down.is_empty() {
                v.push((*l, true));
            }
            if !q.up.is_empty() {
                v.push((*l, false));
            }
        }
        v
    }

    // -----------------------------------------------------------------------------------
    // Time and partitions

    /// The clock moves on by `d` ms: election timers, the leader's half-ticks, session
    /// expiry, and the learners' read timeouts fire.
    pub fn advance(&mut self, d: u64) {
        self.now_ms += d;
        let now = self.now_ms;
        for sid in 1..=self.n as Sid {
            if self.mr(sid).timer.is_some_and(|t| t <= now) {
                self.m(sid).timer = None;
                if let Some(e) = self.m(sid).election.as_mut() {
                    e.tick(now);
                }
                self.eapply(sid);
            }
        }
        while self.next_peer_tick <= now {
            self.next_peer_tick += TICK_MS / 2;
            for sid in 1..=self.n as Sid {
                self.feed(sid, Input::PeerTick);
            }
        }
        for sid in 1..=self.n as Sid {
            self.feed(sid, Input::ExpiryTick);
        }
        // A learner retries its connection to the leader (every 200 ms in the real one).
        for sid in 1..=self.n as Sid {
            self.qconnect(sid);
        }
        let init = TICK_MS * u64::from(INIT_LIMIT);
        let sync = TICK_MS * u64::from(SYNC_LIMIT);
        for sid in 1..=self.n as Sid {
            let why = match &self.mr(sid).role {
                Role::Learning(l) if l.conn.is_none() && now - l.since > init => {
                    Some("no leader to connect to within initLimit")
                }
                Role::Learning(l) if now - l.last_heard > init => {
                    Some("the leader said nothing within initLimit")
                }
                Role::Following { last_heard, .. } if now - last_heard > sync => {
                    Some("the leader said nothing within syncLimit")
                }
                _ => None,
            };
            if let Some(why) = why {
                self.end_role(sid, why);
            }
        }
    }

    pub fn partition(&mut self, island: BTreeSet<Sid>) {
        self.log(|| format!("partition {island:?}"));
        self.island = Some(island);
        for (a, b) in self.econns() {
            if !self.reachable(a, b) {
                self.ebreak(a, b);
            }
        }
        let cut: Vec<Sid> = self
            .qlinks
            .iter()
            .filter(|(l, q)| !self.reachable(**l, q.leader))
            .map(|(l, _)| *l)
            .collect();
        for l in cut {
            self.qbreak(l, "partitioned");
        }
    }

    pub fn heal(&mut self) {
        self.log(|| "heal".into());
        self.island = None;
    }

    pub fn partitioned(&self) -> bool {
        self.island.is_some()
    }

    // -----------------------------------------------------------------------------------
    // The run

    fn random_member(&mut self) -> Sid {
        self.rng.gen_range(1..=self.n as Sid)
    }

    /// One random step: mostly clients, deliveries, fsyncs and time; now and then a fault.
    pub fn random_step(&mut self) {
        let roll = self.rng.gen_range(0..10_000);
        match roll {
            0..=2499 => {
                let c = self.rng.gen_range(0..self.clients.len());
                self.client_step(c);
            }
            2500..=5299 => {
                let busy = self.busy_qlinks();
                if !busy.is_empty() {
                    // A few packets of one connection, as one read takes what arrived.
                    let (l, down) = busy[self.rng.gen_range(0..busy.len())];
                    for _ in 0..self.rng.gen_range(1..=3) {
                        if down {
                            self.qdeliver_down(l);
                        } else {
                            self.qdeliver_up(l);
                        }
                    }
                }
            }
            5300..=6299 => {
                let busy = self.busy_elinks();
                if !busy.is_empty() {
                    let (a, b) = busy[self.rng.gen_range(0..busy.len())];
                    self.edeliver(a, b);
                }
            }
            6300..=7699 => {
                let writing: Vec<Sid> = (1..=self.n as Sid)
                    .filter(|&s| !self.mr(s).unsynced.is_empty())
                    .collect();
                if !writing.is_empty() {
                    let sid = writing[self.rng.gen_range(0..writing.len())];
                    let k = self.rng.gen_range(1..=4);
                    let fail = self.rng.gen_bool(0.005);
                    self.fsync(sid, k, fail);
                }
            }
            7700..=8699 => {
                let d = self.rng.gen_range(5..=120);
                self.advance(d);
            }
            8700..=9839 => {
                let a = self.random_member();
                let b = self.random_member();
                self.econnect(a, b);
                self.qconnect(a);
            }
            9840..=9939 => {
                let down: Vec<Sid> = (1..=self.n as Sid)
                    .filter(|&s| !self.mr(s).alive())
                    .collect();
                if !down.is_empty() {
                    let sid = down[self.rng.gen_range(0..down.len())];
                    self.restart(sid);
                }
            }
            9940..=9954 => self.drop_a_connection(),
            9955..=9969 => {
                // Any member, even the last one running: what a quorum fsynced must
                // survive every member losing what it did not.
                let sid = self.random_member();
                if self.mr(sid).alive() {
                    self.crash(sid);
                }
            }
            9970..=9984 => {
                if self.partitioned() {
                    self.heal();
                } else {
                    let island: BTreeSet<Sid> = (1..=self.n as Sid)
                        .filter(|_| self.rng.gen_bool(0.4))
                        .collect();
                    if !island.is_empty() && island.len() < self.n {
                        self.partition(island);
                    }
                }
            }
            _ => {
                // The serving leader crashes, so that re-election happens often.
                let leader = (1..=self.n as Sid)
                    .find(|&s| matches!(self.mr(s).role, Role::Leading { serving: true, .. }));
                if let Some(l) = leader {
                    self.crash(l);
                }
            }
        }
    }

    /// An election or learner connection breaks (TCP's way of losing a message).
    fn drop_a_connection(&mut self) {
        if self.rng.gen_bool(0.5) {
            let links = self.econns();
            if !links.is_empty() {
                let (a, b) = links[self.rng.gen_range(0..links.len())];
                self.log(|| format!("election connection {a}-{b} drops"));
                self.ebreak(a, b);
            }
        } else {
            let ls: Vec<Sid> = self.qlinks.keys().copied().collect();
            if !ls.is_empty() {
                let l = ls[self.rng.gen_range(0..ls.len())];
                self.qbreak(l, "the connection dropped");
            }
        }
    }

    /// Moves everything that can move once: connections, deliveries, fsyncs. Returns
    /// whether anything moved.
    pub fn settle_round(&mut self) -> bool {
        let mut moved = false;
        for a in 1..=self.n as Sid {
            for b in a + 1..=self.n as Sid {
                self.econnect(a, b);
            }
            self.qconnect(a);
        }
        for _ in 0..10_000 {
            let (e, q) = (self.busy_elinks(), self.busy_qlinks());
            if e.is_empty() && q.is_empty() {
                break;
            }
            moved = true;
            for (a, b) in e {
                self.edeliver(a, b);
            }
            for (l, down) in q {
                if down {
                    self.qdeliver_down(l);
                } else {
                    self.qdeliver_up(l);
                }
            }
        }
        for sid in 1..=self.n as Sid {
            if !self.mr(sid).unsynced.is_empty() {
                self.fsync(sid, usize::MAX, false);
                moved = true;
            }
        }
        moved
    }

    /// Whether one member leads and serves, every other follows it, and nothing is in
    /// flight.
    pub fn settled(&self) -> bool {
        let Some(leader) = (1..=self.n as Sid)
            .find(|&s| matches!(self.mr(s).role, Role::Leading { serving: true, .. }))
        else {
            return false;
        };
        let followers_ok = self.members.iter().all(|m| {
            m.sid == leader
                || (matches!(m.role, Role::Following { .. })
                    && self.qlinks.get(&m.sid).is_some_and(|q| q.leader == leader))
        });
        followers_ok
            && self.busy_qlinks().is_empty()
            && self.busy_elinks().is_empty()
            && self.members.iter().all(|m| m.unsynced.is_empty())
            && self
                .members
                .iter()
                .filter_map(|m| m.harness_ref())
                .all(|h| h.core.broadcast.in_flight() == 0 || !h.core.mode.decides())
    }

    /// Runs `steps` random steps, then lets the ensemble settle and checks it; returns
    /// how many transactions were committed while faults were injected.
    pub fn run(mut self, steps: usize) -> usize {
        for step in 0..steps {
            self.step = step;
            self.random_step();
            self.check_all();
        }
        let during_faults = self.committed.len();
        let (c, a) = (during_faults, self.acked);
        self.log(|| format!("{c} transactions committed, {a} writes acknowledged"));
        self.step = steps;
        self.faults = false;
        self.heal();
        for sid in 1..=self.n as Sid {
            self.restart(sid);
        }
        self.settle("after healing");
        self.check_converged();
        self.expire_everything();
        self.settle("after every session expired");
        self.check_converged();
        self.check_sessions_gone();
        during_faults
    }

    /// Runs settle rounds until the ensemble is settled and stays so for a while.
    pub fn settle(&mut self, what: &str) {
        let mut calm = 0;
        for _ in 0..4000 {
            self.settle_round();
            self.check_all();
            let settled = self.settled();
            self.advance(50);
            if settled {
                calm += 1;
                if calm > 20 {
                    return;
                }
            } else {
                calm = 0;
            }
        }
        self.fail(format!(
            "the ensemble does not settle {what} (links busy: {:?} {:?})",
            self.busy_elinks(),
            self.busy_qlinks()
        ));
    }
}

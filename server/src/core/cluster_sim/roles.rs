//! A member's life: the role its election decided, the core that runs it, what the
//! core's effects do, and how a role ends, a member crashes and restarts.

use rand::Rng;

use crate::ids::Zxid;
use crate::quorum::election::{Decision, Election, History, Role as Elected, Sid};
use crate::quorum::wire::packet::{PacketType, QuorumPacket};
use crate::storage::writer::LogEntry;
use crate::txn::apache;

use super::super::peer::{EpochFile, PeerOut, SyncPlan};
use super::super::testkit::Harness;
use super::super::{Core, Input, LeaderSetup};
use super::learner::{Down, Learning};
use super::world::{settings_for, timing, Role, Sim};

impl Sim {
    /// The election decided: the member starts its role from the tree it looked with (a
    /// leader's core, or a learner that dials its leader).
    pub fn decide(&mut self, sid: Sid, d: Decision) {
        let now = self.now();
        let now_ms = self.now_ms;
        let reconfig = self.reconfig;
        let observer = if reconfig {
            self.learns_as_observer(sid)
        } else {
            matches!(d.role, Elected::Observe(_))
        };
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
                    last_seen: m.ensemble.last_seen().clone(),
                    config: m.ensemble.committed().clone(),
                    accepted_epoch: m.disk.accepted,
                    current_epoch: m.disk.current,
                };
                let settings = settings_for(sid, reconfig);
                let mut h = Harness::with_settings(settings.clone());
                h.now = now;
                h.replace_core(|now| Core::new(settings, tree, now).into_leader(setup));
                m.role = Role::Leading {
                    h: Box::new(h),
                    serving: false,
                };
                self.absorb(sid);
            }
            Elected::Follow(leader) | Elected::Observe(leader) => {
                let m = self.m(sid);
                if reconfig && m.ensemble.server(leader).is_none() {
                    // `quorum::member::follow`: a leader it has no address for.
                    m.role = Role::Looking(tree);
                    self.end_role(
                        sid,
                        &format!("the elected leader {leader} is not in the config"),
                    );
                    return;
                }
                let hist = m.disk.history();
                let mut learning = Learning::new(leader, observer, now_ms, tree, hist);
                if reconfig {
                    let c = m.ensemble.committed();
                    learning.own_config = Some((c.to_string().into_bytes(), c.version));
                }
                m.role = Role::Learning(Box::new(learning));
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
        self.check_one_reconfig_in_flight(sid);
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

    pub fn route(&mut self, sid: Sid, out: PeerOut) {
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
            // What a member does with them is in `configs` (with reconfig off nothing is
            // proposed, and the first epoch keeps version 0).
            PeerOut::ConfigProposed(c) => self.config_proposed(sid, c),
            out @ PeerOut::ConfigActivated { .. } => self.config_activated(sid, &out),
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
                self.check_newleader_quorum(sid, epoch);
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
    pub fn sync_downs(&mut self, leader: Sid, plan: SyncPlan) -> Option<Vec<Down>> {
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
                    None => {
                        let mut loaded = loaded;
                        self.show_config(sid, &mut loaded);
                        loaded
                    }
                };
                (tree, was_leader)
            }
            Role::Learning(_) | Role::Looking(_) => {
                let mut loaded = m.disk.load();
                self.show_config(sid, &mut loaded);
                (loaded, false)
            }
        };
        let m = self.m(sid);
        m.log_failed = false;
        m.verified = 0;
        m.role = Role::Looking(tree);
        // `quorum::member`: a learner's sync kept what it saw proposed on disk.
        if let Some(next) = m.disk.proposed.clone() {
            m.ensemble.proposed(&next);
        }
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
        let handover = m.handover.take();
        if let Some(e) = m.election.as_mut() {
            match handover {
                Some(leader) => e.hand_over(leader, history.last_zxid),
                None => e.look(now, history),
            }
        }
        if let Some(leader) = handover {
            self.log(|| format!("member {sid} takes its role under {leader} (handover)"));
        }
        self.eapply(sid);
    }

    pub fn crash(&mut self, sid: Sid) {
        self.log(|| format!("member {sid} crashes"));
        // What was written but not fsynced may reach the disk anyway, in order (the page
        // cache flushed a prefix), unless the log had failed.
        let kept = if self.faults && !self.mr(sid).log_failed {
            self.rng.gen_range(0..=self.mr(sid).unsynced.len())
        } else {
            0
        };
        let m = self.m(sid);
        let survived: Vec<LogEntry> = m.unsynced.drain(..kept).collect();
        m.disk.log.extend(survived);
        m.unsynced.clear();
        m.role = Role::Down;
        m.election = None;
        m.timer = None;
        m.log_failed = false;
        m.handover = None;
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
        if self.mr(sid).alive() {
            return;
        }
        let ensemble = self.ensemble_from_disk(sid, &self.mr(sid).disk);
        self.m(sid).ensemble = ensemble;
        self.m(sid).activated.clear();
        let members = self.election_members(sid);
        let mut tree = self.mr(sid).disk.load();
        self.show_config(sid, &mut tree);
        let m = self.m(sid);
        // `storage::epoch::load`'s repair: a log ahead of currentEpoch takes the epoch a
        // learner announced in currentEpoch.tmp before persisting its sync.
        let of_log = Zxid::from_raw(tree.last_zxid()).epoch();
        if let Some(tmp) = m
            .disk
            .current_tmp
            .filter(|&t| m.disk.current < of_log && t >= of_log)
        {
            m.disk.current = tmp;
        }
        let history = History {
            last_zxid: Zxid::from_raw(tree.last_zxid()),
            current_epoch: u64::from(m.disk.current),
        };
        // `storage::epoch::load` refuses a currentEpoch behind the log's last epoch.
        let of_log = history.last_zxid.epoch();
        if m.disk.current < of_log {
            let current = m.disk.current;
            self.fail(format!(
                "member {sid} cannot start: its currentEpoch {current} is behind its log's \
                 epoch {of_log} (storage::epoch::load refuses it)"
            ));
        }
        let m = self.m(sid);
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
}

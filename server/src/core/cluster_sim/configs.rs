//! What a member does with configurations, as `quorum::member` does it: it starts from the
//! configuration its disk keeps (`ConfigFiles`: the last activated one, and a proposal not
//! yet committed), keeps a proposed one as its last seen, and on an activation tells its
//! election who votes now, persists it, and remembers a handover to another leader. A
//! looking member adopts a newer configuration a notification carries, as `election_net`
//! does.
//!
//! The invariants about configurations live here too: every activation is of a committed
//! configuration, versions never name two different ones, quorums (commits, NEWLEADER) are
//! counted against the configuration in force, and the ensemble ends on one.

use crate::core::peer::PeerOut;
use crate::ids::Zxid;
use crate::quorum::election::{History, PeerState, Sid};
use crate::quorum::member::designated_other;
use crate::quorum::membership::{Ensemble, Place};
use crate::quorum::verifier::QuorumVerifier;
use crate::storage::writer::LogEntry;

use super::super::reconfig::committed_config;
use super::disk::Disk;
use super::world::{config_with, Role, Sim};

/// Same members, whatever the version.
pub(super) fn same_members(a: &QuorumVerifier, b: &QuorumVerifier) -> bool {
    let mut b = b.clone();
    b.version = a.version;
    *a == b
}

impl Sim {
    /// The membership member `sid` starts with: what its disk keeps, else what it was
    /// configured with (a joiner: the initial configuration plus itself).
    pub fn ensemble_from_disk(&self, sid: Sid, disk: &Disk) -> Ensemble {
        let observers: Vec<Sid> = self.initial.observers().into_iter().collect();
        let configured = if self.is_joiner(sid) {
            let ids = self.initial.members().map(|s| s.id).chain([sid]);
            config_with(ids, &observers)
        } else {
            self.initial.clone()
        };
        let own = configured.member(sid).cloned();
        let mut committed = disk.config.clone().unwrap_or(configured);
        // `Ensemble::load`: a newer configuration that does not list it (it was removed).
        if let Some(newer) = disk
            .newest_active
            .as_ref()
            .filter(|n| n.version > committed.version)
        {
            committed = newer.clone();
        }
        Ensemble::new(sid, committed, disk.proposed.clone(), own)
    }

    /// Whether `sid` learns as an observer in its next role (`quorum::member::follow`).
    pub fn learns_as_observer(&self, sid: Sid) -> bool {
        let e = &self.mr(sid).ensemble;
        match e.place() {
            Place::Observer => true,
            Place::Voter => false,
            Place::Outside => e
                .me()
                .is_some_and(|s| s.role == crate::config::PeerType::Observer),
        }
    }

    /// The role of `sid` proposed (or, on a learner, logged) a reconfig: kept as the last
    /// configuration seen, on disk too (`zoo.cfg.dynamic.next`).
    pub fn config_proposed(&mut self, sid: Sid, qv: QuorumVerifier) {
        self.log(|| format!("member {sid}: config {:#x} proposed", qv.version));
        let m = self.m(sid);
        m.ensemble.proposed(&qv);
        m.disk.proposed = Some(qv);
    }

    /// A configuration became active on `sid` (its role's `ConfigActivated`, or an
    /// adoption): the member keeps it, its election counts its voters, its disk keeps it.
    pub fn config_activated(&mut self, sid: Sid, out: &PeerOut) {
        let PeerOut::ConfigActivated {
            config: qv,
            designated_leader,
        } = out
        else {
            return;
        };
        let role_leader = match &self.mr(sid).role {
            Role::Leading { .. } => Some(sid),
            Role::Following { .. } => self.qlinks.get(&sid).map(|q| q.leader),
            _ => None,
        };
        if let Some(leader) = role_leader {
            let m = self.m(sid);
            m.handover = designated_other(out, leader).or(m.handover);
        }
        self.log(|| {
            format!(
                "member {sid}: config {:#x} activated (designated {designated_leader:?}): {}",
                qv.version,
                qv.voters()
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            )
        });
        self.check_activation(sid, qv);
        let m = self.m(sid);
        if !m.ensemble.activated(qv) {
            return;
        }
        m.activated.push(qv.clone());
        let members = m.ensemble.election_members();
        if let Some(e) = m.election.as_mut() {
            e.set_members(members);
        }
        // `ConfigFiles::write_active`: zoo.cfg names the new file only if it lists this
        // member; the proposal file goes once as new or newer a configuration committed.
        m.disk.newest_active = Some(qv.clone());
        if m.ensemble.place() != Place::Outside {
            m.disk.config = Some(qv.clone());
        }
        if m.disk
            .proposed
            .as_ref()
            .is_some_and(|p| p.version <= qv.version)
        {
            m.disk.proposed = None;
        }
    }

    /// A looking member hears a configuration newer than its own in a notification: it
    /// takes it and starts its round again under it (`election_net`'s `adopt`).
    pub fn maybe_adopt(&mut self, sid: Sid, qv: QuorumVerifier) {
        let now = self.now_ms;
        let wall = self.now().wall_ms;
        let m = self.mr(sid);
        let looking = m
            .election
            .as_ref()
            .is_some_and(|e| e.state() == PeerState::Looking);
        if !looking || qv.version <= m.ensemble.committed().version {
            return;
        }
        self.log(|| format!("member {sid} adopts config {:#x}", qv.version));
        let out = PeerOut::ConfigActivated {
            config: qv.clone(),
            designated_leader: None,
        };
        self.config_activated(sid, &out);
        let m = self.m(sid);
        let Role::Looking(tree) = &mut m.role else {
            return;
        };
        // `/zookeeper/config` shows the committed configuration, as after a load.
        tree.set_config(qv.to_string().as_bytes(), qv.version, wall);
        let history = History {
            last_zxid: Zxid::from_raw(tree.last_zxid()),
            current_epoch: u64::from(m.disk.current),
        };
        if let Some(e) = m.election.as_mut() {
            e.look(now, history);
        }
    }

    /// What `quorum::member::load` does after recovery: `/zookeeper/config` shows the
    /// committed configuration.
    pub fn show_config(&self, sid: Sid, tree: &mut crate::tree::DataTree) {
        if self.reconfig {
            let c = self.mr(sid).ensemble.committed();
            tree.set_config(c.to_string().as_bytes(), c.version, self.now().wall_ms);
        }
    }

    // -----------------------------------------------------------------------------------
    // Invariants

    /// A transaction joined the committed sequence: a reconfig's configuration is
    /// committed from now on, and its version names no other configuration.
    pub(super) fn note_committed(&mut self, e: &LogEntry) {
        let Some(qv) = committed_config(e) else {
            return;
        };
        if qv.version != e.hdr.zxid {
            self.fail(format!(
                "the reconfig at {:#x} carries version {:#x}",
                e.hdr.zxid, qv.version
            ));
        }
        self.record_config(qv);
    }

    fn record_config(&mut self, qv: QuorumVerifier) {
        match self.configs.get(&qv.version) {
            Some(known) if *known != qv => self.fail(format!(
                "two configurations with version {:#x}: {known} and {qv}",
                qv.version
            )),
            Some(_) => {}
            None => {
                self.configs.insert(qv.version, qv);
            }
        }
    }

    /// The committed configuration in force just before `zxid`.
    pub(super) fn config_before(&self, zxid: i64) -> &QuorumVerifier {
        self.configs
            .range(..zxid)
            .next_back()
            .map_or(&self.initial, |(_, c)| c)
    }

    /// Member `sid` activates `qv`: it must be a committed configuration. A leader that
    /// starts serving activates the last configuration it saw, which NEWLEADER carried:
    /// a reconfig it saw proposed (whose transaction may be lost: the reconfig protocol
    /// completes it in the new epoch), or the version it stamps on a version-0
    /// configuration (ZOOKEEPER-1783). That one is committed by NEWLEADER's quorums, of
    /// the configuration before it and of itself.
    fn check_activation(&mut self, sid: Sid, qv: &QuorumVerifier) {
        if self.configs.contains_key(&qv.version) {
            self.record_config(qv.clone());
            return;
        }
        let epoch = match &self.mr(sid).role {
            Role::Leading { serving: true, h } => match &h.core.mode {
                super::super::peer::Mode::Leading(l) => l.epoch(),
                _ => None,
            },
            _ => None,
        };
        let Some(epoch) = epoch else {
            self.fail(format!(
                "member {sid} activates configuration {:#x}, which was never committed: {qv}",
                qv.version
            ));
        };
        let acked = self.newleader_ackers(sid, epoch);
        let before = self.config_before(qv.version).clone();
        if !(before.contains_quorum(&acked) && qv.contains_quorum(&acked)) {
            self.fail(format!(
                "leader {sid} activates configuration {qv} with NEWLEADER from {acked:?}, \
                 not a quorum of it and of {before}"
            ));
        }
        self.record_config(qv.clone());
    }

    /// The leader and the members that acknowledged its NEWLEADER in `epoch` (their
    /// `currentEpoch` is the epoch; a superset of those whose ACK it counted).
    fn newleader_ackers(&self, leader: Sid, epoch: u32) -> std::collections::BTreeSet<Sid> {
        let mut acked: std::collections::BTreeSet<Sid> = self
            .members
            .iter()
            .filter(|m| m.disk.current == epoch)
            .map(|m| m.sid)
            .collect();
        acked.insert(leader);
        acked
    }

    /// Which members' disks hold `zxid` (what survives any crash).
    pub(super) fn holders(&self, zxid: i64) -> std::collections::BTreeSet<Sid> {
        self.members
            .iter()
            .filter(|m| m.disk.holds(zxid))
            .map(|m| m.sid)
            .collect()
    }

    /// A transaction commits (the sim sees it first on its leader): the disks of a quorum
    /// of the configuration in force hold it, and for a reconfig of its new configuration
    /// too, so the acks of members outside the voters (joiners, removed members,
    /// observers) never made the quorum.
    pub(super) fn check_commit_quorum(&mut self, e: &LogEntry) {
        let holders = self.holders(e.hdr.zxid);
        let mut need = vec![self.config_before(e.hdr.zxid).clone()];
        if let Some(next) = committed_config(e) {
            need.push(next);
        }
        for c in need {
            if !c.contains_quorum(&holders) {
                self.fail(format!(
                    "{:#x} committed, but only {holders:?} hold it: no quorum of {c}",
                    e.hdr.zxid
                ));
            }
        }
    }

    /// A leader starts serving epoch `epoch`: the voters that acknowledged NEWLEADER
    /// (their `currentEpoch` is the epoch) make a quorum of the newest committed
    /// configuration, so a leader after a reconfig is chosen by the new voters.
    pub(super) fn check_newleader_quorum(&mut self, leader: Sid, epoch: u32) {
        let acked = self.newleader_ackers(leader, epoch);
        let newest = self.config_before(i64::MAX).clone();
        if !newest.contains_quorum(&acked) {
            self.fail(format!(
                "member {leader} serves epoch {epoch} with NEWLEADER from {acked:?}: no \
                 quorum of the committed configuration {newest}"
            ));
        }
    }

    /// A leader's proposals hold at most one reconfig not yet committed.
    pub(super) fn check_one_reconfig_in_flight(&self, sid: Sid) {
        let Some(h) = self.mr(sid).harness_ref() else {
            return;
        };
        let pending = h
            .core
            .broadcast
            .in_flight_entries()
            .filter(|e| committed_config(e).is_some())
            .count();
        if pending > 1 {
            self.fail(format!("leader {sid} has {pending} reconfigs in flight"));
        }
    }

    /// After healing: every member of the final configuration holds it, the leader is
    /// one of its voters with it in force, and exactly its voters vote.
    pub(super) fn check_configs_converged(&self) {
        let last = self.config_before(i64::MAX).clone();
        for m in &self.members {
            let mine = m.ensemble.committed();
            if last.member(m.sid).is_some() && *mine != last {
                self.fail(format!(
                    "member {} is in the final configuration {last} but has {mine}",
                    m.sid
                ));
            }
            if mine.version > last.version {
                self.fail(format!("member {} has an uncommitted {mine}", m.sid));
            }
            if let Role::Leading { h, .. } = &m.role {
                if !last.is_voter(m.sid) {
                    self.fail(format!(
                        "member {} leads outside the voters of {last}",
                        m.sid
                    ));
                }
                if let super::super::peer::Mode::Leading(l) = &h.core.mode {
                    if *l.configs().0 != last {
                        self.fail(format!(
                            "leader {} counts quorums of {}, not of {last}",
                            m.sid,
                            l.configs().0
                        ));
                    }
                }
            }
            let voting = m.ensemble.place() == Place::Voter && last.member(m.sid).is_some();
            if voting != last.is_voter(m.sid) {
                self.fail(format!(
                    "member {} votes: {voting}, in the final configuration {last}",
                    m.sid
                ));
            }
            for w in m.activated.windows(2) {
                if w[0].version >= w[1].version {
                    self.fail(format!(
                        "member {} activated {} after {}",
                        m.sid, w[1], w[0]
                    ));
                }
            }
        }
    }
}

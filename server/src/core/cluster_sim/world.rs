//! The simulated ensemble: members, their roles, the network, and the random steps.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::quorum::election::{self, Election, Members, Sid, Timing};
use crate::quorum::membership::Ensemble;
use crate::quorum::verifier::QuorumVerifier;
use crate::quorum::wire::packet::QuorumPacket;
use crate::storage::writer::LogEntry;
use crate::tree::DataTree;

use super::super::testkit::{settings, Harness};
use super::super::{CoreSettings, Now};
use super::clients::Client;
use super::disk::Disk;
use super::learner::{Down, Learning};

pub(super) const TICK_MS: u64 = 500;
pub(super) const SYNC_LIMIT: u32 = 5;
pub(super) const INIT_LIMIT: u32 = 10;
const CLIENTS: usize = 4;
/// The password of the `super` user the reconfig client authenticates as (reconfig is
/// restricted to it, as in Apache, unless ACLs are skipped).
pub(super) const SUPER_PASSWORD: &str = "super:sim";

/// The simulated ensemble's configuration without reconfig: voters 1..=n on 127.0.0.N.
pub(super) fn config_of(n: usize) -> QuorumVerifier {
    let text: String = (1..=n)
        .map(|i| format!("server.{i}=127.0.0.{i}:2888:3888:participant\n"))
        .collect();
    QuorumVerifier::parse(&text).expect("the simulated config")
}

/// Member `sid`'s line in a configuration, as a reconfig names it (client address too).
pub(super) fn server_line(sid: Sid, observer: bool) -> String {
    let role = if observer { "observer" } else { "participant" };
    format!("server.{sid}=127.0.0.{sid}:2888:3888:{role};127.0.0.{sid}:2181")
}

/// The lines of `sids`, each a participant unless in `observers`, and no version (a
/// configuration from zoo.cfg alone).
pub(super) fn config_with(sids: impl Iterator<Item = Sid>, observers: &[Sid]) -> QuorumVerifier {
    let text: Vec<String> = sids
        .map(|s| server_line(s, observers.contains(&s)))
        .collect();
    QuorumVerifier::parse(&text.join("\n")).expect("the simulated config")
}

pub(super) fn settings_for(sid: Sid, reconfig: bool) -> CoreSettings {
    let mut s = CoreSettings {
        server_id: sid as i64,
        tick: Duration::from_millis(TICK_MS),
        min_session_timeout_ms: 1000,
        max_session_timeout_ms: 20_000,
        sync_limit: SYNC_LIMIT,
        init_limit: INIT_LIMIT,
        ..settings()
    };
    if reconfig {
        s.prep.reconfig_enabled = true;
        s.super_digest = Some(crate::acl::digest_id(SUPER_PASSWORD));
    }
    s
}

pub(super) fn timing() -> Timing {
    Timing {
        finalize_wait: 200,
        min_interval: 200,
        max_interval: 1600,
        ..Timing::default()
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
    /// What the member knows of the membership (`quorum::member`'s `Ensemble`): loaded
    /// from its disk at each start, moved forward by proposals and activations.
    pub ensemble: Ensemble,
    /// The leader a committed reconfig designated in this role, when it is not the
    /// role's leader: the next role is under it, without a round (`RoleEnd.handover`).
    pub handover: Option<Sid>,
    /// Every configuration it activated since it started, in order (observed, for the
    /// invariants).
    pub activated: Vec<QuorumVerifier>,
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

    pub fn describe(&self) -> String {
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
    /// Members: voters `1..=voters`, then observers, then joiners up to `n`.
    pub n: usize,
    pub voters: usize,
    pub observers: usize,
    /// Reconfig is on: the configuration has a version, a `super` client issues
    /// reconfigs ([`super::reconfig`]), and the members after the observers are joiners.
    pub reconfig: bool,
    /// The configuration every voter and observer starts with (version 0).
    pub initial: QuorumVerifier,
    /// The committed configurations, by version ([`super::configs`]).
    pub configs: BTreeMap<i64, QuorumVerifier>,
    /// The reconfig client, among `clients` (reconfig on only).
    pub admin: Option<usize>,
    /// Reconfigs acknowledged, and refused with one of Apache's errors.
    pub reconfigs_committed: usize,
    pub reconfig_errors: usize,
    pub now_ms: u64,
    pub origin: Now,
    pub members: Vec<Member>,
    /// Election connections up, as (lower sid, higher sid).
    pub econn: BTreeSet<(Sid, Sid)>,
    /// Notifications in flight on each direction of a connection.
    pub elinks: BTreeMap<(Sid, Sid), VecDeque<Notice>>,
    /// The notification waiting for a connection to be made, per direction.
    pub epending: BTreeMap<(Sid, Sid), Notice>,
    /// Learner connections, by learner.
    pub qlinks: BTreeMap<Sid, QLink>,
    pub next_conn: u64,
    /// While a partition lasts: the members cut off from the others.
    pub island: Option<BTreeSet<Sid>>,
    pub next_peer_tick: u64,
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
    /// This seed's weather: how many more faults than usual (the chance that a step is
    /// replaced by one), and how far the clock may jump in one step (far jumps make
    /// learners and leaders time out).
    pub extra_faults: f64,
    pub max_advance: u64,
    /// A learner may crash between persisting its sync and writing `currentEpoch` at
    /// NEWLEADER (see the ignored test in `mod.rs`).
    pub crash_in_sync_window: bool,
    pub trace: bool,
}

/// A notification on the wire: the vote, and (reconfig on) the sender's configuration,
/// which a looking member adopts when it is newer than its own.
#[derive(Clone)]
pub(super) struct Notice {
    pub out: election::Outgoing,
    pub config: Option<QuorumVerifier>,
}

pub(super) fn pair(a: Sid, b: Sid) -> (Sid, Sid) {
    (a.min(b), a.max(b))
}

impl Sim {
    pub fn new(seed: u64, voters: usize, observers: usize) -> Sim {
        Sim::build(seed, voters, observers, None)
    }

    /// An ensemble with reconfig on and `joiners` members that start outside its
    /// configuration, each with the configuration plus itself (as an operator starts one).
    pub fn with_reconfig(seed: u64, voters: usize, observers: usize, joiners: usize) -> Sim {
        Sim::build(seed, voters, observers, Some(joiners))
    }

    fn build(seed: u64, voters: usize, observers: usize, joiners: Option<usize>) -> Sim {
        let reconfig = joiners.is_some();
        let n = voters + observers + joiners.unwrap_or(0);
        let observer_ids: Vec<Sid> = (voters as Sid + 1..=(voters + observers) as Sid).collect();
        let initial = if reconfig {
            config_with(1..=(voters + observers) as Sid, &observer_ids)
        } else {
            config_of(voters)
        };
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
            observers,
            reconfig,
            configs: BTreeMap::from([(initial.version, initial.clone())]),
            initial,
            admin: None,
            reconfigs_committed: 0,
            reconfig_errors: 0,
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
            extra_faults: 0.0,
            max_advance: 120,
            crash_in_sync_window: false,
            trace: std::env::var("ZKRS_CLUSTER_SIM_TRACE").is_ok(),
        };
        if reconfig {
            sim.admin = Some(sim.clients.len());
            sim.clients.push(Client::default());
        }
        for sid in 1..=n as Sid {
            let ensemble = sim.ensemble_from_disk(sid, &Disk::default());
            sim.members.push(Member {
                sid,
                disk: Disk::default(),
                ensemble,
                handover: None,
                activated: Vec::new(),
                unsynced: VecDeque::new(),
                election: None,
                timer: None,
                role: Role::Down,
                verified: 0,
                log_failed: false,
            });
        }
        sim.extra_faults = [0.0, 0.0, 0.005, 0.02][sim.rng.gen_range(0..4)];
        sim.max_advance = [120, 120, 400][sim.rng.gen_range(0..3)];
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

    pub fn reachable(&self, a: Sid, b: Sid) -> bool {
        self.island
            .as_ref()
            .is_none_or(|i| i.contains(&a) == i.contains(&b))
    }

    /// Who votes and who observes, as member `sid`'s election sees it.
    pub fn election_members(&self, sid: Sid) -> Members {
        if self.reconfig {
            return self.mr(sid).ensemble.election_members();
        }
        Members {
            voters: (1..=self.voters as Sid).collect(),
            observers: (self.voters as Sid + 1..=self.n as Sid).collect(),
        }
    }

    /// Whether `sid` is one of the joiners (outside the initial configuration).
    pub fn is_joiner(&self, sid: Sid) -> bool {
        sid as usize > self.voters + self.observers
    }
}

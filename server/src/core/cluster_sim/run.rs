//! The clock, partitions, the random steps of a run, and the settling at its end.

use std::collections::BTreeSet;

use rand::Rng;

use crate::quorum::election::Sid;

use super::super::Input;
use super::world::{Role, Sim, INIT_LIMIT, SYNC_LIMIT, TICK_MS};

/// What a run did under faults.
pub(super) struct Outcome {
    /// Transactions committed.
    pub committed: usize,
    /// Reconfigs acknowledged to the reconfig client, and refused with Apache's errors.
    pub reconfigs_committed: usize,
    pub reconfig_errors: usize,
}

impl Sim {
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

    pub fn random_member(&mut self) -> Sid {
        self.rng.gen_range(1..=self.n as Sid)
    }

    /// One random step: mostly clients, deliveries, fsyncs and time; now and then a fault.
    pub fn random_step(&mut self) {
        if self.reconfig && self.rng.gen_bool(0.05) {
            self.reconfig_step();
            return;
        }
        let mut roll = self.rng.gen_range(0..10_000);
        if self.rng.gen_bool(self.extra_faults) {
            roll = self.rng.gen_range(9940..10_000);
        }
        match roll {
            0..=2499 => {
                // The reconfig client takes its own steps.
                let plain = self.clients.len() - usize::from(self.admin.is_some());
                let c = self.rng.gen_range(0..plain);
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
                let d = self.rng.gen_range(5..=self.max_advance);
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
    pub fn drop_a_connection(&mut self) {
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
        // Bounded: time must move on for a round to end (members that look answer each
        // other; see `observer_ping_pong` for an exchange that once had no end).
        for _ in 0..100 {
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
    /// what was committed while faults were injected.
    pub fn run(mut self, steps: usize) -> Outcome {
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
        if self.reconfig {
            self.check_configs_converged();
        }
        self.expire_everything();
        self.settle("after every session expired");
        self.check_converged();
        self.check_sessions_gone();
        Outcome {
            committed: during_faults,
            reconfigs_committed: self.reconfigs_committed,
            reconfig_errors: self.reconfig_errors,
        }
    }

    /// Runs settle rounds until the ensemble is settled and stays so for a while.
    pub fn settle(&mut self, what: &str) {
        let mut calm = 0;
        for round in 0..4000 {
            if round % 300 == 299 {
                self.move_past_promised_epochs();
            }
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

    /// ZAB's rule, Apache's too: a member that promised a higher epoch (its
    /// `acceptedEpoch`, from a leader that then failed) refuses the LEADERINFO of an
    /// established leader of a lower epoch, and joins only once the ensemble moves to a
    /// new epoch. When such a member is left out at the end, the leader restarts, so that
    /// the next election chooses an epoch above every promise.
    fn move_past_promised_epochs(&mut self) {
        let leader = self.members.iter().find_map(|m| match &m.role {
            Role::Leading { h, serving: true } => Some((m.sid, h.core.known_zxid())),
            _ => None,
        });
        let Some((leader, known)) = leader else {
            return;
        };
        let epoch = crate::ids::Zxid::from_raw(known).epoch();
        let promised = self
            .members
            .iter()
            .any(|m| m.disk.accepted > epoch && !matches!(m.role, Role::Following { .. }));
        if promised {
            self.log(|| {
                format!("leader {leader} restarts: a member promised an epoch above {epoch}")
            });
            self.crash(leader);
            self.restart(leader);
        }
    }
}

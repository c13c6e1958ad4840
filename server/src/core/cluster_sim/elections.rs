//! The election network: one connection per pair of members, a FIFO queue of
//! notifications each way, dialled when a member has something to send. With reconfig
//! on a notification carries its sender's configuration, as Apache's version-2
//! notifications do, and a looking member adopts a newer one.

use std::collections::VecDeque;

use rand::Rng;

use crate::quorum::election::{self, Notification, Sid};

use super::world::{pair, Notice, Sim};

impl Sim {
    pub fn eapply(&mut self, sid: Sid) {
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
                        for to in self.election_members(sid).voters {
                            self.esend(sid, to, msg);
                        }
                    }
                    election::Effect::ConnectAll => {
                        for to in self.election_members(sid).voters {
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

    pub fn esend(&mut self, from: Sid, to: Sid, msg: election::Outgoing) {
        if from == to {
            return;
        }
        let msg = Notice {
            out: msg,
            config: self
                .reconfig
                .then(|| self.mr(from).ensemble.committed().clone()),
        };
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

    /// Whether either side would dial the other: it has a notification for it, or it
    /// is a voter in the other's view (the election sends only to voters, and answers
    /// what arrives). Two members outside each other's voters (two joiners) never connect.
    fn would_dial(&self, a: Sid, b: Sid) -> bool {
        self.epending.contains_key(&(a, b))
            || self.epending.contains_key(&(b, a))
            || self.election_members(a).voters.contains(&b)
            || self.election_members(b).voters.contains(&a)
    }

    /// Makes the election connection between `a` and `b` if both run, can reach each
    /// other and one would dial: the pending notifications go first, then each looking
    /// side resends its vote.
    pub fn econnect(&mut self, a: Sid, b: Sid) {
        if a == b
            || !self.mr(a).alive()
            || !self.mr(b).alive()
            || !self.reachable(a, b)
            || self.econn.contains(&pair(a, b))
            || !self.would_dial(a, b)
        {
            return;
        }
        self.econn.insert(pair(a, b));
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
        let Notice { out: msg, config } = msg;
        self.log(|| format!("{from} -> {to}: {:?} {:?}", msg.state, msg.vote));
        if let Some(qv) = config {
            self.maybe_adopt(to, qv);
        }
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
}

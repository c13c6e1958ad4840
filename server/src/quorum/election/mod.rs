//! Fast leader election (Apache's `FastLeaderElection`) as a sans-I/O state machine.
//!
//! One [`Election`] per member. The driver feeds it inputs (received notifications, timer
//! ticks, connections made and lost, a new round when the member starts looking again) and
//! carries out the [`Effect`]s it returns: notifications to send, when to tick next, and
//! the outcome. Time is always an input (`now`, milliseconds on any monotonic origin); the
//! machine never reads a clock, so a simulator can drive it deterministically.
//!
//! The rules follow Apache 3.8/3.9 so that zkrs and Java members elect together:
//! - votes are ordered by (peer epoch, zxid, sid) (`totalOrderPredicate`);
//! - a notification from a higher election epoch (round) is adopted and resets the round;
//! - a quorum of voters agreeing with my proposal starts the finalize wait, and any better
//!   vote arriving during it reopens the round (`lookForLeader`); unlike Apache, the wait is
//!   skipped when no vote that could still arrive can change the outcome (see
//!   [`Election::settled`]);
//! - FOLLOWING/LEADING notifications let a late joiner find an established leader, either
//!   in its own round or through the out-of-election votes, if `checkLeader` passes;
//! - a member that is not looking answers a looking one with its decided vote, and a
//!   looking member answers a looking one that is behind in rounds (`WorkerReceiver`) or,
//!   unlike Apache, one of its round that proposes a worse candidate; a non-voter is
//!   answered only while it looks (Apache answers it always, see [`Election::receive`]);
//! - while nothing arrives, re-sends back off from 200 ms to 60 s.
//!
//! Driving it: [`Election::start`] when the member starts looking (its last zxid and
//! `currentEpoch` in a [`History`]); then [`Election::receive`] for every decoded
//! notification (the sender's sid from the connection), [`Election::tick`] when the last
//! [`Effect::ArmTimer`] deadline passes, [`Election::connected`] / [`Election::lost`] as
//! election connections come and go, and [`Election::take_effects`] after each call.
//! Once [`Effect::Decided`] comes out, the member runs ZAB in that role but keeps feeding
//! notifications in, so that looking peers are answered; after syncing it calls
//! [`Election::update_peer_epoch`], and when ZAB gives up it calls [`Election::look`].
//!
//! The wire encoding lives in `quorum::wire`; the driver maps between the two. This module
//! ignores the config string and the notification version: it assumes version-2 peers with
//! reconfig disabled (a static config), which is Apache's default.

#[cfg(test)]
mod sim_tests;

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::Zxid;

/// A member's id (`myid`).
pub type Sid = u64;

/// Milliseconds on the driver's monotonic clock.
pub type Millis = u64;

/// A member's state as election sees it (`QuorumPeer.ServerState`, same order as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PeerState {
    Looking,
    Following,
    Leading,
    Observing,
}

/// A vote: who should lead, and what makes that member the best choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    /// The proposed leader's sid.
    pub leader: Sid,
    /// The proposed leader's last zxid.
    pub zxid: Zxid,
    /// The round (logical clock) this vote was cast in.
    pub election_epoch: u64,
    /// The proposed leader's currentEpoch.
    pub peer_epoch: u64,
}

impl Vote {
    /// Whether this vote's candidate is better than `other`'s (`totalOrderPredicate`):
    /// higher peer epoch, then higher zxid, then higher sid. The round does not count.
    /// Compared as the Java longs they are on the wire, so an observer's placeholder vote
    /// (`Long.MIN_VALUE` everywhere) loses to every real one.
    pub fn beats(&self, other: &Vote) -> bool {
        self.order_key() > other.order_key()
    }

    fn order_key(&self) -> (i64, i64, i64) {
        (self.peer_epoch as i64, self.zxid.raw(), self.leader as i64)
    }
}

/// A notification received from a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notification {
    /// The sender (known from the connection, not carried in the message).
    pub from: Sid,
    pub state: PeerState,
    pub vote: Vote,
}

/// A notification to send; the sender is this member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing {
    pub state: PeerState,
    pub vote: Vote,
}

/// What this member does once election is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Lead,
    Follow(Sid),
    Observe(Sid),
}

/// The outcome of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub role: Role,
    /// The vote decided on; its election epoch is the round it was decided in.
    pub vote: Vote,
}

/// An instruction for the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Send to one peer.
    Send { to: Sid, msg: Outgoing },
    /// Send to every voter except this member (its own copy is counted internally).
    SendToVoters(Outgoing),
    /// No peer connection is up: dial every voter (Apache's `connectAll`).
    ConnectAll,
    /// Call [`Election::tick`] at `at` (replaces any earlier request).
    ArmTimer { at: Millis },
    /// The round is over; the member takes this role.
    Decided(Decision),
}

/// Election timings (Apache's `finalizeWait` and notification intervals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a quorum for my proposal must go unchallenged before deciding.
    pub finalize_wait: Millis,
    /// The first re-send interval while nothing arrives.
    pub min_interval: Millis,
    /// The cap of the doubling re-send interval.
    pub max_interval: Millis,
    /// Apache's rules exactly, without zkrs's two additions: the finalize wait runs even
    /// when the round is settled ([`Election::settled`]), and a looking peer of my round
    /// is not answered. Off in zkrs; the simulator turns it on to play Apache members.
    pub apache_rules: bool,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            finalize_wait: 200,
            min_interval: 200,
            max_interval: 60_000,
            apache_rules: false,
        }
    }
}

/// The ensemble as election sees it: voters vote, observers only learn the outcome. A
/// member in neither set (a joiner, a removed member) learns the outcome as a follower.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    pub voters: BTreeSet<Sid>,
    pub observers: BTreeSet<Sid>,
}

/// What this member knows of its own history when a round starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    /// The last zxid of the loaded database (`getLastLoggedZxid`).
    pub last_zxid: Zxid,
    /// The `currentEpoch` file's value.
    pub current_epoch: u64,
}

/// A vote as recorded from a peer, with the state it was sent in (`Vote.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ballot {
    state: PeerState,
    vote: Vote,
}

/// Which of Apache's `Vote.equals` cases applies when counting agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agreement {
    /// The current round's votes: Apache stores FOLLOWING/LEADING ones there without a
    /// version, so against the (versioned) notification only the leader is compared.
    Round,
    /// The out-of-election votes: all versioned, so the leader and peer epoch compare.
    OutOfElection,
}

impl Ballot {
    fn agrees(&self, target: &Ballot, how: Agreement) -> bool {
        if self.state == PeerState::Looking || target.state == PeerState::Looking {
            self.vote == target.vote
        } else {
            match how {
                Agreement::Round => self.vote.leader == target.vote.leader,
                Agreement::OutOfElection => {
                    self.vote.leader == target.vote.leader
                        && self.vote.peer_epoch == target.vote.peer_epoch
                }
            }
        }
    }
}

/// The placeholder a non-voter proposes (Apache's `Long.MIN_VALUE` fields).
const NON_VOTER: i64 = i64::MIN;

/// Fast leader election for one member.
#[derive(Debug)]
pub struct Election {
    me: Sid,
    members: Members,
    timing: Timing,
    state: PeerState,
    /// The logical clock: the round this member is in.
    clock: u64,
    /// My own candidacy (`getInitId`, `getInitLastLoggedZxid`, `getPeerEpoch`).
    init: Vote,
    /// The vote I currently propose; its election epoch is always `clock`.
    proposal: Vote,
    /// The decided vote, answered to looking peers once not looking.
    current: Vote,
    /// Votes of the current round (`recvset`).
    round: BTreeMap<Sid, Ballot>,
    /// FOLLOWING/LEADING votes of any round (`outofelection`).
    out_of_election: BTreeMap<Sid, Ballot>,
    /// The current re-send interval (`notTimeout`).
    interval: Millis,
    resend_at: Option<Millis>,
    /// Set while a quorum agrees with my proposal and the finalize wait runs.
    finalize_at: Option<Millis>,
    armed: Option<Millis>,
    connected: BTreeSet<Sid>,
    /// Whether a settled round may be decided without the finalize wait
    /// ([`Election::settled`]). Not in the rounds after the member starts: the voters it
    /// has no connection to then are most likely starting too, and a whole ensemble
    /// started at once should elect its best member, as Apache's does. After a role
    /// ended, the voter it has no connection to is most likely the one that failed.
    settle_early: bool,
    effects: Vec<Effect>,
}

impl Election {
    /// A member that starts looking at `now` (its first round).
    pub fn start(
        now: Millis,
        me: Sid,
        members: Members,
        history: History,
        timing: Timing,
    ) -> Election {
        let placeholder = Vote {
            leader: me,
            zxid: history.last_zxid,
            election_epoch: 0,
            peer_epoch: history.current_epoch,
        };
        let mut e = Election {
            me,
            members,
            timing,
            state: PeerState::Looking,
            clock: 0,
            init: placeholder,
            proposal: placeholder,
            current: placeholder,
            round: BTreeMap::new(),
            out_of_election: BTreeMap::new(),
            interval: timing.min_interval,
            resend_at: None,
            finalize_at: None,
            armed: None,
            connected: BTreeSet::new(),
            settle_early: false,
            effects: Vec::new(),
        };
        e.begin_round(now, history);
        e
    }

    /// A new configuration (a reconfig committed): who votes from the next round on. A
    /// member in a role announces the state of its new place from now on: a joiner that
    /// was added, or an observer that became a participant, answers FOLLOWING, as Apache's
    /// `learningState` does after `updateLearnerType`.
    pub fn set_members(&mut self, members: Members) {
        self.members = members;
        if matches!(self.state, PeerState::Following | PeerState::Observing) {
            self.state = self.learning_state();
        }
    }

    /// How a member that learns from a leader announces itself (`learningState`): only an
    /// observer observes; a voter, a joiner not yet added and a removed member follow.
    fn learning_state(&self) -> PeerState {
        if self.members.observers.contains(&self.me) {
            PeerState::Observing
        } else {
            PeerState::Following
        }
    }

    /// A committed reconfig named `leader` to lead the new configuration
    /// (COMMITANDACTIVATE / INFORMANDACTIVATE): the member takes its role under that
    /// leader at once, without a round, as Apache's `updateVote` and `updateServerState`
    /// do, and answers looking peers with that vote. If the designated leader does not
    /// come up, the role fails and [`Election::look`] starts a round as usual.
    pub fn hand_over(&mut self, leader: Sid, zxid: Zxid) {
        let vote = Vote {
            leader,
            zxid,
            election_epoch: self.clock,
            peer_epoch: self.current.peer_epoch,
        };
        self.decide(vote);
    }

    /// Starts a new round (the member lost its leader or its followers): the logical clock
    /// moves on and the member proposes itself with its history as it is now.
    pub fn look(&mut self, now: Millis, history: History) {
        self.settle_early = true;
        self.begin_round(now, history);
    }

    fn begin_round(&mut self, now: Millis, history: History) {
        self.state = PeerState::Looking;
        self.clock += 1;
        self.init = if self.is_voter() {
            Vote {
                leader: self.me,
                zxid: history.last_zxid,
                election_epoch: self.clock,
                peer_epoch: history.current_epoch,
            }
        } else {
            Vote {
                leader: NON_VOTER as u64,
                zxid: Zxid::from_raw(NON_VOTER),
                election_epoch: self.clock,
                peer_epoch: NON_VOTER as u64,
            }
        };
        self.proposal = self.init;
        self.round.clear();
        self.out_of_election.clear();
        self.interval = self.timing.min_interval;
        self.finalize_at = None;
        self.resend_at = Some(now + self.interval);
        self.armed = None;
        self.send_notifications(now);
        self.arm();
    }

    /// A notification arrived from `n.from`.
    pub fn receive(&mut self, now: Millis, n: Notification) {
        // Replies made at receipt, whatever the round is doing (`WorkerReceiver`).
        if !self.members.voters.contains(&n.from) {
            // A looking non-voter (an observer, a joiner) learns what I think, and its vote
            // never counts. One that is not looking sent an answer, which needs none:
            // Apache answers it too, so two members outside each other's voters (two
            // joiners, two removed members) would answer each other for ever once one
            // notification is between them, and a looking voter and an observer for as
            // long as the voter looks.
            if n.state == PeerState::Looking {
                let vote = Vote {
                    election_epoch: self.clock,
                    ..self.current_vote()
                };
                self.send(n.from, vote);
            }
            return;
        }
        if self.state != PeerState::Looking {
            // A late joiner learns the established leader from my decided vote.
            if n.state == PeerState::Looking {
                self.send(n.from, self.current);
            }
            return;
        }
        let behind = n.vote.election_epoch < self.clock;
        let worse_in_my_round = !self.timing.apache_rules
            && n.vote.election_epoch == self.clock
            && self.proposal.beats(&n.vote);
        if n.state == PeerState::Looking && (behind || worse_in_my_round) {
            // Apache answers only a peer behind in rounds. A peer of my round that proposes
            // a worse candidate is answered too (zkrs's addition): it has not heard my
            // proposal, typically because it was still following when I sent it, and would
            // otherwise wait for the next re-send (200 ms or more). Once it adopts my
            // proposal its votes equal mine and get no answer, so this cannot ping-pong.
            self.send(n.from, self.proposal);
        }

        // The round's loop received something: its poll timer starts over.
        self.resend_at = Some(now + self.interval);
        if self.finalize_at.is_some() {
            if !n.vote.beats(&self.proposal) {
                // Apache drops what cannot change the outcome and waits again. A vote of
                // this round is still recorded: it may be the last one the wait was for.
                if n.state == PeerState::Looking
                    && n.vote.election_epoch == self.clock
                    && self.members.voters.contains(&n.vote.leader)
                {
                    self.round.insert(
                        n.from,
                        Ballot {
                            state: n.state,
                            vote: n.vote,
                        },
                    );
                    if self.settled() {
                        let vote = self.proposal;
                        self.decide(vote);
                        return;
                    }
                }
                self.finalize_at = Some(now + self.timing.finalize_wait);
                self.arm();
                return;
            }
            self.finalize_at = None;
        }
        self.process(now, n);
        self.arm();
    }

    /// The timer armed through [`Effect::ArmTimer`] fired (early or stale ticks are fine).
    pub fn tick(&mut self, now: Millis) {
        self.armed = None;
        if self.state != PeerState::Looking {
            return;
        }
        if let Some(at) = self.finalize_at {
            if now >= at {
                let vote = self.proposal;
                self.decide(vote);
                return;
            }
        } else if let Some(at) = self.resend_at {
            if now >= at {
                if self.connected.is_empty() {
                    self.effects.push(Effect::ConnectAll);
                } else {
                    self.send_notifications(now);
                }
                self.interval = (self.interval * 2).min(self.timing.max_interval);
                self.resend_at = Some(now + self.interval);
            }
        }
        self.arm();
    }

    /// A connection to `peer` is up: a looking member (re)sends its vote over it, as
    /// Apache's send worker re-sends the last notification on a new connection.
    pub fn connected(&mut self, peer: Sid) {
        self.connected.insert(peer);
        if self.state == PeerState::Looking && peer != self.me {
            self.send(peer, self.proposal);
        }
    }

    /// The connection to `peer` is down. If the finalize wait was only waiting for that
    /// peer's vote, the round is settled without it.
    pub fn lost(&mut self, peer: Sid) {
        self.connected.remove(&peer);
        if self.state == PeerState::Looking && self.finalize_at.is_some() && self.settled() {
            let vote = self.proposal;
            self.decide(vote);
        }
    }

    /// After syncing with a leader of a new epoch, advertise it (Apache's
    /// `updateElectionVote`): peers compare the peer epoch of FOLLOWING/LEADING votes.
    pub fn update_peer_epoch(&mut self, epoch: u64) {
        self.current.peer_epoch = epoch;
    }

    /// The effects accumulated since the last call.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn state(&self) -> PeerState {
        self.state
    }

    /// The logical clock (the round).
    pub fn round(&self) -> u64 {
        self.clock
    }

    /// My proposal while looking, the decided vote otherwise.
    pub fn current_vote(&self) -> Vote {
        if self.state == PeerState::Looking {
            self.proposal
        } else {
            self.current
        }
    }

    fn is_voter(&self) -> bool {
        self.members.voters.contains(&self.me)
    }

    fn send(&mut self, to: Sid, vote: Vote) {
        self.effects.push(Effect::Send {
            to,
            msg: Outgoing {
                state: self.state,
                vote,
            },
        });
    }

    /// My proposal to every voter; my own copy goes straight into the round, as Apache's
    /// loopback would deliver it.
    fn send_notifications(&mut self, now: Millis) {
        let msg = Outgoing {
            state: PeerState::Looking,
            vote: self.proposal,
        };
        self.effects.push(Effect::SendToVoters(msg));
        if self.is_voter() {
            self.process(
                now,
                Notification {
                    from: self.me,
                    state: PeerState::Looking,
                    vote: self.proposal,
                },
            );
        }
    }

    /// One notification through the round's loop (the body of `lookForLeader`).
    fn process(&mut self, now: Millis, n: Notification) {
        if self.state != PeerState::Looking
            || !self.members.voters.contains(&n.from)
            || !self.members.voters.contains(&n.vote.leader)
        {
            return;
        }
        match n.state {
            PeerState::Looking => self.looking_notification(now, n),
            // Observers never vote.
            PeerState::Observing => {}
            PeerState::Following | PeerState::Leading => self.established_notification(n),
        }
    }

    fn looking_notification(&mut self, now: Millis, n: Notification) {
        // -1 marks a member with no usable history; Apache leaves it out of the round.
        if self.init.zxid.raw() == -1 || n.vote.zxid.raw() == -1 {
            return;
        }
        if n.vote.election_epoch > self.clock {
            // A later round is under way: join it afresh, keeping the better candidate.
            self.clock = n.vote.election_epoch;
            self.round.clear();
            let best = if n.vote.beats(&self.init) {
                n.vote
            } else {
                self.init
            };
            self.proposal = Vote {
                election_epoch: self.clock,
                ..best
            };
            self.send_notifications(now);
        } else if n.vote.election_epoch < self.clock {
            return;
        } else if n.vote.beats(&self.proposal) {
            self.proposal = Vote {
                election_epoch: self.clock,
                ..n.vote
            };
            self.send_notifications(now);
        }
        if self.state != PeerState::Looking {
            return;
        }
        self.round.insert(
            n.from,
            Ballot {
                state: PeerState::Looking,
                vote: n.vote,
            },
        );
        let mine = Ballot {
            state: PeerState::Looking,
            vote: self.proposal,
        };
        if self.settled() {
            let vote = self.proposal;
            self.decide(vote);
        } else if self.has_quorum(&self.round, &mine, Agreement::Round)
            && self.finalize_at.is_none()
        {
            self.finalize_at = Some(now + self.timing.finalize_wait);
        }
    }

    /// Whether the round can be decided now, without the finalize wait: a quorum agrees
    /// with my proposal, and every other voter I hold an election connection to has voted
    /// in this round, for my proposal too (only in rounds after a role ended, see
    /// `settle_early`).
    ///
    /// Why this is safe: the finalize wait only gives better votes time to arrive, it is
    /// not what makes election safe. The elected member has the highest (epoch, zxid) of
    /// the quorum that voted for it (each voter proposes the best of its own history and
    /// of what it heard), and a committed transaction is on a quorum, which meets that
    /// one, so every committed transaction is in the elected member's history. ZAB's
    /// discovery and sync, which bring the others to that history, are unchanged.
    ///
    /// Why it rarely changes the outcome: every vote that could still come is from a
    /// voter I have no connection to (after a leader dies, usually that leader), and it
    /// cannot send one before a connection is made. If such a vote does come later and is
    /// better, it is answered with the decided vote as a late joiner's is; its extra
    /// transactions were never committed, and the new leader's sync drops them. Apache
    /// members keep their finalize wait: seeing the same votes, they decide the same way
    /// 200 ms later; one that sees a better vote first is the case of a vote arriving
    /// just after Apache's own wait, a matter of liveness only (the round fails in
    /// discovery and the next one converges).
    fn settled(&self) -> bool {
        let mine = Ballot {
            state: PeerState::Looking,
            vote: self.proposal,
        };
        self.settle_early
            && !self.timing.apache_rules
            && self.state == PeerState::Looking
            && self.is_voter()
            && self.has_quorum(&self.round, &mine, Agreement::Round)
            && self
                .connected
                .iter()
                .filter(|&&sid| sid != self.me && self.members.voters.contains(&sid))
                .all(|sid| {
                    self.round
                        .get(sid)
                        .is_some_and(|b| b.agrees(&mine, Agreement::Round))
                })
    }

    /// A FOLLOWING or LEADING notification (`receivedFollowingNotification`).
    fn established_notification(&mut self, n: Notification) {
        let ballot = Ballot {
            state: n.state,
            vote: n.vote,
        };
        if n.vote.election_epoch == self.clock {
            self.round.insert(n.from, ballot);
            if self.has_quorum(&self.round, &ballot, Agreement::Round)
                && self.check_leader(&self.round, n.vote.leader, n.vote.election_epoch)
            {
                self.decide(n.vote);
                return;
            }
        }
        // Also remember it across rounds: a member arriving after the ensemble settled
        // is in a later round than everybody else and finds the leader only this way.
        self.out_of_election.insert(n.from, ballot);
        if self.has_quorum(&self.out_of_election, &ballot, Agreement::OutOfElection)
            && self.check_leader(&self.out_of_election, n.vote.leader, n.vote.election_epoch)
        {
            self.clock = n.vote.election_epoch;
            self.decide(n.vote);
        }
    }

    /// More than half of the voters agree with `target` (observers are not in `votes`).
    fn has_quorum(&self, votes: &BTreeMap<Sid, Ballot>, target: &Ballot, how: Agreement) -> bool {
        let agreeing = votes
            .iter()
            .filter(|(sid, b)| self.members.voters.contains(sid) && b.agrees(target, how))
            .count();
        agreeing * 2 > self.members.voters.len()
    }

    /// `checkLeader`: followers alone do not make a leader; the leader itself must say it
    /// leads, so a crashed leader is not elected again and again. If I am the one they
    /// name, it must be my current round.
    fn check_leader(
        &self,
        votes: &BTreeMap<Sid, Ballot>,
        leader: Sid,
        election_epoch: u64,
    ) -> bool {
        if leader != self.me {
            votes
                .get(&leader)
                .is_some_and(|b| b.state == PeerState::Leading)
        } else {
            self.clock == election_epoch
        }
    }

    fn decide(&mut self, vote: Vote) {
        let role = if vote.leader == self.me {
            Role::Lead
        } else if self.learning_state() == PeerState::Observing {
            Role::Observe(vote.leader)
        } else {
            Role::Follow(vote.leader)
        };
        self.state = match role {
            Role::Lead => PeerState::Leading,
            Role::Follow(_) => PeerState::Following,
            Role::Observe(_) => PeerState::Observing,
        };
        self.current = Vote {
            election_epoch: self.clock,
            ..vote
        };
        self.finalize_at = None;
        self.resend_at = None;
        self.armed = None;
        self.effects.push(Effect::Decided(Decision {
            role,
            vote: self.current,
        }));
    }

    /// Asks for a tick at the nearest deadline, if it moved.
    fn arm(&mut self) {
        if self.state != PeerState::Looking {
            return;
        }
        let at = self.finalize_at.or(self.resend_at);
        if at.is_some() && at != self.armed {
            self.armed = at;
            if let Some(at) = at {
                self.effects.push(Effect::ArmTimer { at });
            }
        }
    }
}

#[cfg(test)]
mod tests;

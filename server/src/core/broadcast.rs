//! The broadcast seam: where replication plugs into the write pipeline.
//!
//! A sans-I/O state machine over the proposals in flight, in the shape of ZAB's broadcast
//! phase on the leader: `propose` assigns the next zxid and asks for a local log append;
//! a proposal commits once it is durable in the local log **and** acknowledged by a quorum
//! of voters, and commits leave strictly in zxid order. A standalone server is a quorum of
//! one (itself), so a proposal commits as soon as its own fsync reports it: the same code
//! path an ensemble's leader will take, with followers' ACKs added.
//!
//! Nothing here does I/O or reads a clock: the caller performs the [`Append`]s it is given
//! and reports durability and acknowledgements back.

use std::collections::{BTreeSet, VecDeque};

use crate::ids::Zxid;
use crate::storage::writer::LogEntry;

/// A voting member's id (`myid`, the `N` of `server.N`).
pub type ServerId = u64;

/// The voters whose acknowledgements make a quorum: more than half of them (Apache's
/// `QuorumMaj`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quorum {
    voters: BTreeSet<ServerId>,
}

impl Quorum {
    pub fn majority(voters: impl IntoIterator<Item = ServerId>) -> Quorum {
        Quorum {
            voters: voters.into_iter().collect(),
        }
    }

    /// Whether `acks` contains more than half of the voters (acks of non-voters, e.g.
    /// observers, do not count).
    pub fn is_quorum(&self, acks: &BTreeSet<ServerId>) -> bool {
        let counted = acks.iter().filter(|a| self.voters.contains(a)).count();
        counted * 2 > self.voters.len()
    }
}

/// An instruction for the edges.
#[derive(Debug)]
pub struct Append(pub LogEntry);

#[derive(Debug)]
struct InFlight {
    entry: LogEntry,
    acks: BTreeSet<ServerId>,
    /// Whose acknowledgements it needs: the committed configuration's quorum, and while a
    /// reconfig is in flight the proposed configuration's too (Apache's `qvAcksetPairs`).
    quorums: Vec<Quorum>,
}

/// The leader side of ZAB's broadcast phase.
#[derive(Debug)]
pub struct Broadcast {
    me: ServerId,
    quorum: Quorum,
    /// The quorum of a proposed configuration (a reconfig in flight): every proposal made
    /// meanwhile also needs its acknowledgement.
    pending: Option<Quorum>,
    /// False once a reconfig committed that hands leadership to another member: nothing
    /// more commits here (Apache's `allowedToCommit`).
    may_commit: bool,
    /// The zxid the next proposal gets; `None` once the epoch's counter is used up.
    next: Option<Zxid>,
    /// The last zxid the local log has made durable.
    durable: Zxid,
    /// The last zxid committed.
    committed: Zxid,
    in_flight: VecDeque<InFlight>,
    appends: Vec<Append>,
}

/// Why a proposal could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProposeError {
    /// The epoch's counter is exhausted; ZAB needs a new epoch (an election) first.
    #[error("the zxid counter of epoch {0} is exhausted")]
    EpochExhausted(u32),
}

impl Broadcast {
    /// A quorum of one: this server alone, continuing after `last` (the last zxid in its
    /// log or snapshot).
    pub fn standalone(me: ServerId, last: Zxid) -> Broadcast {
        Broadcast::leading(me, Quorum::majority([me]), last)
    }

    /// A leader of `quorum` whose history ends at `last`.
    pub fn leading(me: ServerId, quorum: Quorum, last: Zxid) -> Broadcast {
        Broadcast {
            me,
            quorum,
            pending: None,
            may_commit: true,
            next: last.next(),
            durable: last,
            committed: last,
            in_flight: VecDeque::new(),
            appends: Vec::new(),
        }
    }

    /// The zxid the next proposal will get (preparation needs it before proposing).
    pub fn next_zxid(&self) -> Result<Zxid, ProposeError> {
        self.next
            .ok_or(ProposeError::EpochExhausted(self.committed.epoch()))
    }

    pub fn committed(&self) -> Zxid {
        self.committed
    }

    /// The proposals not yet committed, in zxid order (a learner that joins gets them).
    pub fn in_flight_entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.in_flight.iter().map(|p| &p.entry)
    }

    /// Proposals not yet committed.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Proposes `entry` under the next zxid (its header's zxid is overwritten) and returns
    /// that zxid. The caller must then perform [`Broadcast::take_appends`].
    pub fn propose(&mut self, mut entry: LogEntry) -> Result<Zxid, ProposeError> {
        let zxid = self.next_zxid()?;
        self.next = zxid.next();
        entry.hdr.zxid = zxid.raw();
        self.appends.push(Append(entry.clone()));
        let mut quorums = vec![self.quorum.clone()];
        quorums.extend(self.pending.clone());
        self.in_flight.push_back(InFlight {
            entry,
            acks: BTreeSet::new(),
            quorums,
        });
        Ok(zxid)
    }

    /// Proposes a reconfig whose new configuration has `next` as its quorum: it and every
    /// proposal after it until it commits need a quorum of the old and of the new voters.
    pub fn propose_reconfig(
        &mut self,
        entry: LogEntry,
        next: Quorum,
    ) -> Result<Zxid, ProposeError> {
        self.next_zxid()?;
        self.pending = Some(next);
        self.propose(entry)
    }

    /// A committed reconfig takes effect: its quorum alone decides from now on.
    pub fn activate(&mut self) {
        if let Some(q) = self.pending.take() {
            self.quorum = q;
        }
    }

    /// Another configuration is in force from now on without a reconfig of this epoch
    /// (a new leader activated the one NEWLEADER carried): its quorum alone decides.
    pub fn set_quorum(&mut self, quorum: Quorum) {
        self.quorum = quorum;
    }

    /// Stops committing (this leader handed leadership over in a reconfig).
    pub fn stop_committing(&mut self) {
        self.may_commit = false;
    }

    /// The log appends asked for since the last call, in zxid order.
    pub fn take_appends(&mut self) -> Vec<Append> {
        std::mem::take(&mut self.appends)
    }

    /// The local log made everything through `zxid` durable: this server's own ACK.
    pub fn durable(&mut self, zxid: Zxid) {
        self.durable = self.durable.max(zxid);
        self.ack(self.me, zxid);
    }

    /// `from` has everything through `zxid` durably in its log (acknowledgements are
    /// cumulative: a learner's log is a prefix of the leader's).
    pub fn ack(&mut self, from: ServerId, zxid: Zxid) {
        for p in self.in_flight.iter_mut() {
            if p.entry.hdr.zxid > zxid.raw() {
                break;
            }
            p.acks.insert(from);
        }
    }

    /// `from` syncs again: what it acknowledged before may be truncated from its log by
    /// that sync (it is sent the proposals in flight again after NEWLEADER, and
    /// acknowledges them again once they are durable), so its earlier acknowledgements
    /// no longer count.
    pub fn forget_acks_of(&mut self, from: ServerId) {
        for p in self.in_flight.iter_mut() {
            p.acks.remove(&from);
        }
    }

    /// The acknowledgements of the proposals in flight, in zxid order.
    pub fn in_flight_acks(&self) -> impl Iterator<Item = &BTreeSet<ServerId>> {
        self.in_flight.iter().map(|p| &p.acks)
    }

    /// The next proposal that may commit: the oldest one, once it is durable here and a
    /// quorum has acknowledged it. Commits leave in zxid order, never around a gap.
    #[cfg(test)]
    pub fn next_commit(&mut self) -> Option<LogEntry> {
        self.next_commit_acked().map(|(entry, _)| entry)
    }

    /// [`Broadcast::next_commit`], with who acknowledged it.
    pub fn next_commit_acked(&mut self) -> Option<(LogEntry, BTreeSet<ServerId>)> {
        if !self.may_commit {
            return None;
        }
        let head = self.in_flight.front()?;
        let zxid = Zxid::from_raw(head.entry.hdr.zxid);
        if zxid > self.durable || !head.quorums.iter().all(|q| q.is_quorum(&head.acks)) {
            return None;
        }
        let p = self.in_flight.pop_front()?;
        self.committed = zxid;
        Some((p.entry, p.acks))
    }

    /// Gives up every proposal in flight (the log failed, or a leader lost its quorum):
    /// none of them will commit. Returned in zxid order so each can be answered.
    pub fn abandon(&mut self) -> Vec<LogEntry> {
        self.appends.clear();
        self.pending = None;
        self.next = self.committed.next();
        self.in_flight.drain(..).map(|p| p.entry).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{Txn, TxnHeader};
    use std::sync::Arc;

    fn entry() -> LogEntry {
        LogEntry {
            hdr: TxnHeader {
                session_id: 1,
                cxid: 1,
                zxid: 0,
                time: 0,
            },
            txn: Arc::new(Txn::Delete {
                path: "/x".into(),
                container: false,
            }),
        }
    }

    #[test]
    fn standalone_commits_what_its_log_made_durable_in_zxid_order() {
        let mut b = Broadcast::standalone(1, Zxid::new(0, 5));
        let z1 = b.propose(entry()).unwrap();
        let z2 = b.propose(entry()).unwrap();
        assert_eq!((z1, z2), (Zxid::new(0, 6), Zxid::new(0, 7)));
        let appended: Vec<i64> = b.take_appends().iter().map(|a| a.0.hdr.zxid).collect();
        assert_eq!(appended, vec![z1.raw(), z2.raw()]);
        assert!(b.next_commit().is_none(), "nothing is durable yet");
        b.durable(z1);
        assert_eq!(b.next_commit().unwrap().hdr.zxid, z1.raw());
        assert!(b.next_commit().is_none());
        b.durable(z2);
        assert_eq!(b.next_commit().unwrap().hdr.zxid, z2.raw());
        assert_eq!(b.committed(), z2);
    }

    #[test]
    fn a_leader_commits_only_with_a_quorum_and_its_own_durability() {
        let mut b = Broadcast::leading(1, Quorum::majority([1, 2, 3]), Zxid::new(2, 0));
        let z = b.propose(entry()).unwrap();
        assert_eq!(z, Zxid::new(2, 1));
        b.ack(2, z);
        assert!(
            b.next_commit().is_none(),
            "the leader's own log is not durable yet"
        );
        b.durable(z);
        assert!(
            b.next_commit().is_some(),
            "leader and one follower of three"
        );

        let z = b.propose(entry()).unwrap();
        b.durable(z);
        b.ack(9, z);
        assert!(
            b.next_commit().is_none(),
            "an observer's ack does not count"
        );
        b.ack(3, z);
        assert!(b.next_commit().is_some());
    }

    /// Found by the cluster simulation: a follower acknowledged a proposal, synced again
    /// (and was truncated below it), and crashed before it logged it again; its old
    /// acknowledgement made the commit quorum of a proposal only the leader held.
    #[test]
    fn a_learner_that_syncs_again_must_acknowledge_again() {
        let mut b = Broadcast::leading(1, Quorum::majority([1, 2, 3]), Zxid::new(3, 0));
        let z = b.propose(entry()).unwrap();
        b.ack(2, z);
        b.forget_acks_of(2);
        b.durable(z);
        assert!(b.next_commit().is_none(), "the old ACK no longer counts");
        b.ack(2, z);
        assert!(b.next_commit().is_some(), "the new one does");
    }

    #[test]
    fn a_later_proposal_never_commits_around_an_earlier_one() {
        let mut b = Broadcast::leading(1, Quorum::majority([1, 2, 3]), Zxid::new(0, 0));
        let z1 = b.propose(entry()).unwrap();
        let z2 = b.propose(entry()).unwrap();
        b.durable(z2);
        b.ack(2, z2);
        assert_eq!(
            b.next_commit().unwrap().hdr.zxid,
            z1.raw(),
            "acks are cumulative"
        );
        assert_eq!(b.next_commit().unwrap().hdr.zxid, z2.raw());
    }

    #[test]
    fn abandoning_returns_the_proposals_and_reuses_their_zxids() {
        let mut b = Broadcast::standalone(1, Zxid::new(0, 0));
        let z1 = b.propose(entry()).unwrap();
        b.durable(z1);
        b.next_commit().unwrap();
        b.propose(entry()).unwrap();
        b.propose(entry()).unwrap();
        assert_eq!(b.abandon().len(), 2);
        assert_eq!(b.in_flight(), 0);
        assert_eq!(b.next_zxid(), Ok(Zxid::new(0, 2)));
    }

    #[test]
    fn a_reconfig_and_what_follows_it_need_both_quorums_until_it_commits() {
        let mut b = Broadcast::leading(1, Quorum::majority([1, 2, 3]), Zxid::new(1, 0));
        let before = b.propose(entry()).unwrap();
        let reconfig = b
            .propose_reconfig(entry(), Quorum::majority([1, 4, 5]))
            .unwrap();
        let after = b.propose(entry()).unwrap();
        b.durable(after);
        b.ack(2, after);
        assert_eq!(
            b.next_commit().unwrap().hdr.zxid,
            before.raw(),
            "old quorum only"
        );
        assert!(b.next_commit().is_none(), "the new voters have not acked");
        b.ack(4, reconfig);
        assert_eq!(b.next_commit().unwrap().hdr.zxid, reconfig.raw());
        b.activate();
        assert!(
            b.next_commit().is_none(),
            "the new voters have not acked it"
        );
        b.ack(4, after);
        assert_eq!(b.next_commit().unwrap().hdr.zxid, after.raw());
        let later = b.propose(entry()).unwrap();
        b.durable(later);
        b.ack(5, later);
        assert!(
            b.next_commit().is_some(),
            "the new configuration alone decides"
        );
    }

    #[test]
    fn a_leader_that_handed_over_commits_nothing_more() {
        let mut b = Broadcast::standalone(1, Zxid::new(0, 0));
        let z = b.propose(entry()).unwrap();
        b.durable(z);
        b.stop_committing();
        assert!(b.next_commit().is_none());
    }

    #[test]
    fn the_counter_does_not_roll_into_the_epoch() {
        let mut b = Broadcast::standalone(1, Zxid::new(1, u32::MAX - 1));
        assert_eq!(b.propose(entry()).unwrap(), Zxid::new(1, u32::MAX));
        assert_eq!(b.propose(entry()), Err(ProposeError::EpochExhausted(1)));
    }
}

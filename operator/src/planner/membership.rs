//! Membership steps: from the ensemble's committed configuration and the members' state to
//! the one next step that changes the membership safely, one member at a time.
//!
//! Growing: a pod for the next id (its member starts as a joiner and follows without a
//! vote), wait until it serves, `reconfig -add` it, wait for the commit, then the next.
//! Shrinking: `reconfig -remove` the highest ids (the leader last), then shrink the
//! StatefulSet once no removed id is still a voter below a running one. Every
//! reconfiguration names the committed version it starts from, so two never overlap and a
//! restarted operator never repeats one: it starts from what the ensemble committed.
//!
//! Pure: the reconciler observes, this decides, the reconciler acts.

use std::collections::{BTreeMap, BTreeSet};

/// What a member says about itself (`srvr`'s `Mode:` line), by server id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemberMode {
    Leader,
    Follower,
    Observer,
    /// Not answering, or answering without serving (looking for a leader, syncing).
    NotServing,
}

impl MemberMode {
    pub fn serves(self) -> bool {
        self != MemberMode::NotServing
    }
}

/// The membership as observed: the committed configuration and the pods' members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipView {
    /// The voters of the committed configuration (`/zookeeper/config`).
    pub voters: BTreeSet<u64>,
    /// The committed configuration's version.
    pub version: i64,
    /// The StatefulSet's size: pods run ids `1..=pods`.
    pub pods: u32,
    /// What each pod's member says (ids `1..=pods`; a missing id does not serve).
    pub modes: BTreeMap<u64, MemberMode>,
}

impl MembershipView {
    pub fn mode(&self, id: u64) -> MemberMode {
        self.modes
            .get(&id)
            .copied()
            .unwrap_or(MemberMode::NotServing)
    }

    /// The voter that leads, if one says so.
    pub fn leader(&self) -> Option<u64> {
        self.voters
            .iter()
            .copied()
            .find(|&id| self.mode(id) == MemberMode::Leader)
    }
}

/// The one next thing to do about the membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The committed configuration and the pods are as desired.
    Settled,
    /// Grow the StatefulSet to `pods`: the new member starts as a joiner.
    AddPod { pods: u32 },
    /// `reconfig -add` server `id`, from the committed `version`.
    Add { id: u64, version: i64 },
    /// `reconfig -remove` server `id`, from the committed `version`.
    Remove { id: u64, version: i64 },
    /// Shrink the StatefulSet to `pods`: the members above are no longer voters.
    ShrinkPods { pods: u32 },
    /// Nothing may be done safely now; `reason` (CamelCase) and `message` say why.
    Wait {
        reason: &'static str,
        message: String,
    },
}

impl Step {
    /// The StatefulSet size to apply with this step.
    pub fn pods(&self, view: &MembershipView) -> u32 {
        match self {
            Step::AddPod { pods } | Step::ShrinkPods { pods } => *pods,
            _ => view.pods,
        }
    }
}

/// The next step towards `desired` voters (ids `1..=desired`).
pub fn next_step(desired: u32, view: &MembershipView) -> Step {
    let target: BTreeSet<u64> = (1..=u64::from(desired)).collect();
    // A voter's pod must never be missing: grow back to the highest voter first.
    let highest_voter = view.voters.iter().copied().max().unwrap_or(0);
    if u64::from(view.pods) < highest_voter {
        return Step::AddPod {
            pods: u32::try_from(highest_voter).unwrap_or(u32::MAX),
        };
    }
    if view.voters == target && view.pods <= desired {
        return if view.pods < desired {
            Step::AddPod { pods: desired }
        } else {
            Step::Settled
        };
    }
    // Every change needs acknowledgements from a quorum of the old voters and of the new
    // ones; with every voter serving both are there, and one member's failure during the
    // step still leaves a quorum of each. Stopping pods waits too: a reconfig sent by an
    // earlier operator may still be in flight with one of them as a new voter (it cannot
    // be seen from outside), and it commits only with a quorum of that configuration.
    let down: Vec<u64> = view
        .voters
        .iter()
        .copied()
        .filter(|&id| !view.mode(id).serves())
        .collect();
    if !down.is_empty() {
        return Step::Wait {
            reason: "MembersNotServing",
            message: format!(
                "waiting for voter(s) {} to serve before changing the membership",
                list(&down)
            ),
        };
    }
    if view.voters == target {
        return Step::ShrinkPods { pods: desired };
    }
    if let Some(id) = target.difference(&view.voters).next().copied() {
        if u64::from(view.pods) < id {
            return Step::AddPod {
                pods: u32::try_from(id).unwrap_or(u32::MAX),
            };
        }
        return match view.mode(id) {
            MemberMode::Follower | MemberMode::Observer => Step::Add {
                id,
                version: view.version,
            },
            _ => Step::Wait {
                reason: "JoinerNotSynced",
                message: format!(
                    "waiting for server {id} to sync with the leader as a non-voting follower"
                ),
            },
        };
    }
    let leaving: Vec<u64> = view.voters.difference(&target).copied().collect();
    let leader = view.leader();
    // The highest id that does not lead; the leader goes last (it hands over through an
    // election).
    let id = leaving
        .iter()
        .rev()
        .copied()
        .find(|&id| Some(id) != leader)
        .or_else(|| leaving.last().copied());
    match id {
        Some(id) => Step::Remove {
            id,
            version: view.version,
        },
        // voters != target and nothing to add or remove cannot happen; say so rather than
        // act.
        None => Step::Wait {
            reason: "UnexpectedMembership",
            message: format!("voters {} do not lead anywhere", list_set(&view.voters)),
        },
    }
}

fn list(ids: &[u64]) -> String {
    ids.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_set(ids: &BTreeSet<u64>) -> String {
    list(&ids.iter().copied().collect::<Vec<_>>())
}

#[cfg(test)]
mod tests;

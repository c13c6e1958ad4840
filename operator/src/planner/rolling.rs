//! Rolling restarts for a new pod template (a zoo.cfg or image change): the StatefulSet
//! updates `OnDelete`, and the operator deletes one outdated pod at a time, followers
//! first and the leader last, each only while every voter serves (so the restarted
//! member is a synced follower again before the next goes, and never two are down).

use std::collections::BTreeSet;

use super::membership::MembershipView;

/// The next restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restart {
    /// Every pod runs the current template.
    Done,
    /// Delete the pod of server `id`; the StatefulSet controller recreates it.
    Pod { id: u64 },
    /// Not now; `message` says why.
    Wait { message: String },
}

/// `outdated`: the ids whose pods run an older template.
pub fn next_restart(view: &MembershipView, outdated: &BTreeSet<u64>) -> Restart {
    if outdated.is_empty() {
        return Restart::Done;
    }
    let down: Vec<String> = (1..=u64::from(view.pods))
        .filter(|&id| !view.mode(id).serves())
        .map(|id| id.to_string())
        .collect();
    if !down.is_empty() {
        return Restart::Wait {
            message: format!(
                "waiting for server(s) {} to serve before restarting the next member",
                down.join(", ")
            ),
        };
    }
    let leader = view.leader();
    let id = outdated
        .iter()
        .rev()
        .copied()
        .find(|&id| Some(id) != leader)
        .or(leader);
    match id {
        Some(id) => Restart::Pod { id },
        None => Restart::Done,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::planner::MemberMode;

    fn view(leader: u64, down: &[u64]) -> MembershipView {
        let modes: BTreeMap<u64, MemberMode> = (1..=3)
            .map(|id| {
                let mode = if down.contains(&id) {
                    MemberMode::NotServing
                } else if id == leader {
                    MemberMode::Leader
                } else {
                    MemberMode::Follower
                };
                (id, mode)
            })
            .collect();
        MembershipView {
            voters: (1..=3).collect(),
            version: 1,
            pods: 3,
            modes,
        }
    }

    #[test]
    fn followers_go_first_and_the_leader_last() {
        let all: BTreeSet<u64> = (1..=3).collect();
        assert_eq!(next_restart(&view(3, &[]), &all), Restart::Pod { id: 2 });
        let leader_left: BTreeSet<u64> = [3].into();
        assert_eq!(
            next_restart(&view(3, &[]), &leader_left),
            Restart::Pod { id: 3 }
        );
        assert_eq!(next_restart(&view(3, &[]), &BTreeSet::new()), Restart::Done);
    }

    #[test]
    fn nobody_goes_while_a_member_is_down() {
        let all: BTreeSet<u64> = (1..=3).collect();
        assert!(matches!(
            next_restart(&view(1, &[2]), &all),
            Restart::Wait { message } if message.contains('2')
        ));
    }
}

//! The membership planner, step by step and as a seeded random walk over a model of an
//! ensemble (sizes 1 to 7, members down and back, reconfigs that stay in flight, pods
//! missing, the desired size changed half-way, the operator restarted at every step since
//! it keeps no memory): every step keeps a quorum of the committed configuration serving,
//! reconfigs never overlap, and once faults stop the walk ends at the desired size.
//! `ZKRS_PLANNER_SEEDS=n` runs more walks, `ZKRS_PLANNER_SEED=s` replays one.

use super::*;

fn view(voters: &[u64], pods: u32, modes: &[(u64, MemberMode)]) -> MembershipView {
    MembershipView {
        voters: voters.iter().copied().collect(),
        version: 0x1_0000_0000,
        pods,
        modes: modes.iter().copied().collect(),
    }
}

fn all_follow(ids: std::ops::RangeInclusive<u64>, leader: u64) -> Vec<(u64, MemberMode)> {
    ids.map(|id| {
        let mode = if id == leader {
            MemberMode::Leader
        } else {
            MemberMode::Follower
        };
        (id, mode)
    })
    .collect()
}

#[test]
fn growing_adds_a_pod_then_waits_for_it_then_adds_it() {
    let v = view(&[1, 2, 3], 3, &all_follow(1..=3, 2));
    assert_eq!(next_step(5, &v), Step::AddPod { pods: 4 });
    let mut v = view(&[1, 2, 3], 4, &all_follow(1..=3, 2));
    assert!(matches!(
        next_step(5, &v),
        Step::Wait {
            reason: "JoinerNotSynced",
            ..
        }
    ));
    v.modes.insert(4, MemberMode::Follower);
    assert_eq!(
        next_step(5, &v),
        Step::Add {
            id: 4,
            version: v.version
        }
    );
}

#[test]
fn shrinking_removes_the_highest_non_leader_first_and_the_pods_last() {
    let v = view(&[1, 2, 3, 4, 5], 5, &all_follow(1..=5, 5));
    assert!(matches!(next_step(3, &v), Step::Remove { id: 4, .. }));
    let v = view(&[1, 2, 3, 5], 5, &all_follow(1..=5, 5));
    assert!(matches!(next_step(3, &v), Step::Remove { id: 5, .. }));
    let v = view(&[1, 2, 3], 5, &all_follow(1..=5, 1));
    assert_eq!(next_step(3, &v), Step::ShrinkPods { pods: 3 });
}

#[test]
fn nothing_changes_while_a_voter_is_down() {
    let mut modes = all_follow(1..=3, 1);
    modes[2].1 = MemberMode::NotServing;
    let v = view(&[1, 2, 3], 4, &modes);
    let step = next_step(5, &v);
    assert!(
        matches!(&step, Step::Wait { reason: "MembersNotServing", message } if message.contains('3')),
        "{step:?}"
    );
}

#[test]
fn a_settled_ensemble_is_left_alone() {
    let v = view(&[1, 2, 3], 3, &all_follow(1..=3, 3));
    assert_eq!(next_step(3, &v), Step::Settled);
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A model ensemble: what is committed, what runs, who leads, and a reconfig in flight.
#[derive(Debug, Clone)]
struct World {
    voters: BTreeSet<u64>,
    version: i64,
    pods: u32,
    /// Pods whose member process is up (ids).
    up: BTreeSet<u64>,
    /// Pods that came up this round and have not synced yet.
    syncing: BTreeSet<u64>,
    leader: Option<u64>,
    /// A proposed reconfig and the rounds until it commits.
    in_flight: Option<(BTreeSet<u64>, u32)>,
}

impl World {
    fn quorum_serving(&self, voters: &BTreeSet<u64>) -> bool {
        let serving = voters
            .iter()
            .filter(|id| self.up.contains(id) && !self.syncing.contains(id))
            .count();
        serving > voters.len() / 2
    }

    fn observe(&self) -> MembershipView {
        let modes = (1..=u64::from(self.pods))
            .map(|id| {
                let mode = if !self.up.contains(&id) || self.syncing.contains(&id) {
                    MemberMode::NotServing
                } else if Some(id) == self.leader {
                    MemberMode::Leader
                } else if self.leader.is_some() {
                    MemberMode::Follower
                } else {
                    MemberMode::NotServing
                };
                (id, mode)
            })
            .collect();
        MembershipView {
            voters: self.voters.clone(),
            version: self.version,
            pods: self.pods,
            modes,
        }
    }

    /// Time passes: syncing members finish, a leader is elected if a quorum serves, an
    /// in-flight reconfig commits when its rounds are up.
    fn tick(&mut self) {
        self.syncing.clear();
        if let Some((next, rounds)) = self.in_flight.take() {
            if rounds == 0 {
                self.voters = next;
                self.version += 1;
                if self.leader.is_some_and(|l| !self.voters.contains(&l)) {
                    self.leader = None;
                }
            } else {
                self.in_flight = Some((next, rounds - 1));
            }
        }
        if self.leader.is_some_and(|l| !self.up.contains(&l)) || !self.quorum_serving(&self.voters)
        {
            self.leader = None;
        }
        if self.leader.is_none() && self.quorum_serving(&self.voters) {
            self.leader = self
                .voters
                .iter()
                .rev()
                .copied()
                .find(|id| self.up.contains(id));
        }
    }

    /// A fault: a running member dies, or a dead one comes back (the kubelet restarts it).
    fn fault(&mut self, rng: &mut Rng) {
        let id = 1 + rng.below(u64::from(self.pods.max(1)));
        if id > u64::from(self.pods) {
            return;
        }
        if self.up.remove(&id) {
            if self.leader == Some(id) {
                self.leader = None;
            }
        } else {
            self.up.insert(id);
            self.syncing.insert(id);
        }
    }

    /// The operator's step, with the checks every step must pass.
    fn take(&mut self, step: &Step, desired: u32, rng: &mut Rng, trace: &str) {
        let before = self.observe();
        match *step {
            Step::Settled | Step::Wait { .. } => {}
            Step::AddPod { pods } => {
                assert!(pods > self.pods, "{trace}: AddPod must grow");
                for id in u64::from(self.pods) + 1..=u64::from(pods) {
                    self.up.insert(id);
                    self.syncing.insert(id);
                }
                self.pods = pods;
            }
            Step::ShrinkPods { pods } => {
                assert!(pods < self.pods, "{trace}: ShrinkPods must shrink");
                for id in u64::from(pods) + 1..=u64::from(self.pods) {
                    assert!(
                        !self.voters.contains(&id),
                        "{trace}: the pod of voter {id} removed"
                    );
                    self.up.remove(&id);
                }
                self.pods = pods;
                // A reconfig an earlier operator sent may be in flight with a stopped pod
                // as a new voter: it must still be able to commit.
                if let Some((next, _)) = &self.in_flight {
                    assert!(
                        self.quorum_serving(next),
                        "{trace}: a proposed configuration left without a quorum"
                    );
                }
                assert!(
                    self.quorum_serving(&self.voters),
                    "{trace}: the committed configuration left without a quorum"
                );
            }
            Step::Add { id, version } | Step::Remove { id, version } => {
                let adding = matches!(step, Step::Add { .. });
                // The leader refuses what overlaps or is stale; nothing changes then.
                if self.in_flight.is_some() || version != self.version || self.leader.is_none() {
                    return;
                }
                assert!(
                    before.voters.iter().all(|&v| before.mode(v).serves()),
                    "{trace}: a reconfig with a voter down"
                );
                let mut next = self.voters.clone();
                if adding {
                    assert!(
                        matches!(before.mode(id), MemberMode::Follower),
                        "{trace}: added server {id} is not a synced follower"
                    );
                    next.insert(id);
                } else {
                    assert!(next.len() > 1, "{trace}: the last voter removed");
                    if Some(id) == self.leader {
                        let others: Vec<u64> = next
                            .iter()
                            .copied()
                            .filter(|&v| v != id && v > u64::from(desired))
                            .collect();
                        assert!(
                            others.is_empty(),
                            "{trace}: the leader removed before {others:?}"
                        );
                    }
                    next.remove(&id);
                }
                assert!(
                    self.quorum_serving(&next) && self.quorum_serving(&self.voters),
                    "{trace}: reconfig {step:?} without a serving quorum of old and new"
                );
                // Commits now or stays in flight for a few rounds.
                self.in_flight = Some((next, u32::try_from(rng.below(3)).unwrap_or(0)));
            }
        }
    }
}

fn random_world(rng: &mut Rng) -> World {
    let size = 1 + rng.below(7);
    let mut voters: BTreeSet<u64> = (1..=size).collect();
    // Now and then a membership no plan of ours makes (a hole, an extra id).
    if rng.chance(20) {
        let id = 1 + rng.below(7);
        if voters.len() > 1 && voters.contains(&id) {
            voters.remove(&id);
        } else {
            voters.insert(id);
        }
    }
    let highest = voters.iter().copied().max().unwrap_or(1);
    let pods = u32::try_from(highest + rng.below(3)).unwrap_or(1).min(7);
    let up: BTreeSet<u64> = (1..=u64::from(pods)).filter(|_| !rng.chance(15)).collect();
    let mut w = World {
        voters,
        version: 0x1_0000_0000,
        pods,
        up,
        syncing: BTreeSet::new(),
        leader: None,
        in_flight: None,
    };
    w.tick();
    w
}

fn walk(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut w = random_world(&mut rng);
    let mut desired = u32::try_from(1 + rng.below(7)).unwrap_or(1);
    // With faults, and the desired size changed once.
    for round in 0..40 {
        if round == 20 && rng.chance(50) {
            desired = u32::try_from(1 + rng.below(7)).unwrap_or(1);
        }
        let step = next_step(desired, &w.observe());
        let trace = format!("seed {seed} round {round} desired {desired} {w:?}");
        w.take(&step, desired, &mut rng, &trace);
        if rng.chance(25) {
            w.fault(&mut rng);
        }
        w.tick();
    }
    // No more faults: the kubelet restarts every member; the walk must settle.
    for id in 1..=u64::from(w.pods) {
        if w.up.insert(id) {
            w.syncing.insert(id);
        }
    }
    for round in 0..60 {
        w.tick();
        let view = w.observe();
        let step = next_step(desired, &view);
        if step == Step::Settled {
            let target: BTreeSet<u64> = (1..=u64::from(desired)).collect();
            assert_eq!(w.voters, target, "seed {seed}");
            assert_eq!(w.pods, desired, "seed {seed}");
            return;
        }
        let trace = format!("seed {seed} settling round {round} desired {desired} {w:?}");
        w.take(&step, desired, &mut rng, &trace);
    }
    panic!(
        "seed {seed}: not settled at {desired} after 60 rounds: {w:?}, next {:?}",
        next_step(desired, &w.observe())
    );
}

#[test]
fn every_walk_keeps_a_quorum_and_ends_at_the_desired_size() {
    if let Some(seed) = std::env::var("ZKRS_PLANNER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        walk(seed);
        return;
    }
    let seeds: u64 = std::env::var("ZKRS_PLANNER_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    for seed in 0..seeds {
        walk(seed);
    }
}

#[test]
fn every_size_change_from_1_to_7_settles_without_faults() {
    for from in 1..=7u64 {
        for to in 1..=7u32 {
            let mut w = World {
                voters: (1..=from).collect(),
                version: 1,
                pods: u32::try_from(from).unwrap_or(1),
                up: (1..=from).collect(),
                syncing: BTreeSet::new(),
                leader: None,
                in_flight: None,
            };
            w.tick();
            let mut rng = Rng(from * 31 + u64::from(to));
            let mut steps = 0;
            while next_step(to, &w.observe()) != Step::Settled {
                let step = next_step(to, &w.observe());
                w.take(&step, to, &mut rng, &format!("{from} -> {to}"));
                w.tick();
                steps += 1;
                assert!(steps < 50, "{from} -> {to} does not settle: {w:?}");
            }
            assert_eq!(w.voters, (1..=u64::from(to)).collect(), "{from} -> {to}");
        }
    }
}

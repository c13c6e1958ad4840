//! Faults on a seeded schedule: which fault, which member, how long it lasts and how long
//! the ensemble rests between faults all come from the run's seed. (Which member leads at
//! a given moment depends on timing, so faults aimed at the leader pick their target when
//! they start.) Every fault is healed before the next one starts, and at the end.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::Rng as _;

use super::cluster::Cluster;
use super::disk;
use super::links::Cuts;

/// A family of faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nemesis {
    /// No faults: the workload alone.
    None,
    /// kill -9 of a random member, restarted when healed.
    Kill,
    /// kill -9 of the leader.
    KillLeader,
    /// SIGSTOP of a random member for longer than the session timeout, then SIGCONT.
    Pause,
    /// SIGSTOP of the leader.
    PauseLeader,
    /// The members split into two random halves that cannot reach each other.
    PartitionHalves,
    /// The leader cut off from every other member.
    PartitionLeader,
    /// Two halves that cannot reach each other, and one member (the bridge) that reaches
    /// both.
    PartitionBridge,
    /// One random member's outgoing traffic to every other member held, its incoming
    /// traffic delivered.
    PartitionOneWay,
    /// Each fault chosen at random among all of the above.
    Mixed,
    /// Every fsync of the leader sleeps 100 to 1000 ms first.
    SlowDisk,
    /// Every fsync of a random member fails (EIO); healed by clearing the fault and
    /// restarting the member, as an operator would.
    FsyncFail,
    /// kill -9 of a random member, one byte of the last record of its newest log flipped,
    /// restarted when healed.
    CorruptLog,
    /// kill -9 of a random member, one byte in the middle of its newest snapshot flipped
    /// (its newest log's last record when it has no snapshot yet), restarted when healed.
    CorruptSnapshot,
    /// The disk of a random member full: every write that adds data to a regular file
    /// fails with ENOSPC. Healed by freeing it, and restarting the member if it exited
    /// (Apache does); meanwhile the others must serve, and afterwards it must catch up.
    DiskFull,
    /// Each fault chosen at random among the five disk faults.
    Disk,
    /// A reconfig removes a random member from the voters, half of the time while
    /// another member is killed; healed by adding it back (and restarting the killed
    /// one). Runs on a dynamic ensemble.
    Reconfig,
    /// A partition (random halves, or the leader cut off) and, while it is in force, a
    /// reconfig that removes a random member; healed by healing the links and adding the
    /// member back. Runs on a dynamic ensemble whose links go through the proxies
    /// ([`reroute`](super::reroute)).
    ReconfigPartition,
}

const ALL: [(Nemesis, &str); 18] = [
    (Nemesis::None, "none"),
    (Nemesis::Kill, "kill"),
    (Nemesis::KillLeader, "kill-leader"),
    (Nemesis::Pause, "pause"),
    (Nemesis::PauseLeader, "pause-leader"),
    (Nemesis::PartitionHalves, "partition-halves"),
    (Nemesis::PartitionLeader, "partition-leader"),
    (Nemesis::PartitionBridge, "partition-bridge"),
    (Nemesis::PartitionOneWay, "partition-one-way"),
    (Nemesis::Mixed, "mixed"),
    (Nemesis::SlowDisk, "slow-disk"),
    (Nemesis::FsyncFail, "fsync-fail"),
    (Nemesis::CorruptLog, "corrupt-log"),
    (Nemesis::CorruptSnapshot, "corrupt-snapshot"),
    (Nemesis::DiskFull, "disk-full"),
    (Nemesis::Disk, "disk"),
    (Nemesis::Reconfig, "reconfig"),
    (Nemesis::ReconfigPartition, "reconfig-partition"),
];

/// The families `mixed` draws from (the faults that need nothing but signals and links).
const MIXED: [Nemesis; 8] = [
    Nemesis::Kill,
    Nemesis::KillLeader,
    Nemesis::Pause,
    Nemesis::PauseLeader,
    Nemesis::PartitionHalves,
    Nemesis::PartitionLeader,
    Nemesis::PartitionBridge,
    Nemesis::PartitionOneWay,
];

/// The families `disk` draws from.
const DISK: [Nemesis; 5] = [
    Nemesis::SlowDisk,
    Nemesis::FsyncFail,
    Nemesis::CorruptLog,
    Nemesis::CorruptSnapshot,
    Nemesis::DiskFull,
];

/// The partitions `reconfig-partition` combines with a reconfig.
pub const RECONFIG_PARTITIONS: [Nemesis; 2] = [Nemesis::PartitionHalves, Nemesis::PartitionLeader];

impl FromStr for Nemesis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.iter()
            .find(|(_, name)| *name == s)
            .map(|(n, _)| *n)
            .ok_or_else(|| {
                let names: Vec<&str> = ALL.iter().map(|(_, n)| *n).collect();
                format!("unknown nemesis {s:?}; one of {}", names.join(", "))
            })
    }
}

impl fmt::Display for Nemesis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = ALL.iter().find(|(n, _)| n == self).map(|(_, s)| *s);
        f.write_str(name.expect("every nemesis has a name"))
    }
}

/// The timing of a schedule.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Rest between a heal and the next fault: uniformly in this range.
    pub rest: (Duration, Duration),
    /// How long a fault lasts: uniformly in this range.
    pub hold: (Duration, Duration),
    /// A pause lasts at least this long (longer than the clients' session timeout, so
    /// sessions of the paused member's clients may expire meanwhile).
    pub min_pause: Duration,
}

/// A fault in force.
#[derive(Debug)]
pub enum Fault {
    Killed(usize),
    Paused(usize),
    Cut(Cuts),
    SlowSync(usize),
    FailingSync(usize),
    /// Killed with a corrupted file.
    Corrupted(usize),
    /// Its disk full.
    FullDisk(usize),
}

/// Draws a duration uniformly in `range`.
pub fn draw(rng: &mut StdRng, range: (Duration, Duration)) -> Duration {
    if range.1 <= range.0 {
        return range.0;
    }
    let ms = rng.gen_range(range.0.as_millis() as u64..=range.1.as_millis() as u64);
    Duration::from_millis(ms)
}

/// Every directed link between the members of `a` and those of `b`, both ways.
fn between(a: &[usize], b: &[usize]) -> Cuts {
    let mut cuts = Cuts::new();
    for &x in a {
        for &y in b {
            cuts.insert((x, y));
            cuts.insert((y, x));
        }
    }
    cuts
}

impl Nemesis {
    /// Starts one fault of this family on `cluster` (`leader`: who leads now, if anyone
    /// does), returning what it did and a description for the history.
    pub fn inject(
        self,
        rng: &mut StdRng,
        cluster: &mut Cluster,
        leader: Option<usize>,
    ) -> anyhow::Result<Option<(Fault, String)>> {
        let n = cluster.len();
        let mut all: Vec<usize> = (0..n).collect();
        let random = rng.gen_range(0..n);
        let target_leader = leader.unwrap_or(random);
        let family = match self {
            Nemesis::Mixed => *MIXED.choose(rng).expect("choices"),
            Nemesis::Disk => *DISK.choose(rng).expect("choices"),
            other => other,
        };
        let fault = match family {
            // Reconfig is asynchronous: the runner drives it (`membership`).
            Nemesis::None
            | Nemesis::Mixed
            | Nemesis::Disk
            | Nemesis::Reconfig
            | Nemesis::ReconfigPartition => return Ok(None),
            Nemesis::SlowDisk => {
                let ms = rng.gen_range(100..=1000);
                let i = target_leader;
                disk::set_sync(cluster.member_dir(i), disk::Sync::Slow(ms))?;
                (
                    Fault::SlowSync(i),
                    format!("every fsync of member {} takes {ms} ms more", i + 1),
                )
            }
            Nemesis::FsyncFail => {
                let i = random;
                disk::set_sync(cluster.member_dir(i), disk::Sync::Failing)?;
                (
                    Fault::FailingSync(i),
                    format!("every fsync of member {} fails", i + 1),
                )
            }
            Nemesis::DiskFull => {
                let i = random;
                disk::set_full(cluster.member_dir(i), true)?;
                (
                    Fault::FullDisk(i),
                    format!("the disk of member {} is full", i + 1),
                )
            }
            Nemesis::CorruptLog | Nemesis::CorruptSnapshot => {
                let i = random;
                cluster.kill9(i);
                let data = cluster.data_dir(i);
                let snapshot = (family == Nemesis::CorruptSnapshot)
                    .then(|| disk::newest(&data, "snapshot"))
                    .flatten();
                let what = match snapshot {
                    Some(file) => {
                        let at = disk::corrupt_middle(&file)?;
                        format!("byte {at} of {}", file.display())
                    }
                    None => match disk::newest(&data, "log") {
                        Some(file) => {
                            let at = disk::corrupt_last_record(&file)?;
                            format!("the last record (byte {at}) of {}", file.display())
                        }
                        None => "nothing (no log yet)".to_string(),
                    },
                };
                (
                    Fault::Corrupted(i),
                    format!("kill -9 member {} and corrupt {what}", i + 1),
                )
            }
            Nemesis::Kill | Nemesis::KillLeader => {
                let i = if family == Nemesis::Kill {
                    random
                } else {
                    target_leader
                };
                cluster.kill9(i);
                (Fault::Killed(i), format!("kill -9 member {}", i + 1))
            }
            Nemesis::Pause | Nemesis::PauseLeader => {
                let i = if family == Nemesis::Pause {
                    random
                } else {
                    target_leader
                };
                cluster.pause(i, true)?;
                (Fault::Paused(i), format!("SIGSTOP member {}", i + 1))
            }
            Nemesis::PartitionHalves => {
                all.shuffle(rng);
                let (a, b) = all.split_at(n / 2);
                let cuts = between(a, b);
                (
                    Fault::Cut(cuts),
                    format!("partition {} | {}", ids(a), ids(b)),
                )
            }
            Nemesis::PartitionLeader => {
                let rest: Vec<usize> = all
                    .iter()
                    .copied()
                    .filter(|&i| i != target_leader)
                    .collect();
                let cuts = between(&[target_leader], &rest);
                (
                    Fault::Cut(cuts),
                    format!("isolate member {}", target_leader + 1),
                )
            }
            Nemesis::PartitionBridge => {
                all.shuffle(rng);
                let bridge = all[0];
                let rest = &all[1..];
                let (a, b) = rest.split_at(rest.len() / 2);
                let cuts = between(a, b);
                (
                    Fault::Cut(cuts),
                    format!(
                        "partition {} | {} bridged by member {}",
                        ids(a),
                        ids(b),
                        bridge + 1
                    ),
                )
            }
            Nemesis::PartitionOneWay => {
                let from = random;
                let cuts: Cuts = all
                    .iter()
                    .filter(|&&j| j != from)
                    .map(|&j| (from, j))
                    .collect();
                (
                    Fault::Cut(cuts),
                    format!("hold everything member {} sends to its peers", from + 1),
                )
            }
        };
        if let Fault::Cut(cuts) = &fault.0 {
            cluster.cut(cuts.clone());
        }
        Ok(Some(fault))
    }

    /// Whether this family needs the fsync shim loaded into every member.
    pub fn needs_shim(self) -> bool {
        matches!(
            self,
            Nemesis::SlowDisk | Nemesis::FsyncFail | Nemesis::DiskFull | Nemesis::Disk
        )
    }

    /// Whether this family changes the membership (it needs a dynamic ensemble).
    pub fn reconfigures(self) -> bool {
        matches!(self, Nemesis::Reconfig | Nemesis::ReconfigPartition)
    }
}

/// Ends `fault`: restarts a killed member, resumes a paused one, heals the links.
pub fn heal(fault: &Fault, cluster: &mut Cluster) -> anyhow::Result<String> {
    Ok(match fault {
        Fault::Killed(i) => {
            cluster.restart(*i)?;
            format!("restart member {}", i + 1)
        }
        Fault::Paused(i) => {
            cluster.pause(*i, false)?;
            format!("SIGCONT member {}", i + 1)
        }
        Fault::Cut(_) => {
            cluster.cut(BTreeSet::new());
            "heal the network".to_string()
        }
        Fault::SlowSync(i) => {
            disk::set_sync(cluster.member_dir(*i), disk::Sync::Normal)?;
            format!("fsyncs of member {} at full speed", i + 1)
        }
        Fault::FailingSync(i) => {
            // A member whose fsync failed cannot trust what it wrote (Apache exits, zkrs
            // refuses writes): it is restarted.
            disk::set_sync(cluster.member_dir(*i), disk::Sync::Normal)?;
            cluster.kill9(*i);
            cluster.restart(*i)?;
            format!("fsyncs of member {} work again; member restarted", i + 1)
        }
        Fault::FullDisk(i) => {
            disk::set_full(cluster.member_dir(*i), false)?;
            // Apache exits on a full disk (zkrs ends its role and stays up): a member that
            // exited is restarted, as an operator would once there is room again.
            if cluster.has_exited(*i) {
                cluster.kill9(*i);
                cluster.restart(*i)?;
                format!(
                    "the disk of member {} has room again; member restarted (it had exited)",
                    i + 1
                )
            } else {
                format!("the disk of member {} has room again", i + 1)
            }
        }
        Fault::Corrupted(i) => {
            cluster.restart(*i)?;
            if refuses_to_start(cluster, *i) {
                // Apache does not cut a bad record at the end of its log: it stops with
                // "CRC check failed" and waits for an operator, who replaces the data.
                replace_data(cluster, *i)?;
                format!(
                    "member {} refused to start on its corrupted data: data replaced once the others served, synced again",
                    i + 1
                )
            } else {
                format!("restart member {} on its corrupted data", i + 1)
            }
        }
    })
}

/// How long replacing a member's data may wait for the others, and then for it, to serve.
const REPLACE_LIMIT: Duration = Duration::from_secs(90);

/// Replaces stopped member `i`'s data with an empty data dir, one disk at a time as an
/// operator must: an empty member forgets the transactions it acknowledged, so it is
/// replaced only once the others serve (each then holds every committed transaction),
/// and the next fault waits until it has synced. Without these waits the harness made
/// two faults of one (an emptied member and a lagging one can form a quorum that lacks
/// committed writes), which no ensemble of three survives.
fn replace_data(cluster: &mut Cluster, i: usize) -> anyhow::Result<()> {
    cluster.kill9(i);
    let others: Vec<usize> = (0..cluster.len()).filter(|&j| j != i).collect();
    cluster.wait_serving_among(&others, REPLACE_LIMIT)?;
    cluster.wipe_data(i)?;
    cluster.restart(i)?;
    cluster.wait_serving(REPLACE_LIMIT)?;
    Ok(())
}

/// How long a restarted member gets to either serve or exit.
const START_VERDICT: Duration = Duration::from_secs(20);

/// Waits until restarted member `i` serves (true: it started) or exits (false), at most
/// [`START_VERDICT`]; a member still starting then counts as started.
fn refuses_to_start(cluster: &mut Cluster, i: usize) -> bool {
    let deadline = std::time::Instant::now() + START_VERDICT;
    while std::time::Instant::now() < deadline {
        if cluster.has_exited(i) {
            return true;
        }
        if cluster.mode(i) != crate::ensemble::Mode::NotServing {
            return false;
        }
        // Polling interval of a bounded wait.
        std::thread::sleep(crate::POLL * 5);
    }
    false
}

fn ids(members: &[usize]) -> String {
    let mut v: Vec<usize> = members.iter().map(|i| i + 1).collect();
    v.sort_unstable();
    format!("{v:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for (n, name) in ALL {
            assert_eq!(name.parse::<Nemesis>(), Ok(n));
            assert_eq!(n.to_string(), name);
        }
        assert!("explode".parse::<Nemesis>().is_err());
    }

    #[test]
    fn a_partition_cuts_both_directions_between_the_sides_only() {
        let cuts = between(&[0], &[1, 2]);
        assert_eq!(cuts, Cuts::from([(0, 1), (1, 0), (0, 2), (2, 0)]));
    }
}

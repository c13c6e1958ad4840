//! The bounded chaos matrix: each test is one run of the fault harness (src/chaos/, the
//! same code as `zkrs-chaos`) on a 3-member ensemble with a fixed seed, and fails when a
//! checker finds an anomaly, cannot decide, or the ensemble does not recover. The run's
//! files (history, every member's log) are kept and named when a test fails.
//! `ZKRS_CHAOS_SEED` replaces the seeds; `scripts/chaos-matrix.sh` runs the long matrix.

use std::time::Duration;

use zkrs_tests::chaos::{preload, run, Members, Nemesis, RunConfig, Workload};

/// How long the clients of one run work (faults included).
const DURATION: Duration = Duration::from_secs(12);

/// Rest between faults and how long one lasts: shorter than the defaults so that a 12 s
/// run always has room for a fault (at most 2 + 9 s), and a cut still outlasts
/// `syncLimit` (5 s) most of the time.
const REST: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(2));
const HOLD: (Duration, Duration) = (Duration::from_secs(5), Duration::from_secs(9));

async fn check_run(workload: Workload, nemesis: Nemesis, kind: Members, seed: u64) {
    let seed = std::env::var("ZKRS_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(seed);
    let dir = tempfile::Builder::new()
        .prefix("zkrs-chaos-")
        .tempdir()
        .expect("temp dir");
    let mut config = RunConfig::new(seed, workload, nemesis, kind);
    config.duration = DURATION;
    config.timing.rest = REST;
    config.timing.hold = HOLD;
    config.out = dir.path().join("run");
    let report = match run(&config).await {
        Ok(report) => report,
        Err(e) => {
            let kept = dir.keep();
            panic!(
                "the run failed: {e:#}\nrepeat: {}\nfiles kept in {}",
                config.command(),
                kept.display()
            );
        }
    };
    eprintln!("{}", report.line());
    if !report.is_valid() {
        let kept = dir.keep();
        panic!(
            "{} found:\n  {}\nrepeat: {}\nfiles kept in {}",
            report.result(),
            report
                .anomalies
                .iter()
                .chain(&report.undecided)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  "),
            report.command,
            kept.display()
        );
    }
    assert!(report.faults > 0, "the nemesis injected no fault");
    assert!(
        report.ok > 100,
        "only {} operations succeeded: the workload barely ran",
        report.ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_stays_linearizable_when_the_leader_is_killed() {
    check_run(Workload::Register, Nemesis::KillLeader, Members::Zkrs, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_stays_linearizable_when_the_leader_is_cut_off() {
    check_run(
        Workload::Register,
        Nemesis::PartitionLeader,
        Members::Zkrs,
        2,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_keeps_every_acknowledged_add_across_random_halves() {
    check_run(Workload::Set, Nemesis::PartitionHalves, Members::Zkrs, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_ids_stay_unique_when_the_leader_is_paused() {
    check_run(Workload::UniqueIds, Nemesis::PauseLeader, Members::Zkrs, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_multis_stay_atomic_when_members_are_killed() {
    check_run(Workload::Counter, Nemesis::Kill, Members::Zkrs, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_neither_loses_nor_duplicates_under_mixed_faults() {
    check_run(Workload::Queue, Nemesis::Mixed, Members::Zkrs, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemerals_live_exactly_as_long_as_their_sessions_across_pauses() {
    check_run(Workload::Sessions, Nemesis::Pause, Members::Zkrs, 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_see_changes_in_order_and_the_last_one_across_partitions() {
    check_run(
        Workload::Watches,
        Nemesis::PartitionOneWay,
        Members::Zkrs,
        8,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_survives_slow_and_failing_fsyncs_and_corrupted_files() {
    preload::require_cc();
    check_run(Workload::Register, Nemesis::Disk, Members::Zkrs, 9).await;
}

/// The run also requires that the other members serve while one member's disk is full,
/// that it serves again once its disk has room, and that all agree at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_keeps_every_acknowledged_add_when_a_members_disk_fills_up() {
    preload::require_cc();
    check_run(Workload::Set, Nemesis::DiskFull, Members::Zkrs, 12).await;
}

/// Reconfigs while the links are cut, in an ensemble of Apache and zkrs members: the run
/// also requires that every member ends with the same `/zookeeper/config`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_stays_linearizable_when_a_reconfig_meets_a_partition() {
    preload::require_cc();
    check_run(
        Workload::Register,
        Nemesis::ReconfigPartition,
        Members::Mixed,
        13,
    )
    .await;
}

/// zkrs and Apache members in one ensemble (Apache, zkrs, Apache).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_multis_stay_atomic_in_a_mixed_ensemble_under_partitions() {
    check_run(
        Workload::Counter,
        Nemesis::PartitionLeader,
        Members::Mixed,
        10,
    )
    .await;
}

/// The reference: the same code against Apache ZooKeeper 3.8 members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apache_register_stays_linearizable_when_the_leader_is_killed() {
    check_run(Workload::Register, Nemesis::KillLeader, Members::Apache, 1).await;
}

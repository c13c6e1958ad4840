//! Replication end to end: ensembles of real processes, faults (kill -9, SIGSTOP, a wiped
//! data dir, loss of quorum), and afterwards every acknowledged write on every member and
//! identical trees (data, every `Stat` field, ACLs) on all of them.
//!
//! The member kinds come from `ZKRS_ENSEMBLE` (`apache`, the default for now, `zkrs`,
//! `mixed`, or a pattern such as `zaa`; see `zkrs_tests::ensemble::env_kinds`), so every
//! test here runs on each. The `layout_*` tests pin a mixed layout of their own and are
//! ignored until zkrs replicates; `layout_all_apache` runs the same function today.
//!
//! Every wait is for a condition with a deadline; writers are bounded in count and time
//! (`zkrs_tests::acked`).

use std::time::{Duration, Instant};

use zkrs_tests::acked::{assert_acked_everywhere, AckLog, WriterLimits, Writers, WRITER_SESSION};
use zkrs_tests::ensemble::{env_launches, Launch};
use zkrs_tests::replica::{
    assert_no_digest_mismatches, assert_no_digest_mismatches_except, assert_same_trees,
};
use zkrs_tests::{
    eventually, fired, mode, open, within, zk, Ensemble, Mode, ServerConfig, ServerKind, POLL, WAIT,
};

/// Bound for an election, a member's (re)start and its catching up: JVMs on a busy
/// two-core machine.
const ELECTION: Duration = Duration::from_secs(90);
/// Bound for the members' trees to agree once the writers stopped.
const CONVERGE: Duration = Duration::from_secs(30);
/// Acknowledged writes that show the ensemble takes writes (again).
const PROGRESS: u64 = 100;
/// Writers per test.
const WRITERS: usize = 4;

/// Runs a blocking ensemble call (mode probes, waits) on a runtime worker.
fn blocking<R>(f: impl FnOnce() -> R) -> R {
    tokio::task::block_in_place(f)
}

fn start(n: usize) -> Ensemble {
    blocking(|| Ensemble::from_env(n, ServerConfig::default()))
}

/// Checks that end every fault test: every acknowledged write on every member, equal
/// trees, no digest mismatch reported.
async fn assert_converged(e: &Ensemble, log: &AckLog) {
    assert_converged_except_digests_of(e, log, &[]).await;
}

/// [`assert_converged`], the digest counters of the members in `except` left unchecked.
async fn assert_converged_except_digests_of(e: &Ensemble, log: &AckLog, except: &[usize]) {
    assert_acked_everywhere(e, log).await;
    let tree = assert_same_trees(e, CONVERGE).await;
    eprintln!(
        "converged: {} acknowledged creates, {} counters, {} nodes on each of {} members",
        log.creates.len(),
        log.counters.len(),
        tree.len(),
        e.serving_candidates().len()
    );
    assert!(
        tree.len() > log.creates.len(),
        "the tree has {} nodes but {} creates were acknowledged",
        tree.len(),
        log.creates.len()
    );
    blocking(|| assert_no_digest_mismatches_except(e, except));
}

/// Waits until member `i` follows (or observes) a serving leader, and returns the leader.
fn wait_rejoined(e: &Ensemble, i: usize) -> usize {
    let leader = e.wait_for_leader(ELECTION);
    assert_ne!(leader, i, "a rejoining member does not lead at once");
    assert!(
        matches!(e.member(i).mode(), Mode::Follower | Mode::Observer),
        "member {} rejoined as {:?}",
        i + 1,
        e.member(i).mode()
    );
    leader
}

/// Asserts that member `i`'s log since `offset` says it synchronised with the leader by
/// `expected` (`"diff"` or `"snap"`): Apache's lines, or zkrs's `synced with the leader`
/// line with its mode.
fn assert_synced_by(e: &Ensemble, i: usize, offset: usize, expected: &str) {
    let kind = |log: &str| {
        let tail = log.get(offset..).unwrap_or("");
        let zkrs = tail
            .lines()
            .find(|l| l.contains("synced with the leader"))
            .and_then(|l| {
                ["snap", "trunc", "diff"]
                    .into_iter()
                    .find(|m| l.contains(&format!("mode=\"{m}\"")))
            });
        if zkrs.is_some() {
            zkrs
        } else if tail.contains("Getting a snapshot from leader") {
            Some("snap")
        } else if tail.contains("Truncating log to get in sync") {
            Some("trunc")
        } else if tail.contains("Getting a diff from the leader") {
            Some("diff")
        } else {
            None
        }
    };
    let start = Instant::now();
    loop {
        if let Some(k) = kind(&e.member(i).log()) {
            assert_eq!(k, expected, "how member {} synced", i + 1);
            return;
        }
        assert!(
            start.elapsed() < WAIT,
            "member {} logged no sync with the leader",
            i + 1
        );
        std::thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------------------
// Three members, no faults.
// ---------------------------------------------------------------------------------------

/// Writes through each member are visible on every member after `sync`; a session reads
/// its own writes on its member; watches set on every member fire; an ephemeral vanishes
/// on every member when its session closes; a session moved from one member to another
/// keeps its ephemeral.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_agree_on_reads_writes_watches_and_sessions() {
    let e = start(3);
    let n = 3;
    let clients: Vec<zk::Client> = {
        let mut v = Vec::new();
        for i in 0..n {
            v.push(e.client_of(i).await);
        }
        v
    };
    clients[0].create("/vis", b"", &open()).await.unwrap();

    // Writes through each member, read on every member after sync.
    for (i, c) in clients.iter().enumerate() {
        let path = format!("/vis/through-{}", i + 1);
        c.create(&path, format!("m{}", i + 1).as_bytes(), &open())
            .await
            .unwrap_or_else(|err| panic!("create through member {}: {err}", i + 1));
    }
    for (j, c) in clients.iter().enumerate() {
        c.sync("/vis").await.expect("sync");
        for i in 0..n {
            let path = format!("/vis/through-{}", i + 1);
            let (data, _) = c.get_data(&path).await.unwrap_or_else(|err| {
                panic!(
                    "{path}, written through member {}, not on member {} after sync: {err}",
                    i + 1,
                    j + 1
                )
            });
            assert_eq!(data, format!("m{}", i + 1).as_bytes());
        }
    }

    // Read your own writes on your member, awaited one by one and pipelined.
    for (i, c) in clients.iter().enumerate() {
        let path = format!("/vis/own-{}", i + 1);
        c.create(&path, b"0", &open()).await.unwrap();
        for k in 1..=10u32 {
            let value = k.to_string();
            c.set_data(&path, value.as_bytes(), None).await.unwrap();
            let (data, stat) = c.get_data(&path).await.unwrap();
            assert_eq!(data, value.as_bytes(), "member {}: own write unseen", i + 1);
            assert_eq!(stat.version, k as i32);
        }
        // Sent back to back before any reply: the read is answered after the write.
        let write = c.set_data(&path, b"pipelined", None);
        let read = c.get_data(&path);
        write.await.unwrap();
        let (data, _) = read.await.unwrap();
        assert_eq!(data, b"pipelined", "member {}: pipelined read", i + 1);
    }

    // Watches on every member fire for a change made through one of them.
    clients[0].create("/watched", b"0", &open()).await.unwrap();
    let mut data_watches = Vec::new();
    let mut child_watches = Vec::new();
    for c in &clients {
        c.sync("/watched").await.unwrap();
        let (_, _, w) = c.get_and_watch_data("/watched").await.unwrap();
        data_watches.push(w);
        let (_, w) = c.list_and_watch_children("/watched").await.unwrap();
        child_watches.push(w);
    }
    clients[1]
        .set_data("/watched", b"1", None)
        .await
        .expect("set through member 2");
    clients[2]
        .create("/watched/child", b"", &open())
        .await
        .expect("create through member 3");
    for (i, w) in data_watches.into_iter().enumerate() {
        let ev = fired(w).await;
        assert_eq!(
            (ev.event_type, ev.path.as_str()),
            (zk::EventType::NodeDataChanged, "/watched"),
            "data watch on member {}",
            i + 1
        );
    }
    for (i, w) in child_watches.into_iter().enumerate() {
        let ev = fired(w).await;
        assert_eq!(
            (ev.event_type, ev.path.as_str()),
            (zk::EventType::NodeChildrenChanged, "/watched"),
            "child watch on member {}",
            i + 1
        );
    }

    // An ephemeral is on every member while its session lives, and gone from every member
    // once the session closes.
    let owner = e.client_of(0).await;
    owner
        .create("/vis/eph", b"e", &mode(zk::CreateMode::Ephemeral))
        .await
        .unwrap();
    let sid = owner.session_id().0;
    for (j, c) in clients.iter().enumerate() {
        c.sync("/vis").await.unwrap();
        let stat = c.check_stat("/vis/eph").await.unwrap();
        assert_eq!(
            stat.map(|s| s.ephemeral_owner),
            Some(sid),
            "the ephemeral on member {}",
            j + 1
        );
    }
    drop(owner); // closes the session
    for c in &clients {
        zkrs_tests::wait_gone(c, "/vis/eph", WAIT).await;
    }

    // A session moves: opened on member 1 with an ephemeral, its connection dropped (the
    // session stays), reattached on member 2 with the same id and password.
    // Detached: dropping it closes the connection, not the session.
    let first = within(WAIT, "a detached client on member 1", async {
        zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .with_detached()
            .with_fail_eagerly()
            .connect(&e.member(0).addr().to_string())
            .await
            .expect("connect to member 1")
    })
    .await;
    first
        .create("/vis/moving", b"m", &mode(zk::CreateMode::Ephemeral))
        .await
        .unwrap();
    let sid = first.session_id().0;
    let mut state = first.state_watcher();
    let session = first.into_session();
    within(WAIT, "the detached client to let go", async {
        while !state.changed().await.is_terminated() {}
    })
    .await;
    // Member 2 must have seen everything the session saw before it takes it.
    clients[1].sync("/vis").await.unwrap();
    let moved = within(WAIT, "reattaching the session on member 2", async {
        zk::Client::connector()
            .with_session(session)
            .with_fail_eagerly()
            .connect(&e.member(1).addr().to_string())
            .await
            .expect("reattach on member 2")
    })
    .await;
    assert_eq!(moved.session_id().0, sid);
    let (data, stat) = moved.get_data("/vis/moving").await.expect("ephemeral kept");
    assert_eq!((data.as_slice(), stat.ephemeral_owner), (&b"m"[..], sid));
    moved
        .set_data("/vis/moving", b"moved", None)
        .await
        .expect("the moved session writes");
    for (j, c) in clients.iter().enumerate() {
        c.sync("/vis").await.unwrap();
        let (data, stat) = c.get_data("/vis/moving").await.unwrap_or_else(|err| {
            panic!("the moved session's ephemeral on member {}: {err}", j + 1)
        });
        assert_eq!(
            (data.as_slice(), stat.ephemeral_owner),
            (&b"moved"[..], sid)
        );
    }
    drop(moved);
    for c in &clients {
        zkrs_tests::wait_gone(c, "/vis/moving", WAIT).await;
    }

    drop(clients);
    assert_same_trees(&e, CONVERGE).await;
    blocking(|| assert_no_digest_mismatches(&e));
}

// ---------------------------------------------------------------------------------------
// Faults under continuous writes.
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaders_kill_9_under_writes_loses_no_acknowledged_write() {
    let mut e = start(3);
    let writers = Writers::start(&e, "/acked", WRITERS, WriterLimits::default()).await;
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes before the kill")
        .await;

    let leader = blocking(|| e.wait_for_leader(ELECTION));
    kill_the_leader_and_converge(&mut e, leader, writers).await;
}

/// Kills `leader` (kill -9) while `writers` write: a new leader is elected and writes go on;
/// the old leader restarts and rejoins; then every acknowledged write is on every member
/// and the trees agree.
async fn kill_the_leader_and_converge(e: &mut Ensemble, leader: usize, writers: Writers) {
    e.kill9(leader);
    let new = blocking(|| e.wait_for_leader(ELECTION));
    assert_ne!(new, leader, "a killed member cannot lead");
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes after the leader's kill -9")
        .await;
    e.restart(leader);
    blocking(|| wait_rejoined(e, leader));
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes after the old leader rejoined")
        .await;
    let log = writers.stop().await;
    assert_converged(e, &log).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_follower_catches_up_by_diff() {
    let mut e = start(3);
    let writers = Writers::start(&e, "/acked", WRITERS, WriterLimits::default()).await;
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes before the kill")
        .await;
    let leader = blocking(|| e.wait_for_leader(ELECTION));
    let follower = (leader + 1) % 3;
    e.kill9(follower);
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes with a follower killed")
        .await;
    // Stopped before the restart so that the follower is only a few hundred transactions
    // behind: within what the leader keeps for a DIFF.
    let mut log = writers.stop().await;

    let offset = e.member(follower).log().len();
    e.restart(follower);
    blocking(|| wait_rejoined(&e, follower));
    blocking(|| assert_synced_by(&e, follower, offset, "diff"));
    let more = Writers::start(&e, "/acked2", WRITERS, WriterLimits::default()).await;
    more.wait_for_progress(PROGRESS, ELECTION, "writes after the follower rejoined")
        .await;
    log.merge(more.stop().await);
    assert_converged(&e, &log).await;
}

/// A follower stopped, its data dir wiped (but `myid`), restarted with no writes in
/// flight: it catches up by a full snapshot (SNAP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_with_a_wiped_data_dir_catches_up_by_snapshot() {
    wiped_follower(false).await;
}

/// The same with the writers going on while the snapshot is sent and loaded: the learner
/// takes a fuzzy snapshot plus the proposals that follow it. Its trees and acknowledged
/// writes are checked as everywhere, but not its digest counter: Apache 3.8.0's wiped
/// follower sometimes counts a mismatch or two on the first transactions after the
/// snapshot ("First digest mismatch on txn") while its tree equals the others'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_follower_catches_up_by_snapshot_under_writes() {
    wiped_follower(true).await;
}

async fn wiped_follower(writes_during_sync: bool) {
    let mut e = start(3);
    let writers = Writers::start(&e, "/acked", WRITERS, WriterLimits::default()).await;
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes before the stop")
        .await;
    let leader = blocking(|| e.wait_for_leader(ELECTION));
    let follower = (leader + 2) % 3;
    e.kill9(follower);
    e.wipe_data(follower);
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes with a follower stopped")
        .await;
    let mut log = AckLog::default();
    let mut running = Some(writers);
    if !writes_during_sync {
        log.merge(running.take().expect("writers").stop().await);
    }

    let offset = e.member(follower).log().len();
    e.restart(follower);
    blocking(|| wait_rejoined(&e, follower));
    blocking(|| assert_synced_by(&e, follower, offset, "snap"));
    let writers = match running {
        Some(w) => w,
        None => Writers::start(&e, "/acked2", WRITERS, WriterLimits::default()).await,
    };
    writers
        .wait_for_progress(
            PROGRESS,
            ELECTION,
            "writes after the wiped follower rejoined",
        )
        .await;
    log.merge(writers.stop().await);
    if writes_during_sync {
        assert_converged_except_digests_of(&e, &log, &[follower]).await;
    } else {
        assert_converged(&e, &log).await;
    }
}

/// The leader stops (SIGSTOP) for longer than the sessions' timeout: the others elect a new
/// leader and go on; the old one, let run again, rejoins as a follower.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_paused_beyond_the_session_timeout_rejoins() {
    let mut e = start(3);
    let writers = Writers::start(&e, "/acked", WRITERS, WriterLimits::default()).await;
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes before the pause")
        .await;
    let old = blocking(|| e.wait_for_leader(ELECTION));
    e.pause(old);
    let paused_at = Instant::now();
    let new = blocking(|| e.wait_for_leader(ELECTION));
    assert_ne!(new, old);
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes with the old leader paused")
        .await;
    // The pause must outlast every session timeout the old leader tracked.
    let until = paused_at + WRITER_SESSION + Duration::from_secs(2);
    tokio::time::sleep_until(until.into()).await;
    e.resume(old);
    blocking(|| wait_rejoined(&e, old));
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes after the old leader rejoined")
        .await;
    let log = writers.stop().await;
    assert_converged(&e, &log).await;
}

// ---------------------------------------------------------------------------------------
// Quorum.
// ---------------------------------------------------------------------------------------

/// A write through any member, retried (each attempt bounded) until acknowledged.
async fn write_eventually(e: &Ensemble, path: &str) {
    let cluster = e.connect_string();
    eventually(
        ELECTION,
        &format!("a write of {path} to be acknowledged"),
        || {
            let cluster = cluster.clone();
            async move {
                let attempt = async {
                    let c = zk::Client::connector()
                        .with_session_timeout(WRITER_SESSION)
                        .connect(&cluster)
                        .await
                        .ok()?;
                    match c.create(path, b"", &open()).await {
                        Ok(_) | Err(zk::Error::NodeExists) => Some(()),
                        Err(_) => None,
                    }
                };
                tokio::time::timeout(WAIT, attempt).await.ok().flatten()
            }
        },
    )
    .await;
}

/// Five members: two killed, writes go on; a third killed, writes stop (lost connections
/// and timeouts, never a success); one back, writes resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_members_write_with_three_and_stop_with_two() {
    let mut e = start(5);
    write_eventually(&e, "/q").await;
    let leader = blocking(|| e.wait_for_leader(ELECTION));
    // The leader and a follower.
    let first = [leader, (leader + 1) % 5];
    for &i in &first {
        e.kill9(i);
    }
    blocking(|| e.wait_for_leader(ELECTION));
    write_eventually(&e, "/q/with-three").await;

    let third = blocking(|| e.wait_for_leader(ELECTION));
    e.kill9(third);
    let survivors = e.running();
    assert_eq!(survivors.len(), 2);
    // Both notice the lost quorum (their leader, or their followers, are gone).
    blocking(|| {
        let start = Instant::now();
        while survivors
            .iter()
            .any(|&i| e.member(i).mode() != Mode::NotServing)
        {
            assert!(
                start.elapsed() < ELECTION,
                "members without a quorum still serve: {}",
                e.describe()
            );
            std::thread::sleep(POLL);
        }
    });
    for round in 0..3 {
        for &i in &survivors {
            let addr = e.member(i).addr().to_string();
            let attempt = async {
                let c = zk::Client::connector()
                    .with_session_timeout(WRITER_SESSION)
                    .with_fail_eagerly()
                    .connect(&addr)
                    .await?;
                c.create(&format!("/q/no-quorum-{round}-{i}"), b"", &open())
                    .await
            };
            match tokio::time::timeout(Duration::from_secs(3), attempt).await {
                Ok(Ok(_)) => panic!("member {} acknowledged a write without a quorum", i + 1),
                // Unavailability, not an answer about the data.
                Ok(Err(
                    zk::Error::ConnectionLoss
                    | zk::Error::NoHosts
                    | zk::Error::Timeout
                    | zk::Error::SessionExpired
                    | zk::Error::ClientClosed
                    | zk::Error::UnexpectedError(_)
                    | zk::Error::Custom(_),
                ))
                | Err(_) => {}
                Ok(Err(other)) => panic!(
                    "member {} without a quorum answered a write with {other:?}, not a lost \
                     connection or a timeout",
                    i + 1
                ),
            }
        }
    }

    e.restart(third);
    blocking(|| e.wait_for_leader(ELECTION));
    write_eventually(&e, "/q/with-three-again").await;
    for &i in &first {
        e.restart(i);
    }
    blocking(|| e.wait_for_leader(ELECTION));
    assert_eq!(e.running().len(), 5);
    let c = e.client_of(first[0]).await;
    c.sync("/q").await.unwrap();
    let children = c.list_children("/q").await.unwrap();
    for name in ["with-three", "with-three-again"] {
        assert!(
            children.iter().any(|c| c == name),
            "/q/{name}: {children:?}"
        );
    }
    assert!(
        !children.iter().any(|c| c.starts_with("no-quorum")),
        "a write made without a quorum was applied later (allowed, but never acknowledged): \
         {children:?}"
    );
    drop(c);
    assert_same_trees(&e, CONVERGE).await;
    blocking(|| assert_no_digest_mismatches(&e));
}

// ---------------------------------------------------------------------------------------
// Observers.
// ---------------------------------------------------------------------------------------

/// Three participants and an observer: the observer serves reads, forwards writes, and its
/// tree equals the others'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_serves_reads_and_forwards_writes() {
    let e = blocking(|| Ensemble::start_mixed(&env_launches(3, 1), ServerConfig::default()));
    let observer = 3;
    assert_eq!(e.member(observer).mode(), Mode::Observer);
    let obs = e.client_of(observer).await;
    obs.create("/obs", b"from-observer", &open())
        .await
        .expect("a write through the observer");
    let (data, _) = obs
        .get_data("/obs")
        .await
        .expect("its own write, read back");
    assert_eq!(data, b"from-observer");
    for i in 0..3 {
        let c = e.client_of(i).await;
        c.sync("/obs").await.unwrap();
        let (data, _) = c.get_data("/obs").await.unwrap();
        assert_eq!(data, b"from-observer", "member {}", i + 1);
        c.create(&format!("/obs/from-{}", i + 1), b"", &open())
            .await
            .unwrap();
    }
    obs.sync("/obs").await.unwrap();
    let children = obs.list_children("/obs").await.unwrap();
    assert_eq!(
        children.len(),
        3,
        "the observer sees the others' writes: {children:?}"
    );

    let writers = Writers::start(&e, "/acked", WRITERS, WriterLimits::default()).await;
    writers
        .wait_for_progress(PROGRESS * 2, ELECTION, "writes through all four members")
        .await;
    let log = writers.stop().await;
    drop(obs);
    assert_converged(&e, &log).await;
}

// ---------------------------------------------------------------------------------------
// Mixed layouts.
// ---------------------------------------------------------------------------------------

/// An ensemble laid out as `launches` (at least three voters), its highest-sid participant
/// leading (started first with one other voter): writes through every member, `victim` killed with -9 under writes and restarted,
/// then the leader killed with -9 and restarted; no acknowledged write lost, equal trees.
async fn layout_survives_faults(launches: &[Launch], victim: usize) {
    let mut e = Ensemble::prepare(
        launches[0].server_kind().expect("a server"),
        launches,
        ServerConfig::default(),
    );
    assert_eq!(
        launches.iter().filter(|l| !l.is_observer()).count(),
        3,
        "three voters"
    );
    let intended = launches
        .iter()
        .rposition(|l| !l.is_observer())
        .expect("a participant");
    // The intended leader and one other participant first: two of three voters are a
    // quorum only together, and both vote for the higher sid; then the rest join.
    let partner = (0..launches.len())
        .find(|&i| i != intended && !launches[i].is_observer())
        .expect("a second participant");
    e.restart(intended);
    e.restart(partner);
    let leader = blocking(|| e.wait_for_leader(ELECTION * 2));
    assert_eq!(
        leader,
        intended,
        "the higher sid of the first two leads: {}",
        blocking(|| e.describe())
    );
    for i in (0..launches.len()).filter(|&i| i != intended && i != partner) {
        e.restart(i);
    }
    assert_eq!(blocking(|| e.wait_for_leader(ELECTION * 2)), leader);
    assert_ne!(victim, leader, "the victim is a learner");

    let writers = Writers::start(&e, "/acked", WRITERS, WriterLimits::default()).await;
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes through every member")
        .await;

    e.kill9(victim);
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes with the learner killed")
        .await;
    e.restart(victim);
    blocking(|| wait_rejoined(&e, victim));
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes after the learner rejoined")
        .await;

    kill_the_leader_and_converge(&mut e, leader, writers).await;
}

const A: Launch = Launch::Server(ServerKind::Apache);
const Z: Launch = Launch::Server(ServerKind::Zkrs);

/// The layout function today, on Apache only: the observer is the victim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_all_apache() {
    layout_survives_faults(&[A, A, A, Launch::Observer(ServerKind::Apache)], 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_zkrs_follower_under_an_apache_leader() {
    layout_survives_faults(&[Z, A, A], 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_apache_followers_under_a_zkrs_leader() {
    layout_survives_faults(&[A, A, Z], 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layout_zkrs_observer() {
    layout_survives_faults(&[A, A, A, Launch::Observer(ServerKind::Zkrs)], 3).await;
}

/// Bytes of a `QuorumPacket` (jute: type, zxid, buffer, null authinfo vector).
fn quorum_packet(kind: i32, zxid: i64, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_be_bytes());
    b.extend_from_slice(&zxid.to_be_bytes());
    b.extend_from_slice(&(data.len() as i32).to_be_bytes());
    b.extend_from_slice(data);
    b.extend_from_slice(&(-1i32).to_be_bytes());
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_on_the_quorum_and_election_ports_change_nothing() {
    use std::io::Write as _;
    use std::net::TcpStream;
    let e = start(3);
    let writers = Writers::start(&e, "/acked", WRITERS, WriterLimits::default()).await;
    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes before the hostile peers")
        .await;
    let leader = blocking(|| e.wait_for_leader(ELECTION));
    let quorum = e.member(leader).quorum_addr();
    let election = e.member(leader).election_addr();
    let send = |addr, bytes: Vec<u8>| {
        let mut s = TcpStream::connect(addr).expect("connect");
        let _ = s.write_all(&bytes);
        s
    };
    // Kept open without a word (the leader's read timeout ends them), and the rest closed
    // right after their bytes.
    let _silent_quorum = TcpStream::connect(quorum).expect("connect");
    let _silent_election = TcpStream::connect(election).expect("connect");
    drop(send(quorum, vec![0xde, 0xad, 0xbe, 0xef, 0, 1]));
    // A first packet that is not FOLLOWERINFO; one with an oversized buffer; a truncated one.
    drop(send(quorum, quorum_packet(4, 1, &[])));
    let mut huge = quorum_packet(11, 0, &[]);
    huge[12..16].copy_from_slice(&i32::MAX.to_be_bytes());
    drop(send(quorum, huge));
    drop(send(quorum, quorum_packet(11, 0, &[0; 20])[..9].to_vec()));
    // FOLLOWERINFO from a server id no config lists, then garbage instead of ACKEPOCH.
    let mut info = Vec::new();
    info.extend_from_slice(&99i64.to_be_bytes());
    info.extend_from_slice(&0x10000i32.to_be_bytes());
    info.extend_from_slice(&0i64.to_be_bytes());
    let mut stranger = quorum_packet(11, 0, &info);
    stranger.extend_from_slice(&[0xff; 7]);
    drop(send(quorum, stranger));
    // Election port: a bad protocol version, an absurd address length, a frame too long.
    let mut bad_version = Vec::new();
    bad_version.extend_from_slice(&(-7i64).to_be_bytes());
    bad_version.extend_from_slice(&5i64.to_be_bytes());
    drop(send(election, bad_version));
    let mut long_addr = Vec::new();
    long_addr.extend_from_slice(&(-65536i64).to_be_bytes());
    long_addr.extend_from_slice(&99i64.to_be_bytes());
    long_addr.extend_from_slice(&1_000_000i32.to_be_bytes());
    drop(send(election, long_addr));

    writers
        .wait_for_progress(PROGRESS, ELECTION, "writes after the hostile peers")
        .await;
    assert_eq!(
        blocking(|| e.wait_for_leader(ELECTION)),
        leader,
        "the leader kept its role"
    );
    let log = writers.stop().await;
    assert_converged(&e, &log).await;
}

/// Whether `dump-log` of any log segment in `dir` lists a transaction on `path`.
fn logged(dir: &std::path::Path, path: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        if !name.to_string_lossy().starts_with("log.") {
            return false;
        }
        std::process::Command::new(zkrs_tests::server::zkrs_binary())
            .arg("dump-log")
            .arg(e.path())
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(path))
    })
}

/// A leader logs a proposal no follower got (both killed: a paused process would still
/// receive it into its socket buffer), dies, and comes back after the others elected a new
/// leader without it: its uncommitted tail is cut (TRUNC), the write that was never
/// acknowledged is nowhere, and the trees agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ex_leader_with_an_uncommitted_tail_is_truncated() {
    // zkrs members whatever `ZKRS_ENSEMBLE` says: the leader's log is read with zkrs's own
    // tool (and Apache's leader decides between TRUNC and SNAP by its own rules).
    let mut e = blocking(|| Ensemble::start(ServerKind::Zkrs, 3, ServerConfig::default()));
    let leader = blocking(|| e.wait_for_leader(ELECTION));
    let client = e.client_of(leader).await;
    client
        .create("/before", b"", &open())
        .await
        .expect("a write with a quorum");
    let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    for &f in &followers {
        e.kill9(f);
    }
    // Sent, never acknowledged: the leader logs it and waits for a quorum that is gone.
    let pending = tokio::spawn(async move { client.create("/lost", b"x", &open()).await });
    let log_dir = e.member_dir(leader).join("data").join("zkrs");
    eventually(WAIT, "the leader logs the proposal", || {
        let found = logged(&log_dir, "/lost");
        async move { found.then_some(()) }
    })
    .await;
    e.kill9(leader);
    assert!(
        pending.await.expect("task").is_err(),
        "a write without a quorum is not acknowledged"
    );
    for &f in &followers {
        e.restart(f);
    }
    let new_leader = blocking(|| e.wait_serving(ELECTION)).expect("a new leader");
    assert_ne!(new_leader, leader);
    let offset = e.member(leader).log().len();
    e.restart(leader);
    blocking(|| wait_rejoined(&e, leader));
    blocking(|| assert_synced_by(&e, leader, offset, "trunc"));
    for i in 0..3 {
        let c = e.client_of(i).await;
        c.sync("/").await.expect("sync");
        assert!(
            c.check_stat("/lost").await.expect("exists").is_none(),
            "member {}: the unacknowledged write is gone",
            i + 1
        );
        assert!(c.check_stat("/before").await.expect("exists").is_some());
    }
    assert_same_trees(&e, CONVERGE).await;
}

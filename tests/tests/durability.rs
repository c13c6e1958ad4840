//! Durability: writes acknowledged to clients survive `kill -9` of the server at random
//! moments, and nothing unacknowledged shows up half-applied.
//!
//! Seeded and bounded: `ZKRS_CRASH_SEED` picks the seed (printed on failure) and
//! `ZKRS_CRASH_ROUNDS` the number of kill/restart rounds. Runs against zkrs-server or, with
//! `ZKRS_TEST_SERVER=apache`, against Apache ZooKeeper, which must pass it too.
//!
//! With `ZKRS_TEST_ENSEMBLE=N` the whole ensemble crashes at once (every member killed with
//! SIGKILL in turn) and restarts: what a quorum acknowledged must survive the loss of every
//! process, and the members must elect a leader from their logs again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use zkrs_tests::{in_ensemble, mode, open, synced, within, zk, ServerUnderTest, WAIT};

/// What writers were told succeeded.
#[derive(Default, Clone)]
struct Acked {
    /// path -> data of acknowledged creates.
    creates: HashMap<String, Vec<u8>>,
    /// counter path -> highest acknowledged version.
    versions: HashMap<String, i32>,
    /// acknowledged multi pairs (both nodes must exist).
    pairs: Vec<(String, String)>,
}

/// A small deterministic generator (xorshift), so a failing seed replays the same delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn writer(
    client: zk::Client,
    id: usize,
    round: u64,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
) {
    let counter = format!("/crash/counter-{id}");
    for seq in 0..10_000u32 {
        // Sessions are durable: a client may reconnect to the restarted server and carry
        // on, so writers are told to stop rather than waiting for an error.
        if stop.load(Ordering::Acquire) {
            return;
        }
        let path = format!("/crash/r{round}-w{id}-{seq}");
        let data = format!("{round}:{id}:{seq}").into_bytes();
        match seq % 3 {
            0 => {
                if client.create(&path, &data, &open()).await.is_err() {
                    return;
                }
                acked.lock().expect("lock").creates.insert(path, data);
            }
            1 => match client.set_data(&counter, &data, None).await {
                Ok(stat) => {
                    let mut a = acked.lock().expect("lock");
                    let v = a.versions.entry(counter.clone()).or_insert(0);
                    *v = (*v).max(stat.version);
                }
                Err(_) => return,
            },
            _ => {
                let (a, b) = (format!("{path}-a"), format!("{path}-b"));
                let mut w = client.new_multi_writer();
                if w.add_create(&a, &data, &open()).is_err()
                    || w.add_create(&b, &data, &open()).is_err()
                {
                    return;
                }
                if w.commit().await.is_err() {
                    return;
                }
                acked.lock().expect("lock").pairs.push((a, b));
            }
        }
    }
}

async fn verify(client: &zk::Client, acked: &Acked, seed: u64) {
    for (path, data) in &acked.creates {
        match client.get_data(path).await {
            Ok((got, _)) => assert_eq!(&got, data, "seed {seed}: {path} has other data"),
            Err(e) => panic!("seed {seed}: acknowledged create {path} lost: {e}"),
        }
    }
    for (path, version) in &acked.versions {
        let (_, stat) = client.get_data(path).await.expect("counter exists");
        assert!(
            stat.version >= *version,
            "seed {seed}: {path} at version {} but {version} was acknowledged",
            stat.version
        );
    }
    for (a, b) in &acked.pairs {
        for p in [a, b] {
            assert!(
                client.check_stat(p).await.expect("exists call").is_some(),
                "seed {seed}: acknowledged multi member {p} lost"
            );
        }
    }
    // Atomicity of everything, acknowledged or not: a multi's nodes exist together or not
    // at all.
    let children = client.list_children("/crash").await.expect("list");
    for c in &children {
        if let Some(base) = c.strip_suffix("-a") {
            assert!(
                children.iter().any(|x| x == &format!("{base}-b")),
                "seed {seed}: half of multi {base} applied"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    crash_rounds(zkrs_tests::ServerConfig::default(), 0x5eed_2026).await;
}

/// The same with a snapshot every few dozen transactions, so the kills land while fuzzy
/// snapshots are being taken and recovery starts from them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_during_fuzzy_snapshots() {
    let config = zkrs_tests::ServerConfig {
        extra: vec![("snapCount".into(), "40".into())],
        ..Default::default()
    };
    crash_rounds(config, 0x5eed_5a95).await;
}

async fn crash_rounds(config: zkrs_tests::ServerConfig, default_seed: u64) {
    let seed = env_u64("ZKRS_CRASH_SEED", default_seed);
    // An ensemble's round restarts every member and holds an election, several times a
    // standalone restart (three JVMs with Apache): fewer rounds by default.
    let rounds = env_u64("ZKRS_CRASH_ROUNDS", if in_ensemble() { 4 } else { 12 });
    let writers = 8;
    let mut rng = Rng(seed | 1);
    let mut server = ServerUnderTest::start_with(config);
    let setup = server.client().await;
    setup.create("/crash", b"", &open()).await.unwrap();
    for id in 0..writers {
        setup
            .create(&format!("/crash/counter-{id}"), b"", &open())
            .await
            .unwrap();
    }
    drop(setup);
    let acked = Arc::new(Mutex::new(Acked::default()));

    for round in 0..rounds {
        let mut tasks = Vec::new();
        let stop = Arc::new(AtomicBool::new(false));
        for id in 0..writers {
            let client = server.client().await;
            tasks.push(tokio::spawn(writer(
                client,
                id,
                round,
                acked.clone(),
                stop.clone(),
            )));
        }
        // Kill at a random moment while the writers are busy.
        tokio::time::sleep(Duration::from_millis(30 + rng.below(300))).await;
        server.kill9();
        stop.store(true, Ordering::Release);
        server
            .restart()
            .unwrap_or_else(|e| panic!("seed {seed} round {round}: restart failed: {e}"));
        for t in tasks {
            // A writer ends at its next check of `stop`, or on an error from the dead
            // connection; a request in flight may wait for the client to reconnect.
            let _ = within(WAIT * 3, "a writer to stop", t).await;
        }
        let check = server.client().await;
        let a = acked.lock().expect("lock").clone();
        assert!(!a.creates.is_empty(), "seed {seed}: nothing was written");
        // In an ensemble, read from a member that has caught up with the leader.
        verify(synced(&check).await, &a, seed).await;
    }
}

#[tokio::test]
async fn an_ephemeral_survives_a_restart_when_its_session_comes_back() {
    let mut server = ServerUnderTest::start_with(zkrs_tests::ServerConfig {
        tick_time_ms: 1000,
        ..Default::default()
    });
    let first = server
        .connect(
            zk::Client::connector()
                .with_session_timeout(Duration::from_secs(20))
                .with_detached(),
        )
        .await;
    first
        .create("/eph", b"e", &mode(zk::CreateMode::Ephemeral))
        .await
        .unwrap();
    let mut state = first.state_watcher();
    let session = first.into_session();
    // The client's background task keeps its connection until it notices that the client is
    // gone. Were it still connected at the kill, it would reconnect to the restarted server
    // with the same session and take it over from the second client (whose connection the
    // server then closes as superseded): wait until it has let go.
    within(WAIT, "the first client to let go of its session", async {
        while !state.changed().await.is_terminated() {}
    })
    .await;
    server.kill9_and_restart().expect("restart");
    let back = server
        .connect(zk::Client::connector().with_session(session))
        .await;
    let (data, stat) = back.get_data("/eph").await.expect("ephemeral kept");
    assert_eq!(data, b"e");
    assert_eq!(stat.ephemeral_owner, back.session_id().0);
}

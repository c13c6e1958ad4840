//! The operator scales a real ensemble 3 -> 5 -> 3 by rolling reconfiguration while
//! clients write: its own reconcile code against an in-memory API server, zkrs-server
//! processes as the pods (tests/support). The operator is killed right after a reconfig
//! in each direction and a fresh one (no memory) takes over; the leader is killed right
//! after the last addition and a follower during the shrink. No acknowledged write is
//! lost and `/zookeeper/config` ends with the desired voters.
//!
//! A zoo.cfg change restarts the members one at a time, followers first and the leader
//! last, each only while every other member serves.
//!
//! Needs `zkrs-server` built beside the test binary (`cargo build -p zkrs-server --bins`).

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use zkrs_tests::zk;

use support::api::Store;
use support::kubelet::{Kubelet, PodEvent, STS};
use support::writes::{assert_all_on, Writers};
use support::{Events, Loopback, Operator, Trap, ZKC};

/// How long one direction of the scaling may take.
const SCALE_LIMIT: Duration = Duration::from_secs(60);
/// How often the operator reconciles (its requeue, shortened).
const RECONCILE_EVERY: Duration = Duration::from_millis(200);

/// The voters of `/zookeeper/config` as a member of `hosts` has it, if one answers.
async fn voters(hosts: &str) -> Option<BTreeSet<u64>> {
    let connector = zk::Client::connector().with_session_timeout(Duration::from_secs(6));
    let client = tokio::time::timeout(Duration::from_secs(5), connector.connect(hosts))
        .await
        .ok()?
        .ok()?;
    let (data, _) = tokio::time::timeout(Duration::from_secs(5), client.get_config())
        .await
        .ok()?
        .ok()?;
    Some(
        String::from_utf8_lossy(&data)
            .lines()
            .filter(|l| l.contains(":participant"))
            .filter_map(|l| l.strip_prefix("server.")?.split('=').next()?.parse().ok())
            .collect(),
    )
}

fn progressing_reason(store: &Store) -> String {
    store
        .get(ZKC)
        .and_then(|z| {
            z["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "Progressing")
                .and_then(|c| c["reason"].as_str().map(str::to_string))
        })
        .unwrap_or_default()
}

/// The pieces a test drives.
struct Scene {
    store: Store,
    addresses: Arc<Loopback>,
    kubelet: Arc<Kubelet>,
    events: Arc<Events>,
    reconfigs: Arc<AtomicUsize>,
    traps: Vec<Trap>,
    operator: Option<Operator>,
    restarts: usize,
}

impl Scene {
    fn start_operator(&mut self) {
        self.operator = Some(Operator::start(
            &self.store,
            self.addresses.clone(),
            self.events.clone(),
            self.reconfigs.clone(),
            self.traps.clone(),
            RECONCILE_EVERY,
        ));
    }

    /// Runs until the ensemble's voters are `1..=size`, the StatefulSet runs `size` pods
    /// and the operator says it is reconciled; replaces the operator whenever it dies.
    async fn settle(&mut self, size: u64, what: &str) {
        let want: BTreeSet<u64> = (1..=size).collect();
        let hosts = self.addresses.connect_string();
        let start = Instant::now();
        loop {
            let tripwire = self
                .operator
                .as_ref()
                .expect("an operator")
                .tripwire
                .clone();
            tokio::select! {
                () = tripwire.tripped.notified() => {
                    self.operator.take().expect("an operator").kill();
                    self.restarts += 1;
                    eprintln!("harness: a fresh operator takes over ({what})");
                    self.start_operator();
                    continue;
                }
                () = tokio::time::sleep(RECONCILE_EVERY) => {}
            }
            let pods = self
                .store
                .get(STS)
                .and_then(|s| s["spec"]["replicas"].as_u64());
            let running: Vec<u32> = self.kubelet.running();
            let done = pods == Some(size)
                && running.len() as u64 == size
                && progressing_reason(&self.store) == "Reconciled"
                && voters(&hosts).await.as_ref() == Some(&want);
            if done {
                eprintln!("harness: {what} settled in {:?}", start.elapsed());
                return;
            }
            assert!(
                start.elapsed() < SCALE_LIMIT,
                "{what}: not settled within {SCALE_LIMIT:?}: pods {pods:?}, running {running:?}, \
                 progressing {:?}, voters {:?}, events {:?}\n{}",
                progressing_reason(&self.store),
                voters(&hosts).await,
                self.events.reasons(),
                self.kubelet.describe()
            );
        }
    }

    fn set_replicas(&self, n: u64) {
        self.store.update(ZKC, |z| {
            z["spec"]["replicas"] = json!(n);
            let g = z["metadata"]["generation"].as_i64().unwrap_or(1);
            z["metadata"]["generation"] = json!(g + 1);
        });
    }
}

/// A four-letter word's answer from `addr`.
fn four_letter_word(addr: std::net::SocketAddr, word: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut text = String::new();
    let _ = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).and_then(
        |mut s| {
            s.set_read_timeout(Some(Duration::from_secs(1)))?;
            s.write_all(word.as_bytes())?;
            s.read_to_string(&mut text)
        },
    );
    text
}

/// The ordinal of the member that leads now, by `srvr`.
fn leader_ordinal(addresses: &Loopback) -> Option<u32> {
    use std::io::{Read as _, Write as _};
    addresses
        .client_addrs()
        .iter()
        .position(|addr| {
            let mut text = String::new();
            std::net::TcpStream::connect_timeout(addr, Duration::from_millis(500))
                .and_then(|mut s| {
                    s.set_read_timeout(Some(Duration::from_secs(1)))?;
                    s.write_all(b"srvr")?;
                    s.read_to_string(&mut text)
                })
                .is_ok()
                && text.contains("Mode: leader")
        })
        .and_then(|i| u32::try_from(i).ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_to_five_to_three_under_writes_with_the_operator_and_members_killed() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let addresses = Arc::new(Loopback::allocate(5));
    let store = Store::default();
    store.put(
        ZKC,
        json!({
            "apiVersion": "zkrs.io/v1alpha1", "kind": "ZooKeeperCluster",
            "metadata": {"name": "zk", "namespace": "ns", "uid": "u-1", "generation": 1},
            "spec": {"replicas": 3, "metrics": {"enabled": false},
                     "storage": {"reclaimPolicy": "Delete"},
                     "config": {"tickTime": 500, "initLimit": 20, "syncLimit": 10}},
        }),
    );
    let kubelet = Arc::new(Kubelet::start(
        store.clone(),
        dir.path(),
        addresses.client_addrs(),
    ));
    // Reconfigs 1 and 2 add servers 4 and 5, 3 and 4 remove two of them.
    let kill_leader: Arc<dyn Fn() + Send + Sync> = {
        let (kubelet, addresses) = (kubelet.clone(), addresses.clone());
        Arc::new(move || {
            let leader = leader_ordinal(&addresses).expect("a leader after the reconfig");
            eprintln!("harness: killing the leader, pod {leader}");
            kubelet.kill(leader);
        })
    };
    let kill_follower: Arc<dyn Fn() + Send + Sync> = {
        let (kubelet, addresses) = (kubelet.clone(), addresses.clone());
        Arc::new(move || {
            let leader = leader_ordinal(&addresses);
            let follower = (0..3).find(|&i| Some(i) != leader).unwrap_or(0);
            eprintln!("harness: killing a follower, pod {follower}");
            kubelet.kill(follower);
        })
    };
    let mut scene = Scene {
        store: store.clone(),
        addresses: addresses.clone(),
        kubelet: kubelet.clone(),
        events: Arc::new(Events::default()),
        reconfigs: Arc::new(AtomicUsize::new(0)),
        traps: vec![
            Trap::KillOperator { at: 1 },
            Trap::Then {
                at: 2,
                f: kill_leader,
            },
            Trap::Then {
                at: 3,
                f: kill_follower,
            },
            Trap::KillOperator { at: 3 },
        ],
        operator: None,
        restarts: 0,
    };
    scene.start_operator();
    scene.settle(3, "creating 3 members").await;

    let hosts = addresses.connect_string();
    let writers = Writers::start(&hosts, 2, 5_000, Duration::from_secs(120)).await;
    writers
        .wait_for_progress(20, Duration::from_secs(20), "writes on 3 members")
        .await;

    scene.set_replicas(5);
    scene.settle(5, "growing to 5").await;
    writers
        .wait_for_progress(20, Duration::from_secs(20), "writes on 5 members")
        .await;

    scene.set_replicas(3);
    scene.settle(3, "shrinking to 3").await;
    writers
        .wait_for_progress(20, Duration::from_secs(20), "writes after shrinking")
        .await;

    let acked = writers.stop().await;
    for addr in addresses.client_addrs().iter().take(3) {
        assert_all_on(&addr.to_string(), &acked).await;
    }
    assert_eq!(scene.restarts, 2, "the operator was killed once each way");
    let reasons = scene.events.reasons();
    for (reason, n) in [("MemberAdded", 2), ("MemberRemoved", 2)] {
        let seen = reasons.iter().filter(|r| **r == reason).count();
        // A killed operator never published the Event of its last reconfig.
        assert!(seen >= n - 1, "{reason}: {seen} in {reasons:?}");
    }
    assert!(reasons.contains(&"AddingMember") && reasons.contains(&"RemovingPods"));
    let pod_events = kubelet.events();
    assert!(
        pod_events
            .iter()
            .filter(|e| matches!(e, PodEvent::Died(_)))
            .count()
            >= 2,
        "the killed members died and came back: {pod_events:?}"
    );
    assert!(
        pod_events.contains(&PodEvent::Stopped(4)) && pod_events.contains(&PodEvent::Stopped(3))
    );
    eprintln!(
        "3 -> 5 -> 3: {} acknowledged writes, events {reasons:?}",
        acked.len()
    );
    drop(scene);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_change_restarts_followers_first_and_the_leader_last() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let addresses = Arc::new(Loopback::allocate(3));
    let store = Store::default();
    store.put(
        ZKC,
        json!({
            "apiVersion": "zkrs.io/v1alpha1", "kind": "ZooKeeperCluster",
            "metadata": {"name": "zk", "namespace": "ns", "uid": "u-1", "generation": 1},
            "spec": {"replicas": 3, "metrics": {"enabled": false},
                     "config": {"tickTime": 500, "initLimit": 20, "syncLimit": 10}},
        }),
    );
    let kubelet = Arc::new(Kubelet::start(
        store.clone(),
        dir.path(),
        addresses.client_addrs(),
    ));
    let mut scene = Scene {
        store: store.clone(),
        addresses: addresses.clone(),
        kubelet: kubelet.clone(),
        events: Arc::new(Events::default()),
        reconfigs: Arc::new(AtomicUsize::new(0)),
        traps: Vec::new(),
        operator: None,
        restarts: 0,
    };
    scene.start_operator();
    scene.settle(3, "creating 3 members").await;
    let writers = Writers::start(
        &addresses.connect_string(),
        2,
        5_000,
        Duration::from_secs(120),
    )
    .await;
    writers
        .wait_for_progress(20, Duration::from_secs(20), "writes before the change")
        .await;

    store.update(ZKC, |z| {
        z["spec"]["config"]["tickTime"] = json!(400);
        z["metadata"]["generation"] = json!(2);
    });
    let start = Instant::now();
    loop {
        tokio::time::sleep(RECONCILE_EVERY).await;
        let deleted = kubelet
            .events()
            .iter()
            .filter(|e| matches!(e, PodEvent::Deleted { .. }))
            .count();
        let reconfigured = addresses
            .client_addrs()
            .iter()
            .all(|a| four_letter_word(*a, "conf").contains("tickTime=400"));
        if deleted == 3 && reconfigured && progressing_reason(&store) == "Reconciled" {
            break;
        }
        assert!(
            start.elapsed() < SCALE_LIMIT,
            "the rolling restart did not finish: {:?}, progressing {}\n{}",
            kubelet.events(),
            progressing_reason(&store),
            kubelet.describe()
        );
    }
    writers
        .wait_for_progress(20, Duration::from_secs(20), "writes after the restarts")
        .await;
    let acked = writers.stop().await;
    for addr in addresses.client_addrs() {
        assert_all_on(&addr.to_string(), &acked).await;
    }
    let restarts: Vec<(u32, bool, bool)> = kubelet
        .events()
        .iter()
        .filter_map(|e| match *e {
            PodEvent::Deleted {
                ordinal,
                leader,
                others_serving,
            } => Some((ordinal, leader, others_serving)),
            _ => None,
        })
        .collect();
    assert_eq!(kubelet.failed_starts(), []);
    let distinct: BTreeSet<u32> = restarts.iter().map(|r| r.0).collect();
    assert_eq!(distinct.len(), 3, "each member once: {restarts:?}");
    assert!(
        restarts.iter().all(|r| r.2),
        "a member restarted while another was down: {restarts:?}"
    );
    assert_eq!(
        restarts.iter().map(|r| r.1).collect::<Vec<_>>(),
        [false, false, true],
        "followers first, the leader last: {restarts:?}"
    );
    eprintln!("rolling restart in {:?}: {restarts:?}", start.elapsed());
}

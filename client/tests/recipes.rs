//! The recipes across independent sessions: service registry, lock, leader election.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use tokio::sync::{mpsc, oneshot};
use zkrs_client::recipes::election::{Candidate, Leadership};
use zkrs_client::recipes::lock::Lock;
use zkrs_client::recipes::registry::{Instance, ServiceRegistry};
use zkrs_client::{Client, CreateMode, Error};

fn addresses(instances: &[Instance]) -> Vec<&str> {
    instances.iter().map(|i| i.address.as_str()).collect()
}

async fn wait_instances(
    d: &mut zkrs_client::recipes::registry::ServiceDiscovery,
    limit: Duration,
    what: &str,
    pred: impl FnMut(&[Instance]) -> bool,
) -> Vec<Instance> {
    within(limit, what, d.wait_for(pred))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[tokio::test]
async fn registry_follows_providers_joining_leaving_and_expiring() {
    let server = server();
    let proxy = Proxy::start(server.addr()).await;
    let consumer = client(&server).await;
    let p1 = client(&server).await;
    let p2 = client(&server).await;
    let p3 = client_of(&proxy.connect_string(), Duration::from_millis(1500)).await;

    let mut billing = ServiceRegistry::new(&consumer, "/services")
        .unwrap()
        .discover("billing")
        .await
        .unwrap();
    assert!(billing.instances().is_empty());
    assert!(billing.pick_random().is_none());
    assert!(billing.pick_round_robin().is_none());

    let r1 = ServiceRegistry::new(&p1, "/services")
        .unwrap()
        .register("billing", "10.0.0.1:80")
        .await
        .unwrap();
    assert!(r1.path().starts_with("/services/billing/instance-"));
    let _r2 = ServiceRegistry::new(&p2, "/services")
        .unwrap()
        .register("billing", "10.0.0.2:80")
        .await
        .unwrap();
    let _r3 = ServiceRegistry::new(&p3, "/services")
        .unwrap()
        .register("billing", "10.0.0.3:80")
        .await
        .unwrap();
    // Another service is separate.
    let _other = ServiceRegistry::new(&p1, "/services")
        .unwrap()
        .register("search", "10.0.0.9:80")
        .await
        .unwrap();

    let list = wait_instances(&mut billing, WAIT, "three instances", |i| i.len() == 3).await;
    assert_eq!(
        addresses(&list),
        ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
    );
    // Round robin visits each instance once per round; random picks a listed one.
    for _ in 0..2 {
        let round: HashSet<String> = (0..3)
            .map(|_| billing.pick_round_robin().unwrap().address)
            .collect();
        assert_eq!(round.len(), 3);
    }
    assert!(list.contains(&billing.pick_random().unwrap()));
    let oneshot_read = ServiceRegistry::new(&consumer, "/services")
        .unwrap()
        .instances("billing")
        .await
        .unwrap();
    assert_eq!(oneshot_read, list);

    // A provider deregisters.
    r1.deregister().await.unwrap();
    let list = wait_instances(&mut billing, WAIT, "two instances", |i| i.len() == 2).await;
    assert_eq!(addresses(&list), ["10.0.0.2:80", "10.0.0.3:80"]);

    // A provider closes its session.
    p2.close().await;
    let list = wait_instances(&mut billing, WAIT, "one instance", |i| i.len() == 1).await;
    assert_eq!(addresses(&list), ["10.0.0.3:80"]);

    // A provider's session expires.
    proxy.set_blocked(true);
    wait_instances(&mut billing, SLOW_WAIT, "no instance", |i| i.is_empty()).await;

    // A newcomer appears.
    let _r4 = ServiceRegistry::new(&p1, "/services")
        .unwrap()
        .register("billing", "10.0.0.4:80")
        .await
        .unwrap();
    let list = wait_instances(&mut billing, WAIT, "the newcomer", |i| i.len() == 1).await;
    assert_eq!(addresses(&list), ["10.0.0.4:80"]);
    assert_eq!(
        billing.pick_round_robin().map(|i| i.address),
        Some("10.0.0.4:80".to_string())
    );
}

#[tokio::test]
async fn registry_catches_up_after_the_consumer_reconnects() {
    let server = server();
    let proxy = Proxy::start(server.addr()).await;
    let consumer = client_of(&proxy.connect_string(), Duration::from_secs(10)).await;
    let provider = client(&server).await;
    let registry = ServiceRegistry::new(&provider, "/svc").unwrap();
    let r1 = registry.register("api", "a:1").await.unwrap();
    let mut api = ServiceRegistry::new(&consumer, "/svc")
        .unwrap()
        .discover("api")
        .await
        .unwrap();
    assert_eq!(addresses(&api.instances()), ["a:1"]);

    let mut states = consumer.state_events();
    proxy.set_blocked(true);
    expect_state(&mut states, zkrs_client::SessionState::Disconnected, WAIT).await;
    // While the consumer is away, its last list stays available.
    r1.deregister().await.unwrap();
    let _r2 = registry.register("api", "b:2").await.unwrap();
    assert_eq!(addresses(&api.instances()), ["a:1"]);
    proxy.set_blocked(false);
    let list = wait_instances(&mut api, WAIT, "the new list", |i| {
        i.len() == 1 && i[0].address == "b:2"
    })
    .await;
    assert_eq!(addresses(&list), ["b:2"]);
}

#[tokio::test]
async fn lock_is_exclusive_under_contention() {
    const SESSIONS: usize = 4;
    const ROUNDS: usize = 20;
    let server = server();
    let setup = client(&server).await;
    setup.ensure_path("/locks").await.unwrap();
    setup
        .create("/counter", b"0", CreateMode::Persistent)
        .await
        .unwrap();
    let holders = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..SESSIONS {
        clients.push(client(&server).await);
    }
    let mut tasks = tokio::task::JoinSet::new();
    for c in clients {
        let holders = holders.clone();
        tasks.spawn(async move {
            let lock = Lock::new(&c, "/locks/l")?;
            let mut events = Vec::new();
            for _ in 0..ROUNDS {
                let guard = lock.acquire().await?;
                assert_eq!(holders.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                // An unversioned read-modify-write: lost updates would show an overlap.
                let (data, _) = c.get_data("/counter").await?;
                let n: usize = String::from_utf8_lossy(&data).parse().unwrap_or(0);
                c.set_data("/counter", (n + 1).to_string().as_bytes(), None)
                    .await?;
                holders.fetch_sub(1, Ordering::SeqCst);
                events.push(guard.watch_events());
                guard.release().await?;
            }
            Ok::<_, Error>(events)
        });
    }
    let mut acquisitions = 0;
    within(SLOW_WAIT * 2, "all acquisitions", async {
        while let Some(r) = tasks.join_next().await {
            let events = r.expect("task").expect("lock operations");
            // Woken only by the predecessor's deletion: at most once per acquisition.
            assert!(events.iter().all(|e| *e <= 1), "{events:?}");
            acquisitions += events.len();
        }
    })
    .await;
    assert_eq!(acquisitions, SESSIONS * ROUNDS);
    let (data, _) = setup.get_data("/counter").await.unwrap();
    assert_eq!(data, (SESSIONS * ROUNDS).to_string().as_bytes());
    assert!(setup.get_children("/locks/l").await.unwrap().is_empty());
}

/// Waits until `dir` has `n` children.
async fn wait_children(c: &Client, dir: &str, n: usize) {
    within(WAIT, &format!("{n} children of {dir}"), async {
        for _ in 0..1000 {
            let (children, _, w) = c.get_children_and_watch(dir).await.unwrap();
            if children.len() == n {
                return;
            }
            w.await;
        }
        panic!("{dir} kept changing");
    })
    .await
}

#[tokio::test]
async fn lock_waiters_are_woken_one_by_one() {
    let server = server();
    let observer = client(&server).await;
    let holder = client(&server).await;
    let first = Lock::new(&holder, "/lk").unwrap().acquire().await.unwrap();
    assert_eq!(first.watch_events(), 0);

    // Four waiters queue up in order; each reports when it gets the lock, then holds it
    // until told to release.
    let (acquired_tx, mut acquired) = mpsc::unbounded_channel();
    let mut releases = Vec::new();
    let mut clients = Vec::new();
    for i in 1..=4usize {
        let c = client(&server).await;
        clients.push(c.clone());
        let (release_tx, release_rx) = oneshot::channel::<()>();
        releases.push(release_tx);
        let acquired_tx = acquired_tx.clone();
        tokio::spawn(async move {
            let guard = Lock::new(&c, "/lk").unwrap().acquire().await.unwrap();
            let _ = acquired_tx.send((i, guard.watch_events()));
            let _ = release_rx.await;
            guard.release().await.unwrap();
        });
        wait_children(&observer, "/lk", i + 1).await;
    }
    first.release().await.unwrap();
    for (i, release) in (1..=4usize).zip(releases) {
        let (who, events) = within(WAIT, "the next holder", acquired.recv())
            .await
            .unwrap();
        // Strict order, and exactly one wake-up each: only the predecessor's deletion.
        assert_eq!((who, events), (i, 1));
        // Nobody else got it meanwhile.
        observer.sync("/").await.unwrap();
        assert!(acquired.try_recv().is_err());
        release.send(()).unwrap();
    }
    wait_children(&observer, "/lk", 0).await;
}

#[tokio::test]
async fn lock_try_timeout_cancel_and_holder_expiry() {
    let server = server();
    let proxy = Proxy::start(server.addr()).await;
    let observer = client(&server).await;
    let a = client_of(&proxy.connect_string(), Duration::from_millis(1500)).await;
    let b = client(&server).await;
    let c = client(&server).await;
    let lock_a = Lock::new(&a, "/l").unwrap();
    let lock_b = Lock::new(&b, "/l").unwrap();
    let lock_c = Lock::new(&c, "/l").unwrap();

    let held = lock_a.try_acquire().await.unwrap().expect("a free lock");
    // Held: try fails at once and leaves nothing behind.
    assert!(lock_b.try_acquire().await.unwrap().is_none());
    assert_eq!(observer.get_children("/l").await.unwrap().len(), 1);
    // A timed-out acquisition cleans up its node too.
    assert!(lock_b
        .acquire_timeout(Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
    wait_children(&observer, "/l", 1).await;

    // A waiter queued behind a cancelled one is woken by that cancellation, then by the
    // holder: still only predecessors.
    let waiting_b = tokio::spawn({
        let lock_b = lock_b.clone();
        async move { lock_b.acquire().await }
    });
    wait_children(&observer, "/l", 2).await;
    let waiting_c = tokio::spawn(async move { lock_c.acquire().await });
    wait_children(&observer, "/l", 3).await;
    waiting_b.abort();
    assert!(waiting_b.await.unwrap_err().is_cancelled());
    wait_children(&observer, "/l", 2).await;

    // The holder's session expires: the lock passes on.
    proxy.set_blocked(true);
    let guard_c = within(SLOW_WAIT, "the lock after expiry", waiting_c)
        .await
        .unwrap()
        .unwrap();
    // Woken by b's cancellation (unless b's node was gone before c set its watch) and by
    // a's expiry: never more than the predecessors that left.
    assert!(
        (1..=2).contains(&guard_c.watch_events()),
        "{}",
        guard_c.watch_events()
    );
    // The old holder learns of its expiry when it reaches the server again; releasing a
    // lock whose session is gone is not an error.
    proxy.set_blocked(false);
    wait_state(&a, zkrs_client::SessionState::Expired, WAIT).await;
    held.release().await.unwrap();
    // Dropping a guard releases the lock.
    drop(guard_c);
    let again = within(WAIT, "the lock after a drop", lock_b.acquire())
        .await
        .unwrap();
    again.release().await.unwrap();
}

#[tokio::test]
async fn election_hands_over_when_the_leader_leaves() {
    let server = server();
    let observer = client(&server).await;
    let c1 = client(&server).await;
    let c2 = client(&server).await;
    let c3 = client(&server).await;
    assert_eq!(
        Candidate::current_leader(&observer, "/election")
            .await
            .unwrap(),
        None
    );

    let mut one = Candidate::join(&c1, "/election", b"one").await.unwrap();
    within(WAIT, "first leader", one.wait_until_leader())
        .await
        .unwrap();
    let mut two = Candidate::join(&c2, "/election", b"two").await.unwrap();
    let mut three = Candidate::join(&c3, "/election", b"three").await.unwrap();
    assert!(one.is_leader());
    let (path, data) = Candidate::current_leader(&observer, "/election")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((path.as_str(), data.as_slice()), (one.path(), &b"one"[..]));

    // The leader's session closes: the next candidate takes over, the third waits on.
    c1.close().await;
    within(WAIT, "second leader", two.wait_until_leader())
        .await
        .unwrap();
    assert_eq!(
        within(WAIT, "the old leader's end", one.changed()).await,
        Leadership::Ended
    );
    assert_eq!(three.leadership(), Leadership::Follower);
    assert_eq!(
        Candidate::current_leader(&observer, "/election")
            .await
            .unwrap()
            .unwrap()
            .1,
        b"two"
    );

    // Resigning hands over too.
    two.resign().await.unwrap();
    within(WAIT, "third leader", three.wait_until_leader())
        .await
        .unwrap();
    drop(three);
    within(WAIT, "an empty election", async {
        for _ in 0..100 {
            let (children, _, w) = observer.get_children_and_watch("/election").await.unwrap();
            if children.is_empty() {
                return;
            }
            w.await;
        }
        panic!("the election kept changing");
    })
    .await;
}

#[tokio::test]
async fn election_leadership_is_lost_on_disconnect_and_ends_on_expiry() {
    let server = server();
    let proxy = Proxy::start(server.addr()).await;
    let flaky = client_of(&proxy.connect_string(), Duration::from_millis(2000)).await;
    let steady = client(&server).await;
    let mut leader = Candidate::join(&flaky, "/e", b"flaky").await.unwrap();
    within(WAIT, "leadership", leader.wait_until_leader())
        .await
        .unwrap();
    let mut follower = Candidate::join(&steady, "/e", b"steady").await.unwrap();
    let mut standing = leader.subscribe();

    // A short outage: leadership is suspended, then regained with the same node.
    proxy.set_blocked(true);
    within(
        WAIT,
        "lost leadership",
        standing.wait_for(|l| *l == Leadership::Follower),
    )
    .await
    .unwrap();
    proxy.set_blocked(false);
    within(
        WAIT,
        "regained leadership",
        standing.wait_for(|l| *l == Leadership::Leader),
    )
    .await
    .unwrap();
    assert_eq!(follower.leadership(), Leadership::Follower);

    // A long one: the session expires, the other candidate takes over, and the old leader
    // learns it is out once it reaches the server again.
    proxy.set_blocked(true);
    within(
        WAIT,
        "lost leadership",
        standing.wait_for(|l| *l == Leadership::Follower),
    )
    .await
    .unwrap();
    within(
        SLOW_WAIT,
        "the follower's turn",
        follower.wait_until_leader(),
    )
    .await
    .unwrap();
    proxy.set_blocked(false);
    within(
        WAIT,
        "the end",
        standing.wait_for(|l| *l == Leadership::Ended),
    )
    .await
    .unwrap();
    assert_eq!(leader.leadership(), Leadership::Ended);
    assert!(leader.wait_until_leader().await.is_err());
}

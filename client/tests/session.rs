//! Sessions: connect strings, keep-alive, reconnects (watches set again, changes made while
//! away delivered), moving between servers, expiry, close, chroot.

mod common;

use std::time::Duration;

use common::*;
use zkrs_client::{
    AddWatchMode, Client, CreateMode, Error, EventType, KeeperState, Op, OpResult, SessionState,
};

fn ev(e: &zkrs_client::WatchedEvent) -> (EventType, &str) {
    (e.event_type, e.path.as_str())
}

/// An address nothing listens on: a loopback address reserved for this test (so no other
/// test's server can be there) on the client port, which nobody binds.
fn dead_address() -> (zkrs_tests::LoopbackAddr, String) {
    let addr = zkrs_tests::LoopbackAddr::allocate();
    let s = addr.at(zkrs_tests::addr::CLIENT_PORT).to_string();
    (addr, s)
}

#[tokio::test]
async fn connect_string_with_a_dead_host() {
    let server = server();
    let (_reserved, dead) = dead_address();
    let cs = format!("{dead},{}", server.connect_string());
    // Hosts are tried in random order: whichever comes first, the client gets through.
    for _ in 0..4 {
        let c = client_of(&cs, Duration::from_secs(5)).await;
        assert_eq!(c.state(), SessionState::SyncConnected);
        assert_eq!(c.connected_server(), Some(server.addr()));
        assert!(c.session_id() != 0);
        assert!(c.session_timeout() > Duration::ZERO);
        c.close().await;
    }
}

#[tokio::test]
async fn connect_fails_in_bounded_time_without_servers() {
    init_tracing();
    let (_reserved, dead) = dead_address();
    let r = within(
        WAIT,
        "a failed connect",
        Client::builder(&dead)
            .connect_timeout(Duration::from_millis(800))
            .connect(),
    )
    .await;
    assert!(matches!(r, Err(Error::Connect(_))), "{r:?}");
    assert!(matches!(
        Client::connect("no-port:x").await,
        Err(Error::InvalidConnectString(_))
    ));
}

#[tokio::test]
async fn session_timeout_is_negotiated_and_kept_alive_by_pings() {
    let server = server();
    // tickTime 500 ms: the server bounds timeouts to [1 s, 10 s].
    let c = client_of(&server.connect_string(), Duration::from_millis(1500)).await;
    assert_eq!(c.session_timeout(), Duration::from_millis(1500));
    let big = client_of(&server.connect_string(), Duration::from_secs(60)).await;
    assert_eq!(big.session_timeout(), Duration::from_secs(10));

    c.create("/alive", b"", CreateMode::Ephemeral)
        .await
        .unwrap();
    let mut events = c.state_events();
    // Idle for three session timeouts: only pings keep the session (and the connection) up.
    // This waits a fixed time because it shows that nothing happens.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert!(events.try_recv().is_err(), "the state changed while idle");
    assert_eq!(c.state(), SessionState::SyncConnected);
    assert!(big.exists("/alive").await.unwrap().is_some());
}

#[tokio::test]
async fn reconnect_keeps_the_session_and_its_watches() {
    let server = server();
    let proxy = Proxy::start(server.addr()).await;
    let c = client_of(&proxy.connect_string(), Duration::from_secs(10)).await;
    let other = client(&server).await;
    let id = c.session_id();

    c.create("/eph", b"", CreateMode::Ephemeral).await.unwrap();
    c.create("/d", b"", CreateMode::Persistent).await.unwrap();
    let (_, _, data) = c.get_data_and_watch("/d").await.unwrap();
    let (_, _, children) = c.get_children_and_watch("/d").await.unwrap();
    let (_, exist) = c.exists_and_watch("/new").await.unwrap();
    // On `/`, not `/d`: Apache 3.8 lets a recursive watch on a path silence a one-shot
    // child watch of the same session on the same path (ZOOKEEPER-4466).
    let mut persistent = c
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();

    let mut states = c.state_events();
    proxy.cut();
    expect_state(&mut states, SessionState::Disconnected, WAIT).await;
    expect_state(&mut states, SessionState::SyncConnected, WAIT).await;
    assert_eq!(c.session_id(), id);
    // Persistent watchers hear about the gap.
    let e = within(WAIT, "disconnected event", persistent.next())
        .await
        .unwrap();
    assert_eq!(
        (e.event_type, e.state),
        (EventType::None, KeeperState::Disconnected)
    );
    let e = within(WAIT, "reconnected event", persistent.next())
        .await
        .unwrap();
    assert_eq!(
        (e.event_type, e.state),
        (EventType::None, KeeperState::SyncConnected)
    );

    // The ephemeral node survived; the watches were set again on the new connection.
    assert!(other.exists("/eph").await.unwrap().is_some());
    other.set_data("/d", b"x", None).await.unwrap();
    assert_eq!(ev(&fired(data).await), (EventType::NodeDataChanged, "/d"));
    assert_eq!(
        ev(&next_event(&mut persistent).await),
        (EventType::NodeDataChanged, "/d")
    );
    other
        .create("/d/c", b"", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        ev(&fired(children).await),
        (EventType::NodeChildrenChanged, "/d")
    );
    assert_eq!(
        ev(&next_event(&mut persistent).await),
        (EventType::NodeCreated, "/d/c")
    );
    other
        .create("/new", b"", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(ev(&fired(exist).await), (EventType::NodeCreated, "/new"));
    assert_eq!(
        ev(&next_event(&mut persistent).await),
        (EventType::NodeCreated, "/new")
    );
    // And the session works as before.
    c.set_data("/d", b"y", None).await.unwrap();
}

#[tokio::test]
async fn changes_made_while_disconnected_are_delivered() {
    let server = server();
    let proxy = Proxy::start(server.addr()).await;
    let c = client_of(&proxy.connect_string(), Duration::from_secs(10)).await;
    let other = client(&server).await;
    c.create("/d", b"", CreateMode::Persistent).await.unwrap();
    c.create("/gone", b"", CreateMode::Persistent)
        .await
        .unwrap();
    c.create("/dir", b"", CreateMode::Persistent).await.unwrap();
    let (_, _, data) = c.get_data_and_watch("/d").await.unwrap();
    let (_, _, dir) = c.get_children_and_watch("/dir").await.unwrap();
    let (_, _, children) = c.get_children_and_watch("/d").await.unwrap();
    let (_, created) = c.exists_and_watch("/new").await.unwrap();
    let (_, deleted) = c.exists_and_watch("/gone").await.unwrap();

    let mut states = c.state_events();
    proxy.set_blocked(true);
    expect_state(&mut states, SessionState::Disconnected, WAIT).await;
    // While the client is away: every kind of change its watches cover.
    other.set_data("/d", b"changed", None).await.unwrap();
    other
        .create("/d/c", b"", CreateMode::Persistent)
        .await
        .unwrap();
    other
        .create("/new", b"", CreateMode::Persistent)
        .await
        .unwrap();
    other.delete("/gone", None).await.unwrap();
    other.delete("/dir", None).await.unwrap();
    // Requests made while no server is reachable fail with ConnectionLoss.
    assert_eq!(
        within(WAIT, "a request while blocked", c.exists("/d")).await,
        Err(Error::ConnectionLoss)
    );
    proxy.set_blocked(false);
    expect_state(&mut states, SessionState::SyncConnected, WAIT).await;

    assert_eq!(ev(&fired(data).await), (EventType::NodeDataChanged, "/d"));
    assert_eq!(
        ev(&fired(children).await),
        (EventType::NodeChildrenChanged, "/d")
    );
    assert_eq!(ev(&fired(created).await), (EventType::NodeCreated, "/new"));
    assert_eq!(ev(&fired(deleted).await), (EventType::NodeDeleted, "/gone"));
    assert_eq!(ev(&fired(dir).await), (EventType::NodeDeleted, "/dir"));
    assert_eq!(c.get_data("/d").await.unwrap().0, b"changed");
}

#[tokio::test]
async fn requests_in_flight_fail_with_connection_loss() {
    let server = server();
    let proxy = Proxy::start(server.addr()).await;
    let c = client_of(&proxy.connect_string(), Duration::from_secs(10)).await;
    c.create("/x", b"", CreateMode::Persistent).await.unwrap();
    let mut states = c.state_events();
    proxy.freeze();
    // Sent, but the reply is held by the frozen proxy.
    let mut in_flight = Box::pin(c.get_data("/x"));
    let mut second = Box::pin(c.set_data("/x", b"v", None));
    assert_pending(&mut in_flight, "a request through a frozen proxy").await;
    assert_pending(&mut second, "a request through a frozen proxy").await;
    proxy.cut();
    assert_eq!(
        within(WAIT, "the failed request", in_flight).await,
        Err(Error::ConnectionLoss)
    );
    assert_eq!(
        within(WAIT, "the failed request", second).await,
        Err(Error::ConnectionLoss)
    );
    expect_state(&mut states, SessionState::SyncConnected, WAIT).await;
    c.get_data("/x").await.unwrap();
}

#[tokio::test]
async fn a_silent_connection_is_abandoned_within_the_read_timeout() {
    let server = server();
    let proxy = Proxy::start(server.addr()).await;
    let c = client_of(&proxy.connect_string(), Duration::from_secs(3)).await;
    c.create("/eph", b"", CreateMode::Ephemeral).await.unwrap();
    let id = c.session_id();
    let mut states = c.state_events();
    // The connection stays open but nothing gets through: the client notices within two
    // thirds of the session timeout and reconnects (new connections are not frozen) before
    // the session expires.
    proxy.freeze();
    // (If noticing took longer than the session timeout, the session would be gone below.)
    expect_state(&mut states, SessionState::Disconnected, WAIT).await;
    expect_state(&mut states, SessionState::SyncConnected, WAIT).await;
    assert_eq!(c.session_id(), id);
    assert!(c.exists("/eph").await.unwrap().is_some());
}

#[tokio::test]
async fn the_session_moves_to_another_server() {
    let server = server();
    // Two "servers" of the connect string, both leading to the same real one.
    let p1 = Proxy::start(server.addr()).await;
    let p2 = Proxy::start(server.addr()).await;
    let cs = format!("{},{}", p1.connect_string(), p2.connect_string());
    let c = client_of(&cs, Duration::from_secs(10)).await;
    let id = c.session_id();
    c.create("/eph", b"", CreateMode::Ephemeral).await.unwrap();
    let (_, _, watcher) = c.get_data_and_watch("/eph").await.unwrap();
    let mut states = c.state_events();

    for round in 0..4 {
        let (now, then) = if c.connected_server() == Some(p1.addr()) {
            (&p1, &p2)
        } else {
            (&p2, &p1)
        };
        assert_eq!(c.connected_server(), Some(now.addr()), "round {round}");
        now.set_blocked(true);
        expect_state(&mut states, SessionState::Disconnected, WAIT).await;
        expect_state(&mut states, SessionState::SyncConnected, WAIT).await;
        assert_eq!(c.connected_server(), Some(then.addr()));
        assert_eq!(c.session_id(), id);
        now.set_blocked(false);
    }
    let other = client(&server).await;
    other.set_data("/eph", b"x", None).await.unwrap();
    assert_eq!(
        ev(&fired(watcher).await),
        (EventType::NodeDataChanged, "/eph")
    );
}

#[tokio::test]
async fn a_server_behind_the_client_is_skipped() {
    // Two unrelated servers: the second has never seen the client's zxids, so it must refuse
    // the session (it would otherwise go back in time) and the client must keep trying.
    let s1 = server();
    let s2 = server();
    let p1 = Proxy::start(s1.addr()).await;
    let p2 = Proxy::start(s2.addr()).await;
    p2.set_blocked(true);
    let cs = format!("{},{}", p1.connect_string(), p2.connect_string());
    let c = client_of(&cs, Duration::from_secs(10)).await;
    let id = c.session_id();
    for i in 0..20 {
        c.create(&format!("/n{i}"), b"", CreateMode::Persistent)
            .await
            .unwrap();
    }
    let mut states = c.state_events();
    p2.set_blocked(false);
    p1.set_blocked(true);
    expect_state(&mut states, SessionState::Disconnected, WAIT).await;
    within(WAIT, "attempts on the server that is behind", async {
        while p2.forwarded() < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(c.state(), SessionState::Disconnected);
    p1.set_blocked(false);
    expect_state(&mut states, SessionState::SyncConnected, WAIT).await;
    assert_eq!(c.connected_server(), Some(p1.addr()));
    assert_eq!(c.session_id(), id);
    assert!(c.exists("/n19").await.unwrap().is_some());
}

#[tokio::test]
async fn expiry_is_reported_and_final() {
    let server = server();
    let proxy = Proxy::start(server.addr()).await;
    let c = client_of(&proxy.connect_string(), Duration::from_millis(1500)).await;
    let observer = client(&server).await;
    c.create("/eph", b"", CreateMode::Ephemeral).await.unwrap();
    c.create("/w", b"", CreateMode::Persistent).await.unwrap();
    let (_, _, oneshot) = c.get_data_and_watch("/w").await.unwrap();
    let mut persistent = c.add_watch("/w", AddWatchMode::Persistent).await.unwrap();
    let mut states = c.state_events();

    proxy.set_blocked(true);
    expect_state(&mut states, SessionState::Disconnected, WAIT).await;
    // The server expires the session: its ephemeral node goes.
    wait_deleted(&observer, "/eph", SLOW_WAIT).await;
    proxy.set_blocked(false);
    expect_state(&mut states, SessionState::Expired, WAIT).await;
    assert_eq!(c.state(), SessionState::Expired);

    let e = fired(oneshot).await;
    assert_eq!(
        (e.event_type, e.state),
        (EventType::None, KeeperState::Expired)
    );
    let mut last = None;
    while let Some(e) = within(WAIT, "persistent events", persistent.next()).await {
        last = Some(e);
    }
    assert_eq!(last.map(|e| e.state), Some(KeeperState::Expired));

    // The client stays expired.
    assert_eq!(c.exists("/w").await, Err(Error::SessionExpired));
    assert_eq!(
        c.create("/x", b"", CreateMode::Persistent).await,
        Err(Error::SessionExpired)
    );
    assert_eq!(c.state(), SessionState::Expired);
    c.close().await;
    assert_eq!(c.state(), SessionState::Expired);
}

#[tokio::test]
async fn reattaching_with_a_wrong_password_is_expiry() {
    let server = server();
    let c = client(&server).await;
    let r = within(
        WAIT,
        "reattach",
        Client::builder(&server.connect_string())
            .session(c.session_id(), vec![7; 16])
            .connect(),
    )
    .await;
    assert!(matches!(r, Err(Error::SessionExpired)), "{r:?}");
    // The right password re-attaches (the server closes the old connection, whose client
    // then reconnects too: close the first one to keep things quiet).
    let (id, password) = (c.session_id(), c.session_password());
    drop(c);
    let r = within(
        WAIT,
        "reattach",
        Client::builder(&server.connect_string())
            .session(id, password)
            .connect(),
    )
    .await;
    // The dropped client may have closed the session first.
    match r {
        Ok(again) => assert_eq!(again.session_id(), id),
        Err(e) => assert_eq!(e, Error::SessionExpired),
    }
}

#[tokio::test]
async fn close_ends_the_session_for_every_clone() {
    let server = server();
    let c = client(&server).await;
    let clone = c.clone();
    let observer = client(&server).await;
    c.create("/eph", b"", CreateMode::Ephemeral).await.unwrap();
    let (_, watcher) = observer.exists_and_watch("/eph").await.unwrap();
    let mut states = c.state_events();
    clone.close().await;
    expect_state(&mut states, SessionState::Closed, WAIT).await;
    assert_eq!(ev(&fired(watcher).await), (EventType::NodeDeleted, "/eph"));
    assert_eq!(c.exists("/").await, Err(Error::Closed));
    assert_eq!(clone.state(), SessionState::Closed);
    c.close().await;
}

#[tokio::test]
async fn dropping_the_last_handle_closes_the_session() {
    let server = server();
    let observer = client(&server).await;
    let c = client(&server).await;
    c.create("/eph", b"", CreateMode::Ephemeral).await.unwrap();
    let (_, watcher) = observer.exists_and_watch("/eph").await.unwrap();
    drop(c);
    assert_eq!(ev(&fired(watcher).await), (EventType::NodeDeleted, "/eph"));
}

#[tokio::test]
async fn chroot_is_transparent() {
    let server = server();
    let root = client(&server).await;
    root.create("/app", b"", CreateMode::Persistent)
        .await
        .unwrap();
    let c = client_of(
        &format!("{}/app", server.connect_string()),
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(c.chroot(), Some("/app"));

    assert_eq!(
        c.create("/x", b"1", CreateMode::Persistent).await.unwrap(),
        "/x"
    );
    assert_eq!(root.get_data("/app/x").await.unwrap().0, b"1");
    assert_eq!(
        c.create("/x/s-", b"", CreateMode::EphemeralSequential)
            .await
            .unwrap(),
        "/x/s-0000000000"
    );
    assert_eq!(sorted(c.get_children("/").await.unwrap()), ["x"]);
    assert!(c.exists("/").await.unwrap().is_some());
    assert_eq!(c.get_ephemerals("/").await.unwrap(), ["/x/s-0000000000"]);
    assert_eq!(
        c.create_with_stat("/y", b"", CreateMode::Persistent)
            .await
            .unwrap()
            .0,
        "/y"
    );
    let results = c
        .multi([
            Op::create("/m", b"".to_vec(), CreateMode::Persistent),
            Op::check("/x", None),
        ])
        .await
        .unwrap();
    assert!(matches!(&results[0], OpResult::Create { path, .. } if path == "/m"));
    assert_eq!(c.get_all_children_number("/").await.unwrap(), 4);

    // Events carry chroot-relative paths.
    let (_, _, data) = c.get_data_and_watch("/x").await.unwrap();
    let (_, _, xw) = c.get_children_and_watch("/x").await.unwrap();
    let mut all = c
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    root.set_data("/app/x", b"2", None).await.unwrap();
    assert_eq!(ev(&fired(data).await), (EventType::NodeDataChanged, "/x"));
    assert_eq!(
        ev(&next_event(&mut all).await),
        (EventType::NodeDataChanged, "/x")
    );
    root.create("/app/x/z", b"", CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(ev(&fired(xw).await), (EventType::NodeChildrenChanged, "/x"));
    assert_eq!(
        ev(&next_event(&mut all).await),
        (EventType::NodeCreated, "/x/z")
    );
    // Outside the chroot: invisible.
    root.create("/outside", b"", CreateMode::Persistent)
        .await
        .unwrap();
    root.set_data("/app", b"r", None).await.unwrap();
    assert_eq!(
        ev(&next_event(&mut all).await),
        (EventType::NodeDataChanged, "/")
    );

    // The configuration node is read outside the chroot.
    c.get_config().await.unwrap();
    // Deleting through the chroot.
    c.delete_recursive("/x").await.unwrap();
    assert!(root.exists("/app/x").await.unwrap().is_none());
}
